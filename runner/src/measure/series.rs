//! The time series: every interval (1 s by default) one [`Point`] with the figures of that interval
//! — open connections, messages sent/received, round-trip percentiles, failures by reason — kept
//! for the final report and, with `--series FILE`, appended to a JSON-lines (or `.csv`) file as the
//! run goes, so a crash or Ctrl-C loses at most one interval. Reads the live counters and the
//! collector's interval histogram; the sampling task lives in `sampling`.

use crate::config::metrics::MetricKind;
use crate::measure::collector::Collector;
use crate::measure::counters::read;
use crate::measure::recorded::{METRIC_SCALE, Recorded};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// All points of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Series {
    /// Seconds per point.
    pub interval_s: f64,
    /// One point per interval, in order.
    pub points: Vec<Point>,
}

/// The figures of one interval (counts are per interval, `open` is at its end).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Point {
    /// Seconds since the run started, at the interval's end.
    pub t: f64,
    /// Connections open at the end of the interval.
    pub open: u64,
    /// Data messages sent in the interval.
    pub sent: u64,
    /// Data messages received in the interval.
    pub received: u64,
    /// Round trips completed in the interval.
    pub round_trips: u64,
    /// Round-trip median in the interval, µs (null without round trips).
    pub rtt_p50: Option<f64>,
    /// 90th percentile, µs.
    pub rtt_p90: Option<f64>,
    /// 99th percentile, µs.
    pub rtt_p99: Option<f64>,
    /// Largest, µs.
    pub rtt_max: Option<f64>,
    /// How late timer callbacks ran in the interval: 99th percentile, µs (null without timers).
    /// The generator's own health: above a few ms the runner, not the server, delayed sends.
    #[serde(default)]
    pub timer_lag_p99: Option<f64>,
    /// Connections that failed in the interval.
    pub failed: u64,
    /// Those failures by reason.
    pub errors: BTreeMap<String, u64>,
    /// Custom metrics recorded in the interval, by name (at most
    /// [`crate::measure::collector::MAX_SERIES_METRICS`] names; absent in older results).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, MetricPoint>,
}

/// One custom metric in one interval, in its own unit (ms for a `duration`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct MetricPoint {
    /// Values recorded in the interval.
    pub n: u64,
    /// Their sum: a counter's total in the interval, a rate's true values.
    pub sum: f64,
    /// Median (`duration` and `value` metrics only), the histogram bucket's lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    /// 90th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
    /// 99th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
    /// Largest (exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl MetricPoint {
    /// The point of `recorded` (one interval's values of a metric of `kind`): percentiles only
    /// for distributions.
    pub fn of(recorded: &Recorded, kind: MetricKind) -> MetricPoint {
        let exact = &recorded.exact;
        let distribution = matches!(kind, MetricKind::Duration | MetricKind::Value);
        let at = |quantile: f64| {
            (distribution && !recorded.histogram.is_empty()).then(|| {
                let histogram = &recorded.histogram;
                let bound = histogram.lowest_equivalent(histogram.value_at_quantile(quantile));
                (bound as f64 / METRIC_SCALE).clamp(exact.min, exact.max)
            })
        };
        MetricPoint {
            n: exact.count,
            sum: exact.sum,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: (distribution && exact.count > 0).then_some(exact.max),
        }
    }

    /// Add `other` (the same interval of another source): counts and sums add, percentiles and
    /// max take the larger (as the round-trip columns do).
    pub fn merge(&mut self, other: &MetricPoint) {
        self.n += other.n;
        self.sum += other.sum;
        self.p50 = larger(self.p50, other.p50);
        self.p90 = larger(self.p90, other.p90);
        self.p99 = larger(self.p99, other.p99);
        self.max = larger(self.max, other.max);
    }
}

