//! [`Recorded`]: the values of one distribution (a timing in µs, or a custom metric) as an HDR
//! histogram for percentiles with their [`Exact`] count, sum, min and max beside it, so a whole
//! number recorded stays that number in `min`, `max` and `mean` whatever the histogram's bucket
//! width. Also how a custom metric's `f64` goes into the histogram (scaled by [`METRIC_SCALE`],
//! clamped to [`METRIC_TOP`]). Pure data: recording lives in `recorder`, the totals in `stats`, the
//! report's summary of one of these in `results::report::Distribution`.

use hdrhistogram::Histogram;

/// Custom metric values go into the histogram in 1/1024ths: a binary fraction keeps whole numbers
/// below 2048 (and halves, quarters…) exact in a 3-significant-digit HDR histogram, where
/// thousandths turned 17 into 16.992.
pub const METRIC_SCALE: f64 = 1024.0;

/// Largest custom metric value the histogram holds (2^52, about 4.5e15: a µs Unix timestamp
/// fits). A larger value, or a negative one, still counts exactly in [`Exact`]; the histogram
/// holds it at the nearest end of its range (`METRIC_TOP` or 0) and [`Exact::clamped`] counts it.
pub const METRIC_TOP: f64 = (1u64 << 52) as f64;

/// A histogram of microseconds (or scaled metric values), 3 significant digits, growing as needed.
pub fn new_histogram() -> Histogram<u64> {
    // 3 significant digits is always a valid precision; this cannot fail.
    Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"))
}

/// Record `value`, growing the histogram; if it cannot grow (it can for any value up to 2^63),
/// at its top, so the histogram and the exact count stay in step.
fn record(histogram: &mut Histogram<u64>, value: u64) {
    if histogram.record(value).is_err() {
        histogram.saturating_record(value);
    }
}

/// Count, sum, min and max of the values recorded, as recorded (not bucketed).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Exact {
    /// Values recorded.
    pub count: u64,
    /// Their sum (kept finite: it stops at ±`f64::MAX`).
    pub sum: f64,
    /// The smallest (0 when `count` is 0).
    pub min: f64,
    /// The largest (0 when `count` is 0).
    pub max: f64,
    /// Values counted here but held in the histogram at the end of its range (a negative or
    /// larger-than-[`METRIC_TOP`] metric value): percentiles near them are bounds, not values.
    pub clamped: u64,
    /// NaN and infinite metric values: refused, in no other field.
    pub not_finite: u64,
}

impl Exact {
    /// Count `value` (finite).
    fn add(&mut self, value: f64) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum = (self.sum + value).clamp(-f64::MAX, f64::MAX);
    }

    /// Add `other`'s values to these.
    pub fn merge(&mut self, other: &Exact) {
        if other.count > 0 {
            if self.count == 0 {
                self.min = other.min;
                self.max = other.max;
            } else {
                self.min = self.min.min(other.min);
                self.max = self.max.max(other.max);
            }
        }
        self.count += other.count;
        self.sum = (self.sum + other.sum).clamp(-f64::MAX, f64::MAX);
        self.clamped += other.clamped;
        self.not_finite += other.not_finite;
    }

    /// `sum / count` (0 without values).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// One distribution's values: the histogram for percentiles, the exact figures beside it. Every
/// value recorded is in both (`histogram.len() == exact.count`).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// µs for timings, value × [`METRIC_SCALE`] for metrics.
    pub histogram: Histogram<u64>,
    /// In the same unit as the recorded values (µs, or the metric's own unit).
    pub exact: Exact,
}

impl Default for Recorded {
    fn default() -> Self {
        Recorded {
            histogram: new_histogram(),
            exact: Exact::default(),
        }
    }
}

