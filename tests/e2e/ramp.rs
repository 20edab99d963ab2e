//! Issue 24, ramping arrival rates: a run whose `load.arrival_rate` ramps through stages starts
//! exactly the integral of the rate, second by second as the stages say, in one process and split
//! over `--workers`. Against the embedded echo server, each arrival one connection with one echo.
//! A zero-length stage is refused at its line with the fix (golden file).

use crate::support::{collect, number, repo, results, run_case, volley};
use serde_json::Value;

/// Expected arrivals in each second of `arrivals-ramp` (0 → 40/s over 2 s, 40/s for 1 s,
/// 40 → 0/s over 1 s, 0/s for 1 s): the integral of the rate over each second.
const PER_SECOND: [u64; 5] = [10, 30, 40, 20, 0];

/// Messages sent in each second of the run, from the results' time series (one message per
/// arrival, sent at once after its connection opens). A point after the fifth second (the drain)
/// counts towards the fifth.
fn sent_per_second(results: &Value) -> [u64; 5] {
    let mut seconds = [0u64; 5];
    let points = results["series"]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for point in points {
        let ended = point["t"].as_f64().unwrap_or(0.0);
        // A point covers the interval ending at `t`; 1 s intervals end near 1, 2, …, 5 (and
        // the last, shorter one at the drain).
        let second = ((ended - 0.5).max(0.0).floor() as usize).min(4);
        seconds[second] += point["sent"].as_u64().unwrap_or(0);
    }
    seconds
}

fn check(results: &Value) {
    // Exactly the integral of the rate: 40 + 40 + 20.
    assert_eq!(number(results, "/connections/arrivals"), 100, "{results:#}");
    assert_eq!(number(results, "/connections/dropped_arrivals"), 0);
    assert_eq!(number(results, "/connections/attempted"), 100);
    assert_eq!(number(results, "/connections/failed"), 0);
    let sent = sent_per_second(results);
    assert_eq!(sent.iter().sum::<u64>(), 100, "{sent:?}");
    // Wide tolerance: a loaded machine may start an arrival late (its lag is reported) and push
    // it into the next second, but the ramp's rise is far larger than that.
    for (second, (got, expected)) in sent.iter().zip(PER_SECOND).enumerate() {
        assert!(
            got.abs_diff(expected) <= 12,
            "second {second}: {got} arrivals, the ramp says {expected} ({sent:?})"
        );
    }
    assert!(
        sent[0] < sent[2] && sent[3] < sent[2],
        "the rate rises, then falls: {sent:?}"
    );
    assert!(
        results["run"]["shape"]
            .as_str()
            .is_some_and(|shape| shape == "ramping arrival rate 0/s→40/s over 2s, hold 40/s for 1s, 40/s→0/s over 1s, hold 0/s for 1s, at most 200 open"),
        "{}",
        results["run"]["shape"]
    );
}

#[test]
fn issue_24_a_ramping_arrival_rate_follows_its_stages() {
    let ran = run_case("arrivals-ramp", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    check(results(&ran));
    assert!(
        ran.stdout
            .contains("load: ramping arrival rate 0/s→40/s over 2s"),
        "{}",
        ran.stdout
    );
}

#[test]
fn issue_24_a_ramp_split_over_workers_adds_up_to_the_same_arrivals() {
    let ran = run_case("arrivals-ramp", &["--workers", "2"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    check(results(&ran));
}

#[test]
fn issue_24_a_ramp_with_a_zero_length_stage_names_the_stage_and_the_fix() {
    let case = "tests/cases/ramp-zero-stage";
    let expected = std::fs::read_to_string(repo().join(format!("{case}/expected-error.txt")))
        .unwrap_or_else(|error| panic!("missing golden file for {case}: {error}"));
    for command in ["check", "run"] {
        let ran = match volley()
            .args([command, &format!("{case}/scenario.yaml")])
            .output()
        {
            Ok(output) => collect(output, None),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(ran.code, 2, "{ran:?}");
        assert_eq!(ran.stderr, expected, "{ran:?}");
    }
}
