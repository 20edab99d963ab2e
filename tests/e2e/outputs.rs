//! What the binary writes and prints: results files before the summary (a closed stdout loses
//! nothing) and targets shown without their secrets unless `--show-secrets`.

use crate::support::{build_scenarios, collect, volley};
use std::process::Stdio;

/// Temporary paths for `--out`, `--html` and `--junit`, in one folder that is removed at the end.
fn output_paths() -> (tempfile::TempDir, [std::path::PathBuf; 3]) {
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    let paths = ["r.json", "r.html", "r.xml"].map(|name| folder.path().join(name));
    (folder, paths)
}

fn read(path: &std::path::Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => panic!("{} was not written: {error}", path.display()),
    }
}

#[test]
fn issue_12_results_files_are_written_before_a_closed_stdout() {
    build_scenarios();
    let (_folder, [json, html, junit]) = output_paths();
    let mut child = match volley()
        .args([
            "run",
            "tests/cases/echo-exact/scenario.yaml",
            "--no-progress",
        ])
        .arg("--out")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .arg("--junit")
        .arg(&junit)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    // Close the reading end at once, like `| head -0`: every write to stdout fails with EPIPE.
    drop(child.stdout.take());
    let output = match child.wait_with_output() {
        Ok(output) => output,
        Err(error) => panic!("volley did not finish: {error}"),
    };
    let ran = collect(output, Some(&json));
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stderr.contains("cannot write the summary to stdout"),
        "{ran:?}"
    );
    assert!(!ran.stderr.contains("panicked"), "{ran:?}");
    let results = crate::support::results(&ran);
    assert_eq!(results["verdict"]["passed"], true, "{results:#}");
    assert!(
        read(&html).contains("<html"),
        "the HTML report is incomplete"
    );
    assert!(
        read(&junit).contains("</testsuites>"),
        "the JUnit file is incomplete"
    );
}

