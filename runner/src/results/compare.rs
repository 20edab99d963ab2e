//! `volley compare BASE NEW`: two runs' [`Report`]s side by side as one [`Comparison`] (JSON schema
//! [`SCHEMA`], documented in docs/results.md "Comparing two runs"): a [`Row`] per figure both runs
//! have (each distribution's p50/p90/p99/p99.9/max, counts and rates, failures by reason, checks,
//! compression), its change, absolute and relative, and whether the change is larger than the
//! noise the two sample sizes allow; a [`DistributionTest`] per distribution (two-sample
//! Kolmogorov–Smirnov on the HDR histograms); and notes on what differs between the runs (target,
//! module digest, load shape…), shown rather than refused. Which test a figure gets is decided
//! here; the statistics live in `compare_significance`, the table and the page in `render`.

use crate::config::metrics::MetricKind;
use crate::measure::stats::METRIC_SCALE;
use crate::results::compare_significance::{self as stats, ALPHA, KsTest, RankInterval, ZTest};
use crate::results::report::{Distribution, Report};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Identifies the comparison's JSON layout; bumped on any incompatible change.
pub const SCHEMA: &str = "volley.compare/v1";

/// Two runs compared.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The run compared against.
    pub base: Side,
    /// The run compared.
    pub new: Side,
    /// The level of every test (two-sided).
    pub alpha: f64,
    /// The generator's jitter in these runs, µs: the larger of the two runs' `timer_lag` p99 (null
    /// when neither ran a timer). A timing change no larger is not significant: round trips are
    /// timed from when each send was due, so the generator's lateness is inside every one.
    pub jitter_floor_us: Option<f64>,
    /// What differs between the runs besides their figures (target, module, shape, warnings…).
    pub notes: Vec<String>,
    /// Every figure both runs have, in the table's order.
    pub rows: Vec<Row>,
    /// Every distribution both runs have, tested whole.
    pub distributions: Vec<DistributionTest>,
}

/// What identifies one of the runs.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The results file as given.
    pub file: String,
    /// `scenario.name`.
    pub scenario: String,
    /// `scenario.target`.
    pub target: String,
    /// `scenario.module_sha256` (empty in results that did not keep it).
    pub module_sha256: String,
    /// `scenario.interface`: the module's WIT package, or `volley flow (native)` (empty in older
    /// results).
    pub interface: String,
    /// `run.id`.
    pub run_id: String,
    /// `run.started_at_unix_s`.
    pub started_at_unix_s: u64,
    /// `run.elapsed_s`: the time rates are per.
    pub elapsed_s: f64,
    /// `run.shape`.
    pub shape: String,
}

impl Side {
    fn of(file: &str, report: &Report) -> Side {
        Side {
            file: file.to_owned(),
            scenario: report.scenario.name.clone(),
            target: report.scenario.target.clone(),
            module_sha256: report.scenario.module_sha256.clone(),
            interface: report.scenario.interface.clone(),
            run_id: report.run.id.clone(),
            started_at_unix_s: report.run.started_at_unix_s,
            elapsed_s: report.run.elapsed_s,
            shape: report.run.shape.clone(),
        }
    }
}

/// What a figure's numbers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Microseconds.
    Micros,
    /// A custom metric, in the scenario's own unit.
    Metric,
    /// A count of events.
    Count,
    /// Events per second of run time.
    PerSecond,
    /// A fraction 0–1 (pass rates, failure rates); its change is in fraction points.
    Fraction,
    /// A ratio (payload bytes per wire byte).
    Ratio,
    /// Bytes.
    Bytes,
}

/// How a row's change was judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Test {
    /// Not tested (a maximum, byte counts, ratios): no sampling model fits.
    None,
    /// A percentile: each run's 95 % rank interval; significant when they do not overlap. An
    /// interval bound of `null` in JSON is unbounded (the sample is too small to bound it).
    Ranks {
        /// The base run's interval.
        base: RankInterval,
        /// The new run's interval.
        new: RankInterval,
    },
    /// A rate of trials (pass rate, failure rate): the two-proportion z-test.
    Proportions(ZTest),
    /// A count or a rate per second: the Poisson rate test.
    Poisson(ZTest),
}

