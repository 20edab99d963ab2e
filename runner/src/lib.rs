//! Volley: a WebSocket load runner whose connections are each driven by a WebAssembly scenario.
//!
//! The binary (`main.rs`) parses flags, loads a [`config::Scenario`], calls [`run::run`] with a
//! shutdown future (Ctrl-C) and renders the [`report::Report`]. Tests call the same functions
//! in-process. Module map: `config` (YAML → validated types), `engine` (wasmtime), `host` (WIT
//! imports), `conn` (one connection), `vu` (iterations), `run` (ramp/hold/drain), `net` (sockets,
//! TLS), `server` (embedded server), `stats`/`recorder` (measurement), `report`/`summary`/`progress`
//! (presentation), `limits` (OS preflight), `trap` (scenario failures in words).

pub mod bindings;
pub mod codec;
pub mod config;
pub mod conn;
pub mod drive;
pub mod engine;
pub mod host;
pub mod html;
pub mod junit;
pub mod keepalive;
pub mod limits;
pub mod merge;
pub mod metrics_endpoint;
pub mod net;
pub mod pacing;
pub mod pki;
pub mod plan;
pub mod progress;
pub mod recorder;
pub mod report;
pub mod run;
pub mod sampling;
pub mod series;
pub mod server;
pub mod shape;
pub mod stats;
pub mod summary;
pub mod thresholds;
pub mod trap;
pub mod vu;
pub mod wasi;

pub use config::{Overrides, Scenario};
pub use report::Report;
pub use run::{RunError, RunOptions, run};
