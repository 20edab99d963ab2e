//! permessage-deflate (RFC 7692, `net.compression`) end to end against real compressing servers:
//! Node's `ws` with `perMessageDeflate` (`tests/servers/ws-deflate.js`) and Python's `websockets`
//! (`tests/servers/websockets_echo.py`), both echoing, both compressing every message they send,
//! both telling through `GET /stats` what each connection offered and negotiated. Each test writes
//! its scenario file into a temporary folder, runs `volley` on it and checks exact counts, the
//! negotiation and the compression ratio from both sides, and the limits (a 900 KiB message within
//! `limits.max_message_size`, a deflate bomb beyond it). Hostile peers that break the negotiation
//! or the framing on purpose are raw TCP servers in `servers.rs` ([`HostileDeflate`]).

use crate::child_server::ChildServer;
use crate::servers::{
    DEFLATE_CLOSE_CODES_SEEN, HostileDeflate, Misbehaviour, misbehaving, runtime,
};
use crate::support::{Ran, build_scenarios, collect, number, repo, results, volley};
use serde_json::Value;
use std::collections::BTreeMap;

/// Connections per run.
const CONNECTIONS: u64 = 4;
/// Messages per connection.
const MESSAGES: u64 = 20;
/// Words of text in each echo message: ~250 bytes of JSON-like text that compresses well.
const WORDS: &str = "40";

/// What a test runs: a module from `scenarios/` with its vars, against a target, with a
/// `net.compression` value and `limits` (YAML flow values; empty: left out of the file).
struct Plan<'a> {
    module: &'a str,
    connections: u64,
    vars: &'a [(&'a str, &'a str)],
    compression: &'a str,
    limits: &'a str,
}

impl Plan<'_> {
    /// The echo module, `CONNECTIONS` × `MESSAGES` messages of compressible text, with
    /// `net.compression: <compression>`.
    fn echo(compression: &str) -> Plan<'_> {
        Plan {
            module: "echo",
            connections: CONNECTIONS,
            vars: &[
                ("messages", "20"), // MESSAGES
                ("interval_ms", "10"),
                ("timeout_ms", "5000"),
                ("words", WORDS),
            ],
            compression,
            limits: "",
        }
    }

    /// Write the scenario file into a temporary folder and run it against `target`.
    fn run(&self, target: &str) -> Ran {
        build_scenarios();
        let folder = match tempfile::tempdir() {
            Ok(folder) => folder,
            Err(error) => panic!("cannot make a temporary folder: {error}"),
        };
        let module = repo().join(format!(
            "scenarios/target/wasm32-wasip2/release/{}.wasm",
            self.module
        ));
        let vars: Vec<String> = self
            .vars
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        let mut text = format!(
            "version: 1\nname: compression\ntarget: {target}\nmodule: {}\nvars: {{{}}}\nload:\n  connections: {}\n  iterations: 1\n  connect_timeout: 5s\n  close_timeout: 1s\n",
            module.display(),
            vars.join(", "),
            self.connections,
        );
        if !self.compression.is_empty() {
            text.push_str(&format!("net:\n  compression: {}\n", self.compression));
        }
        if !self.limits.is_empty() {
            text.push_str(&format!("limits: {}\n", self.limits));
        }
        let file = folder.path().join("scenario.yaml");
        let out = folder.path().join("results.json");
        if let Err(error) = std::fs::write(&file, &text) {
            panic!("cannot write {}: {error}", file.display());
        }
        let output = volley()
            .arg("run")
            .arg(&file)
            .args(["--no-progress", "--out"])
            .arg(&out)
            .output();
        match output {
            Ok(output) => collect(output, Some(&out)),
            Err(error) => panic!("cannot start volley: {error}"),
        }
    }
}

// Every JSON path of the compression figures is read
// through these four functions, so a rename at merge is a change here only.

/// Bytes of WebSocket frames the runner wrote (headers, compressed payloads, control frames).
fn wire_bytes_sent(r: &Value) -> u64 {
    number(r, "/messages/wire_bytes_sent")
}

