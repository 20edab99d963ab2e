//! The `render` stage (module map in `lib.rs`).

pub mod html;
pub mod junit;
pub mod openmetrics;
pub mod progress;
pub mod summary;
