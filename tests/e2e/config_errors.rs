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
fn a_missing_module_names_the_place_and_the_fix() {
    golden("missing-module", "run");
}

#[test]
fn an_unset_environment_variable_is_a_config_error() {
    let ran = match volley()
        .args([
            "check",
            "scenarios/echo.yaml",
            "--target",
            "ws://${VOLLEY_TEST_UNSET}/",
        ])
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    // --target is taken literally (no ${} expansion): it is not a valid URL.
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("--target"), "{ran:?}");
}

#[test]
fn a_file_that_is_not_a_component_is_refused_before_connecting() {
    for command in ["check", "run"] {
        let ran = match volley()
            .args([command, "tests/cases/not-a-component/scenario.yaml"])
            .output()
        {
            Ok(output) => collect(output, None),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(ran.code, 2, "{ran:?}");
        assert!(
            ran.stderr.starts_with(
                "error: scenario module tests/cases/not-a-component/scenario.yaml is not a WebAssembly component"
            ) && ran.stderr.contains("build it for the `wasm32-wasip2` target"),
            "{ran:?}"
        );
    }
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
