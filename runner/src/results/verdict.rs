//! The verdict: whether a run passed, and why not, from its figures, threshold outcomes and
//! regression outcomes (judged in `regressions`). The
//! exit code follows from it (0 passed, 1 failed). Judged at the end of a run and again after a
//! merge; the rules themselves are evaluated in `thresholds`. [`decisions`] says how each kind of
//! failure was judged (a threshold's error budget or the strict default), for the verdict and for
//! `render::junit`, so the two cannot disagree.

use crate::config::threshold::{Subject, Threshold};
use crate::measure::collector::Collector;
use crate::measure::counters::CounterValues;
use crate::measure::process::ProcessStats;
use crate::measure::sampling::Crossed;
use crate::results::report::{
    CheckStats, ConnectionStats, Outcome, Report, RunInfo, ScenarioInfo, Verdict,
};
use crate::results::thresholds::evaluate;
use std::collections::BTreeMap;

/// The kinds of failure a threshold can take over from the strict default (its error budget).
#[derive(Default)]
struct Budgets {
    connections: Option<String>,
    checks: Option<String>,
    check: BTreeMap<String, String>,
    reply_timeouts: Option<String>,
    scenario_errors: Option<String>,
}

impl Budgets {
    /// Which kinds the thresholds cover, by the rule (the first one) that covers each.
    fn of(thresholds: &[Outcome]) -> Budgets {
        let mut budgets = Budgets::default();
        for outcome in thresholds {
            let Ok(rule) = Threshold::parse(&outcome.expression, false) else {
                continue;
            };
            let name = format!("threshold `{}`", outcome.expression);
            let slot = match rule.subject {
                Subject::Connections => &mut budgets.connections,
                Subject::Checks => &mut budgets.checks,
                Subject::ReplyTimeouts => &mut budgets.reply_timeouts,
                Subject::ScenarioErrors => &mut budgets.scenario_errors,
                Subject::Check(check) => {
                    budgets.check.entry(check).or_insert(name);
                    continue;
                }
                _ => continue,
            };
            slot.get_or_insert(name);
        }
        budgets
    }
}

const STRICT: &str = "strict (no threshold covers it: any failure fails the run)";

/// A kind of failure the verdict judges, with or without an error budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The check of this name.
    Check(String),
    /// Replies that missed their deadline.
    ReplyTimeouts,
    /// Connections that failed in the scenario.
    ScenarioErrors,
    /// Connections that failed for any other reason.
    Connections,
}

/// How the verdict judged one kind of failure that occurred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Which kind.
    pub kind: Kind,
    /// How many failures of that kind.
    pub failures: u64,
    /// The threshold (`threshold `…``) that took the kind over as its error budget; `None`: the
    /// strict default, so these failures fail the run.
    pub budget: Option<String>,
    /// The verdict reason these failures give when they are strict.
    pub reason: String,
}

/// Every kind of failure that occurred (more than zero), with the rule that decides it: a
/// threshold that covers it (`connections …`, `checks …`, `check "NAME" …`, `reply_timeouts …`,
/// `scenario_errors …`) or the strict default.
pub fn decisions(
    connections: &ConnectionStats,
    checks: &[CheckStats],
    reply_timeouts: u64,
    scenario_errors: &BTreeMap<String, u64>,
    thresholds: &[Outcome],
) -> Vec<Decision> {
    let budgets = Budgets::of(thresholds);
    let mut decisions = Vec::new();
    let mut decide = |kind: Kind, failures: u64, budget: Option<&String>, reason: String| {
        if failures > 0 {
            decisions.push(Decision {
                kind,
                failures,
                budget: budget.cloned(),
                reason,
            });
        }
    };
    let count = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    for check in checks {
        let budget = budgets.check.get(&check.name).or(budgets.checks.as_ref());
        decide(
            Kind::Check(check.name.clone()),
            check.failed,
            budget,
            format!(
                "check \"{}\" failed {} of {} times",
                check.name,
                check.failed,
                check.failed + check.passed
            ),
        );
    }
    decide(
        Kind::ReplyTimeouts,
        reply_timeouts,
        budgets.reply_timeouts.as_ref(),
        format!(
            "{} missed their deadline",
            count(reply_timeouts, "reply", "replies")
        ),
    );
    let scenario_failures: u64 = scenario_errors.values().sum();
    decide(
        Kind::ScenarioErrors,
        scenario_failures,
        budgets.scenario_errors.as_ref(),
        format!(
            "{} failed in the scenario",
            count(scenario_failures, "connection", "connections")
        ),
    );
    let other_failures = connections.failed.saturating_sub(scenario_failures);
    decide(
        Kind::Connections,
        other_failures,
        budgets.connections.as_ref(),
        format!(
            "{} failed",
            count(other_failures, "connection", "connections")
        ),
    );
    decisions
}

