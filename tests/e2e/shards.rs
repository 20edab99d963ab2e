//! `--shard I/N` and `--start-at`: two shard processes of a run, merged with `volley merge`, count
//! exactly what one process counts; the merge refuses a shard twice, another run's shard and a
//! missing shard (unless `--partial`, which marks the result partial), and lines shards up by
//! time; `--start-at` waits for its time; bad shards are usage errors.

use crate::support::{build_scenarios, collect, number, results, run_case, volley};
use serde_json::Value;
use std::path::PathBuf;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("volley-shards-{}-{name}", std::process::id()))
}

/// The exact counts a merge must preserve.
const EXACT: &[&str] = &[
    "/run/connections",
    "/connections/attempted",
    "/connections/established",
    "/connections/failed",
    "/messages/sent",
    "/messages/received",
    "/messages/bytes_sent",
    "/messages/bytes_received",
    "/round_trips/count",
    "/timer_lag/count",
];

#[test]
fn two_shards_merged_equal_one_run() {
    build_scenarios();
    // 7 connections: shards of 4 and 3, so an uneven split is exercised.
    let set = ["--set", "load.connections=7"];
    let whole = run_case("echo-exact", &set);
    assert_eq!(whole.code, 0, "{whole:?}");
    let whole = results(&whole).clone();

    let outs: Vec<PathBuf> = (0..2).map(|i| temp(&format!("{i}.json"))).collect();
    let children: Vec<_> = (0..2)
        .map(|i| {
            let spawned = volley()
                .args([
                    "run",
                    "tests/cases/echo-exact/scenario.yaml",
                    "--no-progress",
                ])
                .args(set)
                .args(["--run-id", "two-shards"])
                .args(["--shard", &format!("{i}/2"), "--out"])
                .arg(&outs[i])
                .output();
            match spawned {
                Ok(output) => collect(output, Some(&outs[i])),
                Err(error) => panic!("cannot start volley: {error}"),
            }
        })
        .collect();
    for (i, shard) in children.iter().enumerate() {
        assert_eq!(shard.code, 0, "shard {i}: {shard:?}");
    }
    assert_eq!(number(results(&children[0]), "/run/connections"), 4);
    assert_eq!(number(results(&children[1]), "/run/connections"), 3);

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
    // Issue 21, item 10: what the merge refuses, and what --partial does.
    let merge = |files: &[&PathBuf], extra: &[&str]| {
        let out = temp("refusal.json");
        let _ = std::fs::remove_file(&out);
        let output = volley()
            .arg("merge")
            .args(files)
            .args(extra)
            .arg("-o")
            .arg(&out)
            .output();
        let ran = match output {
            Ok(output) => collect(output, Some(&out)),
            Err(error) => panic!("cannot start volley merge: {error}"),
        };
        let _ = std::fs::remove_file(&out);
        ran
    };
    let twice = merge(&[&outs[0], &outs[0]], &["--partial"]);
    let missing = merge(&[&outs[0]], &[]);
    let partial = merge(&[&outs[1]], &["--partial"]);
    let other_run = temp("other-run.json");
    let mut other = results(&children[1]).clone();
    other["run"]["id"] = Value::from("another-run");
    let _ = std::fs::write(&other_run, other.to_string());
    let mixed = merge(&[&outs[0], &other_run], &["--partial"]);
    let _ = std::fs::remove_file(&other_run);
    assert_eq!(twice.code, 2, "{twice:?}");
    assert!(
        twice.stderr.contains(&format!(
            "shard 0/2 is in both {} and {}",
            outs[0].display(),
            outs[0].display()
        )),
        "{twice:?}"
    );
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("shard 1 of 2 of run `two-shards` is missing"),
        "{missing:?}"
    );
    assert_eq!(mixed.code, 2, "{mixed:?}");
    assert!(
        mixed.stderr.contains("is of run `another-run`"),
        "{mixed:?}"
    );
    assert_eq!(partial.code, 0, "{partial:?}");
    let p = results(&partial);
    assert_eq!(p["run"]["partial"], true, "{p:#}");
    assert_eq!(p["run"]["missing_shards"], serde_json::json!([0]));
    assert!(
        partial.stdout.contains("PARTIAL: shard 0 of 2 missing"),
        "{partial:?}"
    );
    assert!(
        p["warnings"].to_string().contains("partial result"),
        "{p:#}"
    );
    // Shards that ran different builds of the module are not merged.
    let rebuilt = temp("rebuilt.json");
    let mut other = results(&children[1]).clone();
    other["scenario"]["module_sha256"] = Value::from("0".repeat(64));
    let _ = std::fs::write(&rebuilt, other.to_string());
    let refused = volley()
        .arg("merge")
        .arg(&outs[0])
        .arg(&rebuilt)
        .arg("-o")
        .arg(temp("refused.json"))
        .output();
    let refused = match refused {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley merge: {error}"),
    };
    for path in outs.iter().chain([&merged_path, &rebuilt]) {
        let _ = std::fs::remove_file(path);
    }
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("cannot merge results of different modules (sha256 "),
        "{refused:?}"
    );
    assert_eq!(merged.code, 0, "{merged:?}");
    let merged = results(&merged);
    for pointer in EXACT {
        assert_eq!(
            merged.pointer(pointer),
            whole.pointer(pointer),
            "{pointer}: merged shards vs one run"
        );
    }
    assert_eq!(number(merged, "/connections/established"), 7);
    assert_eq!(merged["checks"], whole["checks"]);
    assert_eq!(merged["run"]["merged_runs"], Value::from(2));
    assert_eq!(merged["run"]["id"], "two-shards");
    assert_eq!(merged["run"]["shards"], serde_json::json!([0, 1]));
    assert_eq!(merged["run"]["partial"], false);
    // The shards ran one after the other (as a retried index does): the merge spans both, and
    // shard 1's points come after shard 0's, where they ran, not on top of them.
    let elapsed = |report: &Value| report["run"]["elapsed_s"].as_f64().unwrap_or(0.0);
    let (first, second) = (results(&children[0]), results(&children[1]));
    assert!(
        elapsed(merged) >= elapsed(first) + elapsed(second) - 0.01,
        "{} s merged from {} s and {} s run one after the other",
        elapsed(merged),
        elapsed(first),
        elapsed(second)
    );
    let last_t = |report: &Value| {
        report["series"]["points"]
            .as_array()
            .and_then(|points| points.last())
            .and_then(|point| point["t"].as_f64())
            .unwrap_or(0.0)
    };
    assert!(
        last_t(merged) >= elapsed(first) + last_t(second) - 0.01,
        "{:#}",
        merged["series"]
    );
    // The results name the module by its digest (the one `volley check` prints) and interface.
    let checked = volley()
        .args(["check", "tests/cases/echo-exact/scenario.yaml"])
        .output();
    let checked = match checked {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley check: {error}"),
    };
    let digest = checked
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("module digest: sha256:"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no module digest in {checked:?}"));
    assert_eq!(whole["scenario"]["module_sha256"], Value::from(digest));
    assert_eq!(merged["scenario"]["module_sha256"], Value::from(digest));
    assert_eq!(
        whole["scenario"]["interface"],
        Value::from("volley:scenario@0.3.0")
    );
}

#[test]
fn start_at_waits_for_its_time() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let at = now + 3;
    let ran = run_case("echo-exact", &["--start-at", &at.to_string()]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stderr.contains("s for --start-at"), "{ran:?}");
    let started = number(results(&ran), "/run/started_at_unix_s");
    assert!(started >= at, "started at {started}, asked for {at}");
}

#[test]
fn a_bad_shard_is_a_usage_error() {
    let ran = run_case("echo-exact", &["--shard", "2/2"]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("from 0 to 1"), "{ran:?}");
    let auto = volley()
        .args([
            "run",
            "tests/cases/echo-exact/scenario.yaml",
            "--shard",
            "auto/2",
        ])
        .env_remove("JOB_COMPLETION_INDEX")
        .output();
    let auto = match auto {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(auto.code, 2, "{auto:?}");
    assert!(auto.stderr.contains("JOB_COMPLETION_INDEX"), "{auto:?}");
}
