//! The Kubernetes objects of one sharded run, each a YAML document serialized from a JSON tree
//! (`serde_yaml_ng`, so every value is quoted as YAML needs), with a comment on top: the scenario's
//! files (a ConfigMap, or a volume and a loader pod when they pass the ConfigMap limit), the
//! results volume, the run (an Indexed Job of N pods, as `deploy/kubernetes/job.yaml`), the merge
//! Job and a pod to fetch the results. N is one value here, handed to every object that names it.
//! Which files the scenario needs is `scenario_files`; the README is `readme`.

use super::scenario_files::{SCENARIO_KEY, ScenarioFiles};
use base64::Engine as _;
use serde_json::{Value, json};
use std::num::NonZeroU32;

/// Where the scenario's files are mounted in every pod.
pub const SCENARIO_MOUNT: &str = "/scenario";
/// Where the results volume is mounted.
pub const RESULTS_MOUNT: &str = "/results";
/// A ConfigMap holds at most this many bytes of data (the API server refuses more).
pub const CONFIGMAP_LIMIT: usize = 1 << 20;
/// The image of the small pods that copy files in and out of a volume (`kubectl cp` needs `tar`,
/// which the distroless runner image lacks).
pub const SHELL_IMAGE: &str = "busybox:1.37";

/// The names of one run's objects, from the scenario's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `volley-<scenario>`: every object's name starts with it.
    pub prefix: String,
}

impl Names {
    /// Names for the scenario called `scenario` (lower case, `-` for anything but letters and
    /// digits, at most 40 characters, so `<prefix>-results-reader` stays a valid name).
    pub fn of(scenario: &str) -> Names {
        let mut slug = String::new();
        for c in scenario.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug: String = slug.trim_matches('-').chars().take(32).collect();
        let slug = slug.trim_end_matches('-');
        Names {
            prefix: match slug {
                "" => "volley".to_owned(),
                slug => format!("volley-{slug}"),
            },
        }
    }

    /// The object `<prefix>-<what>`.
    pub fn of_kind(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }
}

/// Where the pods read the scenario from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioSource {
    /// A ConfigMap (the files fit in 1 MiB).
    ConfigMap,
    /// A volume the user fills with `kubectl cp` through the loader pod.
    Volume,
}

impl ScenarioSource {
    /// A ConfigMap when `files` fit in one, else a volume.
    pub fn for_files(files: &ScenarioFiles) -> ScenarioSource {
        if files.total_bytes() <= CONFIGMAP_LIMIT {
            ScenarioSource::ConfigMap
        } else {
            ScenarioSource::Volume
        }
    }
}

/// What every manifest is generated from.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// Object names.
    pub names: Names,
    /// N: the number of pods, shards and shard files.
    pub shards: NonZeroU32,
    /// The runner image.
    pub image: &'a str,
    /// The scenario and its files.
    pub files: &'a ScenarioFiles,
    /// ConfigMap or volume.
    pub source: ScenarioSource,
}

/// `tree` as a YAML document after `comment` (each line made a `#` line).
fn document(comment: &str, tree: &Value) -> Result<String, serde_yaml_ng::Error> {
    let mut text = String::new();
    for line in comment.lines() {
        text.push_str(if line.is_empty() { "#" } else { "# " });
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&serde_yaml_ng::to_string(tree)?);
    Ok(text)
}

fn labels() -> Value {
    json!({ "app.kubernetes.io/name": "volley" })
}

fn metadata(name: &str) -> Value {
    json!({ "name": name, "labels": labels() })
}

/// The shard files the merge reads, `/results/shard-0.json` to `shard-{N-1}.json`.
pub fn shard_files(shards: NonZeroU32) -> Vec<String> {
    (0..shards.get())
        .map(|i| format!("{RESULTS_MOUNT}/shard-{i}.json"))
        .collect()
}

