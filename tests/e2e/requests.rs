//! Requests and round trips measured as the issue "Every figure true" asks: a round trip ends when
//! its reply arrived (not after the scenario's own parsing), a reused request key never makes a
//! request vanish, and what the runner holds for waiting requests counts against the scenario's
//! memory cap.

use crate::servers::{Misbehaviour, misbehaving, runtime};
use crate::support::{number, results, run_case};
use serde_json::Value;

fn figure(r: &Value, pointer: &str) -> f64 {
    match r.pointer(pointer).and_then(Value::as_f64) {
        Some(value) => value,
        None => panic!("no number at {pointer} in {r:#}"),
    }
}

#[test]
fn a_round_trip_ends_when_the_reply_arrived_not_when_the_scenario_completes_it() {
    // Each VU spends 50 ms parsing before `complete`, against an immediate echo: the 50 ms are
    // the scenario's CPU, not the server's latency.
    let ran = run_case("slow-complete", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/round_trips/count"), 4, "{r:#}");
    let p50_us = figure(r, "/round_trips/p50");
    assert!(
        p50_us < 25_000.0,
        "round trip p50 {p50_us} µs includes the parsing: {r:#}"
    );
}

#[test]
fn a_reused_request_key_queues_so_every_request_against_a_silent_server_times_out() {
    let runtime = runtime();
    let target = misbehaving(&runtime, Misbehaviour::Swallow);
    let ran = run_case("ping-every-second", &["--target", &target]);
    let r = results(&ran);
    assert_eq!(ran.code, 1, "{ran:?}");
    let sent = number(r, "/messages/sent");
    let timeouts = number(r, "/reply_timeouts");
    let abandoned = number(r, "/requests_abandoned");
    // Two connections, a request each second for 4.5 s: ~5 each. Every one is accounted for, and
    // only the last of each connection may still be waiting when the run ends.
    assert!(sent >= 6, "{r:#}");
    assert_eq!(timeouts + abandoned, sent, "{r:#}");
    assert!(abandoned <= 2, "{r:#}");
    assert_eq!(number(r, "/round_trips/count"), timeouts, "{r:#}");
}

#[test]
fn requests_held_for_a_scenario_count_against_its_memory_cap() {
    let ran = run_case("request-flood", &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/failed"), 2, "{r:#}");
    let reason = "scenario: waiting requests and timers, with linear memory, exceed the 4 MiB memory cap; raise limits.memory if they are legitimate";
    assert_eq!(r["scenario_errors"][reason], 2, "{r:#}");
}

#[test]
fn arrivals_queued_behind_the_handshake_cap_are_counted_and_their_wait_is_lateness() {
    let runtime = runtime();
    let target = misbehaving(
        &runtime,
        Misbehaviour::SlowUpgrade(std::time::Duration::from_millis(500)),
    );
    let ran = run_case("arrivals-queued", &["--target", &target]);
    let r = results(&ran);
    let arrivals = number(r, "/connections/arrivals");
    let attempted = number(r, "/connections/attempted");
    let queued = number(r, "/connections/pending_at_end");
    let dropped = number(r, "/connections/dropped_arrivals");
    assert_eq!(arrivals, 120, "{r:#}");
    // Single-iteration arrivals without reconnects: one attempt each, or counted as not started.
    assert_eq!(attempted + queued + dropped, arrivals, "{r:#}");
    // 4 in flight × 2 per second for ~3 s: most arrivals are still pending at the end.
    assert!(queued >= 60, "{r:#}");
    // The wait is lateness: seconds, not the few milliseconds the schedule alone shows.
    assert!(figure(r, "/arrival_lag/p99") >= 1_000_000.0, "{r:#}");
    assert!(
        figure(r, "/connect_phases/queue/p99") >= 1_000_000.0,
        "{r:#}"
    );
    let waits = number(r, "/connect_phases/queue/count");
    assert!(waits >= attempted && waits <= attempted + queued, "{r:#}");
    assert!(
        ran.stdout.contains("waited for a pacing permit"),
        "the summary says why: {}",
        ran.stdout
    );
}