impl Kind {
    /// The kind as the verdict's `rules` name it.
    fn name(&self) -> String {
        match self {
            Kind::Check(name) => format!("check \"{name}\""),
            Kind::ReplyTimeouts => "reply timeouts".into(),
            Kind::ScenarioErrors => "scenario errors".into(),
            Kind::Connections => "connections".into(),
        }
    }
}

impl Verdict {
    /// Judge a report's figures. A kind of failure that a threshold covers (`connections …`,
    /// `checks …`, `check "NAME" …`, `reply_timeouts …`, `scenario_errors …`) is judged by that
    /// threshold alone; kinds no threshold covers keep the strict default.
    pub fn judge(
        connections: &ConnectionStats,
        checks: &[CheckStats],
        reply_timeouts: u64,
        scenario_errors: &BTreeMap<String, u64>,
        thresholds: &[Outcome],
    ) -> Verdict {
        let mut reasons = Vec::new();
        let mut rules = Vec::new();
        // Only kinds that failed at all need a decision; the rule that made it is listed.
        for decision in decisions(
            connections,
            checks,
            reply_timeouts,
            scenario_errors,
            thresholds,
        ) {
            let (kind, failures) = (decision.kind.name(), decision.failures);
            match &decision.budget {
                Some(rule) => rules.push(format!("{kind}: {failures} failed, judged by {rule}")),
                None => {
                    rules.push(format!("{kind}: {failures} failed, {STRICT}"));
                    reasons.push(decision.reason);
                }
            }
        }
        if connections.attempted == 0 {
            reasons.push("no connection was attempted".into());
        }
        for outcome in thresholds.iter().filter(|outcome| !outcome.passed) {
            reasons.push(format!(
                "threshold `{}` crossed (actual {})",
                outcome.expression, outcome.actual
            ));
        }
        let passed = reasons.is_empty();
        Verdict {
            passed,
            exit_code: if passed { 0 } else { 1 },
            reasons,
            rules,
        }
    }
}

impl Report {
    /// Evaluate `thresholds` on these results and judge the verdict again.
    pub fn apply_thresholds(&mut self, thresholds: &[crate::config::threshold::Threshold]) {
        let figures = self.figures();
        self.thresholds = thresholds
            .iter()
            .map(|threshold| match &threshold.population {
                None => evaluate(threshold, &figures),
                Some(name) => match self.populations.get(name) {
                    Some(population) => evaluate(threshold, &population.figures()),
                    None => Outcome {
                        expression: threshold.expression.clone(),
                        actual: format!("no data (these results have no population `{name}`)"),
                        passed: false,
                        abort: threshold.abort,
                    },
                },
            })
            .collect();
        self.rejudge();
    }

    /// How each kind of failure in these results was judged (the same decisions as the verdict's).
    pub fn decisions(&self) -> Vec<Decision> {
        decisions(
            &self.connections,
            &self.checks,
            self.reply_timeouts,
            &self.scenario_errors,
            &self.thresholds,
        )
    }

    /// Recompute the verdict from the figures and threshold outcomes.
    pub fn rejudge(&mut self) {
        self.verdict = Verdict::judge(
            &self.connections,
            &self.checks,
            self.reply_timeouts,
            &self.scenario_errors,
            &self.thresholds,
        );
        if let Some(regressions) = &self.regressions {
            for rule in regressions.failed() {
                self.verdict
                    .reasons
                    .push(format!("regression `{}`: {}", rule.expression, rule.detail));
            }
            if !self.verdict.reasons.is_empty() {
                self.verdict.passed = false;
                self.verdict.exit_code = 1;
            }
        }
        if let Some(failure) = self.search.as_ref().and_then(|search| search.failure()) {
            self.verdict.reasons.push(failure);
            self.verdict.passed = false;
            self.verdict.exit_code = 1;
        }
        if let Some(limit) = &self.run.max_duration_reached {
            self.verdict.reasons.push(format!(
                "the run reached load.max_duration ({limit}) before every virtual user finished its iterations"
            ));
            self.verdict.passed = false;
            self.verdict.exit_code = 1;
        }
    }
}

