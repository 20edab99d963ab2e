//! Data rows and per-connection headers (issue 10): a server that records each upgrade's
//! `Authorization` and `X-Vu` headers and each connection's first message sees every VU's own row
//! from a CSV or JSONL file, in the header and in `ctx.var` alike; `data_order: unique` never
//! repeats a row and reports the VUs it stopped; a malformed data file names its line and column.

use crate::servers::{Upgrade, Upgrades, listener, recording_headers, runtime};
use crate::support::{
    Ran, check_report_in_browser, collect, number, repo, results, run_case, volley,
};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The `say` column of tests/cases/data-tokens/users.csv, row by row.
const TOKENS: [&str; 6] = ["tok-a1", "tok-b2", "tok-c3", "tok-d4", "tok-e5", "tok-f6"];

/// Run the data-tokens case against a recording server with `sets`; what it ran and what it saw.
fn run_tokens(sets: &[&str]) -> (Ran, Vec<Upgrade>) {
    run_tokens_with(sets, &[])
}

/// [`run_tokens`] with `extra` command-line arguments.
fn run_tokens_with(sets: &[&str], extra: &[&str]) -> (Ran, Vec<Upgrade>) {
    let runtime = runtime();
    let seen = Upgrades::default();
    let port = runtime.block_on(async {
        let listener = listener(Ipv4Addr::LOCALHOST).await;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        tokio::spawn(recording_headers(listener, seen.clone()));
        port
    });
    let target = format!("ws://127.0.0.1:{port}/");
    let mut args = vec!["--target", target.as_str()];
    for set in sets {
        args.extend(["--set", *set]);
    }
    args.extend(extra);
    let ran = run_case("data-tokens", &args);
    let seen = seen.lock().map(|seen| seen.clone()).unwrap_or_default();
    (ran, seen)
}

/// Each connection's VU (from `X-Vu`), the token in its header, and what `ctx.var("say")` said.
fn by_vu(seen: &[Upgrade]) -> Vec<(u32, String, String)> {
    let mut rows: Vec<(u32, String, String)> = seen
        .iter()
        .map(|upgrade| {
            let vu = upgrade.vu.as_deref().and_then(|vu| vu.parse().ok());
            let token = upgrade
                .authorization
                .as_deref()
                .and_then(|value| value.strip_prefix("Bearer "));
            match (vu, token, &upgrade.first_message) {
                (Some(vu), Some(token), Some(said)) => (vu, token.to_owned(), said.clone()),
                _ => panic!("incomplete connection record: {upgrade:?}"),
            }
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn issue_10_each_vu_sends_its_own_token_from_a_csv_file() {
    let (ran, seen) = run_tokens(&[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let expected: Vec<(u32, String, String)> = TOKENS
        .iter()
        .enumerate()
        .map(|(vu, token)| (vu as u32, (*token).to_owned(), (*token).to_owned()))
        .collect();
    assert_eq!(
        by_vu(&seen),
        expected,
        "VU i: row i in the header and in ctx.var"
    );
    let results = results(&ran);
    assert_eq!(
        results["data"]["source"],
        "tests/cases/data-tokens/users.csv"
    );
    assert_eq!(number(results, "/data/rows"), 6);
    assert_eq!(results["data"]["order"], "per_vu");
    assert_eq!(number(results, "/data/exhausted"), 0);
}

#[test]
fn issue_10_a_jsonl_file_works_like_a_csv_file() {
    let (ran, seen) = run_tokens(&["data=users.jsonl", "data_order=per_iteration"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let rows = by_vu(&seen);
    assert_eq!(rows.len(), 6, "{rows:?}");
    for (_, token, said) in &rows {
        assert_eq!(token, said, "header and ctx.var read the same row");
    }
    let tokens: BTreeSet<&str> = rows.iter().map(|(_, token, _)| token.as_str()).collect();
    let expected: BTreeSet<String> = TOKENS.iter().map(|token| format!("j{token}")).collect();
    assert_eq!(
        tokens,
        expected
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<&str>>(),
        "6 connections, 6 rows, each taken once"
    );
}

#[test]
fn issue_10_unique_never_repeats_a_row_and_reports_exhaustion() {
    // 4 VUs that would each run 10 iterations share 6 rows: 6 connections, then every VU stops.
    let html = std::env::temp_dir().join(format!("volley-{}-exhausted.html", std::process::id()));
    let html_arg = html.display().to_string();
    let (ran, seen) = run_tokens_with(
        &[
            "data_order=unique",
            "load.connections=4",
            "load.iterations=10",
        ],
        &["--html", &html_arg],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let rows = by_vu(&seen);
    let tokens: BTreeSet<&str> = rows.iter().map(|(_, token, _)| token.as_str()).collect();
    assert_eq!(rows.len(), 6, "one connection per row: {rows:?}");
    assert_eq!(
        tokens,
        TOKENS.into_iter().collect(),
        "no row twice: {rows:?}"
    );
    for (_, token, said) in &rows {
        assert_eq!(token, said, "header and ctx.var read the same row");
    }
    let results = results(&ran);
    assert_eq!(number(results, "/data/exhausted"), 4, "every VU ran out");
    assert_eq!(number(results, "/connections/failed"), 0);
    assert!(
        ran.stdout
            .contains("data exhausted 4 (data_order: unique used all 6 rows"),
        "{ran:?}"
    );
    // The HTML report says so too, in its header (rendered by headless Chromium).
    let shot = repo().join("target/report-exhausted.png");
    check_report_in_browser(&html, &shot, 0, &["data-exhausted"]);
    let _ = std::fs::remove_file(html);
}

#[test]
fn issue_10_a_ragged_csv_row_names_the_data_file_line_and_column() {
    let file = "tests/cases/data-bad-csv/scenario.yaml";
    let expected =
        std::fs::read_to_string(repo().join("tests/cases/data-bad-csv/expected-error.txt"))
            .unwrap_or_else(|error| panic!("missing golden file: {error}"));
    let ran = match volley().args(["check", file]).output() {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 2, "{ran:?}");
    assert_eq!(ran.stderr, expected, "{ran:?}");
}

#[test]
fn issue_10_an_unknown_var_in_a_header_is_a_load_time_error_at_its_line() {
    let ran = match volley()
        .args([
            "check",
            "tests/cases/data-tokens/scenario.yaml",
            "--set",
            "headers.Authorization=Bearer {var.nope}",
        ])
        .output()
    {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("tests/cases/data-tokens/scenario.yaml:10:3: header `Authorization`: `{var.nope}`: no var `nope` in vars or data"),
        "{ran:?}"
    );
}
