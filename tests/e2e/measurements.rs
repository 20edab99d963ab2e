//! Measurements a team gates CI on: thresholds (exit codes, abort), load shapes, the time series,
//! JUnit, merging shards exactly, the live OpenMetrics endpoint (parsed by the reference Python
//! parser) and the HTML report in headless Chromium.

use crate::support::{
    build_scenarios, check_report_in_browser, collect, number, repo, results, run_case, volley,
};
use serde_json::Value;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("volley-{}-{name}", std::process::id()))
}

/// A loopback port nothing listens on: bound, read back, and closed again, so connecting is refused.
fn refusing_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(address) => address.port(),
        Err(error) => panic!("no free port: {error}"),
    }
}

#[test]
fn thresholds_that_hold_pass_and_are_listed() {
    let ran = run_case("thresholds-hold", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    let outcomes = r["thresholds"].as_array().cloned().unwrap_or_default();
    assert_eq!(outcomes.len(), 6, "{r:#}");
    assert!(outcomes.iter().all(|o| o["passed"] == true), "{r:#}");
    assert!(ran.stdout.contains("✓ reply_timeouts == 0"), "{ran:?}");
}

#[test]
fn crossed_thresholds_exit_1_and_are_named() {
    let ran = run_case("thresholds-crossed", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stdout
            .contains("threshold `round_trip min < 1us` crossed"),
        "{ran:?}"
    );
    assert!(
        ran.stdout
            .contains("metric `never_recorded` was never recorded"),
        "{ran:?}"
    );
    let r = results(&ran);
    assert_eq!(r["thresholds"][0]["passed"], true);
    assert_eq!(r["thresholds"][1]["passed"], false);
    assert_eq!(
        number(r, "/connections/failed"),
        0,
        "only the thresholds failed"
    );
}

#[test]
fn an_unknown_metric_in_a_threshold_is_a_config_error() {
    let expected =
        std::fs::read_to_string(repo().join("tests/cases/threshold-unknown/expected-error.txt"))
            .unwrap_or_default();
    let ran = match volley()
        .args(["check", "tests/cases/threshold-unknown/scenario.yaml"])
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 2, "{ran:?}");
    assert_eq!(ran.stderr, expected);
}

