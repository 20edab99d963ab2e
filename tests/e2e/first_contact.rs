//! What a new user meets before a first run (issue 25): `--version` naming the scenario interfaces,
//! `volley completions` and `volley man` generated from the command-line definition, and module
//! paths that are wrong or name something other than a component, explained (`volley check`).

use crate::support::{Ran, collect, repo, volley};
use std::path::Path;

fn ran(args: &[&str]) -> Ran {
    match volley().args(args).output() {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    }
}

#[test]
fn issue_25_version_names_the_scenario_interfaces() {
    for flag in ["--version", "-V"] {
        let version = ran(&[flag]);
        assert_eq!(version.code, 0, "{version:?}");
        let expected = format!(
            "volley {} (scenario interface volley:scenario@0.3.0; also loads volley:scenario@0.2.0, volley:scenario@0.1.0)\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(version.stdout, expected, "{version:?}");
    }
}

#[test]
fn issue_25_completions_cover_the_subcommands() {
    let bash = ran(&["completions", "bash"]);
    assert_eq!(bash.code, 0, "{bash:?}");
    assert!(bash.stdout.contains("_volley()"), "{bash:?}");
    for word in ["run", "compare", "check", "completions", "--metrics-addr"] {
        assert!(bash.stdout.contains(word), "bash completion lacks {word}");
    }
    for (shell, marker) in [("zsh", "#compdef volley"), ("fish", "complete -c volley")] {
        let script = ran(&["completions", shell]);
        assert_eq!(script.code, 0, "{script:?}");
        assert!(script.stdout.contains(marker), "{shell}: {script:?}");
        assert!(script.stdout.contains("compare"), "{shell}: {script:?}");
    }
    let unknown = ran(&["completions", "tcsh"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
}

#[test]
fn issue_25_the_man_page_is_roff_for_every_command() {
    let page = ran(&["man"]);
    assert_eq!(page.code, 0, "{page:?}");
    let header = page
        .stdout
        .lines()
        .find(|line| line.starts_with(".TH "))
        .unwrap_or_else(|| panic!("no .TH header: {page:?}"));
    assert!(header.starts_with(".TH volley 1 "), "{header}");
    assert!(page.stdout.contains("volley:scenario@0.3.0"), "{page:?}");
    for command in ["volley\\-run(1)", "volley\\-compare(1)", "volley\\-man(1)"] {
        assert!(page.stdout.contains(command), "no {command}: {page:?}");
    }

    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    let into = folder.path().join("man1");
    let written = ran(&["man", "--dir", &into.display().to_string()]);
    assert_eq!(written.code, 0, "{written:?}");
    for file in [
        "volley.1",
        "volley-run.1",
        "volley-check.1",
        "volley-completions.1",
    ] {
        let text = std::fs::read_to_string(into.join(file)).unwrap_or_default();
        assert!(text.contains(".TH "), "{file} is not a man page");
    }
}

/// `volley check FILE`, which must exit 2 with one line of error.
fn check_error(file: &Path) -> String {
    let checked = ran(&["check", &file.display().to_string()]);
    assert_eq!(checked.code, 2, "{checked:?}");
    checked.stderr
}

/// A scenario file in `folder` whose `module:` is `module`.
fn scenario_in(folder: &Path, module: &str) -> std::path::PathBuf {
    let file = folder.join("scenario.yaml");
    let text = format!(
        "version: 1\nname: first-contact\ntarget: embedded://echo\nmodule: {module}\nload:\n  connections: 1\n  iterations: 1\n"
    );
    if let Err(error) = std::fs::write(&file, text) {
        panic!("cannot write {}: {error}", file.display());
    }
    file
}

#[test]
fn issue_25_a_wrong_module_path_suggests_the_file_that_exists() {
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    let built = folder
        .path()
        .join("target/wasm32-wasip2/release/my_echo.wasm");
    let made = built
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::copy(repo().join("tests/fixtures/echo-0.1.0.wasm"), &built));
    if let Err(error) = made {
        panic!("cannot place {}: {error}", built.display());
    }
    // The crate's name as written in Cargo.toml, beside the YAML: cargo wrote `_` into target/.
    // Then the debug build's path, when only the release build exists.
    for wrong in ["my-echo.wasm", "target/wasm32-wasip2/debug/my_echo.wasm"] {
        let file = scenario_in(folder.path(), wrong);
        let error = check_error(&file);
        let expected = format!(
            "error: {}:4:1: module `{}` not found; `{}` exists: did you mean `module: target/wasm32-wasip2/release/my_echo.wasm`? (written relative to this file)\n",
            file.display(),
            folder.path().join(wrong).display(),
            built.display()
        );
        assert_eq!(error, expected);
    }
    // The suggestion is right: written so, the file checks.
    let file = scenario_in(folder.path(), "target/wasm32-wasip2/release/my_echo.wasm");
    let checked = ran(&["check", &file.display().to_string()]);
    assert_eq!(checked.code, 0, "{checked:?}");
}

#[test]
fn issue_25_a_native_binary_as_module_is_named_as_one() {
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    // The runner itself: a real ELF file.
    let file = scenario_in(folder.path(), env!("CARGO_BIN_EXE_volley"));
    let error = check_error(&file);
    assert!(
        error.contains(&format!(
            "module `{}` is a native ELF binary, not a WebAssembly component: `cargo build --release --target wasm32-wasip2`",
            env!("CARGO_BIN_EXE_volley")
        )),
        "{error}"
    );
}
