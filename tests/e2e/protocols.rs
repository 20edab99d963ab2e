//! The protocol examples end to end against real servers from npm: `scenarios/socketio.yaml`
//! against the `socket.io` v4 server and `scenarios/graphql.yaml` against a `graphql-ws` server
//! (`tests/servers/*.js`, installed by `scripts/test-setup` with `npm ci`). Each test starts its
//! node server on port 0, reads the port it prints, runs the example with `--target`, and kills
//! exactly that child process when done (also when the test fails).

use crate::support::{Ran, build_scenarios, collect, number, repo, results, volley};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A node server started by this test; dropped means killed and reaped.
struct NodeServer {
    child: Child,
    port: u16,
}

impl NodeServer {
    /// `node tests/servers/<script> 0`, waiting for its `listening on PORT` line.
    fn start(script: &str) -> NodeServer {
        let servers = repo().join("tests/servers");
        assert!(
            servers.join("node_modules").is_dir(),
            "tests/servers/node_modules is missing; run scripts/test-setup (or `cd tests/servers && npm ci`)"
        );
        let mut child = match Command::new("node")
            .arg(servers.join(script))
            .arg("0")
            .current_dir(&servers)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(child) => child,
            Err(error) => {
                panic!("cannot start node (install Node.js; scripts/test-setup): {error}")
            }
        };
        // The first line, or end of file if node dies: read_line never waits past either.
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|stdout| BufReader::new(stdout).read_line(&mut line));
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|port| port.parse::<u16>().ok());
        match (read, port) {
            (Some(Ok(_)), Some(port)) => NodeServer { child, port },
            (read, _) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{script} did not print `listening on PORT` (got {line:?}, {read:?})");
            }
        }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    let server = NodeServer::start("socketio.js");
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
    let server = NodeServer::start("graphql.js");
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
    let server = NodeServer::start("socketio.js");
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
