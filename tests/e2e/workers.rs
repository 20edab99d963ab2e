//! `volley run --workers N`: worker processes of the real binary, one report whose counts equal a
//! one-process run; one live metrics endpoint, one live `--series` file and one progress line
//! with the sum over the workers; a worker killed with SIGKILL is reported and counted, and
//! SIGTERM to the parent reaches the others, which close politely and still report; workers die
//! with a killed parent; an abort rule crossed in one worker stops the others, a log line that
//! looks like one does not; the workers share the run's connect rate.

use crate::interrupt::{send_signal, wait_exit};
use crate::measurements::scrape;
use crate::support::{build_scenarios, collect, number, results, run_case, volley};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
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

/// Read the parent's stderr until it has named its two workers (`volley: worker I: pid P, shard
/// I/2`): their pids, what was read so far, and the reader of the rest.
fn two_worker_pids(child: &mut Child) -> (Vec<u32>, String, std::thread::JoinHandle<String>) {
    let mut pids = Vec::new();
    let ((), seen, rest) = read_stderr_until(child, "naming its workers", |line| {
        if let Some(pid) = line
            .strip_prefix("volley: worker ")
            .and_then(|rest| rest.split_once(": pid "))
            .and_then(|(_, rest)| rest.split_once(','))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        {
            pids.push(pid);
        }
        (pids.len() == 2).then_some(())
    });
    (pids, seen, rest)
}

/// `child`'s stderr, read line by line until `find` returns a value (if the child ends first, the
/// test fails saying what it was `waiting_for`). Returns the value, the lines read so far, and a
/// thread reading the rest: join it for the remainder of stderr.
fn read_stderr_until<T>(
    child: &mut Child,
    waiting_for: &str,
    mut find: impl FnMut(&str) -> Option<T>,
) -> (T, String, std::thread::JoinHandle<String>) {
    let Some(stderr) = child.stderr.take() else {
        panic!("no stderr pipe")
    };
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let found = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("volley ended before {waiting_for}:\n{seen}");
        };
        seen.push_str(&line);
        seen.push('\n');
        if let Some(found) = find(&line) {
            break found;
        }
    };
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        for line in lines.map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    (found, seen, rest)
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
    let (pids, seen, rest) = two_worker_pids(&mut child);
    wait_until_mid_run(&mut child, &pids);
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
        .args(["--compression", "deflate"])
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
    // Issue 22: every worker serves with the parent's `--compression`.
    for pid in &pids {
        let arguments = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let arguments: Vec<&[u8]> = arguments.split(|byte| *byte == 0).collect();
        assert!(
            arguments
                .windows(2)
                .any(|pair| pair == [&b"--compression"[..], &b"deflate"[..]]),
            "worker {pid}: {arguments:?}"
        );
    }
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
    // The kernel kills each worker (PR_SET_PDEATHSIG); init reaps them.
    wait_until_gone(&pids, Duration::from_secs(30), "server workers");
}

