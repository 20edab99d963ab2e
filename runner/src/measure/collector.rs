//! [`Collector`]: the run-wide sink that connections' recorders flush into — a few mutex-protected
//! [`Totals`] shards chosen by VU index, the live [`Counters`], and the per-interval round trips and
//! failures the time series takes. Recording per sample lives in `recorder`, not here.

use crate::measure::counters::Counters;
use crate::measure::stats::{Samples, Totals, new_histogram};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::Mutex;

const SHARDS: usize = 8;

/// Where connections' recorders flush: a few mutex-protected [`Totals`], chosen by VU index so two
/// connections rarely contend. Locks are taken per flush (every
/// `FLUSH_AT` = 64 samples, or after `FLUSH_AGE`; see `recorder`), never per sample.
#[derive(Debug)]
pub struct Collector {
    shards: Vec<Mutex<Totals>>,
    /// Live counters.
    pub counters: Counters,
    /// Round trips and failures since the last [`Collector::take_interval`] (for the time series).
    interval: Mutex<(Histogram<u64>, BTreeMap<String, u64>)>,
}

impl Default for Collector {
    fn default() -> Self {
        Collector {
            shards: (0..SHARDS).map(|_| Mutex::new(Totals::default())).collect(),
            counters: Counters::default(),
            interval: Mutex::new((new_histogram(), BTreeMap::new())),
        }
    }
}

impl Collector {
    /// Move `samples` into the shard for `vu`, leaving `samples` empty.
    pub fn absorb(&self, vu: u32, samples: &mut Samples) {
        if !samples.round_trips.is_empty() || !samples.failures.is_empty() {
            let mut interval = match self.interval.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            for value in &samples.round_trips {
                let _ = interval.0.record(*value);
            }
            for (reason, count) in &samples.failures {
                *interval.1.entry(reason.clone()).or_default() += count;
            }
        }
        let shard = &self.shards[vu as usize % SHARDS];
        match shard.lock() {
            Ok(mut guard) => samples.drain_into(&mut guard),
            Err(poisoned) => samples.drain_into(&mut poisoned.into_inner()),
        }
    }

    /// Round trips and failures flushed since the last call, and reset.
    pub fn take_interval(&self) -> (Histogram<u64>, BTreeMap<String, u64>) {
        let mut interval = match self.interval.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        std::mem::replace(&mut *interval, (new_histogram(), BTreeMap::new()))
    }

    /// Everything flushed so far, merged.
    pub fn snapshot(&self) -> Totals {
        let mut all = Totals::default();
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
        assert_eq!(totals.round_trips.max(), 20);
    }
}
