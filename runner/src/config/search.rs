//! `load.search` validated: a capacity search ([`Search`]) — which population it steps
//! (connections, or an arrival rate), from where, by what factor, up to what, how long each step
//! ramps and holds, when bisection stops ([`Resolution`]) and the rules that say a step broke
//! (`until:`, or the file's `thresholds:`). Also the scenario of one step
//! ([`Scenario::search_step`]), the same in the parent and in a `--workers` worker. The stepping
//! itself is `load::search`; running the steps is `search.rs`.

use super::load::{ArrivalRamp, ArrivalRate, ArrivalStage, Load, Shape};
use super::rate::{human_rate, parse_rate};
use super::raw::{RawSearch, RawSearchSteps, RawThreshold};
use super::threshold::{Op, Subject, Threshold};
use super::units::human_duration;
use super::validate::Validator;
use super::{ConfigError, Scenario, locate};
use std::num::NonZeroU32;
use std::time::Duration;

/// What a search steps up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Population {
    /// `load.search.connections`: a constant number of connections per step.
    Connections,
    /// `load.search.arrival_rate`: a constant arrival rate per step, at most `max_open` open.
    ArrivalRate {
        /// `load.max_connections`.
        max_open: NonZeroU32,
    },
}

/// When bisection stops: the last load that held and the first that broke differ by at most…
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolution {
    /// …this share of the load that held (`5%`).
    Share(f64),
    /// …this many connections, or arrivals per second (`10`, `10/s`).
    Count(f64),
}

impl Resolution {
    /// As written: `5%`, `10`, `2.5/s`.
    pub fn describe(self, population: Population) -> String {
        match (self, population) {
            (Resolution::Share(share), _) => format!("{}%", trim(share * 100.0)),
            (Resolution::Count(count), Population::Connections) => trim(count),
            (Resolution::Count(count), Population::ArrivalRate { .. }) => human_rate(count),
        }
    }
}

/// Where a search's rules come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesFrom {
    /// `load.search.until`.
    Until,
    /// The file's `thresholds:`.
    Thresholds,
}

/// `load.search` validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// Connections or an arrival rate.
    pub population: Population,
    /// The first step's load (connections, or arrivals per second).
    pub start: f64,
    /// Each step up is the last one times this (above 1).
    pub factor: f64,
    /// The highest load tried.
    pub max: f64,
    /// Each step's ramp (connections opened evenly over it; a rate ramped up from 0 over it).
    pub ramp: Duration,
    /// Each step's hold after its ramp (above 0).
    pub hold: Duration,
    /// When bisection stops.
    pub resolution: Resolution,
    /// The rules each step is judged by (at least one).
    pub rules: Vec<Threshold>,
    /// Whether `rules` are `until:` or the file's thresholds.
    pub rules_from: RulesFrom,
}

