//! The comparison itself: W1, W2 and W3, each by the floor client and then by `volley run`, back to
//! back against one `volley serve` process, measured identically from outside (wait4: user+system
//! CPU and peak RSS of the client process; wall time from spawn to exit), then one table per run and,
//! with `VOLLEY_BENCH_RUNS=N` > 1, the medians. Targets are issue 8's.

use crate::child::{self, CLIENT_CPU, Finished};
use crate::client::{W1_CONNECTIONS, W1_MESSAGES, W2_CONNECTIONS, W3_CONNECTIONS, W3_IN_FLIGHT};
use crate::volley_cli::{self, Server, number};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::Duration;

/// What a figure is held to.
#[derive(Clone, Copy)]
enum Target {
    /// Information only.
    None,
    /// Volley's figure at most this.
    AtMost(f64),
    /// Volley's figure at most this many times the floor's.
    TimesFloorAtMost(f64),
    /// Volley's figure at least this many times the floor's.
    TimesFloorAtLeast(f64),
}

struct Row {
    workload: &'static str,
    figure: &'static str,
    target: Target,
}

const fn row(workload: &'static str, figure: &'static str, target: Target) -> Row {
    Row {
        workload,
        figure,
        target,
    }
}

/// The table's rows, in the order `one_run` fills them (each workload's `figures` in turn).
const ROWS: &[Row] = &[
    row("W1", "KiB RSS per connection", Target::AtMost(32.0)),
    row("W1", "CPU µs per message", Target::TimesFloorAtMost(1.5)),
    row("W1", "timer lag p99 ms", Target::AtMost(5.0)),
    row("W1", "RTT p50 ms", Target::None),
    row("W1", "RTT p99 ms", Target::None),
    row("W1", "errors (failed/bad/late)", Target::None),
    row("W1", "server CPU s", Target::None),
    row("W2", "CPU µs per round trip", Target::TimesFloorAtMost(1.5)),
    row("W2", "messages/s", Target::None),
    row("W2", "errors (failed/bad/late)", Target::None),
    row("W2", "server CPU s", Target::None),
    row(
        "W3",
        "connections/s (whole process)",
        Target::TimesFloorAtLeast(0.7),
    ),
    row("W3", "CPU µs per connection", Target::TimesFloorAtMost(2.0)),
    row("W3", "connections/s (load phase)", Target::None),
    row("W3", "connect p99 ms", Target::None),
    row("W3", "errors (failed/bad/late)", Target::None),
    row("W3", "server CPU s", Target::None),
];

/// One row's figures: (floor, Volley); NaN when that side has none.
type Cell = (f64, f64);

/// One client's run of one workload, in the same shape for both clients.
struct Side {
    finished: Finished,
    /// opened, failed, round_trips, mismatches, timeouts, elapsed_s, rtt_p50_us, rtt_p99_us,
    /// connect_p99_us, timer_lag_p99_us (Volley only).
    counts: Value,
    /// CPU the server spent while this client ran, s.
    server_cpu_s: f64,
}

impl Side {
    fn get(&self, key: &str) -> f64 {
        self.counts[key].as_f64().unwrap_or(f64::NAN)
    }
    fn opened(&self) -> f64 {
        self.get("opened")
    }
    fn errors(&self) -> f64 {
        self.get("failed") + self.get("mismatches") + self.get("timeouts")
    }
}

