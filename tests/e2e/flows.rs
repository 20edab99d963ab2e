//! Flows (`flow:` steps in the scenario file, run by the runner itself) against real servers on
//! loopback: a session server that hands out a value the flow captures and sends back, and pushes
//! messages no expect asks for; an expect that times out; the examples in `scenarios/` against
//! the embedded echo and chat servers; a mistake in a flow named at its line and column.

use crate::servers::{listener, runtime};
use crate::support::{Ran, collect, number, results, volley};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::net::Ipv4Addr;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// A small session protocol. On connect the server pushes `{"type":"welcome"}`. To
/// `{"type":"join"}` it answers `{"type":"joined","session":"s-<n>"}`. To
/// `{"type":"say","session":S,"n":N}` it first pushes `{"type":"news"}`, then answers
/// `{"type":"said","session":S,"n":N}`, or `{"type":"error"}` when S is not the session it gave.
/// `{"type":"ignore"}` gets no answer.
async fn session_server(listener: TcpListener) {
    let mut sessions = 0u64;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        sessions += 1;
        let session = format!("s-{sessions}");
        tokio::spawn(async move {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            if socket
                .send(Message::text(r#"{"type":"welcome"}"#))
                .await
                .is_err()
            {
                return;
            }
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(request) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let answers = match request["type"].as_str() {
                    Some("join") => vec![serde_json::json!({"type": "joined", "session": session})],
                    Some("say") if request["session"] == session.as_str() => vec![
                        serde_json::json!({"type": "news"}),
                        serde_json::json!({"type": "said", "session": session, "n": request["n"]}),
                    ],
                    Some("say") => vec![serde_json::json!({"type": "error"})],
                    _ => Vec::new(),
                };
                for answer in answers {
                    if socket
                        .send(Message::text(answer.to_string()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
    }
}

/// Start [`session_server`] on a free loopback port of `runtime`; its URL.
fn start_session_server(runtime: &tokio::runtime::Runtime) -> String {
    runtime.block_on(async {
        let listener = listener(Ipv4Addr::LOCALHOST).await;
        let url = match listener.local_addr() {
            Ok(address) => format!("ws://{address}/"),
            Err(error) => panic!("no address: {error}"),
        };
        tokio::spawn(session_server(listener));
        url
    })
}

/// Run the flow file `text` (written to a temporary folder) against `target`; results parsed.
fn run_flow(text: &str, target: &str, extra: &[&str]) -> Ran {
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    let file = folder.path().join("flow.yaml");
    let out = folder.path().join("results.json");
    if let Err(error) = std::fs::write(&file, text) {
        panic!("cannot write {}: {error}", file.display());
    }
    let output = volley()
        .arg("run")
        .arg(&file)
        .args(["--no-progress", "--target", target, "--out"])
        .arg(&out)
        .args(extra)
        .output();
    match output {
        Ok(output) => collect(output, Some(&out)),
        Err(error) => panic!("cannot start volley: {error}"),
    }
}

/// A check's passed and failed counts (0, 0 when the run recorded no such check).
fn check(results: &Value, name: &str) -> (u64, u64) {
    let found = results["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|check| check["name"] == name));
    match found {
        Some(check) => (
            check["passed"].as_u64().unwrap_or(0),
            check["failed"].as_u64().unwrap_or(0),
        ),
        None => (0, 0),
    }
}

const SESSION_FLOW: &str = r#"version: 1
name: session-flow
target: ws://127.0.0.1:1/
flow:
  - send: '{"type":"join"}'
  - expect:
      name: join
      json: {path: $.type, equals: joined}
      capture:
        session: $.session
  - loop:
      count: 5
      steps:
        - send: '{"type":"say","session":"{{session}}","n":{{counter}}}'
        - expect:
            name: said
            json: {path: $.session, equals: "{{session}}"}
            timeout: 5s
        - check: {name: session-handed-out, value: "{{session}}", matches: "^s-[0-9]+$"}
load:
  connections: 4
  iterations: 1
"#;

#[test]
fn a_flow_captures_the_session_it_is_given_and_counts_the_pushes_it_did_not_expect() {
    let runtime = runtime();
    let target = start_session_server(&runtime);
    let ran = run_flow(SESSION_FLOW, &target, &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let figures = results(&ran);
    // Every connection joined once and said 5 lines with the session it was handed: a wrong
    // session gets `error`, which the `said` expect would not match.
    assert_eq!(check(figures, "join"), (4, 0), "{ran:?}");
    assert_eq!(check(figures, "said"), (20, 0), "{ran:?}");
    assert_eq!(check(figures, "session-handed-out"), (20, 0), "{ran:?}");
    assert_eq!(number(figures, "/round_trips_by_name/join/count"), 4);
    assert_eq!(number(figures, "/round_trips_by_name/said/count"), 20);
    assert_eq!(number(figures, "/messages/sent"), 24);
    // The welcome and the 5 news pushes of each connection were matched by no expect: counted.
    assert_eq!(number(figures, "/unexpected_messages"), 24, "{ran:?}");
    assert!(ran.stdout.contains("unexpected       24"), "{ran:?}");
    assert_eq!(number(figures, "/reply_timeouts"), 0);
}

#[test]
fn an_expect_that_times_out_is_a_failed_check_and_ends_the_flow() {
    let runtime = runtime();
    let target = start_session_server(&runtime);
    // The first expect is untimed and waits 300 ms for an answer that never comes; the second
    // flow's expect is timed (named), so its miss is also a reply timeout.
    let untimed = r#"version: 1
name: silent
target: ws://127.0.0.1:1/
flow:
  - send: '{"type":"ignore"}'
  - expect: {json: {path: $.type, equals: ignored}, timeout: 300ms}
  - send: '{"type":"join"}'
load: {connections: 3, iterations: 1}
thresholds:
  - checks pass_rate > 99%
"#;
    let ran = run_flow(untimed, &target, &[]);
    assert_eq!(
        ran.code, 1,
        "the threshold on checks fails the run: {ran:?}"
    );
    let figures = results(&ran);
    assert_eq!(check(figures, "step 2: expect"), (0, 3), "{ran:?}");
    // The flow stopped at the failed expect: the join after it was never sent.
    assert_eq!(number(figures, "/messages/sent"), 3, "{ran:?}");
    assert_eq!(number(figures, "/reply_timeouts"), 0);

    let timed = untimed.replace("  - expect: {", "  - expect: {name: ignored, ");
    let ran = run_flow(&timed, &target, &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let figures = results(&ran);
    assert_eq!(check(figures, "ignored"), (0, 3), "{ran:?}");
    assert_eq!(number(figures, "/reply_timeouts"), 3, "{ran:?}");
    // Censored at the deadline, as a module's request would be.
    assert_eq!(number(figures, "/round_trips_by_name/ignored/count"), 3);
    assert!(
        figures["round_trips_by_name"]["ignored"]["min"]
            .as_f64()
            .is_some_and(|min| min >= 300_000.0),
        "{ran:?}"
    );
}

#[test]
fn the_example_flows_run_against_the_embedded_servers() {
    for (file, expected) in [
        ("scenarios/echo-flow.yaml", "echo"),
        ("scenarios/chat-flow.yaml", "own-line"),
    ] {
        let folder = match tempfile::tempdir() {
            Ok(folder) => folder,
            Err(error) => panic!("cannot make a temporary folder: {error}"),
        };
        let out = folder.path().join("results.json");
        let output = volley()
            .args(["run", file, "--no-progress", "--out"])
            .arg(&out)
            .args(["--set", "load.connections=5", "--set", "load.duration=1s"])
            .args(["--set", "load.ramp_up=100ms"])
            .output();
        let ran = match output {
            Ok(output) => collect(output, Some(&out)),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(ran.code, 0, "{file}: {ran:?}");
        let (passed, failed) = check(results(&ran), expected);
        assert!(passed > 0 && failed == 0, "{file}: {ran:?}");
        assert!(
            number(
                results(&ran),
                &format!("/round_trips_by_name/{expected}/count")
            ) > 0,
            "{file}: {ran:?}"
        );
        // Its digest is the scenario file's, and the outputs say so rather than "module".
        assert!(
            ran.stdout.contains("flow (file): sha256:"),
            "{file}: {ran:?}"
        );
        let compared = match volley().arg("compare").arg(&out).arg(&out).output() {
            Ok(output) => collect(output, None),
            Err(error) => panic!("cannot start volley compare: {error}"),
        };
        assert!(compared.stdout.contains(", flow (file) "), "{compared:?}");
    }
}

#[test]
fn a_mistake_in_a_flow_is_named_at_its_line_and_column() {
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    for (text, expected) in [
        (
            "version: 1\nname: x\ntarget: embedded://echo\nflow:\n  - send: hi\n  - sned: hi\nload: {connections: 1, iterations: 1}\n",
            "flow.yaml:6:5: flow[1]: unknown step `sned`, did you mean `send`?",
        ),
        (
            "version: 1\nname: x\ntarget: embedded://echo\nflow:\n  - loop:\n      count: 2\n      steps:\n        - send: '{\"s\":\"{{session}}\"}'\nload: {connections: 1, iterations: 1}\n",
            "flow.yaml:8:11: step 1.1: `{{session}}` is used before any step captures it",
        ),
    ] {
        let file = folder.path().join("flow.yaml");
        if let Err(error) = std::fs::write(&file, text) {
            panic!("cannot write: {error}");
        }
        let output = volley().arg("check").arg(&file).output();
        let ran = match output {
            Ok(output) => collect(output, None),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(ran.code, 2, "{ran:?}");
        assert!(ran.stderr.contains(expected), "{expected}\n{ran:?}");
    }
}

#[test]
fn the_readme_first_flow_runs_as_written() {
    let readme = match std::fs::read_to_string(crate::support::repo().join("README.md")) {
        Ok(text) => text,
        Err(error) => panic!("cannot read README.md: {error}"),
    };
    let section = readme
        .split("## Your first scenario in five minutes")
        .nth(1)
        .unwrap_or_default();
    let flow = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .unwrap_or_default();
    assert!(
        flow.contains("flow:"),
        "no flow in the README's first five minutes"
    );
    let ran = run_flow(flow, "embedded://echo", &["--set", "load.connections=5"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(check(results(&ran), "hi"), (25, 0), "{ran:?}");
}

#[test]
fn a_flow_goes_to_kubernetes_inside_its_scenario_file() {
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    let out = folder.path().join("k8s");
    let output = volley()
        .args([
            "kubernetes",
            "scenarios/echo-flow.yaml",
            "--shards",
            "2",
            "--out",
        ])
        .arg(&out)
        .output();
    let ran = match output {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 0, "{ran:?}");
    let configmap = std::fs::read_to_string(out.join("configmap.yaml")).unwrap_or_default();
    // The steps travel in the scenario; there is no module to carry or to point at.
    assert!(configmap.contains("flow:"), "{configmap}");
    assert!(!configmap.contains("module:"), "{configmap}");
}

/// Issue 23: a flow's `goodbye:` steps run when the run's duration ends each connection; a named
/// expect there holds the connection for its reply, up to `load.goodbye_timeout`.
#[test]
fn issue_23_a_flow_says_goodbye_and_the_run_waits_for_its_reply() {
    let ran = crate::support::run_case("flow-goodbye", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/goodbyes"), 3, "{ran:?}");
    assert_eq!(number(r, "/connections/goodbye_timeouts"), 0, "{ran:?}");
    assert_eq!(number(r, "/round_trips_by_name/bye/count"), 3, "{ran:?}");
    assert_eq!(number(r, "/connections/failed"), 0, "{ran:?}");

    // The counter-test: a reply that never comes is cut at goodbye_timeout and counted.
    let ran = crate::support::run_case("flow-goodbye", &["--set", "vars.suffix=x"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/goodbyes"), 3, "{ran:?}");
    assert_eq!(number(r, "/connections/goodbye_timeouts"), 3, "{ran:?}");
    assert!(r.pointer("/round_trips_by_name/bye").is_none(), "{r:#}");
}
