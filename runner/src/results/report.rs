//! The result of a run as plain data ([`Report`]), its JSON form (schema `volley.results/v2`,
//! documented in docs/results.md), the threshold outcomes and the verdict as data. Assembled in
//! `build`; every rendering lives in `render`, the verdict in `verdict`.

use crate::config::metrics::MetricKind;
use crate::measure::process::ProcessStats;
use crate::measure::recorded::{Exact, Recorded};
use crate::results::thresholds::Figures;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifies the JSON layout; bumped on any incompatible change.
pub const SCHEMA: &str = "volley.results/v2";

/// Everything a run measured, ready to render.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`] when written by this runner.
    pub schema: String,
    /// Which scenario ran, against what.
    pub scenario: ScenarioInfo,
    /// Run timing.
    pub run: RunInfo,
    /// Connection outcomes.
    pub connections: ConnectionStats,
    /// Data messages.
    pub messages: MessageStats,
    /// permessage-deflate: what the file asked for and what the connections negotiated.
    #[serde(default)]
    pub compression: CompressionStats,
    /// Checks by name, sorted.
    pub checks: Vec<CheckStats>,
    /// Request/reply round trips, µs, from when each send was due.
    pub round_trips: Distribution,
    /// Round trips of named requests by name, µs (each also counted in `round_trips`).
    #[serde(default)]
    pub round_trips_by_name: BTreeMap<String, Distribution>,
    /// Delivery latencies by name, µs: wall clock at receipt minus the sender's wall-clock stamp
    /// (`record-latency`), across connections and machines (absent in results written before).
    #[serde(default)]
    pub latency: BTreeMap<String, Distribution>,
    /// `record-latency` stamps in the future (clock skew between machines): recorded as 0 in
    /// `latency`, and counted here.
    #[serde(default)]
    pub latency_stamps_in_future: u64,
    /// Requests whose reply missed its deadline (each is also in `round_trips`, censored at its
    /// deadline).
    pub reply_timeouts: u64,
    /// Requests still waiting for a reply when their connection ended (not in `round_trips`).
    #[serde(default)]
    pub requests_abandoned: u64,
    /// Messages a flow received that no `expect` matched (server pushes, replies after a
    /// timeout): counted, never silently skipped. Always 0 for a module.
    #[serde(default)]
    pub unexpected_messages: u64,
    /// Lateness of timer callbacks, µs: the generator's own delay.
    pub timer_lag: Distribution,
    /// Scenario callbacks that ran long enough to delay their neighbours.
    #[serde(default)]
    pub long_callbacks: LongCallbacks,
    /// Lateness of arrivals (arrival-rate shape) against their schedule, µs.
    #[serde(default = "Distribution::empty")]
    pub arrival_lag: Distribution,
    /// DNS + TCP connect + TLS + upgrade, µs.
    pub connect_time: Distribution,
    /// Each connect phase (`dns`, `tcp`, `tls`, `upgrade`), µs.
    #[serde(default)]
    pub connect_phases: BTreeMap<String, Distribution>,
    /// Client ping → pong (with `net.heartbeat`), µs.
    #[serde(default = "Distribution::empty")]
    pub ping_rtt: Distribution,
    /// Network facts: TLS handshakes, reconnects, DNS queries, pings.
    #[serde(default)]
    pub network: NetworkStats,
    /// The `data` rows connections read, when the file has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataStats>,
    /// Custom metrics by name (values in the scenario's unit).
    pub metrics: BTreeMap<String, Distribution>,
    /// Scenario traps by message.
    pub scenario_errors: BTreeMap<String, u64>,
    /// Thresholds from the file, evaluated on these results.
    #[serde(default)]
    pub thresholds: Vec<Outcome>,
    /// The file's regression rules judged against a baseline run (`--baseline`); absent when the
    /// file has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regressions: Option<crate::results::regressions::Regressions>,
    /// Warnings about the measurement itself (a saturated generator), see `results::health`.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Per-interval figures over the run.
    #[serde(default)]
    pub series: crate::measure::series::Series,
    /// Resource use of the runner process (summed over shards in a merged result).
    pub process: ProcessStats,

    // Target against reached (issue 21), set by `run` for population shapes.
    /// Whether the planned population was reached; see [`Population`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<Population>,

    /// A capacity search's steps and result (`load.search`); the rest of the report is the
    /// figures of one of its steps (`search.figures_of`). Absent for any other run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::results::search::SearchReport>,

    /// A file with `populations:`: each population's own results by name (the figures above are
    /// the whole run's, every population together; a population's `process` is left empty, the
    /// run's is above). Absent for a file of one population.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub populations: BTreeMap<String, Report>,

    /// Pass/fail and why.
    pub verdict: Verdict,
}

