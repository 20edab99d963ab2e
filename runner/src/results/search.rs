//! The `search` section of a capacity search's report ([`SearchReport`]): every step with its load,
//! whether its rules held, the rules it broke with their observed values and a few key figures,
//! and the result ("held N at p99 X; broke at M because `rule`", "held max", "no capacity at or
//! above start", a lower bound when the generator saturated, or an interrupted search). Also what
//! the search adds to the verdict ([`SearchReport::failure`]), so the summary, the JSON, the HTML
//! and JUnit read one judgement. Built by `search.rs` (which runs the steps); rendered in `render`.

use crate::config::rate::human_rate;
use crate::config::units::human_micros;
use crate::results::report::Report;
use serde::{Deserialize, Serialize};

/// `search` in the JSON: the steps and the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// What was stepped: `connections` or `arrival_rate` (per second).
    pub population: String,
    /// The settings in words (start, factor, max, ramp, hold, resolution).
    pub settings: String,
    /// The rules each step was judged by.
    pub rules: Vec<String>,
    /// Where the rules come from: `until` or `thresholds`.
    pub rules_from: String,
    /// The steps, in the order they ran.
    pub steps: Vec<SearchStep>,
    /// What the search found.
    pub result: SearchResult,
    /// The load of the step whose figures make up the rest of this report: the highest step that
    /// held, or the first step when none did.
    pub figures_of: f64,
    /// The result in one sentence ([`SearchReport::sentence`]), for readers of the JSON and the
    /// HTML page.
    #[serde(default)]
    pub summary: String,
}

/// One step of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchStep {
    /// Connections, or arrivals per second.
    pub load: f64,
    /// Whether the step's verdict (its rules, and the strict default for failures no rule
    /// covers) passed.
    pub passed: bool,
    /// The rules it broke, with the value observed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broken: Vec<BrokenRule>,
    /// Every reason its verdict failed (the broken rules among them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Set when the generator, not the server, limited the step (`results::health`): the warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_limited: Option<String>,
    /// Set when Ctrl-C or SIGTERM cut the step short.
    #[serde(default)]
    pub interrupted: bool,
    /// Round trips measured.
    pub round_trips: u64,
    /// Round-trip median, µs.
    pub round_trip_p50_us: f64,
    /// Round-trip 99th percentile, µs.
    pub round_trip_p99_us: f64,
    /// Connect-time 99th percentile, µs.
    pub connect_p99_us: f64,
    /// Connections established.
    pub established: u64,
    /// Connections that failed.
    pub failures: u64,
    /// Most connections open at once.
    pub peak_open: u64,
}

/// A rule a step broke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokenRule {
    /// The rule as written.
    pub rule: String,
    /// What was measured.
    pub observed: String,
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// A load held and a higher one broke, within the resolution.
    Broke,
    /// Every step held, `max` included.
    HeldMax,
    /// The first step broke.
    NoneHeld,
    /// The generator (or the machine) limited a step: the capacity is at least `held`.
    LowerBound,
    /// Ctrl-C or SIGTERM stopped the search.
    Interrupted,
}

/// `search.result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// How the search ended.
    pub ending: Ending,
    /// The highest load that held.
    pub held: Option<f64>,
    /// Round-trip p99 of that step, µs (none without round trips).
    pub held_p99_us: Option<f64>,
    /// The lowest load that broke.
    pub broke: Option<f64>,
    /// The rule (or, without one, the verdict's reason) the lowest broken step broke first.
    pub because: Option<String>,
    /// The value observed for `because`, when it is a rule.
    pub observed: Option<String>,
    /// For a lower bound or an interruption: why the search stopped there and what to do.
    pub why: Option<String>,
}

impl SearchStep {
    /// The step of `load` from its judged report; `generator_limited` from `results::health`.
    pub fn of(load: f64, report: &Report, generator_limited: Option<String>) -> SearchStep {
        SearchStep {
            load,
            passed: report.verdict.passed,
            broken: report
                .thresholds
                .iter()
                .filter(|outcome| !outcome.passed)
                .map(|outcome| BrokenRule {
                    rule: outcome.expression.clone(),
                    observed: outcome.actual.clone(),
                })
                .collect(),
            reasons: report.verdict.reasons.clone(),
            generator_limited,
            interrupted: report.run.interrupted,
            round_trips: report.round_trips.count,
            round_trip_p50_us: report.round_trips.p50,
            round_trip_p99_us: report.round_trips.p99,
            connect_p99_us: report.connect_time.p99,
            established: report.connections.established,
            failures: report.connections.failed,
            peak_open: report.connections.peak_open,
        }
    }

    /// What broke the step: its first broken rule with the value observed, else its first
    /// reason.
    pub fn because(&self) -> Option<(String, Option<String>)> {
        match self.broken.first() {
            Some(rule) => Some((rule.rule.clone(), Some(rule.observed.clone()))),
            None => self.reasons.first().map(|reason| (reason.clone(), None)),
        }
    }
}

impl SearchReport {
    /// One load as a person reads it: `40 connections`, `87.5/s`.
    pub fn load_text(&self, load: f64) -> String {
        if self.population == "arrival_rate" {
            human_rate(load)
        } else if load.fract() == 0.0 {
            format!("{load:.0} connections")
        } else {
            format!("{load} connections")
        }
    }

