//! The time series: every interval (1 s by default) one [`Point`] with the figures of that interval
//! — open connections, messages sent/received, round-trip percentiles, failures by reason — kept
//! for the final report and, with `--series FILE`, appended to a JSON-lines (or `.csv`) file as the
//! run goes, so a crash or Ctrl-C loses at most one interval. Reads the live counters and the
//! collector's interval histogram; the sampling task lives in `sampling`.

use crate::measure::collector::Collector;
use crate::measure::counters::read;
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
}

const CSV_HEADER: &str = "t,open,sent,received,round_trips,rtt_p50_us,rtt_p90_us,rtt_p99_us,rtt_max_us,timer_lag_p99_us,failed,errors";

impl SeriesFile {
    /// Create (truncate) `path`.
    pub fn create(path: &Path) -> std::io::Result<SeriesFile> {
        let mut file = std::fs::File::create(path)?;
        let csv = path.extension().is_some_and(|extension| extension == "csv");
        if csv {
            writeln!(file, "{CSV_HEADER}")?;
        }
        Ok(SeriesFile {
            path: path.to_owned(),
            file,
            csv,
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
            format!(
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
            )
        } else {
            serde_json::to_string(point).map_err(std::io::Error::other)?
        };
        writeln!(self.file, "{line}")?;
        self.file.flush()
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
}
