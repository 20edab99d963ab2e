//! Issue 24's capacity search (`load.search`) end to end: against a server that refuses upgrades
//! above a known number of open connections (`servers::capped`), the search finds that number
//! within its resolution, in one process and with `--workers 2`; Ctrl-C mid-search still writes
//! the report with the steps so far; `--shard` and a search beside `connections` are refused.

use crate::interrupt::{send_signal, wait_exit};
use crate::servers::{capped, listener, runtime};
use crate::support::{
    build_scenarios, check_report_in_browser, collect, repo, results, run_case, volley,
};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The cap of the test server: an odd number the geometric steps never land on.
const CAP: usize = 37;

/// Serve [`capped`] with `cap` on a fresh port of `runtime`: its URL and its upgrade count.
fn capped_server(runtime: &tokio::runtime::Runtime, cap: usize) -> (String, Arc<AtomicUsize>) {
    let upgraded = Arc::new(AtomicUsize::new(0));
    let counter = upgraded.clone();
    let port = runtime.block_on(async {
        let listener = listener(Ipv4Addr::LOCALHOST).await;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        tokio::spawn(capped(listener, cap, counter));
        port
    });
    (format!("ws://127.0.0.1:{port}/"), upgraded)
}

fn float(value: &Value, pointer: &str) -> f64 {
    match value.pointer(pointer).and_then(Value::as_f64) {
        Some(number) => number,
        None => panic!("no number at {pointer} in {value:#}"),
    }
}

/// Every step held exactly when its load was within the cap.
fn steps_follow_the_cap(search: &Value) {
    let Some(steps) = search["steps"].as_array() else {
        panic!("no steps in {search:#}");
    };
    for step in steps {
        let load = float(step, "/load");
        assert_eq!(
            step["passed"].as_bool(),
            Some(load <= CAP as f64),
            "step {step:#}"
        );
    }
}

