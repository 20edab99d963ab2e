//! The `volley` subcommands, one file each: `run`, `check`, `serve`, `report` and `merge` (the
//! commands that read results files), `new`, `compare`, `kubernetes`, `import`, `test-module`, `completions`
//! and `man` (generated from `cli::command`). Each takes its parsed flags (`cli`) and returns the
//! exit code; what they share lives here: loading the scenario file with `--target` and `--set`,
//! and finishing a run or a merge (results files first, then the summary). All logic lives in the
//! library; these only call it and print.

pub mod check;
pub mod compare;
pub mod completions;
pub mod import;
pub mod kubernetes;
pub mod man;
pub mod new;
pub mod results_files;
pub mod run;
pub mod serve;
pub mod test_module;

use crate::cli::{FileArgs, Outputs};
use crate::output;
use std::process::ExitCode;
use volley::{Overrides, Report, Scenario};

/// The exit code of a command that could not run (usage, config, module, environment).
pub const COULD_NOT_RUN: u8 = 2;

/// `--target` and `--set` of the command line.
pub fn overrides(args: &FileArgs) -> Overrides {
    Overrides {
        target: args.target.clone(),
        sets: args.sets.clone(),
    }
}

/// The scenario file with its overrides, or exit 2 with the error printed.
pub fn load(args: &FileArgs) -> Result<Scenario, ExitCode> {
    Scenario::load(&args.file, &overrides(args)).map_err(|error| {
        eprintln!("error: {error}");
        ExitCode::from(COULD_NOT_RUN)
    })
}

/// Print what the file may have wrong without being refused (`Scenario::warnings`), once: by
/// `volley check` and the `volley run` a person started, not by each of its `--workers`.
pub fn warn(args: &FileArgs, scenario: &Scenario) {
    for warning in &scenario.warnings {
        eprintln!("warning: {}: {warning}", args.file.display());
    }
}

/// Results files first (so nothing printed can lose them), then the summary (unless `summary` is
/// false); the exit code is the verdict's, or 2 when a results file could not be written.
pub fn finish(report: &Report, outputs: &Outputs, summary: bool) -> ExitCode {
    let written = output::write_outputs(report, outputs);
    if summary {
        output::print_stdout(&volley::render_summary(report));
    }
    match written {
        Ok(()) => ExitCode::from(report.verdict.exit_code as u8),
        Err(errors) => {
            for error in errors {
                eprintln!("error: {error}");
            }
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}
