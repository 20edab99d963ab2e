//! A scenario file moved to another folder: its YAML tree with `--target` and `--set` applied and
//! every path it names (`module:`, `data:` when it names a file, `tls.ca_file`, `tls.client_cert`,
//! `tls.client_key`) replaced by a new name, written back as YAML text. `volley kubernetes` calls
//! it to put the scenario in a ConfigMap beside its files. `${ENV}` references stay as written, so
//! they are read where the file runs (a pod's environment), not where it was generated. Finding
//! which files a scenario names lives in the validator (`Scenario::load`); this only rewrites.

use super::overrides::{Overrides, apply_set, hide_set_values};
use serde_yaml_ng::{Mapping, Value};

/// The new names of the files a scenario names, relative to the folder the file moves to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relocation {
    /// `module:` (`None` for a flow, which names no module).
    pub module: Option<String>,
    /// `data:`, when it names a file (inline rows are left alone).
    pub data: Option<String>,
    /// `tls.ca_file`.
    pub ca_file: Option<String>,
    /// `tls.client_cert`.
    pub client_cert: Option<String>,
    /// `tls.client_key`.
    pub client_key: Option<String>,
}

/// `text` (a scenario file, not yet `${ENV}`-substituted) with `overrides` applied and its paths
/// replaced by `names`, as YAML. The error is a message without a `--set` value in it.
pub fn relocate(text: &str, overrides: &Overrides, names: &Relocation) -> Result<String, String> {
    let mut tree: Value = serde_yaml_ng::from_str(text)
        .map_err(|error| format!("not a YAML scenario file: {error}"))?;
    for (path, value) in &overrides.sets {
        apply_set(&mut tree, path, value).map_err(|message| format!("--set {path}: {message}"))?;
    }
    let Value::Mapping(root) = &mut tree else {
        return Err("a scenario file is a mapping (`version: 1`, `name: …`, …)".into());
    };
    if let Some(target) = &overrides.target {
        set(root, "target", target);
    }
    if let Some(module) = &names.module {
        set(root, "module", module);
    }
    if let Some(data) = &names.data {
        set(root, "data", data);
    }
    let tls_names = [
        ("ca_file", &names.ca_file),
        ("client_cert", &names.client_cert),
        ("client_key", &names.client_key),
    ];
    if tls_names.iter().any(|(_, name)| name.is_some()) {
        let tls = root
            .entry(Value::String("tls".into()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        let Value::Mapping(tls) = tls else {
            return Err("`tls` is not a mapping".into());
        };
        for (key, name) in tls_names {
            if let Some(name) = name {
                set(tls, key, name);
            }
        }
    }
    serde_yaml_ng::to_string(&tree).map_err(|error| {
        let message = format!("cannot write the scenario as YAML: {error}");
        hide_set_values(&message, &overrides.sets)
    })
}

fn set(map: &mut Mapping, key: &str, value: &str) {
    map.insert(Value::String(key.into()), Value::String(value.into()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scenario;
    use std::path::Path;

    const FILE: &str = "version: 1
name: echo
target: ${ECHO_TARGET:-embedded://echo}
module: ../target/wasm32-wasip2/release/echo.wasm # built by just scenarios
data: rows/users.csv
tls:
  ca_file: certs/ca.pem
  server_name: \"true\"
vars:
  messages: 5
load:
  connections: 10
  iterations: 1
";

    fn names() -> Relocation {
        Relocation {
            module: Some("echo.wasm".into()),
            data: Some("users.csv".into()),
            ca_file: Some("ca.pem".into()),
            ..Relocation::default()
        }
    }

    #[test]
    fn paths_are_replaced_and_env_references_kept() -> Result<(), String> {
        let text = relocate(FILE, &Overrides::default(), &names())?;
        let tree: Value = serde_yaml_ng::from_str(&text).map_err(|error| error.to_string())?;
        assert_eq!(tree["module"], "echo.wasm");
        assert_eq!(tree["data"], "users.csv");
        assert_eq!(tree["tls"]["ca_file"], "ca.pem");
        // Quoted text stays text, and `${ENV}` is read where the file runs.
        assert_eq!(tree["tls"]["server_name"], "true");
        assert_eq!(tree["target"], "${ECHO_TARGET:-embedded://echo}");
        assert_eq!(tree["vars"]["messages"], 5);
        Ok(())
    }

    #[test]
    fn target_and_sets_are_applied_and_the_result_validates_in_its_new_folder() -> Result<(), String>
    {
        let overrides = Overrides {
            target: Some("ws://echo.test:9001/".into()),
            sets: vec![("load.connections".into(), "3".into())],
        };
        let names = Relocation {
            data: None,
            ca_file: None,
            ..names()
        };
        let text = relocate(
            &FILE.replace("data: rows/users.csv\n", "").replace(
                "tls:\n  ca_file: certs/ca.pem\n  server_name: \"true\"\n",
                "",
            ),
            &overrides,
            &names,
        )?;
        let scenario = Scenario::from_text(
            Path::new("/scenario/scenario.yaml"),
            &text,
            &Overrides::default(),
            |_| None,
        )
        .map_err(|error| error.to_string())?;
        assert_eq!(scenario.module, Path::new("/scenario/echo.wasm"));
        assert_eq!(scenario.load.connections.get(), 3);
        assert_eq!(scenario.target.describe(), "ws://echo.test:9001/");
        Ok(())
    }

    #[test]
    fn a_set_error_names_the_key_only() {
        let overrides = Overrides {
            target: None,
            sets: vec![("name.token".into(), "s3cr3t".into())],
        };
        let error = relocate(FILE, &overrides, &names()).unwrap_err();
        assert_eq!(error, "--set name.token: `name` is not a mapping");
        assert!(relocate("- a list", &Overrides::default(), &names()).is_err());
    }
}
