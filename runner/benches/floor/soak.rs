//! The soak (`just soak`, about 9 minutes): `tests/cases/bench-soak` — 1,000,000 arrivals at 2,000
//! per second, at most 200 open, one 32-byte echo each — against `volley serve`. The runner writes
//! its time series (`--series`); each arrival is one round trip, so when the series' running total
//! of round trips passes 100,000 and 1,000,000 the bench reads the runner's VmRSS from /proc.
//! Target: the two within 10 MiB (no growth with the number of connections served).

use crate::compare::show;
use crate::volley_cli::{self, Server, number};
use std::process::ExitCode;
use std::time::Duration;

const EARLY: f64 = 100_000.0;
const LATE: f64 = 1_000_000.0;

pub fn run() -> ExitCode {
    let server = match Server::volley_serve() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("soak: {error}");
            return ExitCode::FAILURE;
        }
    };
    let series = match tempfile::Builder::new().suffix(".jsonl").tempfile() {
        Ok(series) => series,
        Err(error) => {
            eprintln!("soak: temporary file: {error}");
            return ExitCode::FAILURE;
        }
    };
    let series_arg = series.path().display().to_string();
    println!(
        "soak: 1,000,000 arrivals at 2,000/s (max 200 open) against volley serve on {}; about 9 minutes",
        server.address
    );
    let mut early: Option<(f64, f64, f64)> = None; // (t, round trips, RSS KiB)
    let mut late: Option<(f64, f64, f64)> = None;
    let mut last: Option<(f64, f64, f64)> = None;
    let mut next_read = Duration::ZERO;
    let ran = volley_cli::run(
        "tests/cases/bench-soak/scenario.yaml",
        &server.address,
        &[],
        &["--series", &series_arg],
        Duration::from_secs(700),
        |pid, elapsed| {
            if elapsed < next_read {
                return;
            }
            next_read = elapsed + Duration::from_millis(500);
            let (t, total) = round_trips_so_far(series.path());
            let Some(rss) = vm_rss_kib(pid) else {
                return;
            };
            let sample = (t, total, rss);
            last = Some(sample);
            if early.is_none() && total >= EARLY {
                early = Some(sample);
            }
            if late.is_none() && total >= LATE {
                late = Some(sample);
            }
        },
    );
    let ran = match ran {
        Ok(ran) => ran,
        Err(error) => {
            println!("soak: {error}");
            return ExitCode::FAILURE;
        }
    };
    let r = &ran.results;
    let show_sample = |label: &str, sample: Option<(f64, f64, f64)>| match sample {
        Some((t, total, rss)) => println!(
            "soak: {label:<34} {:>8} KiB RSS ({} round trips, t = {} s)",
            show(rss),
            show(total),
            show(t)
        ),
        None => println!("soak: {label:<34} not reached"),
    };
    show_sample("RSS after 100,000 arrivals", early);
    show_sample("RSS after 1,000,000 arrivals", late);
    show_sample("last RSS sample before exit", last);
    let late = late.or(last);
    if let (Some((_, _, a)), Some((_, _, b))) = (early, late) {
        let growth_mib = (b - a) / 1024.0;
        println!(
            "soak: growth {} MiB (target: within 10 MiB) {}",
            show(growth_mib),
            if growth_mib.abs() <= 10.0 {
                "ok"
            } else {
                "over"
            }
        );
    }
    println!(
        "soak: peak RSS {} KiB, CPU {} s = {} µs per arrival; established {}, failed {}, dropped arrivals {}, elapsed {} s",
        show(ran.finished.max_rss_kib),
        show(ran.finished.cpu_s),
        show(ran.finished.cpu_s * 1e6 / number(r, "/connections/established")),
        show(number(r, "/connections/established")),
        show(number(r, "/connections/failed")),
        show(number(r, "/connections/dropped_arrivals")),
        show(number(r, "/run/elapsed_s")),
    );
    ExitCode::SUCCESS
}

/// The series' last `t` and its running total of round trips.
fn round_trips_so_far(path: &std::path::Path) -> (f64, f64) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut t = 0.0;
    let mut total = 0.0;
    for line in text.lines() {
        if let Ok(point) = serde_json::from_str::<serde_json::Value>(line) {
            total += point["round_trips"].as_f64().unwrap_or(0.0);
            t = point["t"].as_f64().unwrap_or(t);
        }
    }
    (t, total)
}

/// VmRSS of `pid`, KiB.
fn vm_rss_kib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
