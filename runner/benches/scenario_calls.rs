//! Micro-benchmarks of the per-connection WebAssembly costs (criterion): instantiating a scenario
//! from the pre-linked module, one `on-message` callback, and a full request/reply (timer sends,
//! message completes). Before criterion runs,
//! it prints the resident memory per live instance (5,000 instances held at once). Needs the
//! example modules (`just scenarios`); `just bench` builds them first.

use criterion::{Criterion, criterion_group};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use volley::testing::{
    Callback, Collector, ConnState, InstanceLimits, Message, Outgoing, Recorder, RunFacts,
    ScenarioEngine,
};

fn module(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"))
}

fn engine() -> ScenarioEngine {
    let limits = InstanceLimits {
        callback_time: Duration::from_millis(100),
        memory: 4 << 20,
    };
    match ScenarioEngine::load(&module("echo"), limits) {
        Ok(engine) => engine,
        Err(error) => panic!("{error}"),
    }
}

fn facts() -> Arc<RunFacts> {
    Arc::new(RunFacts {
        started: Instant::now(),
        vars: [("messages".to_owned(), "1000000000".to_owned())].into(),
        data: Default::default(),
        seed: 1,
        log_lines: Default::default(),
    })
}

fn state(facts: &Arc<RunFacts>, collector: &Arc<Collector>, vu: u32) -> ConnState {
    ConnState::new(
        facts.clone(),
        vu,
        0,
        4 << 20,
        Recorder::new(vu, collector.clone()),
    )
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

/// Resident memory per live, opened instance.
fn memory_per_instance() {
    const INSTANCES: u32 = 5_000;
    let engine = engine();
    let facts = facts();
    let collector = Arc::new(Collector::default());
    let before = resident_kib();
    let mut live = Vec::with_capacity(INSTANCES as usize);
    for vu in 0..INSTANCES {
        match engine.instantiate(state(&facts, &collector, vu)) {
            Ok((mut store, mut scenario)) => {
                let _ = scenario.call(&mut store, Callback::Open);
                live.push((store, scenario));
            }
            Err(error) => panic!("instantiate: {error:#}"),
        }
    }
    let after = resident_kib();
    println!(
        "memory: {INSTANCES} opened echo instances hold {} KiB resident = {:.1} KiB per instance",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / f64::from(INSTANCES)
    );
    drop(live);
}

fn instantiate(c: &mut Criterion) {
    let engine = engine();
    let facts = facts();
    let collector = Arc::new(Collector::default());
    c.bench_function("instantiate echo (store + instance)", |b| {
        b.iter(|| match engine.instantiate(state(&facts, &collector, 0)) {
            Ok(pair) => black_box(pair),
            Err(error) => panic!("{error:#}"),
        })
    });
}

fn callbacks(c: &mut Criterion) {
    let engine = engine();
    let facts = facts();
    let collector = Arc::new(Collector::default());
    let (mut store, scenario) = match engine.instantiate(state(&facts, &collector, 0)) {
        Ok(pair) => pair,
        Err(error) => panic!("{error:#}"),
    };
    // Through the same dispatch as the event loop (a message is moved into each call, so the
    // benchmark clones it: one small allocation per call).
    let mut guest = scenario;
    if let Err(error) = guest.call(&mut store, Callback::Open) {
        panic!("{error:#}");
    }
    let text = Message::Text(r#"{"seq":1,"vu":0}"#.to_owned());
    c.bench_function("on-message: JSON text echo, check", |b| {
        b.iter(|| {
            engine.arm(&mut store);
            match guest.call(&mut store, Callback::Message(black_box(text.clone()))) {
                Ok(()) => {}
                Err(error) => panic!("{error:#}"),
            }
        })
    });
    c.bench_function("request/reply: on-timer sends, on-message completes", |b| {
        b.iter(|| {
            engine.arm(&mut store);
            if let Err(error) = guest.call(&mut store, Callback::Timer(0)) {
                panic!("{error:#}");
            }
            let reply = match store.data_mut().outbox.pop() {
                Some(Outgoing::Text(text)) => Message::Text(text),
                Some(Outgoing::Binary(data)) => Message::Binary(data),
                Some(Outgoing::Ping(_)) | None => panic!("on-timer sent no message"),
            };
            if let Err(error) = guest.call(&mut store, Callback::Message(reply)) {
                panic!("{error:#}");
            }
        })
    });
}

criterion_group!(benches, instantiate, callbacks);

fn main() {
    memory_per_instance();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