/// One figure of both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The figure, named as thresholds name it (`round_trip p99`, `checks pass_rate`,
    /// `metric payload p50`, `failures "connect: refused"`).
    pub figure: String,
    /// What the values are.
    pub unit: Unit,
    /// The base run's value.
    pub base: f64,
    /// The new run's value.
    pub new: f64,
    /// `new − base`.
    pub change: f64,
    /// `(new − base) / |base|`; null when `base` is 0.
    pub relative: Option<f64>,
    /// The test and its figures.
    pub test: Test,
    /// For the timings the generator's scheduling enters (every µs distribution but `timer_lag`
    /// and `arrival_lag`): the generator's own jitter in these runs, µs (the larger of their
    /// `timer_lag` p99), which a change must exceed to be significant; null otherwise.
    pub noise_floor: Option<f64>,
    /// Whether the test finds the change beyond the sampling noise at [`ALPHA`]; null when not
    /// tested.
    pub beyond_sampling_noise: Option<bool>,
    /// Whether the change is significant: beyond the sampling noise and, where there is one,
    /// larger than `noise_floor`; null when not tested.
    pub significant: Option<bool>,
}

/// One distribution of both runs, tested whole.
#[derive(Debug, Clone, Serialize)]
pub struct DistributionTest {
    /// Its name as thresholds name it (`round_trip`, `connect_time`, `metric payload`).
    pub name: String,
    /// Values in the base run.
    pub base_count: u64,
    /// Values in the new run.
    pub new_count: u64,
    /// The two-sample Kolmogorov–Smirnov test on the histograms; null when a histogram is missing
    /// (results written before histograms were kept) or does not decode (see `notes`).
    pub ks: Option<KsTest>,
}

impl Comparison {
    /// The row of `figure`, if both runs have it.
    pub fn row(&self, figure: &str) -> Option<&Row> {
        self.rows.iter().find(|row| row.figure == figure)
    }

    /// The whole-distribution test of `name`, if both runs have it.
    pub fn distribution(&self, name: &str) -> Option<&DistributionTest> {
        self.distributions.iter().find(|test| test.name == name)
    }
}

/// Compare `new` (read from `new_file`) against `base` (from `base_file`).
pub fn compare(base_file: &str, base: &Report, new_file: &str, new: &Report) -> Comparison {
    let mut builder = Builder {
        jitter_floor: jitter_floor(base, new),
        ..Builder::default()
    };
    builder.notes = differences(base, new);
    builder.distributions(base, new);
    builder.counts(base, new);
    builder.checks(base, new);
    builder.compression(base, new);
    Comparison {
        schema: SCHEMA.to_owned(),
        base: Side::of(base_file, base),
        new: Side::of(new_file, new),
        alpha: ALPHA,
        jitter_floor_us: builder.jitter_floor,
        notes: builder.notes,
        rows: builder.rows,
        distributions: builder.tests,
    }
}

/// The larger of the two runs' timer-lag p99, µs: how late the generator itself ran.
fn jitter_floor(base: &Report, new: &Report) -> Option<f64> {
    [base, new]
        .iter()
        .filter(|report| report.timer_lag.count > 0)
        .map(|report| report.timer_lag.p99)
        .reduce(f64::max)
}

/// What differs between the runs other than their figures, and what makes either less reliable.
fn differences(base: &Report, new: &Report) -> Vec<String> {
    let mut notes = Vec::new();
    let (a, b) = (&base.scenario, &new.scenario);
    let mut differ = |what: &str, x: &str, y: &str| {
        if x != y {
            let show = |text: &str| {
                if text.is_empty() {
                    "(not recorded)".to_owned()
                } else {
                    text.to_owned()
                }
            };
            notes.push(format!("{what} differ: base {}, new {}", show(x), show(y)));
        }
    };
    differ("scenarios", &a.name, &b.name);
    differ("targets", &a.target, &b.target);
    differ(
        "module digests (SHA-256)",
        &a.module_sha256,
        &b.module_sha256,
    );
    differ("interfaces", &a.interface, &b.interface);
    differ("load shapes", &base.run.shape, &new.run.shape);
    differ(
        "compression settings",
        &base.compression.setting,
        &new.compression.setting,
    );
    for (side, report) in [("base", base), ("new", new)] {
        if let Some(partial) = report.partial_note() {
            notes.push(format!("{side} is partial: {partial}"));
        }
        if report.run.interrupted {
            notes.push(format!("{side} was interrupted"));
        }
        if let Some(rule) = &report.run.aborted_by {
            notes.push(format!("{side} was aborted by `{rule}`"));
        }
        for warning in &report.warnings {
            notes.push(format!("{side} warned: {warning}"));
        }
    }
    notes
}