#[test]
fn issue_12_a_token_in_the_target_is_hidden_in_every_output_unless_shown() {
    build_scenarios();
    const TOKEN: &str = "s3cr3t-4f9a";
    for show in [false, true] {
        let (_folder, [json, html, junit]) = output_paths();
        let mut command = volley();
        command
            .args([
                "run",
                "tests/cases/secret-target/scenario.yaml",
                "--no-progress",
            ])
            .env("VOLLEY_TEST_TOKEN", TOKEN)
            .arg("--out")
            .arg(&json)
            .arg("--html")
            .arg(&html)
            .arg("--junit")
            .arg(&junit);
        if show {
            command.arg("--show-secrets");
        }
        let ran = match command.output() {
            Ok(output) => collect(output, Some(&json)),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(ran.code, 0, "{ran:?}");
        let target = crate::support::results(&ran)["scenario"]["target"].to_string();
        let outputs = [ran.stdout.clone(), read(&json), read(&html), read(&junit)];
        if show {
            assert!(target.contains(TOKEN), "{target}");
        } else {
            assert!(
                target.contains("token=…") && target.contains("room=…"),
                "{target}"
            );
            for (name, text) in ["summary", "JSON", "HTML", "JUnit"].iter().zip(&outputs) {
                assert!(!text.contains(TOKEN), "the {name} shows the token");
            }
        }
    }
}

#[test]
fn issue_21_tokens_in_a_data_row_and_in_the_target_stay_hidden_even_in_a_url_failure() {
    build_scenarios();
    const TARGET_TOKEN: &str = "t4rget-s3cr3t";
    const ROW_TOKEN: &str = "row-s3cr3t";
    let (_folder, [json, html, junit]) = output_paths();
    let ran = match volley()
        .args([
            "run",
            "tests/cases/secret-data/scenario.yaml",
            "--no-progress",
        ])
        .env("VOLLEY_TEST_TOKEN", TARGET_TOKEN)
        .arg("--out")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .arg("--junit")
        .arg(&junit)
        .output()
    {
        Ok(output) => collect(output, Some(&json)),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 1, "{ran:?}");
    let connections = &crate::support::results(&ran)["connections"];
    assert_eq!(
        connections["failed_by_reason"]["url: invalid URL"], 1,
        "row 2's URL is not a URL: {connections:#}"
    );
    let example = connections["examples"]["url: invalid URL"].to_string();
    assert!(
        example.contains("VU 1") && example.contains("data row 2"),
        "the example says where to look instead: {example}"
    );
    let outputs = [
        ("summary", ran.stdout.clone()),
        ("stderr", ran.stderr.clone()),
        ("JSON", read(&json)),
        ("HTML", read(&html)),
        ("JUnit", read(&junit)),
    ];
    for (name, text) in &outputs {
        for token in [TARGET_TOKEN, ROW_TOKEN] {
            assert!(!text.contains(token), "the {name} shows {token}: {text}");
        }
    }

    // A config error shows the target as the outputs do: the token in its query hidden.
    let bad_port = format!("ws://h:99999/x?token={TARGET_TOKEN}");
    let checked = match volley()
        .args(["check", "tests/cases/secret-data/scenario.yaml", "--target"])
        .arg(&bad_port)
        .env("VOLLEY_TEST_TOKEN", TARGET_TOKEN)
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(checked.code, 2, "{checked:?}");
    assert!(
        checked
            .stderr
            .contains("--target ws://h:99999/x?token=…: not a URL"),
        "{checked:?}"
    );
    assert!(!checked.stderr.contains(TARGET_TOKEN), "{checked:?}");
}

#[test]
fn issue_21_results_files_are_not_written_through_a_symlink_at_their_temporary_name() {
    build_scenarios();
    let (folder, paths) = output_paths();
    let victim = folder.path().join("victim.txt");
    if let Err(error) = std::fs::write(&victim, "keep me") {
        panic!("cannot write {}: {error}", victim.display());
    }
    for path in &paths {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        if let Err(error) = std::os::unix::fs::symlink(&victim, &temporary) {
            panic!("cannot plant a symlink: {error}");
        }
    }
    let [json, html, junit] = &paths;
    let ran = match volley()
        .args([
            "run",
            "tests/cases/echo-exact/scenario.yaml",
            "--no-progress",
        ])
        .arg("--out")
        .arg(json)
        .arg("--html")
        .arg(html)
        .arg("--junit")
        .arg(junit)
        .output()
    {
        Ok(output) => collect(output, Some(json)),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        read(&victim),
        "keep me",
        "a results file went through the symlink"
    );
    for path in &paths {
        let is_file = std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.is_file());
        assert!(is_file, "{} is a plain file", path.display());
    }
    assert!(read(html).contains("<html") && read(junit).contains("</testsuites>"));
    assert_eq!(crate::support::results(&ran)["verdict"]["passed"], true);
}

#[test]
fn issue_22_the_compression_setting_and_wire_figures_reach_the_results_and_the_summary() {
    use crate::support::{number, results, run_case};
    let setting = |ran: &crate::support::Ran| {
        results(ran)
            .pointer("/compression/setting")
            .and_then(|value| value.as_str())
            .map(str::to_owned)
    };
    let off = run_case("echo-exact", &[]);
    assert_eq!(off.code, 0, "{off:?}");
    assert_eq!(setting(&off).as_deref(), Some("off"), "{off:?}");
    assert!(!off.stdout.contains("compression"), "{off:?}");
    // Present (counted by the connection layer), whatever their value.
    let _ = number(results(&off), "/messages/wire_bytes_sent");
    let _ = number(results(&off), "/messages/compressed_received");

    let asked = "{deflate: {level: 1, client_no_context_takeover: true}}";
    let deflate = run_case(
        "echo-exact",
        &["--set", &format!("net.compression={asked}")],
    );
    assert_eq!(deflate.code, 0, "{deflate:?}");
    assert_eq!(number(results(&deflate), "/messages/received"), 100);
    assert_eq!(
        setting(&deflate).as_deref(),
        Some("deflate client_no_context_takeover level=1"),
        "{deflate:?}"
    );
    assert!(
        deflate.stdout.lines().any(|line| line.starts_with(
            "  compression      deflate client_no_context_takeover level=1, negotiated on "
        )),
        "{deflate:?}"
    );
}
