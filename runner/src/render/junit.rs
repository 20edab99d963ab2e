//! JUnit XML for CI systems: one test case per check, per threshold and per regression rule (a
//! rule not evaluated for want of a baseline is `<skipped>`), plus one for connection
//! failures and one for scenario errors (and, for a capacity search, one that fails when the
//! search found no answer, its result in `<system-out>`), so a CI dashboard shows which rule broke; the round trips
//! of named requests go in as suite properties (`round_trip{NAME} p99` …). Its failures are the
//! verdict's: failures an error budget allowed are said in `<system-out>`, and the budget's
//! threshold is the case that fails (the decisions come from `results::verdict`). Pure rendering
//! of a [`Report`].

use crate::config::units::human_micros;
use crate::results::regressions::Status;
use crate::results::report::Report;
use crate::results::verdict::{Decision, Kind};
use std::fmt::Write as _;

/// `text` escaped for an XML 1.0 attribute or text node. Characters XML 1.0 forbids even as
/// references (control characters but tab, newline and carriage return; U+FFFE, U+FFFF) are written
/// as visible `\u{…}` text, so a check name or panic message with a stray byte cannot make the
/// document invalid.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// One test case: its class, its name, and what it says.
struct Case {
    class: String,
    name: String,
    /// `<failure message="…"/>`: the case failed the run.
    failure: Option<String>,
    /// `<system-out>`: failures an error budget allowed (the run did not fail because of them),
    /// or how a regression rule that held was judged.
    allowed: Option<String>,
    /// `<skipped message="…"/>`: a regression rule not evaluated (no baseline).
    skipped: Option<String>,
}

impl Case {
    fn new(class: &str, name: &str, failure: Option<String>) -> Case {
        Case {
            class: class.into(),
            name: name.into(),
            failure,
            allowed: None,
            skipped: None,
        }
    }

    /// A case for one kind of failure the verdict judges: `text` is a `<failure>` when the
    /// verdict held these failures strict, and only said (with the rule that allowed them) when
    /// an error budget took them over; that threshold's own case fails if it was crossed.
    fn judged(class: &str, name: &str, decision: Option<&Decision>, text: String) -> Case {
        let mut case = Case::new(class, name, None);
        match decision {
            None => {}
            Some(decision) => {
                let text = if text.is_empty() {
                    decision.reason.clone()
                } else {
                    text
                };
                match &decision.budget {
                    None => case.failure = Some(text),
                    Some(rule) => {
                        case.allowed = Some(format!("{text} (allowed: judged by {rule})"));
                    }
                }
            }
        }
        case
    }
}

