//! `volley check`'s trial instance: one instance made as a connection's would be (VU 0,
//! iteration 0, the first data row), opened with `on_open` and dropped, without connecting. It
//! tells before any load what the scenario costs per connection (its linear memory, the part of it
//! the guest touched, the time to instantiate and to open) and catches a module that traps as it
//! opens. Sends, timers and requests `on_open` asks for are queued and counted, never sent.

use crate::config::Scenario;
use crate::measure::collector::Collector;
use crate::measure::recorder::Recorder;
use crate::scenario::engine::ScenarioEngine;
use crate::scenario::guest::Callback;
use crate::scenario::host::{ConnState, RunFacts};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one trial instance cost and did.
#[derive(Debug, Clone)]
pub struct Trial {
    /// Linear memory after `on_open`, bytes (the initial size plus any growth).
    pub memory: usize,
    /// Bytes of it the guest touched: resident for as long as a connection is open.
    pub touched: usize,
    /// Time to instantiate (wall clock, this machine).
    pub instantiate: Duration,
    /// Time `on_open` took.
    pub open: Duration,
    /// Messages `on_open` queued.
    pub queued: usize,
    /// The readable reason, when `on_open` trapped.
    pub trap: Option<String>,
}

/// Instantiate `scenario`'s module once in `engine`, call `on_open`, drop it, and say what it cost.
/// Fails (with wasmtime's reason) when the module cannot be instantiated at all.
pub fn run_trial(engine: &ScenarioEngine, scenario: &Scenario) -> Result<Trial, String> {
    let facts = Arc::new(RunFacts::of(scenario, Instant::now()));
    let limits = engine.limits();
    let recorder = Recorder::new(0, Arc::new(Collector::default()));
    let first_row = (scenario.data.rows() > 0).then_some(0);
    let state = ConnState::new(facts, 0, 0, limits.memory, recorder).with_row(first_row);
    let started = Instant::now();
    let (mut store, mut guest) = engine
        .instantiate(state)
        .map_err(|error| format!("{error:#}"))?;
    let instantiate = started.elapsed();
    engine.arm(&mut store);
    let opening = Instant::now();
    let opened = guest.call(&mut store, Callback::Open);
    let open = opening.elapsed();
    let trap = opened.err().map(|error| {
        crate::scenario::trap::describe(
            &error,
            Callback::Open.name(),
            &store.data().stderr_text(),
            limits.callback_time,
            limits.memory,
        )
    });
    let queued = store.data().outbox.len();
    // Dropping the store drops the instance and gives its memory back to the pool.
    drop(store);
    let released = engine.last_released_memory();
    Ok(Trial {
        memory: released.size,
        touched: released.touched,
        instantiate,
        open,
        queued,
        trap,
    })
}
