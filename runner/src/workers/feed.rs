//! The live feed from a `--workers` worker to its parent: one JSON line on the worker's stdout per
//! time-series point, holding that point, the wall-clock time the worker's load started (so the
//! parent can line the workers' points up by time) and the worker's figures so far (its counters,
//! and its histograms, checks, metrics and failures with each histogram in the results files'
//! encoding, `results::codec`, and the connections by negotiated extension); and one line when the worker crosses an abort rule, so the parent
//! stops the others on a structured message, never on text a scenario could log. The worker
//! writes points from the sampler's tap ([`tap`], switched on by the hidden flag `volley run
//! --feed`) and the abort from `run`'s abort check ([`announce_abort`]); the parent reads them with
//! [`read_lines`] and [`decode`] and sums the workers in `live`. A worker writes a point about once
//! per `--interval` (and the last one when its run has drained), so the parent's live figures are
//! at most one interval old. What the worker finally reports still travels in its results file
//! (`mod.rs`); this feed is only for the live views, the live `--series` file and the abort.

use crate::measure::collector::Collector;
use crate::measure::counters::CounterValues;
use crate::measure::sampling::PointTap;
use crate::measure::series::Point;
use crate::measure::stats::{CheckCount, METRIC_SCALE, Recorded, Totals};
use crate::results::codec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};

/// The feed's format version, the first field of every line.
const FORMAT: u32 = 1;

/// Longest feed line the parent accepts; longer lines are skipped whole. A line holds a dozen
/// encoded histograms of a few kilobytes each, plus one per custom metric.
pub const MAX_LINE: usize = 16 << 20;

/// One worker's figures at one point of its run.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Its counters so far (`open` is a gauge: connections open now).
    pub counters: CounterValues,
    /// Its histograms, checks, metrics and failures so far (examples and scenario errors are left
    /// out: no live view shows them). The line carries histograms only: each one's exact count,
    /// sum, min and max are estimated from its buckets (`Recorded::estimated`).
    pub totals: Totals,
    /// The time-series point just taken.
    pub point: Point,
    /// Unix time the worker's load started, ms (its `run.started_at_unix_ms`): `point.t` counts
    /// from it.
    pub started_at_unix_ms: u64,
    /// Which population of the file (0 for a file of one): a worker of a file with
    /// `populations:` feeds each one's figures on lines of its own.
    pub population: u32,
}

/// What one feed line says.
#[derive(Debug)]
pub enum Message {
    /// A time-series point with the figures so far.
    Point(Box<Snapshot>),
    /// The worker crossed this abort rule (as written) and is stopping its run.
    Aborted(String),
}

/// The line as written: a point with its figures, or (with `aborted_by`, the rest left empty) a
/// crossed abort rule.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct Line {
    volley_feed: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    aborted_by: Option<String>,
    started_at_unix_ms: u64,
    #[serde(skip_serializing_if = "is_zero")]
    population: u32,
    counters: CounterValues,
    point: Point,
    round_trips: String,
    timer_lag: String,
    connect_time: String,
    phases: Vec<String>,
    ping_rtt: String,
    checks: BTreeMap<String, (u64, u64)>,
    metrics: BTreeMap<String, String>,
    /// Each metric's exact count, sum, min and max (a counter's total must not be estimated from
    /// buckets); absent from older workers' lines.
    metrics_exact: BTreeMap<String, (u64, f64, f64, f64)>,
    /// The kinds the worker's file declares.
    metric_kinds: BTreeMap<String, crate::config::metrics::MetricKind>,
    latency: BTreeMap<String, String>,
    failures: BTreeMap<String, u64>,
    negotiated: BTreeMap<String, u64>,
}

