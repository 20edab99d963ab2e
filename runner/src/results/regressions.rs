//! Judging a scenario's regression rules (parsed in `config::regression`) against a baseline run:
//! the run's report is compared with the baseline's by `results::compare`, and each rule reads the
//! row of its figure. A rule fails only when the change is beyond its limit *and* significant by
//! compare's test (with its jitter floor); beyond the limit but not significant passes, and says
//! so. Without a baseline the rules are "not evaluated" and fail nothing. The outcome
//! ([`Regressions`]) is stored in the [`Report`], so the verdict, the summary, the JSON, JUnit and
//! the HTML page all read the one judgement. Also here: [`check_baseline`], which refuses (before
//! the run) a rule whose figure the baseline lacks. Reading the baseline file is the binary's.

use crate::config::ConfigError;
use crate::config::closest;
use crate::config::regression::{Limit, Regression};
use crate::config::units::human_micros;
use crate::results::compare::{Comparison, Row, Unit, compare};
use crate::results::report::Report;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A baseline run: its results file as given and what it holds.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The results file, as given (`--baseline` or the file's `baseline:`).
    pub file: String,
    /// Its results.
    pub report: Report,
}

/// The `regressions` section of results: every rule of the file, judged against the baseline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Regressions {
    /// The baseline's results file as given; null when the run had none.
    pub baseline: Option<String>,
    /// What differs between the baseline and this run besides their figures (scenario, target,
    /// module digest, load shape, the baseline's own warnings): shown, never refused.
    #[serde(default)]
    pub notes: Vec<String>,
    /// One per rule, in file order.
    pub rules: Vec<RegressionOutcome>,
}

/// How a rule came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within its limit, or beyond it without a significant change.
    Passed,
    /// Beyond its limit and significant (or no data in this run): fails the verdict.
    Failed,
    /// No baseline to judge it against (or merged results): fails nothing.
    NotEvaluated,
}

/// One rule, judged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RegressionOutcome {
    /// The rule as written.
    pub expression: String,
    /// The figure it limits, as compare names its row.
    pub figure: String,
    /// Passed, failed or not evaluated.
    pub status: Status,
    /// The baseline's value, in the row's unit (µs, count, fraction…); null when not evaluated.
    pub base: Option<f64>,
    /// This run's value.
    pub new: Option<f64>,
    /// `new − base`.
    pub change: Option<f64>,
    /// `change / |base|`; null when `base` is 0 or not evaluated.
    pub relative: Option<f64>,
    /// Whether the change is beyond the rule's limit.
    pub beyond_limit: Option<bool>,
    /// Compare's verdict on the change (test and jitter floor); null when not tested.
    pub significant: Option<bool>,
    /// The whole judgement in words: `round_trip p99 1.63ms → 20.56ms, +18.93ms (+1161.3%),
    /// significant: fails`.
    pub detail: String,
}

impl Regressions {
    /// The rules that failed.
    pub fn failed(&self) -> impl Iterator<Item = &RegressionOutcome> {
        self.rules
            .iter()
            .filter(|rule| rule.status == Status::Failed)
    }

    /// Every rule marked not evaluated, `why`: results judged elsewhere (a merge) cannot keep a
    /// judgement made on other figures.
    pub fn not_evaluated(&mut self, why: &str) {
        for rule in &mut self.rules {
            *rule = RegressionOutcome {
                expression: rule.expression.clone(),
                figure: rule.figure.clone(),
                ..unjudged(why)
            };
        }
    }
}

fn unjudged(why: &str) -> RegressionOutcome {
    RegressionOutcome {
        expression: String::new(),
        figure: String::new(),
        status: Status::NotEvaluated,
        base: None,
        new: None,
        change: None,
        relative: None,
        beyond_limit: None,
        significant: None,
        detail: format!("not evaluated ({why})"),
    }
}

/// Judge `rules` on `report` against `baseline`; `None` when there are no rules.
pub fn judge(
    rules: &[Regression],
    baseline: Option<&Baseline>,
    report: &Report,
) -> Option<Regressions> {
    if rules.is_empty() {
        return None;
    }
    let Some(baseline) = baseline else {
        let rules = rules
            .iter()
            .map(|rule| RegressionOutcome {
                expression: rule.expression.clone(),
                figure: rule.figure.clone(),
                ..unjudged("no baseline")
            })
            .collect();
        return Some(Regressions {
            baseline: None,
            notes: Vec::new(),
            rules,
        });
    };
    let comparison = compare(
        &baseline.file,
        &baseline.report,
        &report.scenario.file,
        report,
    );
    // The new run's own warnings and partiality are in its report already.
    let notes = comparison
        .notes
        .iter()
        .filter(|note| note.contains(" differ: ") || note.starts_with("base "))
        .cloned()
        .collect();
    let rules = rules
        .iter()
        .map(|rule| judge_one(rule, &comparison, baseline))
        .collect();
    Some(Regressions {
        baseline: Some(baseline.file.clone()),
        notes,
        rules,
    })
}