pub fn run() -> ExitCode {
    let runs = std::env::var("VOLLEY_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 20);
    header(runs);
    let server = match Server::volley_serve() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("floor bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("server: volley serve on {}", server.address);
    let mut all = Vec::with_capacity(runs);
    for run in 1..=runs {
        let cells = one_run(&server);
        print_table(&format!("run {run} of {runs}"), &cells);
        all.push(cells);
    }
    if runs > 1 {
        let medians: Vec<Cell> = (0..ROWS.len())
            .map(|row| {
                let floor: Vec<f64> = all.iter().map(|cells| cells[row].0).collect();
                let volley: Vec<f64> = all.iter().map(|cells| cells[row].1).collect();
                (median(floor), median(volley))
            })
            .collect();
        print_table(&format!("median of {runs} runs"), &medians);
    }
    ExitCode::SUCCESS
}

fn header(runs: usize) {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(volley_cli::repo())
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("floor vs Volley (issue 8), commit {commit}, {cpus} CPUs, {runs} run(s)");
    if child::pinning() {
        println!("pinning: clients `taskset -c 0`, servers `taskset -c 1`");
    } else {
        println!("pinning: none (one CPU or no taskset): clients and server share the machine");
    }
    println!(
        "floor: tokio-tungstenite 0.28 client (the workspace's), current_thread runtime, one task per connection, 4 KiB buffers"
    );
    println!(
        "W1 {W1_CONNECTIONS} conns over 5 s × {W1_MESSAGES} × 32 B 1 s apart; W2 {W2_CONNECTIONS} conns ping-pong 20 s; W3 {W3_CONNECTIONS} conns open+echo+close, {W3_IN_FLIGHT} handshakes in flight"
    );
    println!(
        "each workload: floor first, then Volley, against the same server; CPU and RSS by wait4"
    );
}

/// W1, W2, W3 once each, floor then Volley; the cells in `ROWS` order.
fn one_run(server: &Server) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(ROWS.len());
    for (workload, file, limit) in [
        ("w1", "tests/cases/bench-w1/scenario.yaml", 150),
        ("w2", "tests/cases/bench-w2/scenario.yaml", 90),
        ("w3", "tests/cases/bench-w3/scenario.yaml", 90),
    ] {
        let limit = Duration::from_secs(limit);
        let floor = side(server, "floor", workload, || {
            floor_client(workload, &server.address, limit)
        });
        let volley = side(server, "volley", workload, || {
            volley_run(file, &server.address, limit)
        });
        let cells_of = |side: &Option<Side>| match side {
            Some(side) => figures(workload, side),
            None => vec![f64::NAN; rows_of(workload)],
        };
        cells.extend(cells_of(&floor).into_iter().zip(cells_of(&volley)));
    }
    if cells.len() != ROWS.len() {
        eprintln!(
            "floor bench: {} figures for {} rows",
            cells.len(),
            ROWS.len()
        );
    }
    cells
}

fn rows_of(workload: &str) -> usize {
    ROWS.iter()
        .filter(|row| row.workload.eq_ignore_ascii_case(workload))
        .count()
}

/// One client's run with the server's CPU around it; prints why when it fails.
fn side(
    server: &Server,
    who: &str,
    workload: &str,
    start: impl FnOnce() -> Result<(Finished, Value), String>,
) -> Option<Side> {
    let before = server.cpu_s();
    let result = start();
    let after = server.cpu_s();
    // Let the server finish the last closes before the next client starts.
    std::thread::sleep(Duration::from_secs(2));
    match result {
        Ok((finished, counts)) => {
            if !finished.status.success() {
                println!(
                    "note: {who} {workload} exited with {} (figures kept){}",
                    finished.status,
                    if finished.timed_out {
                        ", killed at the time limit"
                    } else {
                        ""
                    }
                );
            }
            let server_cpu_s = match (before, after) {
                (Some(before), Some(after)) => after - before,
                _ => f64::NAN,
            };
            Some(Side {
                finished,
                counts,
                server_cpu_s,
            })
        }
        Err(error) => {
            println!("note: {who} {workload} failed: {error}");
            None
        }
    }
}

/// The floor client as a child of this binary: `floor-client w1 ADDR`.
fn floor_client(
    workload: &str,
    address: &str,
    limit: Duration,
) -> Result<(Finished, Value), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut command = child::command(&exe, CLIENT_CPU);
    command.args(["floor-client", workload, address]);
    let finished = child::run(command, limit, |_, _| {})?;
    let counts = finished
        .stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str::<Value>(line).ok());
    match counts {
        Some(counts) => Ok((finished, counts)),
        None => Err(format!(
            "no figures ({}):\n{}",
            finished.status,
            finished.stderr_tail()
        )),
    }
}