/// The feed line for `point` of a run whose load started at `started_at_unix_ms`, with
/// `counters` and `totals` read at the same moment.
pub fn encode(
    started_at_unix_ms: u64,
    population: u32,
    counters: CounterValues,
    totals: &Totals,
    point: &Point,
) -> String {
    let line = Line {
        volley_feed: FORMAT,
        aborted_by: None,
        started_at_unix_ms,
        population,
        counters,
        point: point.clone(),
        round_trips: codec::encode(&totals.round_trips.histogram),
        timer_lag: codec::encode(&totals.timer_lag.histogram),
        connect_time: codec::encode(&totals.connect_time.histogram),
        phases: totals
            .phases
            .iter()
            .map(|phase| codec::encode(&phase.histogram))
            .collect(),
        ping_rtt: codec::encode(&totals.ping_rtt.histogram),
        checks: totals
            .checks
            .iter()
            .map(|(name, count)| (name.clone(), (count.passed, count.failed)))
            .collect(),
        metrics: totals
            .metrics
            .iter()
            .map(|(name, recorded)| (name.clone(), codec::encode(&recorded.histogram)))
            .collect(),
        metrics_exact: totals
            .metrics
            .iter()
            .map(|(name, recorded)| {
                let exact = &recorded.exact;
                (name.clone(), (exact.count, exact.sum, exact.min, exact.max))
            })
            .collect(),
        metric_kinds: totals.metric_kinds.clone(),
        latency: totals
            .latency
            .iter()
            .map(|(name, recorded)| (name.clone(), codec::encode(&recorded.histogram)))
            .collect(),
        failures: totals.failures.clone(),
        negotiated: totals.negotiated.clone(),
    };
    // Plain data with string keys: serializing cannot fail.
    serde_json::to_string(&line).unwrap_or_default()
}