/// `scenario` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// `name:`.
    pub name: String,
    /// The file path as given.
    pub file: String,
    /// Target template as run (after `--target`).
    pub target: String,
    /// Module path.
    pub module: String,
    /// SHA-256 of the module file (64 hex digits); empty in results written before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub module_sha256: String,
    /// The WIT interface the module speaks, e.g. `volley:scenario@0.2.0` (empty in older results);
    /// `volley flow (native)` for a `flow:`, whose `module_sha256` is then the scenario file's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interface: String,
    /// Seed used for the connections' random generators.
    pub seed: u64,
}

impl ScenarioInfo {
    /// What `module_sha256` names, for outputs: `flow (file)` when a flow ran (the digest is the
    /// scenario file's), else `module`.
    pub fn digest_of(&self) -> &'static str {
        digest_of(&self.interface)
    }
}

/// What a run's `module_sha256` names, from its `interface`: `flow (file)`, `populations`
/// (one digest over every population's, [`POPULATIONS_INTERFACE`]) or `module`.
pub fn digest_of(interface: &str) -> &'static str {
    if interface == crate::scenario::guest::FLOW_INTERFACE {
        "flow (file)"
    } else if interface == POPULATIONS_INTERFACE {
        "scenarios"
    } else {
        "module"
    }
}

/// The `interface` of a run with `populations:` (each population's own is in its results).
pub const POPULATIONS_INTERFACE: &str = "populations (each population's in `populations`)";

/// `run` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run these results belong to: the same in every shard of one run (`--run-id`, or made up
    /// at start; `--workers` gives its workers its own). Empty in results written before it was
    /// kept, which `volley merge` refuses.
    #[serde(default)]
    pub id: String,
    /// How many shards the run was split into (1: one process).
    #[serde(default = "one")]
    pub shard_count: u32,
    /// The shards whose figures these results hold, sorted: `[I]` for shard `I` (`[0]` for one
    /// process), several after a merge.
    #[serde(default)]
    pub shards: Vec<u32>,
    /// Shards of the run whose figures are not in these results (`volley merge --partial`, or a
    /// `--workers` worker that died): the results are partial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<u32>,
    /// True when shards are missing (`missing_shards`): the figures cover only part of the run.
    #[serde(default)]
    pub partial: bool,
    /// Unix time the run started, seconds.
    pub started_at_unix_s: u64,
    /// Unix time the load started, milliseconds (after `--start-at`); after a merge, the
    /// earliest shard's.
    #[serde(default)]
    pub started_at_unix_ms: u64,
    /// Unix time the run ended (drained), milliseconds; after a merge, the latest shard's.
    #[serde(default)]
    pub ended_at_unix_ms: u64,
    /// Wall time from start to the end of draining, seconds; after a merge, from the first
    /// shard's start to the last one's end.
    pub elapsed_s: f64,
    /// Planned connections.
    pub connections: u32,
    /// Planned ramp, seconds.
    pub ramp_up_s: f64,
    /// Planned hold, seconds (null: until iterations are done).
    pub duration_s: Option<f64>,
    /// Iterations per VU (null: unlimited).
    pub iterations: Option<u32>,
    /// True when stopped early by Ctrl-C / SIGINT.
    pub interrupted: bool,
    /// The load shape, in words (e.g. "constant 100 connections, ramp 2s, hold 10s").
    #[serde(default)]
    pub shape: String,
    /// Set when a threshold with `abort: true` stopped the run early.
    #[serde(default)]
    pub aborted_by: Option<String>,
    /// Number of result files merged into this one (1 for a single run).
    #[serde(default = "one")]
    pub merged_runs: u32,
    /// Set when `load.max_duration` stopped a run bounded by iterations before they all finished:
    /// the limit as written (e.g. `10m`). Such a run fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_reached: Option<String>,
}

fn one() -> u32 {
    1
}

