//! The handshake-cap sweep (`just bench-handshakes`): Volley's W3 (5,000 connections at once, one
//! echo each) at `net.max_handshakes_in_flight` 16, 32, 64, 128, 256 and 1,024, against
//! `volley serve` (listen backlog 8,192, capped by net.core.somaxconn) and against the floor's own
//! server (tokio's default backlog, 1,024, like websocat). Each cap runs `VOLLEY_BENCH_RUNS` times
//! (default 3; the caps take turns, so drift on a shared machine spreads over all of them) and the
//! medians are printed: connections/s (whole process and load phase), connect and TCP-connect p99
//! and the runner's CPU per connection, so the default cap can be the one with the best rate and
//! no 1 s SYN-retransmit tail.

use crate::child::CLIENT_CPU;
use crate::compare::{median, show, volley_counts};
use crate::volley_cli::{self, Server};
use std::process::ExitCode;
use std::time::Duration;

const CAPS: [u32; 6] = [16, 32, 64, 128, 256, 1024];
const COLUMNS: [(&str, &str); 7] = [
    ("opened", ""),
    ("conn/s", "(process)"),
    ("conn/s", "(load)"),
    ("connect p99", "ms"),
    ("tcp p99", "ms"),
    ("CPU µs", "per conn"),
    ("errors", ""),
];

pub fn run() -> ExitCode {
    let runs = std::env::var("VOLLEY_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse::<usize>().ok())
        .unwrap_or(3)
        .clamp(1, 20);
    println!(
        "handshake-cap sweep: volley run tests/cases/bench-w3 (5,000 conns, 1 echo each), client on CPU {CLIENT_CPU}, server on the other; median of {runs} run(s) per cap"
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
        // figures[cap][column] = one value per run
        let mut figures = vec![vec![Vec::with_capacity(runs); COLUMNS.len()]; CAPS.len()];
        for _ in 0..runs {
            for (index, cap) in CAPS.into_iter().enumerate() {
                match once(&server, cap) {
                    Ok(values) => {
                        for (column, value) in values.into_iter().enumerate() {
                            figures[index][column].push(value);
                        }
                    }
                    Err(error) => println!("{label}, cap {cap}: failed: {error}"),
                }
            }
        }
        println!();
        println!("against {label} on {}:", server.address);
        let heads: Vec<String> = COLUMNS.iter().map(|(a, _)| format!("{a:>12}")).collect();
        let units: Vec<String> = COLUMNS.iter().map(|(_, b)| format!("{b:>12}")).collect();
        println!("   cap{}", heads.concat());
        println!("      {}", units.concat());
        for (index, cap) in CAPS.into_iter().enumerate() {
            let cells: Vec<String> = figures[index]
                .iter()
                .map(|values| format!("{:>12}", show(median(values.clone()))))
                .collect();
            println!("{cap:>6}{}", cells.concat());
        }
    }
    ExitCode::SUCCESS
}

/// One W3 run at `cap`: the figures in `COLUMNS` order.
fn once(server: &Server, cap: u32) -> Result<Vec<f64>, String> {
    let set = format!("net.max_handshakes_in_flight={cap}");
    let ran = volley_cli::run(
        "tests/cases/bench-w3/scenario.yaml",
        &server.address,
        &[set],
        &[],
        Duration::from_secs(90),
        |_, _| {},
    );
    // Let the server finish the last closes before the next run.
    std::thread::sleep(Duration::from_secs(1));
    let ran = ran?;
    let c = volley_counts(&ran.results);
    let get = |key: &str| c[key].as_f64().unwrap_or(f64::NAN);
    let opened = get("opened");
    Ok(vec![
        opened,
        opened / ran.finished.wall.as_secs_f64(),
        opened / get("elapsed_s"),
        get("connect_p99_us") / 1000.0,
        get("tcp_p99_us") / 1000.0,
        ran.finished.cpu_s * 1e6 / opened,
        get("failed") + get("mismatches") + get("timeouts"),
    ])
}