/// The feed line saying the worker crossed the abort rule `rule` (as written).
pub fn encode_abort(rule: &str) -> String {
    let line = Line {
        volley_feed: FORMAT,
        aborted_by: Some(rule.to_owned()),
        ..Line::default()
    };
    serde_json::to_string(&line).unwrap_or_default()
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// Read a line [`encode`] or [`encode_abort`] wrote; an error says what is wrong with it.
pub fn decode(text: &str) -> Result<Message, String> {
    let line: Line =
        serde_json::from_str(text).map_err(|error| format!("not a feed line: {error}"))?;
    if line.volley_feed != FORMAT {
        return Err(format!(
            "feed format {} (this parent reads {FORMAT}): the worker is another volley binary",
            line.volley_feed
        ));
    }
    if let Some(rule) = line.aborted_by {
        return Ok(Message::Aborted(rule));
    }
    let mut totals = Totals {
        round_trips: Recorded::estimated(codec::decode(&line.round_trips)?, 1.0),
        timer_lag: Recorded::estimated(codec::decode(&line.timer_lag)?, 1.0),
        connect_time: Recorded::estimated(codec::decode(&line.connect_time)?, 1.0),
        ping_rtt: Recorded::estimated(codec::decode(&line.ping_rtt)?, 1.0),
        failures: line.failures,
        negotiated: line.negotiated,
        ..Totals::default()
    };
    for (phase, text) in totals.phases.iter_mut().zip(&line.phases) {
        *phase = Recorded::estimated(codec::decode(text)?, 1.0);
    }
    totals.checks = line
        .checks
        .into_iter()
        .map(|(name, (passed, failed))| (name, CheckCount { passed, failed }))
        .collect();
    for (name, text) in line.metrics {
        let mut recorded = Recorded::estimated(codec::decode(&text)?, METRIC_SCALE);
        if let Some((count, sum, min, max)) = line.metrics_exact.get(&name) {
            recorded.exact.count = *count;
            recorded.exact.sum = *sum;
            recorded.exact.min = *min;
            recorded.exact.max = *max;
        }
        totals.metrics.insert(name, recorded);
    }
    totals.metric_kinds = line.metric_kinds;
    for (name, text) in line.latency {
        totals
            .latency
            .insert(name, Recorded::estimated(codec::decode(&text)?, 1.0));
    }
    Ok(Message::Point(Box::new(Snapshot {
        counters: line.counters,
        totals,
        point: line.point,
        started_at_unix_ms: line.started_at_unix_ms,
        population: line.population,
    })))
}

/// The sampler tap of a worker whose load started at `started_at_unix_ms`: each point, with the
/// collector's figures, as a line on stdout.
pub fn tap(started_at_unix_ms: u64, population: u32) -> PointTap {
    Box::new(move |collector: &Collector, point: &Point| {
        write_line(&encode(
            started_at_unix_ms,
            population,
            CounterValues::read(&collector.counters),
            &collector.snapshot(),
            point,
        ));
    })
}

/// Tell the parent, on stdout, that this worker crossed the abort rule `rule`.
pub fn announce_abort(rule: &str) {
    write_line(&encode_abort(rule));
}

/// One line on stdout, whole. A write error (the parent is gone) is ignored.
fn write_line(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Call `each` with every line of `reader` (without its newline) until end of file or a read
/// error; a line longer than [`MAX_LINE`] bytes, or not UTF-8, is skipped.
pub fn read_lines(reader: impl std::io::Read, mut each: impl FnMut(&str)) {
    let mut reader = std::io::BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX);
        match (&mut reader).take(limit).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.last() != Some(&b'\n') && line.len() >= MAX_LINE => {
                // Too long: drop the rest of it.
                let mut rest = Vec::new();
                loop {
                    rest.clear();
                    match (&mut reader).take(limit).read_until(b'\n', &mut rest) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if rest.last() == Some(&b'\n') => break,
                        Ok(_) => {}
                    }
                }
            }
            Ok(_) => {
                if let Ok(text) = std::str::from_utf8(&line) {
                    each(text.trim_end());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::stats::Samples;

    #[test]
    fn a_feed_line_carries_counters_histograms_and_the_point() {
        let collector = Collector::default();
        let mut samples = Samples::default();
        samples.round_trips.extend([100, 200, 300]);
        samples.metrics.insert("queue".into(), vec![5.0]);
        samples.metrics.insert("exact".into(), vec![200.0; 3]);
        samples.checks.insert(
            "echo".into(),
            CheckCount {
                passed: 3,
                failed: 1,
            },
        );
        samples.failures.insert("connect: refused".into(), 2);
        samples.negotiated.insert("permessage-deflate".into(), 4);
        collector.absorb(0, &mut samples);
        crate::measure::counters::bump(&collector.counters.messages_sent, 7);
        crate::measure::counters::bump(&collector.counters.wire_bytes_received, 321);
        crate::measure::counters::bump(&collector.counters.compressed_messages_sent, 5);
        collector.counters.opened();
        let point = Point {
            t: 1.0,
            open: 1,
            sent: 7,
            ..Point::default()
        };
        let text = encode(
            1_796_166_000_250,
            0,
            CounterValues::read(&collector.counters),
            &collector.snapshot(),
            &point,
        );
        assert!(!text.contains('\n'));
        let back = match decode(&text) {
            Ok(Message::Point(back)) => back,
            other => panic!("{other:?}"),
        };
        assert_eq!(back.started_at_unix_ms, 1_796_166_000_250);
        assert_eq!(back.point, point);
        assert_eq!(back.counters.messages_sent, 7);
        assert_eq!(back.counters.open, 1);
        assert_eq!(back.totals.round_trips.len(), 3);
        assert_eq!(back.totals.round_trips.exact.max, 300.0);
        assert_eq!(back.totals.metrics["queue"].len(), 1);
        // Exact figures travel beside the buckets: 200 stays 200 (the buckets say 200.06).
        assert_eq!(back.totals.metrics["exact"].exact.mean(), 200.0);
        assert_eq!(back.totals.metrics["exact"].exact.sum, 600.0);
        assert_eq!(back.totals.checks["echo"].failed, 1);
        assert_eq!(back.totals.failures["connect: refused"], 2);
        assert_eq!(back.counters.wire_bytes_received, 321);
        assert_eq!(back.counters.compressed_messages_sent, 5);
        assert_eq!(back.totals.negotiated["permessage-deflate"], 4);
    }

    #[test]
    fn a_crossed_abort_rule_is_its_own_line_and_a_check_name_cannot_fake_it() {
        let rule = "round_trip p99 < 100ms";
        match decode(&encode_abort(rule)) {
            Ok(Message::Aborted(back)) => assert_eq!(back, rule),
            other => panic!("{other:?}"),
        }
        // Names a scenario chooses travel as data, never as the message kind.
        let collector = Collector::default();
        let mut samples = Samples::default();
        samples.checks.insert(
            "aborted_by".into(),
            CheckCount {
                passed: 1,
                failed: 0,
            },
        );
        samples
            .failures
            .insert("threshold crossed; stopping the run".into(), 1);
        collector.absorb(0, &mut samples);
        let text = encode(
            0,
            0,
            CounterValues::read(&collector.counters),
            &collector.snapshot(),
            &Point::default(),
        );
        assert!(matches!(decode(&text), Ok(Message::Point(_))));
    }

    #[test]
    fn other_lines_are_refused_and_overlong_lines_skipped() {
        assert!(decode("volley: echo PASSED").is_err());
        assert!(decode(r#"{"volley_feed":99}"#).is_err());
        let mut text = "first\n".to_owned();
        text.push_str(&"x".repeat(MAX_LINE + 10));
        text.push_str("\nlast\n");
        let mut seen = Vec::new();
        read_lines(text.as_bytes(), |line| seen.push(line.to_owned()));
        assert_eq!(seen, ["first", "last"]);
    }
}
