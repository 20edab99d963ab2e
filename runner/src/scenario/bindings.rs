//! The host side of the WIT contract `volley:scenario@0.1.0` (`sdk/wit/scenario.wit`): the only
//! `bindgen!` in the runner. `host` implements the generated import trait; `engine` and `connection::event_loop` use the
//! generated `VolleyScenario` to call exports. Nothing else names generated paths.

#![allow(missing_docs)] // generated code

wasmtime::component::bindgen!({
    path: "../sdk/wit",
    world: "volley-scenario",
});

pub use volley::scenario::host::Host as HostImports;
pub use volley::scenario::types::{LogLevel, Message};

/// The WIT package version this runner implements.
pub const WIT_PACKAGE: &str = "volley:scenario@0.1.0";
