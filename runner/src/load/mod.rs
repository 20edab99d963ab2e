//! The `load` stage (module map in `lib.rs`).

pub mod drive;
pub mod limits;
pub mod pacing;
pub mod plan;
pub mod shape;
pub mod vu;
