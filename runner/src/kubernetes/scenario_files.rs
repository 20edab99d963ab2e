//! The files a scenario's pods need, in memory: the scenario file itself (`scenario.yaml`, with
//! `--target` and `--set` applied and every path renamed to a file beside it, by
//! `config::relocate`) and the files it names, found by loading it as `volley run` would
//! (`Scenario::load`: the module it read, the data file, the TLS files). Each gets a name that is
//! a valid ConfigMap key. Where they are put (a ConfigMap, or a volume when they are too large)
//! is decided in `manifests`.

use super::KubernetesError;
use crate::config::relocate::{Relocation, relocate};
use crate::config::{Overrides, Scenario};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The scenario file's name beside its files.
pub const SCENARIO_KEY: &str = "scenario.yaml";

/// One file for the pods: its name beside the scenario and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFile {
    /// The name (a ConfigMap key: letters, digits, `-`, `_`, `.`).
    pub key: String,
    /// The contents.
    pub bytes: Vec<u8>,
    /// Whether it is the module (binary, so `binaryData` in a ConfigMap).
    pub is_module: bool,
}

/// The scenario and its files, the scenario first.
#[derive(Debug, Clone)]
pub struct ScenarioFiles {
    /// `name:` of the scenario.
    pub name: String,
    /// `load.connections` after `--set` (for the README's sizing line).
    pub connections: u32,
    /// The file has `load.search` (a capacity search, which shards cannot carry).
    pub search: bool,
    /// The file has `populations:`.
    pub populations: bool,
    /// The files, `scenario.yaml` first.
    pub files: Vec<ScenarioFile>,
}

impl ScenarioFiles {
    /// The bytes of every file together (what a ConfigMap's size limit counts).
    pub fn total_bytes(&self) -> usize {
        self.files.iter().map(|file| file.bytes.len()).sum()
    }
}

/// Load `file` with `overrides` as `volley run` would, and gather what its pods need.
pub fn collect(file: &Path, overrides: &Overrides) -> Result<ScenarioFiles, KubernetesError> {
    let scenario = Scenario::load(file, overrides)?;
    let text = std::fs::read_to_string(file).map_err(|error| KubernetesError::Read {
        path: file.to_owned(),
        error,
    })?;
    let mut keys = Keys::default();
    let mut files = Vec::new();
    let mut add = |path: &Path, is_module: bool| -> Result<String, KubernetesError> {
        let key = keys.name(path);
        let bytes = match (&scenario.module_file, is_module) {
            // The module as the loader read it (and checked against `module_sha256:`).
            (Some(module), true) => module.bytes().to_vec(),
            _ => std::fs::read(path).map_err(|error| KubernetesError::Read {
                path: path.to_owned(),
                error,
            })?,
        };
        files.push(ScenarioFile {
            key: key.clone(),
            bytes,
            is_module,
        });
        Ok(key)
    };
    // A flow is in the scenario file itself: no module to carry.
    let module = match scenario.flow {
        Some(_) => None,
        None => Some(add(&scenario.module, true)?),
    };
    let data = match scenario.data.source() {
        // No data, or rows written in the file itself.
        "" | "inline" => None,
        source => Some(add(&PathBuf::from(source), false)?),
    };
    let mut tls = |path: &Option<PathBuf>| path.as_deref().map(|path| add(path, false)).transpose();
    let names = Relocation {
        module,
        data,
        ca_file: tls(&scenario.tls.ca_file)?,
        client_cert: tls(&scenario.tls.client_cert)?,
        client_key: tls(&scenario.tls.client_key)?,
    };
    let relocated = relocate(&text, overrides, &names).map_err(|message| {
        KubernetesError::Config(crate::config::ConfigError::at(file, None, message))
    })?;
    let scenario_text = format!(
        "# {} by `volley kubernetes`, with its files renamed to the ones beside it.\n{relocated}",
        super::one_line(&file.display().to_string())
    );
    let mut all = vec![ScenarioFile {
        key: SCENARIO_KEY.to_owned(),
        bytes: scenario_text.into_bytes(),
        is_module: false,
    }];
    all.extend(files);
    Ok(ScenarioFiles {
        name: scenario.name,
        connections: scenario.load.connections.get(),
        search: scenario.load.search.is_some(),
        populations: !scenario.populations.is_empty(),
        files: all,
    })
}

