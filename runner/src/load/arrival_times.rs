//! When each arrival of an arrival-rate run is due: [`ArrivalTimes`] turns `load.arrival_rate`
//! (constant, or a ramp of stages whose rate changes linearly) into the time of arrival `i`,
//! counted globally from 0: the moment the integral of the rate from the start reaches `i`. A
//! piecewise-linear rate makes that integral quadratic per stage, so each time is solved exactly;
//! a ramp 0→100/s over 10 s therefore has exactly 500 arrivals. Pure; `drive::arrivals` asks it
//! for the global indexes of its shard (`shard::Shard::nth`). Validating the stages lives in
//! `config`, starting the VUs in `drive`.

use crate::config::load::ArrivalRate;
use std::time::Duration;

/// One stage of the rate, with what the stages before it add up to.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// Seconds from the start of the run to the start of this stage.
    starts_at: f64,
    /// Its length, seconds.
    length: f64,
    /// Rate at its start, per second.
    from: f64,
    /// Rate at its end, per second.
    to: f64,
    /// Arrivals due before it (the integral of the rate up to its start).
    arrivals_before: f64,
}

impl Segment {
    /// Arrivals due within the stage (the area under its rate).
    fn arrivals(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.length
    }

    /// Seconds into the stage at which `due` arrivals of it are due (`0 ≤ due < arrivals()`):
    /// the root of `from·τ + slope·τ²/2 = due`, in the form that loses no precision whether the
    /// rate rises, falls or holds.
    fn offset_of(&self, due: f64) -> f64 {
        if due <= 0.0 {
            return 0.0;
        }
        let slope = (self.to - self.from) / self.length;
        let discriminant = (self.from * self.from + 2.0 * slope * due).max(0.0);
        let denominator = self.from + discriminant.sqrt();
        if denominator <= 0.0 {
            return self.length;
        }
        (2.0 * due / denominator).min(self.length)
    }
}

/// How far below a whole number a float total may fall and still count as it: a ramp's area is
/// computed in f64 (`200/m` is 3.333…/s), and 199.999999999 arrivals must mean 200.
const WHOLE: f64 = 1e-9;

/// The arrival schedule of one run (all shards: indexes are global).
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalTimes {
    segments: Vec<Segment>,
    /// How many arrivals the run has in all.
    total: u64,
}

impl ArrivalTimes {
    /// The schedule of `rate`; a constant rate lasts `duration`.
    pub fn new(rate: &ArrivalRate, duration: Duration) -> ArrivalTimes {
        let mut segments = Vec::new();
        let mut starts_at = 0.0;
        let mut arrivals_before = 0.0;
        let mut push = |from: f64, to: f64, length: Duration| {
            let segment = Segment {
                starts_at,
                length: length.as_secs_f64(),
                from,
                to,
                arrivals_before,
            };
            starts_at += segment.length;
            arrivals_before += segment.arrivals();
            segments.push(segment);
        };
        match rate {
            ArrivalRate::Constant(per_second) => push(*per_second, *per_second, duration),
            ArrivalRate::Ramp(ramp) => {
                let mut from = ramp.start;
                for stage in &ramp.stages {
                    push(from, stage.target, stage.duration);
                    from = stage.target;
                }
            }
        }
        let area = segments.last().map_or(0.0, |last| {
            last.arrivals_before + last.arrivals() - WHOLE * (1.0 + last.arrivals_before)
        });
        ArrivalTimes {
            segments,
            total: area.max(0.0).ceil() as u64,
        }
    }

