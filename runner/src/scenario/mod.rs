//! The `scenario` stage (module map in `lib.rs`).

pub mod bindings;
pub mod engine;
pub mod host;
pub mod trap;
pub mod wasi;
