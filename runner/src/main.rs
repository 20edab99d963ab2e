//! The `volley` binary: parse flags (`cli`), start the async runtime and hand the subcommand to its
//! file in `commands/` (run, check, serve, report, merge, new, compare, kubernetes, import, completions,
//! man; test-module outside the runtime), which returns the exit code: 0
//! (passed), 1 (a check, deadline, connection, scenario or threshold failed) or 2 (could not run).
//! Signals are `signals`, files written `output`; all logic lives in the library.

mod cli;
mod commands;
mod output;
mod signals;

use clap::FromArgMatches;
use cli::{Cli, Command};
use commands::COULD_NOT_RUN;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Parsed from `cli::command()` rather than `Cli::parse()`, so `--version` names the interfaces.
    let cli = match Cli::from_arg_matches(&cli::command().get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    // A test binary runs on this thread, outside the async runtime: WASI's synchronous host
    // functions start their own.
    let command = match cli.command {
        Command::TestModule(args) => return commands::test_module::test_module(args),
        command => command,
    };
    // One core to run on (CPU affinity or a cgroup quota of one): a current-thread runtime, which
    // does the same work without a multi-thread scheduler's cross-thread bookkeeping.
    let one_core = std::thread::available_parallelism().is_ok_and(|cores| cores.get() == 1);
    let mut builder = if one_core {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    // The command runs as a task on the runtime's workers, not on this thread inside `block_on`:
    // a run's driver awaits every VU, and waking a thread outside the pool costs a futex call and a
    // context switch per connection (W3 in docs/benchmarks.md).
    let command = runtime.spawn(async move {
        match command {
            Command::Run(args) => commands::run::run(args).await,
            Command::Check(args) => commands::check::check(args),
            Command::Serve(args) => commands::serve::serve(args).await,
            Command::Report(args) => commands::results_files::report(args),
            Command::Merge(args) => commands::results_files::merge(args),
            Command::New(args) => commands::new::new(args),
            Command::Kubernetes(args) => commands::kubernetes::kubernetes(args),
            Command::Import(args) => commands::import::import(args),
            Command::Compare(args) => commands::compare::compare(args),
            Command::TestModule(args) => commands::test_module::test_module(args),
            Command::Completions(args) => commands::completions::completions(args),
            Command::Man(args) => commands::man::man(args),
        }
    });
    runtime.block_on(command).unwrap_or_else(|error| {
        eprintln!("error: volley stopped unexpectedly: {error}");
        ExitCode::from(COULD_NOT_RUN)
    })
}