/// Collects rows, tests and notes in the table's order.
#[derive(Default)]
struct Builder {
    rows: Vec<Row>,
    tests: Vec<DistributionTest>,
    notes: Vec<String>,
    jitter_floor: Option<f64>,
}

impl Builder {
    fn push(&mut self, figure: String, unit: Unit, base: f64, new: f64, test: Test) {
        self.push_above(figure, unit, base, new, test, None);
    }

    /// A row whose change must also exceed `noise_floor` to be significant.
    fn push_above(
        &mut self,
        figure: String,
        unit: Unit,
        base: f64,
        new: f64,
        test: Test,
        noise_floor: Option<f64>,
    ) {
        let beyond_sampling_noise = match &test {
            Test::None => None,
            Test::Ranks { base, new } => Some(base.disjoint(new)),
            Test::Proportions(z) | Test::Poisson(z) => Some(z.significant),
        };
        let above_floor = noise_floor.is_none_or(|floor| (new - base).abs() > floor);
        let significant = beyond_sampling_noise.map(|beyond| beyond && above_floor);
        let relative = (base != 0.0).then(|| (new - base) / base.abs());
        self.rows.push(Row {
            figure,
            unit,
            base,
            new,
            change: new - base,
            relative,
            test,
            noise_floor,
            beyond_sampling_noise,
            significant,
        });
    }

    /// A count of events over one planned load: the Poisson test at equal exposure.
    fn count(&mut self, figure: &str, base: u64, new: u64) {
        let test = stats::poisson_rates(base, 1.0, new, 1.0).map_or(Test::None, Test::Poisson);
        self.push(figure.into(), Unit::Count, base as f64, new as f64, test);
    }

    /// A count of `hits` among `trials`, shown as a count and tested as a proportion.
    fn count_of(&mut self, figure: &str, base: (u64, u64), new: (u64, u64)) {
        let test = stats::two_proportions(base.0, base.1, new.0, new.1)
            .map_or(Test::None, Test::Proportions);
        self.push(
            figure.into(),
            Unit::Count,
            base.0 as f64,
            new.0 as f64,
            test,
        );
    }

    /// A rate of `hits` among `trials`, shown and tested as a proportion; skipped without trials.
    fn fraction(&mut self, figure: &str, base: (u64, u64), new: (u64, u64)) {
        if base.1 == 0 || new.1 == 0 {
            return;
        }
        let rate = |(hits, trials): (u64, u64)| hits as f64 / trials as f64;
        let test = stats::two_proportions(base.0, base.1, new.0, new.1)
            .map_or(Test::None, Test::Proportions);
        self.push(figure.into(), Unit::Fraction, rate(base), rate(new), test);
    }

    fn distributions(&mut self, base: &Report, new: &Report) {
        self.distribution("round_trip", &base.round_trips, &new.round_trips, 1.0);
        for (name, a, b) in paired(&base.round_trips_by_name, &new.round_trips_by_name, |n| {
            format!("round_trip{{{n}}}")
        }) {
            self.either(name, a, b, 1.0);
        }
        for (name, a, b) in paired(&base.latency, &new.latency, |n| format!("latency{{{n}}}")) {
            self.either(name, a, b, 1.0);
        }
        self.distribution("connect_time", &base.connect_time, &new.connect_time, 1.0);
        for (name, a, b) in paired(&base.connect_phases, &new.connect_phases, |n| {
            format!("{n}_time")
        }) {
            self.either(name, a, b, 1.0);
        }
        self.distribution("timer_lag", &base.timer_lag, &new.timer_lag, 1.0);
        self.distribution("arrival_lag", &base.arrival_lag, &new.arrival_lag, 1.0);
        self.distribution("ping_rtt", &base.ping_rtt, &new.ping_rtt, 1.0);
        for (name, a, b) in paired(&base.metrics, &new.metrics, |n| format!("metric {n}")) {
            let kind = a.or(b).map(Distribution::metric_kind).unwrap_or_default();
            match kind {
                MetricKind::Counter => self.counter(&name, a, b, (base, new)),
                MetricKind::Rate => {
                    let trues = |d: Option<&Distribution>| {
                        d.map_or((0, 0), |d| (d.total().round() as u64, d.count))
                    };
                    self.fraction(&format!("{name} rate"), trues(a), trues(b));
                }
                MetricKind::Duration | MetricKind::Value => self.either(name, a, b, METRIC_SCALE),
            }
        }
    }