/// Unique ConfigMap keys from file names.
#[derive(Debug, Default)]
struct Keys {
    used: BTreeSet<String>,
}

impl Keys {
    /// `path`'s file name with anything but letters, digits, `-`, `_` and `.` made `_`, made
    /// unique with a `2-`, `3-`… prefix (and never `scenario.yaml`).
    fn name(&mut self, path: &Path) -> String {
        let base: String = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = match base.trim_start_matches('.') {
            "" => "file".to_owned(),
            _ => base,
        };
        let mut key = base.clone();
        let mut n = 1;
        while key == SCENARIO_KEY || self.used.contains(&key) {
            n += 1;
            key = format!("{n}-{base}");
        }
        self.used.insert(key.clone());
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid_and_unique() {
        let mut keys = Keys::default();
        assert_eq!(keys.name(Path::new("a/echo.wasm")), "echo.wasm");
        assert_eq!(keys.name(Path::new("b/echo.wasm")), "2-echo.wasm");
        assert_eq!(keys.name(Path::new("x/scenario.yaml")), "2-scenario.yaml");
        assert_eq!(keys.name(Path::new("my users (1).csv")), "my_users__1_.csv");
        assert_eq!(keys.name(Path::new("..")), "file");
    }

    /// A scenario folder in the temp dir: a module (any bytes: `collect` does not compile it),
    /// a CSV data file and a CA file, each in its own subfolder.
    fn fixture(name: &str) -> std::io::Result<PathBuf> {
        let folder =
            std::env::temp_dir().join(format!("volley-k8s-files-{}-{name}", std::process::id()));
        for sub in ["wasm", "rows", "certs"] {
            std::fs::create_dir_all(folder.join(sub))?;
        }
        std::fs::write(folder.join("wasm/echo.wasm"), b"\0asm\x0d\0\x01\0\xff\xfe")?;
        std::fs::write(folder.join("rows/users.csv"), "user\nalice\nbob\n")?;
        std::fs::write(folder.join("certs/ca.pem"), "not checked at load\n")?;
        std::fs::write(
            folder.join("s.yaml"),
            "version: 1
name: Echo Test
target: ws://127.0.0.1:9/
module: wasm/echo.wasm
data: rows/users.csv
tls:
  ca_file: certs/ca.pem
load:
  connections: 4
  iterations: 1
",
        )?;
        Ok(folder)
    }

    #[test]
    fn the_module_data_and_tls_files_are_gathered_and_renamed() -> Result<(), String> {
        let folder = fixture("gathered").map_err(|error| error.to_string())?;
        let overrides = Overrides {
            target: None,
            sets: vec![("load.connections".into(), "6".into())],
        };
        let gathered = collect(&folder.join("s.yaml"), &overrides);
        let _ = std::fs::remove_dir_all(&folder);
        let gathered = gathered.map_err(|error| error.to_string())?;
        let keys: Vec<&str> = gathered.files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["scenario.yaml", "echo.wasm", "users.csv", "ca.pem"]);
        assert_eq!(gathered.name, "Echo Test");
        assert_eq!(gathered.connections, 6);
        assert!(gathered.files[1].is_module);
        assert_eq!(gathered.files[2].bytes, b"user\nalice\nbob\n");
        let text = String::from_utf8_lossy(&gathered.files[0].bytes).into_owned();
        let tree: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).map_err(|error| error.to_string())?;
        assert_eq!(tree["module"], "echo.wasm");
        assert_eq!(tree["data"], "users.csv");
        assert_eq!(tree["tls"]["ca_file"], "ca.pem");
        assert_eq!(tree["load"]["connections"], 6);
        let total: usize = gathered.files.iter().map(|f| f.bytes.len()).sum();
        assert_eq!(gathered.total_bytes(), total);
        Ok(())
    }

    #[test]
    fn a_scenario_that_does_not_load_is_refused_as_volley_run_would() {
        let missing = collect(Path::new("/nonexistent/s.yaml"), &Overrides::default());
        let error = missing.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("cannot read the scenario file"), "{error}");
    }
}
