//! `volley_sdk::stomp` end to end against a real RabbitMQ broker (Debian's `rabbitmq-server` with
//! the `rabbitmq_web_stomp` plugin, installed by `scripts/test-setup`): `scenarios/stomp-chat.yaml`
//! (two populations) and its one-population twin `tests/cases/stomp-chat-one` with `--target`. One broker serves every case, because a RabbitMQ node takes about 10–16 s to
//! start: [`Broker`] starts a private `epmd` and a node in a temporary folder on free loopback
//! ports, and dropping it kills exactly those two processes by PID (also when a case fails). The
//! cases (receipts, an ERROR frame, heart-beats, a fan-out) run one after another in one test,
//! each on its own topic.

use crate::support::{Ran, build_scenarios, collect, number, results, volley};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's package puts the node's start script.
const RABBITMQ_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A RabbitMQ node with web-stomp on loopback, and its private `epmd`.
struct Broker {
    node: Child,
    epmd: Child,
    /// The folder holding its configuration, database and logs.
    dir: tempfile::TempDir,
    /// The web-stomp port: `ws://127.0.0.1:PORT/ws`.
    web_stomp: u16,
}

/// A loopback port free right now (the kernel's pick for port 0).
fn free_port() -> u16 {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|listener| listener.local_addr()) {
        Ok(address) => address.port(),
        Err(error) => panic!("cannot pick a free loopback port: {error}"),
    }
}

/// Wait until `port` accepts a TCP connection, `child` still running; false after `limit`.
fn wait_until_listening(port: u16, child: &mut Child, limit: Duration) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn write(path: &Path, text: &str) {
    if let Err(error) = std::fs::write(path, text) {
        panic!("cannot write {}: {error}", path.display());
    }
}

