//! Judging threshold rules (parsed in `config::threshold`) against the figures of a run: at the end
//! of a run, on a merged result, and (for `abort: true` rules) once per interval while it runs. The
//! rules read a small view of the results ([`Figures`]), not the whole report.

use crate::config::metrics::MetricKind;
use crate::config::threshold::{Subject, Threshold, Timing};
use crate::config::units::human_micros;
use crate::results::report::{CheckStats, ConnectionStats, Distribution, MessageStats, Outcome};
use std::collections::BTreeMap;

/// The figures a threshold can be judged on.
pub struct Figures<'a> {
    /// Request/reply round trips, µs.
    pub round_trips: &'a Distribution,
    /// Round trips of named requests by name, µs.
    pub round_trips_by_name: &'a BTreeMap<String, Distribution>,
    /// Delivery latencies by name, µs.
    pub latency: &'a BTreeMap<String, Distribution>,
    /// Whole connect, µs.
    pub connect_time: &'a Distribution,
    /// Timer lateness, µs.
    pub timer_lag: &'a Distribution,
    /// Ping round trips, µs.
    pub ping_rtt: &'a Distribution,
    /// Connect phases by name, µs.
    pub connect_phases: &'a BTreeMap<String, Distribution>,
    /// Custom metrics by name.
    pub metrics: &'a BTreeMap<String, Distribution>,
    /// Checks by name.
    pub checks: &'a [CheckStats],
    /// Connection outcomes.
    pub connections: &'a ConnectionStats,
    /// Reconnects.
    pub reconnects: u64,
    /// Replies that missed their deadline.
    pub reply_timeouts: u64,
    /// Connections that failed in the scenario.
    pub scenario_errors: u64,
    /// Message counts.
    pub messages: &'a MessageStats,
    /// Seconds the run lasted (a counter's `rate` is its total per second of it).
    pub elapsed_s: f64,
}

/// Judge `rule` on `figures`.
pub fn evaluate(rule: &Threshold, figures: &Figures<'_>) -> Outcome {
    let measured = measure(rule, figures);
    let (passed, actual) = match measured {
        Some(value) => (rule.op.holds(value, rule.limit), show(rule, figures, value)),
        None => (false, no_data(rule)),
    };
    Outcome {
        expression: rule.expression.clone(),
        actual,
        passed,
        abort: rule.abort,
    }
}

fn no_data(rule: &Threshold) -> String {
    match &rule.subject {
        Subject::Metric(name) => {
            format!("no data (metric `{name}` was never recorded; misspelt?)")
        }
        Subject::Check(name) => {
            format!("no data (check `{name}` was never recorded; misspelt?)")
        }
        Subject::Timing(Timing::NamedRoundTrip(name)) => {
            format!(
                "no data (no request named `{name}` completed; misspelt, or not named in the scenario?)"
            )
        }
        Subject::Timing(Timing::Latency(name)) => {
            format!(
                "no data (no latency named `{name}` recorded; misspelt, or not recorded with record_latency?)"
            )
        }
        _ => "no data".into(),
    }
}

fn show(rule: &Threshold, figures: &Figures<'_>, value: f64) -> String {
    if let Subject::Metric(name) = &rule.subject {
        let kind = figures
            .metrics
            .get(name)
            .map(Distribution::metric_kind)
            .unwrap_or_default();
        return match (kind, rule.stat.as_str()) {
            (_, "count") => format!("{value}"),
            (MetricKind::Duration, _) => human_micros(value * 1000.0),
            (MetricKind::Rate, _) => format!("{:.3}%", value * 100.0),
            (MetricKind::Counter, _) => format!("{value:.3}/s"),
            _ => format!("{value}"),
        };
    }
    match (&rule.subject, rule.stat.as_str()) {
        (_, "count") => format!("{value}"),
        (Subject::Timing(_), _) => human_micros(value),
        (_, "pass_rate" | "failure_rate") => format!("{:.3}%", value * 100.0),
        _ => format!("{value}"),
    }
}

fn measure(rule: &Threshold, report: &Figures<'_>) -> Option<f64> {
    let distribution = |d: &Distribution| distribution_stat(d, &rule.stat);
    match &rule.subject {
        Subject::Timing(Timing::RoundTrip) => distribution(report.round_trips),
        Subject::Timing(Timing::NamedRoundTrip(name)) => {
            report.round_trips_by_name.get(name).and_then(distribution)
        }
        Subject::Timing(Timing::Latency(name)) => report.latency.get(name).and_then(distribution),
        Subject::Timing(Timing::ConnectTime) => distribution(report.connect_time),
        Subject::Timing(Timing::TimerLag) => distribution(report.timer_lag),
        Subject::Timing(Timing::PingRtt) => distribution(report.ping_rtt),
        Subject::Timing(Timing::Phase(phase)) => {
            report.connect_phases.get(*phase).and_then(distribution)
        }
        Subject::Metric(name) => {
            let metric = report.metrics.get(name)?;
            match (metric.metric_kind(), rule.stat.as_str()) {
                // k6's words: a counter's `count` is its total, its `rate` the total per second.
                (MetricKind::Counter, "count") => Some(metric.total()),
                (MetricKind::Counter, "rate") if report.elapsed_s > 0.0 => {
                    Some(metric.total() / report.elapsed_s)
                }
                (MetricKind::Rate, "rate") => metric.true_fraction(),
                (_, "rate") => None,
                _ => distribution(metric),
            }
        }
        Subject::Checks => {
            let passed: u64 = report.checks.iter().map(|c| c.passed).sum();
            let failed: u64 = report.checks.iter().map(|c| c.failed).sum();
            check_stat(&rule.stat, passed, failed)
        }
        Subject::Check(name) => {
            let check = report.checks.iter().find(|c| &c.name == name)?;
            check_stat(&rule.stat, check.passed, check.failed)
        }
        Subject::Connections => {
            let c = report.connections;
            Some(match rule.stat.as_str() {
                "failure_rate" if c.attempted == 0 => return None,
                "failure_rate" => (c.failed as f64 / c.attempted as f64).min(1.0),
                "failed" => c.failed as f64,
                "established" => c.established as f64,
                "attempted" => c.attempted as f64,
                "reconnects" => report.reconnects as f64,
                "dropped_arrivals" => c.dropped_arrivals as f64,
                "pending_at_end" => c.pending_at_end as f64,
                _ => c.peak_open as f64,
            })
        }
        Subject::ReplyTimeouts => Some(report.reply_timeouts as f64),
        Subject::ScenarioErrors => Some(report.scenario_errors as f64),
        Subject::Messages => Some(match rule.stat.as_str() {
            "sent" => report.messages.sent as f64,
            _ => report.messages.received as f64,
        }),
    }
}

