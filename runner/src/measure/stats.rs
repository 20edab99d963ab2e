//! Measurements as plain data: [`Totals`] (each distribution a [`Recorded`]: an HDR histogram with
//! its exact count, sum, min and max; checks, metrics, failures by reason, connections by the
//! extension they negotiated; exactly mergeable),
//! [`Samples`] (what one connection holds before it flushes), the bounded-name rule and the connect
//! [`Phase`]s. Pure aggregation: recording lives in `recorder`, the shared sink in `collector`, the
//! live atomics in `counters`, the report model in `results`.

pub use crate::measure::recorded::{METRIC_SCALE, Recorded, new_histogram};
use std::collections::BTreeMap;

/// Pass/fail counts of one named check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckCount {
    /// Times the check held.
    pub passed: u64,
    /// Times it did not.
    pub failed: u64,
}

/// Everything a run measured that is not a plain counter.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Round trips of completed requests, µs, from when the send was due.
    pub round_trips: Recorded,
    /// Round trips of named requests by name, µs (each also counts in `round_trips`).
    pub round_trips_by_name: BTreeMap<String, Recorded>,
    /// Delivery latencies by name (`record-latency`: wall clock now − a stamp), µs.
    pub latency: BTreeMap<String, Recorded>,
    /// How late timer callbacks ran after they were due, µs.
    pub timer_lag: Recorded,
    /// How late arrivals (arrival-rate shape) started after they were due, µs.
    pub arrival_lag: Recorded,
    /// DNS + TCP connect + TLS + WebSocket upgrade, µs.
    pub connect_time: Recorded,
    /// Each connect phase, µs.
    pub phases: [Recorded; Phase::COUNT],
    /// Client ping → pong, µs.
    pub ping_rtt: Recorded,
    /// Checks by name.
    pub checks: BTreeMap<String, CheckCount>,
    /// Custom metrics by name, in their own unit (the histograms × [`METRIC_SCALE`]).
    pub metrics: BTreeMap<String, Recorded>,
    /// The kinds of the metrics the file declares (an undeclared metric is a `value`).
    pub metric_kinds: BTreeMap<String, crate::config::metrics::MetricKind>,
    /// Failed connections by reason.
    pub failures: BTreeMap<String, u64>,
    /// Opened connections by the extension they negotiated (its stable text, or
    /// [`NO_EXTENSION`]).
    pub negotiated: BTreeMap<String, u64>,
    /// Scenario traps (panics, CPU deadline, memory cap) by message.
    pub scenario_errors: BTreeMap<String, u64>,
    /// One example detail per failure reason or scenario error (the first seen), for the report.
    pub examples: BTreeMap<String, String>,
}

/// What [`Totals::negotiated`] counts a connection under when it negotiated no extension.
pub const NO_EXTENSION: &str = "none";

impl Totals {
    /// Add `other` into `self`; exact for every count, histogram bucket, sum, min and max.
    pub fn merge(&mut self, other: &Totals) {
        self.round_trips.merge(&other.round_trips);
        self.timer_lag.merge(&other.timer_lag);
        self.arrival_lag.merge(&other.arrival_lag);
        self.connect_time.merge(&other.connect_time);
        for (mine, theirs) in self.phases.iter_mut().zip(&other.phases) {
            mine.merge(theirs);
        }
        self.ping_rtt.merge(&other.ping_rtt);
        for (name, count) in &other.checks {
            let entry = self.checks.entry(name.clone()).or_default();
            entry.passed += count.passed;
            entry.failed += count.failed;
        }
        for (name, recorded) in &other.metrics {
            self.metrics
                .entry(name.clone())
                .or_default()
                .merge(recorded);
        }
        for (name, kind) in &other.metric_kinds {
            self.metric_kinds.entry(name.clone()).or_insert(*kind);
        }
        for (name, recorded) in &other.round_trips_by_name {
            self.round_trips_by_name
                .entry(name.clone())
                .or_default()
                .merge(recorded);
        }
        for (name, recorded) in &other.latency {
            self.latency
                .entry(name.clone())
                .or_default()
                .merge(recorded);
        }
        for (reason, count) in &other.failures {
            *self.failures.entry(reason.clone()).or_default() += count;
        }
        for (extension, count) in &other.negotiated {
            *self.negotiated.entry(extension.clone()).or_default() += count;
        }
        for (message, count) in &other.scenario_errors {
            *self.scenario_errors.entry(message.clone()).or_default() += count;
        }
        for (reason, example) in &other.examples {
            self.examples
                .entry(reason.clone())
                .or_insert_with(|| example.clone());
        }
    }
}

