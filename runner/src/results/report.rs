//! The result of a run as plain data ([`Report`]), its JSON form (schema `volley.results/v2`,
//! documented in docs/results.md) and the verdict (exit code). Built once from the collector at the
//! end of a run; the terminal rendering lives in `summary`.

use crate::measure::stats::{METRIC_SCALE, Totals};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

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
    /// Checks by name, sorted.
    pub checks: Vec<CheckStats>,
    /// Request/reply round trips, µs, from when each send was due.
    pub round_trips: Distribution,
    /// Requests whose reply missed its deadline.
    pub reply_timeouts: u64,
    /// Lateness of timer callbacks, µs: the generator's own delay.
    pub timer_lag: Distribution,
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
    /// Custom metrics by name (values in the scenario's unit).
    pub metrics: BTreeMap<String, Distribution>,
    /// Scenario traps by message.
    pub scenario_errors: BTreeMap<String, u64>,
    /// Thresholds from the file, evaluated on these results.
    #[serde(default)]
    pub thresholds: Vec<crate::results::thresholds::Outcome>,
    /// Per-interval figures over the run.
    #[serde(default)]
    pub series: crate::measure::series::Series,
    /// Resource use of the runner process (summed over shards in a merged result).
    pub process: ProcessStats,
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
    /// Seed used for the connections' random generators.
    pub seed: u64,
}

/// `run` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// Unix time the run started, seconds.
    pub started_at_unix_s: u64,
    /// Wall time from start to the end of draining, seconds.
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
}

fn one() -> u32 {
    1
}

impl Default for RunInfo {
    fn default() -> Self {
        RunInfo {
            started_at_unix_s: 0,
            elapsed_s: 0.0,
            connections: 0,
            ramp_up_s: 0.0,
            duration_s: None,
            iterations: None,
            interrupted: false,
            shape: String::new(),
            aborted_by: None,
            merged_runs: 1,
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
    /// DNS queries sent (the other lookups were answered from the cache).
    pub dns_queries: u64,
    /// Client pings sent.
    pub pings_sent: u64,
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

/// Summary of a histogram. Timings are in µs; metrics in their own unit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Distribution {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
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
}

/// Quantiles listed in every [`Distribution::percentiles`].
pub const QUANTILES: [f64; 12] = [
    0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 0.99999, 1.0,
];

impl Distribution {
    /// A distribution with no values.
    pub fn empty() -> Distribution {
        Distribution::of(&crate::measure::stats::new_histogram(), 1.0)
    }

    /// Summarise `histogram`, dividing values by `scale`.
    pub fn of(histogram: &Histogram<u64>, scale: f64) -> Distribution {
        if histogram.is_empty() {
            return Distribution {
                count: 0,
                min: 0.0,
                mean: 0.0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                percentiles: Vec::new(),
                histogram: String::new(),
            };
        }
        // Timings report each bucket's upper bound (the HdrHistogram convention: never better
        // than measured). Custom metrics report its lower bound, which keeps common values such
        // as whole numbers exact instead of showing 18 as 18.015.
        let value = |raw: u64| {
            let bound = if scale == 1.0 {
                raw
            } else {
                histogram.lowest_equivalent(raw)
            };
            bound as f64 / scale
        };
        let at = |quantile: f64| value(histogram.value_at_quantile(quantile));
        Distribution {
            count: histogram.len(),
            min: histogram.min() as f64 / scale,
            mean: (histogram.mean() / scale * 1000.0).round() / 1000.0,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: value(histogram.max()),
            percentiles: QUANTILES.iter().map(|q| (*q, at(*q))).collect(),
            histogram: crate::results::codec::encode(histogram),
        }
    }

    /// The value at `quantile` from [`Distribution::percentiles`], if listed.
    pub fn quantile(&self, quantile: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|(q, _)| (q - quantile).abs() < 1e-9)
            .map(|(_, value)| *value)
    }
}

/// `process` section.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ProcessStats {
    /// Peak resident memory of the runner, KiB.
    pub peak_rss_kib: u64,
    /// User CPU time, seconds.
    pub cpu_user_s: f64,
    /// System CPU time, seconds.
    pub cpu_system_s: f64,
    /// Open-file limit in force.
    pub open_files_limit: u64,
}

