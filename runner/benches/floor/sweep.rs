//! The handshake-cap sweep (`just bench-handshakes`): Volley's W3 (5,000 connections at once, one
//! echo each) at `net.max_handshakes_in_flight` 16, 32, 64, 128, 256 and 1,024, against
//! `volley serve` (listen backlog 8,192, capped by net.core.somaxconn) and against the floor's own
//! server (tokio's default backlog, 1,024, like websocat). Prints connections/s (whole process and
//! load phase), connect and TCP-connect p99 and the runner's CPU per connection, so the default cap
//! can be the one with the best rate and no 1 s SYN-retransmit tail.

use crate::child::CLIENT_CPU;
use crate::compare::{show, volley_counts};
use crate::volley_cli::{self, Server};
use std::process::ExitCode;
use std::time::Duration;

const CAPS: [u32; 6] = [16, 32, 64, 128, 256, 1024];

pub fn run() -> ExitCode {
    println!(
        "handshake-cap sweep: volley run tests/cases/bench-w3 (5,000 conns, 1 echo each), client on CPU {CLIENT_CPU}, server on the other"
    );
    for (label, start) in [
        (
            "volley serve",
            Server::volley_serve as fn() -> Result<Server, String>,
        ),
        ("floor server (backlog 1024)", Server::floor),
    ] {
        let server = match start() {
            Ok(server) => server,
            Err(error) => {
                println!("{label}: cannot start: {error}");
                continue;
            }
        };
        println!();
        println!("against {label} on {}:", server.address);
        println!(
            "{:>6} {:>8} {:>10} {:>10} {:>12} {:>12} {:>10} {:>7}",
            "cap", "opened", "conn/s", "conn/s", "connect p99", "tcp p99", "CPU µs", "errors"
        );
        println!(
            "{:>6} {:>8} {:>10} {:>10} {:>12} {:>12} {:>10} {:>7}",
            "", "", "(process)", "(load)", "ms", "ms", "per conn", ""
        );
        for cap in CAPS {
            let set = format!("net.max_handshakes_in_flight={cap}");
            let ran = volley_cli::run(
                "tests/cases/bench-w3/scenario.yaml",
                &server.address,
                &[set],
                &[],
                Duration::from_secs(90),
                |_, _| {},
            );
            std::thread::sleep(Duration::from_secs(2));
            let ran = match ran {
                Ok(ran) => ran,
                Err(error) => {
                    println!("{cap:>6} failed: {error}");
                    continue;
                }
            };
            let c = volley_counts(&ran.results);
            let get = |key: &str| c[key].as_f64().unwrap_or(f64::NAN);
            let opened = get("opened");
            println!(
                "{:>6} {:>8} {:>10} {:>10} {:>12} {:>12} {:>10} {:>7}",
                cap,
                show(opened),
                show(opened / ran.finished.wall.as_secs_f64()),
                show(opened / get("elapsed_s")),
                show(get("connect_p99_us") / 1000.0),
                show(get("tcp_p99_us") / 1000.0),
                show(ran.finished.cpu_s * 1e6 / opened),
                show(get("failed") + get("mismatches") + get("timeouts")),
            );
        }
    }
    ExitCode::SUCCESS
}
