//! 10,000 concurrent connections held for 20 s against `volley serve` in a separate process, and
//! 60,000 held for 60 s by `--workers auto` against `volley serve --workers 4`.
//! Slow (~40 s) and heavy, so opt-in: `just bench` runs it (`cargo test --release -- --ignored
//! --nocapture hold_10k`) and prints connections held, resident KiB per connection and CPU µs per
//! round trip. The assertion is behavioural (all connected, none failed); figures are printed.

use crate::support::{build_scenarios, collect, number, results, volley};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// Start `volley serve` with `extra` flags on a free port; returns the child and its address.
fn serve(extra: &[&str]) -> (Child, String) {
    let mut server = match volley()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(server) => server,
        Err(error) => panic!("cannot start volley serve: {error}"),
    };
    let mut line = String::new();
    if let Some(stdout) = server.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    let address = line
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned);
    match address {
        Some(address) => (server, address),
        None => {
            let _ = server.kill();
            panic!("volley serve did not print its address: {line:?}");
        }
    }
}

/// Run `command` (a `volley run … --out out`), then stop `server`; the collected results.
fn run_then_stop(
    command: &mut std::process::Command,
    mut server: Child,
    out: &std::path::Path,
) -> crate::support::Ran {
    let output = command.output();
    // SIGTERM, so `volley serve --workers` stops its workers too; SIGKILL if it does not exit.
    crate::interrupt::send_signal(server.id(), libc::SIGTERM);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline && matches!(server.try_wait(), Ok(None)) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
    let ran = match output {
        Ok(output) => collect(output, Some(out)),
        Err(error) => panic!("cannot start volley run: {error}"),
    };
    let _ = std::fs::remove_file(out);
    ran
}

#[test]
#[ignore = "heavy: 2 × 2,000 handshakes; run by `just bench`"]
fn handshake_rate_with_and_without_tls() {
    build_scenarios();
    let ca = std::env::temp_dir().join(format!("volley-bench-ca-{}.pem", std::process::id()));
    let ca_arg = ca.display().to_string();
    for (label, flags, scheme) in [
        ("plain", vec![], "ws"),
        ("tls", vec!["--tls", "--ca-out", ca_arg.as_str()], "wss"),
    ] {
        let (server, address) = serve(&flags);
        let out = std::env::temp_dir().join(format!(
            "volley-handshakes-{label}-{}.json",
            std::process::id()
        ));
        let target = format!("{scheme}://{address}/");
        let mut command = volley();
        command
            .args([
                "run",
                "tests/cases/handshakes/scenario.yaml",
                "--no-progress",
                "--target",
                &target,
                "--out",
            ])
            .arg(&out);
        if scheme == "wss" {
            command.args([
                "--set",
                &format!("tls.ca_file={ca_arg}"),
                "--set",
                "tls.server_name=localhost",
            ]);
        }
        let ran = run_then_stop(&mut command, server, &out);
        let r = results(&ran);
        let established = number(r, "/connections/established");
        let elapsed = r["run"]["elapsed_s"].as_f64().unwrap_or(f64::MAX);
        println!(
            "handshakes {label:>5}: {established} connections opened, echoed once and closed in {elapsed:.2}s = {:.0} connections/s; connect p50 {} µs p99 {} µs; tls p50 {} µs; full/resumed {}/{}",
            established as f64 / elapsed,
            r["connect_time"]["p50"],
            r["connect_time"]["p99"],
            r["connect_phases"]["tls"]["p50"],
            r["network"]["tls_full_handshakes"],
            r["network"]["tls_resumed_handshakes"],
        );
        assert_eq!(established, 2000, "{ran:?}");
        assert_eq!(ran.code, 0, "{ran:?}");
    }
    let _ = std::fs::remove_file(ca);
}