/// `12`, `12.5`: a number without a trailing `.0`.
fn trim(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

impl Search {
    /// The search's population in the YAML's words: `connections` or `arrival_rate`.
    pub fn population_name(&self) -> &'static str {
        match self.population {
            Population::Connections => "connections",
            Population::ArrivalRate { .. } => "arrival_rate",
        }
    }

    /// One load as a person reads it: `40 connections`, `87.5/s`.
    pub fn describe_load(&self, load: f64) -> String {
        match self.population {
            Population::Connections => format!("{} connections", trim(load)),
            Population::ArrivalRate { .. } => human_rate(load),
        }
    }

    /// The search in words, for the report's shape.
    pub fn describe(&self) -> String {
        let (start, max) = match self.population {
            Population::Connections => (trim(self.start), trim(self.max)),
            Population::ArrivalRate { .. } => (human_rate(self.start), human_rate(self.max)),
        };
        format!(
            "capacity search of {} from {start} ×{} up to {max}, each step ramp {} hold {}, resolution {}",
            self.population_name(),
            trim(self.factor),
            human_duration(self.ramp),
            human_duration(self.hold),
            self.resolution.describe(self.population)
        )
    }

    /// The `load:` of the step with `load` (connections, or arrivals per second): a constant
    /// population ramped over `ramp` and held for `hold`, or a rate ramped from 0 to `load` over
    /// `ramp` and held; every other `load:` setting (timeouts, pauses) is the file's.
    pub fn step_load(&self, base: &Load, load: f64) -> Load {
        match self.population {
            Population::Connections => {
                let count = NonZeroU32::new(load.round().clamp(1.0, f64::from(u32::MAX)) as u32)
                    .unwrap_or(NonZeroU32::MIN);
                Load {
                    shape: Shape::Constant,
                    connections: count,
                    ramp_up: self.ramp,
                    duration: Some(self.hold),
                    iterations: None,
                    search: None,
                    ..base.clone()
                }
            }
            Population::ArrivalRate { max_open } => {
                let rate = if self.ramp.is_zero() {
                    ArrivalRate::Constant(load)
                } else {
                    ArrivalRate::Ramp(ArrivalRamp {
                        start: 0.0,
                        stages: vec![
                            ArrivalStage {
                                target: load,
                                duration: self.ramp,
                            },
                            ArrivalStage {
                                target: load,
                                duration: self.hold,
                            },
                        ],
                    })
                };
                Load {
                    shape: Shape::ArrivalRate {
                        rate,
                        max: max_open,
                    },
                    connections: max_open,
                    ramp_up: Duration::ZERO,
                    duration: Some(self.ramp + self.hold),
                    iterations: Some(NonZeroU32::MIN),
                    search: None,
                    ..base.clone()
                }
            }
        }
    }
}

impl Scenario {
    /// The scenario one step of this file's search runs: its load is [`Search::step_load`] and
    /// its thresholds are the search's rules. `None` when the file has no `load.search`.
    pub fn search_step(&self, load: f64) -> Option<Scenario> {
        let search = self.load.search.as_ref()?;
        Some(Scenario {
            load: search.step_load(&self.load, load),
            thresholds: search.rules.clone(),
            ..self.clone()
        })
    }
}

/// Why `rule` can never fail on a step of `population`, if it cannot.
fn never_fails(rule: &Threshold, population: Population) -> Option<String> {
    if population == Population::Connections
        && rule.subject == Subject::Connections
        && rule.stat == "dropped_arrivals"
    {
        return Some(
            "a step of `load.search.connections` has a constant number of connections and drops no arrivals, so this rule always holds".into(),
        );
    }
    let rate = matches!(rule.stat.as_str(), "pass_rate" | "failure_rate");
    let always = match rule.op {
        Op::Greater => rule.limit < 0.0,
        Op::GreaterOrEqual => rule.limit <= 0.0,
        Op::NotEqual => rule.limit < 0.0,
        Op::Less => rate && rule.limit > 1.0,
        Op::LessOrEqual => rate && rule.limit >= 1.0,
        Op::Equal => false,
    };
    always.then(|| "it holds for every value the figure can take".to_owned())
}

const AT: [&str; 2] = ["load", "search"];