impl Broker {
    /// Start epmd and a node, and wait (at most 60 s) until web-stomp accepts connections.
    fn start() -> Broker {
        assert!(
            Path::new(RABBITMQ_SERVER).exists(),
            "{RABBITMQ_SERVER} is missing: run scripts/test-setup (apt-get install rabbitmq-server)"
        );
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(error) => panic!("cannot make a temporary folder: {error}"),
        };
        let (epmd_port, dist_port, web_stomp) = (free_port(), free_port(), free_port());
        // A private epmd on a free port, started first so the node uses it instead of starting a
        // shared one that would outlive the test.
        let mut epmd = match Command::new("epmd")
            .args(["-port", &epmd_port.to_string(), "-address", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(error) => panic!("cannot start epmd (part of rabbitmq-server's erlang): {error}"),
        };
        if !wait_until_listening(epmd_port, &mut epmd, Duration::from_secs(10)) {
            let _ = epmd.kill();
            let _ = epmd.wait();
            panic!("epmd did not listen on port {epmd_port}");
        }
        let base = dir.path();
        write(&base.join("enabled_plugins"), "[rabbitmq_web_stomp].\n");
        write(
            &base.join("rabbitmq.conf"),
            &format!(
                "listeners.tcp = none\n\
                 stomp.listeners.tcp = none\n\
                 web_stomp.tcp.ip = 127.0.0.1\n\
                 web_stomp.tcp.port = {web_stomp}\n\
                 loopback_users = none\n"
            ),
        );
        let node_name = format!("volley{}@localhost", std::process::id());
        // RUNNING_UNDER_SYSTEMD makes the script exec the Erlang VM, so the child's PID is the
        // node's own and killing it stops the broker (no shell in between).
        let node = Command::new(RABBITMQ_SERVER)
            .env("HOME", base)
            .env("RABBITMQ_NODENAME", &node_name)
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", base.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", base.join("log"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                base.join("enabled_plugins"),
            )
            .env("RABBITMQ_CONFIG_FILE", base.join("rabbitmq"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .env("RUNNING_UNDER_SYSTEMD", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::from(Broker::log_file(base)))
            .stderr(Stdio::from(Broker::log_file(base)))
            .spawn();
        let node = match node {
            Ok(node) => node,
            Err(error) => {
                let _ = epmd.kill();
                let _ = epmd.wait();
                panic!("cannot start {RABBITMQ_SERVER}: {error}");
            }
        };
        let mut broker = Broker {
            node,
            epmd,
            dir,
            web_stomp,
        };
        if !wait_until_listening(web_stomp, &mut broker.node, Duration::from_secs(60)) {
            let log = std::fs::read_to_string(base_log(broker.dir.path())).unwrap_or_default();
            let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
            drop(broker);
            panic!(
                "RabbitMQ's web-stomp port {web_stomp} did not accept within 60 s; its output, last lines first:\n{tail}"
            );
        }
        broker
    }

    fn log_file(base: &Path) -> std::fs::File {
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(base_log(base));
        match opened {
            Ok(file) => file,
            Err(error) => panic!("cannot open the node's output file: {error}"),
        }
    }

    fn target(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.web_stomp)
    }
}

fn base_log(base: &Path) -> std::path::PathBuf {
    base.join("node-output.log")
}

impl Drop for Broker {
    fn drop(&mut self) {
        for child in [&mut self.node, &mut self.epmd] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Run the one-population twin of the example (VU 0 sends) against `target`.
fn run_chat(target: &str, sets: &[&str]) -> Ran {
    run_chat_file("tests/cases/stomp-chat-one/scenario.yaml", target, sets)
}

/// Run the STOMP chat `file` against `target` with `--set` overrides.
fn run_chat_file(file: &str, target: &str, sets: &[&str]) -> Ran {
    build_scenarios();
    let out = std::env::temp_dir().join(format!(
        "volley-stomp-{}-{}.json",
        std::process::id(),
        sets.len()
    ));
    let _ = std::fs::remove_file(&out);
    let mut command = volley();
    command
        .args(["run", file, "--no-progress"])
        .args(["--target", target, "--out"])
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

/// `(passed, failed)` of check `name`, or `None` when it was never recorded.
fn check(results: &Value, name: &str) -> Option<(u64, u64)> {
    let checks = results["checks"].as_array()?;
    let check = checks.iter().find(|check| check["name"] == name)?;
    Some((
        check["passed"].as_u64().unwrap_or(0),
        check["failed"].as_u64().unwrap_or(0),
    ))
}

fn named_round_trips(results: &Value, name: &str) -> u64 {
    number(
        results,
        &format!(
            "/round_trips_by_name/{}/count",
            name.replace('~', "~0").replace('/', "~1")
        ),
    )
}

#[test]
fn stomp_against_a_real_rabbitmq_broker() {
    build_scenarios();
    let broker = Broker::start();
    let target = broker.target();
    let topic = |name: &str| format!("vars.topic=/topic/{name}-{}", std::process::id());

    // Receipts: one connection sends 5 messages to itself, each with a receipt timed as the named
    // request `stomp receipt`.
    let receipts = run_chat(
        &target,
        &[
            "load.connections=1",
            "vars.peers=0",
            "vars.messages=5",
            &topic("receipts"),
        ],
    );
    assert_eq!(receipts.code, 0, "{receipts:?}");
    let r = results(&receipts);
    assert_eq!(named_round_trips(r, "stomp receipt"), 5, "{receipts:?}");
    assert_eq!(named_round_trips(r, "stomp connect"), 1, "{receipts:?}");
    assert_eq!(named_round_trips(r, "stomp subscribe"), 2, "{receipts:?}");
    assert_eq!(number(r, "/reply_timeouts"), 0);
    assert_eq!(check(r, "chat message arrives once"), Some((5, 0)));
    // Every delivery's latency, from the sender's wall-clock stamp.
    assert_eq!(number(r, "/latency/deliver/count"), 5, "{receipts:?}");
    assert_eq!(number(r, "/latency_stamps_in_future"), 0);

    // A goodbye (issue 23): a connection still waiting for peers when the run's duration ends
    // sends DISCONNECT with a receipt in its goodbye, and the runner keeps it open for the
    // receipt. RabbitMQ answers DISCONNECT by closing the WebSocket itself, without a RECEIPT
    // (docs/sdk.md, "STOMP"): the broker closed first — which it does only because the goodbye
    // said DISCONNECT; the runner's own Close would have come first otherwise — and no goodbye was
    // cut; the receipt's request is abandoned.
    let goodbye = run_chat(
        &target,
        &[
            "load.connections=1",
            "load.duration=1s",
            "vars.peers=5",
            "thresholds=[]",
            &topic("goodbye"),
        ],
    );
    assert_eq!(goodbye.code, 0, "{goodbye:?}");
    let r = results(&goodbye);
    assert_eq!(number(r, "/connections/goodbyes"), 1, "{goodbye:?}");
    assert_eq!(number(r, "/connections/goodbye_timeouts"), 0, "{goodbye:?}");
    assert_eq!(number(r, "/connections/closed_by_server"), 1, "{goodbye:?}");
    assert_eq!(number(r, "/connections/failed"), 0, "{goodbye:?}");
    assert_eq!(number(r, "/requests_abandoned"), 1, "{goodbye:?}");

    // An ERROR frame: SEND to a destination RabbitMQ does not know is a failed check carrying the
    // broker's `message` header, and the run fails (exit 1) without a protocol error.
    let error = run_chat(
        &target,
        &[
            "load.connections=1",
            "vars.peers=0",
            "vars.messages=1",
            "vars.send_to=/bad/x",
            &topic("errors"),
        ],
    );
    assert_eq!(error.code, 1, "{error:?}");
    let r = results(&error);
    assert_eq!(
        check(r, "stomp ERROR: Unknown destination"),
        Some((0, 1)),
        "{error:?}"
    );
    assert_eq!(check(r, "stomp frame is valid"), None, "{error:?}");
    assert_eq!(number(r, "/connections/failed"), 0, "{error:?}");

    // Heart-beats: offered every 100 ms both ways, the broker agrees, the layer sends its own on
    // its timer and watches the broker's for the whole run (about a second) without a miss.
    let beats = run_chat(
        &target,
        &[
            "load.connections=2",
            "vars.peers=1",
            "vars.messages=10",
            "vars.interval_ms=100",
            "vars.heart_beat_ms=100",
            &topic("heartbeats"),
        ],
    );
    assert_eq!(beats.code, 0, "{beats:?}");
    let r = results(&beats);
    assert_eq!(
        check(r, "broker agreed to heart-beats both ways"),
        Some((2, 0)),
        "{beats:?}"
    );
    assert_eq!(
        check(r, "stomp broker heart-beats in time"),
        None,
        "{beats:?}"
    );
    assert_eq!(
        check(r, "every chat message arrives"),
        Some((2, 0)),
        "{beats:?}"
    );

    // Fan-out: 1 sender and 10 subscribers (11 connections, the sender also subscribed), 20
    // messages: every connection sees each message exactly once, 220 deliveries in all.
    // The example as written: 10 subscribers, then one publisher once they are established
    // (two populations).
    let fanout = run_chat_file("scenarios/stomp-chat.yaml", &target, &[&topic("fanout")]);
    drop(broker);
    assert_eq!(fanout.code, 0, "{fanout:?}");
    let r = results(&fanout);
    assert_eq!(number(r, "/connections/established"), 11);
    assert_eq!(
        check(r, "chat message arrives once"),
        Some((220, 0)),
        "{fanout:?}"
    );
    assert_eq!(
        check(r, "every chat message arrives"),
        Some((11, 0)),
        "{fanout:?}"
    );
    assert_eq!(named_round_trips(r, "stomp receipt"), 20, "{fanout:?}");
    assert_eq!(number(r, "/latency/deliver/count"), 220, "{fanout:?}");
    assert_eq!(named_round_trips(r, "stomp subscribe"), 12, "{fanout:?}");
    assert_eq!(
        number(r, "/populations/subscribers/connections/established"),
        10,
        "{fanout:?}"
    );
    assert_eq!(
        number(
            r,
            "/populations/publishers/round_trips_by_name/stomp receipt/count"
        ),
        20,
        "{fanout:?}"
    );
    assert_eq!(
        r.pointer("/metrics/lost_messages/sum")
            .and_then(Value::as_f64),
        Some(0.0),
        "{fanout:?}"
    );
    assert_eq!(number(r, "/reply_timeouts"), 0, "{fanout:?}");
    assert_eq!(check(r, "stomp frame is valid"), None, "{fanout:?}");
}