impl Default for RunInfo {
    fn default() -> Self {
        RunInfo {
            id: String::new(),
            shard_count: 1,
            shards: vec![0],
            missing_shards: Vec::new(),
            partial: false,
            started_at_unix_s: 0,
            started_at_unix_ms: 0,
            ended_at_unix_ms: 0,
            elapsed_s: 0.0,
            connections: 0,
            ramp_up_s: 0.0,
            duration_s: None,
            iterations: None,
            interrupted: false,
            shape: String::new(),
            aborted_by: None,
            merged_runs: 1,
            max_duration_reached: None,
        }
    }
}

/// `connections` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionStats {
    /// Attempts started.
    pub attempted: u64,
    /// Handshakes completed.
    pub established: u64,
    /// Failures of any kind (see `failed_by_reason`).
    pub failed: u64,
    /// Failures by reason.
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Connections the server closed first.
    pub closed_by_server: u64,
    /// Most open at once.
    pub peak_open: u64,
    /// Arrivals dropped because `max_connections` were open (arrival-rate shape).
    #[serde(default)]
    pub dropped_arrivals: u64,
    /// Arrivals whose time came (arrival-rate shape; 0 for the others): each one started (an
    /// attempt), was dropped, was still queued for a pacing permit at the end, or found no data
    /// row (`data_exhausted`).
    #[serde(default)]
    pub arrivals: u64,
    /// Iterations still waiting for a pacing permit (`net.max_handshakes_in_flight`,
    /// `net.max_connect_rate`), or still connecting, when the run ended: not counted as attempts.
    /// A wait for a permit is in `connect_phases.queue` (censored at the end).
    #[serde(default)]
    pub pending_at_end: u64,
    /// Upgrades answered with the status `expect_upgrade` asked for (not 101): passes, not
    /// failures, and never established.
    #[serde(default)]
    pub expected_rejections: u64,
    /// Connections the run's end said goodbye on (`on-goodbye` called: 0.3.0 modules).
    #[serde(default)]
    pub goodbyes: u64,
    /// Goodbyes cut at `load.goodbye_timeout` with requests still pending (then closed by the
    /// runner; not failures).
    #[serde(default)]
    pub goodbye_timeouts: u64,
    /// One example of what happened, per failure reason and scenario error (the first seen), when
    /// it says more than the reason: `protocol: invalid UTF-8` → `… at byte 17`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub examples: BTreeMap<String, String>,
}

/// `network` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NetworkStats {
    /// TLS handshakes that were full.
    pub tls_full_handshakes: u64,
    /// TLS handshakes that resumed a session.
    pub tls_resumed_handshakes: u64,
    /// Connections re-opened by `net.reconnect` after a drop.
    pub reconnects: u64,
    /// Reconnect series given up after `net.reconnect.max_attempts`.
    #[serde(default)]
    pub reconnect_give_ups: u64,
    /// DNS queries sent (the other lookups were answered from the cache).
    pub dns_queries: u64,
    /// Client pings sent.
    pub pings_sent: u64,
}

/// `data` section: where the rows came from and what `data_order: unique` left undone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DataStats {
    /// `inline`, or the data file's path.
    pub source: String,
    /// Rows in the data.
    pub rows: u64,
    /// `data_order` (`per_vu`, `per_iteration`, `unique`, `random`).
    pub order: String,
    /// VUs (or arrivals) that stopped because `unique` had no row left.
    pub exhausted: u64,
}

/// `messages` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageStats {
    /// Data messages sent.
    pub sent: u64,
    /// Data messages received.
    pub received: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Bytes of WebSocket frames sent, as on the wire: headers and (compressed) payloads of every
    /// frame, control frames included (0 in results written before it was counted).
    #[serde(default)]
    pub wire_bytes_sent: u64,
    /// Bytes of WebSocket frames received, as on the wire.
    #[serde(default)]
    pub wire_bytes_received: u64,
    /// Data messages sent compressed (RSV1 set).
    #[serde(default)]
    pub compressed_sent: u64,
    /// Data messages received compressed (RSV1 set).
    #[serde(default)]
    pub compressed_received: u64,
}

/// `compression` section: the `net.compression` setting and what each connection negotiated.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CompressionStats {
    /// The `net.compression` setting in words (`off`, `deflate`, or `deflate` and the options
    /// that differ from their defaults); empty in results written before it was kept.
    #[serde(default)]
    pub setting: String,
    /// Opened connections by the extension they negotiated: its parameters as agreed, or `none`.
    #[serde(default)]
    pub negotiated: BTreeMap<String, u64>,
}

impl CompressionStats {
    /// Whether the file asked for compression (`net.compression` other than `off`).
    pub fn asked(&self) -> bool {
        !self.setting.is_empty() && self.setting != "off"
    }