    /// How many arrivals the run has in all: the integral of the rate, rounded up (arrival `i`
    /// for every whole `i` below it).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// When arrival `index` (global, from 0) is due, from the start of the run; `None` past the
    /// last one.
    pub fn at(&self, index: u64) -> Option<Duration> {
        if index >= self.total() {
            return None;
        }
        let due = index as f64;
        // The stage holding it: the last one with arrivals that starts at or before it. A stage
        // with no arrivals (a hold at 0/s) never holds one.
        let segment = self
            .segments
            .iter()
            .rev()
            .find(|segment| segment.arrivals() > 0.0 && segment.arrivals_before <= due)?;
        let seconds = segment.starts_at + segment.offset_of(due - segment.arrivals_before);
        Duration::try_from_secs_f64(seconds).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{ArrivalRamp, ArrivalStage};

    fn ramp(start: f64, stages: &[(f64, u64)]) -> ArrivalTimes {
        let stages = stages
            .iter()
            .map(|(target, seconds)| ArrivalStage {
                target: *target,
                duration: Duration::from_secs(*seconds),
            })
            .collect();
        ArrivalTimes::new(
            &ArrivalRate::Ramp(ArrivalRamp { start, stages }),
            Duration::ZERO,
        )
    }

    /// All arrival times, in seconds.
    fn times(schedule: &ArrivalTimes) -> Vec<f64> {
        (0..)
            .map_while(|index| schedule.at(index))
            .map(|at| at.as_secs_f64())
            .collect()
    }

    fn count_within(times: &[f64], from: f64, to: f64) -> usize {
        times.iter().filter(|t| **t >= from && **t < to).count()
    }

    #[test]
    fn a_ramp_from_0_to_100_per_second_over_10s_has_exactly_500_arrivals() {
        let schedule = ramp(0.0, &[(100.0, 10)]);
        assert_eq!(schedule.total(), 500);
        let times = times(&schedule);
        assert_eq!(times.len(), 500);
        // The integral up to t is 5·t², so arrival i is at √(i/5).
        for (index, at) in times.iter().enumerate() {
            let expected = (index as f64 / 5.0).sqrt();
            assert!(
                (at - expected).abs() < 1e-6,
                "arrival {index}: {at} vs {expected}"
            );
        }
        // Each second k holds 5·((k+1)² − k²) = 10k + 5 arrivals.
        for second in 0..10 {
            let within = count_within(&times, f64::from(second), f64::from(second + 1));
            assert_eq!(within, 10 * second as usize + 5, "second {second}");
        }
    }

    #[test]
    fn each_stage_holds_exactly_its_integral() {
        // 10/s → 200/s over 60 s (6300), hold 200/s for 300 s (60000), 200 → 0 over 30 s (3000).
        let schedule = ramp(10.0, &[(200.0, 60), (200.0, 300), (0.0, 30)]);
        assert_eq!(schedule.total(), 6300 + 60_000 + 3000);
        let times = times(&schedule);
        assert_eq!(count_within(&times, 0.0, 60.0), 6300);
        assert_eq!(count_within(&times, 60.0, 360.0), 60_000);
        assert_eq!(count_within(&times, 360.0, 390.0), 3000);
        assert!(times.windows(2).all(|pair| pair[0] < pair[1]), "in order");
        assert!(times.last().is_some_and(|last| *last < 390.0));
    }

    #[test]
    fn a_constant_rate_is_evenly_spaced_like_before() {
        let schedule = ArrivalTimes::new(&ArrivalRate::Constant(4.0), Duration::from_secs(3));
        assert_eq!(schedule.total(), 12);
        assert_eq!(schedule.at(0), Some(Duration::ZERO));
        assert_eq!(schedule.at(5), Some(Duration::from_millis(1250)));
        assert_eq!(schedule.at(12), None);
        // A rate that does not divide the duration: arrivals at 0, 1/3, 2/3 s, none at 1 s.
        let schedule = ArrivalTimes::new(&ArrivalRate::Constant(3.0), Duration::from_secs(1));
        assert_eq!(schedule.total(), 3);
    }

    #[test]
    fn totals_survive_rates_that_are_not_exact_in_binary() {
        // 200/m for a minute is 200 arrivals, though 200/60 is not exact in f64.
        let schedule = ramp(200.0 / 60.0, &[(200.0 / 60.0, 60)]);
        assert_eq!(schedule.total(), 200);
        let schedule = ramp(0.0, &[(0.1, 20), (0.3, 10)]);
        assert_eq!(schedule.total(), 1 + 2);
    }

    #[test]
    fn falling_rates_and_holds_at_zero_place_arrivals_inside_their_stage() {
        // 0/s for 5 s (none), 0 → 20/s over 2 s (20), 20 → 0/s over 2 s (20).
        let schedule = ramp(0.0, &[(0.0, 5), (20.0, 2), (0.0, 2)]);
        let times = times(&schedule);
        assert_eq!(times.len(), 40);
        assert_eq!(count_within(&times, 0.0, 5.0), 0);
        assert_eq!(
            times[0], 5.0,
            "the first arrival comes when the rate leaves 0"
        );
        assert_eq!(count_within(&times, 5.0, 7.0), 20);
        assert_eq!(count_within(&times, 7.0, 9.0), 20);
        // Falling from 20/s: the integral from 7 s is 20τ − 5τ², so arrival 20 + k is at
        // 7 + 2 − √(4 − k/5).
        for k in 0..20 {
            let expected = 9.0 - (4.0 - f64::from(k) / 5.0).sqrt();
            assert!((times[20 + k as usize] - expected).abs() < 1e-6, "{k}");
        }
    }

    #[test]
    fn a_ramp_that_never_rises_has_no_arrivals() {
        let schedule = ramp(0.0, &[(0.0, 10)]);
        assert_eq!(schedule.total(), 0);
        assert_eq!(schedule.at(0), None);
    }
}