#[test]
fn an_abort_threshold_stops_the_run_early() {
    let target = format!("ws://127.0.0.1:{}/", refusing_port());
    let ran = run_case("abort-early", &["--target", &target]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(r["run"]["aborted_by"], "connections failed < 1");
    assert!(
        r["run"]["elapsed_s"].as_f64().unwrap_or(99.0) < 30.0,
        "{r:#}"
    );
    assert!(ran.stdout.contains("aborted early"), "{ran:?}");
}

#[test]
fn stages_ramp_up_and_down() {
    let ran = run_case("stages", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/peak_open"), 4);
    assert_eq!(number(r, "/connections/failed"), 0);
    assert!(
        r["run"]["shape"]
            .as_str()
            .unwrap_or("")
            .starts_with("stages 0→4 over 1s"),
        "{r:#}"
    );
    let opens: Vec<u64> = r["series"]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| p["open"].as_u64().unwrap_or(0))
        .collect();
    assert!(opens.contains(&4), "{opens:?}");
    assert_eq!(opens.last(), Some(&0), "{opens:?}");
}

#[test]
fn an_arrival_rate_starts_connections_on_schedule() {
    let ran = run_case("arrivals", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/attempted"), 10);
    assert_eq!(number(r, "/messages/received"), 20);
    assert_eq!(number(r, "/connections/dropped_arrivals"), 0);
}

#[test]
fn the_time_series_is_written_while_running() {
    let series = temp("series.jsonl");
    let csv = temp("series.csv");
    let ran = run_case(
        "echo-exact",
        &[
            "--series",
            &series.display().to_string(),
            "--interval",
            "100ms",
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let text = std::fs::read_to_string(&series).unwrap_or_default();
    let points: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(points.len() >= 2, "{text}");
    let sent: u64 = points.iter().map(|p| p["sent"].as_u64().unwrap_or(0)).sum();
    let round_trips: u64 = points
        .iter()
        .map(|p| p["round_trips"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!((sent, round_trips), (100, 100), "{text}");
    assert_eq!(
        results(&ran)["series"]["points"].as_array().map(Vec::len),
        Some(points.len())
    );
    let ran = run_case("echo-exact", &["--series", &csv.display().to_string()]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let text = std::fs::read_to_string(&csv).unwrap_or_default();
    assert!(
        text.starts_with("t,open,sent,received,round_trips,rtt_p50_us"),
        "{text}"
    );
    let _ = std::fs::remove_file(series);
    let _ = std::fs::remove_file(csv);
}

#[test]
fn junit_lists_checks_and_thresholds() {
    let junit = temp("junit.xml");
    let ran = run_case("fail-check", &["--junit", &junit.display().to_string()]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    assert!(
        xml.contains(r#"<testcase classname="checks" name="reply has the secret">"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<failure message="failed 2 of 2 times"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase classname="checks" name="echo says hello"/>"#),
        "{xml}"
    );
    let _ = std::fs::remove_file(junit);
}

/// Run echo-exact with 5 connections and `extra` flags, its results also written to `out`.
fn run_echo(extra: &[&str], out: &std::path::Path) -> Value {
    let mut args = vec!["--set", "load.connections=5"];
    args.extend(extra);
    let ran = run_case("echo-exact", &args);
    assert_eq!(ran.code, 0, "{ran:?}");
    let value = results(&ran).clone();
    let _ = std::fs::write(out, value.to_string());
    value
}

#[test]
fn merging_two_shards_equals_one_run_holding_both() {
    let (a, b, all) = (temp("a.json"), temp("b.json"), temp("all.json"));
    // Shards of 3 and 2 connections (VUs 0, 2, 4 and 1, 3).
    run_echo(&["--shard", "0/2", "--run-id", "merge-measurements"], &a);
    run_echo(&["--shard", "1/2", "--run-id", "merge-measurements"], &b);
    let both = run_echo(&[], &temp("both.json"));
    let ran = match volley()
        .args(["merge"])
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&all)
        .output()
    {
        Ok(output) => collect(output, Some(&all)),
        Err(error) => panic!("cannot start volley merge: {error}"),
    };
    assert_eq!(ran.code, 0, "{ran:?}");
    let merged = results(&ran);
    assert_eq!(merged["run"]["merged_runs"], 2);
    for pointer in [
        "/connections/attempted",
        "/messages/sent",
        "/messages/received",
        "/round_trips/count",
        "/round_trips_by_name/echo/count",
        "/checks/0/passed",
    ] {
        assert_eq!(number(merged, pointer), number(&both, pointer), "{pointer}");
    }
    // A deterministic metric: the same population gives the same histogram, percentile for percentile.
    assert_eq!(
        merged["metrics"]["reply_bytes"]["histogram"],
        both["metrics"]["reply_bytes"]["histogram"]
    );
    assert_eq!(
        merged["metrics"]["reply_bytes"]["percentiles"],
        both["metrics"]["reply_bytes"]["percentiles"]
    );
    assert_eq!(merged["metrics"]["reply_bytes"]["count"], 100);
    for file in [a, b, all] {
        let _ = std::fs::remove_file(file);
    }
}

/// GET the metrics endpoint on 127.0.0.1:`port`; the body, or None.
pub fn scrape(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

#[test]
fn the_live_metrics_endpoint_serves_valid_openmetrics() {
    build_scenarios();
    // Port 0: the runner binds a free port and prints it on stderr (issue 12: no port guessing).
    let child = volley()
        .args([
            "run",
            "tests/cases/interrupt/scenario.yaml",
            "--no-progress",
            "--set",
            "load.duration=4s",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    let address = match child.stderr.take().and_then(|stderr| {
        use std::io::BufRead as _;
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("volley: live metrics on http://")
                    .and_then(|rest| rest.strip_suffix("/metrics"))
                    .map(str::to_owned)
            })
    }) {
        Some(address) => address,
        None => {
            let _ = child.kill();
            panic!("volley never said where its metrics endpoint listens");
        }
    };
    let port: u16 = address
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or(0);
    // Scrape until all 20 connections are open and round trips are in (observable conditions).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut body = None;
    while Instant::now() < deadline && body.is_none() {
        body = scrape(port).filter(|text| {
            text.lines()
                .any(|line| line == "volley_connections_open 20")
                && text.lines().any(|line| {
                    line.starts_with("volley_round_trip_seconds_count") && !line.ends_with(" 0")
                })
        });
        if body.is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = child.wait();
    let Some(body) = body else {
        panic!("the metrics endpoint never answered")
    };
    let parser = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
open_now = families["volley_connections_open"].samples[0].value
rtt = families["volley_round_trip_seconds"]
count = [s.value for s in rtt.samples if s.name == "volley_round_trip_seconds_count"][0]
named = families["volley_named_round_trip_seconds"]
echo = [s.value for s in named.samples
        if s.name == "volley_named_round_trip_seconds_count" and s.labels.get("name") == "echo"][0]
print(f"open={open_now:.0f} rtt_count={count:.0f} echo_count={echo:.0f} families={len(families)}")
"#;
    // `scripts/test-setup` (run by `just test`) makes a project-local venv with the parser.
    let python = std::env::var("VOLLEY_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut python = match std::process::Command::new(&python)
        .args(["-c", parser])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(python) => python,
        Err(error) => panic!("python3 is needed for this test: {error}"),
    };
    if let Some(mut stdin) = python.stdin.take() {
        let _ = stdin.write_all(body.as_bytes());
    }
    let output = match python.wait_with_output() {
        Ok(output) => output,
        Err(error) => panic!("python3 failed: {error}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the OpenMetrics parser rejected the exposition (run scripts/test-setup, which installs prometheus-client into .venv):\n{stderr}\n{body}"
    );
    assert!(stdout.contains("open=20"), "{stdout}\n{body}");
    assert!(!stdout.contains("rtt_count=0 "), "{stdout}");
    // The echo example names its requests `echo`: their own summary, labelled by name.
    assert!(
        stdout.contains("echo_count=") && !stdout.contains("echo_count=0 "),
        "{stdout}\n{body}"
    );
}

#[test]
fn the_html_report_renders_its_charts_in_headless_chromium() {
    let html = temp("report.html");
    let shot = repo().join("target/report-screenshot.png");
    let ran = run_case("stages", &["--html", &html.display().to_string()]);
    assert_eq!(ran.code, 0, "{ran:?}");
    check_report_in_browser(&html, &shot, 5, &["module-sha256"]);
    let _ = std::fs::remove_file(html);
}

#[test]
fn issue_21_a_timed_run_ends_its_series_with_one_point() {
    // `load.duration=2s` with 1 s points: the interval due at 2 s, where the load ends, is the last
    // point, taken once the run has closed. It used to be taken twice (two points at t=2.002), the
    // first with the population half closed.
    let ran = run_case(
        "echo-exact",
        &[
            "--set",
            "load.ramp_up=0s",
            "--set",
            "load.iterations=null",
            "--set",
            "load.duration=2s",
            "--set",
            "vars.messages=100000",
            "--set",
            "vars.interval_ms=50",
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let points = results(&ran)["series"]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let times: Vec<f64> = points.iter().filter_map(|p| p["t"].as_f64()).collect();
    assert!(times.windows(2).all(|pair| pair[0] < pair[1]), "{times:?}");
    let (last, regular) = points.split_last().unwrap_or_else(|| panic!("no points"));
    assert!(
        regular
            .iter()
            .all(|p| p["open"] == 5 && p["t"].as_f64() < Some(2.0)),
        "the population is whole in every point before the last: {points:?}"
    );
    assert_eq!(last["open"], 0, "{points:?}");
}
