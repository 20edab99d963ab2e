//! The comparison itself: W1, W2 and W3, each by the two floor clients (tokio-tungstenite, then
//! tokio-websockets) and then by `volley run`, back to back against one `volley serve` process,
//! measured identically from outside (wait4: user+system CPU and peak RSS of the client process;
//! wall time from spawn to exit), then one table per run and, with `VOLLEY_BENCH_RUNS=N` > 1, the
//! medians; then W4 (`compare_deflate`), W1 as a flow (`compare_flow`) and the fan-out against
//! mosquitto (`fanout`, once). Each ratio is Volley's figure over the better of the two
//! floors' (the cheaper for costs, the faster for rates). Targets are issue 8's and issue 22's.

use crate::child::{self, CLIENT_CPU, Finished};
use crate::client::{W1_CONNECTIONS, W1_MESSAGES, W2_CONNECTIONS, W3_CONNECTIONS, W3_IN_FLIGHT};
use crate::compare_deflate;
use crate::volley_cli::{self, Server, number};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::Duration;

/// What a figure is held to.
#[derive(Clone, Copy)]
pub enum Target {
    /// Information only.
    None,
    /// Volley's figure at most this.
    AtMost(f64),
    /// Volley's figure at most this many times the better floor's.
    TimesFloorAtMost(f64),
    /// Volley's figure at least this many times the better floor's.
    TimesFloorAtLeast(f64),
}

pub struct Row {
    pub workload: &'static str,
    pub figure: &'static str,
    target: Target,
}

impl Row {
    /// A rate (more is better): the better floor is the higher one. Every other figure is a cost.
    fn is_rate(&self) -> bool {
        self.figure.contains("/s")
    }
}

pub const fn row(workload: &'static str, figure: &'static str, target: Target) -> Row {
    Row {
        workload,
        figure,
        target,
    }
}

/// The floors, in the order of the table's columns (`floor-client LIBRARY …`).
const FLOORS: [(&str, &str); 2] = [("tungstenite", "tungstenite"), ("tws", "tokio-ws")];

/// The table's rows, in the order `one_run` fills them (each workload's `figures` in turn).
const ROWS: &[Row] = &[
    row("W1", "KiB RSS per connection", Target::AtMost(32.0)),
    row("W1", "CPU µs per message", Target::TimesFloorAtMost(1.5)),
    row("W1", "timer lag p99 ms", Target::AtMost(5.0)),
    row("W1", "RTT p50 ms", Target::None),
    row("W1", "RTT p99 ms", Target::None),
    row("W1", "errors (failed/bad/late)", Target::None),
    row("W1", "server CPU s", Target::None),
    row("W2", "CPU µs per round trip", Target::TimesFloorAtMost(1.3)),
    row("W2", "messages/s", Target::None),
    row("W2", "errors (failed/bad/late)", Target::None),
    row("W2", "server CPU s", Target::None),
    row(
        "W3",
        "connections/s (whole process)",
        Target::TimesFloorAtLeast(0.7),
    ),
    row("W3", "CPU µs per connection", Target::TimesFloorAtMost(1.6)),
    row("W3", "connections/s (load phase)", Target::None),
    row("W3", "connect p99 ms", Target::None),
    row("W3", "errors (failed/bad/late)", Target::None),
    row("W3", "server CPU s", Target::None),
];

/// One row's figures: each floor's (in the table's column order) and Volley's; NaN when that side
/// has none.
#[derive(Clone)]
pub struct Cell {
    pub floors: Vec<f64>,
    pub volley: f64,
}

impl Cell {
    /// The better of the floors' figures for `row` (the only one when the other is missing).
    fn best_floor(&self, row: &Row) -> f64 {
        let known = self.floors.iter().copied().filter(|v| v.is_finite());
        if row.is_rate() {
            known.fold(f64::NAN, f64::max)
        } else {
            known.fold(f64::NAN, f64::min)
        }
    }
}

/// One client's run of one workload, in the same shape for every client.
pub struct Side {
    pub finished: Finished,
    /// opened, failed, round_trips, mismatches, timeouts, elapsed_s, rtt_p50_us, rtt_p99_us,
    /// connect_p99_us, timer_lag_p99_us (Volley only).
    counts: Value,
    /// CPU the server spent while this client ran, s.
    pub server_cpu_s: f64,
}

impl Side {
    pub fn get(&self, key: &str) -> f64 {
        self.counts[key].as_f64().unwrap_or(f64::NAN)
    }
    pub fn opened(&self) -> f64 {
        self.get("opened")
    }
    pub fn errors(&self) -> f64 {
        self.get("failed") + self.get("mismatches") + self.get("timeouts")
    }
}

/// `VOLLEY_BENCH_RUNS` (1 to 20; 1 when unset).
pub fn runs() -> usize {
    std::env::var("VOLLEY_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 20)
}

pub fn run() -> ExitCode {
    let runs = runs();
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
        print_table(
            &format!("run {run} of {runs}"),
            &floor_names(),
            "floor",
            ROWS,
            &cells,
        );
        all.push(cells);
    }
    if runs > 1 {
        print_table(
            &format!("median of {runs} runs"),
            &floor_names(),
            "floor",
            ROWS,
            &medians(&all),
        );
    }
    drop(server);
    let deflate = compare_deflate::run(runs);
    let flow = crate::compare_flow::run(runs);
    // Once whatever VOLLEY_BENCH_RUNS says: a broker's figure, not a ratio to a floor.
    let fanout = crate::fanout::run();
    [deflate, flow, fanout]
        .into_iter()
        .find(|code| *code != ExitCode::SUCCESS)
        .unwrap_or(ExitCode::SUCCESS)
}