fn larger(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Takes one point per interval from the collector.
#[derive(Debug, Default)]
pub struct Sampler {
    last_sent: u64,
    last_received: u64,
    last_round_trips: u64,
    last_failed: u64,
}

impl Sampler {
    /// The point for the interval ending now, `t` seconds into the run.
    pub fn sample(&mut self, collector: &Collector, t: f64) -> Point {
        let counters = &collector.counters;
        let sent = read(&counters.messages_sent);
        let received = read(&counters.messages_received);
        let round_trips = read(&counters.round_trips);
        let failed = read(&counters.failed);
        let interval = collector.take_interval();
        let histogram = &interval.round_trips;
        let at = |q: f64| (!histogram.is_empty()).then(|| histogram.value_at_quantile(q) as f64);
        let lag = &interval.timer_lag;
        let point = Point {
            t: (t * 1000.0).round() / 1000.0,
            open: read(&counters.open),
            sent: sent - self.last_sent,
            received: received - self.last_received,
            round_trips: round_trips - self.last_round_trips,
            rtt_p50: at(0.5),
            rtt_p90: at(0.9),
            rtt_p99: at(0.99),
            rtt_max: (!histogram.is_empty()).then(|| histogram.max() as f64),
            timer_lag_p99: (!lag.is_empty()).then(|| lag.value_at_quantile(0.99) as f64),
            failed: failed - self.last_failed,
            errors: interval.failures,
            metrics: interval
                .metrics
                .iter()
                .map(|(name, recorded)| {
                    let kind = collector
                        .metric_kinds
                        .get(name)
                        .copied()
                        .unwrap_or_default();
                    (name.clone(), MetricPoint::of(recorded, kind))
                })
                .collect(),
        };
        self.last_sent = sent;
        self.last_received = received;
        self.last_round_trips = round_trips;
        self.last_failed = failed;
        point
    }
}

/// Appends points to a file: JSON lines, or CSV when the name ends in `.csv`.
pub struct SeriesFile {
    path: PathBuf,
    file: std::fs::File,
    csv: bool,
    /// The declared metrics, whose columns follow `errors` in a CSV file.
    columns: Vec<(String, MetricKind)>,
}

const CSV_HEADER: &str = "t,open,sent,received,round_trips,rtt_p50_us,rtt_p90_us,rtt_p99_us,rtt_max_us,timer_lag_p99_us,failed,errors";

impl SeriesFile {
    /// Create (truncate) `path`; a CSV file has columns for each metric of `declared` (the file's
    /// `metrics:`, in name order) after `errors`: see [`metric_columns`].
    pub fn create_with(
        path: &Path,
        declared: &BTreeMap<String, MetricKind>,
    ) -> std::io::Result<SeriesFile> {
        let mut file = std::fs::File::create(path)?;
        let csv = path.extension().is_some_and(|extension| extension == "csv");
        let columns: Vec<(String, MetricKind)> = declared
            .iter()
            .map(|(name, kind)| (name.clone(), *kind))
            .collect();
        if csv {
            let mut header = CSV_HEADER.to_owned();
            for (name, kind) in &columns {
                for column in metric_columns(name, *kind) {
                    header.push(',');
                    header.push_str(&csv_field(&column));
                }
            }
            writeln!(file, "{header}")?;
        }
        Ok(SeriesFile {
            path: path.to_owned(),
            file,
            csv,
            columns,
        })
    }

    /// Where it writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one point and flush it to the OS.
    pub fn append(&mut self, point: &Point) -> std::io::Result<()> {
        let line = if self.csv {
            let number = |value: Option<f64>| value.map_or(String::new(), |v| v.to_string());
            let errors = point
                .errors
                .iter()
                .map(|(reason, count)| format!("{}={count}", reason.replace([',', ';', '"'], " ")))
                .collect::<Vec<_>>()
                .join(";");
            let mut line = format!(
                "{},{},{},{},{},{},{},{},{},{},{},\"{errors}\"",
                point.t,
                point.open,
                point.sent,
                point.received,
                point.round_trips,
                number(point.rtt_p50),
                number(point.rtt_p90),
                number(point.rtt_p99),
                number(point.rtt_max),
                number(point.timer_lag_p99),
                point.failed
            );
            for (name, kind) in &self.columns {
                let values = metric_values(point.metrics.get(name), *kind);
                for value in values {
                    line.push(',');
                    line.push_str(&number(value));
                }
            }
            line
        } else {
            serde_json::to_string(point).map_err(std::io::Error::other)?
        };
        writeln!(self.file, "{line}")?;
        self.file.flush()
    }
}

/// A CSV file's columns for a declared metric `name`: a `duration`'s `NAME_n`, `NAME_p50_ms`,
/// `NAME_p90_ms`, `NAME_p99_ms`, `NAME_max_ms`; a `value`'s the same without `_ms`; a
/// `counter`'s `NAME_total` (added in the interval); a `rate`'s `NAME_n` and `NAME_rate` (the
/// fraction of true values, 0–1).
pub fn metric_columns(name: &str, kind: MetricKind) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        MetricKind::Duration => &["n", "p50_ms", "p90_ms", "p99_ms", "max_ms"],
        MetricKind::Value => &["n", "p50", "p90", "p99", "max"],
        MetricKind::Counter => &["total"],
        MetricKind::Rate => &["n", "rate"],
    };
    suffixes
        .iter()
        .map(|suffix| format!("{name}_{suffix}"))
        .collect()
}

