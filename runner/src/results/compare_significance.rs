//! The statistics `volley compare` decides "larger than the noise" with, as pure functions of
//! counts and HDR histograms: the two-sample Kolmogorov–Smirnov test on two histograms' cumulative
//! distributions, the order-statistic (rank) interval of a percentile, the two-proportion z-test
//! (pass and failure rates) and the Poisson rate test (counts, throughput). Every test is two-sided
//! at [`ALPHA`]. Each assumes independent samples, which a load test's are not exactly
//! (consecutive round trips on one connection, or in one busy second, are correlated), so a
//! "significant" here means "beyond what independent samples of these sizes would show", as
//! docs/results.md ("Comparing two runs") says. Which figure gets which test lives in `compare`.

use hdrhistogram::Histogram;

/// The level every test here is run at (two-sided).
pub const ALPHA: f64 = 0.01;

/// The normal quantile of the per-run percentile intervals (95 %): two such intervals that do not
/// overlap mean a difference at about the 0.6 % level when they are of similar width (stricter
/// when they are not), close to [`ALPHA`].
pub const PERCENTILE_Z: f64 = 1.96;

/// The outcome of a two-sample Kolmogorov–Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct KsTest {
    /// The largest distance between the two cumulative distributions, 0 to 1.
    pub d: f64,
    /// The asymptotic p-value of `d` (Kolmogorov distribution, effective size `n1·n2/(n1+n2)`).
    pub p_value: f64,
    /// `n1·n2/(n1+n2)`.
    pub effective_n: f64,
    /// `p_value < ALPHA`.
    pub significant: bool,
}

/// The outcome of a z-test (two proportions, or two Poisson rates).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ZTest {
    /// The standardised difference (new − base).
    pub z: f64,
    /// Two-sided p-value of `z` under the normal approximation.
    pub p_value: f64,
    /// `p_value < ALPHA`.
    pub significant: bool,
}

impl ZTest {
    fn of(z: f64) -> ZTest {
        let p_value = two_sided_p(z);
        ZTest {
            z,
            p_value,
            significant: p_value < ALPHA,
        }
    }

    /// No difference at all (both samples identical or both empty of events).
    fn none() -> ZTest {
        ZTest {
            z: 0.0,
            p_value: 1.0,
            significant: false,
        }
    }
}

/// The histogram's occupied buckets in order: (the highest value of the bucket, its count).
/// Histograms of the same precision share their bucket boundaries, so these keys line up.
fn buckets(histogram: &Histogram<u64>) -> Vec<(u64, u64)> {
    histogram
        .iter_recorded()
        .map(|bucket| (bucket.value_iterated_to(), bucket.count_at_value()))
        .collect()
}

/// The two-sample Kolmogorov–Smirnov test of `base` against `new`, exact on their common bucket
/// boundaries (values within one bucket are tied, which only makes the test conservative); `None`
/// when either is empty.
pub fn kolmogorov_smirnov(base: &Histogram<u64>, new: &Histogram<u64>) -> Option<KsTest> {
    let (n1, n2) = (base.len(), new.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (a, b) = (buckets(base), buckets(new));
    let (mut i, mut j) = (0, 0);
    let (mut below1, mut below2) = (0u64, 0u64);
    let mut d: f64 = 0.0;
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.0.min(y.0),
            (Some(x), None) => x.0,
            (None, Some(y)) => y.0,
            (None, None) => break,
        };
        if let Some(&(value, count)) = a.get(i)
            && value == next
        {
            below1 += count;
            i += 1;
        }
        if let Some(&(value, count)) = b.get(j)
            && value == next
        {
            below2 += count;
            j += 1;
        }
        let gap = (below1 as f64 / n1 as f64 - below2 as f64 / n2 as f64).abs();
        d = d.max(gap);
    }
    let effective_n = (n1 as f64 * n2 as f64) / (n1 as f64 + n2 as f64);
    let p_value = ks_p_value(d, effective_n);
    Some(KsTest {
        d,
        p_value,
        effective_n,
        significant: p_value < ALPHA,
    })
}