    /// A counter's total and its total per second of run time (not tested: a counter's values
    /// need not be counts of independent events).
    fn counter(
        &mut self,
        name: &str,
        base: Option<&Distribution>,
        new: Option<&Distribution>,
        (base_run, new_run): (&Report, &Report),
    ) {
        let total = |d: Option<&Distribution>| d.map_or(0.0, Distribution::total);
        let (a, b) = (total(base), total(new));
        self.push(format!("{name} total"), Unit::Count, a, b, Test::None);
        let (x, y) = (base_run.run.elapsed_s, new_run.run.elapsed_s);
        if x > 0.0 && y > 0.0 {
            self.push(
                format!("{name} rate"),
                Unit::PerSecond,
                a / x,
                b / y,
                Test::None,
            );
        }
    }

    /// A distribution present in one run only is a note; in both, [`Builder::distribution`].
    fn either(
        &mut self,
        name: String,
        base: Option<&Distribution>,
        new: Option<&Distribution>,
        scale: f64,
    ) {
        let empty = Distribution::empty();
        self.distribution(&name, base.unwrap_or(&empty), new.unwrap_or(&empty), scale);
    }

    /// Rows p50, p90, p99, p99.9 and max of a distribution both runs have, and its KS test; a note
    /// when only one run has values.
    fn distribution(&mut self, name: &str, base: &Distribution, new: &Distribution, scale: f64) {
        match (base.count, new.count) {
            (0, 0) => return,
            (0, _) => {
                self.notes.push(format!("only new has {name}"));
                return;
            }
            (_, 0) => {
                self.notes.push(format!("only base has {name}"));
                return;
            }
            _ => {}
        }
        let unit = if scale == 1.0 {
            Unit::Micros
        } else {
            Unit::Metric
        };
        // The generator's lateness is inside every timing but its own.
        let floor = match name {
            "timer_lag" | "arrival_lag" => None,
            _ if unit == Unit::Micros => self.jitter_floor,
            _ => None,
        };
        let histograms = match (
            self.histogram(name, "base", base),
            self.histogram(name, "new", new),
        ) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        let label = |stat: &str| format!("{name} {stat}");
        for (stat, quantile, a, b) in [
            ("p50", 0.5, base.p50, new.p50),
            ("p90", 0.9, base.p90, new.p90),
            ("p99", 0.99, base.p99, new.p99),
            ("p99.9", 0.999, base.p999, new.p999),
        ] {
            let test = histograms
                .as_ref()
                .and_then(|(x, y)| {
                    Some(Test::Ranks {
                        base: stats::quantile_interval(x, quantile, scale)?,
                        new: stats::quantile_interval(y, quantile, scale)?,
                    })
                })
                .unwrap_or(Test::None);
            self.push_above(label(stat), unit, a, b, test, floor);
        }
        self.push(label("max"), unit, base.max, new.max, Test::None);
        self.tests.push(DistributionTest {
            name: name.to_owned(),
            base_count: base.count,
            new_count: new.count,
            ks: histograms
                .as_ref()
                .and_then(|(x, y)| stats::kolmogorov_smirnov(x, y)),
        });
    }

    /// The decoded histogram of `distribution`, or a note saying why there is none.
    fn histogram(
        &mut self,
        name: &str,
        side: &str,
        distribution: &Distribution,
    ) -> Option<Histogram<u64>> {
        match distribution.recorded() {
            Ok(recorded) if !recorded.histogram.is_empty() => Some(recorded.histogram),
            Ok(_) => {
                self.notes
                    .push(format!("{side}'s {name} has no histogram: not tested"));
                None
            }
            Err(error) => {
                self.notes
                    .push(format!("{side}'s {name} is not tested: {error}"));
                None
            }
        }
    }