/// `volley run FILE`, its results in the floor's shape.
fn volley_run(file: &str, address: &str, limit: Duration) -> Result<(Finished, Value), String> {
    let ran = volley_cli::run(file, address, &[], &[], limit, |_, _| {})?;
    let counts = volley_counts(&ran.results);
    Ok((ran.finished, counts))
}

/// Volley's results file in the floor's shape (see [`Side::counts`]).
pub fn volley_counts(r: &Value) -> Value {
    let failed_checks: f64 = r["checks"]
        .as_array()
        .map(|checks| checks.iter().filter_map(|c| c["failed"].as_f64()).sum())
        .unwrap_or(0.0);
    json!({
        "opened": number(r, "/connections/established"),
        "failed": number(r, "/connections/failed"),
        "round_trips": number(r, "/round_trips/count"),
        "mismatches": failed_checks,
        "timeouts": number(r, "/reply_timeouts"),
        "elapsed_s": number(r, "/run/elapsed_s"),
        "rtt_p50_us": number(r, "/round_trips/p50"),
        "rtt_p99_us": number(r, "/round_trips/p99"),
        "connect_p99_us": number(r, "/connect_time/p99"),
        "tcp_p99_us": number(r, "/connect_phases/tcp/p99"),
        "timer_lag_p99_us": number(r, "/timer_lag/p99"),
    })
}

/// The figures of `workload` for one side, in `ROWS` order.
fn figures(workload: &str, s: &Side) -> Vec<f64> {
    let cpu_us = s.finished.cpu_s * 1e6;
    let wall = s.finished.wall.as_secs_f64();
    match workload {
        "w1" => vec![
            s.finished.max_rss_kib / s.opened(),
            cpu_us / s.get("round_trips"),
            s.get("timer_lag_p99_us") / 1000.0,
            s.get("rtt_p50_us") / 1000.0,
            s.get("rtt_p99_us") / 1000.0,
            s.errors(),
            s.server_cpu_s,
        ],
        "w2" => vec![
            cpu_us / s.get("round_trips"),
            s.get("round_trips") / s.get("elapsed_s"),
            s.errors(),
            s.server_cpu_s,
        ],
        _ => vec![
            s.opened() / wall,
            cpu_us / s.opened(),
            s.opened() / s.get("elapsed_s"),
            s.get("connect_p99_us") / 1000.0,
            s.errors(),
            s.server_cpu_s,
        ],
    }
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// A figure for the table: "—" when missing, fewer decimals as it grows.
pub fn show(value: f64) -> String {
    if !value.is_finite() {
        "—".to_owned()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn print_table(title: &str, cells: &[Cell]) {
    println!();
    println!("{title}:");
    let head = ["", "figure", "floor", "Volley", "ratio", "target"];
    println!(
        "{:<3} {:<31} {:>9} {:>9} {:>7}  {}",
        head[0], head[1], head[2], head[3], head[4], head[5]
    );
    for (row, &(floor, volley)) in ROWS.iter().zip(cells) {
        let ratio = volley / floor;
        let (target, ok) = match row.target {
            Target::None => (String::new(), None),
            Target::AtMost(limit) => (format!("≤ {}", show(limit)), Some(volley <= limit)),
            Target::TimesFloorAtMost(times) => (format!("≤ {times}× floor"), Some(ratio <= times)),
            Target::TimesFloorAtLeast(times) => (format!("≥ {times}× floor"), Some(ratio >= times)),
        };
        let known = match row.target {
            Target::AtMost(_) => volley.is_finite(),
            _ => ratio.is_finite(),
        };
        let verdict = match ok {
            None => "",
            Some(_) if !known => "—",
            Some(true) => "ok",
            Some(false) if matches!(row.target, Target::TimesFloorAtLeast(_)) => "under",
            Some(false) => "over",
        };
        let ratio = if ratio.is_finite() && floor != 0.0 {
            format!("{ratio:.2}×")
        } else {
            "—".to_owned()
        };
        println!(
            "{:<3} {:<31} {:>9} {:>9} {:>7}  {:<14} {}",
            row.workload,
            row.figure,
            show(floor),
            show(volley),
            ratio,
            target,
            verdict
        );
    }
}