    /// Connections that negotiated an extension, and connections counted at all.
    pub fn negotiated_of(&self) -> (u64, u64) {
        let all = self.negotiated.values().sum();
        let none = self
            .negotiated
            .get(crate::measure::stats::NO_EXTENSION)
            .copied()
            .unwrap_or(0);
        (all - none, all)
    }
}

/// One check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckStats {
    /// Its name.
    pub name: String,
    /// Times it held.
    pub passed: u64,
    /// Times it failed.
    pub failed: u64,
}

/// Summary of recorded values: `count`, `sum`, `min`, `max` and `mean` exact, percentiles from the
/// histogram. Timings are in µs; metrics in their own unit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Distribution {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: f64,
    /// Mean: `sum / count`.
    pub mean: f64,
    /// Sum of the values; absent in results written before it was kept (`merge` then takes
    /// `mean × count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// Values (in `count`) that the histogram holds at the end of its range: metric values below
    /// 0 or above [`crate::measure::recorded::METRIC_TOP`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clamped: u64,
    /// NaN and infinite metric values: refused, not in `count` nor any other figure.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_finite: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// (quantile, value) pairs at the quantiles in [`QUANTILES`], for charts and thresholds.
    #[serde(default)]
    pub percentiles: Vec<(f64, f64)>,
    /// The full histogram (HDR V2, compressed, base64), unscaled; `volley merge` adds these.
    #[serde(default)]
    pub histogram: String,
    /// A custom metric's kind (`duration`, `counter`, `rate`, `value`); absent for timings and in
    /// results written before kinds (read as `value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MetricKind>,
}

/// Quantiles listed in every [`Distribution::percentiles`].
pub const QUANTILES: [f64; 12] = [
    0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 0.99999, 1.0,
];

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// `value` rounded to 3 decimals, unless that would not stay finite.
fn round3(value: f64) -> f64 {
    let rounded = (value * 1000.0).round() / 1000.0;
    if rounded.is_finite() { rounded } else { value }
}

impl Distribution {
    /// A distribution with no values.
    pub fn empty() -> Distribution {
        Distribution::of(&Recorded::default(), 1.0)
    }

    /// Summarise `recorded`: exact figures as they are, percentiles from the histogram divided by
    /// `scale` (1 for µs timings, `METRIC_SCALE` for metrics).
    pub fn of(recorded: &Recorded, scale: f64) -> Distribution {
        let (histogram, exact) = (&recorded.histogram, &recorded.exact);
        if exact.count == 0 || histogram.is_empty() {
            return Distribution {
                count: 0,
                min: 0.0,
                mean: 0.0,
                sum: Some(0.0),
                clamped: 0,
                not_finite: exact.not_finite,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                percentiles: Vec::new(),
                histogram: String::new(),
                kind: None,
            };
        }
        // Timings report each bucket's upper bound (the HdrHistogram convention: never better
        // than measured). Custom metrics report its lower bound, which keeps common values such
        // as whole numbers exact instead of showing 18 as 18.015. Either way a percentile lies
        // between the exact min and max, as every quantile of the values does.
        let at = |quantile: f64| {
            if quantile <= 0.0 {
                return exact.min;
            }
            if quantile >= 1.0 {
                return exact.max;
            }
            let raw = histogram.value_at_quantile(quantile);
            let bound = if scale == 1.0 {
                raw
            } else {
                histogram.lowest_equivalent(raw)
            };
            (bound as f64 / scale).clamp(exact.min, exact.max)
        };
        Distribution {
            count: exact.count,
            min: exact.min,
            mean: round3(exact.mean()),
            sum: Some(exact.sum),
            clamped: exact.clamped,
            not_finite: exact.not_finite,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: exact.max,
            percentiles: QUANTILES.iter().map(|q| (*q, at(*q))).collect(),
            histogram: crate::results::codec::encode(histogram),
            kind: None,
        }
    }

    /// Summarise a custom metric of `kind` (values in its own unit: ms for a duration).
    pub fn of_metric(recorded: &Recorded, kind: MetricKind) -> Distribution {
        Distribution {
            kind: Some(kind),
            ..Distribution::of(recorded, crate::measure::recorded::METRIC_SCALE)
        }
    }

    /// A custom metric's kind (`value` for a timing or a metric from an older results file).
    pub fn metric_kind(&self) -> MetricKind {
        self.kind.unwrap_or_default()
    }

