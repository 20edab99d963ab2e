//! W4 (issue 22): 1,000 connections, each sending a 1 KiB JSON-like text (`scenarios/jsonecho`'s,
//! every one different) 10 times a second for 20 s, against `volley serve --compression deflate`:
//! Volley (`tests/cases/bench-w4`) beside a bare client on Volley's own codec (`client_deflate.rs`)
//! with the same offer, in three variants — no extension (`plain`, the reference), permessage-deflate
//! with context takeover (`deflate`), and without it both ways (`no takeover`). Measured as W1–W3
//! are (wait4 from outside), plus the wire bytes each side counted and how many connections agreed
//! deflate. Ratio = Volley ÷ the bare client; target ≤ 1.3× the bare client's CPU per message.
//!
//! The server is `volley serve --addr 127.0.0.1:0 --compression deflate`, or the command line in
//! `VOLLEY_BENCH_W4_SERVER` (run from the repository root, pinned like the other servers; its first
//! line must name `ws://HOST:PORT` or end in the port), e.g. Node's `ws` with `perMessageDeflate`.

use crate::client::{W4_CONNECTIONS, W4_INTERVAL, W4_MESSAGE_BYTES, W4_MESSAGES};
use crate::compare::{
    Cell, Row, Side, Target, floor_client, medians, print_table, row, side, volley_counts,
};
use crate::socket::Offer;
use crate::volley_cli::{self, Server, number};
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

const FILE: &str = "tests/cases/bench-w4/scenario.yaml";
const LIMIT: Duration = Duration::from_secs(90);

/// One variant: its label in the table, the bare client's offer, Volley's `--set`s.
struct Variant {
    label: &'static str,
    offer: Offer,
    sets: &'static [&'static str],
}

const VARIANTS: [Variant; 3] = [
    Variant {
        label: "plain",
        offer: Offer::Plain,
        sets: &[],
    },
    Variant {
        label: "deflate",
        offer: Offer::Deflate {
            no_context_takeover: false,
        },
        sets: &["net.compression=deflate"],
    },
    Variant {
        label: "no takeover",
        offer: Offer::Deflate {
            no_context_takeover: true,
        },
        sets: &[
            "net.compression.deflate.client_no_context_takeover=true",
            "net.compression.deflate.server_no_context_takeover=true",
        ],
    },
];

/// A variant's rows, in the order `figures` fills them.
const fn rows(label: &'static str, deflate: bool) -> [Row; 7] {
    let cpu = if deflate {
        Target::TimesFloorAtMost(1.3)
    } else {
        Target::None
    };
    [
        row(label, "CPU µs per message", cpu),
        row(label, "KiB RSS per connection", Target::None),
        row(label, "KiB per connection over plain", Target::None),
        row(label, "wire B sent per message", Target::None),
        row(label, "wire B received per message", Target::None),
        row(label, "deflate agreed (connections)", Target::None),
        row(label, "errors (failed/bad/late)", Target::None),
    ]
}

const ROWS_PER_VARIANT: usize = 7;

/// The table's rows: each variant's in turn, then the server's CPU for each.
fn all_rows() -> Vec<Row> {
    let mut all = Vec::new();
    for (index, variant) in VARIANTS.iter().enumerate() {
        all.extend(rows(variant.label, index > 0));
    }
    for variant in &VARIANTS {
        all.push(row(variant.label, "server CPU s", Target::None));
    }
    all
}

/// `VOLLEY_BENCH_W4_SERVER`, or `volley serve --compression deflate`.
fn server() -> Result<Server, String> {
    match std::env::var("VOLLEY_BENCH_W4_SERVER") {
        Ok(line) if !line.trim().is_empty() => Server::command_line(&line),
        _ => Server::volley_serve_with(&["--compression", "deflate"]),
    }
}

/// W4 `runs` times, each run's table and, with more than one, the medians.
pub fn run(runs: usize) -> ExitCode {
    println!();
    println!(
        "W4 (issue 22): {W4_CONNECTIONS} conns over 2 s × {W4_MESSAGES} × {W4_MESSAGE_BYTES} B JSON-like texts {} ms apart; bare = Volley's codec without scenarios; ratio = Volley ÷ bare",
        W4_INTERVAL.as_millis()
    );
    let server = match server() {
        Ok(server) => server,
        Err(error) => {
            println!(
                "W4 skipped: {error} (a `volley serve` without --compression? VOLLEY_BENCH_W4_SERVER names another server)"
            );
            return ExitCode::SUCCESS;
        }
    };
    println!("W4 server on {}", server.address);
    let rows = all_rows();
    let mut all = Vec::with_capacity(runs);
    for run in 1..=runs {
        let cells = one_run(&server);
        print_table(
            &format!("W4 run {run} of {runs}"),
            &["bare"],
            "bare",
            &rows,
            &cells,
        );
        all.push(cells);
    }
    if runs > 1 {
        print_table(
            &format!("W4 median of {runs} runs"),
            &["bare"],
            "bare",
            &rows,
            &medians(&all),
        );
    }
    ExitCode::SUCCESS
}