/// Whether `report` has `rule`'s figure: a row when compared with itself, or a count compare
/// leaves out when it is 0.
fn has_figure(rows: &Comparison, rule: &Regression) -> bool {
    rule.absent_when_zero() || rows.row(&rule.figure).is_some()
}

fn judge_one(rule: &Regression, comparison: &Comparison, baseline: &Baseline) -> RegressionOutcome {
    let outcome = |status, detail: String| RegressionOutcome {
        expression: rule.expression.clone(),
        figure: rule.figure.clone(),
        status,
        detail,
        ..unjudged("")
    };
    let Some(row) = comparison.row(&rule.figure) else {
        if rule.absent_when_zero() {
            return outcome(
                Status::Passed,
                format!("{} 0 in both runs, no change: passes", rule.figure),
            );
        }
        let itself = compare("", &baseline.report, "", &baseline.report);
        if !has_figure(&itself, rule) {
            return outcome(
                Status::NotEvaluated,
                format!("not evaluated (the baseline has no {})", rule.figure),
            );
        }
        return outcome(
            Status::Failed,
            format!(
                "{}: no data in this run (the baseline has it): fails",
                rule.figure
            ),
        );
    };
    let (measured, limit) = match rule.limit {
        Limit::Relative(limit) => {
            let relative = row.relative.unwrap_or(match row.change {
                change if change > 0.0 => f64::INFINITY,
                change if change < 0.0 => f64::NEG_INFINITY,
                _ => 0.0,
            });
            (relative, limit)
        }
        Limit::Absolute(limit) => (row.change, limit),
    };
    let beyond = !rule.bound.holds(measured, limit);
    let (status, judgement) = match (beyond, row.significant, row.beyond_sampling_noise) {
        (false, Some(true), _) => (
            Status::Passed,
            "significant, within the limit: passes".to_owned(),
        ),
        (false, _, _) => (Status::Passed, "within the limit: passes".to_owned()),
        (true, Some(true), _) => (Status::Failed, "significant: fails".to_owned()),
        (true, Some(false), Some(true)) => (
            Status::Passed,
            format!(
                "beyond the limit but within the generator's jitter ({} floor): not significant: passes",
                row.noise_floor.map_or("?".into(), human_micros)
            ),
        ),
        (true, Some(false), _) => (
            Status::Passed,
            "beyond the limit but not significant: passes".to_owned(),
        ),
        (true, None, _) => (
            Status::Passed,
            "beyond the limit but not tested (see the notes): passes".to_owned(),
        ),
    };
    RegressionOutcome {
        base: Some(row.base),
        new: Some(row.new),
        change: Some(row.change),
        relative: row.relative,
        beyond_limit: Some(beyond),
        significant: row.significant,
        ..outcome(
            status,
            format!(
                "{} {} → {}, {}, {judgement}",
                row.figure,
                value(row.unit, row.base),
                value(row.unit, row.new),
                change(row)
            ),
        )
    }
}

/// Refuse, before the run, a rule whose figure `baseline` lacks (named at the rule's
/// `file:line:column`, with the nearest figure it has).
pub fn check_baseline(
    rules: &[Regression],
    file: &Path,
    baseline: &Baseline,
) -> Result<(), ConfigError> {
    if rules.is_empty() {
        return Ok(());
    }
    let itself = compare("", &baseline.report, "", &baseline.report);
    for rule in rules {
        if has_figure(&itself, rule) {
            continue;
        }
        let figures = itself.rows.iter().map(|row| row.figure.as_str());
        let named: Vec<String> = baseline
            .report
            .round_trips_by_name
            .keys()
            .map(|name| format!("`round_trip{{{name}}}`"))
            .collect();
        let hint = match closest(&rule.figure, figures) {
            Some(near) => format!("did you mean `{near}`?"),
            None if rule.figure.starts_with("round_trip{") && named.is_empty() => {
                "its requests had no names".to_owned()
            }
            None if rule.figure.starts_with("round_trip{") => {
                format!("its named requests are {}", named.join(", "))
            }
            None => "`volley compare BASE BASE` lists the figures it has".to_owned(),
        };
        return Err(ConfigError::at(
            file,
            rule.position,
            format!(
                "regression `{}`: the baseline {} has no `{}` (its run recorded none; {hint}); name a figure the baseline has, or run the baseline again with a scenario that records it",
                rule.expression, baseline.file, rule.figure
            ),
        ));
    }
    Ok(())
}

