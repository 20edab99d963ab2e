//! Shared helpers: build the scenario modules once, run the real `volley` binary from the
//! repository root, and read its JSON results.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

/// The repository root (tests run the binary from here, so paths in messages are stable).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Build `scenarios/` for wasm32-wasip2 once per test process.
pub fn build_scenarios() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let result = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .args(["build", "--release", "--quiet"])
            .current_dir(repo().join("scenarios"))
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .map_err(|error| format!("cannot run cargo: {error}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "building scenarios/ failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`):\n{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

/// What a `volley` process did.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub results: Option<Value>,
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The `volley` binary under test.
pub fn volley() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_volley"));
    command.current_dir(repo());
    command
}

/// The `volley` binary under test, allowed one CPU (`taskset -c 0`, util-linux): the runner then
/// uses a current-thread runtime.
pub fn volley_on_one_core() -> Command {
    let mut command = Command::new("taskset");
    command
        .args(["-c", "0"])
        .arg(env!("CARGO_BIN_EXE_volley"))
        .current_dir(repo());
    command
}

/// Collect a finished process and its `--out` file.
pub fn collect(output: Output, results: Option<&Path>) -> Ran {
    let results = results
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str(&text).ok());
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        results,
    }
}

/// `volley run tests/cases/<case>/scenario.yaml --out <tmp> --no-progress <extra…>`.
pub fn run_case(case: &str, extra: &[&str]) -> Ran {
    run_case_with_env(case, &[], extra)
}

/// [`run_case`] with environment variables `env` set for volley.
pub fn run_case_with_env(case: &str, env: &[(&str, &Path)], extra: &[&str]) -> Ran {
    run_case_using(volley(), case, env, extra)
}

/// [`run_case_with_env`] with `launcher` (a `volley` command) instead of [`volley`].
pub fn run_case_using(
    mut launcher: Command,
    case: &str,
    env: &[(&str, &Path)],
    extra: &[&str],
) -> Ran {
    build_scenarios();
    let out = tempfile::NamedTempFile::new().map_or_else(
        |_| std::env::temp_dir().join(format!("volley-{case}.json")),
        |file| file.into_temp_path().to_path_buf(),
    );
    let _ = std::fs::remove_file(&out);
    let file = format!("tests/cases/{case}/scenario.yaml");
    let output = launcher
        .args(["run", &file, "--no-progress", "--out"])
        .arg(&out)
        .args(extra)
        .envs(env.iter().copied())
        .output();
    match output {
        Ok(output) => {
            let ran = collect(output, Some(&out));
            let _ = std::fs::remove_file(&out);
            ran
        }
        Err(error) => panic!("cannot start volley ({launcher:?}): {error}"),
    }
}

/// A number at a JSON pointer, or a panic naming the pointer and the document.
pub fn number(results: &Value, pointer: &str) -> u64 {
    match results.pointer(pointer).and_then(Value::as_u64) {
        Some(value) => value,
        None => panic!("no number at {pointer} in {results:#}"),
    }
}

/// The results of a run that must have written them.
pub fn results(ran: &Ran) -> &Value {
    match &ran.results {
        Some(results) => results,
        None => panic!("no results file written: {ran:?}"),
    }
}

/// Wait until the JSON-lines time series at `path` has a point for which `reached` holds (a
/// condition of the run, such as every connection open), or panic after `limit`.
pub fn wait_for_series_point(path: &Path, reached: impl Fn(&Value) -> bool, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .any(|point| reached(&point))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{} had no point meeting the condition within {limit:?}",
        path.display()
    );
}

/// Render the HTML report `html` in headless Chromium with `tests/browser/check_report.sh`
/// (saving a screenshot to `shot`) and fail the test unless it rendered with at least
/// `min_charts` charts with data and an element for each id in `expect_ids`.
pub fn check_report_in_browser(html: &Path, shot: &Path, min_charts: usize, expect_ids: &[&str]) {
    let checked = Command::new("bash")
        .arg(repo().join("tests/browser/check_report.sh"))
        .arg(html)
        .arg(shot)
        .env("MIN_CHARTS", min_charts.to_string())
        .env("EXPECT_IDS", expect_ids.join(" "))
        .output();
    let output = match checked {
        Ok(output) => output,
        Err(error) => panic!("cannot run the browser check: {error}"),
    };
    assert!(
        output.status.success(),
        "headless Chromium check failed (apt-get install -y chromium if it is missing):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Run `volley ARGS…` to the end (no results file).
pub fn volley_args(args: &[&str]) -> Ran {
    match volley().args(args).output() {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    }
}