    fn counts(&mut self, base: &Report, new: &Report) {
        let (a, b) = (&base.connections, &new.connections);
        self.count("connections attempted", a.attempted, b.attempted);
        self.count("connections established", a.established, b.established);
        self.fraction(
            "connections failure_rate",
            (a.failed, a.attempted),
            (b.failed, b.attempted),
        );
        for (reason, x, y) in paired(&a.failed_by_reason, &b.failed_by_reason, |r| {
            format!("failures \"{r}\"")
        }) {
            let (x, y) = (x.copied().unwrap_or(0), y.copied().unwrap_or(0));
            self.count_of(&reason, (x, a.attempted), (y, b.attempted));
        }
        let nonzero = |x: u64, y: u64| x > 0 || y > 0;
        if nonzero(a.closed_by_server, b.closed_by_server) {
            self.count(
                "connections closed_by_server",
                a.closed_by_server,
                b.closed_by_server,
            );
        }
        self.push(
            "connections peak_open".into(),
            Unit::Count,
            a.peak_open as f64,
            b.peak_open as f64,
            Test::None,
        );
        if nonzero(a.dropped_arrivals, b.dropped_arrivals) {
            self.count(
                "connections dropped_arrivals",
                a.dropped_arrivals,
                b.dropped_arrivals,
            );
        }
        if nonzero(base.network.reconnects, new.network.reconnects) {
            self.count(
                "connections reconnects",
                base.network.reconnects,
                new.network.reconnects,
            );
        }
        if let (Some(x), Some(y)) = (base.population, new.population) {
            self.push(
                "population reached".into(),
                Unit::Count,
                x.reached as f64,
                y.reached as f64,
                Test::None,
            );
        }
        let (m, n) = (&base.messages, &new.messages);
        self.count("messages sent", m.sent, n.sent);
        self.count("messages received", m.received, n.received);
        let (t1, t2) = (base.run.elapsed_s, new.run.elapsed_s);
        if t1 > 0.0 && t2 > 0.0 {
            let (c1, c2) = (m.sent + m.received, n.sent + n.received);
            let test = stats::poisson_rates(c1, t1, c2, t2).map_or(Test::None, Test::Poisson);
            self.push(
                "throughput".into(),
                Unit::PerSecond,
                c1 as f64 / t1,
                c2 as f64 / t2,
                test,
            );
        }
        let bytes = |builder: &mut Builder, figure: &str, x: u64, y: u64| {
            builder.push(figure.into(), Unit::Bytes, x as f64, y as f64, Test::None);
        };
        bytes(self, "messages bytes_sent", m.bytes_sent, n.bytes_sent);
        bytes(
            self,
            "messages bytes_received",
            m.bytes_received,
            n.bytes_received,
        );
        if m.wire_bytes_sent > 0 && n.wire_bytes_sent > 0 {
            bytes(
                self,
                "messages wire_bytes_sent",
                m.wire_bytes_sent,
                n.wire_bytes_sent,
            );
            bytes(
                self,
                "messages wire_bytes_received",
                m.wire_bytes_received,
                n.wire_bytes_received,
            );
        }
        self.count_of(
            "reply_timeouts",
            (base.reply_timeouts, base.round_trips.count),
            (new.reply_timeouts, new.round_trips.count),
        );
        if nonzero(base.requests_abandoned, new.requests_abandoned) {
            self.count(
                "requests_abandoned",
                base.requests_abandoned,
                new.requests_abandoned,
            );
        }
        if nonzero(base.latency_stamps_in_future, new.latency_stamps_in_future) {
            self.count(
                "latency_stamps_in_future",
                base.latency_stamps_in_future,
                new.latency_stamps_in_future,
            );
        }
        let cut = |report: &Report| report.connections.goodbye_timeouts;
        if nonzero(cut(base), cut(new)) {
            self.count("goodbye_timeouts", cut(base), cut(new));
        }
        if nonzero(base.unexpected_messages, new.unexpected_messages) {
            self.count(
                "unexpected_messages",
                base.unexpected_messages,
                new.unexpected_messages,
            );
        }
        let errors = |report: &Report| report.scenario_errors.values().sum::<u64>();
        if nonzero(errors(base), errors(new)) {
            self.count("scenario_errors", errors(base), errors(new));
        }
    }

