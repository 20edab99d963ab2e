//! [`Recorder`]: one connection's private measurements. Hot-path recording touches only this
//! struct (no locks, no histograms); it flushes into the shared [`Collector`] every 64 samples (or [`FLUSH_AGE`])
//! and when dropped, so a connection that ends any way at all (even aborted) loses nothing.

use crate::measure::collector::Collector;
use crate::measure::counters::bump;
use crate::measure::reasons;
use crate::measure::stats::{METRIC_SCALE, Samples};
use std::sync::Arc;
use std::time::Duration;

const FLUSH_AT: usize = 64;

/// Longest a sample waits in a connection before it reaches the collector.
pub const FLUSH_AGE: Duration = Duration::from_millis(250);

/// Per-connection measurements, flushed on drop.
#[derive(Debug)]
pub struct Recorder {
    vu: u32,
    collector: Arc<Collector>,
    samples: Samples,
    held: usize,
    first_held: Option<std::time::Instant>,
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
    /// A recorder for VU `vu` flushing into `collector`.
    pub fn new(vu: u32, collector: Arc<Collector>) -> Self {
        Recorder {
            vu,
            collector,
            samples: Samples::default(),
            held: 0,
            first_held: None,
            failed: false,
        }
    }

    /// The shared collector (for live counters).
    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// When the oldest unflushed sample was recorded; the connection flushes it within
    /// [`FLUSH_AGE`] so the time series sees it in the right interval.
    pub fn flush_due(&self) -> Option<std::time::Instant> {
        self.first_held.map(|first| first + FLUSH_AGE)
    }

    fn added(&mut self) {
        if self.held == 0 {
            self.first_held = Some(std::time::Instant::now());
        }
        self.held += 1;
        if self.held >= FLUSH_AT {
            self.flush();
        }
    }

    /// A completed request's round trip, in the total and, when `name` is not empty, under its
    /// name.
    pub fn round_trip(&mut self, name: &str, elapsed: Duration) {
        let value = micros(elapsed);
        self.samples.round_trips.push(value);
        if !name.is_empty() {
            match self.samples.round_trips_by_name.get_mut(name) {
                Some(values) => values.push(value),
                None => {
                    self.samples
                        .round_trips_by_name
                        .insert(name.to_owned(), vec![value]);
                }
            }
        }
        bump(&self.collector.counters.round_trips, 1);
        self.added();
    }

    /// How late a timer callback ran.
    pub fn timer_lag(&mut self, lag: Duration) {
        self.samples.timer_lag.push(micros(lag));
        self.added();
    }

    /// Time to connect (DNS + TCP + TLS + upgrade).
    pub fn connect_time(&mut self, elapsed: Duration) {
        self.samples.connect_time.push(micros(elapsed));
        self.added();
    }

    /// How long a connect phase took.
    pub fn phase(&mut self, phase: crate::measure::stats::Phase, elapsed: Duration) {
        self.samples.phases[phase as usize].push(micros(elapsed));
        self.added();
    }

    /// A ping's round trip.
    pub fn ping_rtt(&mut self, elapsed: Duration) {
        self.samples.ping_rtt.push(micros(elapsed));
        self.added();
    }

    /// A check's outcome.
    pub fn check(&mut self, name: &str, ok: bool) {
        let count = match self.samples.checks.get_mut(name) {
            Some(count) => count,
            None => self.samples.checks.entry(name.to_owned()).or_default(),
        };
        if ok {
            count.passed += 1;
        } else {
            count.failed += 1;
        }
        self.added();
    }

    /// A custom metric value; negative and non-finite values are recorded as 0.
    pub fn metric(&mut self, name: &str, value: f64) {
        let scaled = if value.is_finite() && value > 0.0 {
            (value * METRIC_SCALE).round() as u64
        } else {
            0
        };
        match self.samples.metrics.get_mut(name) {
            Some(values) => values.push(scaled),
            None => {
                self.samples.metrics.insert(name.to_owned(), vec![scaled]);
            }
        }
        self.added();
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
        *self.samples.failures.entry(reason.clone()).or_default() += 1;
        self.samples.examples.entry(reason).or_insert(example);
        bump(&self.collector.counters.failed, 1);
        self.added();
    }

    /// Whether this connection has already been counted as failed.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// The scenario trapped with `message` (counted under its stable reason).
    pub fn scenario_error(&mut self, message: &str) {
        let (reason, example) = reasons::stable(message);
        *self
            .samples
            .scenario_errors
            .entry(reason.clone())
            .or_default() += 1;
        self.samples.examples.entry(reason).or_insert(example);
        self.added();
    }

    /// Merge what was recorded so far into the collector.
    pub fn flush(&mut self) {
        if self.held > 0 {
            self.collector.absorb(self.vu, &mut self.samples);
            self.held = 0;
            self.first_held = None;
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}
