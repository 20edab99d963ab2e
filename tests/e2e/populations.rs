//! `populations:` against the embedded chat server: talkers that start once every listener is
//! established (`start: after`) reach every listener, exactly, and talkers started together
//! with the listeners do not (so the first test can fail); per-population figures and rules; the
//! shards of a run with populations split each population and `volley merge` puts them back.

use crate::support::{collect, number, results, run_case, volley};
use serde_json::Value;
use std::path::PathBuf;

const LISTENERS: u64 = 30;
const LINES: u64 = 40;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("volley-populations-{}-{name}", std::process::id()))
}

/// The outcome of the rule written `rule` in `results`.
fn rule_passed(results: &Value, rule: &str) -> bool {
    let outcomes = results["thresholds"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match outcomes
        .iter()
        .find(|outcome| outcome["expression"] == rule)
    {
        Some(outcome) => outcome["passed"] == true,
        None => panic!("no rule `{rule}` in {outcomes:#?}"),
    }
}

#[test]
fn talkers_started_after_the_listeners_reach_every_listener() {
    let ran = run_case("populations-chat", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let results = results(&ran);
    let listeners = &results["populations"]["listeners"];
    let talkers = &results["populations"]["talkers"];
    assert_eq!(number(listeners, "/connections/established"), LISTENERS);
    assert_eq!(number(talkers, "/connections/established"), 2);
    // Every listener heard every line of both talkers, exactly once each expect.
    let passed: u64 = listeners["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .map(|c| c["passed"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(passed, LISTENERS * LINES, "{listeners:#}");
    assert_eq!(number(talkers, "/messages/sent"), LINES);
    // The whole run's figures are the populations' together.
    assert_eq!(number(results, "/connections/established"), LISTENERS + 2);
    assert_eq!(number(results, "/messages/sent"), LINES);
    // The talkers started no earlier than the listeners' ramp let the last one in.
    let listeners_start = number(listeners, "/run/started_at_unix_ms");
    let talkers_start = number(talkers, "/run/started_at_unix_ms");
    assert!(
        talkers_start >= listeners_start + 1900,
        "talkers at +{} ms",
        talkers_start.saturating_sub(listeners_start)
    );
    assert!(rule_passed(
        results,
        "checks{population=listeners} pass_rate == 100%"
    ));
    assert!(
        ran.stdout
            .contains("populations\n  listeners  started +0.0s"),
        "{}",
        ran.stdout
    );
}

#[test]
fn talkers_started_together_post_into_a_room_still_filling() {
    let ran = run_case(
        "populations-chat",
        &["--set", "populations.talkers.start=together"],
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    let results = results(&ran);
    assert!(!rule_passed(
        results,
        "checks{population=listeners} pass_rate == 100%"
    ));
    // The talkers' own rule still holds: the rules judge each population on its own figures.
    assert!(rule_passed(
        results,
        "messages{population=talkers} sent == 40"
    ));
}

#[test]
fn shards_split_each_population_and_merge_puts_them_back() {
    let outs: Vec<PathBuf> = (0..2).map(|i| temp(&format!("{i}.json"))).collect();
    for (i, out) in outs.iter().enumerate() {
        let _ = std::fs::remove_file(out);
        let output = volley()
            .args([
                "run",
                "tests/cases/populations-chat/scenario.yaml",
                "--no-progress",
                "--run-id",
                "populations-shards",
                "--shard",
                &format!("{i}/2"),
                "--out",
            ])
            .arg(out)
            .output();
        let ran = match output {
            Ok(output) => collect(output, Some(out)),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        // Each shard runs its own embedded room: its listeners hear only its talker, so the
        // listeners' rule fails; the counts are what this test is about.
        let results = results(&ran);
        assert_eq!(
            number(results, "/populations/listeners/run/connections"),
            15
        );
        assert_eq!(number(results, "/populations/talkers/run/connections"), 1);
    }
    let merged_path = temp("merged.json");
    let merged = volley()
        .arg("merge")
        .args(&outs)
        .arg("-o")
        .arg(&merged_path)
        .output();
    let merged = match merged {
        Ok(output) => collect(output, Some(&merged_path)),
        Err(error) => panic!("cannot start volley merge: {error}"),
    };
    let results = results(&merged);
    assert_eq!(
        number(results, "/populations/listeners/connections/established"),
        LISTENERS
    );
    assert_eq!(
        number(results, "/populations/talkers/connections/established"),
        2
    );
    assert_eq!(number(results, "/populations/talkers/messages/sent"), LINES);
    assert_eq!(number(results, "/connections/established"), LISTENERS + 2);
    for path in outs.iter().chain([&merged_path]) {
        let _ = std::fs::remove_file(path);
    }
}