/// Bytes of WebSocket frames the runner read.
fn wire_bytes_received(r: &Value) -> u64 {
    number(r, "/messages/wire_bytes_received")
}

/// Messages the runner sent / received with RSV1 (compressed).
fn compressed_messages(r: &Value) -> (u64, u64) {
    (
        number(r, "/messages/compressed_sent"),
        number(r, "/messages/compressed_received"),
    )
}

/// The negotiated extension per connection: its stable text → how many connections negotiated
/// it (`none` for no extension). Absent means nothing was recorded.
fn negotiated(r: &Value) -> BTreeMap<String, u64> {
    r.pointer("/compression/negotiated")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(text, count)| (text.clone(), count.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// Connections that negotiated permessage-deflate, by the runner's account.
fn deflate_connections(r: &Value) -> u64 {
    negotiated(r)
        .iter()
        .filter(|(text, _)| text.starts_with("permessage-deflate"))
        .map(|(_, count)| count)
        .sum()
}

/// Failure reasons and their counts.
fn reasons(r: &Value) -> Vec<(String, u64)> {
    r["connections"]["failed_by_reason"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(reason, count)| (reason.clone(), count.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// The run passed with every count exact: `connections` established, none failed, `messages`
/// sent and received, every echo checked and matched by `check`.
fn assert_exact(ran: &Ran, connections: u64, messages: u64, check: &str) {
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(ran);
    assert_eq!(number(r, "/connections/established"), connections, "{r:#}");
    assert_eq!(number(r, "/connections/failed"), 0, "{r:#}");
    assert_eq!(number(r, "/messages/sent"), messages, "{r:#}");
    assert_eq!(number(r, "/messages/received"), messages, "{r:#}");
    assert_eq!(
        number(r, "/messages/bytes_sent"),
        number(r, "/messages/bytes_received"),
        "{r:#}"
    );
    assert_eq!(number(r, "/reply_timeouts"), 0, "{r:#}");
    let checks = r["checks"].as_array().cloned().unwrap_or_default();
    let Some(checked) = checks.iter().find(|c| c["name"] == check) else {
        panic!("no check {check:?} in {r:#}");
    };
    assert_eq!(checked["passed"].as_u64(), Some(messages), "{r:#}");
    assert_eq!(checked["failed"].as_u64(), Some(0), "{r:#}");
}

/// The server's own account: one entry per connection it upgraded.
fn server_connections(server: &ChildServer) -> Vec<Value> {
    let stats = server.stats();
    stats["connections"].as_array().cloned().unwrap_or_default()
}

/// A figure of one connection in a server's `/stats`.
fn field(connection: &Value, name: &str) -> u64 {
    connection[name].as_u64().unwrap_or(0)
}

/// Every connection the server saw negotiated permessage-deflate (and its answer contains
/// `contains`), and the messages it echoed add up to `messages`.
fn assert_server_saw_deflate(
    server: &ChildServer,
    connections: u64,
    messages: u64,
    contains: &str,
) {
    let seen = server_connections(server);
    assert_eq!(seen.len() as u64, connections, "{seen:#?}");
    for connection in &seen {
        let answer = connection["negotiated"].as_str().unwrap_or_default();
        assert!(
            answer.starts_with("permessage-deflate") && answer.contains(contains),
            "{seen:#?}"
        );
    }
    let echoed: u64 = seen.iter().map(|c| field(c, "messages")).sum();
    assert_eq!(echoed, messages, "{seen:#?}");
}

/// Compressible text both ways: the runner's figures and the negotiation it recorded.
fn assert_compressed_both_ways(r: &Value, connections: u64, messages: u64) {
    assert_eq!(deflate_connections(r), connections, "{r:#}");
    let payload_sent = number(r, "/messages/bytes_sent");
    let payload_received = number(r, "/messages/bytes_received");
    let (wire_sent, wire_received) = (wire_bytes_sent(r), wire_bytes_received(r));
    assert!(
        wire_sent > 0 && payload_sent * 2 > wire_sent * 3,
        "sent: payload {payload_sent} / wire {wire_sent} is not above 1.5: {r:#}"
    );
    assert!(
        wire_received > 0 && payload_received * 2 > wire_received * 3,
        "received: payload {payload_received} / wire {wire_received} is not above 1.5: {r:#}"
    );
    let (compressed_sent, compressed_received) = compressed_messages(r);
    // Both servers compress every message they send (threshold 0); the client compresses at
    // least some (the wire ratio above says most).
    assert_eq!(compressed_received, messages, "{r:#}");
    assert!(compressed_sent > 0 && compressed_sent <= messages, "{r:#}");
}

#[test]
fn deflate_echoes_compressible_text_through_node_ws_counts_exact_and_ratio_above_1_5() {
    let server = ChildServer::node("ws-deflate.js", &[]);
    let ran = Plan::echo("deflate").run(&server.url());
    let total = CONNECTIONS * MESSAGES;
    assert_exact(&ran, CONNECTIONS, total, "echo matches what was sent");
    assert_compressed_both_ways(results(&ran), CONNECTIONS, total);
    assert_server_saw_deflate(&server, CONNECTIONS, total, "");
    // The server's own TCP count of what the client wrote (the upgrade request included): the
    // client compressed, whatever the runner's counters say.
    let seen = server_connections(&server);
    let read: u64 = seen.iter().map(|c| field(c, "wire_bytes_read")).sum();
    let payload: u64 = seen
        .iter()
        .map(|c| field(c, "payload_bytes_received"))
        .sum();
    assert!(
        payload * 2 > read * 3,
        "node read {read} bytes for {payload} bytes of payload: {seen:#?}"
    );
}

#[test]
fn deflate_echoes_compressible_text_through_python_websockets_counts_exact_and_ratio_above_1_5() {
    let server = ChildServer::python("websockets_echo.py", &[]);
    let ran = Plan::echo("deflate").run(&server.url());
    let total = CONNECTIONS * MESSAGES;
    assert_exact(&ran, CONNECTIONS, total, "echo matches what was sent");
    assert_compressed_both_ways(results(&ran), CONNECTIONS, total);
    assert_server_saw_deflate(&server, CONNECTIONS, total, "");
}

#[test]
fn deflate_echoes_random_binary_through_node_ws_byte_for_byte() {
    // Random bytes do not compress; the server compresses them anyway (threshold 0), so every
    // message the client reads is inflated, and must come out byte for byte.
    let server = ChildServer::node("ws-deflate.js", &[]);
    let connections = 3;
    let plan = Plan {
        module: "binary",
        connections,
        vars: &[("messages", "10"), ("size", "2048"), ("interval_ms", "10")],
        compression: "deflate",
        limits: "",
    };
    let ran = plan.run(&server.url());
    assert_exact(&ran, connections, connections * 10, "bytes echoed exactly");
    let r = results(&ran);
    assert_eq!(deflate_connections(r), connections, "{r:#}");
    assert_eq!(compressed_messages(r).1, connections * 10, "{r:#}");
    assert_server_saw_deflate(&server, connections, connections * 10, "");
}

#[test]
fn deflate_without_context_takeover_both_ways_through_node_ws_counts_exact() {
    let server = ChildServer::node("ws-deflate.js", &[]);
    let ran = Plan::echo(
        "{deflate: {client_no_context_takeover: true, server_no_context_takeover: true}}",
    )
    .run(&server.url());
    let total = CONNECTIONS * MESSAGES;
    assert_exact(&ran, CONNECTIONS, total, "echo matches what was sent");
    let r = results(&ran);
    let negotiated = negotiated(r);
    assert_eq!(deflate_connections(r), CONNECTIONS, "{r:#}");
    assert!(
        negotiated
            .keys()
            .all(|text| text.contains("client_no_context_takeover")
                && text.contains("server_no_context_takeover")),
        "{negotiated:?}"
    );
    assert_server_saw_deflate(&server, CONNECTIONS, total, "server_no_context_takeover");
    assert_server_saw_deflate(&server, CONNECTIONS, total, "client_no_context_takeover");
    // The offer said both.
    for connection in server_connections(&server) {
        let offer = connection["offer"].as_str().unwrap_or_default();
        assert!(
            offer.contains("client_no_context_takeover")
                && offer.contains("server_no_context_takeover"),
            "{connection:#}"
        );
    }
}

#[test]
fn server_max_window_bits_10_is_negotiated_with_python_websockets() {
    let server = ChildServer::python("websockets_echo.py", &[]);
    let ran = Plan::echo("{deflate: {server_max_window_bits: 10}}").run(&server.url());
    let total = CONNECTIONS * MESSAGES;
    assert_exact(&ran, CONNECTIONS, total, "echo matches what was sent");
    let r = results(&ran);
    let negotiated = negotiated(r);
    assert_eq!(deflate_connections(r), CONNECTIONS, "{r:#}");
    assert!(
        negotiated
            .keys()
            .all(|text| text.contains("server_max_window_bits=10")),
        "{negotiated:?}"
    );
    assert_server_saw_deflate(&server, CONNECTIONS, total, "server_max_window_bits=10");
}

#[test]
fn required_deflate_fails_every_connection_to_a_server_that_declines() {
    let server = ChildServer::node("ws-deflate.js", &["--no-deflate"]);
    let ran = Plan::echo("{deflate: {required: true}}").run(&server.url());
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(
        reasons(r),
        vec![(
            "upgrade: server declined permessage-deflate".to_owned(),
            CONNECTIONS
        )],
        "{r:#}"
    );
    assert_eq!(number(r, "/messages/sent"), 0, "{r:#}");
}

#[test]
fn optional_deflate_runs_uncompressed_against_a_server_that_declines() {
    let server = ChildServer::node("ws-deflate.js", &["--no-deflate"]);
    let ran = Plan::echo("deflate").run(&server.url());
    let total = CONNECTIONS * MESSAGES;
    assert_exact(&ran, CONNECTIONS, total, "echo matches what was sent");
    let r = results(&ran);
    assert_eq!(
        negotiated(r),
        BTreeMap::from([("none".to_owned(), CONNECTIONS)]),
        "{r:#}"
    );
    assert!(
        wire_bytes_sent(r) >= number(r, "/messages/bytes_sent"),
        "{r:#}"
    );
    assert!(
        wire_bytes_received(r) >= number(r, "/messages/bytes_received"),
        "{r:#}"
    );
    assert_eq!(compressed_messages(r), (0, 0), "{r:#}");
    // It offered, and the server said nothing back.
    for connection in server_connections(&server) {
        assert!(
            connection["offer"]
                .as_str()
                .is_some_and(|offer| offer.starts_with("permessage-deflate")),
            "{connection:#}"
        );
        assert_eq!(connection["negotiated"], "none", "{connection:#}");
    }
}

/// With compression off (`compression` empty: the field left out) against both compressing
/// servers: no offer reaches them, nothing is negotiated, and every count is exact.
fn assert_off_offers_nothing(compression: &str) {
    let node = ChildServer::node("ws-deflate.js", &[]);
    let python = ChildServer::python("websockets_echo.py", &[]);
    for server in [&node, &python] {
        let ran = Plan::echo(compression).run(&server.url());
        let total = CONNECTIONS * MESSAGES;
        assert_exact(&ran, CONNECTIONS, total, "echo matches what was sent");
        assert_eq!(deflate_connections(results(&ran)), 0, "{ran:?}");
        let seen = server_connections(server);
        assert_eq!(seen.len() as u64, CONNECTIONS, "{seen:#?}");
        for connection in &seen {
            assert!(connection["offer"].is_null(), "{seen:#?}");
            assert_eq!(connection["negotiated"], "none", "{seen:#?}");
        }
    }
}

#[test]
fn compression_is_off_by_default_and_offers_nothing_to_compressing_servers() {
    assert_off_offers_nothing("");
}

#[test]
fn compression_off_offers_nothing_to_compressing_servers() {
    assert_off_offers_nothing("off");
}

#[test]
fn a_900_kib_compressible_message_within_a_1_mib_limit_echoes_through_deflate() {
    // `pingpong` pads its sequence number with zeros to `size` bytes of text: it compresses to
    // almost nothing both ways, and both sides inflate 900 KiB.
    let server = ChildServer::node("ws-deflate.js", &[]);
    let plan = Plan {
        module: "pingpong",
        connections: 2,
        vars: &[("messages", "2"), ("size", "921600")],
        compression: "deflate",
        limits: "{max_message_size: 1MiB}",
    };
    let ran = plan.run(&server.url());
    assert_exact(&ran, 2, 4, "echo matches what was sent");
    let r = results(&ran);
    assert_eq!(number(r, "/messages/bytes_received"), 4 * 921_600, "{r:#}");
    assert_eq!(number(r, "/round_trips/count"), 4, "{r:#}");
    assert_eq!(deflate_connections(r), 2, "{r:#}");
    // Zeros compress a thousandfold; a tenth is far above what either side writes.
    assert!(wire_bytes_sent(r) < 4 * 92_160, "{r:#}");
    assert!(wire_bytes_received(r) < 4 * 92_160, "{r:#}");
    assert_server_saw_deflate(&server, 2, 4, "");
    let seen = server_connections(&server);
    let read: u64 = seen.iter().map(|c| field(c, "wire_bytes_read")).sum();
    assert!(read < 4 * 92_160, "node read {read} bytes: {seen:#?}");
}

#[test]
fn a_deflate_bomb_fails_its_connection_as_too_long_without_being_inflated() {
    // 8 MiB of zeros, ~8 KiB on the wire, against a 1 MiB limit: every connection fails under the
    // same reason as an oversized frame, and the runner never holds the 8 MiB.
    let connections = 2;
    let plan = Plan {
        module: "echo",
        connections,
        vars: &[("messages", "1"), ("timeout_ms", "5000")],
        compression: "deflate",
        limits: "{max_message_size: 1MiB}",
    };
    // The same run against the same server without the bomb: how much the runner's resident
    // memory grows during such a run on this machine (runtime threads, buffers, deflate state).
    let clean = ChildServer::node("ws-deflate.js", &[]);
    let baseline = plan.run(&clean.url());
    assert_eq!(baseline.code, 0, "{baseline:?}");
    let bomb = ChildServer::node("ws-deflate.js", &["--bomb", "8388608"]);
    let ran = plan.run(&bomb.url());
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(
        reasons(r),
        vec![(
            "protocol: message too long (limit 1 MiB)".to_owned(),
            connections
        )],
        "{r:#}"
    );
    assert_eq!(deflate_connections(r), connections, "{r:#}");
    // The bomb went out compressed (the server wrote kilobytes, not megabytes), so it was the
    // inflated size that hit the limit, not a frame's length.
    let seen = server_connections(&bomb);
    assert_eq!(seen.len() as u64, connections, "{seen:#?}");
    for connection in &seen {
        assert!(
            field(connection, "wire_bytes_written") < 64 << 10,
            "{seen:#?}"
        );
    }
    // Inflating a bomb whole touches at least 8 MiB more than the clean run; an inflater bounded
    // by the limit stops near 1 MiB per connection.
    let grown_kib = |r: &Value| {
        number(r, "/process/peak_rss_kib").saturating_sub(number(r, "/process/start_rss_kib"))
    };
    let (clean_kib, bomb_kib) = (grown_kib(results(&baseline)), grown_kib(r));
    assert!(
        bomb_kib < clean_kib + (6 << 10),
        "peak RSS grew by {bomb_kib} KiB with the bomb, {clean_kib} KiB without: {r:#}"
    );
}

/// Run `CONNECTIONS` echo connections offering deflate against a [`HostileDeflate`] server.
fn against_hostile(hostility: HostileDeflate, compression: &str) -> Ran {
    let runtime = runtime();
    let target = misbehaving(&runtime, Misbehaviour::Deflate(hostility));
    let mut plan = Plan::echo(compression);
    plan.vars = &[
        ("messages", "3"),
        ("interval_ms", "10"),
        ("timeout_ms", "3000"),
    ];
    plan.run(&target)
}

#[test]
fn hostile_negotiation_answers_fail_the_upgrade_each_under_one_reason() {
    let mut seen_reasons = Vec::new();
    for hostility in [
        HostileDeflate::UnofferedExtension,
        HostileDeflate::WindowBitsOutOfRange,
        HostileDeflate::UnknownParameter,
        HostileDeflate::DuplicateParameter,
    ] {
        let ran = against_hostile(hostility, "deflate");
        assert_eq!(ran.code, 1, "{hostility:?}: {ran:?}");
        let r = results(&ran);
        let reasons = reasons(r);
        assert_eq!(reasons.len(), 1, "{hostility:?}: one reason: {r:#}");
        let (reason, count) = &reasons[0];
        assert!(reason.starts_with("upgrade: "), "{hostility:?}: {r:#}");
        assert_eq!(*count, CONNECTIONS, "{hostility:?}: {r:#}");
        assert_eq!(
            number(r, "/connections/established"),
            0,
            "{hostility:?}: {r:#}"
        );
        seen_reasons.push(reason.clone());
    }
    let mut distinct = seen_reasons.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        seen_reasons.len(),
        "one reason per case: {seen_reasons:?}"
    );
}

/// The connection failed under `reason` on every connection, and the client answered the
/// server with Close 1002 on each.
fn assert_protocol_failure(hostility: HostileDeflate, compression: &str, reason: &str) {
    let before = close_codes(hostility).len();
    let ran = against_hostile(hostility, compression);
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(reasons(r), vec![(reason.to_owned(), CONNECTIONS)], "{r:#}");
    // The server records each Close as it reads it, on its own runtime: wait for them.
    let codes = wait_for_close_codes(hostility, before + CONNECTIONS as usize);
    assert_eq!(
        codes.get(before..),
        Some(&[1002; CONNECTIONS as usize][..]),
        "Close codes the server received: {codes:?}"
    );
}

/// The Close codes [`HostileDeflate`] servers of this kind have received so far.
fn close_codes(hostility: HostileDeflate) -> Vec<u16> {
    DEFLATE_CLOSE_CODES_SEEN
        .lock()
        .map(|seen| seen.get(&hostility).cloned().unwrap_or_default())
        .unwrap_or_default()
}

/// Wait until at least `count` Close codes are recorded for `hostility` (at most 10 s; then
/// whatever arrived, for the assert to show).
fn wait_for_close_codes(hostility: HostileDeflate, count: usize) -> Vec<u16> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let codes = close_codes(hostility);
        if codes.len() >= count || std::time::Instant::now() >= deadline {
            return codes;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_compressed_ping_fails_the_connection_with_1002() {
    assert_protocol_failure(
        HostileDeflate::CompressedPing,
        "deflate",
        "protocol: compressed control frame",
    );
}

#[test]
fn rsv1_on_a_continuation_frame_fails_the_connection_with_1002() {
    assert_protocol_failure(
        HostileDeflate::Rsv1OnContinuation,
        "deflate",
        "protocol: RSV1 on a continuation frame",
    );
}

#[test]
fn rsv1_without_a_negotiated_extension_fails_the_connection_with_1002() {
    // Offered and declined, or never offered: either way nothing allows RSV1.
    assert_protocol_failure(
        HostileDeflate::Rsv1WithoutExtension,
        "deflate",
        "protocol: reserved bits set without an extension",
    );
    assert_protocol_failure(
        HostileDeflate::Rsv1WithoutExtension,
        "",
        "protocol: reserved bits set without an extension",
    );
}
