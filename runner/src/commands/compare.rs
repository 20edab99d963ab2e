//! `volley compare BASE NEW [--json OUT] [--html OUT]`: read two results files (as `report` and
//! `merge` read them), compare them, write the requested files, print the table. Exit 0 whatever
//! the figures say (judging a change is for regression rules); 2 when a file cannot be read or
//! written. The comparison itself lives in the library (`results::compare`).

use crate::cli::CompareArgs;
use crate::commands::COULD_NOT_RUN;
use crate::commands::results_files::read_results;
use crate::output;
use std::process::ExitCode;

/// `volley compare`.
pub fn compare(args: CompareArgs) -> ExitCode {
    let base = match read_results(&args.base) {
        Ok(report) => report,
        Err(code) => return code,
    };
    let new = match read_results(&args.new) {
        Ok(report) => report,
        Err(code) => return code,
    };
    let comparison = volley::compare(
        &args.base.display().to_string(),
        &base,
        &args.new.display().to_string(),
        &new,
    );
    let mut failed = false;
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&comparison)
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
        if let Err(error) = output::write_file(path, &json) {
            eprintln!("error: {error}");
            failed = true;
        }
    }
    if let Some(path) = &args.html {
        let page = volley::render_compare_html(&comparison, &base, &new);
        if let Err(error) = output::write_file(path, &page) {
            eprintln!("error: {error}");
            failed = true;
        }
    }
    output::print_stdout(&volley::render_compare(&comparison));
    if failed {
        ExitCode::from(COULD_NOT_RUN)
    } else {
        ExitCode::SUCCESS
    }
}
