//! The `results` stage (module map in `lib.rs`).

pub mod codec;
pub mod merge;
pub mod report;
pub mod thresholds;
