//! Stage `measure`: what happened, as numbers. Connections record into a per-connection
//! [`recorder::Recorder`] (no lock per sample) that flushes into the run-wide
//! [`collector::Collector`]; live [`counters::Counters`] are relaxed atomics; the sampler takes a
//! time-series point each interval; [`process::ProcessStats`] are the runner's own CPU and memory.
//!
//! Hands to `results`: [`stats::Totals`] (exactly mergeable HDR histograms, each with its exact
//! count, sum, min and max ([`recorded::Recorded`]), checks, metrics,
//! failures by reason), [`counters::CounterValues`], the [`series::Series`] and the process figures.
//! Does not live here: the report model, thresholds and verdict (`results`), any rendering
//! (`render`). This stage imports only `config` (units) from the stages before it.

pub mod collector;
pub mod counters;
pub mod process;
pub mod reasons;
pub mod recorded;
pub mod recorder;
pub mod sampling;
pub mod series;
pub mod stats;
