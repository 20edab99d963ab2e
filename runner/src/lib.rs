//! Volley: a WebSocket load runner whose connections are each driven by a WebAssembly scenario.
//!
//! The binary (`main.rs`) parses flags, loads a [`config::Scenario`], calls [`run::run`] with a
//! shutdown future (Ctrl-C) and renders the [`report::Report`]. Tests call the same functions
//! in-process. Module map: `config` (YAML → validated types), `engine` (wasmtime), `host` (WIT
//! imports), `conn` (one connection), `vu` (iterations), `run` (ramp/hold/drain), `net` (sockets,
//! TLS), `server` (embedded server), `stats`/`recorder` (measurement), `report`/`summary`/`progress`
//! (presentation), `limits` (OS preflight), `trap` (scenario failures in words).

pub mod config;
pub mod connection;
pub mod devserver;
pub mod load;
pub mod measure;
pub mod render;
pub mod results;
pub mod run;
pub mod scenario;

pub use config::{Overrides, Scenario};
pub use results::report::Report;
pub use run::{RunError, RunOptions, run};
