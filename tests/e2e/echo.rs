//! The echo example end to end, with exact counts, and the shipped example files.

use crate::support::{Ran, number, results, run_case};

#[test]
fn echo_counts_are_exact() {
    assert_echo_exact(&run_case("echo-exact", &[]));
}

/// The `echo-exact` case's outcome: every count exact, the check passed, the verdict PASSED.
pub fn assert_echo_exact(ran: &Ran) {
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(ran);
    assert_eq!(r["schema"], "volley.results/v2");
    assert_eq!(number(r, "/connections/attempted"), 5);
    assert_eq!(number(r, "/connections/established"), 5);
    assert_eq!(number(r, "/connections/failed"), 0);
    assert_eq!(number(r, "/messages/sent"), 100);
    assert_eq!(number(r, "/messages/received"), 100);
    assert_eq!(
        number(r, "/messages/bytes_sent"),
        number(r, "/messages/bytes_received")
    );
    assert_eq!(number(r, "/round_trips/count"), 100);
    assert_eq!(number(r, "/reply_timeouts"), 0);
    assert_eq!(number(r, "/timer_lag/count"), 100);
    assert_eq!(number(r, "/connect_time/count"), 5);
    assert_eq!(r["checks"][0]["name"], "echo matches what was sent");
    assert_eq!(number(r, "/checks/0/passed"), 100);
    assert_eq!(number(r, "/checks/0/failed"), 0);
    assert_eq!(r["verdict"]["passed"], true);
    assert!(ran.stdout.contains("PASSED"), "{ran:?}");
}

#[test]
fn shipped_examples_pass_against_the_embedded_servers() {
    for (file, check) in [
        ("scenarios/binary.yaml", "bytes echoed exactly"),
        ("scenarios/chat.yaml", "heard another member"),
    ] {
        crate::support::build_scenarios();
        let out = std::env::temp_dir().join(format!("volley-example-{}.json", std::process::id()));
        let output = crate::support::volley()
            .args([
                "run",
                file,
                "--no-progress",
                "--set",
                "load.connections=6",
                "--set",
                "vars.messages=5",
                "--out",
            ])
            .arg(&out)
            .output();
        let ran = match output {
            Ok(output) => crate::support::collect(output, Some(&out)),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(ran.code, 0, "{file}: {ran:?}");
        let r = results(&ran);
        let checks = r["checks"].as_array().cloned().unwrap_or_default();
        assert!(
            checks
                .iter()
                .any(|c| c["name"] == check && c["passed"].as_u64().unwrap_or(0) > 0),
            "{file}: no passing `{check}` in {r:#}"
        );
        assert_eq!(number(r, "/connections/failed"), 0, "{file}");
    }
}

#[test]
fn check_validates_file_and_module_without_connecting() {
    crate::support::build_scenarios();
    let ran = crate::support::volley_args(&["check", "scenarios/echo.yaml"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout.contains("speaks volley:scenario@0.3.0"),
        "{ran:?}"
    );
    // One trial instance says what a connection's instance costs: its linear memory and the part
    // the guest touched (a few pages of it, never nothing, never more than the memory).
    let kib = |text: &str| -> u64 {
        match text
            .strip_suffix(" KiB")
            .and_then(|number| number.parse().ok())
        {
            Some(value) => value,
            None => panic!("not a KiB figure: {text:?} in {ran:?}"),
        }
    };
    let line = ran
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("one instance: linear memory "))
        .unwrap_or_else(|| panic!("no trial line in {ran:?}"));
    let (memory, rest) = line.split_once(", ").unwrap_or_default();
    let touched = rest
        .split_once(" of it touched by instantiation and on_open")
        .map(|(touched, _)| touched)
        .unwrap_or_default();
    let (memory, touched) = (kib(memory), kib(touched));
    assert!(memory >= 64, "{ran:?}");
    assert!(touched > 0 && touched <= memory, "{ran:?}");
}

#[test]
fn check_opens_one_instance_and_reports_a_module_that_traps_as_it_opens() {
    crate::support::build_scenarios();
    let ran = crate::support::volley_args(&[
        "check",
        "tests/cases/panic/scenario.yaml",
        "--set",
        "vars.mode=panic-open",
    ]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains(
            "error: on_open trapped for VU 0 (iteration 0, first data row): scenario: panicked in on-open: scenario gave up on purpose (vu 0)"
        ),
        "{ran:?}"
    );
    // Its odd VUs only: VU 0 opens cleanly, so the file checks out.
    let odd_only = crate::support::volley_args(&["check", "tests/cases/panic/scenario.yaml"]);
    assert_eq!(odd_only.code, 0, "{odd_only:?}");
}