fn floor_names() -> Vec<&'static str> {
    FLOORS.iter().map(|(_, column)| *column).collect()
}

/// Each cell's median over runs.
pub fn medians(all: &[Vec<Cell>]) -> Vec<Cell> {
    let rows = all.first().map_or(0, Vec::len);
    (0..rows)
        .map(|row| {
            let cells: Vec<&Cell> = all.iter().filter_map(|cells| cells.get(row)).collect();
            let floors = cells.first().map_or(0, |cell| cell.floors.len());
            Cell {
                floors: (0..floors)
                    .map(|floor| {
                        median(
                            cells
                                .iter()
                                .map(|cell| cell.floors.get(floor).copied().unwrap_or(f64::NAN))
                                .collect(),
                        )
                    })
                    .collect(),
                volley: median(cells.iter().map(|cell| cell.volley).collect()),
            }
        })
        .collect()
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
    println!("floors vs Volley (issues 8 and 22), commit {commit}, {cpus} CPUs, {runs} run(s)");
    if child::pinning() {
        println!("pinning: clients `taskset -c 0`, servers `taskset -c 1`");
    } else {
        println!("pinning: none (one CPU or no taskset): clients and server share the machine");
    }
    println!(
        "floors: tokio-tungstenite 0.28 (4 KiB buffers) and tokio-websockets 0.13 clients, current_thread runtime, one task per connection; ratio = Volley ÷ the better floor"
    );
    println!(
        "W1 {W1_CONNECTIONS} conns over 5 s × {W1_MESSAGES} × 32 B 1 s apart; W2 {W2_CONNECTIONS} conns ping-pong 20 s; W3 {W3_CONNECTIONS} conns open+echo+close, {W3_IN_FLIGHT} handshakes in flight"
    );
    println!(
        "each workload: the floors first, then Volley, against the same server; CPU and RSS by wait4"
    );
}

/// W1, W2, W3 once each, the floors then Volley; the cells in `ROWS` order.
fn one_run(server: &Server) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(ROWS.len());
    for (workload, file, limit) in [
        ("w1", "tests/cases/bench-w1/scenario.yaml", 150),
        ("w2", "tests/cases/bench-w2/scenario.yaml", 90),
        ("w3", "tests/cases/bench-w3/scenario.yaml", 90),
    ] {
        let limit = Duration::from_secs(limit);
        let floors = FLOORS.map(|(library, _)| {
            side(server, library, workload, || {
                floor_client(library, workload, &server.address, "plain", limit)
            })
        });
        let volley = side(server, "volley", workload, || {
            volley_run(file, &server.address, &[], limit)
        });
        let cells_of = |side: &Option<Side>| match side {
            Some(side) => figures(workload, side),
            None => vec![f64::NAN; rows_of(workload)],
        };
        let [first, second] = floors.each_ref().map(cells_of);
        cells.extend(first.into_iter().zip(second).zip(cells_of(&volley)).map(
            |((a, b), volley)| Cell {
                floors: vec![a, b],
                volley,
            },
        ));
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
pub fn side(
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

/// A bare client as a child of this binary: `floor-client LIBRARY WORKLOAD ADDR OFFER`.
pub fn floor_client(
    library: &str,
    workload: &str,
    address: &str,
    offer: &str,
    limit: Duration,
) -> Result<(Finished, Value), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut command = child::command(&exe, CLIENT_CPU);
    command.args(["floor-client", library, workload, address, offer]);
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

/// `volley run FILE [--set …]`, its results in the floor's shape.
pub fn volley_run(
    file: &str,
    address: &str,
    sets: &[String],
    limit: Duration,
) -> Result<(Finished, Value), String> {
    let ran = volley_cli::run(file, address, sets, &[], limit, |_, _| {})?;
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

/// One table: a row per figure, a column per floor, Volley's, the ratio to the better floor and
/// the target with its verdict (`≤ 1.5× floor`; `floor_word` names the floors there).
pub fn print_table(title: &str, floors: &[&str], floor_word: &str, rows: &[Row], cells: &[Cell]) {
    println!();
    println!("{title}:");
    let width = rows
        .iter()
        .map(|row| row.workload.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut head = format!("{:<width$} {:<31}", "", "figure");
    for floor in floors {
        head.push_str(&format!(" {floor:>11}"));
    }
    println!("{head} {:>9} {:>7}  target", "Volley", "ratio");
    for (row, cell) in rows.iter().zip(cells) {
        let volley = cell.volley;
        let floor = cell.best_floor(row);
        let ratio = volley / floor;
        let (target, ok) = match row.target {
            Target::None => (String::new(), None),
            Target::AtMost(limit) => (format!("≤ {}", show(limit)), Some(volley <= limit)),
            Target::TimesFloorAtMost(times) => {
                (format!("≤ {times}× {floor_word}"), Some(ratio <= times))
            }
            Target::TimesFloorAtLeast(times) => {
                (format!("≥ {times}× {floor_word}"), Some(ratio >= times))
            }
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
        let mut line = format!("{:<width$} {:<31}", row.workload, row.figure);
        for value in &cell.floors {
            line.push_str(&format!(" {:>11}", show(*value)));
        }
        println!(
            "{line} {:>9} {:>7}  {:<14} {}",
            show(volley),
            ratio,
            target,
            verdict
        );
    }
}
