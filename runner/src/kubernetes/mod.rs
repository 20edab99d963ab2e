//! `volley kubernetes`: the manifests of a sharded run, generated in memory. A scenario file (with
//! `--target` and `--set`) and N become the files of a folder: the scenario and its files in a
//! ConfigMap (or, past 1 MiB, a volume with a loader pod and the files to copy), the results
//! volume, the run as an Indexed Job of N pods, the merge Job, a pod to fetch the results and a
//! README. Gathering the scenario's files is `scenario_files`, the objects `manifests`, the README
//! `readme`. Beside the flow like `scaffold`: it loads the scenario (`config`) but runs nothing;
//! writing the files is the command's (`commands/kubernetes.rs`).

mod manifests;
mod readme;
mod scenario_files;

use crate::config::{ConfigError, Overrides};
use manifests::{Names, Plan, ScenarioSource};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone)]
pub struct KubernetesOptions {
    /// N: pods, shards and shard files.
    pub shards: NonZeroU32,
    /// The runner image the pods run.
    pub image: String,
    /// The command line, as the README quotes it.
    pub command: String,
}

/// One file to write, relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Where, relative to the output folder (`job.yaml`, `files/echo.wasm`).
    pub path: PathBuf,
    /// The contents.
    pub bytes: Vec<u8>,
}

/// What `volley kubernetes` generated.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The files, in the order to read them (README.md first).
    pub files: Vec<GeneratedFile>,
    /// Whether the scenario's files went into a ConfigMap (`false`: a volume, past 1 MiB).
    pub in_config_map: bool,
    /// The scenario's files together, in bytes.
    pub scenario_bytes: usize,
}

/// Why the manifests could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum KubernetesError {
    /// The scenario file does not load (as `volley run` would say).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file the scenario names could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// More pods than connections: a pod would carry none, and a shard without a connection fails.
    #[error(
        "--shards {shards} is more than the scenario's {connections} connections (load.connections): a pod without a connection fails its shard; use --shards {connections} or fewer"
    )]
    TooManyShards {
        /// N asked for.
        shards: u32,
        /// `load.connections` after `--set`.
        connections: u32,
    },
    /// A capacity search is driven by one process; an Indexed Job of shards cannot carry it.
    #[error(
        "{} has `load.search`: a capacity search is driven by one parent process that picks each step from the last one's result, so it cannot run as independent shards; run it with `volley run --workers N` on one machine"
    , file.display())]
    Search {
        /// The scenario file.
        file: PathBuf,
    },
    /// Populations would need each population's module gathered and split per pod.
    #[error(
        "{} has `populations:`, which `volley kubernetes` does not carry yet; run each population's part with `volley run --shard I/N` on each machine, or `--workers N` on one"
    , file.display())]
    Populations {
        /// The scenario file.
        file: PathBuf,
    },
    /// A manifest could not be written as YAML.
    #[error("cannot write the manifests as YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
}

/// The manifests of `file` run as `options.shards` pods.
pub fn generate(
    file: &Path,
    overrides: &Overrides,
    options: &KubernetesOptions,
) -> Result<Generated, KubernetesError> {
    let files = scenario_files::collect(file, overrides)?;
    if files.search {
        return Err(KubernetesError::Search {
            file: file.to_owned(),
        });
    }
    if files.populations {
        return Err(KubernetesError::Populations {
            file: file.to_owned(),
        });
    }
    if options.shards.get() > files.connections {
        return Err(KubernetesError::TooManyShards {
            shards: options.shards.get(),
            connections: files.connections,
        });
    }
    let source = ScenarioSource::for_files(&files);
    let plan = Plan {
        names: Names::of(&files.name),
        shards: options.shards,
        image: &options.image,
        files: &files,
        source,
    };
    let mut out = vec![text("README.md", readme::readme(&plan, &options.command))];
    match source {
        ScenarioSource::ConfigMap => {
            out.push(text("configmap.yaml", manifests::config_map(&plan)?))
        }
        ScenarioSource::Volume => {
            out.push(text("scenario-pvc.yaml", manifests::scenario_claim(&plan)?));
            out.push(text(
                "scenario-loader.yaml",
                manifests::shell_pod(
                    &plan,
                    "scenario-loader",
                    "scenario",
                    manifests::SCENARIO_MOUNT,
                    "A pod to copy files/ onto the scenario volume with `kubectl cp` (README.md); delete it once\nthe files are in.",
                )?,
            ));
            for file in &files.files {
                out.push(GeneratedFile {
                    path: Path::new("files").join(&file.key),
                    bytes: file.bytes.clone(),
                });
            }
        }
    }
    out.push(text("results-pvc.yaml", manifests::results_claim(&plan)?));
    out.push(text("job.yaml", manifests::run_job(&plan)?));
    out.push(text("merge-job.yaml", manifests::merge_job(&plan)?));
    out.push(text(
        "results-reader.yaml",
        manifests::shell_pod(
            &plan,
            "results-reader",
            "results",
            manifests::RESULTS_MOUNT,
            "A pod to copy the merged results out of the results volume with `kubectl cp` (README.md);\ndelete it afterwards.",
        )?,
    ));
    Ok(Generated {
        files: out,
        in_config_map: source == ScenarioSource::ConfigMap,
        scenario_bytes: files.total_bytes(),
    })
}

fn text(path: &str, contents: String) -> GeneratedFile {
    GeneratedFile {
        path: PathBuf::from(path),
        bytes: contents.into_bytes(),
    }
}

/// `text` on one line (for a comment or a heading).
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_of_manifests_from_one_scenario() -> Result<(), String> {
        let folder = std::env::temp_dir().join(format!("volley-k8s-gen-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&folder);
        // A component's header (the generator copies the bytes; the loader checks the header).
        let written = std::fs::write(folder.join("m.wasm"), b"\0asm\x0d\0\x01\0\xff\x01")
            .and_then(|()| {
                std::fs::write(
                    folder.join("s.yaml"),
                    "version: 1\nname: tiny\ntarget: embedded://echo\nmodule: m.wasm\nload:\n  connections: 2\n  iterations: 1\n",
                )
            });
        let options = KubernetesOptions {
            shards: NonZeroU32::MIN.saturating_add(1),
            image: "volley:latest".into(),
            command: "volley kubernetes s.yaml --shards 2".into(),
        };
        let generated = written.map_err(|error| error.to_string()).and_then(|()| {
            generate(&folder.join("s.yaml"), &Overrides::default(), &options)
                .map_err(|error| error.to_string())
        });
        let too_many = generate(
            &folder.join("s.yaml"),
            &Overrides::default(),
            &KubernetesOptions {
                shards: NonZeroU32::MIN.saturating_add(2),
                ..options.clone()
            },
        );
        let _ = std::fs::remove_dir_all(&folder);
        let generated = generated?;
        let paths: Vec<String> = generated
            .files
            .iter()
            .map(|file| file.path.display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "README.md",
                "configmap.yaml",
                "results-pvc.yaml",
                "job.yaml",
                "merge-job.yaml",
                "results-reader.yaml"
            ]
        );
        assert!(generated.in_config_map);
        let error = too_many
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with("--shards 3 is more than the scenario's 2 connections"),
            "{error}"
        );
        for file in &generated.files[1..] {
            let text = String::from_utf8_lossy(&file.bytes);
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
                .map_err(|error| format!("{}: {error}", file.path.display()))?;
        }
        Ok(())
    }
}