    /// A counter's total: the sum of its values.
    pub fn total(&self) -> f64 {
        self.sum.unwrap_or(self.mean * self.count as f64)
    }

    /// A rate's fraction of true values (`None` without values).
    pub fn true_fraction(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.total() / self.count as f64).clamp(0.0, 1.0))
    }

    /// The values this summarises, to merge: its histogram decoded (within `codec`'s bounds) and
    /// its exact figures (`sum` from `mean × count` in results written before it was kept).
    pub fn recorded(&self) -> Result<Recorded, String> {
        if self.count > 0 && self.histogram.is_empty() {
            return Err(
                "a results file has no encoded histogram (written by volley.results/v1?)".into(),
            );
        }
        let histogram = crate::results::codec::decode(&self.histogram)?;
        let exact = Exact {
            count: self.count,
            sum: self.sum.unwrap_or(self.mean * self.count as f64),
            min: self.min,
            max: self.max,
            clamped: self.clamped,
            not_finite: self.not_finite,
        };
        Ok(Recorded { histogram, exact })
    }

    /// The value at `quantile` from [`Distribution::percentiles`], if listed.
    pub fn quantile(&self, quantile: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|(q, _)| (q - quantile).abs() < 1e-9)
            .map(|(_, value)| *value)
    }
}

/// A rule evaluated on results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Outcome {
    /// The rule as written.
    pub expression: String,
    /// The measured value, human-readable (`3.61ms`, `99.95%`, `no data`).
    pub actual: String,
    /// Whether the rule held.
    pub passed: bool,
    /// Whether the rule aborts the run when crossed.
    #[serde(default)]
    pub abort: bool,
}

/// `verdict` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// True when every check passed and nothing failed.
    pub passed: bool,
    /// 0 passed, 1 failed.
    pub exit_code: i32,
    /// Why it failed, one line per cause.
    pub reasons: Vec<String>,
    /// Which rule decided each kind of failure that occurred or has a budget: a threshold that
    /// covers it (its error budget), or the strict default (any failure fails the run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

impl Report {
    /// The figures thresholds are judged on.
    pub fn figures(&self) -> Figures<'_> {
        Figures {
            round_trips: &self.round_trips,
            round_trips_by_name: &self.round_trips_by_name,
            latency: &self.latency,
            connect_time: &self.connect_time,
            timer_lag: &self.timer_lag,
            ping_rtt: &self.ping_rtt,
            connect_phases: &self.connect_phases,
            metrics: &self.metrics,
            checks: &self.checks,
            connections: &self.connections,
            reconnects: self.network.reconnects,
            reply_timeouts: self.reply_timeouts,
            scenario_errors: self.scenario_errors.values().sum(),
            messages: &self.messages,
            elapsed_s: self.run.elapsed_s,
        }
    }

    /// `shards 1, 3 of 4 missing` when the result is partial (`run.missing_shards`).
    pub fn partial_note(&self) -> Option<String> {
        let missing = &self.run.missing_shards;
        if missing.is_empty() {
            return None;
        }
        let list: Vec<String> = missing.iter().map(u32::to_string).collect();
        Some(format!(
            "shard{} {} of {} missing",
            if missing.len() == 1 { "" } else { "s" },
            list.join(", "),
            self.run.shard_count
        ))
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
    }
}

/// Scenario callbacks that used at least `threshold_us` of their thread's CPU time. A callback
/// runs on a runtime worker thread between every other connection's reads and timers, so each one
/// delays the connections waiting on that thread by up to its length.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LongCallbacks {
    /// How many.
    pub count: u64,
    /// The longest callback of the run (any length), µs of wall-clock time.
    pub max_us: u64,
    /// What counts as long, µs.
    pub threshold_us: u64,
    /// The most CPU time one of them used, µs (0 when there were none).
    #[serde(default)]
    pub max_cpu_us: u64,
    /// Callbacks that took `threshold_us` or more of wall-clock time but less CPU time: their
    /// thread was descheduled (a busy machine), not kept busy by the scenario.
    #[serde(default)]
    pub descheduled: u64,
}

/// The population a run set out to reach (`load.connections`, or the highest stage target) and
/// the most connections it had open at once (`connections.peak_open`); absent for arrival-rate
/// runs, whose `max_connections` is a cap, not a target. Summed over shards in a merged result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// Connections planned to be open at once.
    pub target: u64,
    /// Most connections open at once.
    pub reached: u64,
}
