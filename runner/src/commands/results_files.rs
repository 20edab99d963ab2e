//! The commands that read results files (and how they read them, which `compare` shares): `volley report RESULTS -o HTML` renders one, `volley
//! merge SHARDS… -o MERGED` combines the shards of one run (refusing what cannot be one run unless
//! `--partial`). Results files are read with a size limit, so a hostile file cannot exhaust memory.

use crate::cli::{MergeArgs, Outputs, ReportArgs};
use crate::commands::{COULD_NOT_RUN, finish};
use crate::output;
use std::process::ExitCode;
use volley::Report;

/// Largest results file `merge` and `report` read: far above any real run's (a 100,000-connection
/// run writes well under a megabyte), small enough that a hostile file cannot exhaust memory.
const MAX_RESULTS_FILE: u64 = 64 << 20;

/// Read a results file (at most [`MAX_RESULTS_FILE`] bytes), or exit 2 with the error printed.
pub fn read_results(path: &std::path::Path) -> Result<Report, ExitCode> {
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.len() > MAX_RESULTS_FILE
    {
        eprintln!(
            "error: {} is {} bytes; a results file is at most {MAX_RESULTS_FILE} bytes",
            path.display(),
            metadata.len()
        );
        return Err(ExitCode::from(COULD_NOT_RUN));
    }
    let text = std::fs::read_to_string(path).map_err(|error| {
        eprintln!("error: cannot read {}: {error}", path.display());
        ExitCode::from(COULD_NOT_RUN)
    })?;
    serde_json::from_str(&text).map_err(|error| {
        eprintln!(
            "error: {}:{}:{}: not a volley results file: {error}",
            path.display(),
            error.line(),
            error.column()
        );
        ExitCode::from(COULD_NOT_RUN)
    })
}

/// `volley report`: the results file as an HTML page.
pub fn report(args: ReportArgs) -> ExitCode {
    let report = match read_results(&args.results) {
        Ok(report) => report,
        Err(code) => return code,
    };
    match output::write_file(&args.output, &volley::render_html(&report)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

/// `volley merge`: the shards' results as one, written and summarised like a run's.
pub fn merge(args: MergeArgs) -> ExitCode {
    let mut reports = Vec::new();
    for path in &args.results {
        match read_results(path) {
            Ok(report) => reports.push((path.display().to_string(), report)),
            Err(code) => return code,
        }
    }
    let merged = match volley::merge(reports, args.partial) {
        Ok(merged) => merged,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let outputs = Outputs {
        out: Some(args.output),
        html: args.html,
        junit: args.junit,
    };
    finish(&merged, &outputs, true)
}
