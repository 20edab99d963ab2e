//! `volley check FILE`: validate the scenario file and its module without connecting: the
//! interface the module speaks, its digest (for `module_sha256:`), and one trial instance opened
//! as a connection's would be (its memory, and whether `on_open` traps for VU 0).

use crate::cli::FileArgs;
use crate::commands::{COULD_NOT_RUN, load, warn};
use std::process::ExitCode;

/// Check the scenario of `args`; 0 when it would run, 2 when it could not.
pub fn check(args: FileArgs) -> ExitCode {
    let scenario = match load(&args) {
        Ok(scenario) => scenario,
        Err(code) => return code,
    };
    warn(&args, &scenario);
    if scenario.populations.is_empty() {
        return check_one(&scenario, &args);
    }
    println!(
        "ok: {} ({}): {} populations, {} connections in all",
        scenario.file.display(),
        scenario.name,
        scenario.populations.len(),
        scenario.connections()
    );
    for population in &scenario.populations {
        println!(
            "population {} (starts {}):",
            population.name,
            population.start.describe()
        );
        let code = check_one(&population.scenario, &args);
        if code != ExitCode::SUCCESS {
            return code;
        }
    }
    ExitCode::SUCCESS
}

/// Check one scenario (a file's, or one population's) and say what it is.
fn check_one(scenario: &volley::Scenario, args: &FileArgs) -> ExitCode {
    if let Some(flow) = &scenario.flow {
        // Compiled by the load above; nothing else to link or instantiate.
        println!(
            "ok: {} ({}): a flow of {} step{}, run by the runner itself; target {}; {} connections",
            scenario.file.display(),
            scenario.name,
            flow.steps,
            if flow.steps == 1 { "" } else { "s" },
            scenario.target.shown(args.show_secrets),
            scenario.load.connections
        );
        return ExitCode::SUCCESS;
    }
    match volley::check_module(scenario) {
        Ok((interface, digest, trial)) => {
            if let Some(trap) = &trial.trap {
                eprintln!(
                    "error: on_open trapped for VU 0 (iteration 0, first data row): {trap}; every connection like it would fail"
                );
                return ExitCode::from(COULD_NOT_RUN);
            }
            println!(
                "ok: {} ({}): module {} speaks {}; target {}; {} connections",
                scenario.file.display(),
                scenario.name,
                scenario.module.display(),
                interface,
                scenario.target.shown(args.show_secrets),
                scenario.load.connections
            );
            let pinned = if scenario.module_sha256.is_some() {
                "pinned by module_sha256"
            } else {
                "pin it with `module_sha256:` in the file"
            };
            println!("module digest: {digest} ({pinned})");
            println!(
                "one instance: linear memory {}, {} of it touched by instantiation and on_open; instantiated in {}, on_open took {} and queued {} message{}",
                volley::human_bytes(trial.memory as u64),
                volley::human_bytes(trial.touched as u64),
                volley::human_micros(trial.instantiate.as_secs_f64() * 1e6),
                volley::human_micros(trial.open.as_secs_f64() * 1e6),
                trial.queued,
                if trial.queued == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}
