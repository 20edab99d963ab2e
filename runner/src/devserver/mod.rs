//! The `devserver` stage (module map in `lib.rs`).

pub mod pki;
pub mod server;
