//! `volley new`: a generated crate builds for wasm32-wasip2, passes `volley check` and runs
//! against the embedded echo server. To stay bounded it reuses `scenarios/target` (shared
//! dependencies, `CARGO_TARGET_DIR`) and `scenarios/Cargo.lock` (the same versions, no resolving).

use crate::support::{build_scenarios, collect, repo, volley};
use std::process::Command;

const NAME: &str = "volley-new-e2e";

#[test]
fn a_generated_crate_builds_checks_and_runs() {
    build_scenarios();
    let temp = match tempfile::tempdir() {
        Ok(temp) => temp,
        Err(error) => panic!("cannot make a temp dir: {error}"),
    };
    let folder = temp.path().join(NAME);
    let created = match volley()
        .arg("new")
        .arg(&folder)
        .arg("--sdk-path")
        .arg(repo().join("sdk"))
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(created.code, 0, "{created:?}");
    for file in [
        "Cargo.toml",
        ".cargo/config.toml",
        "src/lib.rs",
        "README.md",
        "volley-new-e2e.yaml",
    ] {
        assert!(folder.join(file).is_file(), "{file} missing: {created:?}");
    }
    let cargo_toml = std::fs::read_to_string(folder.join("Cargo.toml")).unwrap_or_default();
    assert!(
        cargo_toml.contains("volley-sdk = { path = "),
        "{cargo_toml}"
    );

    let refused = match volley().arg("new").arg(&folder).output() {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(
        refused.code, 2,
        "an existing folder is never overwritten: {refused:?}"
    );

    // Same dependency versions as scenarios/, built into scenarios/target: only this crate compiles.
    if let Err(error) = std::fs::copy(
        repo().join("scenarios/Cargo.lock"),
        folder.join("Cargo.lock"),
    ) {
        panic!("cannot copy Cargo.lock: {error}");
    }
    let target_dir = repo().join("scenarios/target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = match Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .current_dir(&folder)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot run cargo: {error}"),
    };
    assert_eq!(built.code, 0, "{built:?}");
    let module = "wasm32-wasip2/release/volley_new_e2e.wasm";
    let destination = folder.join("target").join(module);
    if let Some(parent) = destination.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(error) = std::fs::copy(target_dir.join(module), &destination) {
        panic!("the build wrote no {module}: {error}");
    }

    // Issue 25: plain `cargo test` in the crate builds the tests for wasm32-wasip2 (the crate's
    // default target) and runs them through `volley test-module`, named in .cargo/config.toml.
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_volley"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tested = match Command::new(cargo)
        .args(["test", "--quiet"])
        .current_dir(&folder)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("PATH", path)
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot run cargo: {error}"),
    };
    assert_eq!(tested.code, 0, "cargo test in the crate: {tested:?}");
    assert!(
        tested.stdout.contains("test result: ok. 1 passed"),
        "the crate's test ran in WebAssembly: {tested:?}"
    );
    let not_a_test = match volley()
        .arg("test-module")
        .arg(folder.join("Cargo.toml"))
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(not_a_test.code, 2, "{not_a_test:?}");
    assert!(
        not_a_test.stderr.contains("not a WebAssembly component"),
        "{not_a_test:?}"
    );

    let yaml = folder.join("volley-new-e2e.yaml");
    for command in ["check", "run"] {
        let mut run = volley();
        run.arg(command).arg(&yaml);
        if command == "run" {
            run.arg("--no-progress");
        }
        let ran = match run.output() {
            Ok(output) => collect(output, None),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(ran.code, 0, "volley {command}: {ran:?}");
        if command == "run" {
            assert!(ran.stdout.contains("echo is what was sent"), "{ran:?}");
        }
    }
}

/// Issue 25: a crate made outside a checkout depends on the published SDK at the version that
/// speaks the runner's interface: `sdk/Cargo.toml`'s major.minor is the runner's requirement, and
/// `volley new` says where else to get the SDK when the registry does not have it.
#[test]
fn the_published_sdk_version_is_the_one_the_runner_asks_for() {
    let manifest = match std::fs::read_to_string(repo().join("sdk/Cargo.toml")) {
        Ok(text) => text,
        Err(error) => panic!("cannot read sdk/Cargo.toml: {error}"),
    };
    let version = manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("version = \""))
        .map(|rest| rest.trim_end_matches('"'))
        .unwrap_or_default();
    assert_eq!(
        version.rsplit_once('.').map(|(major_minor, _)| major_minor),
        Some(volley::sdk_requirement()),
        "sdk/Cargo.toml version {version:?}"
    );
    let temp = match tempfile::tempdir() {
        Ok(temp) => temp,
        Err(error) => panic!("cannot make a temp dir: {error}"),
    };
    let created = match volley()
        .current_dir(temp.path())
        .arg("new")
        .arg("outside")
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(created.code, 0, "{created:?}");
    let cargo = std::fs::read_to_string(temp.path().join("outside/Cargo.toml")).unwrap_or_default();
    assert!(
        cargo.contains(&format!("volley-sdk = \"{}\"", volley::sdk_requirement())),
        "{cargo}"
    );
    assert!(
        created.stdout.contains("--sdk-path"),
        "says how to use a local SDK: {created:?}"
    );
}
