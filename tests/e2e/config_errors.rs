//! Mistakes in scenario files exit 2 with `file:line:column` and the fix (golden files).

use crate::support::{collect, repo, volley};

fn golden(case: &str, command: &str) {
    let file = format!("tests/cases/{case}/scenario.yaml");
    let expected =
        std::fs::read_to_string(repo().join(format!("tests/cases/{case}/expected-error.txt")))
            .unwrap_or_else(|error| panic!("missing golden file for {case}: {error}"));
    let ran = match volley().args([command, &file]).output() {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 2, "{ran:?}");
    assert_eq!(ran.stderr, expected, "{ran:?}");
}

#[test]
fn a_yaml_typo_names_the_place_and_the_fix() {
    golden("typo", "run");
    golden("typo", "check");
}

#[test]
fn issue_22_a_compression_mistake_names_the_place_and_the_allowed_values() {
    golden("compression-gzip", "run");
    golden("compression-gzip", "check");
    golden("compression-window", "check");
}

#[test]
fn a_missing_module_names_the_place_and_the_fix() {
    golden("missing-module", "run");
}

#[test]
fn issue_12_an_unset_environment_variable_is_a_config_error_at_its_place() {
    // The file really substitutes `${VOLLEY_TEST_UNSET}` (in `target`, line 4), and the variable is
    // removed from the environment: the error names the file, line, column and the fix.
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    let file = folder.path().join("unset.yaml");
    let module = crate::support::repo().join("scenarios/target/wasm32-wasip2/release/echo.wasm");
    let text = format!(
        "version: 1\nname: unset\n# a comment may mention ${{VOLLEY_TEST_UNSET}} freely\ntarget: ws://${{VOLLEY_TEST_UNSET}}/\nmodule: {}\nload:\n  connections: 1\n  iterations: 1\n",
        module.display()
    );
    if let Err(error) = std::fs::write(&file, text) {
        panic!("cannot write {}: {error}", file.display());
    }
    let ran = match volley()
        .arg("check")
        .arg(&file)
        .env_remove("VOLLEY_TEST_UNSET")
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 2, "{ran:?}");
    let expected = format!(
        "{}:4:14: environment variable `VOLLEY_TEST_UNSET` is not set",
        file.display()
    );
    assert!(ran.stderr.contains(&expected), "{ran:?}");
    assert!(
        ran.stderr.contains("${VOLLEY_TEST_UNSET:-default}"),
        "{ran:?}"
    );
}

#[test]
fn a_file_that_is_not_a_component_is_refused_before_connecting() {
    golden("not-a-component", "check");
    golden("not-a-component", "run");
}

#[test]
fn issue_25_a_module_that_is_not_a_component_says_what_it_is() {
    golden("core-module", "check");
    golden("rlib-module", "check");
}

#[test]
fn a_module_that_differs_from_its_pin_is_refused_naming_both_digests() {
    // The module is a committed file, so its digest is stable; it is checked before compiling.
    golden("pinned-mismatch", "run");
    golden("pinned-mismatch", "check");
}

#[test]
fn a_malformed_pin_names_the_place_and_the_fix() {
    golden("pinned-malformed", "check");
}

#[test]
fn check_prints_the_digest_and_a_file_pinned_to_it_runs() {
    crate::support::build_scenarios();
    let checked = match volley().args(["check", "scenarios/echo.yaml"]).output() {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(checked.code, 0, "{checked:?}");
    let digest = checked
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("module digest: sha256:"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest printed: {checked:?}"))
        .to_owned();
    assert_eq!(digest.len(), 64, "{checked:?}");
    for command in ["check", "run"] {
        let pinned = format!("module_sha256={digest}");
        let mut args = vec![command, "scenarios/echo.yaml", "--set", &pinned];
        args.extend(["--set", "load.connections=1", "--set", "vars.messages=2"]);
        if command == "run" {
            args.extend([
                "--set",
                "load.ramp_up=0s",
                "--set",
                "load.duration=1s",
                "--no-progress",
            ]);
        }
        let ran = match volley().args(&args).output() {
            Ok(output) => collect(output, None),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(ran.code, 0, "{command}: {ran:?}");
    }
}