#[test]
#[ignore = "heavy: 10k connections for 30 s; run by `just bench`"]
fn hold_10k_connections_against_volley_serve() {
    build_scenarios();
    let (server, address) = serve(&[]);
    let out = std::env::temp_dir().join(format!("volley-hold-{}.json", std::process::id()));
    let target = format!("ws://{address}");
    let mut command = volley();
    command
        .args([
            "run",
            "tests/cases/hold-10k/scenario.yaml",
            "--no-progress",
            "--target",
            &target,
            "--out",
        ])
        .arg(&out);
    let ran = run_then_stop(&mut command, server, &out);
    let r = results(&ran);
    let held = number(r, "/connections/peak_open");
    let rss_kib = number(r, "/process/peak_rss_kib");
    let round_trips = number(r, "/round_trips/count");
    let cpu_s = r["process"]["cpu_user_s"].as_f64().unwrap_or(0.0)
        + r["process"]["cpu_system_s"].as_f64().unwrap_or(0.0);
    println!("hold-10k: connections held        {held}");
    println!("hold-10k: runner peak RSS         {rss_kib} KiB");
    println!(
        "hold-10k: resident per connection {:.1} KiB (peak RSS / connections held)",
        rss_kib as f64 / held.max(1) as f64
    );
    println!("hold-10k: round trips             {round_trips}");
    println!(
        "hold-10k: CPU per round trip      {:.1} µs (runner user+system / round trips)",
        cpu_s * 1e6 / round_trips.max(1) as f64
    );
    println!(
        "hold-10k: round trip p50/p99/max  {}/{}/{} µs",
        r["round_trips"]["p50"], r["round_trips"]["p99"], r["round_trips"]["max"]
    );
    println!(
        "hold-10k: timer lag p99           {} µs",
        r["timer_lag"]["p99"]
    );
    assert_eq!(held, 10_000, "{ran:?}");
    assert_eq!(number(r, "/connections/failed"), 0, "{ran:?}");
    assert_eq!(ran.code, 0, "{ran:?}");
}

#[test]
#[ignore = "heavy: 60k connections in 4 worker processes for 90 s; run by `just bench`"]
fn hold_60k_connections_with_workers_auto() {
    build_scenarios();
    let (server, address) = serve(&["--workers", "4"]);
    let out = std::env::temp_dir().join(format!("volley-hold-60k-{}.json", std::process::id()));
    let target = format!("ws://{address}/");
    let mut command = volley();
    command
        .args([
            "run",
            "tests/cases/hold-60k/scenario.yaml",
            "--no-progress",
            "--workers",
            "auto",
            "--target",
            &target,
            "--out",
        ])
        .arg(&out);
    let ran = run_then_stop(&mut command, server, &out);
    let chose = ran
        .stderr
        .lines()
        .find(|line| line.contains("--workers auto"))
        .unwrap_or("(no --workers auto line)");
    println!("hold-60k: {chose}");
    let r = results(&ran);
    let established = number(r, "/connections/established");
    let held = number(r, "/connections/peak_open");
    let rss_kib = number(r, "/process/peak_rss_kib");
    let round_trips = number(r, "/round_trips/count");
    let cpu_s = r["process"]["cpu_user_s"].as_f64().unwrap_or(0.0)
        + r["process"]["cpu_system_s"].as_f64().unwrap_or(0.0);
    println!(
        "hold-60k: workers merged          {}",
        r["run"]["merged_runs"]
    );
    println!("hold-60k: connections established {established}");
    println!("hold-60k: connections held        {held} (sum of the workers' peaks)");
    println!(
        "hold-60k: failed                  {}",
        r["connections"]["failed"]
    );
    println!("hold-60k: runners' peak RSS       {rss_kib} KiB (sum)");
    println!(
        "hold-60k: resident per connection {:.1} KiB (peak RSS / connections held)",
        rss_kib as f64 / held.max(1) as f64
    );
    println!("hold-60k: round trips             {round_trips}");
    println!(
        "hold-60k: CPU per round trip      {:.1} µs (runners' user+system / round trips)",
        cpu_s * 1e6 / round_trips.max(1) as f64
    );
    println!(
        "hold-60k: round trip p50/p99/max  {}/{}/{} µs",
        r["round_trips"]["p50"], r["round_trips"]["p99"], r["round_trips"]["max"]
    );
    println!(
        "hold-60k: timer lag p50/p99/max   {}/{}/{} µs",
        r["timer_lag"]["p50"], r["timer_lag"]["p99"], r["timer_lag"]["max"]
    );
    assert_eq!(number(r, "/run/merged_runs"), 4, "{ran:?}");
    assert_eq!(established, 60_000, "{ran:?}");
    assert_eq!(number(r, "/connections/failed"), 0, "{ran:?}");
    assert_eq!(ran.code, 0, "{ran:?}");
}
