//! The `measure` stage (module map in `lib.rs`).

pub mod recorder;
pub mod sampling;
pub mod series;
pub mod stats;