    /// `because `rule` (observed 3)`, or `because 3 connections failed`.
    fn because_text(&self) -> String {
        match (&self.result.because, &self.result.observed) {
            (Some(rule), Some(observed)) => format!(" because `{rule}` (observed {observed})"),
            (Some(reason), None) => format!(" because {reason}"),
            (None, _) => String::new(),
        }
    }

    /// `held 37 connections at p99 1.20ms`.
    fn held_text(&self, held: f64) -> String {
        match self.result.held_p99_us {
            Some(p99) => format!("held {} at p99 {}", self.load_text(held), human_micros(p99)),
            None => format!("held {} (no round trips measured)", self.load_text(held)),
        }
    }

    /// The result in one sentence: "held 37 connections at p99 1.20ms; broke at 38 connections
    /// because `connections failed < 1` (observed 3)".
    pub fn sentence(&self) -> String {
        let result = &self.result;
        let held = result.held.map(|held| self.held_text(held));
        let broke = result
            .broke
            .map(|broke| format!("broke at {}{}", self.load_text(broke), self.because_text()));
        let why = result.why.clone().unwrap_or_default();
        match result.ending {
            Ending::Broke => format!(
                "{}; {}",
                held.unwrap_or_default(),
                broke.unwrap_or_default()
            ),
            Ending::HeldMax => format!(
                "{}; held max; no break found up to max",
                held.unwrap_or_default()
            ),
            Ending::NoneHeld => format!(
                "no capacity found at or above the first step: {}",
                broke.unwrap_or_default()
            ),
            Ending::LowerBound => match held {
                Some(held) => format!("{held} (a lower bound: {why})"),
                None => format!("no step held before the search stopped ({why})"),
            },
            Ending::Interrupted => {
                let parts: Vec<String> = held.into_iter().chain(broke).collect();
                if parts.is_empty() {
                    format!("interrupted before a step finished ({why})")
                } else {
                    format!("interrupted ({why}); so far {}", parts.join("; "))
                }
            }
        }
    }

    /// What the search adds to the verdict: `None` when it found its answer (a break within the
    /// resolution, or `max` held); otherwise why the run fails (no step held, a lower bound, an
    /// interruption).
    pub fn failure(&self) -> Option<String> {
        match self.result.ending {
            Ending::Broke | Ending::HeldMax => None,
            Ending::NoneHeld => Some(format!(
                "search: {}; lower `load.search.{}.start`",
                self.sentence(),
                self.population
            )),
            Ending::LowerBound => Some(format!(
                "search: stopped before an answer: {}",
                self.sentence()
            )),
            Ending::Interrupted => Some(format!("search: {}", self.sentence())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(load: f64, passed: bool) -> SearchStep {
        SearchStep {
            load,
            passed,
            broken: if passed {
                Vec::new()
            } else {
                vec![BrokenRule {
                    rule: "connections failed < 1".into(),
                    observed: "3".into(),
                }]
            },
            reasons: Vec::new(),
            generator_limited: None,
            interrupted: false,
            round_trips: 10,
            round_trip_p50_us: 500.0,
            round_trip_p99_us: 1_200.0,
            connect_p99_us: 800.0,
            established: load as u64,
            failures: 0,
            peak_open: load as u64,
        }
    }

    fn search(ending: Ending, held: Option<f64>, broke: Option<f64>) -> SearchReport {
        SearchReport {
            population: "connections".into(),
            settings: String::new(),
            rules: vec!["connections failed < 1".into()],
            rules_from: "until".into(),
            steps: vec![step(37.0, true), step(38.0, false)],
            result: SearchResult {
                ending,
                held,
                held_p99_us: held.map(|_| 1_200.0),
                broke,
                because: broke.map(|_| "connections failed < 1".into()),
                observed: broke.map(|_| "3".into()),
                why: None,
            },
            figures_of: held.unwrap_or(37.0),
            summary: String::new(),
        }
    }

    #[test]
    fn a_break_reads_held_at_p99_and_broke_because_the_rule() {
        let found = search(Ending::Broke, Some(37.0), Some(38.0));
        assert_eq!(
            found.sentence(),
            "held 37 connections at p99 1.20ms; broke at 38 connections because `connections failed < 1` (observed 3)"
        );
        assert_eq!(found.failure(), None);
        assert_eq!(
            step(38.0, false).because(),
            Some(("connections failed < 1".into(), Some("3".into())))
        );
    }

    #[test]
    fn only_a_search_without_an_answer_fails_the_verdict() {
        let max = search(Ending::HeldMax, Some(100.0), None);
        assert!(
            max.sentence()
                .ends_with("held max; no break found up to max")
        );
        assert_eq!(max.failure(), None);
        let none = search(Ending::NoneHeld, None, Some(38.0));
        let failure = none.failure().unwrap_or_default();
        assert!(
            failure.contains("no capacity found at or above the first step")
                && failure.contains("lower `load.search.connections.start`"),
            "{failure}"
        );
        let mut bound = search(Ending::LowerBound, Some(20.0), None);
        bound.result.why = Some("the generator was saturated; add --workers".into());
        let failure = bound.failure().unwrap_or_default();
        assert!(
            failure.contains("a lower bound: the generator was saturated; add --workers"),
            "{failure}"
        );
    }
}
