//! Declared custom metrics (issue 23, "time-valued metrics are first-class"): a file's `metrics:`
//! kinds — `duration`, `counter`, `rate`, `value` — recorded by a module (the engine probe) and by
//! a flow from many connections, judged by thresholds with units, summed exactly (in one process
//! and across `--workers`), printed by kind, present in the `--series` file (JSON lines and CSV)
//! and charted in the HTML report (headless Chromium); mistakes refused at load with
//! `file:line:column`.

use crate::support::{
    check_report_in_browser, collect, number, repo, results, run_case, volley, volley_args,
};
use serde_json::Value;

/// 20 connections × 10 timer firings each (tests/cases/metrics-kinds).
const FIRINGS: u64 = 200;

fn metric<'a>(results: &'a Value, name: &str) -> &'a Value {
    match results.pointer(&format!("/metrics/{name}")) {
        Some(metric) => metric,
        None => panic!("no metric {name} in {results:#}"),
    }
}

fn float(value: &Value, key: &str) -> f64 {
    match value[key].as_f64() {
        Some(number) => number,
        None => panic!("no number {key} in {value:#}"),
    }
}

/// The kinds, exact totals and thresholds of the metrics-kinds case, however it ran.
fn assert_kinds_judged_and_exact(r: &Value) {
    assert_eq!(number(r, "/connections/failed"), 0, "{r:#}");
    let outcomes = r["thresholds"].as_array().cloned().unwrap_or_default();
    assert_eq!(outcomes.len(), 7, "{r:#}");
    assert!(outcomes.iter().all(|o| o["passed"] == true), "{r:#}");
    // A duration threshold's actual value is shown with its unit.
    let actual = outcomes[0]["actual"].as_str().unwrap_or_default();
    assert!(actual.ends_with("ms") || actual.ends_with("µs"), "{actual}");

    let ticks = metric(r, "ticks_fired");
    assert_eq!(ticks["kind"], "counter");
    assert_eq!(
        float(ticks, "sum"),
        FIRINGS as f64,
        "the exact sum: 20 × 10"
    );
    let even = metric(r, "tick_even");
    assert_eq!(even["kind"], "rate");
    assert_eq!(
        (float(even, "sum"), number(even, "/count")),
        (FIRINGS as f64 / 2.0, FIRINGS)
    );
    let value = metric(r, "tick_value");
    assert_eq!(value["kind"], "value");
    assert_eq!(
        float(value, "mean"),
        200.0,
        "exact, not the bucket's 200.06"
    );
    assert_eq!(float(value, "p99"), 200.0);
    let tick = metric(r, "tick_ms");
    assert_eq!(tick["kind"], "duration");
    assert_eq!(
        number(tick, "/count"),
        20,
        "one tick round trip per connection"
    );
}