    fn checks(&mut self, base: &Report, new: &Report) {
        let totals = |report: &Report| {
            report.checks.iter().fold((0, 0), |(passed, all), check| {
                (passed + check.passed, all + check.passed + check.failed)
            })
        };
        self.fraction("checks pass_rate", totals(base), totals(new));
        let by_name = |report: &Report| -> BTreeMap<String, (u64, u64)> {
            report
                .checks
                .iter()
                .map(|c| (c.name.clone(), (c.passed, c.passed + c.failed)))
                .collect()
        };
        let (a, b) = (by_name(base), by_name(new));
        for (name, x, y) in paired(&a, &b, |n| format!("check \"{n}\" pass_rate")) {
            match (x, y) {
                (Some(x), Some(y)) => self.fraction(&name, *x, *y),
                (Some(_), None) => self.notes.push(format!("only base has {name}")),
                _ => self.notes.push(format!("only new has {name}")),
            }
        }
    }

    fn compression(&mut self, base: &Report, new: &Report) {
        if !base.compression.asked() && !new.compression.asked() {
            return;
        }
        let negotiated = |report: &Report| report.compression.negotiated_of();
        self.fraction("compression negotiated", negotiated(base), negotiated(new));
        let ratio = |payload: u64, wire: u64| (wire > 0).then(|| payload as f64 / wire as f64);
        let (m, n) = (&base.messages, &new.messages);
        for (figure, x, y) in [
            (
                "compression ratio_sent",
                ratio(m.bytes_sent, m.wire_bytes_sent),
                ratio(n.bytes_sent, n.wire_bytes_sent),
            ),
            (
                "compression ratio_received",
                ratio(m.bytes_received, m.wire_bytes_received),
                ratio(n.bytes_received, n.wire_bytes_received),
            ),
        ] {
            if let (Some(x), Some(y)) = (x, y) {
                self.push(figure.into(), Unit::Ratio, x, y, Test::None);
            }
        }
        self.count(
            "messages compressed_sent",
            m.compressed_sent,
            n.compressed_sent,
        );
        self.count(
            "messages compressed_received",
            m.compressed_received,
            n.compressed_received,
        );
    }
}