/// Wait until each of the two workers `pids` of the interrupt case holds its 10 connections, the
/// embedded server's 10 ends and its listener (mid-run); after a minute, end `child` and fail.
fn wait_until_mid_run(child: &mut Child, pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids.iter().any(|pid| sockets(*pid) < 21) {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("workers never held their connections");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until the processes `pids` (workers whose parent was killed) are gone; after `limit`, end
/// the ones left and fail naming them as `what`.
fn wait_until_gone(pids: &[u32], limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    while pids
        .iter()
        .any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
    {
        if Instant::now() > deadline {
            for pid in pids {
                send_signal_if_alive(*pid);
            }
            panic!("{what} {pids:?} outlived their killed parent");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Issue 21, item 11: when the parent of `run --workers` is killed, its workers stop at once
/// instead of loading the target until `load.duration` (2 minutes here) ends.
#[test]
fn run_workers_do_not_outlive_a_killed_parent() {
    build_scenarios();
    let spawned = volley()
        .args([
            "run",
            "tests/cases/interrupt/scenario.yaml",
            "--no-progress",
            "--set",
            "load.duration=120s",
            "--workers",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    let (pids, _, rest) = two_worker_pids(&mut child);
    wait_until_mid_run(&mut child, &pids);
    send_signal(child.id(), libc::SIGKILL);
    let _ = child.wait();
    let _ = rest.join();
    // Within a second in practice; the bound is wide for a loaded machine, and far below the
    // 2 minutes a worker that outlived its parent would go on for.
    wait_until_gone(&pids, Duration::from_secs(20), "run workers");
}

/// An abort rule crossed in one worker stops the others: worker 1 (odd VUs, which panic) crosses
/// `scenario_errors < 1`, says so on its feed, and the parent stops worker 0.
#[test]
fn an_abort_rule_crossed_in_one_worker_stops_every_worker() {
    let ran = run_case("worker-abort", &["--workers", "2"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains(
            "volley: worker 1 crossed the abort rule `scenario_errors < 1`; stopping every worker"
        ),
        "{ran:?}"
    );
    let r = results(&ran);
    assert_eq!(r["run"]["aborted_by"], "scenario_errors < 1", "{r:#}");
    assert_eq!(r["run"]["interrupted"], true, "worker 0 was stopped: {r:#}");
    assert!(
        r["run"]["elapsed_s"].as_f64().unwrap_or(99.0) < 50.0,
        "{r:#}"
    );
}

/// Issue 21, item 11: a scenario's log line that reads like an abort does not stop the workers
/// (the parent learns of aborts from the workers' feeds, not from their stderr text).
#[test]
fn a_log_line_that_reads_like_an_abort_stops_nobody() {
    let ran = run_case(
        "worker-abort",
        &[
            "--set",
            "vars.mode=log",
            "--set",
            "vars.say=threshold crossed (actual 1); stopping the run",
            "--set",
            "load.duration=3s",
            "--workers",
            "2",
        ],
    );
    assert!(
        ran.stderr
            .contains("] info: threshold crossed (actual 1); stopping the run"),
        "the line was logged: {ran:?}"
    );
    assert!(!ran.stderr.contains("stopping every worker"), "{ran:?}");
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(r["run"]["interrupted"], false, "{r:#}");
    assert!(r["run"]["aborted_by"].is_null(), "{r:#}");
}

/// Clean up after a failed assertion: SIGKILL a process if it still exists.
fn send_signal_if_alive(pid: u32) {
    if std::path::Path::new(&format!("/proc/{pid}")).exists() {
        send_signal(pid, libc::SIGKILL);
    }
}

/// The `--series` file's rows so far, each a JSON point.
fn series_rows(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Sum of one field over series rows.
fn column(rows: &[Value], field: &str) -> u64 {
    rows.iter().filter_map(|row| row[field].as_u64()).sum()
}

#[test]
fn workers_serve_one_live_endpoint_and_a_live_series_that_add_up() {
    build_scenarios();
    let tag = std::process::id();
    let out = std::env::temp_dir().join(format!("volley-workers-live-{tag}.json"));
    let series = std::env::temp_dir().join(format!("volley-workers-live-{tag}.jsonl"));
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&series);
    // 20 connections in 2 workers of 10 each, held for 4 s.
    let spawned = volley()
        .args([
            "run",
            "tests/cases/interrupt/scenario.yaml",
            "--no-progress",
            "--set",
            "load.duration=4s",
            "--workers",
            "2",
            "--metrics-addr",
            "127.0.0.1:0",
            "--series",
        ])
        .arg(&series)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    let (port, seen, rest) = read_stderr_until(
        &mut child,
        "saying where its metrics endpoint listens",
        |line| {
            line.strip_prefix("volley: live metrics on http://")
                .and_then(|rest| rest.split_once("/metrics"))
                .and_then(|(address, _)| address.rsplit(':').next())
                .and_then(|port| port.parse::<u16>().ok())
        },
    );
    // Each worker holds 10: only the sum over both reads 20.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut body = None;
    while body.is_none() && Instant::now() < deadline {
        body = scrape(port).filter(|text| {
            text.lines()
                .any(|line| line == "volley_connections_open 20")
                && text
                    .lines()
                    .any(|line| line == "volley_connections_established_total 20")
        });
        if body.is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let Some(body) = body else {
        let _ = child.kill();
        panic!("the endpoint never showed the 20 connections of both workers");
    };
    assert!(body.ends_with("# EOF\n"), "{body}");
    // The series file grows while the run goes, not only at its end.
    let mut rows_while_running = 0;
    while rows_while_running == 0 && matches!(child.try_wait(), Ok(None)) {
        rows_while_running = series_rows(&series).len();
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_exit(&mut child, Duration::from_secs(60), "the end of the run");
    let output = match child.wait_with_output() {
        Ok(output) => output,
        Err(error) => panic!("cannot collect volley: {error}"),
    };
    let mut ran = collect(output, Some(&out));
    ran.stderr = format!("{seen}{}", rest.join().unwrap_or_default());
    let rows = series_rows(&series);
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&series);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        rows_while_running > 0,
        "no --series row before the run ended: {ran:?}"
    );
    assert_eq!(
        ran.stderr.matches("live metrics on").count(),
        1,
        "only the parent serves metrics: {ran:?}"
    );
    assert_eq!(
        ran.stdout.matches("volley: interrupt").count(),
        1,
        "{ran:?}"
    );
    let r = results(&ran);
    assert_eq!(number(r, "/connections/established"), 20);
    // The live file holds exactly the merged series of the results, and it adds up to them.
    assert_eq!(
        Some(&Value::from(rows.clone())),
        r.pointer("/series/points")
    );
    assert_eq!(column(&rows, "sent"), number(r, "/messages/sent"));
    assert_eq!(column(&rows, "received"), number(r, "/messages/received"));
    assert_eq!(
        column(&rows, "round_trips"),
        number(r, "/round_trips/count")
    );
    assert_eq!(column(&rows, "failed"), number(r, "/connections/failed"));
    assert!(number(r, "/messages/sent") > 0, "{r:#}");
}

/// A pseudo-terminal (master, slave), both close-on-exec, so `volley` sees a terminal on stderr.
fn pty() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty(3) writes two new descriptors into the two ints; the other arguments may
    // be null. They are owned by the OwnedFds below and nowhere else.
    #[allow(unsafe_code)] // the one way to get a terminal for a child's stderr
    let made = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(
        made,
        0,
        "openpty failed: {}",
        std::io::Error::last_os_error()
    );
    #[allow(unsafe_code)] // fcntl(2) and taking ownership of the descriptors openpty made
    unsafe {
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(slave, libc::F_SETFD, libc::FD_CLOEXEC);
        (
            std::os::fd::OwnedFd::from_raw_fd(master),
            std::os::fd::OwnedFd::from_raw_fd(slave),
        )
    }
}

#[test]
fn workers_show_one_progress_line_with_the_sum() {
    build_scenarios();
    let (master, slave) = pty();
    let spawned = volley()
        .args([
            "run",
            "tests/cases/interrupt/scenario.yaml",
            "--set",
            "load.duration=4s",
            "--workers",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave))
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    // The terminal's output until every writer has closed it (then reads fail with EIO).
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::fs::File::from(master).read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    wait_exit(&mut child, Duration::from_secs(60), "the end of the run");
    let code = child
        .wait()
        .map_or(-1, |status| status.code().unwrap_or(-1));
    let text = reader.join().unwrap_or_default();
    assert_eq!(code, 0, "{text}");
    // Each frame of the line: `\r\x1b[2K     2s  open 20/20  sent …/s  received …/s  …`.
    let targets: Vec<&str> = text
        .split('\r')
        .filter_map(|frame| frame.strip_prefix("\x1b[2K"))
        .filter_map(|frame| frame.split_once("  open "))
        .filter_map(|(_, rest)| rest.split_whitespace().next())
        .collect();
    assert!(!targets.is_empty(), "no progress line: {text:?}");
    assert!(
        targets.iter().all(|open| open.ends_with("/20")),
        "one line for the whole run's 20 connections, not one per worker: {targets:?}"
    );
    assert!(
        targets.contains(&"20/20"),
        "the line shows both workers' connections open: {targets:?}"
    );
    assert!(
        !text.contains("worker 0:   ") && !text.contains("worker 1:   "),
        "workers draw no progress line of their own: {text:?}"
    );
}

/// Issue 21, item 9: `net.max_connect_rate` is the whole run's. 40 connections at 10 a second take
/// about 4 s to open, with 4 workers as in one process (each worker paced at 2.5 a second), not
/// 1 s (each worker at 10 a second).
#[test]
fn workers_share_the_run_s_connect_rate() {
    build_scenarios();
    let ran = run_case(
        "interrupt",
        &[
            "--set",
            "load.connections=40",
            "--set",
            "load.ramp_up=0s",
            "--set",
            "load.duration=6s",
            "--set",
            "net.max_connect_rate=10",
            "--workers",
            "4",
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/established"), 40, "{r:#}");
    let points = r["series"]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let all_open = points
        .iter()
        .find(|point| point["open"].as_u64() == Some(40))
        .and_then(|point| point["t"].as_f64());
    let Some(all_open) = all_open else {
        panic!("the series never shows the 40 connections open: {points:#?}");
    };
    // The 40th start slot is 3.9 s after the first; pacing can only make it later.
    assert!(
        all_open >= 3.5,
        "40 connections open after {all_open} s at 10 a second: {points:#?}"
    );
}

#[test]
fn issue_21_the_workers_results_folder_is_new_never_one_planted_at_a_predictable_name() {
    build_scenarios();
    let temporary = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    let out = temporary.path().join("results.json");
    // The shell plants a folder others may write at `volley-workers-<its pid>`, then becomes volley
    // (exec keeps the pid): the name a pid-named results folder would have.
    let planted = "mkdir -m 777 \"$TMPDIR/volley-workers-$$\" && exec \"$0\" \"$@\"";
    let output = std::process::Command::new("sh")
        .args(["-c", planted, env!("CARGO_BIN_EXE_volley")])
        .args([
            "run",
            "tests/cases/echo-exact/scenario.yaml",
            "--no-progress",
            "--workers",
            "2",
            "--out",
        ])
        .arg(&out)
        .env("TMPDIR", temporary.path())
        .current_dir(crate::support::repo())
        .output();
    let ran = match output {
        Ok(output) => collect(output, Some(&out)),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(number(results(&ran), "/round_trips/count"), 100);
    let left: Vec<String> = std::fs::read_dir(temporary.path())
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let planted: Vec<&String> = left
        .iter()
        .filter(|name| name.starts_with("volley-workers-"))
        .collect();
    assert_eq!(
        planted.len(),
        1,
        "only the planted folder is left, its own was removed: {left:?}"
    );
    let inside = std::fs::read_dir(temporary.path().join(planted[0]))
        .map(|entries| entries.count())
        .unwrap_or(usize::MAX);
    assert_eq!(inside, 0, "nothing was written into the planted folder");
}