/// The asymptotic p-value of a KS distance `d` at effective size `n`, with the small-sample
/// correction of Stephens (1970) as in Numerical Recipes: `Q(λ)`, `λ = (√n + 0.12 + 0.11/√n)·d`.
pub fn ks_p_value(d: f64, n: f64) -> f64 {
    if d <= 0.0 || n <= 0.0 {
        return 1.0;
    }
    let root = n.sqrt();
    kolmogorov_q((root + 0.12 + 0.11 / root) * d)
}

/// The Kolmogorov distribution's tail, `Q(λ) = 2 Σ (−1)^(j−1) exp(−2 j² λ²)`, clamped to 0..1.
pub fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 0.2 {
        // The series converges slowly here, and Q is 1 to eight decimals.
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for j in 1..=100 {
        let j = f64::from(j);
        let term = sign * (-2.0 * j * j * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-12 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Where a percentile of the population lies, from one run's sample: between the values at two
/// ranks (`NEG_INFINITY` or `INFINITY` when a rank falls outside the sample, so the sample cannot
/// bound the percentile on that side).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RankInterval {
    /// The lowest value of the bucket holding the lower rank, in the histogram's unit / `scale`.
    pub low: f64,
    /// The highest value of the bucket holding the upper rank.
    pub high: f64,
}

impl RankInterval {
    /// Whether the two intervals have no value in common.
    pub fn disjoint(&self, other: &RankInterval) -> bool {
        self.high < other.low || other.high < self.low
    }
}

/// The interval of ranks that holds the `quantile` of the population with about 95 % confidence
/// (normal approximation of the binomial count below it: ranks `nq ± z·√(nq(1−q))`, widened to
/// whole ranks), as values of `histogram` divided by `scale`; `None` when it is empty.
pub fn quantile_interval(
    histogram: &Histogram<u64>,
    quantile: f64,
    scale: f64,
) -> Option<RankInterval> {
    let n = histogram.len();
    if n == 0 {
        return None;
    }
    let (low_rank, high_rank) = rank_bounds(n, quantile, PERCENTILE_Z);
    let value = |rank: u64, highest: bool| -> Option<f64> {
        let mut seen = 0u64;
        for bucket in histogram.iter_recorded() {
            seen += bucket.count_at_value();
            if seen >= rank {
                let top = bucket.value_iterated_to();
                let bound = if highest {
                    histogram.highest_equivalent(top)
                } else {
                    histogram.lowest_equivalent(top)
                };
                return Some(bound as f64 / scale);
            }
        }
        None
    };
    let low = match low_rank {
        Some(rank) => value(rank, false)?,
        None => f64::NEG_INFINITY,
    };
    let high = match high_rank {
        Some(rank) => value(rank, true)?,
        None => f64::INFINITY,
    };
    Some(RankInterval { low, high })
}

/// The 1-based ranks bounding the `quantile` of `n` values at normal quantile `z`: `None` for a
/// side that falls outside 1..=n.
pub fn rank_bounds(n: u64, quantile: f64, z: f64) -> (Option<u64>, Option<u64>) {
    let n_f = n as f64;
    let centre = n_f * quantile;
    let half = z * (n_f * quantile * (1.0 - quantile)).sqrt();
    let low = (centre - half).floor();
    let high = (centre + half).ceil() + 1.0;
    let low = (low >= 1.0).then_some(low as u64);
    let high = (high <= n_f).then_some(high as u64);
    (low, high)
}

/// The two-proportion z-test (pooled) of `hits1` of `n1` against `hits2` of `n2`; `None` when
/// either has no trials.
pub fn two_proportions(hits1: u64, n1: u64, hits2: u64, n2: u64) -> Option<ZTest> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let (p1, p2) = (hits1 as f64 / n1f, hits2 as f64 / n2f);
    let pooled = (hits1 + hits2) as f64 / (n1f + n2f);
    let variance = pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f);
    if variance <= 0.0 {
        // Both all hits or both no hits: the same proportion.
        return Some(ZTest::none());
    }
    Some(ZTest::of((p2 - p1) / variance.sqrt()))
}