/// A value in its unit.
fn value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Micros => human_micros(value),
        Unit::Count => format!("{value:.0}"),
        Unit::PerSecond => format!("{value:.1}/s"),
        Unit::Fraction => format!("{:.3}%", value * 100.0),
        Unit::Metric | Unit::Ratio | Unit::Bytes => {
            let text = format!("{value:.3}");
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
    }
}

/// `+18.93ms (+1161.3%)`, `-0.500pp`, `0`.
fn change(row: &Row) -> String {
    if row.change == 0.0 {
        return "0".into();
    }
    let sign = if row.change > 0.0 { "+" } else { "-" };
    let size = row.change.abs();
    if row.unit == Unit::Fraction {
        return format!("{sign}{:.3}pp", size * 100.0);
    }
    match row.relative {
        Some(relative) => format!(
            "{sign}{} ({sign}{:.1}%)",
            value(row.unit, size),
            relative.abs() * 100.0
        ),
        None => format!("{sign}{} (from 0)", value(row.unit, size)),
    }
}

impl Report {
    /// Judge `rules` against `baseline` on these results, store the outcome (`regressions`) and
    /// judge the verdict again.
    pub fn apply_regressions(&mut self, rules: &[Regression], baseline: Option<&Baseline>) {
        self.regressions = judge(rules, baseline, self);
        self.rejudge();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::counters::CounterValues;
    use crate::measure::stats::{CheckCount, Totals};
    use crate::results::report::{RunInfo, ScenarioInfo};

    /// A report of 10,000 round trips spread over ±50 % of `centre` µs and a check that passed
    /// `passed` of 10,000 times.
    fn report(centre: u64, passed: u64) -> Report {
        let mut totals = Totals::default();
        for i in 0..10_000u64 {
            let value = centre / 2 + centre * ((i * 7_919) % 1_000 + (i * 104_729) % 1_000) / 2_000;
            totals.round_trips.record_micros(value);
        }
        totals.checks.insert(
            "echo".into(),
            CheckCount {
                passed,
                failed: 10_000 - passed,
            },
        );
        let counters = CounterValues {
            attempted: 100,
            established: 100,
            messages_sent: 10_000,
            messages_received: 10_000,
            ..Default::default()
        };
        let run = RunInfo {
            elapsed_s: 10.0,
            connections: 100,
            ..Default::default()
        };
        let scenario = ScenarioInfo {
            name: "echo".into(),
            file: "echo.yaml".into(),
            ..Default::default()
        };
        Report::build(scenario, run, counters, &totals, Default::default())
    }

    fn rules(texts: &[&str]) -> Result<Vec<Regression>, String> {
        texts.iter().map(|text| Regression::parse(text)).collect()
    }

    fn baseline(report: Report) -> Baseline {
        Baseline {
            file: "base.json".into(),
            report,
        }
    }

    #[test]
    fn a_run_against_itself_passes_every_rule() -> Result<(), String> {
        let run = report(1_000, 10_000);
        let rules = rules(&[
            "round_trip p99 < +10%",
            "checks pass_rate > -0.1pp",
            "throughput > -5%",
            "scenario_errors < +1",
        ])?;
        let mut new = run.clone();
        new.apply_regressions(&rules, Some(&baseline(run)));
        let judged = new.regressions.clone().ok_or("no regressions")?;
        assert!(
            judged.rules.iter().all(|r| r.status == Status::Passed),
            "{judged:#?}"
        );
        assert!(new.verdict.passed, "{:?}", new.verdict.reasons);
        assert!(
            judged.rules[3].detail.contains("0 in both runs"),
            "{judged:#?}"
        );
        Ok(())
    }

    #[test]
    fn a_slower_run_fails_a_significant_rule_beyond_its_limit() -> Result<(), String> {
        let base = baseline(report(1_000, 9_990));
        let mut new = report(21_000, 9_990);
        let rules = rules(&["round_trip p99 < +10%", "round_trip p50 < +100ms"])?;
        new.apply_regressions(&rules, Some(&base));
        let judged = new.regressions.clone().ok_or("no regressions")?;
        let failed = &judged.rules[0];
        assert_eq!(failed.status, Status::Failed, "{failed:#?}");
        assert_eq!(
            (failed.beyond_limit, failed.significant),
            (Some(true), Some(true))
        );
        assert!(
            failed.detail.starts_with("round_trip p99 ")
                && failed.detail.ends_with("significant: fails"),
            "{}",
            failed.detail
        );
        // Significant, but within its (absolute) limit.
        assert_eq!(judged.rules[1].status, Status::Passed, "{judged:#?}");
        assert_eq!(new.verdict.exit_code, 1);
        assert!(
            new.verdict
                .reasons
                .iter()
                .any(|reason| reason.starts_with("regression `round_trip p99 < +10%`: ")),
            "{:?}",
            new.verdict.reasons
        );
        Ok(())
    }

    #[test]
    fn beyond_the_limit_but_not_significant_passes() -> Result<(), String> {
        // 10 of 10,000 checks failing against 12: −0.02pp is beyond −0.01pp, but noise.
        let base = baseline(report(1_000, 9_990));
        let mut new = report(1_000, 9_988);
        new.apply_regressions(&rules(&["checks pass_rate > -0.01pp"])?, Some(&base));
        let rule = &new.regressions.clone().ok_or("none")?.rules[0];
        assert_eq!(
            (rule.status, rule.beyond_limit, rule.significant),
            (Status::Passed, Some(true), Some(false)),
            "{rule:#?}"
        );
        assert!(
            rule.detail
                .ends_with("beyond the limit but not significant: passes"),
            "{}",
            rule.detail
        );
        Ok(())
    }

    #[test]
    fn without_a_baseline_the_rules_are_not_evaluated_and_fail_nothing() -> Result<(), String> {
        let mut run = report(1_000, 10_000);
        run.apply_regressions(&rules(&["round_trip p99 < +10%"])?, None);
        let judged = run.regressions.clone().ok_or("none")?;
        assert_eq!(judged.rules[0].status, Status::NotEvaluated);
        assert_eq!(judged.rules[0].detail, "not evaluated (no baseline)");
        assert!(run.verdict.passed);
        run.apply_regressions(&[], None);
        assert!(run.regressions.is_none());
        Ok(())
    }

    #[test]
    fn a_figure_the_baseline_lacks_is_refused_at_the_rule() -> Result<(), String> {
        let base = baseline(report(1_000, 10_000));
        let mut rules = rules(&["round_trip{login} p99 < +10%"])?;
        rules[0].position = Some((14, 5));
        let error = check_baseline(&rules, Path::new("s.yaml"), &base)
            .err()
            .ok_or("accepted")?
            .to_string();
        assert!(
            error.starts_with(
                "s.yaml:14:5: regression `round_trip{login} p99 < +10%`: the baseline base.json has no `round_trip{login} p99`"
            ),
            "{error}"
        );
        assert!(error.contains("its requests had no names"), "{error}");
        let mut near = self::rules(&["round_trip p99.9 < +10%"])?;
        near[0].figure = "round_trip p99.99".into();
        let error = check_baseline(&near, Path::new("s.yaml"), &base)
            .err()
            .ok_or("accepted")?
            .to_string();
        assert!(
            error.contains("did you mean `round_trip p99.9`?"),
            "{error}"
        );
        let fine = self::rules(&["round_trip p99 < +10%", "failures \"x\" < +1"])?;
        check_baseline(&fine, Path::new("s.yaml"), &base).map_err(|e| e.to_string())?;
        Ok(())
    }

    #[test]
    fn differences_between_the_runs_are_notes_not_refusals() -> Result<(), String> {
        let base = baseline(report(1_000, 10_000));
        let mut new = report(1_000, 10_000);
        new.scenario.target = "ws://10.0.0.1:9001/".into();
        new.apply_regressions(&rules(&["round_trip p99 < +10%"])?, Some(&base));
        let judged = new.regressions.clone().ok_or("none")?;
        assert!(
            judged
                .notes
                .iter()
                .any(|note| note.starts_with("targets differ")),
            "{judged:#?}"
        );
        assert_eq!(judged.rules[0].status, Status::Passed);
        Ok(())
    }
}