/// The keys of two maps in order, each with its figure name and the value of either side.
fn paired<'a, V>(
    base: &'a BTreeMap<String, V>,
    new: &'a BTreeMap<String, V>,
    name: impl Fn(&str) -> String,
) -> Vec<(String, Option<&'a V>, Option<&'a V>)> {
    let mut keys: Vec<&String> = base.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|key| (name(key), base.get(key), new.get(key)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::counters::CounterValues;
    use crate::measure::stats::{CheckCount, Totals};
    use crate::results::report::{RunInfo, ScenarioInfo};

    /// A report of `round_trips` µs values, `failed` of 100 connections failed (`refused`), and
    /// a check that passed `passed` of 1,000 times.
    fn report(round_trips: impl IntoIterator<Item = u64>, failed: u64, passed: u64) -> Report {
        let mut totals = Totals::default();
        for value in round_trips {
            totals.round_trips.record_micros(value);
        }
        totals.checks.insert(
            "echo".into(),
            CheckCount {
                passed,
                failed: 1_000 - passed,
            },
        );
        if failed > 0 {
            totals.failures.insert("connect: refused".into(), failed);
        }
        let counters = CounterValues {
            attempted: 100,
            established: 100 - failed,
            failed,
            messages_sent: 10_000,
            messages_received: 10_000,
            ..Default::default()
        };
        let run = RunInfo {
            elapsed_s: 10.0,
            connections: 100,
            ..Default::default()
        };
        let scenario = ScenarioInfo {
            name: "echo".into(),
            target: "ws://127.0.0.1:9001/".into(),
            ..Default::default()
        };
        Report::build(scenario, run, counters, &totals, Default::default())
    }

    /// `n` values spread over ±50 % of `centre` µs.
    fn values(n: u64, centre: u64) -> impl Iterator<Item = u64> {
        (0..n).map(move |i| {
            centre / 2 + centre * ((i * 7_919) % 1_000 + (i * 104_729) % 1_000) / 2_000
        })
    }

    /// [`report`] with a counter `seen` of `seen` ones and a rate `ok` true `ok` of 1,000 times.
    fn report_with_kinds(seen: u64, ok: u64) -> Report {
        let mut run = report(values(1_000, 1_000), 0, 1_000);
        let (mut counter, mut rate) = (
            crate::measure::recorded::Recorded::default(),
            crate::measure::recorded::Recorded::default(),
        );
        for _ in 0..seen {
            counter.record_metric(1.0);
        }
        for i in 0..1_000 {
            rate.record_metric(if i < ok { 1.0 } else { 0.0 });
        }
        run.metrics.insert(
            "seen".into(),
            Distribution::of_metric(&counter, MetricKind::Counter),
        );
        run.metrics.insert(
            "ok".into(),
            Distribution::of_metric(&rate, MetricKind::Rate),
        );
        run
    }

    #[test]
    fn issue_23_a_counter_compares_its_total_and_a_rate_its_fraction() {
        let comparison = compare(
            "a.json",
            &report_with_kinds(500, 990),
            "b.json",
            &report_with_kinds(600, 900),
        );
        let row = |figure: &str| {
            comparison
                .rows
                .iter()
                .find(|row| row.figure == figure)
                .unwrap_or_else(|| panic!("no row {figure}: {:?}", comparison.rows))
        };
        let total = row("metric seen total");
        assert_eq!(
            (total.base, total.new, total.significant),
            (500.0, 600.0, None)
        );
        assert_eq!(row("metric seen rate").new, 60.0, "per second of 10 s");
        let rate = row("metric ok rate");
        assert_eq!(
            (rate.unit, rate.base, rate.new),
            (Unit::Fraction, 0.99, 0.9)
        );
        assert_eq!(rate.significant, Some(true));
        assert!(
            !comparison
                .rows
                .iter()
                .any(|row| row.figure == "metric seen p99"),
            "a counter has no percentile rows"
        );
    }

    #[test]
    fn a_run_compared_with_itself_changes_nothing() {
        let run = report(values(10_000, 1_000), 2, 990);
        let comparison = compare("a.json", &run, "a.json", &run);
        assert!(comparison.notes.is_empty(), "{:?}", comparison.notes);
        for row in &comparison.rows {
            assert_eq!(row.change, 0.0, "{row:?}");
            assert_ne!(row.significant, Some(true), "{row:?}");
        }
        let ks = comparison
            .distribution("round_trip")
            .and_then(|test| test.ks);
        assert!(
            ks.is_some_and(|ks| ks.d == 0.0 && !ks.significant),
            "{ks:?}"
        );
        for figure in [
            "round_trip p50",
            "round_trip p99.9",
            "round_trip max",
            "connections failure_rate",
            "failures \"connect: refused\"",
            "throughput",
            "checks pass_rate",
            "check \"echo\" pass_rate",
        ] {
            assert!(comparison.row(figure).is_some(), "no row {figure}");
        }
    }

    #[test]
    fn a_slower_run_is_significantly_slower_and_the_rest_is_not() -> Result<(), String> {
        let base = report(values(10_000, 1_000), 2, 990);
        let new = report(values(10_000, 21_000), 2, 990);
        let comparison = compare("base.json", &base, "new.json", &new);
        for figure in ["round_trip p50", "round_trip p90", "round_trip p99"] {
            let row = comparison.row(figure).ok_or(figure)?;
            assert_eq!(row.significant, Some(true), "{row:?}");
            assert!(row.change > 0.0 && row.relative > Some(1.0), "{row:?}");
        }
        let ks = comparison.distribution("round_trip").and_then(|t| t.ks);
        assert!(ks.is_some_and(|ks| ks.significant && ks.d > 0.9), "{ks:?}");
        let checks = comparison.row("checks pass_rate").ok_or("no checks")?;
        assert_eq!(checks.significant, Some(false), "{checks:?}");
        Ok(())
    }

    #[test]
    fn a_timing_change_within_the_generators_jitter_is_not_significant() -> Result<(), String> {
        // Timer lag p99 of 5 ms in the new run: a 1 ms shift of 10,000 round trips is beyond the
        // sampling noise but within the generator's own lateness; a 20 ms shift is beyond both.
        let with_lag = |mut report: Report| {
            let mut lag = crate::measure::recorded::Recorded::default();
            for value in values(1_000, 5_000) {
                lag.record_micros(value);
            }
            report.timer_lag = Distribution::of(&lag, 1.0);
            report
        };
        let base = with_lag(report(values(10_000, 10_000), 0, 1_000));
        let near = with_lag(report(values(10_000, 11_000), 0, 1_000));
        let far = with_lag(report(values(10_000, 30_000), 0, 1_000));
        let comparison = compare("base.json", &base, "near.json", &near);
        let floor = comparison.jitter_floor_us.ok_or("no floor")?;
        assert!((5_000.0..=7_600.0).contains(&floor), "{floor}");
        let row = comparison.row("round_trip p50").ok_or("no row")?;
        assert_eq!(row.beyond_sampling_noise, Some(true), "{row:?}");
        assert_eq!(row.significant, Some(false), "{row:?}");
        assert_eq!(row.noise_floor, Some(floor));
        // The generator's own lateness is compared without a floor.
        let lag = comparison.row("timer_lag p50").ok_or("no timer_lag")?;
        assert_eq!(lag.noise_floor, None, "{lag:?}");
        let comparison = compare("base.json", &base, "far.json", &far);
        let row = comparison.row("round_trip p50").ok_or("no row")?;
        assert_eq!(row.significant, Some(true), "{row:?}");
        Ok(())
    }

    #[test]
    fn rates_are_tested_as_proportions() -> Result<(), String> {
        // 99 % against 90 % of 1,000 checks: significant; 2 against 3 failed connections of 100
        // is not.
        let base = report(values(100, 1_000), 2, 990);
        let new = report(values(100, 1_000), 3, 900);
        let comparison = compare("base.json", &base, "new.json", &new);
        let checks = comparison.row("checks pass_rate").ok_or("no checks")?;
        assert_eq!(checks.significant, Some(true), "{checks:?}");
        assert!((checks.change + 0.09).abs() < 1e-9, "{checks:?}");
        let failures = comparison
            .row("connections failure_rate")
            .ok_or("no rate")?;
        assert_eq!(failures.significant, Some(false), "{failures:?}");
        Ok(())
    }

    #[test]
    fn different_targets_and_modules_are_noted_not_refused() {
        let base = report(values(100, 1_000), 0, 1_000);
        let mut new = base.clone();
        new.scenario.target = "ws://10.0.0.1:9001/".into();
        new.scenario.module_sha256 = "ab".repeat(32);
        new.round_trips_by_name
            .insert("echo".into(), new.round_trips.clone());
        let comparison = compare("base.json", &base, "new.json", &new);
        let notes = comparison.notes.join("\n");
        assert!(
            notes.contains("targets differ: base ws://127.0.0.1:9001/, new ws://10.0.0.1:9001/"),
            "{notes}"
        );
        assert!(
            notes.contains("module digests (SHA-256) differ: base (not recorded)"),
            "{notes}"
        );
        assert!(notes.contains("only new has round_trip{echo}"), "{notes}");
        assert!(comparison.row("round_trip{echo} p50").is_none());
        assert!(comparison.row("round_trip p50").is_some());
    }

    #[test]
    fn a_missing_histogram_leaves_its_percentiles_untested() -> Result<(), String> {
        let base = report(values(1_000, 1_000), 0, 1_000);
        let mut new = base.clone();
        new.round_trips.histogram = "not base64!".into();
        let comparison = compare("base.json", &base, "new.json", &new);
        let row = comparison.row("round_trip p50").ok_or("no row")?;
        assert_eq!(row.significant, None, "{row:?}");
        assert!(
            comparison
                .notes
                .iter()
                .any(|n| n.starts_with("new's round_trip is not tested")),
            "{:?}",
            comparison.notes
        );
        Ok(())
    }
}
