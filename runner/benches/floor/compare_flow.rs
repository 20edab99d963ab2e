//! W1 as a flow (issue 26): the W1 load (10,000 connections over 5 s, 30 echoes 1 s apart) run by
//! Volley twice, with the `pingpong` Rust scenario (`tests/cases/bench-w1`) and as flow steps
//! (`tests/cases/bench-w1-flow`), beside the tokio-websockets floor, against one `volley serve`,
//! measured as W1–W3 are (wait4 from outside). Ratio = the flow's figure ÷ the Rust scenario's;
//! target ≤ 1.2× on memory and CPU per message.

use crate::compare::{
    Cell, Row, Side, Target, floor_client, medians, print_table, row, side, volley_run,
};
use crate::volley_cli::Server;
use std::process::ExitCode;
use std::time::Duration;

const RUST: &str = "tests/cases/bench-w1/scenario.yaml";
const FLOW: &str = "tests/cases/bench-w1-flow/scenario.yaml";
const LIMIT: Duration = Duration::from_secs(150);

const ROWS: [Row; 5] = [
    row(
        "W1",
        "KiB RSS per connection",
        Target::TimesFloorAtMost(1.2),
    ),
    row("W1", "CPU µs per message", Target::TimesFloorAtMost(1.2)),
    row("W1", "RTT p50 ms", Target::None),
    row("W1", "RTT p99 ms", Target::None),
    row("W1", "errors (failed/bad/late)", Target::None),
];

/// W1 as a flow, `runs` times; every run's table and, for several, the medians.
pub fn run(runs: usize) -> ExitCode {
    let server = match Server::volley_serve() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("flow bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!();
    println!(
        "W1 as a flow (issue 26): the same load by the Rust scenario `pingpong` and by flow steps; ratio = flow ÷ Rust"
    );
    let mut all = Vec::with_capacity(runs);
    let mut floors = Vec::with_capacity(runs);
    for run in 1..=runs {
        let (cells, floor) = one_run(&server);
        print_table(
            &format!("W1 as a flow, run {run} of {runs}"),
            &["Rust"],
            "Rust",
            &ROWS,
            &cells,
        );
        println!(
            "  floor (tokio-websockets, no scenario): {} KiB per connection, {} CPU µs per message",
            crate::compare::show(floor.0),
            crate::compare::show(floor.1)
        );
        all.push(cells);
        floors.push(floor);
    }
    if runs > 1 {
        print_table(
            &format!("W1 as a flow, median of {runs} runs"),
            &["Rust"],
            "Rust",
            &ROWS,
            &medians(&all),
        );
        println!(
            "  floor (tokio-websockets, no scenario): {} KiB per connection, {} CPU µs per message",
            crate::compare::show(crate::compare::median(floors.iter().map(|f| f.0).collect())),
            crate::compare::show(crate::compare::median(floors.iter().map(|f| f.1).collect()))
        );
    }
    ExitCode::SUCCESS
}

/// The floor, the Rust scenario, the flow: the cells (Rust as the "floor" column, the flow as
/// Volley's) and the floor's KiB per connection and CPU per message.
fn one_run(server: &Server) -> (Vec<Cell>, (f64, f64)) {
    let floor = side(server, "tokio-websockets", "w1", || {
        floor_client("tws", "w1", &server.address, "plain", LIMIT)
    });
    let rust = side(server, "volley (Rust)", "w1", || {
        volley_run(RUST, &server.address, &[], LIMIT)
    });
    let flow = side(server, "volley (flow)", "w1", || {
        volley_run(FLOW, &server.address, &[], LIMIT)
    });
    let figures = |side: &Option<Side>| match side {
        Some(side) => {
            let cpu_us = side.finished.cpu_s * 1e6;
            vec![
                side.finished.max_rss_kib / side.opened(),
                cpu_us / side.get("round_trips"),
                side.get("rtt_p50_us") / 1000.0,
                side.get("rtt_p99_us") / 1000.0,
                side.errors(),
            ]
        }
        None => vec![f64::NAN; ROWS.len()],
    };
    let floor = figures(&floor);
    let cells = figures(&rust)
        .into_iter()
        .zip(figures(&flow))
        .map(|(rust, flow)| Cell {
            floors: vec![rust],
            volley: flow,
        })
        .collect();
    (cells, (floor[0], floor[1]))
}
