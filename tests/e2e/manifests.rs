//! `deploy/kubernetes/`: every manifest validates offline against the Kubernetes schema
//! (`kubernetes-validate --strict` from the project `.venv`, installed by `scripts/test-setup`),
//! a manifest with a mistyped field does not, the shard count agrees across the Job and the merge
//! step, every pod carries the Job's uid as its run id, and the example scenario in the ConfigMap
//! passes `volley check`.

use crate::support::{build_scenarios, collect, repo, volley};
use std::path::PathBuf;
use std::process::Command;

/// `kubernetes-validate` beside the test Python (`VOLLEY_TEST_PYTHON`, the `.venv` one).
pub fn validator() -> PathBuf {
    let python = std::env::var("VOLLEY_TEST_PYTHON")
        .map_or_else(|_| repo().join(".venv/bin/python"), PathBuf::from);
    let tool = python.with_file_name("kubernetes-validate");
    assert!(
        tool.exists(),
        "{} is missing; run scripts/test-setup",
        tool.display()
    );
    tool
}

/// `kubernetes-validate --strict FILES…`: whether every file passed, and what it printed.
pub fn validate(files: &[PathBuf]) -> (bool, String) {
    let output = Command::new(validator())
        .arg("--strict")
        .args(files)
        .output()
        .unwrap_or_else(|error| panic!("cannot run kubernetes-validate: {error}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn manifests() -> Vec<PathBuf> {
    let folder = repo().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

fn yaml(path: &std::path::Path) -> serde_yaml_ng::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}", path.display()))
}

#[test]
fn kubernetes_manifests_validate_offline() {
    let files = manifests();
    assert!(files.len() >= 4, "{files:?}");
    let (passed, text) = validate(&files);
    assert!(passed, "{text}");
    assert_eq!(text.matches("passed").count(), files.len(), "{text}");

    // The validator can fail: a mistyped field in the Job is refused.
    let job =
        std::fs::read_to_string(repo().join("deploy/kubernetes/job.yaml")).unwrap_or_default();
    let broken =
        std::env::temp_dir().join(format!("volley-broken-job-{}.yaml", std::process::id()));
    let _ = std::fs::write(&broken, job.replace("completionMode:", "completionMod:"));
    let (passed, text) = validate(std::slice::from_ref(&broken));
    let _ = std::fs::remove_file(&broken);
    assert!(!passed, "a mistyped field passed: {text}");
}

#[test]
fn the_job_and_the_merge_agree_on_the_shard_count() {
    let job = yaml(&repo().join("deploy/kubernetes/job.yaml"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let count = spec["completions"].as_u64().unwrap_or(0);
    assert!(count >= 2);
    assert_eq!(spec["parallelism"].as_u64(), Some(count));
    assert!(spec["backoffLimitPerIndex"].as_u64().is_some());
    let pod = &spec["template"]["spec"];
    assert!(
        pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(0) > 31,
        "grace above close_timeout + 1 s (31 s at most)"
    );
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_sequence()
        .map(|args| args.iter().filter_map(|arg| arg.as_str()).collect())
        .unwrap_or_default();
    assert!(args.contains(&format!("auto/{count}").as_str()), "{args:?}");
    // Every pod of the Job, a retried index too, carries the Job's uid as its run id, and its
    // index in its file's name, so the merge takes exactly this Job's shards.
    let run_id = pod["containers"][0]["env"]
        .as_sequence()
        .and_then(|env| env.iter().find(|var| var["name"] == "VOLLEY_RUN_ID"))
        .map(|var| &var["valueFrom"]["fieldRef"]["fieldPath"]);
    assert_eq!(
        run_id.and_then(|path| path.as_str()),
        Some("metadata.labels['batch.kubernetes.io/controller-uid']"),
        "{:?}",
        pod["containers"][0]["env"]
    );
    assert!(
        args.contains(&"/results/shard-$(JOB_COMPLETION_INDEX).json"),
        "{args:?}"
    );
    let annotations = &spec["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");

    let merge = yaml(&repo().join("deploy/kubernetes/merge-job.yaml"));
    let merged: Vec<&str> = merge["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .map(|args| args.iter().filter_map(|arg| arg.as_str()).collect())
        .unwrap_or_default();
    let shards: Vec<String> = (0..count)
        .map(|i| format!("/results/shard-{i}.json"))
        .collect();
    for shard in &shards {
        assert!(
            merged.contains(&shard.as_str()),
            "merge lacks {shard}: {merged:?}"
        );
    }
}

#[test]
fn the_configmap_scenario_passes_volley_check() {
    build_scenarios();
    let map = yaml(&repo().join("deploy/kubernetes/configmap.yaml"));
    let scenario = map["data"]["scenario.yaml"].as_str().unwrap_or_default();
    let folder = std::env::temp_dir().join(format!("volley-configmap-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&folder);
    let _ = std::fs::write(folder.join("scenario.yaml"), scenario);
    let _ = std::fs::copy(
        repo().join("scenarios/target/wasm32-wasip2/release/echo.wasm"),
        folder.join("echo.wasm"),
    );
    let output = volley()
        .arg("check")
        .arg(folder.join("scenario.yaml"))
        .output()
        .unwrap_or_else(|error| panic!("cannot start volley: {error}"));
    let ran = collect(output, None);
    let _ = std::fs::remove_dir_all(&folder);
    assert_eq!(ran.code, 0, "{ran:?}");
}
