//! Volley: a WebSocket load runner whose connections are each driven by a WebAssembly scenario.
//!
//! The binary (`main.rs`) parses flags, loads a [`Scenario`], calls [`run()`] with a shutdown
//! future (Ctrl-C) and renders the [`Report`]. Tests call the same functions in-process.
//!
//! A run flows one way through one folder per stage (see `docs/architecture.md`):
//! `config` (YAML → validated [`Scenario`]) → `load` (OS preflight, plan, shapes, drivers, virtual
//! users, pacing) → `connection` (connect: DNS, TCP, TLS, upgrade; the event loop; keepalive) with
//! `scenario` (wasmtime engine, bindings, WASI, the WIT host adapter, traps) → `measure`
//! (recorders, counters, collector, time series, process figures) → `results` (the report model,
//! thresholds, verdict, merge, histogram codec) → `render` (summary, progress, HTML, JUnit,
//! OpenMetrics). `run.rs` wires the stages together for one run; `devserver` (the embedded server
//! and throwaway CA) stands beside the flow; `workers` runs a whole run as N processes of this
//! binary (`--workers`), sums their live feeds and merges their results; `search` runs a capacity
//! search (`load.search`) as a sequence of such runs. A stage imports only the stages before it.
//!
//! `scaffold` (`volley new`: a fresh scenario crate from templates), `kubernetes` (`volley
//! kubernetes`: the manifests of a sharded run, in memory) and `import` (`volley import har`: flow
//! files from a browser recording, in memory) stand apart from the flow too.
//! `websocket` (the RFC 6455 codec and permessage-deflate: pure parts and the async socket) sits
//! below `connection`; of the stages it imports only `config::units` (byte counts in reasons).
//!
//! This file is the whole public API; everything else is crate-private. Tests and benches that
//! must reach inside use [`testing`].

mod config;
mod connection;
mod devserver;
mod import;
mod kubernetes;
mod load;
mod measure;
mod populations;
mod render;
mod results;
mod run;
mod scaffold;
mod scenario;
mod search;
mod workers;

/// The WebSocket codec (RFC 6455, RFC 7692) Volley's connections and `volley serve` run on;
/// public for the benchmarks' bare client, not a stable API.
pub mod websocket;

pub use config::units::{human_bytes, human_micros, parse_duration};
pub use config::{ConfigError, Overrides, Scenario, ServerMode};
pub use devserver::pki::{Authority, server_config};
pub use devserver::server::EmbeddedServer;
pub use import::har::{HarError, Imported, ImportedFile, import as import_har};
pub use kubernetes::{
    Generated, GeneratedFile, KubernetesError, KubernetesOptions, generate as kubernetes_manifests,
};
pub use load::limits::{raise_open_files, workers_for};
pub use load::shard::{Shard, parse_run_id, parse_start_at};
pub use results::compare::{Comparison, compare};
pub use results::merge::{MergeError, merge};
pub use results::regressions::Baseline;
pub use results::report::Report;
pub use run::{RunError, RunOptions, run};
pub use scaffold::test_binary::run_test_binary;
pub use scaffold::{Created, SdkSource, create as new_scenario_crate, sdk_requirement, sdk_source};
pub use scenario::bindings::WIT_PACKAGES;
pub use scenario::check_module;
pub use scenario::engine::ModuleError;
pub use search::{SearchError, StepsIn, run_search};
pub use workers::serve::serve_workers;
pub use workers::{WorkerCount, WorkerError, WorkerOptions, run_workers};

/// Judge `scenario`'s `regressions:` rules on `report` against `baseline` (none: the rules are
/// "not evaluated"), store the outcome in the report and judge its verdict again, so every output
/// of the run reads the same judgement.
pub fn judge_regressions(report: &mut Report, scenario: &Scenario, baseline: Option<&Baseline>) {
    report.apply_regressions(&scenario.regressions, baseline);
}

/// Refuse, before a run, a regression rule of `scenario` whose figure `baseline` lacks (the error
/// names the rule's `file:line:column`).
pub fn check_baseline(scenario: &Scenario, baseline: &Baseline) -> Result<(), ConfigError> {
    results::regressions::check_baseline(&scenario.regressions, &scenario.file, baseline)
}

/// The terminal summary of a report (what `volley run` prints).
pub fn render_summary(report: &Report) -> String {
    render::summary::render(report)
}

/// The self-contained HTML page of a report (`--html`, `volley report`).
pub fn render_html(report: &Report) -> String {
    render::html::render(report)
}

/// The JUnit XML of a report (`--junit`).
pub fn render_junit(report: &Report) -> String {
    render::junit::render(report)
}

/// The terminal table of a comparison (what `volley compare` prints).
pub fn render_compare(comparison: &Comparison) -> String {
    render::compare::render(comparison)
}

/// The self-contained HTML page of a comparison of `base` and `new` (`volley compare --html`).
pub fn render_compare_html(comparison: &Comparison, base: &Report, new: &Report) -> String {
    render::compare_html::render(comparison, base, new)
}

/// Internals for benchmarks that measure one stage on its own; not a stable API.
#[doc(hidden)]
pub mod testing {
    pub use crate::measure::collector::Collector;
    pub use crate::measure::recorder::Recorder;
    pub use crate::scenario::bindings::Message;
    pub use crate::scenario::engine::{InstanceLimits, ScenarioEngine};
    pub use crate::scenario::guest::{Callback, Guest};
    pub use crate::scenario::host::{ConnState, Outgoing, RunFacts};
}
