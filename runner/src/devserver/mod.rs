//! The development server, apart from the runner's data flow: the embedded WebSocket server
//! (`server`: echo and chat modes, plain or TLS) behind `embedded://` targets and `volley serve`, and
//! the throwaway certificate authority (`pki`) that `volley serve --tls` and the tests use.
//! A run starts it through `run.rs`; no stage of the data flow imports it.

pub mod in_process;
pub mod pki;
pub mod server;