fn check_stat(stat: &str, passed: u64, failed: u64) -> Option<f64> {
    match stat {
        "pass_rate" if passed + failed == 0 => None,
        "pass_rate" => Some(passed as f64 / (passed + failed) as f64),
        "passed" => Some(passed as f64),
        _ => Some(failed as f64),
    }
}

fn distribution_stat(d: &Distribution, stat: &str) -> Option<f64> {
    if stat == "count" {
        return Some(d.count as f64);
    }
    if d.count == 0 {
        return None;
    }
    match stat {
        "min" => Some(d.min),
        "mean" => Some(d.mean),
        "max" => Some(d.max),
        "p50" => Some(d.p50),
        "p90" => Some(d.p90),
        "p99" => Some(d.p99),
        "p999" | "p99.9" => Some(d.p999),
        "p75" => d.quantile(0.75),
        "p95" => d.quantile(0.95),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::report::Report;

    fn report_with_round_trips(values_us: &[u64], failed: u64) -> Report {
        let mut totals = crate::measure::stats::Totals::default();
        for value in values_us {
            totals.round_trips.record_micros(*value);
        }
        totals.checks.insert(
            "echo".into(),
            crate::measure::stats::CheckCount {
                passed: 999,
                failed: 1,
            },
        );
        let counters = crate::measure::counters::CounterValues {
            attempted: 100,
            established: 100,
            failed,
            ..Default::default()
        };
        let run = crate::results::report::RunInfo {
            elapsed_s: 1.0,
            connections: 100,
            ..Default::default()
        };
        Report::build(
            Default::default(),
            run,
            counters,
            &totals,
            crate::measure::process::ProcessStats::default(),
        )
    }

    #[test]
    fn evaluation_on_results() -> Result<(), String> {
        // 99 fast round trips and one slow one: p99 is fast, max is slow.
        let mut values = vec![1_000u64; 99];
        values.push(80_000);
        let report = report_with_round_trips(&values, 1);
        let holds = |rule: &str| {
            Threshold::parse(rule, false).map(|t| evaluate(&t, &report.figures()).passed)
        };
        assert!(holds("round_trip p99 < 50ms")?);
        assert!(!holds("round_trip max < 50ms")?);
        assert!(holds("checks pass_rate >= 99.9%")?);
        assert!(!holds("checks pass_rate == 100%")?);
        assert!(!holds("connections failure_rate < 0.1%")?);
        assert!(holds("connections failure_rate <= 1%")?);
        let outcome = evaluate(
            &Threshold::parse("metric missing p95 < 5", false)?,
            &report.figures(),
        );
        assert!(
            !outcome.passed && outcome.actual.starts_with("no data"),
            "{outcome:?}"
        );
        let outcome = evaluate(
            &Threshold::parse("round_trip max < 50ms", false)?,
            &report.figures(),
        );
        // `max` is the exact value, kept beside the histogram (its bucket's upper bound is 80.06ms).
        assert_eq!(outcome.actual, "80.00ms");
        Ok(())
    }

    #[test]
    fn a_latency_is_judged_by_name_and_an_unrecorded_one_is_no_data() -> Result<(), String> {
        let mut totals = crate::measure::stats::Totals::default();
        let deliver = totals.latency.entry("deliver".into()).or_default();
        for value in [0u64, 2_000, 3_000, 40_000] {
            deliver.record_micros(value);
        }
        let report = Report::build(
            Default::default(),
            Default::default(),
            Default::default(),
            &totals,
            crate::measure::process::ProcessStats::default(),
        );
        let judged =
            |rule: &str| Threshold::parse(rule, false).map(|t| evaluate(&t, &report.figures()));
        assert!(judged("latency{deliver} p50 < 5ms")?.passed);
        assert!(!judged("latency{deliver} max < 30ms")?.passed);
        assert!(judged("latency{deliver} count == 4")?.passed);
        let missing = judged("latency{delivered} p99 < 50ms")?;
        assert!(!missing.passed);
        assert!(
            missing.actual.contains("no latency named `delivered`"),
            "{missing:?}"
        );
        // A latency is not a round trip of the same name.
        assert!(!judged("round_trip{deliver} p99 < 50ms")?.passed);
        Ok(())
    }
}