#[test]
fn issue_23_declared_metrics_are_judged_summed_and_shown_by_kind() {
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("no temporary folder: {error}"),
    };
    let csv = folder.path().join("series.csv");
    let html = folder.path().join("report.html");
    let ran = run_case(
        "metrics-kinds",
        &[
            "--interval",
            "100ms",
            "--series",
            &csv.display().to_string(),
            "--html",
            &html.display().to_string(),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_kinds_judged_and_exact(r);

    // The summary prints each kind in its own way.
    let line = |name: &str| {
        ran.stdout
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no summary line for {name}: {ran:?}"))
            .to_owned()
    };
    assert!(line("ticks_fired").contains("total=200 rate="), "{ran:?}");
    assert!(line("tick_even").contains("rate=50.00%"), "{ran:?}");
    assert!(line("tick_value").contains("mean=200"), "{ran:?}");
    let tick = line("tick_ms");
    assert!(
        tick.contains("p50=") && (tick.contains("ms ") || tick.contains("µs ")),
        "durations print with units: {tick}"
    );

    // Every point of the report's series carries the metrics of its interval: they add up.
    let points = r["series"]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(points.len() >= 2, "{r:#}");
    let summed: f64 = points
        .iter()
        .filter_map(|p| {
            p.pointer("/metrics/ticks_fired/sum")
                .and_then(Value::as_f64)
        })
        .sum();
    assert_eq!(summed, FIRINGS as f64, "{points:#?}");

    // The CSV file has the declared metrics' columns after `errors`, the same in every row.
    let text = std::fs::read_to_string(&csv).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    for column in [
        "tick_ms_p99_ms",
        "ticks_fired_total",
        "tick_even_rate",
        "tick_value_p50",
    ] {
        assert!(header.contains(&column), "{header:?}");
    }
    let total = header
        .iter()
        .position(|column| *column == "ticks_fired_total")
        .unwrap_or(usize::MAX);
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert!(rows.iter().all(|row| row.len() == header.len()), "{text}");
    let csv_total: f64 = rows
        .iter()
        .filter_map(|row| row.get(total).and_then(|cell| cell.parse::<f64>().ok()))
        .sum();
    assert_eq!(csv_total, FIRINGS as f64, "{text}");

    // The HTML report draws a chart per metric (10 in all with the run's own 6).
    let page = std::fs::read_to_string(&html).unwrap_or_default();
    assert!(
        page.contains("\"kind\":\"duration\""),
        "the results are embedded"
    );
    let shot = repo().join("target/report-metrics-screenshot.png");
    check_report_in_browser(&html, &shot, 10, &[]);
}

#[test]
fn issue_23_counters_and_rates_add_up_exactly_across_workers() {
    let ran = run_case("metrics-kinds", &["--workers", "2"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_kinds_judged_and_exact(results(&ran));
}

#[test]
fn issue_23_a_flow_records_declared_metrics_by_kind() {
    let ran = run_case("metrics-flow", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    let seen = metric(r, "seen");
    assert_eq!(
        (seen["kind"].as_str(), float(seen, "sum")),
        (Some("counter"), 80.0)
    );
    let ok = metric(r, "ok");
    assert_eq!((float(ok, "sum"), number(ok, "/count")), (40.0, 80));
    let wait = metric(r, "wait_ms");
    assert_eq!(
        (wait["kind"].as_str(), float(wait, "mean")),
        (Some("duration"), 200.0)
    );
    assert!(ran.stdout.contains("mean=200.00ms"), "{ran:?}");
}

#[test]
fn issue_23_a_misspelt_or_undeclared_metric_is_refused_at_load() {
    for case in ["metrics-misspelt", "metrics-unknown-kind"] {
        let expected =
            std::fs::read_to_string(repo().join(format!("tests/cases/{case}/expected-error.txt")))
                .unwrap_or_else(|error| panic!("missing golden file for {case}: {error}"));
        for command in ["check", "run"] {
            let ran = match volley()
                .args([command, &format!("tests/cases/{case}/scenario.yaml")])
                .output()
            {
                Ok(output) => collect(output, None),
                Err(error) => panic!("cannot start volley: {error}"),
            };
            assert_eq!(ran.code, 2, "{ran:?}");
            assert_eq!(ran.stderr, expected, "{ran:?}");
        }
    }
    // A flow's `metric` step is checked against the declarations too, at its step.
    let ran = volley_args(&[
        "check",
        "tests/cases/metrics-flow/scenario.yaml",
        "--set",
        "metrics={seen: counter, ok: rate}",
    ]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains("metric `wait_ms` is not declared under `metrics:`"),
        "{ran:?}"
    );
}

#[test]
fn issue_23_without_a_metrics_section_a_threshold_on_a_metric_is_warned_about() {
    let ran = volley_args(&["check", "tests/cases/thresholds-crossed/scenario.yaml"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stderr.contains("warning:")
            && ran
                .stderr
                .contains("names metric `never_recorded`, which the file does not declare"),
        "{ran:?}"
    );
    // Said once by the run a person started, not again by each of its workers.
    let ran = run_case("thresholds-hold", &["--workers", "2"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.stderr
            .matches("names metric `reply_bytes`, which the file does not declare")
            .count(),
        1,
        "{ran:?}"
    );
}