#[test]
fn issue_24_a_search_finds_the_servers_connection_cap_exactly() {
    let runtime = runtime();
    let (target, _) = capped_server(&runtime, CAP);
    let junit = tempfile::NamedTempFile::new()
        .map(|file| file.into_temp_path().to_path_buf())
        .unwrap_or_else(|_| std::env::temp_dir().join("volley-search.xml"));
    let junit_arg = junit.display().to_string();
    let html = std::env::temp_dir().join(format!("volley-search-{}.html", std::process::id()));
    let html_arg = html.display().to_string();
    let ran = run_case(
        "search-capped",
        &[
            "--target", &target, "--junit", &junit_arg, "--html", &html_arg,
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    // JUnit agrees with the verdict: the search's case passes, with its result said.
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    let _ = std::fs::remove_file(&junit);
    assert!(
        xml.contains(r#"failures="0""#)
            && xml.contains("capacity search found an answer")
            && xml.contains("held 37 connections"),
        "{xml}"
    );
    let search = &results(&ran)["search"];
    assert_eq!(search["result"]["ending"], "broke", "{ran:?}");
    assert_eq!(float(search, "/result/held"), CAP as f64, "{ran:?}");
    assert_eq!(float(search, "/result/broke"), CAP as f64 + 1.0, "{ran:?}");
    assert_eq!(search["result"]["because"], "connections failed < 1");
    steps_follow_the_cap(search);
    // The figures of the report are the step that held: 37 connections, none failed.
    assert_eq!(float(search, "/figures_of"), CAP as f64);
    assert_eq!(results(&ran)["connections"]["established"], CAP as u64);
    assert!(
        ran.stdout.contains(
            "search: held 37 connections (no round trips measured); broke at 38 connections because `connections failed < 1` (observed"
        ),
        "{ran:?}"
    );
    // The HTML page draws the steps (load against p99) and lists them.
    let shot = html.with_extension("png");
    check_report_in_browser(&html, &shot, 2, &["search", "search-result"]);
    let _ = std::fs::remove_file(&html);
    let _ = std::fs::remove_file(&shot);
    println!("{}", ran.stdout);
}

#[test]
fn issue_24_a_search_with_workers_splits_each_step_and_finds_the_cap() {
    let runtime = runtime();
    let (target, _) = capped_server(&runtime, CAP);
    // Coarser: 10, 20, 40 (broke), 30, 35 — then 35 and 40 are within 25 % of 35.
    let ran = run_case(
        "search-capped",
        &[
            "--target",
            &target,
            "--workers",
            "2",
            "--set",
            "load.search.connections.start=10",
            "--set",
            "load.search.resolution=25%",
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let search = &results(&ran)["search"];
    assert_eq!(search["result"]["ending"], "broke", "{ran:?}");
    let (held, broke) = (
        float(search, "/result/held"),
        float(search, "/result/broke"),
    );
    assert!(held <= CAP as f64 && broke > CAP as f64, "{ran:?}");
    assert!(broke - held <= 0.25 * held, "{ran:?}");
    steps_follow_the_cap(search);
    // Each step ran in two worker processes: the report's figures are merged from both.
    assert_eq!(results(&ran)["run"]["merged_runs"], 2, "{ran:?}");
}

#[test]
fn issue_24_ctrl_c_mid_search_writes_the_steps_so_far() {
    build_scenarios();
    let runtime = runtime();
    let (target, upgraded) = capped_server(&runtime, 1000);
    let out = tempfile::NamedTempFile::new()
        .map(|file| file.into_temp_path().to_path_buf())
        .unwrap_or_else(|_| std::env::temp_dir().join("volley-search-interrupt.json"));
    let child = volley()
        .args([
            "run",
            "tests/cases/search-capped/scenario.yaml",
            "--no-progress",
            "--target",
            &target,
            "--set",
            "load.search.hold=60s",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    // The first step (5 connections) is open: a condition, not a time.
    let deadline = Instant::now() + Duration::from_secs(60);
    while upgraded.load(Ordering::SeqCst) < 5 {
        assert!(Instant::now() < deadline, "the first step never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
    send_signal(child.id(), libc::SIGINT);
    wait_exit(&mut child, Duration::from_secs(30), "SIGINT");
    let ran = match child.wait_with_output() {
        Ok(output) => collect(output, Some(&out)),
        Err(error) => panic!("cannot collect volley: {error}"),
    };
    let _ = std::fs::remove_file(&out);
    // Interrupted before an answer: the run fails, and says so, with the step it cut short.
    assert_eq!(ran.code, 1, "{ran:?}");
    let report = results(&ran);
    assert_eq!(report["run"]["interrupted"], true);
    let search = &report["search"];
    assert_eq!(search["result"]["ending"], "interrupted", "{ran:?}");
    assert_eq!(search["steps"].as_array().map(Vec::len), Some(1));
    assert_eq!(search["steps"][0]["interrupted"], true);
    assert!(
        report["verdict"]["reasons"]
            .as_array()
            .is_some_and(|reasons| reasons.iter().any(|r| r
                .as_str()
                .is_some_and(|r| r.starts_with("search: interrupted")))),
        "{ran:?}"
    );
}

#[test]
fn issue_24_a_search_refuses_shard_and_names_workers() {
    let ran = match volley()
        .args([
            "run",
            "tests/cases/search-capped/scenario.yaml",
            "--shard",
            "0/2",
            "--run-id",
            "search",
        ])
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains("--shard 0/2 cannot split the capacity search")
            && ran.stderr.contains("Use --workers N"),
        "{ran:?}"
    );
}

#[test]
fn issue_24_a_search_beside_connections_names_the_place_and_the_fix() {
    let file = "tests/cases/search-with-connections/scenario.yaml";
    let expected = std::fs::read_to_string(
        repo().join("tests/cases/search-with-connections/expected-error.txt"),
    )
    .unwrap_or_else(|error| panic!("missing golden file: {error}"));
    for command in ["run", "check"] {
        let ran = match volley().args([command, file]).output() {
            Ok(output) => collect(output, None),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(ran.code, 2, "{ran:?}");
        assert_eq!(ran.stderr, expected, "{ran:?}");
    }
}