/// The Poisson rate test of `count1` events in `exposure1` against `count2` in `exposure2` (the
/// same exposure for two counts of one planned load): under equal rates the pooled rate's variance
/// `λ(1/t1 + 1/t2)`; `None` without exposure.
pub fn poisson_rates(count1: u64, exposure1: f64, count2: u64, exposure2: f64) -> Option<ZTest> {
    if exposure1 <= 0.0 || exposure2 <= 0.0 || !exposure1.is_finite() || !exposure2.is_finite() {
        return None;
    }
    let pooled = (count1 + count2) as f64 / (exposure1 + exposure2);
    let variance = pooled * (1.0 / exposure1 + 1.0 / exposure2);
    if variance <= 0.0 {
        return Some(ZTest::none());
    }
    let difference = count2 as f64 / exposure2 - count1 as f64 / exposure1;
    Some(ZTest::of(difference / variance.sqrt()))
}

/// The two-sided p-value of a standard normal `z`: `erfc(|z|/√2)`.
pub fn two_sided_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// The complementary error function (Numerical Recipes' `erfcc`, fractional error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * poly.exp();
    if x >= 0.0 { value } else { 2.0 - value }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut histogram = crate::measure::stats::new_histogram();
        for value in values {
            histogram.saturating_record(value);
        }
        histogram
    }

    /// A deterministic spread of `n` values around `centre` µs (a triangular shape, ±50 %).
    fn spread(n: u64, centre: u64) -> Histogram<u64> {
        histogram((0..n).map(|i| {
            let a = (i * 7_919) % 1_000;
            let b = (i * 104_729) % 1_000;
            centre / 2 + centre * (a + b) / 2_000
        }))
    }

    #[test]
    fn the_kolmogorov_distribution_has_its_tabulated_values() {
        // Critical values of the Kolmogorov distribution: Q(1.358) = 0.05, Q(1.628) = 0.01.
        assert!(
            (kolmogorov_q(1.358) - 0.05).abs() < 5e-4,
            "{}",
            kolmogorov_q(1.358)
        );
        assert!(
            (kolmogorov_q(1.628) - 0.01).abs() < 2e-4,
            "{}",
            kolmogorov_q(1.628)
        );
        assert!(
            (kolmogorov_q(1.0) - 0.27).abs() < 1e-3,
            "{}",
            kolmogorov_q(1.0)
        );
        assert_eq!(kolmogorov_q(0.1), 1.0);
        assert!(kolmogorov_q(4.0) < 1e-12);
    }

    #[test]
    fn identical_histograms_are_not_significantly_different() -> Result<(), String> {
        let base = spread(10_000, 1_000);
        let test = kolmogorov_smirnov(&base, &base.clone()).ok_or("no test")?;
        assert_eq!(test.d, 0.0);
        assert_eq!(test.p_value, 1.0);
        assert!(!test.significant);
        assert_eq!(test.effective_n, 5_000.0);
        for quantile in [0.5, 0.9, 0.99, 0.999] {
            let a = quantile_interval(&base, quantile, 1.0).ok_or("no interval")?;
            assert!(!a.disjoint(&a), "{quantile}: {a:?}");
        }
        Ok(())
    }

    #[test]
    fn a_shift_of_a_fifth_in_ten_thousand_values_is_significant() -> Result<(), String> {
        let base = spread(10_000, 1_000);
        let new = spread(10_000, 1_200);
        let test = kolmogorov_smirnov(&base, &new).ok_or("no test")?;
        assert!(test.significant && test.d > 0.2, "{test:?}");
        assert!(test.p_value < 1e-10, "{test:?}");
        let a = quantile_interval(&base, 0.5, 1.0).ok_or("no interval")?;
        let b = quantile_interval(&new, 0.5, 1.0).ok_or("no interval")?;
        assert!(a.disjoint(&b), "{a:?} {b:?}");
        assert!(a.low <= 1_000.0 && 1_000.0 <= a.high, "{a:?}");
        Ok(())
    }

    #[test]
    fn the_same_shift_in_a_handful_of_values_is_not_significant() -> Result<(), String> {
        let base = spread(8, 1_000);
        let new = spread(8, 1_200);
        let test = kolmogorov_smirnov(&base, &new).ok_or("no test")?;
        assert!(!test.significant, "{test:?}");
        let a = quantile_interval(&base, 0.5, 1.0).ok_or("no interval")?;
        let b = quantile_interval(&new, 0.5, 1.0).ok_or("no interval")?;
        assert!(!a.disjoint(&b), "{a:?} {b:?}");
        // Three values against three, wholly apart: KS cannot tell at 1 % (exact p = 0.1).
        let test =
            kolmogorov_smirnov(&histogram([1, 2, 3]), &histogram([10, 11, 12])).ok_or("no test")?;
        assert_eq!(test.d, 1.0);
        assert!(!test.significant, "{test:?}");
        Ok(())
    }

    #[test]
    fn an_empty_side_has_no_test() {
        assert!(kolmogorov_smirnov(&histogram([]), &histogram([1])).is_none());
        assert!(quantile_interval(&histogram([]), 0.5, 1.0).is_none());
    }

    #[test]
    fn a_percentile_beyond_what_the_sample_can_bound_is_open_ended() -> Result<(), String> {
        // p99.9 of 1,000 values: the upper rank is past the largest, so the interval has no top.
        let base = spread(1_000, 1_000);
        let interval = quantile_interval(&base, 0.999, 1.0).ok_or("no interval")?;
        assert_eq!(interval.high, f64::INFINITY);
        assert_eq!(rank_bounds(100, 0.5, 1.96), (Some(40), Some(61)));
        assert_eq!(rank_bounds(10, 0.999, 1.96), (Some(9), None));
        Ok(())
    }

    #[test]
    fn proportions_and_rates_are_tested_with_their_known_values() -> Result<(), String> {
        // 50 % of 1,000 against 60 % of 1,000: z = 0.1 / sqrt(0.55·0.45·0.002) = 4.49.
        let test = two_proportions(500, 1_000, 600, 1_000).ok_or("no test")?;
        assert!(
            (test.z - 4.494).abs() < 1e-3 && test.significant,
            "{test:?}"
        );
        let same = two_proportions(1_000, 1_000, 2_000, 2_000).ok_or("no test")?;
        assert!(!same.significant && same.z == 0.0);
        let small = two_proportions(5, 10, 6, 10).ok_or("no test")?;
        assert!(!small.significant, "{small:?}");
        assert!(two_proportions(1, 0, 1, 1).is_none());
        // 1,000 events against 1,100 in the same time: z = 100 / sqrt(2,100) = 2.18, p = 0.029.
        let rates = poisson_rates(1_000, 1.0, 1_100, 1.0).ok_or("no test")?;
        assert!(
            (rates.z - 2.182).abs() < 1e-3 && !rates.significant,
            "{rates:?}"
        );
        assert!((rates.p_value - 0.0291).abs() < 1e-3, "{rates:?}");
        let rates = poisson_rates(10_000, 10.0, 11_000, 10.0).ok_or("no test")?;
        assert!(rates.significant, "{rates:?}");
        assert!(poisson_rates(1, 0.0, 1, 1.0).is_none());
        Ok(())
    }

    #[test]
    fn the_normal_tail_has_its_tabulated_values() {
        assert!((two_sided_p(1.96) - 0.05).abs() < 1e-4);
        assert!((two_sided_p(2.5758) - 0.01).abs() < 1e-4);
        assert!((two_sided_p(0.0) - 1.0).abs() < 1e-6);
    }
}
