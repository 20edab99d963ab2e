//! Stage `scenario`: the user's WebAssembly module. The wasmtime engine compiles it once per run
//! (`engine`; `cache` keeps the compiled code between runs; `memory` recycles instances' linear
//! memories between connections), `bindings` (the one file calling `bindgen!`) gives typed access to the WIT worlds it
//! may speak (0.2.0, or 0.1.0 for older modules), `guest` calls either world's exports through one
//! type, `handshake` holds the upgrade answer a scenario can read, `host`
//! implements the imports a scenario calls (send, timers, requests, checks, metrics) on a
//! per-connection [`host::ConnState`] — its timers and reply deadlines in `schedule`, the requests
//! waiting for replies in `requests` — `wasi` links a WASI that grants nothing and never blocks a
//! runtime worker (`wasi_state` builds a connection's WASI context only once its scenario uses
//! it), `trap` turns a trap (panic, CPU limit, memory cap) into readable text, and `trial` opens
//! one instance without connecting for `volley check`.
//!
//! Hands to `connection`: an instantiated store per connection and the callbacks to call on it.
//! Does not live here: sockets and the event loop (`connection`), recording figures (`measure`;
//! `host` only calls a recorder). One instance per connection: a trap fails only its connection.

pub mod bindings;
pub mod budget;
pub mod cache;
pub mod engine;
pub mod flow;
pub mod guest;
pub mod handshake;
pub mod host;
pub mod memory;
pub mod requests;
pub mod schedule;
pub mod trap;
pub mod trial;
pub mod wasi;
pub mod wasi_state;

use crate::config::Scenario;
use engine::{InstanceLimits, ModuleError, ScenarioEngine};

/// Compile and link `scenario`'s module as `run` would, without connecting, and open one trial
/// instance; returns the WIT package (interface version) it speaks, the SHA-256 of the bytes
/// compiled (`sha256:<hex>`) and what the trial showed.
pub fn check_module(
    scenario: &Scenario,
) -> Result<(&'static str, String, trial::Trial), ModuleError> {
    let limits = InstanceLimits {
        callback_time: scenario.limits.callback_time,
        memory: scenario.limits.memory,
    };
    let engine = ScenarioEngine::for_scenario(scenario, limits)?;
    let trial = trial::run_trial(&engine, scenario).map_err(|reason| ModuleError::Instantiate {
        path: scenario.module.clone(),
        reason,
    })?;
    Ok((
        engine.interface(),
        engine.module_digest().to_string(),
        trial,
    ))
}
