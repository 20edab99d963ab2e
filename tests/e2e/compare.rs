//! `volley compare` on real runs: the echo scenario (20 connections × 50 round trips) against
//! servers on loopback, its results files compared. Two runs of the same load side by side show no
//! significant round-trip change; a server that answers 20 ms late shows a significant one, in the
//! table, the JSON and the HTML page (rendered in headless Chromium). Timings are never asserted,
//! only what the comparison concludes. Each pair of runs is taken again (a bounded number of times)
//! until both ran on a quiet machine, since two runs compare only when they met the same conditions.

use crate::servers::{Misbehaviour, misbehaving, runtime};
use crate::support::{
    build_scenarios, check_report_in_browser, collect, repo, volley, volley_args,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

/// `volley run` of the echo case (20 connections × 50 echoes every `interval_ms`) against
/// `target`, writing its results to `out`; started, not waited for.
fn start_echo_run(target: &str, interval_ms: u32, out: &Path) -> Child {
    build_scenarios();
    let interval = format!("vars.interval_ms={interval_ms}");
    let spawned = volley()
        .args([
            "run",
            "tests/cases/echo-exact/scenario.yaml",
            "--no-progress",
            "--target",
            target,
            "--set",
            "load.connections=20",
            "--set",
            "vars.messages=50",
            "--set",
            &interval,
            "--out",
        ])
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    match spawned {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    }
}

/// Wait for a run started by [`start_echo_run`], check that it passed, and return its timer-lag
/// p99 (µs): how late the generator itself ran.
fn finish(child: Child, out: &Path) -> f64 {
    let ran = match child.wait_with_output() {
        Ok(output) => collect(output, Some(out)),
        Err(error) => panic!("volley did not finish: {error}"),
    };
    assert_eq!(ran.code, 0, "{ran:?}");
    match ran
        .results
        .as_ref()
        .and_then(|r| r.pointer("/timer_lag/p99")?.as_f64())
    {
        Some(lag) => lag,
        None => panic!("no timer_lag p99: {ran:?}"),
    }
}

/// The most a run's timer-lag p99 may be for a pair of runs to count as run in the same (quiet)
/// conditions, µs.
const QUIET_LAG_P99: f64 = 10_000.0;
/// How many pairs of runs to try before giving up on a quiet machine.
const ATTEMPTS: usize = 5;

/// Run the echo case against `base_target` into `base`, then against `new_target` into `new`,
/// again (at most [`ATTEMPTS`] times) until neither run's generator was late by more than
/// [`QUIET_LAG_P99`] at its p99: a comparison of two runs means something only when both met the
/// same conditions, and on a shared 2-core machine another process's build can stall one run by
/// tens of milliseconds (which `compare` rightly reports as a change).
fn quiet_pair(base_target: &str, new_target: &str, interval_ms: u32, base: &Path, new: &Path) {
    let mut lags = Vec::new();
    for _ in 0..ATTEMPTS {
        let base_lag = finish(start_echo_run(base_target, interval_ms, base), base);
        let new_lag = finish(start_echo_run(new_target, interval_ms, new), new);
        if base_lag <= QUIET_LAG_P99 && new_lag <= QUIET_LAG_P99 {
            return;
        }
        lags.push((base_lag, new_lag));
    }
    panic!(
        "the machine stayed too busy for a comparison: timer-lag p99 (µs) of each pair {lags:?}, above {QUIET_LAG_P99}"
    );
}

/// `volley compare BASE NEW --json …` (and `--html` when given): its exit code, its table and the
/// JSON it wrote.
fn compare(base: &Path, new: &Path, json: &Path, html: Option<&Path>) -> (String, Value) {
    let mut args = vec![
        "compare".to_owned(),
        base.display().to_string(),
        new.display().to_string(),
        "--json".to_owned(),
        json.display().to_string(),
    ];
    if let Some(html) = html {
        args.extend(["--html".to_owned(), html.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ran = volley_args(&args);
    assert_eq!(ran.code, 0, "{ran:?}");
    let text = std::fs::read_to_string(json).unwrap_or_default();
    let comparison = match serde_json::from_str::<Value>(&text) {
        Ok(value) => value,
        Err(error) => panic!("compare wrote no JSON ({error}): {ran:?}"),
    };
    assert_eq!(comparison["schema"], "volley.compare/v1", "{comparison:#}");
    (ran.stdout, comparison)
}

/// The row of `figure` in a comparison's JSON.
fn row<'a>(comparison: &'a Value, figure: &str) -> &'a Value {
    let rows = comparison["rows"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    match rows.iter().find(|row| row["figure"] == figure) {
        Some(row) => row,
        None => panic!("no row {figure} in {comparison:#}"),
    }
}

/// The table line of `figure`.
fn line<'a>(table: &'a str, figure: &str) -> &'a str {
    match table
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{figure} ")))
    {
        Some(line) => line,
        None => panic!("no line {figure} in\n{table}"),
    }
}

fn scratch() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    }
}

