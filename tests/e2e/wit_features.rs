//! Issue 10, interface `volley:scenario@0.2.0`: a scenario reads the upgrade's answer, an expected
//! rejection (`expect_upgrade`) passes, scenario pings are timed, named requests get their own
//! histograms and thresholds. Issue 23, `volley:scenario@0.3.0`: delivery latencies by name with
//! `latency{NAME}` thresholds and stamps in the future counted, and the goodbye the run's end says
//! on each open connection (answered, cut at `load.goodbye_timeout`, or closing as asked). Modules
//! built for 0.1.0 and 0.2.0 (`tests/fixtures/echo-0.1.0.wasm`, `echo-0.2.0.wasm`) still run. Real
//! servers on loopback; the module is `scenarios/features`.

use crate::servers::{
    Misbehaviour, echo_answering_with, listener, misbehave, recording_echo, runtime,
};
use crate::support::{Ran, number, results, run_case};
use serde_json::Value;
use std::net::Ipv4Addr;

/// `tests/cases/features` against `target` with `--set` for each of `sets`.
fn probe(target: &str, sets: &[&str]) -> Ran {
    let mut args = vec!["--target", target];
    for set in sets {
        args.push("--set");
        args.push(set);
    }
    run_case("features", &args)
}

fn serve(runtime: &tokio::runtime::Runtime, headers: Vec<(&'static str, &'static str)>) -> String {
    let port = runtime.block_on(async {
        let listener = listener(Ipv4Addr::LOCALHOST).await;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        if headers.is_empty() {
            tokio::spawn(recording_echo(listener, Default::default()));
        } else {
            tokio::spawn(echo_answering_with(listener, headers));
        }
        port
    });
    format!("ws://127.0.0.1:{port}/")
}