impl Recorded {
    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.exact.count
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.exact.count == 0
    }

    /// Record a timing, µs.
    pub fn record_micros(&mut self, micros: u64) {
        record(&mut self.histogram, micros);
        self.exact.add(micros as f64);
    }

    /// Record a custom metric value in its own unit: exact in `exact`, scaled (and, outside
    /// 0..=[`METRIC_TOP`], clamped) in the histogram; NaN and infinities are only counted as
    /// [`Exact::not_finite`].
    pub fn record_metric(&mut self, value: f64) {
        if !value.is_finite() {
            self.exact.not_finite += 1;
            return;
        }
        let held = value.clamp(0.0, METRIC_TOP);
        if held != value {
            self.exact.clamped += 1;
        }
        // Exact: METRIC_TOP × 1024 = 2^62 is a u64, and scaling by a power of two loses nothing.
        record(&mut self.histogram, (held * METRIC_SCALE).round() as u64);
        self.exact.add(value);
    }

    /// Add `other`'s values to these (exact: buckets and figures add up).
    pub fn merge(&mut self, other: &Recorded) {
        // Auto-resizing histograms of the same precision always merge.
        let _ = self.histogram.add(&other.histogram);
        self.exact.merge(&other.exact);
    }

    /// The values of a histogram that was kept without its exact figures (a worker's live feed),
    /// estimated from its buckets: count, min and max, and the sum from its mean, each divided by
    /// `scale` (1 for µs, [`METRIC_SCALE`] for a metric).
    pub fn estimated(histogram: Histogram<u64>, scale: f64) -> Recorded {
        let count = histogram.len();
        let exact = if count == 0 {
            Exact::default()
        } else {
            Exact {
                count,
                sum: histogram.mean() * count as f64 / scale,
                min: histogram.min() as f64 / scale,
                max: histogram.max() as f64 / scale,
                clamped: 0,
                not_finite: 0,
            }
        };
        Recorded { histogram, exact }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_stay_whole_where_the_histogram_rounds_them() {
        let mut recorded = Recorded::default();
        for _ in 0..100 {
            recorded.record_metric(2059.0);
        }
        // The histogram's bucket at 2059 × 1024 is 2048 wide: it holds 2058..2060.
        assert_eq!(
            recorded
                .histogram
                .lowest_equivalent(recorded.histogram.min()) as f64
                / METRIC_SCALE,
            2058.0
        );
        assert_eq!(recorded.exact.min, 2059.0);
        assert_eq!(recorded.exact.max, 2059.0);
        assert_eq!(recorded.exact.mean(), 2059.0);
        assert_eq!(recorded.exact.count, 100);
    }

    #[test]
    fn every_finite_value_counts_and_the_histogram_stays_in_step() {
        let mut recorded = Recorded::default();
        for value in [-5.0, 0.0, 3.5, 7e13, 9e15, 1e300, f64::MAX] {
            recorded.record_metric(value);
        }
        recorded.record_metric(f64::NAN);
        recorded.record_metric(f64::INFINITY);
        assert_eq!(recorded.exact.count, 7);
        assert_eq!(recorded.histogram.len(), 7);
        assert_eq!(recorded.exact.min, -5.0);
        assert_eq!(recorded.exact.max, f64::MAX);
        assert!(recorded.exact.sum.is_finite());
        assert_eq!(recorded.exact.clamped, 4, "-5, 9e15, 1e300 and f64::MAX");
        assert_eq!(recorded.exact.not_finite, 2);
        assert_eq!(
            recorded.histogram.max(),
            recorded.histogram.highest_equivalent(1 << 62)
        );
    }

    #[test]
    fn merging_adds_figures_exactly() {
        let (mut a, mut b, mut both) = (
            Recorded::default(),
            Recorded::default(),
            Recorded::default(),
        );
        for value in [1980u64, 1981, 2059] {
            a.record_micros(value);
            both.record_micros(value);
        }
        for value in [17u64, 4_000_000] {
            b.record_micros(value);
            both.record_micros(value);
        }
        a.merge(&b);
        assert_eq!(a, both);
        assert_eq!(a.exact.min, 17.0);
        assert_eq!(a.exact.max, 4_000_000.0);
        assert_eq!(a.exact.sum, 4_006_037.0);
        let mut empty = Recorded::default();
        empty.merge(&b);
        assert_eq!(empty.exact, b.exact);
    }
}