fn paths(folder: &tempfile::TempDir, names: [&str; 3]) -> [PathBuf; 3] {
    names.map(|name| folder.path().join(name))
}

#[test]
fn a_run_compared_with_one_of_the_same_load_shows_no_significant_round_trip_change() {
    let folder = scratch();
    let [base, new, json] = paths(&folder, ["base.json", "new.json", "compare.json"]);
    // Loopback round trips of a few hundred µs: whatever the two runs' samples say, no change
    // exceeds the generator's own lateness (the jitter floor). Other tests loading the shared
    // 2-core machine between the two runs can still move a percentile significantly without the
    // timer lag showing it, so a pair with a significant round-trip change is run again, at most
    // ATTEMPTS times; a comparison that calls every pair different still fails.
    let mut different = Vec::new();
    let (table, comparison) = loop {
        quiet_pair("embedded://echo", "embedded://echo", 20, &base, &new);
        let (table, comparison) = compare(&base, &new, &json, None);
        let significant = ["round_trip p50", "round_trip p99"]
            .iter()
            .any(|figure| row(&comparison, figure)["significant"] != false);
        if !significant {
            break (table, comparison);
        }
        different.push(table);
        assert!(
            different.len() < ATTEMPTS,
            "every pair of runs of one load compared as significantly different: {different:#?}"
        );
    };
    assert!(
        comparison["jitter_floor_us"].as_f64() > Some(0.0),
        "{table}"
    );
    for figure in ["round_trip p50", "round_trip p99"] {
        assert_eq!(row(&comparison, figure)["significant"], false, "{table}");
        assert!(!line(&table, figure).trim_end().ends_with("yes"), "{table}");
    }
    // The same planned work: exactly as many messages, no change, nothing significant.
    for figure in ["messages sent", "messages received", "checks pass_rate"] {
        let row = row(&comparison, figure);
        assert_eq!(row["change"], 0.0, "{table}");
        assert_eq!(row["significant"], false, "{table}");
    }
    assert_eq!(row(&comparison, "messages sent")["base"], 1000.0, "{table}");
    // A results file against itself: not a single difference.
    let (table, itself) = compare(&base, &base, &json, None);
    let rows = itself["rows"].as_array().cloned().unwrap_or_default();
    assert!(rows.len() > 10, "{table}");
    assert!(
        rows.iter()
            .all(|row| row["change"] == 0.0 && row["significant"] != true),
        "{table}"
    );
    let ks = &itself["distributions"][0];
    assert_eq!(ks["name"], "round_trip", "{itself:#}");
    assert_eq!(ks["ks"]["d"], 0.0, "{itself:#}");
    // Its notes are the run's own warnings, if any: nothing differs between a run and itself.
    assert!(!itself["notes"].to_string().contains("differ"), "{table}");
}

#[test]
fn a_server_twenty_milliseconds_slower_is_a_significant_round_trip_change() {
    let folder = scratch();
    let [base, new, json] = paths(&folder, ["base.json", "new.json", "compare.json"]);
    let html = folder.path().join("compare.html");
    let runtime = runtime();
    let prompt = misbehaving(&runtime, Misbehaviour::EchoAfter(Duration::ZERO));
    let late = misbehaving(&runtime, Misbehaviour::EchoAfter(Duration::from_millis(20)));
    // An echo every 40 ms: the late server answers each before the next is sent.
    quiet_pair(&prompt, &late, 40, &base, &new);
    let (table, comparison) = compare(&base, &new, &json, Some(&html));
    for figure in ["round_trip p50", "round_trip p99", "round_trip{echo} p50"] {
        let row = row(&comparison, figure);
        assert_eq!(row["significant"], true, "{table}");
        assert!(row["change"].as_f64() > Some(0.0), "{table}");
        assert_eq!(row["test"]["method"], "ranks", "{table}");
        assert!(line(&table, figure).trim_end().ends_with(" yes"), "{table}");
    }
    // The server's delay is at least 20 ms added to every round trip.
    assert!(
        row(&comparison, "round_trip p50")["new"].as_f64() >= Some(20_000.0),
        "{table}"
    );
    let ks = &comparison["distributions"][0];
    assert_eq!(ks["name"], "round_trip", "{comparison:#}");
    assert_eq!(ks["ks"]["significant"], true, "{comparison:#}");
    // The two servers listen on different ports: shown, not refused.
    let notes = comparison["notes"].to_string();
    assert!(notes.contains("targets differ"), "{table}");
    assert!(
        table.contains("note: targets differ: base ws://127.0.0.1:"),
        "{table}"
    );
    let shot = repo().join("target/compare-screenshot.png");
    check_report_in_browser(&html, &shot, 5, &["comparison", "distributions", "notes"]);
}

#[test]
fn a_results_file_that_cannot_be_read_cannot_be_compared() {
    let ran = volley_args(&["compare", "no-such-base.json", "no-such-new.json"]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("cannot read no-such-base.json"),
        "{ran:?}"
    );
}
