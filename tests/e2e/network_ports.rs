//! Where connections go and which side keeps the port afterwards, against real servers on
//! loopback: `localhost` (`::1` and `127.0.0.1`) against a server listening on one of them falls
//! back to the other, connect failures name the addresses tried, and after the closing handshake
//! the server closes TCP first, so TIME_WAIT (read with `ss`, iproute2) stays on the server.

use crate::servers::{Misbehaviour, Seen, listener, misbehaving, recording_echo, runtime};
use crate::support::{Ran, number, results, run_case};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

fn run_net(target: &str, sets: &[&str]) -> Ran {
    let mut args: Vec<&str> = vec!["--target", target];
    for set in sets {
        args.push("--set");
        args.push(set);
    }
    run_case("net", &args)
}

/// The port of a `ws://host:port/` target.
fn port_of(target: &str) -> u16 {
    match url::Url::parse(target).ok().and_then(|url| url.port()) {
        Some(port) => port,
        None => panic!("no port in {target}"),
    }
}

/// TCP sockets matching the `ss` filter `filter`, as `ss -Htan` prints them (state first).
fn sockets(filter: &str) -> Vec<String> {
    let output = match Command::new("ss").args(["-Htan", filter]).output() {
        Ok(output) if output.status.success() => output,
        Ok(output) => panic!(
            "ss -Htan {filter} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!("cannot run ss (iproute2): {error}"),
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Wait until every connection to or from `port` has finished closing (only LISTEN and
/// TIME-WAIT remain; a FIN-WAIT-2 becomes TIME-WAIT when the other side closes), then count the
/// TIME-WAIT sockets on the client side (destination port `port`) and on the server side.
fn time_wait_after_closing(port: u16) -> (usize, usize) {
    let filter = format!("( sport = :{port} or dport = :{port} )");
    let settled = |lines: &[String]| {
        lines
            .iter()
            .all(|line| line.starts_with("LISTEN") || line.starts_with("TIME-WAIT"))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = sockets(&filter);
    while !settled(&lines) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        lines = sockets(&filter);
    }
    assert!(settled(&lines), "connections still closing: {lines:#?}");
    let client_side = format!(":{port}");
    let time_wait: Vec<&String> = lines
        .iter()
        .filter(|line| line.starts_with("TIME-WAIT"))
        .collect();
    // `State Recv-Q Send-Q Local Peer`: the client's sockets have the server's port as peer.
    let on_client = time_wait
        .iter()
        .filter(|line| {
            line.split_whitespace()
                .nth(4)
                .is_some_and(|peer| peer.ends_with(&client_side))
        })
        .count();
    (on_client, time_wait.len() - on_client)
}

#[test]
fn issue_13_time_wait_stays_on_the_server_whoever_starts_the_close() {
    let runtime = runtime();
    // The server starts the closing handshake (Close 1000 right after the upgrade) and closes TCP
    // as soon as the client's answer arrives.
    let server_first = misbehaving(&runtime, Misbehaviour::CloseWith(1000));
    let ran = run_net(
        &server_first,
        &[
            "load.connections=4",
            "load.iterations=5",
            "load.retry_pause=10ms",
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/closed_by_server"), 20, "{r:#}");
    let (on_client, on_server) = time_wait_after_closing(port_of(&server_first));
    assert_eq!(
        (on_client, on_server),
        (0, 20),
        "TIME-WAIT sockets (client side, server side) after 20 connections the server closed"
    );
    // The client starts it (the scenario closes after its echoes); the server closes TCP once
    // both Close frames are exchanged.
    let echo = runtime.block_on(async {
        let listener = listener(Ipv4Addr::LOCALHOST).await;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        tokio::spawn(recording_echo(listener, Seen::default()));
        port
    });
    let ran = run_net(
        &format!("ws://127.0.0.1:{echo}/"),
        &["load.connections=4", "load.iterations=5"],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(number(results(&ran), "/connections/established"), 20);
    assert_eq!(
        time_wait_after_closing(echo),
        (0, 20),
        "TIME-WAIT sockets (client side, server side) after 20 connections the client closed"
    );
}

/// A port on both `127.0.0.1` and `::1` where nobody listens (both were just free).
fn port_free_on_both() -> u16 {
    for _ in 0..20 {
        let Ok(v4) = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) else {
            continue;
        };
        let Ok(port) = v4.local_addr().map(|address| address.port()) else {
            continue;
        };
        if std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free on both 127.0.0.1 and ::1");
}

#[test]
fn issue_12_localhost_reaches_a_server_on_one_of_its_addresses_and_failures_name_them() {
    let runtime = runtime();
    // An IPv4-only server: `localhost` also resolves to ::1, where nothing listens.
    let seen = Seen::default();
    let v4_only = runtime.block_on(async {
        let listener = listener(Ipv4Addr::LOCALHOST).await;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        tokio::spawn(recording_echo(listener, seen.clone()));
        port
    });
    let ran = run_net(
        &format!("ws://localhost:{v4_only}/"),
        &["load.connections=6", "load.iterations=2"],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/established"), 12, "{r:#}");
    assert_eq!(number(r, "/connections/failed"), 0, "{r:#}");
    // A server on both addresses (the same port): the connections spread over both.
    let both = Seen::default();
    let port = runtime.block_on(async {
        let v4 = listener(Ipv4Addr::LOCALHOST).await;
        let port = v4.local_addr().map(|a| a.port()).unwrap_or(0);
        let v6 = match tokio::net::TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
            .await
        {
            Ok(v6) => v6,
            Err(error) => panic!("cannot bind [::1]:{port}: {error}"),
        };
        tokio::spawn(recording_echo(v4, both.clone()));
        tokio::spawn(recording_echo(v6, both.clone()));
        port
    });
    let ran = run_net(&format!("ws://localhost:{port}/"), &["load.connections=8"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let by_local = both.by_local.lock().map(|m| m.clone()).unwrap_or_default();
    assert_eq!(by_local.len(), 2, "both addresses served: {by_local:?}");
    assert!(
        by_local.values().all(|count| *count == 4),
        "round robin: {by_local:?}"
    );
    // Nobody listens on either address: each failure's example names both.
    let nobody = port_free_on_both();
    let ran = run_net(&format!("ws://localhost:{nobody}/"), &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(
        number(
            r,
            "/connections/failed_by_reason/connect: connection refused"
        ),
        3,
        "{r:#}"
    );
    let example = r["connections"]["examples"]["connect: connection refused"]
        .as_str()
        .unwrap_or_default();
    assert!(
        example.starts_with("connect: connection refused (")
            && example.contains(&format!("127.0.0.1:{nobody}"))
            && example.contains(&format!("[::1]:{nobody}")),
        "{example}"
    );
}