impl ProcessStats {
    /// Read this process's figures.
    pub fn read(open_files_limit: u64) -> ProcessStats {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a full rusage into the pointer we pass; zeroed is a valid rusage.
        #[allow(unsafe_code)] // the one libc call that reports our own CPU time and peak RSS
        let usage = unsafe {
            if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
                return ProcessStats {
                    open_files_limit,
                    ..ProcessStats::default()
                };
            }
            usage.assume_init()
        };
        let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
        ProcessStats {
            peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
            cpu_user_s: seconds(usage.ru_utime),
            cpu_system_s: seconds(usage.ru_stime),
            open_files_limit,
        }
    }
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
}

impl Verdict {
    /// Judge a report's figures.
    pub fn judge(
        connections: &ConnectionStats,
        checks: &[CheckStats],
        reply_timeouts: u64,
        scenario_errors: &BTreeMap<String, u64>,
        thresholds: &[crate::results::thresholds::Outcome],
    ) -> Verdict {
        let mut reasons = Vec::new();
        for check in checks.iter().filter(|check| check.failed > 0) {
            reasons.push(format!(
                "check \"{}\" failed {} of {} times",
                check.name,
                check.failed,
                check.failed + check.passed
            ));
        }
        let count =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if reply_timeouts > 0 {
            let replies = count(reply_timeouts, "reply", "replies");
            reasons.push(format!("{replies} missed their deadline"));
        }
        let scenario_failures: u64 = scenario_errors.values().sum();
        if scenario_failures > 0 {
            let connections = count(scenario_failures, "connection", "connections");
            reasons.push(format!("{connections} failed in the scenario"));
        }
        if connections.failed > scenario_failures {
            let failed = count(
                connections.failed - scenario_failures,
                "connection",
                "connections",
            );
            reasons.push(format!("{failed} failed"));
        }
        if connections.attempted == 0 {
            reasons.push("no connection was attempted".into());
        }
        for outcome in thresholds.iter().filter(|outcome| !outcome.passed) {
            reasons.push(format!(
                "threshold `{}` crossed (actual {})",
                outcome.expression, outcome.actual
            ));
        }
        let passed = reasons.is_empty();
        Verdict {
            passed,
            exit_code: if passed { 0 } else { 1 },
            reasons,
        }
    }
}

/// Counter values read at the end of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterValues {
    /// See [`crate::measure::stats::Counters`].
    pub attempted: u64,
    /// Established.
    pub established: u64,
    /// Failed.
    pub failed: u64,
    /// Closed by server.
    pub closed_by_server: u64,
    /// Peak open.
    pub peak_open: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Reply timeouts.
    pub reply_timeouts: u64,
    /// Dropped arrivals.
    pub dropped_arrivals: u64,
    /// Full TLS handshakes.
    pub tls_full: u64,
    /// Resumed TLS handshakes.
    pub tls_resumed: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// DNS queries (filled in by `run` from the connector).
    pub dns_queries: u64,
    /// Pings sent.
    pub pings_sent: u64,
}

impl CounterValues {
    /// Read the live counters now.
    pub fn read(counters: &crate::measure::stats::Counters) -> CounterValues {
        use crate::measure::stats::read;
        CounterValues {
            attempted: read(&counters.attempted),
            established: read(&counters.established),
            failed: read(&counters.failed),
            closed_by_server: read(&counters.closed_by_server),
            peak_open: read(&counters.peak_open),
            messages_sent: read(&counters.messages_sent),
            messages_received: read(&counters.messages_received),
            bytes_sent: read(&counters.bytes_sent),
            bytes_received: read(&counters.bytes_received),
            reply_timeouts: read(&counters.reply_timeouts),
            dropped_arrivals: read(&counters.dropped_arrivals),
            tls_full: read(&counters.tls_full),
            tls_resumed: read(&counters.tls_resumed),
            reconnects: read(&counters.reconnects),
            dns_queries: 0,
            pings_sent: read(&counters.pings_sent),
        }
    }
}