/// Render `report` as a JUnit `<testsuites>` document. Its failures are exactly the verdict's
/// reasons: a case fails when the verdict counted it against the run, never for failures an
/// error budget allowed.
pub fn render(report: &Report) -> String {
    let decisions = report.decisions();
    let decision = |kind: &Kind| decisions.iter().find(|decision| decision.kind == *kind);
    let mut cases: Vec<Case> = Vec::new();
    for check in &report.checks {
        let text = format!(
            "failed {} of {} times",
            check.failed,
            check.passed + check.failed
        );
        let kind = Kind::Check(check.name.clone());
        cases.push(Case::judged("checks", &check.name, decision(&kind), text));
    }
    for outcome in &report.thresholds {
        let failure = (!outcome.passed).then(|| format!("crossed: actual {}", outcome.actual));
        cases.push(Case::new("thresholds", &outcome.expression, failure));
    }
    if let Some(regressions) = &report.regressions {
        for rule in &regressions.rules {
            let mut case = Case::new("regressions", &rule.expression, None);
            match rule.status {
                Status::Failed => case.failure = Some(rule.detail.clone()),
                Status::Passed => case.allowed = Some(rule.detail.clone()),
                Status::NotEvaluated => case.skipped = Some(rule.detail.clone()),
            }
            cases.push(case);
        }
    }
    let failures = &report.connections.failed_by_reason;
    let scenario_errors = &report.scenario_errors;
    // Scenario errors have their own case; the connections case lists the other reasons.
    let text = failures
        .iter()
        .filter(|(reason, _)| !scenario_errors.contains_key(*reason))
        .map(|(reason, count)| format!("{count}× {reason}"))
        .collect::<Vec<_>>()
        .join("; ");
    cases.push(Case::judged(
        "connections",
        "connections did not fail",
        decision(&Kind::Connections),
        text,
    ));
    let text = scenario_errors
        .iter()
        .map(|(message, count)| format!("{count}× {message}"))
        .collect::<Vec<_>>()
        .join("; ");
    cases.push(Case::judged(
        "scenario",
        "scenario did not trap",
        decision(&Kind::ScenarioErrors),
        text,
    ));
    let text = format!("{} replies missed their deadline", report.reply_timeouts);
    cases.push(Case::judged(
        "requests",
        "replies met their deadlines",
        decision(&Kind::ReplyTimeouts),
        text,
    ));
    let failure =
        (report.connections.attempted == 0).then(|| "no connection was attempted".to_owned());
    cases.push(Case::new(
        "connections",
        "connections were attempted",
        failure,
    ));
    if report.run.iterations.is_some() {
        let failure = report.run.max_duration_reached.as_ref().map(|limit| {
            format!("the run reached load.max_duration ({limit}) with iterations left")
        });
        cases.push(Case::new(
            "run",
            "iterations finished within load.max_duration",
            failure,
        ));
    }
    if let Some(search) = &report.search {
        // Fails exactly when the search adds its reason to the verdict (no answer found).
        let mut case = Case::new(
            "search",
            "capacity search found an answer",
            search.failure(),
        );
        if case.failure.is_none() {
            case.allowed = Some(search.sentence());
        }
        cases.push(case);
    }
    let failed = cases.iter().filter(|case| case.failure.is_some()).count();
    let skipped = cases.iter().filter(|case| case.skipped.is_some()).count();
    let skipped = if skipped > 0 {
        format!(" skipped=\"{skipped}\"")
    } else {
        String::new()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let partial = report
        .partial_note()
        .map_or_else(String::new, |note| format!(" (PARTIAL: {note})"));
    let suite = xml(&format!("volley: {}{partial}", report.scenario.name));
    let _ = writeln!(
        out,
        "<testsuites name=\"{suite}\" tests=\"{}\" failures=\"{failed}\"{skipped} time=\"{}\">",
        cases.len(),
        report.run.elapsed_s
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failed}\"{skipped} time=\"{}\">",
        cases.len(),
        report.run.elapsed_s
    );
    if !report.round_trips_by_name.is_empty() || !report.latency.is_empty() {
        out.push_str("    <properties>\n");
        let named = report
            .round_trips_by_name
            .iter()
            .map(|(name, d)| (format!("round_trip{{{name}}}"), d))
            .chain(
                report
                    .latency
                    .iter()
                    .map(|(name, d)| (format!("latency{{{name}}}"), d)),
            );
        for (name, d) in named {
            let figures = [
                ("count", d.count.to_string()),
                ("p50", human_micros(d.p50)),
                ("p90", human_micros(d.p90)),
                ("p99", human_micros(d.p99)),
                ("max", human_micros(d.max)),
            ];
            for (stat, value) in figures {
                let _ = writeln!(
                    out,
                    "      <property name=\"{}\" value=\"{}\"/>",
                    xml(&format!("{name} {stat}")),
                    xml(&value)
                );
            }
        }
        out.push_str("    </properties>\n");
    }
    for case in &cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml(&case.class),
            xml(&case.name)
        );
        if let Some(message) = &case.skipped {
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                xml(message)
            );
            continue;
        }
        match (&case.failure, &case.allowed) {
            (Some(message), _) => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\"/>\n    </testcase>",
                    xml(message)
                );
            }
            (None, Some(allowed)) => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    xml(allowed)
                );
            }
            (None, None) => {
                let _ = writeln!(out, "/>");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::results::report::{CheckStats, Outcome};

    /// The HTML report's sample results with `checks` and a budget `rule` that held or not, judged.
    fn judged(checks: Vec<CheckStats>, failed_connections: u64, rules: &[(&str, bool)]) -> Report {
        let sample = include_str!("report_html/sample-results.json");
        let mut report: Report = serde_json::from_str(sample).unwrap();
        report.checks = checks;
        report.scenario_errors.clear();
        report.reply_timeouts = 0;
        report.connections.failed = failed_connections;
        report.connections.failed_by_reason.clear();
        if failed_connections > 0 {
            report
                .connections
                .failed_by_reason
                .insert("connect: connection refused".into(), failed_connections);
        }
        report.thresholds = rules
            .iter()
            .map(|(expression, passed)| Outcome {
                expression: (*expression).into(),
                actual: "–".into(),
                passed: *passed,
                abort: false,
            })
            .collect();
        report.rejudge();
        report
    }

    fn case<'a>(xml: &'a str, name: &str) -> &'a str {
        let start = xml.find(&format!("name=\"{name}\"")).unwrap();
        let end = xml[start..]
            .find("<testcase ")
            .map_or(xml.len(), |end| start + end);
        &xml[start..end]
    }

    fn echo(failed: u64) -> Vec<CheckStats> {
        vec![CheckStats {
            name: "echo".into(),
            passed: 1000 - failed,
            failed,
        }]
    }

    #[test]
    fn failures_a_budget_allowed_are_said_not_failed() {
        // 2 of 1000 checks and 3 connections failed, within their budgets: exit 0, no <failure>.
        let budgets = [
            ("checks pass_rate > 99%", true),
            ("connections failure_rate < 5%", true),
        ];
        let report = judged(echo(2), 3, &budgets);
        assert!(report.verdict.passed, "{:?}", report.verdict);
        let xml = render(&report);
        assert!(!xml.contains("<failure"), "{xml}");
        assert!(xml.contains("failures=\"0\""), "{xml}");
        assert!(
            case(&xml, "echo").contains(
                "<system-out>failed 2 of 1000 times (allowed: judged by threshold `checks pass_rate &gt; 99%`)</system-out>"
            ),
            "{xml}"
        );
        assert!(
            case(&xml, "connections did not fail")
                .contains("3× connect: connection refused (allowed: judged by threshold"),
            "{xml}"
        );
    }

    #[test]
    fn beyond_a_budget_its_threshold_is_the_failure() {
        let report = judged(echo(20), 0, &[("checks pass_rate > 99%", false)]);
        assert!(!report.verdict.passed);
        let xml = render(&report);
        assert_eq!(
            xml.matches("<failure").count(),
            report.verdict.reasons.len()
        );
        assert!(
            case(&xml, "checks pass_rate &gt; 99%").contains("<failure"),
            "{xml}"
        );
        assert!(!case(&xml, "echo").contains("<failure"), "{xml}");
    }

    #[test]
    fn without_a_budget_every_failure_fails() {
        let report = judged(echo(2), 3, &[]);
        let xml = render(&report);
        assert_eq!(report.verdict.reasons.len(), 2, "{:?}", report.verdict);
        assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
        assert!(
            case(&xml, "echo").contains("failed 2 of 1000 times"),
            "{xml}"
        );
        assert!(
            case(&xml, "connections did not fail").contains("<failure"),
            "{xml}"
        );
    }

    #[test]
    fn characters_xml_forbids_become_visible_text() {
        assert_eq!(xml("a\u{1b}[31m<b>\u{0}"), "a\\u{1b}[31m&lt;b&gt;\\u{0}");
        assert_eq!(xml("tab\tok\u{fffe}"), "tab\tok\\u{fffe}");
    }
}