/// The values of [`metric_columns`] for one point (empty cells when nothing was recorded in it;
/// a counter's total is then 0).
fn metric_values(point: Option<&MetricPoint>, kind: MetricKind) -> Vec<Option<f64>> {
    let n = point.map(|p| p.n as f64);
    match (kind, point) {
        (MetricKind::Counter, _) => vec![Some(point.map_or(0.0, |p| p.sum))],
        (MetricKind::Rate, Some(p)) if p.n > 0 => vec![n, Some(p.sum / p.n as f64)],
        (MetricKind::Rate, _) => vec![Some(0.0), None],
        (_, Some(p)) => vec![n, p.p50, p.p90, p.p99, p.max],
        (_, None) => vec![Some(0.0), None, None, None, None],
    }
}

/// `text` as one CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::counters::bump;
    use crate::measure::stats::Samples;

    #[test]
    fn points_hold_interval_deltas_and_percentiles() {
        let collector = Collector::default();
        let mut sampler = Sampler::default();
        bump(&collector.counters.messages_sent, 10);
        let mut samples = Samples::default();
        samples.round_trips.extend([100, 200, 300, 400]);
        samples
            .failures
            .insert("connect: connection refused".into(), 2);
        collector.absorb(0, &mut samples);
        let first = sampler.sample(&collector, 1.0);
        assert_eq!(first.sent, 10);
        assert_eq!(first.rtt_max, Some(400.0));
        assert_eq!(first.errors["connect: connection refused"], 2);
        bump(&collector.counters.messages_sent, 5);
        let second = sampler.sample(&collector, 2.0);
        assert_eq!(second.sent, 5);
        assert_eq!(second.rtt_p50, None);
        assert!(second.errors.is_empty());
    }

    #[test]
    fn issue_23_points_carry_each_metric_by_kind_and_csv_columns_follow_the_declaration()
    -> std::io::Result<()> {
        let kinds: BTreeMap<String, MetricKind> = [
            ("delivery_ms", MetricKind::Duration),
            ("seen", MetricKind::Counter),
            ("ok", MetricKind::Rate),
        ]
        .into_iter()
        .map(|(name, kind)| (name.to_owned(), kind))
        .collect();
        let collector = Collector::with_metric_kinds(kinds.clone());
        let mut sampler = Sampler::default();
        let mut samples = Samples::default();
        samples
            .metrics
            .insert("delivery_ms".into(), vec![1.0, 2.0, 3.0, 40.0]);
        samples.metrics.insert("seen".into(), vec![2.0, 3.0]);
        samples.metrics.insert("ok".into(), vec![1.0, 0.0]);
        samples.metrics.insert("free".into(), vec![5.0]);
        collector.absorb(0, &mut samples);
        let point = sampler.sample(&collector, 1.0);
        let delivery = point.metrics["delivery_ms"];
        assert_eq!(
            (delivery.n, delivery.sum, delivery.max),
            (4, 46.0, Some(40.0))
        );
        assert_eq!(delivery.p50, Some(2.0));
        let seen = point.metrics["seen"];
        assert_eq!((seen.n, seen.sum, seen.p50), (2, 5.0, None));
        assert_eq!(point.metrics["free"].p50, Some(5.0));
        let empty = sampler.sample(&collector, 2.0);
        assert!(empty.metrics.is_empty());

        let path = std::env::temp_dir().join(format!("volley-series-{}.csv", std::process::id()));
        let mut file = SeriesFile::create_with(&path, &kinds)?;
        file.append(&point)?;
        file.append(&empty)?;
        let text = std::fs::read_to_string(&path)?;
        let _ = std::fs::remove_file(&path);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "{CSV_HEADER},delivery_ms_n,delivery_ms_p50_ms,delivery_ms_p90_ms,delivery_ms_p99_ms,delivery_ms_max_ms,ok_n,ok_rate,seen_total"
            )
        );
        assert!(lines[1].ends_with(",4,2,40,40,40,2,0.5,5"), "{}", lines[1]);
        assert!(lines[2].ends_with(",0,,,,,0,,0"), "{}", lines[2]);
        let columns = lines[0].split(',').count();
        assert!(lines.iter().all(|line| line.split(',').count() == columns));
        Ok(())
    }
}