/// Raw samples a connection gathered since its last flush: small vectors instead of histograms,
/// so an idle connection costs a few hundred bytes, not a histogram's kilobytes.
#[derive(Debug, Default)]
pub struct Samples {
    /// Round trips, µs.
    pub round_trips: Vec<u64>,
    /// Round trips of named requests by name, µs (also in `round_trips`).
    pub round_trips_by_name: BTreeMap<String, Vec<u64>>,
    /// Delivery latencies by name, µs.
    pub latency: BTreeMap<String, Vec<u64>>,
    /// Timer lag, µs.
    pub timer_lag: Vec<u64>,
    /// Arrival lag, µs.
    pub arrival_lag: Vec<u64>,
    /// Connect time, µs.
    pub connect_time: Vec<u64>,
    /// Connect phases, µs, by [`Phase`] index.
    pub phases: [Vec<u64>; Phase::COUNT],
    /// Ping round trips, µs.
    pub ping_rtt: Vec<u64>,
    /// Custom metric values as the scenario gave them, by name.
    pub metrics: BTreeMap<String, Vec<f64>>,
    /// Checks by name.
    pub checks: BTreeMap<String, CheckCount>,
    /// Failures by reason.
    pub failures: BTreeMap<String, u64>,
    /// Connections by the extension they negotiated.
    pub negotiated: BTreeMap<String, u64>,
    /// Scenario traps by message.
    pub scenario_errors: BTreeMap<String, u64>,
    /// One example detail per reason.
    pub examples: BTreeMap<String, String>,
    /// Samples recorded since the last drain (kept by `recorder`, to bound the buffer).
    pub held: usize,
}

