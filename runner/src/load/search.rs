//! The capacity search's stepping and bisection as a pure function ([`Steps::next`]): given the
//! steps tried so far and whether each held, the next load to try, or the search's conclusion.
//! Step up geometrically (`start`, `start·factor`, …, capped at `max`) until a step breaks, then
//! bisect between the last step that held and the first that broke until they differ by at most
//! the resolution. A step on which the generator saturated ends the search with a lower bound.
//! Running a step and judging it live in `search.rs` (beside `run.rs`); the validated settings in
//! `config::search`. Nothing here waits, measures or prints.

use crate::config::search::Resolution;

/// How a search steps: the validated numbers of `load.search`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Steps {
    /// The first step's load.
    pub start: f64,
    /// Each step up is the last one times this (above 1).
    pub factor: f64,
    /// The highest load tried.
    pub max: f64,
    /// When the bisection stops.
    pub resolution: Resolution,
    /// Loads are whole numbers (connections), not rates.
    pub whole: bool,
}

/// One step that ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tried {
    /// Its load.
    pub load: f64,
    /// Whether its rules held.
    pub held: bool,
    /// Whether the generator was the bottleneck (the step's figures are not the server's).
    pub saturated: bool,
}

/// What the search concluded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conclusion {
    /// `held` held and `broke` broke, within the resolution of each other.
    Broke {
        /// The highest load that held.
        held: f64,
        /// The lowest load that broke.
        broke: f64,
    },
    /// Every step held, `max` included: no break found up to `max`.
    HeldMax {
        /// The highest load tried.
        max: f64,
    },
    /// The first step broke: no capacity at or above it.
    NoneHeld {
        /// The first step's load.
        start: f64,
    },
    /// The generator saturated at `at`: the capacity is at least `held` (a lower bound).
    LowerBound {
        /// The highest load that held, if any did.
        held: Option<f64>,
        /// The step on which the generator saturated.
        at: f64,
    },
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Run a step with this load.
    Run(f64),
    /// The search is over.
    Done(Conclusion),
}

impl Resolution {
    /// Whether `held` and `broke` are close enough to stop bisecting.
    pub fn reached(self, held: f64, broke: f64) -> bool {
        let gap = broke - held;
        match self {
            Resolution::Share(share) => gap <= share * held + 1e-9,
            Resolution::Count(count) => gap <= count + 1e-9,
        }
    }
}

impl Steps {
    /// The highest load that held and the lowest that broke, among `tried`.
    pub fn bracket(tried: &[Tried]) -> (Option<f64>, Option<f64>) {
        let held = tried
            .iter()
            .filter(|step| step.held)
            .map(|step| step.load)
            .fold(None, |best: Option<f64>, load| {
                Some(best.map_or(load, |best| best.max(load)))
            });
        let broke = tried
            .iter()
            .filter(|step| !step.held)
            .map(|step| step.load)
            .fold(None, |best: Option<f64>, load| {
                Some(best.map_or(load, |best| best.min(load)))
            });
        (held, broke)
    }

    /// The next step, or the conclusion, after the steps `tried` (in the order they ran).
    pub fn next(&self, tried: &[Tried]) -> Next {
        if tried.is_empty() {
            return Next::Run(self.start);
        }
        let (held, broke) = Steps::bracket(tried);
        if let Some(saturated) = tried.iter().find(|step| step.saturated) {
            return Next::Done(Conclusion::LowerBound {
                held,
                at: saturated.load,
            });
        }
        match (held, broke) {
            (Some(held), None) if held >= self.max => Next::Done(Conclusion::HeldMax { max: held }),
            (Some(held), None) => Next::Run(self.up_from(held)),
            (None, Some(broke)) => Next::Done(Conclusion::NoneHeld { start: broke }),
            (Some(held), Some(broke)) => {
                let middle = self.between(held, broke);
                match middle {
                    Some(middle) if !self.resolution.reached(held, broke) => Next::Run(middle),
                    _ => Next::Done(Conclusion::Broke { held, broke }),
                }
            }
            // Not reachable with a step tried; conclude rather than loop.
            (None, None) => Next::Done(Conclusion::NoneHeld { start: self.start }),
        }
    }

    /// The step after `held` on the way up: `held·factor`, at least one more for whole loads,
    /// at most `max`.
    fn up_from(&self, held: f64) -> f64 {
        let up = held * self.factor;
        let up = if self.whole {
            up.round().max(held + 1.0)
        } else {
            up
        };
        up.min(self.max)
    }

