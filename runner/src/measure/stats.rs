//! Measurements as plain data: [`Totals`] (histograms, checks, metrics, failures by reason, exactly
//! mergeable), [`Samples`] (what one connection holds before it flushes), the bounded-name rule and
//! the connect [`Phase`]s. Pure aggregation: recording lives in `recorder`, the shared sink in
//! `collector`, the live atomics in `counters`, the report model in `results`.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// Custom metric values are recorded in 1/1024ths: a binary fraction keeps whole numbers below
/// 4096 (and halves, quarters…) exact in a 3-significant-digit HDR histogram, where thousandths
/// turned 17 into 16.992.
pub const METRIC_SCALE: f64 = 1024.0;

/// A histogram of microseconds (or scaled metric values), 3 significant digits, growing as needed.
pub fn new_histogram() -> Histogram<u64> {
    // 3 significant digits is always a valid precision; this cannot fail.
    Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"))
}

/// Pass/fail counts of one named check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckCount {
    /// Times the check held.
    pub passed: u64,
    /// Times it did not.
    pub failed: u64,
}

/// Everything a run measured that is not a plain counter.
#[derive(Debug, Clone)]
pub struct Totals {
    /// Round trips of completed requests, µs, from when the send was due.
    pub round_trips: Histogram<u64>,
    /// Round trips of named requests by name, µs (each also counts in `round_trips`).
    pub round_trips_by_name: BTreeMap<String, Histogram<u64>>,
    /// How late timer callbacks ran after they were due, µs.
    pub timer_lag: Histogram<u64>,
    /// How late arrivals (arrival-rate shape) started after they were due, µs.
    pub arrival_lag: Histogram<u64>,
    /// DNS + TCP connect + TLS + WebSocket upgrade, µs.
    pub connect_time: Histogram<u64>,
    /// Each connect phase, µs.
    pub phases: [Histogram<u64>; Phase::COUNT],
    /// Client ping → pong, µs.
    pub ping_rtt: Histogram<u64>,
    /// Checks by name.
    pub checks: BTreeMap<String, CheckCount>,
    /// Custom metrics by name, values × [`METRIC_SCALE`].
    pub metrics: BTreeMap<String, Histogram<u64>>,
    /// Failed connections by reason.
    pub failures: BTreeMap<String, u64>,
    /// Scenario traps (panics, CPU deadline, memory cap) by message.
    pub scenario_errors: BTreeMap<String, u64>,
    /// One example detail per failure reason or scenario error (the first seen), for the report.
    pub examples: BTreeMap<String, String>,
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            round_trips: new_histogram(),
            round_trips_by_name: BTreeMap::new(),
            timer_lag: new_histogram(),
            arrival_lag: new_histogram(),
            connect_time: new_histogram(),
            phases: std::array::from_fn(|_| new_histogram()),
            ping_rtt: new_histogram(),
            checks: BTreeMap::new(),
            metrics: BTreeMap::new(),
            failures: BTreeMap::new(),
            scenario_errors: BTreeMap::new(),
            examples: BTreeMap::new(),
        }
    }
}

fn add_histogram(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Auto-resizing histograms of the same precision always merge.
    let _ = into.add(from);
}

impl Totals {
    /// Add `other` into `self`; exact for every count and histogram bucket.
    pub fn merge(&mut self, other: &Totals) {
        add_histogram(&mut self.round_trips, &other.round_trips);
        add_histogram(&mut self.timer_lag, &other.timer_lag);
        add_histogram(&mut self.arrival_lag, &other.arrival_lag);
        add_histogram(&mut self.connect_time, &other.connect_time);
        for (mine, theirs) in self.phases.iter_mut().zip(&other.phases) {
            add_histogram(mine, theirs);
        }
        add_histogram(&mut self.ping_rtt, &other.ping_rtt);
        for (name, count) in &other.checks {
            let entry = self.checks.entry(name.clone()).or_default();
            entry.passed += count.passed;
            entry.failed += count.failed;
        }
        for (name, histogram) in &other.metrics {
            add_histogram(
                self.metrics
                    .entry(name.clone())
                    .or_insert_with(new_histogram),
                histogram,
            );
        }
        for (name, histogram) in &other.round_trips_by_name {
            add_histogram(
                self.round_trips_by_name
                    .entry(name.clone())
                    .or_insert_with(new_histogram),
                histogram,
            );
        }
        for (reason, count) in &other.failures {
            *self.failures.entry(reason.clone()).or_default() += count;
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
    /// Custom metric values × [`METRIC_SCALE`], by name.
    pub metrics: BTreeMap<String, Vec<u64>>,
    /// Checks by name.
    pub checks: BTreeMap<String, CheckCount>,
    /// Failures by reason.
    pub failures: BTreeMap<String, u64>,
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
            + self.checks.len()
            + self.failures.len()
            + self.scenario_errors.len()
    }

    /// True when there is nothing to flush.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record everything into `totals` and clear (keeping vector capacity).
    pub fn drain_into(&mut self, totals: &mut Totals) {
        self.held = 0;
        for value in self.round_trips.drain(..) {
            let _ = totals.round_trips.record(value);
        }
        for value in self.timer_lag.drain(..) {
            let _ = totals.timer_lag.record(value);
        }
        for value in self.arrival_lag.drain(..) {
            let _ = totals.arrival_lag.record(value);
        }
        for value in self.connect_time.drain(..) {
            let _ = totals.connect_time.record(value);
        }
        for (samples, histogram) in self.phases.iter_mut().zip(totals.phases.iter_mut()) {
            for value in samples.drain(..) {
                let _ = histogram.record(value);
            }
        }
        for value in self.ping_rtt.drain(..) {
            let _ = totals.ping_rtt.record(value);
        }
        for (name, values) in std::mem::take(&mut self.metrics) {
            let name = bounded_name(name, &totals.metrics);
            let histogram = totals.metrics.entry(name).or_insert_with(new_histogram);
            for value in values {
                let _ = histogram.record(value);
            }
        }
        for (name, values) in std::mem::take(&mut self.round_trips_by_name) {
            let name = bounded_name(name, &totals.round_trips_by_name);
            let histogram = totals
                .round_trips_by_name
                .entry(name)
                .or_insert_with(new_histogram);
            for value in values {
                let _ = histogram.record(value);
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
    fn merging_is_exact() -> Result<(), hdrhistogram::RecordError> {
        let mut a = Totals::default();
        let mut b = Totals::default();
        let mut both = Totals::default();
        for value in 1..=1000u64 {
            a.round_trips.record(value)?;
            both.round_trips.record(value)?;
        }
        for value in 5000..=6000u64 {
            b.round_trips.record(value * 7)?;
            both.round_trips.record(value * 7)?;
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
            a.round_trips.value_at_quantile(0.99),
            both.round_trips.value_at_quantile(0.99)
        );
        assert_eq!(
            a.checks["x"],
            CheckCount {
                passed: 5,
                failed: 1
            }
        );
        Ok(())
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
        assert_eq!(merged.round_trips_by_name["request 7"].max(), 8);
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
