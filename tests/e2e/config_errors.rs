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
