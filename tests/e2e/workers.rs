//! `volley run --workers N`: worker processes of the real binary, one report whose counts equal a
//! one-process run; a worker killed with SIGKILL is reported and counted, and SIGTERM to the
//! parent reaches the others, which close politely and still report.

use crate::interrupt::{send_signal, wait_exit};
use crate::support::{build_scenarios, collect, number, results, run_case, volley};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn two_workers_give_one_report_equal_to_one_process() {
    build_scenarios();
    let set = ["--set", "load.connections=7"];
    let whole = run_case("echo-exact", &set);
    assert_eq!(whole.code, 0, "{whole:?}");
    let workers = run_case(
        "echo-exact",
        &["--set", "load.connections=7", "--workers", "2"],
    );
    assert_eq!(workers.code, 0, "{workers:?}");
    assert_eq!(
        workers.stdout.matches("volley: echo-exact").count(),
        1,
        "one summary: {workers:?}"
    );
    assert!(workers.stderr.contains("shard 1/2"), "{workers:?}");
    let (whole, merged) = (results(&whole), results(&workers));
    for pointer in [
        "/run/connections",
        "/connections/attempted",
        "/connections/established",
        "/messages/sent",
        "/messages/received",
        "/round_trips/count",
    ] {
        assert_eq!(merged.pointer(pointer), whole.pointer(pointer), "{pointer}");
    }
    assert_eq!(number(merged, "/run/merged_runs"), 2);
    assert_eq!(merged["checks"], whole["checks"]);
}

/// Sockets a process holds open (from /proc), to see that a worker is mid-run.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|entry| {
                std::fs::read_link(entry.path())
                    .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
            })
            .count()
    })
}

#[test]
fn a_worker_killed_with_sigkill_is_counted_and_sigterm_reaches_the_rest() {
    build_scenarios();
    let out = std::env::temp_dir().join(format!("volley-workers-kill-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let spawned = volley()
        .args([
            "run",
            "tests/cases/interrupt/scenario.yaml",
            "--no-progress",
            "--workers",
            "2",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    // The parent names its workers: `volley: worker I: pid P, shard I/2`.
    let Some(stderr) = child.stderr.take() else {
        panic!("no stderr pipe")
    };
    let mut lines = BufReader::new(stderr).lines();
    let mut pids = Vec::new();
    let mut seen = String::new();
    while pids.len() < 2 {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("volley ended before naming its workers:\n{seen}");
        };
        seen.push_str(&line);
        seen.push('\n');
        if let Some(pid) = line
            .strip_prefix("volley: worker ")
            .and_then(|rest| rest.split_once(": pid "))
            .and_then(|(_, rest)| rest.split_once(','))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        {
            pids.push(pid);
        }
    }
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        for line in lines.map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    // Mid-run: each worker holds its 10 connections, the embedded server's 10 ends and listener.
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids.iter().any(|pid| sockets(*pid) < 21) {
        assert!(
            Instant::now() < deadline,
            "workers never held their connections"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    send_signal(pids[1], libc::SIGKILL);
    send_signal(child.id(), libc::SIGTERM);
    wait_exit(&mut child, Duration::from_secs(60), "SIGTERM");
    let output = match child.wait_with_output() {
        Ok(output) => output,
        Err(error) => panic!("cannot collect volley: {error}"),
    };
    let mut ran = collect(output, Some(&out));
    ran.stderr = format!("{seen}{}", rest.join().unwrap_or_default());
    let _ = std::fs::remove_file(&out);
    assert_eq!(ran.code, 1, "a lost shard fails the run: {ran:?}");
    assert!(
        ran.stderr
            .contains("worker 1 exited (signal 9): its 10 connections are counted as failed"),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("worker 0: "),
        "worker 0's lines are forwarded: {ran:?}"
    );
    let r = results(&ran);
    assert_eq!(r["run"]["interrupted"], true, "SIGTERM reached worker 0");
    assert_eq!(number(r, "/run/connections"), 20);
    // Worker 0's connections were open (its sockets seen) or still upgrading when SIGTERM came;
    // the ones still upgrading are abandoned, not failed.
    let established = number(r, "/connections/established");
    assert!((1..=10).contains(&established), "{r:#}");
    assert_eq!(number(r, "/connections/failed"), 10, "{r:#}");
    assert_eq!(
        number(
            r,
            "/connections/failed_by_reason/worker: exited (signal 9) without results"
        ),
        10
    );
}

#[test]
fn serve_workers_share_one_port_and_stop_on_sigterm() {
    build_scenarios();
    let spawned = volley()
        .args(["serve", "--workers", "2", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut server = match spawned {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley serve: {error}"),
    };
    let Some(stdout) = server.stdout.take() else {
        panic!("no stdout pipe")
    };
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    // `volley serve: listening on ws://ADDR (echo, 2 workers with SO_REUSEPORT, pids P Q, …`
    let address = line
        .split_once("ws://")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(str::to_owned);
    let pids: Vec<u32> = line
        .split_once("pids ")
        .and_then(|(_, rest)| rest.split_once(','))
        .map(|(pids, _)| pids.split(' ').filter_map(|pid| pid.parse().ok()).collect())
        .unwrap_or_default();
    let Some(address) = address else {
        let _ = server.kill();
        panic!("no address in {line:?}");
    };
    assert_eq!(pids.len(), 2, "{line}");
    let target = format!("ws://{address}/");
    let ran = run_case(
        "echo-exact",
        &["--target", &target, "--set", "load.connections=40"],
    );
    send_signal(server.id(), libc::SIGTERM);
    wait_exit(&mut server, Duration::from_secs(30), "SIGTERM");
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(number(results(&ran), "/connections/established"), 40);
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "server worker {pid} still running after the parent stopped"
        );
    }
}

#[test]
fn serve_workers_do_not_outlive_a_killed_parent() {
    let spawned = volley()
        .args(["serve", "--workers", "2", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut server = match spawned {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley serve: {error}"),
    };
    let mut line = String::new();
    if let Some(stdout) = server.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    let pids: Vec<u32> = line
        .split_once("pids ")
        .and_then(|(_, rest)| rest.split_once(','))
        .map(|(pids, _)| pids.split(' ').filter_map(|pid| pid.parse().ok()).collect())
        .unwrap_or_default();
    assert_eq!(pids.len(), 2, "{line}");
    send_signal(server.id(), libc::SIGKILL);
    let _ = server.wait();
    // The kernel sends each worker SIGTERM (PR_SET_PDEATHSIG); they exit and init reaps them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids
        .iter()
        .any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
    {
        if Instant::now() > deadline {
            for pid in &pids {
                send_signal_if_alive(*pid);
            }
            panic!("server workers {pids:?} outlived their killed parent");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Clean up after a failed assertion: SIGKILL a process if it still exists.
fn send_signal_if_alive(pid: u32) {
    if std::path::Path::new(&format!("/proc/{pid}")).exists() {
        send_signal(pid, libc::SIGKILL);
    }
}
