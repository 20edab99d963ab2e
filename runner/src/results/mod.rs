//! Stage `results`: the outcome of a run as plain data. [`report::Report`] is the model (serialised
//! as `volley.results/v2`); `build` assembles it from what `measure` collected; `thresholds` judges
//! the file's rules on a small view of its figures; `verdict` decides pass/fail and the exit code;
//! `merge` combines shard results exactly (HDR histograms via `codec`; their time series lined up
//! by wall-clock time in `timeline`); `health` warns when the
//! generator itself was saturated; `compare` sets two reports side by side for `volley compare`,
//! judging each change with the statistics of `compare_significance`; `regressions` judges the
//! file's regression rules on such a comparison against a baseline run; `search` is a capacity
//! search's section of the report (its steps, its result, what it adds to the verdict).
//!
//! Hands to `render`: a finished [`report::Report`]. Does not live here: parsing the rules
//! (`config::threshold`), recording (`measure`), any text, HTML or metrics output (`render`).

pub mod build;
pub mod codec;
pub mod compare;
pub mod compare_significance;
pub mod health;
pub mod merge;
pub mod regressions;
pub mod report;
pub mod search;
pub mod thresholds;
pub mod timeline;
pub mod verdict;