impl Samples {
    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.round_trips.len()
            + self.timer_lag.len()
            + self.arrival_lag.len()
            + self.connect_time.len()
            + self.phases.iter().map(Vec::len).sum::<usize>()
            + self.ping_rtt.len()
            + self.metrics.values().map(Vec::len).sum::<usize>()
            + self
                .round_trips_by_name
                .values()
                .map(Vec::len)
                .sum::<usize>()
            + self.latency.values().map(Vec::len).sum::<usize>()
            + self.checks.len()
            + self.failures.len()
            + self.negotiated.len()
            + self.scenario_errors.len()
    }

    /// True when there is nothing to flush.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record everything into `totals` and clear (keeping vector capacity).
    pub fn drain_into(&mut self, totals: &mut Totals) {
        self.held = 0;
        let timings = [
            (&mut self.round_trips, &mut totals.round_trips),
            (&mut self.timer_lag, &mut totals.timer_lag),
            (&mut self.arrival_lag, &mut totals.arrival_lag),
            (&mut self.connect_time, &mut totals.connect_time),
            (&mut self.ping_rtt, &mut totals.ping_rtt),
        ];
        for (samples, recorded) in timings
            .into_iter()
            .chain(self.phases.iter_mut().zip(totals.phases.iter_mut()))
        {
            for micros in samples.drain(..) {
                recorded.record_micros(micros);
            }
        }
        for (name, values) in std::mem::take(&mut self.metrics) {
            let name = bounded_name(name, &totals.metrics);
            let recorded = totals.metrics.entry(name).or_default();
            for value in values {
                recorded.record_metric(value);
            }
        }
        for (name, values) in std::mem::take(&mut self.round_trips_by_name) {
            let name = bounded_name(name, &totals.round_trips_by_name);
            let recorded = totals.round_trips_by_name.entry(name).or_default();
            for micros in values {
                recorded.record_micros(micros);
            }
        }
        for (name, values) in std::mem::take(&mut self.latency) {
            let name = bounded_name(name, &totals.latency);
            let recorded = totals.latency.entry(name).or_default();
            for micros in values {
                recorded.record_micros(micros);
            }
        }
        for (name, count) in std::mem::take(&mut self.checks) {
            let name = bounded_name(name, &totals.checks);
            let entry = totals.checks.entry(name).or_default();
            entry.passed += count.passed;
            entry.failed += count.failed;
        }
        for (reason, count) in std::mem::take(&mut self.failures) {
            let reason = bounded_name(reason, &totals.failures);
            *totals.failures.entry(reason).or_default() += count;
        }
        for (extension, count) in std::mem::take(&mut self.negotiated) {
            let extension = bounded_name(extension, &totals.negotiated);
            *totals.negotiated.entry(extension).or_default() += count;
        }
        for (message, count) in std::mem::take(&mut self.scenario_errors) {
            let message = bounded_name(message, &totals.scenario_errors);
            *totals.scenario_errors.entry(message).or_default() += count;
        }
        for (reason, example) in std::mem::take(&mut self.examples) {
            if totals.examples.len() < 2 * MAX_NAMES {
                totals.examples.entry(reason).or_insert(example);
            }
        }
    }
}

/// Distinct check (or metric, or request) names kept; further names are counted together under
/// [`OTHER_NAMES`], so a scenario that makes up names (an id in each) cannot grow memory without
/// bound.
pub const MAX_NAMES: usize = 1000;
/// Where names beyond [`MAX_NAMES`] are counted.
pub const OTHER_NAMES: &str = "(other names: more than 1000 distinct)";

fn bounded_name<V>(name: String, known: &BTreeMap<String, V>) -> String {
    if known.len() < MAX_NAMES || known.contains_key(&name) {
        name
    } else {
        OTHER_NAMES.to_owned()
    }
}

/// A connect phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Name resolution.
    Dns = 0,
    /// TCP connect.
    Tcp = 1,
    /// TLS handshake.
    Tls = 2,
    /// HTTP upgrade.
    Upgrade = 3,
    /// Waiting for a pacing permit (`net.max_handshakes_in_flight`, `net.max_connect_rate`)
    /// before DNS: not part of the connect time, but of an arrival's lateness. An iteration still
    /// waiting when the run ends is recorded with its wait so far.
    Queue = 4,
}

impl Phase {
    /// How many phases there are.
    pub const COUNT: usize = 5;

    /// All phases, in order.
    pub const ALL: [Phase; Phase::COUNT] = [
        Phase::Dns,
        Phase::Tcp,
        Phase::Tls,
        Phase::Upgrade,
        Phase::Queue,
    ];

    /// Its name in results and thresholds.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Tcp => "tcp",
            Phase::Tls => "tls",
            Phase::Upgrade => "upgrade",
            Phase::Queue => "queue",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_is_exact() {
        let mut a = Totals::default();
        let mut b = Totals::default();
        let mut both = Totals::default();
        for value in 1..=1000u64 {
            a.round_trips.record_micros(value);
            both.round_trips.record_micros(value);
        }
        for value in 5000..=6000u64 {
            b.round_trips.record_micros(value * 7);
            both.round_trips.record_micros(value * 7);
        }
        a.checks.insert(
            "x".into(),
            CheckCount {
                passed: 2,
                failed: 1,
            },
        );
        b.checks.insert(
            "x".into(),
            CheckCount {
                passed: 3,
                failed: 0,
            },
        );
        a.merge(&b);
        assert_eq!(a.round_trips, both.round_trips);
        assert_eq!(
            a.round_trips.histogram.value_at_quantile(0.99),
            both.round_trips.histogram.value_at_quantile(0.99)
        );
        assert_eq!(
            a.checks["x"],
            CheckCount {
                passed: 5,
                failed: 1
            }
        );
    }