/// The ConfigMap of the scenario's files: text in `data`, the module and any file that is not
/// UTF-8 in `binaryData` (base64).
pub fn config_map(plan: &Plan<'_>) -> Result<String, serde_yaml_ng::Error> {
    let mut data = serde_json::Map::new();
    let mut binary = serde_json::Map::new();
    for file in &plan.files.files {
        match std::str::from_utf8(&file.bytes) {
            Ok(text) if !file.is_module => {
                data.insert(file.key.clone(), Value::from(text));
            }
            _ => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&file.bytes);
                binary.insert(file.key.clone(), Value::from(encoded));
            }
        }
    }
    let mut tree = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(&plan.names.of_kind("scenario")),
        "data": data,
    });
    if !binary.is_empty() {
        tree["binaryData"] = Value::Object(binary);
    }
    document(
        &format!(
            "The scenario `{}` and its files ({} bytes; a ConfigMap holds 1 MiB), mounted at {SCENARIO_MOUNT}\nin every pod of the run. The module is binaryData (base64).",
            super::one_line(&plan.files.name),
            plan.files.total_bytes()
        ),
        &tree,
    )
}

/// A ReadWriteMany claim of `storage`, named `<prefix>-<what>`.
fn claim(
    plan: &Plan<'_>,
    what: &str,
    storage: &str,
    comment: &str,
) -> Result<String, serde_yaml_ng::Error> {
    let tree = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(&plan.names.of_kind(what)),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": { "requests": { "storage": storage } },
        },
    });
    document(comment, &tree)
}

/// The results volume: every pod writes `shard-I.json`, the merge reads them.
pub fn results_claim(plan: &Plan<'_>) -> Result<String, serde_yaml_ng::Error> {
    claim(
        plan,
        "results",
        "1Gi",
        "Where every pod writes shard-I.json and where the merge Job reads them. ReadWriteMany (NFS, EFS,\nFilestore, CephFS…): the pods run on several nodes at once. Each file is a few hundred KiB.",
    )
}

/// The scenario volume, when the files pass the ConfigMap limit: twice their size, at least 1 GiB.
pub fn scenario_claim(plan: &Plan<'_>) -> Result<String, serde_yaml_ng::Error> {
    let gib = (plan.files.total_bytes() * 2).div_ceil(1 << 30).max(1);
    claim(
        plan,
        "scenario",
        &format!("{gib}Gi"),
        &format!(
            "The scenario's files ({} bytes, more than a ConfigMap's 1 MiB): fill this volume through the\nloader pod (scenario-loader.yaml; the commands are in README.md); every pod of the run mounts\nit read-only at {SCENARIO_MOUNT}. ReadWriteMany: the loader writes it, pods on several nodes read it.",
            plan.files.total_bytes()
        ),
    )
}

/// A pod that sleeps with the claim `<prefix>-<claim>` at `mount`, for `kubectl cp`.
pub fn shell_pod(
    plan: &Plan<'_>,
    name: &str,
    claim: &str,
    mount: &str,
    comment: &str,
) -> Result<String, serde_yaml_ng::Error> {
    let tree = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(&plan.names.of_kind(name)),
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "shell",
                "image": SHELL_IMAGE,
                "command": ["sleep", "3600"],
                "volumeMounts": [{ "name": "files", "mountPath": mount }],
            }],
            "volumes": [{
                "name": "files",
                "persistentVolumeClaim": { "claimName": plan.names.of_kind(claim) },
            }],
        },
    });
    document(comment, &tree)
}