impl Validator<'_> {
    /// `load.search`, with the file's `thresholds` as the rules when it has no `until:`.
    /// `max_connections` is `load.max_connections` (needed by an arrival-rate search).
    pub(super) fn search(
        &self,
        raw: &RawSearch,
        thresholds: &[Threshold],
        max_connections: Option<u32>,
    ) -> Result<Search, ConfigError> {
        let (steps, population, name) = match (&raw.connections, &raw.arrival_rate) {
            (Some(steps), None) => (steps, Population::Connections, "connections"),
            (None, Some(steps)) => {
                let max_open = max_connections.and_then(NonZeroU32::new).ok_or_else(|| {
                    self.error(
                        &["load", "search", "arrival_rate"],
                        "a search of `arrival_rate` needs `load.max_connections` (the most connections open at once, e.g. `max_connections: 10000`)",
                    )
                })?;
                (steps, Population::ArrivalRate { max_open }, "arrival_rate")
            }
            (Some(_), Some(_)) => {
                return Err(self.error(
                    &["load", "search", "arrival_rate"],
                    "`load.search` steps one population: keep `connections` or `arrival_rate`, not both",
                ));
            }
            (None, None) => {
                return Err(self.error(
                    &AT,
                    "`load.search` needs what to step up: `connections: {start: 100, factor: 2, max: 20000}` or `arrival_rate: {start: 50/s, factor: 2, max: 2000/s}`",
                ));
            }
        };
        let (start, factor, max) = self.search_steps(steps, population, name)?;
        let ramp = self.duration(
            &["load", "search", "ramp"],
            raw.ramp.as_deref(),
            Duration::ZERO,
        )?;
        let hold = match &raw.hold {
            None => {
                return Err(self.error(
                    &AT,
                    "`load.search` needs `hold` (how long each step is held after its ramp, e.g. `hold: 30s`)",
                ));
            }
            Some(text) => self.duration(&["load", "search", "hold"], Some(text), Duration::ZERO)?,
        };
        if hold.is_zero() {
            return Err(self.error(
                &["load", "search", "hold"],
                "`load.search.hold` is 0s: a step must hold its load to be judged; give it a length, e.g. `hold: 30s`",
            ));
        }
        let resolution = self.resolution(raw.resolution.as_deref(), population)?;
        let (rules, rules_from) = match &raw.until {
            Some(until) => (self.until(until)?, RulesFrom::Until),
            None => (thresholds.to_vec(), RulesFrom::Thresholds),
        };
        if rules.is_empty() {
            return Err(self.error(
                &AT,
                "`load.search` has no rules to say when a step broke, so it could never stop: add `until:` (e.g. `until: [connections failed < 1, round_trip p99 < 50ms]`) or `thresholds:`",
            ));
        }
        for (index, rule) in rules.iter().enumerate() {
            if let Some(why) = never_fails(rule, population) {
                let position = match rules_from {
                    RulesFrom::Until => {
                        locate::locate_item(self.text, &["load", "search", "until"], index)
                    }
                    RulesFrom::Thresholds => self
                        .text
                        .find(&rule.expression)
                        .map(|offset| locate::position_of(self.text, offset)),
                };
                return Err(ConfigError::at(
                    self.file,
                    position,
                    format!(
                        "the search rule `{}` can never fail ({why}), so no step would break; write a rule a step can cross, e.g. `connections failed < 1` or `round_trip p99 < 50ms`",
                        rule.expression
                    ),
                ));
            }
        }
        Ok(Search {
            population,
            start,
            factor,
            max,
            ramp,
            hold,
            resolution,
            rules,
            rules_from,
        })
    }

    /// `{start, factor, max}` of `load.search.<name>`: start ≥ 1 connection (or above 0/s),
    /// factor above 1 (default 2), max at least start.
    fn search_steps(
        &self,
        steps: &RawSearchSteps,
        population: Population,
        name: &str,
    ) -> Result<(f64, f64, f64), ConfigError> {
        let at = |key: &'static str| ["load", "search", name, key];
        let example = match population {
            Population::Connections => "`{start: 100, factor: 2, max: 20000}`",
            Population::ArrivalRate { .. } => "`{start: 50/s, factor: 2, max: 2000/s}`",
        };
        let amount = |key: &'static str, text: Option<&str>| -> Result<f64, ConfigError> {
            let Some(text) = text else {
                return Err(self.error(
                    &["load", "search", name],
                    format!("`load.search.{name}` needs `{key}`, e.g. {example}"),
                ));
            };
            let parsed = match population {
                Population::Connections => text
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|count| *count >= 1)
                    .map(f64::from)
                    .ok_or_else(|| {
                        format!(
                            "`{text}` is not a number of connections (a whole number, at least 1)"
                        )
                    }),
                Population::ArrivalRate { .. } => parse_rate(text).and_then(|rate| {
                    if rate > 0.0 {
                        Ok(rate)
                    } else {
                        Err(format!(
                            "`{text}` is no arrivals; start above 0/s, e.g. `50/s`"
                        ))
                    }
                }),
            };
            parsed.map_err(|message| {
                self.error(&at(key), format!("`load.search.{name}.{key}`: {message}"))
            })
        };
        let start = amount("start", steps.start.as_deref())?;
        let max = amount("max", steps.max.as_deref())?;
        let factor = match steps.factor.as_deref() {
            None => 2.0,
            Some(text) => match text.trim().parse::<f64>() {
                Ok(factor) if factor.is_finite() && factor > 1.0 => factor,
                _ => {
                    return Err(self.error(
                        &at("factor"),
                        format!(
                            "`load.search.{name}.factor` is `{text}`; it must be a number above 1 (each step up is the last one times the factor), e.g. `factor: 2`"
                        ),
                    ));
                }
            },
        };
        if start > max {
            let (start_text, max_text) = match population {
                Population::Connections => (trim(start), trim(max)),
                Population::ArrivalRate { .. } => (human_rate(start), human_rate(max)),
            };
            return Err(self.error(
                &at("max"),
                format!(
                    "`load.search.{name}.max` ({max_text}) is below `start` ({start_text}); the search steps up from `start` to `max`: raise `max` or lower `start`"
                ),
            ));
        }
        Ok((start, factor, max))
    }

    /// `load.search.resolution`: `5%` of the load that held, or an absolute count (`10`, or
    /// `10/s` for a rate); above 0. Default 5%.
    fn resolution(
        &self,
        text: Option<&str>,
        population: Population,
    ) -> Result<Resolution, ConfigError> {
        const RESOLUTION: [&str; 3] = ["load", "search", "resolution"];
        let Some(text) = text else {
            return Ok(Resolution::Share(0.05));
        };
        let fix =
            "write a share of the load that held, e.g. `5%`, or an absolute amount, e.g. `10`";
        let parsed = match text.trim().strip_suffix('%') {
            Some(percent) => percent
                .trim()
                .parse::<f64>()
                .ok()
                .map(|percent| Resolution::Share(percent / 100.0)),
            None => match population {
                Population::Connections => text.trim().parse::<f64>().ok().map(Resolution::Count),
                Population::ArrivalRate { .. } => parse_rate(text).ok().map(Resolution::Count),
            },
        };
        match parsed {
            Some(Resolution::Share(value) | Resolution::Count(value))
                if value.is_finite() && value > 0.0 =>
            {
                Ok(parsed.unwrap_or(Resolution::Share(0.05)))
            }
            Some(_) => Err(self.error(
                &RESOLUTION,
                format!(
                    "`load.search.resolution` is `{text}`; it must be above 0, or the bisection would never stop; {fix}"
                ),
            )),
            None => Err(self.error(
                &RESOLUTION,
                format!("`load.search.resolution`: `{text}` is not a resolution; {fix}"),
            )),
        }
    }

    /// `load.search.until`: rules in the `thresholds:` syntax, each error at its entry.
    fn until(&self, raw: &[RawThreshold]) -> Result<Vec<Threshold>, ConfigError> {
        let mut rules = Vec::with_capacity(raw.len());
        for (index, entry) in raw.iter().enumerate() {
            let (rule, abort) = match entry {
                RawThreshold::Rule(rule) => (rule.as_str(), false),
                RawThreshold::Detailed(options) => (options.rule.as_str(), options.abort),
            };
            let rule = Threshold::parse(rule, abort).map_err(|message| {
                ConfigError::at(
                    self.file,
                    locate::locate_item(self.text, &["load", "search", "until"], index),
                    format!("search rule `{}`: {message}", rule.trim()),
                )
            })?;
            rules.push(rule);
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use std::path::Path;

    fn file(search: &str, rest: &str) -> String {
        format!(
            "version: 1\nname: s\ntarget: embedded://echo\nmodule: m.wasm\nload:\n  search:\n{search}{rest}"
        )
    }

    fn load(text: &str) -> Result<Scenario, String> {
        Scenario::from_text(Path::new("s.yaml"), text, &Overrides::default(), |_| None)
            .map_err(|error| error.to_string())
    }

    const STEPS: &str =
        "    connections: {start: 5, factor: 2, max: 100}\n    ramp: 1s\n    hold: 2s\n";

    #[test]
    fn a_search_reads_its_steps_rules_and_resolution() -> Result<(), String> {
        let scenario = load(&file(
            &format!("{STEPS}    resolution: 3\n    until:\n      - connections failed < 1\n"),
            "",
        ))?;
        let search = scenario.load.search.clone().ok_or("no search")?;
        assert_eq!((search.start, search.factor, search.max), (5.0, 2.0, 100.0));
        assert_eq!(search.resolution, Resolution::Count(3.0));
        assert_eq!(search.rules_from, RulesFrom::Until);
        assert_eq!(search.rules[0].expression, "connections failed < 1");
        let step = scenario.search_step(40.0).ok_or("no step")?;
        assert_eq!(step.load.connections.get(), 40);
        assert_eq!(step.load.ramp_up, Duration::from_secs(1));
        assert_eq!(step.load.duration, Some(Duration::from_secs(2)));
        assert!(step.load.search.is_none() && step.load.shape == Shape::Constant);
        assert_eq!(step.thresholds, search.rules);
        Ok(())
    }

    #[test]
    fn without_until_the_thresholds_are_the_rules() -> Result<(), String> {
        let scenario = load(&file(STEPS, "thresholds:\n  - round_trip p99 < 50ms\n"))?;
        let search = scenario.load.search.ok_or("no search")?;
        assert_eq!(search.rules_from, RulesFrom::Thresholds);
        assert_eq!(search.resolution, Resolution::Share(0.05));
        Ok(())
    }

    #[test]
    fn an_arrival_rate_step_ramps_from_zero_and_holds() -> Result<(), String> {
        let text = file(
            "    arrival_rate: {start: 10/s, max: 80/s}\n    ramp: 1s\n    hold: 2s\n    until: [connections failed < 1]\n",
            "",
        )
        .replace("  search:", "  max_connections: 500\n  search:");
        let scenario = load(&text)?;
        let step = scenario.search_step(20.0).ok_or("no step")?;
        let Shape::ArrivalRate { rate, max } = &step.load.shape else {
            return Err(format!("not an arrival rate: {:?}", step.load.shape));
        };
        assert_eq!(max.get(), 500);
        assert_eq!(rate.peak(), 20.0);
        assert_eq!(step.load.duration, Some(Duration::from_secs(3)));
        Ok(())
    }

    #[test]
    fn mistakes_name_the_place_and_the_fix() {
        let error = |text: &str| load(text).err().unwrap_or_default();
        let rules = "    until: [connections failed < 1]\n";
        let factor = error(&file(
            &format!("    connections: {{start: 5, factor: 1, max: 100}}\n    hold: 2s\n{rules}"),
            "",
        ));
        assert!(
            factor.contains("s.yaml:7:") && factor.contains("above 1"),
            "{factor}"
        );
        let order = error(&file(
            &format!("    connections: {{start: 500, max: 100}}\n    hold: 2s\n{rules}"),
            "",
        ));
        assert!(order.contains("below `start`"), "{order}");
        let hold = error(&file(
            &format!("    connections: {{start: 5, max: 100}}\n    hold: 0s\n{rules}"),
            "",
        ));
        assert!(
            hold.contains("s.yaml:8:5") && hold.contains("hold"),
            "{hold}"
        );
        let resolution = error(&file(&format!("{STEPS}    resolution: 0%\n{rules}"), ""));
        assert!(resolution.contains("above 0"), "{resolution}");
        let no_rules = error(&file(STEPS, ""));
        assert!(no_rules.contains("add `until:`"), "{no_rules}");
        let never = error(&file(
            &format!("{STEPS}    until:\n      - connections dropped_arrivals < 1\n"),
            "",
        ));
        assert!(
            never.contains("s.yaml:11:9") && never.contains("can never fail"),
            "{never}"
        );
        let always = error(&file(
            &format!("{STEPS}    until:\n      - checks pass_rate >= 0%\n"),
            "",
        ));
        assert!(always.contains("can never fail"), "{always}");
        let both = error(
            &file(&format!("{STEPS}{rules}"), "").replace("load:\n", "load:\n  connections: 10\n"),
        );
        assert!(
            both.contains("s.yaml:6:3") && both.contains("remove `load.connections`"),
            "{both}"
        );
    }
}