impl Report {
    /// Assemble the report.
    pub fn build(
        scenario: ScenarioInfo,
        run: RunInfo,
        counters: CounterValues,
        totals: &Totals,
        process: ProcessStats,
    ) -> Report {
        let connections = ConnectionStats {
            attempted: counters.attempted,
            established: counters.established,
            failed: counters.failed,
            failed_by_reason: totals.failures.clone(),
            closed_by_server: counters.closed_by_server,
            peak_open: counters.peak_open,
            dropped_arrivals: counters.dropped_arrivals,
        };
        let checks: Vec<CheckStats> = totals
            .checks
            .iter()
            .map(|(name, count)| CheckStats {
                name: name.clone(),
                passed: count.passed,
                failed: count.failed,
            })
            .collect();
        let verdict = Verdict::judge(
            &connections,
            &checks,
            counters.reply_timeouts,
            &totals.scenario_errors,
            &[],
        );
        Report {
            schema: SCHEMA.to_owned(),
            scenario,
            run,
            connections,
            messages: MessageStats {
                sent: counters.messages_sent,
                received: counters.messages_received,
                bytes_sent: counters.bytes_sent,
                bytes_received: counters.bytes_received,
            },
            checks,
            round_trips: Distribution::of(&totals.round_trips, 1.0),
            reply_timeouts: counters.reply_timeouts,
            timer_lag: Distribution::of(&totals.timer_lag, 1.0),
            connect_time: Distribution::of(&totals.connect_time, 1.0),
            connect_phases: crate::measure::stats::Phase::ALL
                .iter()
                .map(|phase| {
                    (
                        phase.name().to_owned(),
                        Distribution::of(&totals.phases[*phase as usize], 1.0),
                    )
                })
                .collect(),
            ping_rtt: Distribution::of(&totals.ping_rtt, 1.0),
            network: NetworkStats {
                tls_full_handshakes: counters.tls_full,
                tls_resumed_handshakes: counters.tls_resumed,
                reconnects: counters.reconnects,
                dns_queries: counters.dns_queries,
                pings_sent: counters.pings_sent,
            },
            metrics: totals
                .metrics
                .iter()
                .map(|(name, histogram)| (name.clone(), Distribution::of(histogram, METRIC_SCALE)))
                .collect(),
            scenario_errors: totals.scenario_errors.clone(),
            thresholds: Vec::new(),
            series: crate::measure::series::Series::default(),
            process,
            verdict,
        }
    }

    /// Evaluate `thresholds` on these results and judge the verdict again.
    pub fn apply_thresholds(&mut self, thresholds: &[crate::results::thresholds::Threshold]) {
        self.thresholds = thresholds
            .iter()
            .map(|threshold| threshold.evaluate(self))
            .collect();
        self.rejudge();
    }

    /// Recompute the verdict from the figures and threshold outcomes.
    pub fn rejudge(&mut self) {
        self.verdict = Verdict::judge(
            &self.connections,
            &self.checks,
            self.reply_timeouts,
            &self.scenario_errors,
            &self.thresholds,
        );
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
    }
}

/// `1.5s`, `250ms`, `2m`, as a person writes it.
pub fn human_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        format!("{}µs", duration.as_micros())
    } else if millis < 1000 {
        format!("{millis}ms")
    } else if millis.is_multiple_of(60_000) {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// A microsecond figure as a person reads it: `850µs`, `3.61ms`, `1.20s`.
pub fn human_micros(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}s", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.2}ms", value / 1e3)
    } else {
        format!("{value:.0}µs")
    }
}

/// `4 MiB`, `512 KiB`, `100 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_duration(Duration::from_millis(100)), "100ms");
        assert_eq!(human_duration(Duration::from_secs(5)), "5s");
        assert_eq!(human_duration(Duration::from_secs(120)), "2m");
        assert_eq!(human_bytes(4 << 20), "4 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn a_failed_check_fails_the_verdict_by_name() {
        let connections = ConnectionStats {
            attempted: 2,
            established: 2,
            failed: 0,
            failed_by_reason: BTreeMap::new(),
            closed_by_server: 0,
            peak_open: 2,
            dropped_arrivals: 0,
        };
        let checks = vec![CheckStats {
            name: "echo".into(),
            passed: 3,
            failed: 1,
        }];
        let verdict = Verdict::judge(&connections, &checks, 0, &BTreeMap::new(), &[]);
        assert_eq!(verdict.exit_code, 1);
        assert_eq!(verdict.reasons, vec!["check \"echo\" failed 1 of 4 times"]);
        let verdict = Verdict::judge(&connections, &[], 0, &BTreeMap::new(), &[]);
        assert!(verdict.passed);
    }
}