    #[test]
    fn request_names_are_bounded_like_checks_and_merge_exactly() {
        let mut totals = Totals::default();
        let mut samples = Samples::default();
        for n in 0..MAX_NAMES + 5 {
            samples
                .round_trips_by_name
                .insert(format!("request {n}"), vec![n as u64 + 1]);
        }
        samples.drain_into(&mut totals);
        assert!(samples.is_empty());
        assert_eq!(totals.round_trips_by_name.len(), MAX_NAMES + 1);
        assert_eq!(totals.round_trips_by_name[OTHER_NAMES].len(), 5);
        let mut merged = Totals::default();
        merged.merge(&totals);
        merged.merge(&totals);
        assert_eq!(merged.round_trips_by_name["request 7"].len(), 2);
        assert_eq!(merged.round_trips_by_name["request 7"].exact.max, 8.0);
    }

    #[test]
    fn latency_names_are_bounded_like_request_names_and_merge_exactly() {
        let mut totals = Totals::default();
        let mut samples = Samples::default();
        for n in 0..MAX_NAMES + 3 {
            samples
                .latency
                .insert(format!("deliver {n}"), vec![0, n as u64 + 1]);
        }
        assert_eq!(samples.len(), 2 * (MAX_NAMES + 3));
        samples.drain_into(&mut totals);
        assert!(samples.is_empty());
        assert_eq!(totals.latency.len(), MAX_NAMES + 1);
        assert_eq!(totals.latency[OTHER_NAMES].len(), 6);
        // A stamp in the future is recorded as 0, and 0 stays 0.
        assert_eq!(totals.latency["deliver 4"].exact.min, 0.0);
        let mut merged = Totals::default();
        merged.merge(&totals);
        merged.merge(&totals);
        assert_eq!(merged.latency["deliver 4"].len(), 4);
        assert_eq!(merged.latency["deliver 4"].exact.max, 5.0);
    }

    #[test]
    fn negotiated_extensions_are_counted_bounded_and_merge_exactly() {
        let deflate = "permessage-deflate client_max_window_bits=15 server_max_window_bits=15";
        let mut totals = Totals::default();
        let mut samples = Samples::default();
        samples.negotiated.insert(deflate.into(), 3);
        samples.negotiated.insert(NO_EXTENSION.into(), 1);
        assert_eq!(samples.len(), 2);
        samples.drain_into(&mut totals);
        assert!(samples.is_empty());
        for n in 0..MAX_NAMES + 2 {
            samples.negotiated.insert(format!("x-made-up-{n}"), 1);
        }
        samples.drain_into(&mut totals);
        assert_eq!(totals.negotiated.len(), MAX_NAMES + 1);
        assert_eq!(totals.negotiated[deflate], 3);
        assert_eq!(
            totals.negotiated.values().sum::<u64>(),
            4 + MAX_NAMES as u64 + 2
        );
        let mut merged = Totals::default();
        merged.merge(&totals);
        merged.merge(&totals);
        assert_eq!(merged.negotiated[deflate], 6);
        assert_eq!(merged.negotiated[NO_EXTENSION], 2);
    }

    #[test]
    fn phase_names_are_the_names_thresholds_use() -> Result<(), String> {
        use crate::config::threshold::{Subject, Threshold, Timing};
        for phase in Phase::ALL {
            let rule = Threshold::parse(&format!("{}_time p99 < 1s", phase.name()), false)?;
            assert_eq!(rule.subject, Subject::Timing(Timing::Phase(phase.name())));
        }
        Ok(())
    }
}