/// The run: an Indexed Job of N pods, each `volley run --shard auto/N` on the scenario.
pub fn run_job(plan: &Plan<'_>) -> Result<String, serde_yaml_ng::Error> {
    let n = plan.shards.get();
    let scenario_volume = match plan.source {
        ScenarioSource::ConfigMap => json!({
            "name": "scenario",
            "configMap": { "name": plan.names.of_kind("scenario") },
        }),
        ScenarioSource::Volume => json!({
            "name": "scenario",
            "persistentVolumeClaim": { "claimName": plan.names.of_kind("scenario"), "readOnly": true },
        }),
    };
    let tree = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(&plan.names.of_kind("run")),
        "spec": {
            "completionMode": "Indexed",
            "completions": n,
            "parallelism": n,
            "backoffLimitPerIndex": 1,
            "podFailurePolicy": { "rules": [
                { "action": "FailIndex", "onExitCodes": { "containerName": "volley", "operator": "In", "values": [1] } },
                { "action": "FailJob", "onExitCodes": { "containerName": "volley", "operator": "In", "values": [2] } },
            ] },
            "template": {
                "metadata": {
                    "labels": labels(),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": "9464",
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 60,
                    "containers": [{
                        "name": "volley",
                        "image": plan.image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": [
                            "run", format!("{SCENARIO_MOUNT}/{SCENARIO_KEY}"),
                            "--shard", format!("auto/{n}"),
                            "--start-at", "$(START_AT)",
                            "--out", format!("{RESULTS_MOUNT}/shard-$(JOB_COMPLETION_INDEX).json"),
                            "--metrics-addr", "0.0.0.0:9464",
                            "--no-progress",
                        ],
                        "env": [
                            { "name": "START_AT", "value": "0" },
                            { "name": "VOLLEY_RUN_ID", "valueFrom": { "fieldRef": {
                                "fieldPath": "metadata.labels['batch.kubernetes.io/controller-uid']",
                            } } },
                        ],
                        "ports": [{ "name": "metrics", "containerPort": 9464 }],
                        "resources": pod_resources(plan.files.connections, n),
                        "volumeMounts": [
                            { "name": "scenario", "mountPath": SCENARIO_MOUNT, "readOnly": true },
                            { "name": "results", "mountPath": RESULTS_MOUNT },
                        ],
                    }],
                    "volumes": [
                        scenario_volume,
                        { "name": "results", "persistentVolumeClaim": { "claimName": plan.names.of_kind("results") } },
                    ],
                },
            },
        },
    });
    document(
        &format!(
            "The run of `{}`: an Indexed Job of {n} pods, pod I running shard I of {n} (`--shard auto/{n}` reads\nJOB_COMPLETION_INDEX), so `volley merge` of the {n} files equals one process running everything.\nEvery pod carries the Job's uid as its run id (VOLLEY_RUN_ID). Exit 1 (the shard ran, a check or\nthreshold failed) is not retried; exit 2 (could not run) fails the Job; an evicted pod is retried\nonce. Set START_AT (RFC 3339 or Unix seconds) a minute ahead to start every shard together.",
            super::one_line(&plan.files.name)
        ),
        &tree,
    )
}

/// Requests for a pod of `connections / shards` connections at ~50 KiB each plus 100 MiB
/// (docs/scaling.md), rounded up to MiB; the limit 1.5 times that.
fn pod_resources(connections: u32, shards: u32) -> Value {
    let per_pod = u64::from(connections.div_ceil(shards));
    let mib = (per_pod * 50).div_ceil(1024) + 100;
    json!({
        "requests": { "cpu": "1", "memory": format!("{mib}Mi") },
        "limits": { "memory": format!("{}Mi", mib + mib / 2) },
    })
}

