//! [`Collector`]: the run-wide sink of measurements — one sample buffer per thread that records
//! (connections' recorders push into their thread's buffer: an uncontended lock, no wake-up of
//! their own), a few mutex-protected [`Totals`] shards the buffers are gathered into whenever
//! someone reads (the sampler every interval, the live endpoint, the end of the run), the live
//! [`Counters`], and the per-interval round trips, timer lag and failures the time series takes.
//! The recording calls live in `recorder`, not here.

use crate::config::metrics::MetricKind;
use crate::measure::counters::Counters;
use crate::measure::stats::{Recorded, Samples, Totals, new_histogram};
use hdrhistogram::Histogram;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

const SHARDS: usize = 8;

/// Where connections' measurements go: per-thread sample buffers, gathered on read into a few
/// mutex-protected [`Totals`] shards.
#[derive(Debug)]
pub struct Collector {
    shards: Vec<Mutex<Totals>>,
    /// Raw samples, one buffer per recording thread; gathered into `shards` by [`Collector::gather`].
    buffers: Mutex<Vec<Buffer>>,
    /// Live counters.
    pub counters: Counters,
    /// Round trips, timer lag and failures since the last [`Collector::take_interval`] (for the
    /// time series).
    interval: Mutex<Interval>,
    /// The kinds of the metrics the file declares (`metrics:`): a rate's values are recorded as
    /// 1 or 0, and the totals carry the kinds to the report.
    pub metric_kinds: BTreeMap<String, MetricKind>,
}

/// Distinct custom metrics an interval (a time-series point) holds; further names are left out
/// of the series (they are all in the totals).
pub const MAX_SERIES_METRICS: usize = 32;

/// What the time series takes per interval besides the counters.
#[derive(Debug)]
pub struct Interval {
    /// Round trips flushed in the interval, µs.
    pub round_trips: Histogram<u64>,
    /// Timer lag flushed in the interval, µs.
    pub timer_lag: Histogram<u64>,
    /// Failures by reason.
    pub failures: BTreeMap<String, u64>,
    /// Custom metric values recorded in the interval, by name (at most [`MAX_SERIES_METRICS`]).
    pub metrics: BTreeMap<String, Recorded>,
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            round_trips: new_histogram(),
            timer_lag: new_histogram(),
            failures: BTreeMap::new(),
            metrics: BTreeMap::new(),
        }
    }
}

impl Default for Collector {
    fn default() -> Self {
        Collector {
            shards: (0..SHARDS).map(|_| Mutex::new(Totals::default())).collect(),
            buffers: Mutex::new(Vec::new()),
            counters: Counters::default(),
            interval: Mutex::new(Interval::default()),
            metric_kinds: BTreeMap::new(),
        }
    }
}

/// One thread's raw samples for one collector.
pub type Buffer = Arc<Mutex<Samples>>;

thread_local! {
    /// This thread's buffers, one per live collector (tests run several runs in one process).
    static BUFFERS: RefCell<Vec<(Weak<Collector>, Buffer)>> = const { RefCell::new(Vec::new()) };
}

/// Lock `mutex`, taking the data of a poisoned one (a panic elsewhere must not lose measurements).
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Collector {
    /// A collector for a file that declares `kinds` under `metrics:`.
    pub fn with_metric_kinds(kinds: BTreeMap<String, MetricKind>) -> Collector {
        Collector {
            metric_kinds: kinds,
            ..Collector::default()
        }
    }

    /// The calling thread's sample buffer for `collector`, created on first use.
    pub fn buffer(collector: &Arc<Collector>) -> Buffer {
        BUFFERS.with(|buffers| {
            let mut buffers = buffers.borrow_mut();
            if let Some((_, buffer)) = buffers
                .iter()
                .find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(collector)))
            {
                return buffer.clone();
            }
            buffers.retain(|(owner, _)| owner.strong_count() > 0);
            let buffer = Buffer::default();
            lock(&collector.buffers).push(buffer.clone());
            buffers.push((Arc::downgrade(collector), buffer.clone()));
            buffer
        })
    }

    /// Move every thread's buffered samples into the totals (and the interval).
    pub fn gather(&self) {
        let buffers: Vec<Buffer> = lock(&self.buffers).clone();
        for (index, buffer) in buffers.iter().enumerate() {
            let mut taken = std::mem::take(&mut *lock(buffer));
            if !taken.is_empty() {
                self.absorb(index as u32, &mut taken);
            }
        }
    }

    /// Move `samples` into the shard for `vu`, leaving `samples` empty.
    pub fn absorb(&self, vu: u32, samples: &mut Samples) {
        if !samples.round_trips.is_empty()
            || !samples.timer_lag.is_empty()
            || !samples.failures.is_empty()
            || !samples.metrics.is_empty()
        {
            let mut interval = match self.interval.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            for value in &samples.round_trips {
                let _ = interval.round_trips.record(*value);
            }
            for value in &samples.timer_lag {
                let _ = interval.timer_lag.record(*value);
            }
            for (reason, count) in &samples.failures {
                *interval.failures.entry(reason.clone()).or_default() += count;
            }
            for (name, values) in &samples.metrics {
                let held = interval.metrics.len();
                let recorded = match interval.metrics.get_mut(name) {
                    Some(recorded) => recorded,
                    None if held < MAX_SERIES_METRICS => {
                        interval.metrics.entry(name.clone()).or_default()
                    }
                    None => continue,
                };
                for value in values {
                    recorded.record_metric(*value);
                }
            }
        }
        let shard = &self.shards[vu as usize % SHARDS];
        match shard.lock() {
            Ok(mut guard) => samples.drain_into(&mut guard),
            Err(poisoned) => samples.drain_into(&mut poisoned.into_inner()),
        }
    }

    /// Round trips, timer lag and failures flushed since the last call, and reset.
    pub fn take_interval(&self) -> Interval {
        self.gather();
        let mut interval = match self.interval.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        std::mem::take(&mut *interval)
    }

    /// Everything flushed so far, merged.
    pub fn snapshot(&self) -> Totals {
        self.gather();
        let mut all = Totals {
            metric_kinds: self.metric_kinds.clone(),
            ..Totals::default()
        };
        for shard in &self.shards {
            match shard.lock() {
                Ok(guard) => all.merge(&guard),
                Err(poisoned) => all.merge(&poisoned.into_inner()),
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_sums_shards() {
        let collector = Collector::default();
        for vu in 0..20 {
            let mut one = Samples::default();
            one.failures.insert("connect: refused".into(), 1);
            one.round_trips.push(u64::from(vu) + 1);
            collector.absorb(vu, &mut one);
            assert!(one.is_empty());
        }
        let totals = collector.snapshot();
        assert_eq!(totals.failures["connect: refused"], 20);
        assert_eq!(totals.round_trips.len(), 20);
        assert_eq!(totals.round_trips.exact.max, 20.0);
    }
}