fn check(results: &Value, name: &str) -> (u64, u64) {
    let found = results["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name));
    match found {
        Some(c) => (
            c["passed"].as_u64().unwrap_or(0),
            c["failed"].as_u64().unwrap_or(0),
        ),
        None => panic!("no check `{name}` in {results:#}"),
    }
}

#[test]
fn issue_10_a_scenario_reads_the_status_headers_and_subprotocol_the_server_sent() {
    let runtime = runtime();
    let target = serve(
        &runtime,
        vec![
            ("x-volley-region", "eu-1"),
            ("sec-websocket-protocol", "chat.v2"),
        ],
    );
    let sets = [
        "subprotocols=[chat.v1, chat.v2]",
        "vars.header=x-volley-region=eu-1",
        "vars.subprotocol=chat.v2",
    ];
    let ran = probe(&target, &sets);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(check(r, "handshake status is 101"), (3, 0), "{ran:?}");
    assert_eq!(check(r, "handshake header"), (3, 0), "{ran:?}");
    assert_eq!(check(r, "handshake subprotocol"), (3, 0), "{ran:?}");
    // The same probe expecting another value sees what the server really sent: the check fails.
    let ran = probe(
        &target,
        &[sets[0], "vars.header=x-volley-region=us-2", sets[2]],
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(check(results(&ran), "handshake header"), (0, 3), "{ran:?}");
}

#[test]
fn issue_10_an_expected_401_passes_and_an_unexpected_101_fails() {
    let runtime = runtime();
    let port = runtime.block_on(async {
        let listener = listener(Ipv4Addr::LOCALHOST).await;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        tokio::spawn(misbehave(listener, Misbehaviour::Status(401)));
        port
    });
    let ran = probe(
        &format!("ws://127.0.0.1:{port}/"),
        &["expect_upgrade={status: 401}"],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/expected_rejections"), 3, "{ran:?}");
    assert_eq!(number(r, "/connections/failed"), 0, "{ran:?}");
    assert_eq!(number(r, "/connections/established"), 0, "{ran:?}");
    assert!(ran.stdout.contains("expected rejections 3"), "{ran:?}");

    let ran = probe(&serve(&runtime, vec![]), &["expect_upgrade={status: 401}"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(
        r["connections"]["failed_by_reason"]["upgrade: expected HTTP 401 (expect_upgrade.status), got 101 Switching Protocols"],
        3,
        "{ran:?}"
    );
}

#[test]
fn issue_10_scenario_pings_are_timed_and_reported_back() {
    let runtime = runtime();
    let ran = probe(&serve(&runtime, vec![]), &["vars.pings=4"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/ping_rtt/count"), 12, "{ran:?}");
    assert_eq!(number(r, "/network/pings_sent"), 12, "{ran:?}");
    assert_eq!(check(r, "pong answers a ping"), (12, 0), "{ran:?}");
    // Pings are control frames, not data messages.
    assert_eq!(number(r, "/messages/sent"), 0, "{ran:?}");
}

#[test]
fn issue_10_named_requests_get_a_histogram_each_and_a_threshold_on_one_decides() {
    let runtime = runtime();
    let target = serve(&runtime, vec![]);
    let counts = ["vars.alpha=2", "vars.beta=3"];
    let holding = "thresholds=[\"round_trip{alpha} count == 6\", \"round_trip{beta} p99 < 5s\"]";
    let ran = probe(&target, &[counts[0], counts[1], holding]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/round_trips_by_name/alpha/count"), 6, "{ran:?}");
    assert_eq!(number(r, "/round_trips_by_name/beta/count"), 9, "{ran:?}");
    assert_eq!(number(r, "/round_trips/count"), 15, "{ran:?}");
    assert!(ran.stdout.contains("    alpha"), "{ran:?}");

    let crossed = "thresholds=[\"round_trip{alpha} count == 6\", \"round_trip{beta} count > 9\"]";
    let ran = probe(&target, &[counts[0], counts[1], crossed]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let outcomes = &results(&ran)["thresholds"];
    assert_eq!(outcomes[0]["passed"], true, "{ran:?}");
    assert_eq!(outcomes[1]["passed"], false, "{ran:?}");
    assert_eq!(outcomes[1]["actual"], "9", "{ran:?}");

    let unknown = "thresholds=[\"round_trip{gamma} p99 < 5s\"]";
    let ran = probe(&target, &[counts[0], unknown]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let actual = results(&ran)["thresholds"][0]["actual"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        actual.contains("no request named `gamma` completed"),
        "{actual}"
    );
}

#[test]
fn issue_10_a_module_built_for_interface_0_1_0_still_runs_with_the_same_counts() {
    let old = run_case("echo-0.1.0", &[]);
    assert_eq!(old.code, 0, "{old:?}");
    let new = run_case("echo-exact", &[]);
    assert_eq!(new.code, 0, "{new:?}");
    let (old_results, new_results) = (results(&old), results(&new));
    for pointer in [
        "/connections/attempted",
        "/connections/established",
        "/connections/failed",
        "/messages/sent",
        "/messages/received",
        "/round_trips/count",
        "/checks/0/passed",
        "/metrics/reply_bytes/count",
    ] {
        assert_eq!(
            number(old_results, pointer),
            number(new_results, pointer),
            "{pointer}"
        );
    }
    assert_eq!(number(old_results, "/round_trips/count"), 100);
    // The old module's requests are unnamed; the current echo names them `echo`.
    assert_eq!(old_results["round_trips_by_name"], serde_json::json!({}));
    assert_eq!(number(new_results, "/round_trips_by_name/echo/count"), 100);

    let checked = crate::support::collect(
        match crate::support::volley()
            .args(["check", "tests/cases/echo-0.1.0/scenario.yaml"])
            .output()
        {
            Ok(output) => output,
            Err(error) => panic!("cannot start volley: {error}"),
        },
        None,
    );
    assert_eq!(checked.code, 0, "{checked:?}");
    assert!(
        checked.stdout.contains("speaks volley:scenario@0.1.0"),
        "{checked:?}"
    );
}

#[test]
fn issue_23_a_module_built_for_interface_0_2_0_still_runs_with_the_same_counts() {
    let old = run_case("echo-0.2.0", &[]);
    assert_eq!(old.code, 0, "{old:?}");
    let new = run_case("echo-exact", &[]);
    assert_eq!(new.code, 0, "{new:?}");
    let (old_results, new_results) = (results(&old), results(&new));
    for pointer in [
        "/connections/attempted",
        "/connections/established",
        "/connections/failed",
        "/messages/sent",
        "/messages/received",
        "/round_trips/count",
        "/round_trips_by_name/echo/count",
        "/checks/0/passed",
        "/metrics/reply_bytes/count",
    ] {
        assert_eq!(
            number(old_results, pointer),
            number(new_results, pointer),
            "{pointer}"
        );
    }
    assert_eq!(number(old_results, "/round_trips_by_name/echo/count"), 100);
    // A 0.2.0 module has no goodbye and records no latency.
    assert_eq!(number(old_results, "/connections/goodbyes"), 0);
    assert_eq!(old_results["latency"], serde_json::json!({}));

    let checked = crate::support::collect(
        match crate::support::volley()
            .args(["check", "tests/cases/echo-0.2.0/scenario.yaml"])
            .output()
        {
            Ok(output) => output,
            Err(error) => panic!("cannot start volley: {error}"),
        },
        None,
    );
    assert_eq!(checked.code, 0, "{checked:?}");
    assert!(
        checked.stdout.contains("speaks volley:scenario@0.2.0"),
        "{checked:?}"
    );
}

#[test]
fn issue_23_latencies_are_kept_by_name_judged_and_stamps_in_the_future_counted() {
    let runtime = runtime();
    let target = serve(&runtime, Vec::new());
    let rules = r#"thresholds=["latency{deliver} p99 < 10s", "latency{delivered} p99 < 10s"]"#;
    let ran = probe(&target, &["vars.latency=4", "vars.skewed=1", rules]);
    // The misspelt name judges as no data: a failure.
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    // 3 connections × 4 latencies, each at least the 1 ms the stamp was taken before.
    assert_eq!(number(r, "/latency/deliver/count"), 12, "{r:#}");
    let min = r.pointer("/latency/deliver/min").and_then(Value::as_f64);
    assert!(min.is_some_and(|min| min >= 1_000.0), "{min:?}");
    // A stamp a minute in the future records 0 and is counted.
    assert_eq!(number(r, "/latency/skewed/count"), 3, "{r:#}");
    assert_eq!(
        r.pointer("/latency/skewed/max").and_then(Value::as_f64),
        Some(0.0)
    );
    assert_eq!(number(r, "/latency_stamps_in_future"), 3);
    let outcomes = &r["thresholds"];
    assert_eq!(outcomes[0]["passed"], true, "{outcomes}");
    assert_eq!(outcomes[1]["passed"], false, "{outcomes}");
    let actual = outcomes[1]["actual"].as_str().unwrap_or_default();
    assert!(actual.contains("no latency named `delivered`"), "{actual}");
    assert!(ran.stdout.contains("clock skew"), "{}", ran.stdout);
}

#[test]
fn issue_23_the_runs_end_says_goodbye_and_closes_by_the_rule() {
    let runtime = runtime();
    let target = serve(&runtime, Vec::new());
    let stopped = |goodbye: &str, extra: &[&str]| {
        let goodbye = format!("vars.goodbye={goodbye}");
        let mut sets = vec!["vars.stay=true", "load.duration=300ms", goodbye.as_str()];
        sets.extend_from_slice(extra);
        let ran = probe(&target, &sets);
        assert_eq!(ran.code, 0, "{ran:?}");
        let r = results(&ran).clone();
        assert_eq!(number(&r, "/connections/goodbyes"), 3, "{ran:?}");
        assert_eq!(number(&r, "/connections/failed"), 0, "{ran:?}");
        r
    };

    // A request left pending by the goodbye keeps the connection until its reply completes it.
    let r = stopped("request", &[]);
    assert_eq!(number(&r, "/round_trips_by_name/goodbye/count"), 3, "{r:#}");
    assert_eq!(number(&r, "/connections/goodbye_timeouts"), 0);
    assert_eq!(number(&r, "/requests_abandoned"), 0);

    // A reply that never comes: the goodbye is cut at load.goodbye_timeout, counted, and the
    // request abandoned (not a failure, not a reply timeout: its own timeout is a minute).
    let r = stopped("unanswered", &["load.goodbye_timeout=200ms"]);
    assert_eq!(number(&r, "/connections/goodbye_timeouts"), 3, "{r:#}");
    assert_eq!(number(&r, "/requests_abandoned"), 3);
    assert_eq!(number(&r, "/reply_timeouts"), 0);

    // A goodbye that closes itself, and one that only sends: neither waits nor is cut.
    for goodbye in ["close", "send"] {
        let r = stopped(goodbye, &[]);
        assert_eq!(number(&r, "/connections/goodbye_timeouts"), 0, "{goodbye}");
        assert_eq!(number(&r, "/requests_abandoned"), 0, "{goodbye}");
    }
}