/// The merge: `volley merge` of the N shard files into merged.json, .html and .junit.xml.
pub fn merge_job(plan: &Plan<'_>) -> Result<String, serde_yaml_ng::Error> {
    let mut args = vec!["merge".to_owned()];
    args.extend(shard_files(plan.shards));
    for (flag, file) in [
        ("-o", "merged.json"),
        ("--html", "merged.html"),
        ("--junit", "merged.junit.xml"),
    ] {
        args.push(flag.to_owned());
        args.push(format!("{RESULTS_MOUNT}/{file}"));
    }
    let tree = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(&plan.names.of_kind("merge")),
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": labels() },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "merge",
                        "image": plan.image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": args,
                        "resources": { "requests": { "cpu": "100m", "memory": "128Mi" } },
                        "volumeMounts": [{ "name": "results", "mountPath": RESULTS_MOUNT }],
                    }],
                    "volumes": [
                        { "name": "results", "persistentVolumeClaim": { "claimName": plan.names.of_kind("results") } },
                    ],
                },
            },
        },
    });
    document(
        "The merge: apply once the run Job has finished. It sums the shards' counts, merges their\nhistograms and judges the thresholds on the whole; it exits 1 on a failed verdict (this Job fails,\nno retry) and 2 on a missing shard or another run's file. Its summary is in its log.",
        &tree,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::scenario_files::ScenarioFile;

    fn files(module_bytes: usize) -> ScenarioFiles {
        ScenarioFiles {
            name: "Echo: \"quoted\" #1".into(),
            connections: 100,
            search: false,
            populations: false,
            files: vec![
                ScenarioFile {
                    key: SCENARIO_KEY.into(),
                    bytes: b"version: 1\nmodule: echo.wasm\n".to_vec(),
                    is_module: false,
                },
                ScenarioFile {
                    key: "echo.wasm".into(),
                    bytes: [0, b'a', b's', b'm', 0xff].repeat(module_bytes / 5),
                    is_module: true,
                },
            ],
        }
    }

    fn plan(files: &ScenarioFiles) -> Plan<'_> {
        Plan {
            names: Names::of(&files.name),
            shards: NonZeroU32::MIN.saturating_add(2),
            image: "registry.example/volley:1.0",
            files,
            source: ScenarioSource::for_files(files),
        }
    }

    fn parse(text: &str) -> serde_yaml_ng::Value {
        serde_yaml_ng::from_str(text).unwrap_or(serde_yaml_ng::Value::Null)
    }

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(
            Names::of("Echo: \"quoted\" #1").prefix,
            "volley-echo-quoted-1"
        );
        assert_eq!(Names::of("***").prefix, "volley");
        let long = Names::of(&"x".repeat(100));
        assert!(long.of_kind("results-reader").len() <= 63);
    }

    #[test]
    fn n_is_the_same_everywhere() -> Result<(), serde_yaml_ng::Error> {
        let files = files(100);
        let plan = plan(&files);
        let job = parse(&run_job(&plan)?);
        assert_eq!(job["spec"]["completions"], 3);
        assert_eq!(job["spec"]["parallelism"], 3);
        let args = &job["spec"]["template"]["spec"]["containers"][0]["args"];
        assert_eq!(args[3], "auto/3");
        assert_eq!(args[1], "/scenario/scenario.yaml");
        assert_eq!(
            job["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"],
            "true"
        );
        let merge = parse(&merge_job(&plan)?);
        let merged = &merge["spec"]["template"]["spec"]["containers"][0]["args"];
        assert_eq!(merged[1], "/results/shard-0.json");
        assert_eq!(merged[3], "/results/shard-2.json");
        assert_eq!(merged[4], "-o");
        Ok(())
    }

    #[test]
    fn the_module_is_binary_data_and_the_scenario_text() -> Result<(), serde_yaml_ng::Error> {
        let files = files(100);
        let plan = plan(&files);
        assert_eq!(plan.source, ScenarioSource::ConfigMap);
        let text = config_map(&plan)?;
        assert!(
            text.starts_with("# The scenario `Echo: \"quoted\" #1`"),
            "{text}"
        );
        let map = parse(&text);
        assert_eq!(map["metadata"]["name"], "volley-echo-quoted-1-scenario");
        assert_eq!(
            map["data"]["scenario.yaml"],
            "version: 1\nmodule: echo.wasm\n"
        );
        let encoded = map["binaryData"]["echo.wasm"].as_str().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        assert_eq!(decoded, files.files[1].bytes);
        Ok(())
    }

    #[test]
    fn past_one_mib_the_scenario_goes_on_a_volume() -> Result<(), serde_yaml_ng::Error> {
        let files = files(CONFIGMAP_LIMIT);
        let plan = plan(&files);
        assert_eq!(plan.source, ScenarioSource::Volume);
        let job = parse(&run_job(&plan)?);
        let volume = &job["spec"]["template"]["spec"]["volumes"][0];
        assert_eq!(
            volume["persistentVolumeClaim"]["claimName"],
            "volley-echo-quoted-1-scenario"
        );
        let claim = parse(&scenario_claim(&plan)?);
        assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
        Ok(())
    }

    #[test]
    fn pods_are_sized_by_their_share_of_connections() {
        let resources = pod_resources(100_000, 4);
        assert_eq!(resources["requests"]["memory"], "1321Mi");
        assert_eq!(resources["limits"]["memory"], "1981Mi");
    }
}