/// The first `abort: true` rule crossed by the results so far (rules with no data yet wait).
pub fn crossed_abort_rule(rules: &[Threshold], collector: &Collector) -> Option<Crossed> {
    let provisional = Report::build(
        ScenarioInfo::default(),
        RunInfo::default(),
        CounterValues::read(&collector.counters),
        &collector.snapshot(),
        ProcessStats::default(),
    );
    let figures = provisional.figures();
    rules
        .iter()
        .map(|rule| evaluate(rule, &figures))
        .find(|outcome| !outcome.passed && !outcome.actual.starts_with("no data"))
        .map(|outcome| Crossed {
            expression: outcome.expression,
            actual: outcome.actual,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_fails_the_verdict_by_name() {
        let connections = ConnectionStats {
            attempted: 2,
            established: 2,
            failed: 0,
            failed_by_reason: BTreeMap::new(),
            closed_by_server: 0,
            peak_open: 2,
            dropped_arrivals: 0,
            arrivals: 0,
            pending_at_end: 0,
            expected_rejections: 0,
            goodbyes: 0,
            goodbye_timeouts: 0,
            examples: BTreeMap::new(),
        };
        let checks = vec![CheckStats {
            name: "echo".into(),
            passed: 3,
            failed: 1,
        }];
        let verdict = Verdict::judge(&connections, &checks, 0, &BTreeMap::new(), &[]);
        assert_eq!(verdict.exit_code, 1);
        assert_eq!(verdict.reasons, vec!["check \"echo\" failed 1 of 4 times"]);
        let verdict = Verdict::judge(&connections, &[], 0, &BTreeMap::new(), &[]);
        assert!(verdict.passed);
    }

    fn connections(attempted: u64, failed: u64) -> ConnectionStats {
        ConnectionStats {
            attempted,
            established: attempted - failed,
            failed,
            failed_by_reason: BTreeMap::new(),
            closed_by_server: 0,
            peak_open: attempted,
            dropped_arrivals: 0,
            arrivals: 0,
            pending_at_end: 0,
            expected_rejections: 0,
            goodbyes: 0,
            goodbye_timeouts: 0,
            examples: BTreeMap::new(),
        }
    }

    fn outcome(expression: &str, passed: bool) -> Outcome {
        Outcome {
            expression: expression.into(),
            actual: String::new(),
            passed,
            abort: false,
        }
    }

    #[test]
    fn a_threshold_is_the_error_budget_of_the_kind_it_covers() {
        let budget = "connections failure_rate < 0.1%";
        // 3 failures in 10,000 are within 0.1 %: the threshold holds, and it alone decides.
        let verdict = Verdict::judge(
            &connections(10_000, 3),
            &[],
            0,
            &BTreeMap::new(),
            &[outcome(budget, true)],
        );
        assert!(verdict.passed, "{:?}", verdict.reasons);
        assert_eq!(
            verdict.rules,
            vec![format!(
                "connections: 3 failed, judged by threshold `{budget}`"
            )]
        );
        // Without the threshold the strict default fails the run.
        let strict = Verdict::judge(&connections(10_000, 3), &[], 0, &BTreeMap::new(), &[]);
        assert!(!strict.passed);
        assert!(strict.rules[0].contains("strict"), "{:?}", strict.rules);
        // A budget for connections does not cover scenario errors.
        let errors = BTreeMap::from([("scenario: panicked in on-open".to_owned(), 1)]);
        let mixed = Verdict::judge(
            &connections(10_000, 3),
            &[],
            0,
            &errors,
            &[outcome(budget, true)],
        );
        assert_eq!(mixed.reasons, vec!["1 connection failed in the scenario"]);
    }
}
