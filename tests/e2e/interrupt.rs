//! SIGINT (Ctrl-C) and SIGTERM (CI cancellation, Kubernetes) mid-run close connections politely
//! and still write the report; the exit code stays the verdict's, with `run.interrupted` set.

use crate::support::{build_scenarios, collect, number, results, volley, wait_for_series_point};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Send `signal` to a running process.
pub fn send_signal(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).unwrap_or(i32::MAX);
    // SAFETY: sending a signal to our own child process by its id.
    #[allow(unsafe_code)] // libc::kill is the way to deliver a signal to a child
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill({pid}, {signal}) failed");
}

/// Wait for `child` to exit, killing it and failing the test after `limit`.
pub fn wait_exit(child: &mut std::process::Child, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("volley did not exit within {limit:?} of {what}");
}

/// Run the interrupt case with `launcher` (a `volley` command), send `signal` mid-run, check the
/// report.
pub fn interrupt_mid_run(mut launcher: std::process::Command, signal: i32, name: &str) {
    build_scenarios();
    let dir = std::env::temp_dir();
    // Unique per call: tests on one core and on all run this with the same signal at once.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tag = format!("{}-{name}-{call}", std::process::id());
    let out = dir.join(format!("volley-interrupt-{tag}.json"));
    let series = dir.join(format!("volley-interrupt-{tag}.jsonl"));
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&series);
    let child = launcher
        .args([
            "run",
            "tests/cases/interrupt/scenario.yaml",
            "--no-progress",
            "--interval",
            "200ms",
            "--series",
        ])
        .arg(&series)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    // Mid-run: every connection is open and echoes have come back (a condition, not a time: a
    // loaded machine may take longer than the 500 ms ramp).
    wait_for_series_point(
        &series,
        |point| point["open"].as_u64() == Some(20) && point["received"].as_u64() > Some(0),
        Duration::from_secs(60),
    );
    send_signal(child.id(), signal);
    wait_exit(&mut child, Duration::from_secs(30), name);
    let ran = match child.wait_with_output() {
        Ok(output) => collect(output, Some(&out)),
        Err(error) => panic!("cannot collect volley: {error}"),
    };
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&series);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stderr.contains(&format!("interrupted ({name})")),
        "{ran:?}"
    );
    let r = results(&ran);
    assert_eq!(r["run"]["interrupted"], true);
    assert_eq!(number(r, "/connections/established"), 20);
    assert_eq!(
        number(r, "/connections/failed"),
        0,
        "connections closed politely: {r:#}"
    );
    assert!(number(r, "/round_trips/count") > 0);
}

#[test]
fn sigint_mid_run_still_writes_the_json() {
    interrupt_mid_run(volley(), libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_mid_run_still_writes_the_json() {
    interrupt_mid_run(volley(), libc::SIGTERM, "SIGTERM");
}
