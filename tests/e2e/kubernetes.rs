//! `volley kubernetes FILE --shards N` (issue 25): the manifests it writes validate offline
//! (`kubernetes-validate --strict`), N agrees between the Job, its `--shard auto/N` and the merge,
//! and the Job does what it says: its pod's args, run as N processes with `JOB_COMPLETION_INDEX`
//! 0..N-1 on the ConfigMap's files written to a folder, then the merge Job's args, give exactly
//! the counts of one run of the same file. Past 1 MiB the files go to a volume instead.

use crate::manifests::validate;
use crate::support::{Ran, build_scenarios, collect, number, repo, volley};
use base64::Engine as _;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

/// The shards of the fixture: 7 connections in 3 pods (3, 2 and 2).
const SHARDS: u32 = 3;

/// The exact counts a merge must keep.
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
    "/checks",
];

fn temp(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("volley-k8s-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let _ = std::fs::create_dir_all(&folder);
    folder
}

fn run(command: &mut std::process::Command, results: Option<&Path>) -> Ran {
    match command.output() {
        Ok(output) => collect(output, results),
        Err(error) => panic!("cannot start volley: {error}"),
    }
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}", path.display()))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn yaml_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// A pod's argument with the pod's paths, variables and port mapped to this machine.
fn mapped(arg: &str, scenario: &Path, results: &Path, index: u32, start_at: &str) -> String {
    let arg = arg
        .replace("$(JOB_COMPLETION_INDEX)", &index.to_string())
        .replace("$(START_AT)", start_at)
        .replace("0.0.0.0:9464", "127.0.0.1:0");
    if let Some(rest) = arg.strip_prefix("/scenario/") {
        scenario.join(rest).display().to_string()
    } else if let Some(rest) = arg.strip_prefix("/results/") {
        results.join(rest).display().to_string()
    } else {
        arg
    }
}

#[test]
fn issue_25_the_generated_job_validates_and_its_shards_merge_to_one_run() {
    build_scenarios();
    let out = temp("out");
    let set = ["--set", "vars.messages=4"];
    let generated = run(
        volley()
            .args(["kubernetes", "tests/cases/kubernetes-echo/scenario.yaml"])
            .args([
                "--shards",
                &SHARDS.to_string(),
                "--image",
                "registry.example/volley:1.2",
            ])
            .args(set)
            .arg("--out")
            .arg(&out),
        None,
    );
    assert_eq!(generated.code, 0, "{generated:?}");
    assert!(
        generated.stdout.contains("in configmap.yaml"),
        "{generated:?}"
    );

    // (1) Every manifest validates offline, strictly.
    let manifests = yaml_files(&out);
    let names: Vec<String> = manifests
        .iter()
        .filter_map(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .collect();
    assert_eq!(
        names,
        [
            "configmap.yaml",
            "job.yaml",
            "merge-job.yaml",
            "results-pvc.yaml",
            "results-reader.yaml"
        ]
    );
    let (passed, text) = validate(&manifests);
    assert!(passed, "{text}");
    assert_eq!(text.matches("passed").count(), manifests.len(), "{text}");

    // (2) N agrees everywhere.
    let job = yaml(&out.join("job.yaml"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"].as_u64(), Some(u64::from(SHARDS)));
    assert_eq!(spec["parallelism"].as_u64(), Some(u64::from(SHARDS)));
    let container = &spec["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example/volley:1.2");
    let args = strings(&container["args"]);
    let shard_flag = args.iter().position(|arg| arg == "--shard");
    assert_eq!(
        shard_flag
            .and_then(|at| args.get(at + 1))
            .map(String::as_str),
        Some(format!("auto/{SHARDS}").as_str()),
        "{args:?}"
    );
    let env = container["env"].as_sequence().cloned().unwrap_or_default();
    let run_id = env
        .iter()
        .find(|var| var["name"] == "VOLLEY_RUN_ID")
        .map(|var| var["valueFrom"]["fieldRef"]["fieldPath"].clone());
    assert_eq!(
        run_id.as_ref().and_then(Value::as_str),
        Some("metadata.labels['batch.kubernetes.io/controller-uid']")
    );
    let start_at = env
        .iter()
        .find(|var| var["name"] == "START_AT")
        .and_then(|var| var["value"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let merge = yaml(&out.join("merge-job.yaml"));
    let merge_args = strings(&merge["spec"]["template"]["spec"]["containers"][0]["args"]);
    let shard_files: Vec<&String> = merge_args
        .iter()
        .filter(|arg| arg.starts_with("/results/shard-"))
        .collect();
    let expected: Vec<String> = (0..SHARDS)
        .map(|i| format!("/results/shard-{i}.json"))
        .collect();
    assert_eq!(shard_files, expected.iter().collect::<Vec<_>>());
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap_or_default();
    assert!(
        readme.contains(&format!("--max-log-requests {SHARDS}"))
            && readme.contains("kubectl apply -f configmap.yaml"),
        "{readme}"
    );

    // (3) The ConfigMap's files in a folder, as the pods see /scenario.
    let scenario = temp("scenario");
    let map = yaml(&out.join("configmap.yaml"));
    let mut keys = Vec::new();
    for (section, binary) in [("data", false), ("binaryData", true)] {
        for (key, value) in map[section].as_mapping().cloned().unwrap_or_default() {
            let key = key.as_str().unwrap_or_default().to_owned();
            let text = value.as_str().unwrap_or_default();
            let bytes = if binary {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap_or_else(|error| panic!("binaryData {key}: {error}"))
            } else {
                text.as_bytes().to_vec()
            };
            let _ = std::fs::write(scenario.join(&key), bytes);
            keys.push(key);
        }
    }
    keys.sort();
    assert_eq!(keys, ["echo.wasm", "rows.csv", "scenario.yaml"]);
    let inside = yaml(&scenario.join("scenario.yaml"));
    assert_eq!(inside["module"], "echo.wasm");
    assert_eq!(inside["data"], "rows.csv");
    assert_eq!(inside["vars"]["messages"], 4, "--set is in the ConfigMap");

    // The N pods as N processes, all at once, each with its index and the Job's args.
    let results = temp("results");
    let pods: Vec<_> = (0..SHARDS)
        .map(|index| {
            let pod_args: Vec<String> = args
                .iter()
                .map(|arg| mapped(arg, &scenario, &results, index, &start_at))
                .collect();
            volley()
                .args(&pod_args)
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .env("VOLLEY_RUN_ID", "job-uid-of-this-test")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start pod {index}: {error}"))
        })
        .collect();
    for (index, pod) in pods.into_iter().enumerate() {
        let shard = results.join(format!("shard-{index}.json"));
        let ran = match pod.wait_with_output() {
            Ok(output) => collect(output, Some(&shard)),
            Err(error) => panic!("pod {index}: {error}"),
        };
        assert_eq!(ran.code, 0, "pod {index}: {ran:?}");
        assert!(
            ran.results.is_some(),
            "pod {index} wrote no {}",
            shard.display()
        );
    }
    let merge_args: Vec<String> = merge_args
        .iter()
        .map(|arg| mapped(arg, &scenario, &results, 0, &start_at))
        .collect();
    let merged = run(
        volley().args(&merge_args),
        Some(&results.join("merged.json")),
    );
    assert_eq!(merged.code, 0, "{merged:?}");
    assert!(results.join("merged.html").is_file() && results.join("merged.junit.xml").is_file());

    // One run of the same file, unsharded.
    let whole_out = results.join("whole.json");
    let whole = run(
        volley()
            .args([
                "run",
                "tests/cases/kubernetes-echo/scenario.yaml",
                "--no-progress",
            ])
            .args(set)
            .arg("--out")
            .arg(&whole_out),
        Some(&whole_out),
    );
    for folder in [&out, &scenario, &results] {
        let _ = std::fs::remove_dir_all(folder);
    }
    assert_eq!(whole.code, 0, "{whole:?}");
    let (Some(merged), Some(whole)) = (&merged.results, &whole.results) else {
        panic!("no results: {merged:?} {whole:?}");
    };
    for pointer in EXACT {
        assert_eq!(
            merged.pointer(pointer),
            whole.pointer(pointer),
            "{pointer}: merged shards vs one run"
        );
    }
    assert_eq!(number(merged, "/connections/established"), 7);
    assert_eq!(number(merged, "/messages/received"), 28);
    assert_eq!(merged["run"]["id"], "job-uid-of-this-test");
    assert_eq!(merged["run"]["shards"], serde_json::json!([0, 1, 2]));
}

#[test]
fn issue_25_past_one_mib_the_files_go_to_a_volume() {
    build_scenarios();
    let folder = temp("large");
    let module = repo().join("scenarios/target/wasm32-wasip2/release/echo.wasm");
    let mut rows = String::from("user\n");
    for i in 0..120_000 {
        rows.push_str(&format!("user-{i:06}\n"));
    }
    assert!(rows.len() > 1 << 20);
    let _ = std::fs::write(folder.join("users.csv"), &rows);
    let _ = std::fs::write(
        folder.join("big.yaml"),
        format!(
            "version: 1\nname: big data\ntarget: ws://echo.internal:9001/\nmodule: {}\ndata: users.csv\nload:\n  connections: 1000\n  iterations: 1\n",
            module.display()
        ),
    );
    let out = folder.join("out");
    let generated = run(
        volley()
            .arg("kubernetes")
            .arg(folder.join("big.yaml"))
            .args(["--shards", "2", "--out"])
            .arg(&out),
        None,
    );
    assert_eq!(generated.code, 0, "{generated:?}");
    assert!(
        generated.stdout.contains("more than a ConfigMap's 1 MiB"),
        "{generated:?}"
    );
    let manifests = yaml_files(&out);
    assert!(!out.join("configmap.yaml").exists());
    assert!(out.join("scenario-pvc.yaml").exists() && out.join("scenario-loader.yaml").exists());
    let (passed, text) = validate(&manifests);
    assert!(passed, "{text}");
    assert_eq!(text.matches("passed").count(), manifests.len(), "{text}");
    let copied = std::fs::read_to_string(out.join("files/users.csv")).unwrap_or_default();
    assert_eq!(copied, rows);
    assert!(out.join("files/echo.wasm").is_file());
    let inside = yaml(&out.join("files/scenario.yaml"));
    let job = yaml(&out.join("job.yaml"));
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&folder);
    assert_eq!(inside["module"], "echo.wasm");
    assert_eq!(inside["data"], "users.csv");
    assert_eq!(
        job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "volley-big-data-scenario"
    );
    assert!(
        readme.contains(
            "kubectl cp files/users.csv volley-big-data-scenario-loader:/scenario/users.csv"
        ),
        "{readme}"
    );
}