/// Every variant once, the bare client then Volley; the cells in `all_rows` order.
fn one_run(server: &Server) -> Vec<Cell> {
    let mut sides: Vec<[Option<Side>; 2]> = Vec::with_capacity(VARIANTS.len());
    for variant in &VARIANTS {
        let who = format!("W4 {}", variant.label);
        let bare = side(server, "bare", &who, || {
            floor_client(
                "deflate",
                "w4",
                &server.address,
                variant.offer.word(),
                LIMIT,
            )
        });
        let sets: Vec<String> = variant.sets.iter().map(|set| (*set).to_owned()).collect();
        let volley = side(server, "volley", &who, || {
            let ran = volley_cli::run(FILE, &server.address, &sets, &[], LIMIT, |_, _| {})?;
            Ok((ran.finished, w4_counts(&ran.results)))
        });
        sides.push([bare, volley]);
    }
    let plain_rss = |client: usize| {
        sides
            .first()
            .and_then(|pair| pair[client].as_ref())
            .map_or(f64::NAN, |side| side.finished.max_rss_kib)
    };
    let mut cells = Vec::new();
    for (index, pair) in sides.iter().enumerate() {
        // The plain variant is the reference: nothing over itself.
        let over = |client| {
            if index == 0 {
                f64::NAN
            } else {
                plain_rss(client)
            }
        };
        let bare = figures(pair[0].as_ref(), over(0));
        let volley = figures(pair[1].as_ref(), over(1));
        cells.extend(bare.into_iter().zip(volley).map(|(bare, volley)| Cell {
            floors: vec![bare],
            volley,
        }));
    }
    for pair in &sides {
        let cpu = |side: &Option<Side>| side.as_ref().map_or(f64::NAN, |s| s.server_cpu_s);
        cells.push(Cell {
            floors: vec![cpu(&pair[0])],
            volley: cpu(&pair[1]),
        });
    }
    cells
}

/// One side's figures of one variant, in `rows` order; `plain_rss_kib` is the same client's peak
/// RSS in the plain variant.
fn figures(side: Option<&Side>, plain_rss_kib: f64) -> [f64; ROWS_PER_VARIANT] {
    let Some(s) = side else {
        return [f64::NAN; ROWS_PER_VARIANT];
    };
    let rss = s.finished.max_rss_kib;
    [
        s.finished.cpu_s * 1e6 / s.get("round_trips"),
        rss / s.opened(),
        (rss - plain_rss_kib) / s.opened(),
        s.get("wire_sent") / s.get("sent"),
        s.get("wire_received") / s.get("round_trips"),
        s.get("deflate"),
        s.errors(),
    ]
}

/// Volley's results in the bare client's shape, with the W4 figures: texts sent, wire bytes and
/// the connections that agreed permessage-deflate.
// The results file's compression figures: `messages.wire_bytes_sent`,
// `messages.wire_bytes_received`, and the negotiated distribution under `compression.negotiated`
// (a map from the negotiated text to its connections).
fn w4_counts(r: &Value) -> Value {
    let mut counts = volley_counts(r);
    counts["sent"] = number(r, "/messages/sent").into();
    counts["wire_sent"] = number(r, "/messages/wire_bytes_sent").into();
    counts["wire_received"] = number(r, "/messages/wire_bytes_received").into();
    counts["deflate"] = agreed_deflate(r.pointer("/compression/negotiated")).into();
    counts
}

/// Connections whose negotiated extension is permessage-deflate, from the results' distribution.
fn agreed_deflate(negotiated: Option<&Value>) -> f64 {
    let is_deflate = |text: &str| text.starts_with("permessage-deflate");
    // `+ 0.0`: an empty f64 sum is -0.0, printed as "-0.00".
    0.0 + match negotiated {
        Some(Value::Object(map)) => map
            .iter()
            .filter(|(text, _)| is_deflate(text))
            .filter_map(|(_, count)| count.as_f64())
            .sum(),
        Some(Value::Array(entries)) => entries
            .iter()
            .filter_map(Value::as_object)
            .filter(|entry| {
                entry
                    .values()
                    .any(|value| value.as_str().is_some_and(is_deflate))
            })
            .filter_map(|entry| entry.values().find_map(Value::as_f64))
            .sum(),
        _ => f64::NAN,
    }
}
