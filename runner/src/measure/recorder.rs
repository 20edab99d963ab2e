//! [`Recorder`]: one connection's handle for recording measurements. A sample goes into the sample
//! buffer of the thread the connection started on (see `collector`): an uncontended lock and a
//! push, no histogram, no timer and no wake-up per connection; the collector gathers the buffers
//! whenever it is read (every time-series interval and at the end), so a connection that ends any
//! way at all (even aborted) loses nothing. The recorder also remembers whether its connection has
//! been counted as failed, so a connection fails once.

use crate::config::metrics::MetricKind;
use crate::measure::collector::{Buffer, Collector, lock};
use crate::measure::counters::bump;
use crate::measure::reasons;
use crate::measure::stats::Samples;
use std::sync::Arc;
use std::time::Duration;

/// A buffer holding this many samples is gathered at once by the thread that fills it, so a
/// buffer stays small however long the interval.
const GATHER_AT: usize = 65_536;

/// Per-connection recording handle.
#[derive(Debug)]
pub struct Recorder {
    vu: u32,
    collector: Arc<Collector>,
    buffer: Buffer,
    /// Set by the first failure: a connection is counted as failed once.
    failed: bool,
}

/// Whole microseconds, at least 1 (HDR histograms start at 1).
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl Recorder {
    /// A recorder for VU `vu` recording into `collector` through this thread's buffer.
    pub fn new(vu: u32, collector: Arc<Collector>) -> Self {
        let buffer = Collector::buffer(&collector);
        Recorder {
            vu,
            collector,
            buffer,
            failed: false,
        }
    }

    /// The shared collector (for live counters).
    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// Record into the buffer.
    fn record(&self, add: impl FnOnce(&mut Samples)) {
        let mut samples = lock(&self.buffer);
        add(&mut samples);
        samples.held += 1;
        if samples.held >= GATHER_AT {
            self.collector.absorb(self.vu, &mut samples);
        }
    }

    /// A request's round trip (completed, or censored at its deadline), in the total and, when
    /// `name` is not empty, under its name.
    pub fn round_trip(&mut self, name: &str, elapsed: Duration) {
        let value = micros(elapsed);
        self.record(|samples| {
            samples.round_trips.push(value);
            if !name.is_empty() {
                match samples.round_trips_by_name.get_mut(name) {
                    Some(values) => values.push(value),
                    None => {
                        samples
                            .round_trips_by_name
                            .insert(name.to_owned(), vec![value]);
                    }
                }
            }
        });
        bump(&self.collector.counters.round_trips, 1);
    }

    /// A delivery latency of the kind `name`, µs as measured (0 for a stamp in the future).
    pub fn latency(&mut self, name: &str, micros: u64) {
        self.record(|samples| match samples.latency.get_mut(name) {
            Some(values) => values.push(micros),
            None => {
                samples.latency.insert(name.to_owned(), vec![micros]);
            }
        });
    }

    /// How late a timer callback ran.
    pub fn timer_lag(&mut self, lag: Duration) {
        self.record(|samples| samples.timer_lag.push(micros(lag)));
    }

    /// How late an arrival started.
    pub fn arrival_lag(&mut self, lag: Duration) {
        self.record(|samples| samples.arrival_lag.push(micros(lag)));
    }

    /// Time to connect (DNS + TCP + TLS + upgrade).
    pub fn connect_time(&mut self, elapsed: Duration) {
        self.record(|samples| samples.connect_time.push(micros(elapsed)));
    }

    /// How long a connect phase took.
    pub fn phase(&mut self, phase: crate::measure::stats::Phase, elapsed: Duration) {
        self.record(|samples| samples.phases[phase as usize].push(micros(elapsed)));
    }

    /// A ping's round trip.
    pub fn ping_rtt(&mut self, elapsed: Duration) {
        self.record(|samples| samples.ping_rtt.push(micros(elapsed)));
    }

    /// A check's outcome.
    pub fn check(&mut self, name: &str, ok: bool) {
        self.record(|samples| {
            let count = match samples.checks.get_mut(name) {
                Some(count) => count,
                None => samples.checks.entry(name.to_owned()).or_default(),
            };
            if ok {
                count.passed += 1;
            } else {
                count.failed += 1;
            }
        });
    }

    /// A custom metric value, as given: every finite value is recorded (see
    /// `recorded::Recorded::record_metric`); NaN and infinities are counted as refused. A value of
    /// a metric declared as a `rate` is recorded as 1 (true, ≠ 0) or 0 (false), so its sum is
    /// the count of true values wherever it is merged.
    pub fn metric(&mut self, name: &str, value: f64) {
        let value = match self.collector.metric_kinds.get(name) {
            Some(MetricKind::Rate) if value.is_finite() => MetricKind::truth(value),
            _ => value,
        };
        self.record(|samples| match samples.metrics.get_mut(name) {
            Some(values) => values.push(value),
            None => {
                samples.metrics.insert(name.to_owned(), vec![value]);
            }
        });
    }

    /// The connection failed for `reason`. A connection fails once: later failures of the same
    /// connection (a close timeout after an iteration timeout) are not counted again.
    pub fn failure(&mut self, reason: &str) {
        let (reason, example) = reasons::stable(reason);
        self.failure_with(&reason, &example);
    }

    /// The connection failed for the stable `reason`; `detail` says what exactly happened (one
    /// example per reason is kept for the report).
    pub fn failure_with(&mut self, reason: &str, detail: &str) {
        if self.failed {
            return;
        }
        self.failed = true;
        let reason = reasons::cap(reason, reasons::MAX_REASON_BYTES);
        let example = reasons::cap(detail, reasons::MAX_DETAIL_BYTES);
        self.record(|samples| {
            *samples.failures.entry(reason.clone()).or_default() += 1;
            samples.examples.entry(reason).or_insert(example);
        });
        bump(&self.collector.counters.failed, 1);
    }

    /// The connection opened having negotiated `extension`: the stable text of what the server
    /// accepted (e.g. `permessage-deflate client_max_window_bits=15 server_max_window_bits=15`),
    /// or [`crate::measure::stats::NO_EXTENSION`] when it accepted none. Called once per opened connection; counted by
    /// text, with a bounded number of distinct texts (as failure reasons are).
    pub fn negotiated(&mut self, extension: &str) {
        let extension = reasons::cap(extension, reasons::MAX_REASON_BYTES);
        self.record(|samples| *samples.negotiated.entry(extension).or_default() += 1);
    }

    /// Whether this connection has already been counted as failed.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// The scenario trapped with `message` (counted under its stable reason).
    pub fn scenario_error(&mut self, message: &str) {
        let (reason, example) = reasons::stable(message);
        self.record(|samples| {
            *samples.scenario_errors.entry(reason.clone()).or_default() += 1;
            samples.examples.entry(reason).or_insert(example);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::stats::NO_EXTENSION;

    #[test]
    fn each_connection_counts_under_what_it_negotiated() {
        let collector = Arc::new(Collector::default());
        let deflate = "permessage-deflate client_max_window_bits=15 server_max_window_bits=15";
        for vu in 0..5 {
            let mut recorder = Recorder::new(vu, collector.clone());
            recorder.negotiated(if vu < 3 { deflate } else { NO_EXTENSION });
        }
        let long = "x".repeat(1000);
        Recorder::new(9, collector.clone()).negotiated(&long);
        let totals = collector.snapshot();
        assert_eq!(totals.negotiated[deflate], 3);
        assert_eq!(totals.negotiated[NO_EXTENSION], 2);
        assert_eq!(totals.negotiated.len(), 3);
        assert!(
            totals
                .negotiated
                .keys()
                .all(|text| text.len() <= reasons::MAX_REASON_BYTES)
        );
    }
}
