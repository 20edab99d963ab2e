//! The `connection` stage (module map in `lib.rs`).

pub mod connect;
pub mod dns;
pub mod event_loop;
pub mod keepalive;
pub mod tls;