    /// The middle of `held` and `broke` (rounded down for whole loads), or `None` when no load
    /// lies strictly between them.
    fn between(&self, held: f64, broke: f64) -> Option<f64> {
        let middle = (held + broke) / 2.0;
        let middle = if self.whole { middle.floor() } else { middle };
        (middle > held && middle < broke).then_some(middle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connections(start: f64, factor: f64, max: f64, resolution: Resolution) -> Steps {
        Steps {
            start,
            factor,
            max,
            resolution,
            whole: true,
        }
    }

    /// Run the planner against a server that holds up to `capacity`; the loads tried and the
    /// conclusion.
    fn search(steps: &Steps, capacity: f64) -> (Vec<f64>, Conclusion) {
        let mut tried = Vec::new();
        for _ in 0..100 {
            match steps.next(&tried) {
                Next::Run(load) => tried.push(Tried {
                    load,
                    held: load <= capacity,
                    saturated: false,
                }),
                Next::Done(conclusion) => {
                    return (tried.iter().map(|step| step.load).collect(), conclusion);
                }
            }
        }
        panic!("the search did not end in 100 steps: {tried:?}");
    }

    #[test]
    fn steps_up_geometrically_then_bisects_to_the_exact_count() {
        let steps = connections(5.0, 2.0, 20_000.0, Resolution::Count(1.0));
        let (loads, conclusion) = search(&steps, 37.0);
        assert_eq!(loads, vec![5.0, 10.0, 20.0, 40.0, 30.0, 35.0, 37.0, 38.0]);
        assert_eq!(
            conclusion,
            Conclusion::Broke {
                held: 37.0,
                broke: 38.0
            }
        );
    }

    #[test]
    fn a_share_resolution_stops_once_the_gap_is_that_share_of_the_held_load() {
        let steps = connections(100.0, 2.0, 20_000.0, Resolution::Share(0.05));
        let (_, conclusion) = search(&steps, 1_234.0);
        let Conclusion::Broke { held, broke } = conclusion else {
            panic!("no break found: {conclusion:?}");
        };
        assert!(held <= 1_234.0 && broke > 1_234.0, "{held} {broke}");
        assert!(broke - held <= 0.05 * held, "{held} {broke}");
    }

    #[test]
    fn the_last_step_up_is_max_and_holding_it_ends_the_search() {
        let steps = connections(100.0, 3.0, 1_000.0, Resolution::Share(0.05));
        let (loads, conclusion) = search(&steps, 5_000.0);
        assert_eq!(loads, vec![100.0, 300.0, 900.0, 1_000.0]);
        assert_eq!(conclusion, Conclusion::HeldMax { max: 1_000.0 });
    }

    #[test]
    fn a_first_step_that_breaks_finds_no_capacity() {
        let steps = connections(100.0, 2.0, 1_000.0, Resolution::Count(10.0));
        let (loads, conclusion) = search(&steps, 50.0);
        assert_eq!(loads, vec![100.0]);
        assert_eq!(conclusion, Conclusion::NoneHeld { start: 100.0 });
    }

    #[test]
    fn a_saturated_step_ends_the_search_with_a_lower_bound() {
        let steps = connections(10.0, 2.0, 1_000.0, Resolution::Count(1.0));
        let tried = [
            Tried {
                load: 10.0,
                held: true,
                saturated: false,
            },
            Tried {
                load: 20.0,
                held: true,
                saturated: true,
            },
        ];
        assert_eq!(
            steps.next(&tried),
            Next::Done(Conclusion::LowerBound {
                held: Some(20.0),
                at: 20.0
            })
        );
    }

    #[test]
    fn a_small_factor_on_whole_loads_still_moves_up() {
        // 1 × 1.1 rounds to 1: the next step is 2, never 1 again.
        let steps = connections(1.0, 1.1, 5.0, Resolution::Count(1.0));
        let (loads, conclusion) = search(&steps, 3.0);
        assert_eq!(loads, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            conclusion,
            Conclusion::Broke {
                held: 3.0,
                broke: 4.0
            }
        );
    }

    #[test]
    fn rates_bisect_in_fractions_until_the_resolution() {
        let steps = Steps {
            start: 50.0,
            factor: 2.0,
            max: 2_000.0,
            resolution: Resolution::Count(5.0),
            whole: false,
        };
        let (loads, conclusion) = search(&steps, 333.0);
        assert_eq!(&loads[..4], &[50.0, 100.0, 200.0, 400.0]);
        let Conclusion::Broke { held, broke } = conclusion else {
            panic!("no break found: {conclusion:?}");
        };
        assert!(held <= 333.0 && broke > 333.0 && broke - held <= 5.0);
    }
}
