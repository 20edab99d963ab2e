//! The verdict: whether a run passed, and why not, from its figures and threshold outcomes. The
//! exit code follows from it (0 passed, 1 failed). Judged at the end of a run and again after a
//! merge; the rules themselves are evaluated in `thresholds`.

use crate::config::threshold::Threshold;
use crate::measure::collector::Collector;
use crate::measure::counters::CounterValues;
use crate::measure::process::ProcessStats;
use crate::measure::sampling::Crossed;
use crate::results::report::{
    CheckStats, ConnectionStats, Outcome, Report, RunInfo, ScenarioInfo, Verdict,
};
use crate::results::thresholds::evaluate;
use std::collections::BTreeMap;

impl Verdict {
    /// Judge a report's figures.
    pub fn judge(
        connections: &ConnectionStats,
        checks: &[CheckStats],
        reply_timeouts: u64,
        scenario_errors: &BTreeMap<String, u64>,
        thresholds: &[Outcome],
    ) -> Verdict {
        let mut reasons = Vec::new();
        for check in checks.iter().filter(|check| check.failed > 0) {
            reasons.push(format!(
                "check \"{}\" failed {} of {} times",
                check.name,
                check.failed,
                check.failed + check.passed
            ));
        }
        let count =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if reply_timeouts > 0 {
            let replies = count(reply_timeouts, "reply", "replies");
            reasons.push(format!("{replies} missed their deadline"));
        }
        let scenario_failures: u64 = scenario_errors.values().sum();
        if scenario_failures > 0 {
            let connections = count(scenario_failures, "connection", "connections");
            reasons.push(format!("{connections} failed in the scenario"));
        }
        if connections.failed > scenario_failures {
            let failed = count(
                connections.failed - scenario_failures,
                "connection",
                "connections",
            );
            reasons.push(format!("{failed} failed"));
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
        }
    }
}

impl Report {
    /// Evaluate `thresholds` on these results and judge the verdict again.
    pub fn apply_thresholds(&mut self, thresholds: &[crate::config::threshold::Threshold]) {
        let figures = self.figures();
        self.thresholds = thresholds
            .iter()
            .map(|threshold| evaluate(threshold, &figures))
            .collect();
        self.rejudge();
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
}
