//! SIGINT (Ctrl-C) mid-run closes connections politely and still writes the report.

use crate::support::{build_scenarios, collect, number, results, volley};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn sigint_mid_run_still_writes_the_json() {
    build_scenarios();
    let out = std::env::temp_dir().join(format!("volley-interrupt-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let child = volley()
        .args([
            "run",
            "tests/cases/interrupt/scenario.yaml",
            "--no-progress",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    std::thread::sleep(Duration::from_secs(3));
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    // SAFETY: sending a signal to our own child process by its id.
    #[allow(unsafe_code)] // libc::kill is the way to deliver SIGINT to a child
    let sent = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(sent, 0, "kill(SIGINT) failed");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
        panic!("volley did not exit within 30 s of SIGINT");
    }
    let ran = match child.wait_with_output() {
        Ok(output) => collect(output, Some(&out)),
        Err(error) => panic!("cannot collect volley: {error}"),
    };
    let _ = std::fs::remove_file(&out);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stderr.contains("interrupted"), "{ran:?}");
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
