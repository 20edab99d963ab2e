//! Stage `render`: every way a person or a machine sees results. `summary` is the terminal text,
//! `html` the self-contained report page (template in `report_html/`), `junit` the XML for CI,
//! `openmetrics` the live Prometheus endpoint, `progress` the live line on stderr (off when stderr
//! is not a terminal); `compare` and `compare_html` show a `volley compare` (a
//! [`crate::results::compare::Comparison`]) as a table and as a page.
//!
//! Reads: a finished [`crate::results::report::Report`], or (live views) the `measure` collector.
//! Nothing here decides a figure or a verdict; nothing upstream imports this stage.

pub mod compare;
pub mod compare_html;
pub mod html;
pub mod junit;
pub mod openmetrics;
pub mod progress;
pub mod summary;
