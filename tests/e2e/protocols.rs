//! The protocol examples end to end against real servers from npm: `scenarios/socketio.yaml`
//! against the `socket.io` v4 server and `scenarios/graphql.yaml` against a `graphql-ws` server
//! (`tests/servers/*.js`, installed by `scripts/test-setup` with `npm ci`). Each test starts its
//! node server on port 0 ([`ChildServer`]), reads the port it prints, runs the example with
//! `--target`, and kills exactly that child process when done (also when the test fails).

use crate::child_server::ChildServer;
use crate::support::{Ran, build_scenarios, collect, number, results, volley};
use serde_json::Value;

fn run_example(file: &str, target: &str, sets: &[&str]) -> Ran {
    build_scenarios();
    let out = std::env::temp_dir().join(format!(
        "volley-{}-{}.json",
        file.replace('/', "-"),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&out);
    let mut command = volley();
    command
        .args(["run", file, "--no-progress", "--target", target, "--out"])
        .arg(&out);
    for set in sets {
        command.args(["--set", set]);
    }
    let ran = match command.output() {
        Ok(output) => collect(output, Some(&out)),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    let _ = std::fs::remove_file(&out);
    ran
}

fn check(results: &Value, name: &str) -> (u64, u64) {
    let checks = results["checks"].as_array().cloned().unwrap_or_default();
    match checks.iter().find(|check| check["name"] == name) {
        Some(check) => (
            check["passed"].as_u64().unwrap_or(0),
            check["failed"].as_u64().unwrap_or(0),
        ),
        None => panic!("no check {name:?} in {results:#}"),
    }
}

#[test]
fn socketio_example_acks_every_emit_from_a_real_socketio_server() {
    let server = ChildServer::node("socketio.js", &[]);
    let target = format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket",
        server.port
    );
    let ran = run_example(
        "scenarios/socketio.yaml",
        &target,
        &[
            "load.connections=4",
            "vars.messages=5",
            "vars.interval_ms=20",
        ],
    );
    drop(server);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/established"), 4);
    assert_eq!(check(r, "ack carries the emitted payload"), (20, 0));
    assert_eq!(check(r, "server said welcome"), (4, 0));
    // Every emit with an ack was timed as a request.
    assert_eq!(number(r, "/round_trips/count"), 20);
    assert_eq!(number(r, "/reply_timeouts"), 0);
    let checks = r["checks"].as_array().cloned().unwrap_or_default();
    assert!(
        !checks
            .iter()
            .any(|check| check["name"] == "socket.io packet is valid"),
        "{ran:?}"
    );
}

#[test]
fn graphql_example_counts_down_on_a_real_graphql_ws_server() {
    let server = ChildServer::node("graphql.js", &[]);
    let target = format!("ws://127.0.0.1:{}/graphql", server.port);
    let ran = run_example("scenarios/graphql.yaml", &target, &["load.connections=3"]);
    drop(server);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/established"), 3);
    assert_eq!(check(r, "countdown values arrive in order"), (3, 0));
    assert_eq!(check(r, "next carries data.countdown"), (15, 0));
    assert_eq!(check(r, "subscription completes"), (3, 0));
    // One subscription per connection, timed from subscribe to complete.
    assert_eq!(number(r, "/round_trips/count"), 3);
    assert_eq!(number(r, "/reply_timeouts"), 0);
}

#[test]
fn a_server_speaking_another_protocol_is_a_failed_check_not_a_crash() {
    // The GraphQL scenario against the Socket.IO server: its Engine.IO open packet is not a
    // graphql-transport-ws message, so the layer fails its check and the scenario closes.
    let server = ChildServer::node("socketio.js", &[]);
    let target = format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket",
        server.port
    );
    let ran = run_example(
        "scenarios/graphql.yaml",
        &target,
        &["load.connections=2", "subprotocols=[]"],
    );
    drop(server);
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(check(r, "graphql-ws message is valid"), (0, 2));
    assert_eq!(number(r, "/connections/failed"), 0, "{ran:?}");
}
