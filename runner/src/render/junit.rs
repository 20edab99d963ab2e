//! JUnit XML for CI systems: one test case per check and per threshold, plus one for connection
//! failures and one for scenario errors, so a CI dashboard shows which rule broke; the round trips
//! of named requests go in as suite properties (`round_trip{NAME} p99` …). Pure rendering of a
//! [`Report`].

use crate::config::units::human_micros;
use crate::results::report::Report;
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

/// Render `report` as a JUnit `<testsuites>` document.
pub fn render(report: &Report) -> String {
    let mut cases: Vec<(String, String, Option<String>)> = Vec::new();
    for check in &report.checks {
        let failure = (check.failed > 0).then(|| {
            format!(
                "failed {} of {} times",
                check.failed,
                check.passed + check.failed
            )
        });
        cases.push(("checks".into(), check.name.clone(), failure));
    }
    for outcome in &report.thresholds {
        let failure = (!outcome.passed).then(|| format!("crossed: actual {}", outcome.actual));
        cases.push(("thresholds".into(), outcome.expression.clone(), failure));
    }
    let failures = &report.connections.failed_by_reason;
    let failure = (!failures.is_empty()).then(|| {
        failures
            .iter()
            .map(|(reason, count)| format!("{count}× {reason}"))
            .collect::<Vec<_>>()
            .join("; ")
    });
    cases.push((
        "connections".into(),
        "connections did not fail".into(),
        failure,
    ));
    let errors = &report.scenario_errors;
    let failure = (!errors.is_empty()).then(|| {
        errors
            .iter()
            .map(|(message, count)| format!("{count}× {message}"))
            .collect::<Vec<_>>()
            .join("; ")
    });
    cases.push(("scenario".into(), "scenario did not trap".into(), failure));
    let failure = (report.reply_timeouts > 0)
        .then(|| format!("{} replies missed their deadline", report.reply_timeouts));
    cases.push((
        "requests".into(),
        "replies met their deadlines".into(),
        failure,
    ));
    let failure =
        (report.connections.attempted == 0).then(|| "no connection was attempted".to_owned());
    cases.push((
        "connections".into(),
        "connections were attempted".into(),
        failure,
    ));
    let failed = cases
        .iter()
        .filter(|(_, _, failure)| failure.is_some())
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let partial = report
        .partial_note()
        .map_or_else(String::new, |note| format!(" (PARTIAL: {note})"));
    let suite = xml(&format!("volley: {}{partial}", report.scenario.name));
    let _ = writeln!(
        out,
        "<testsuites name=\"{suite}\" tests=\"{}\" failures=\"{failed}\" time=\"{}\">",
        cases.len(),
        report.run.elapsed_s
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failed}\" time=\"{}\">",
        cases.len(),
        report.run.elapsed_s
    );
    if !report.round_trips_by_name.is_empty() {
        out.push_str("    <properties>\n");
        for (name, d) in &report.round_trips_by_name {
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
                    xml(&format!("round_trip{{{name}}} {stat}")),
                    xml(&value)
                );
            }
        }
        out.push_str("    </properties>\n");
    }
    for (class, name, failure) in &cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml(class),
            xml(name)
        );
        match failure {
            Some(message) => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\"/>\n    </testcase>",
                    xml(message)
                );
            }
            None => {
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

    #[test]
    fn characters_xml_forbids_become_visible_text() {
        assert_eq!(xml("a\u{1b}[31m<b>\u{0}"), "a\\u{1b}[31m&lt;b&gt;\\u{0}");
        assert_eq!(xml("tab\tok\u{fffe}"), "tab\tok\\u{fffe}");
    }
}
