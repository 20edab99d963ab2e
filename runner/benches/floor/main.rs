//! The floor comparison (`just bench`; `cargo bench -p volley --bench floor`): Volley next to two bare
//! clients, tokio-tungstenite and tokio-websockets (the "floors" — what a load client without a
//! scripting layer costs) on issue 8's workloads W1–W3, against the same `volley serve` process,
//! client pinned to CPU 0 and server to CPU 1, CPU time and peak RSS of each client read from
//! outside (wait4). Prints one table: each figure for both floors and for Volley, the ratio to the
//! better floor and the target. Then W4 (issue 22, `compare_deflate`): Volley with permessage-deflate
//! beside a bare client on Volley's own codec, against `volley serve --compression deflate`.
//! Then W1 as a flow (issue 26, `compare_flow`): the Rust scenario beside the same load written as
//! flow steps. `VOLLEY_BENCH_RUNS=N` repeats each and prints every run and the medians. Last, once,
//! the fan-out against mosquitto (issue 23, `fanout`): 1 publisher, 2,000 subscribers.
//!
//! Other modes (the first argument after `--`): `w4` (W4 alone), `flow` (W1 as a flow alone),
//! `fanout` (the fan-out alone), `handshakes` (`just bench-handshakes`: W3 at several
//! `net.max_handshakes_in_flight` caps against `volley serve` and the floor's own server) and `soak` (`just soak`: resident memory over 1,000,000 arrivals). The
//! binary re-executes itself for its children: `floor-client LIBRARY WORKLOAD ADDR OFFER` and
//! `floor-server`.
//! docs/benchmarks.md explains the workloads, how they are measured and how to read the table.

mod child;
mod client;
mod client_deflate;
mod client_tungstenite;
mod client_tws;
mod compare;
mod compare_deflate;
mod compare_flow;
mod fanout;
mod server;
mod soak;
mod socket;
mod sweep;
mod volley_cli;
mod wire;

use std::process::ExitCode;

fn main() -> ExitCode {
    // cargo passes `--bench` (and any filter) to harness-less benches; only our words matter.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    match args.first().map(String::as_str) {
        Some("floor-client") => client::main(&args[1..]),
        Some("floor-server") => server::main(),
        Some("handshakes") => sweep::run(),
        Some("soak") => soak::run(),
        Some("w4") => compare_deflate::run(compare::runs()),
        Some("flow") => compare_flow::run(compare::runs()),
        Some("fanout") => fanout::run(),
        None | Some("compare") => compare::run(),
        Some(other) => {
            eprintln!(
                "floor bench: unknown mode {other:?}; use `compare` (default), `w4`, `flow`, `fanout`, `handshakes` or `soak`"
            );
            ExitCode::from(2)
        }
    }
}
