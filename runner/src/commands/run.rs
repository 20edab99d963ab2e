//! `volley run FILE`: load the scenario, run it (in this process, or in `--workers N` processes)
//! with Ctrl-C or SIGTERM as the polite shutdown and a second one as the hard stop, then write the
//! results files and print the summary. With `--baseline` (or the file's `baseline:`) the results
//! are judged against that earlier run's by the file's `regressions:` before anything is written.
//! A file with `load.search` runs a capacity search instead (`run_search`: steps in this process
//! or across `--workers`; `--shard` is refused, since one parent drives the search), and a worker
//! of such a search runs the one step it is given (`--search-step`, hidden). The run itself is the
//! library's `run` / `run_workers` / `run_search`.

use crate::cli::RunArgs;
use crate::commands::results_files::read_results;
use crate::commands::{COULD_NOT_RUN, finish, load, overrides, warn};
use crate::signals;
use std::process::ExitCode;
use volley::{Baseline, RunOptions, Scenario};

/// Run the scenario of `args`; the verdict's exit code.
pub async fn run(args: RunArgs) -> ExitCode {
    let scenario = match load(&args.file) {
        Ok(scenario) => scenario,
        Err(code) => return code,
    };
    if !args.feed {
        warn(&args.file, &scenario);
    }
    let scenario = match search_step(&args, scenario) {
        Ok(scenario) => scenario,
        Err(code) => return code,
    };
    let search = scenario.load.search.is_some();
    if search && let Some(shard) = args.shard {
        eprintln!(
            "error: --shard {shard} cannot split the capacity search of {}: a search is driven by one parent process that picks each step from the last one's result. Use --workers N to split every step across processes, or run it without --shard",
            args.file.file.display()
        );
        return ExitCode::from(COULD_NOT_RUN);
    }
    if search && args.series.is_some() {
        eprintln!(
            "warning: --series is not written during a search (each step is a run of its own); the results file holds the series of the step whose figures it reports"
        );
    }
    let baseline = match baseline(&args, &scenario) {
        Ok(baseline) => baseline,
        Err(code) => return code,
    };
    let mut interrupts = match signals::Interrupts::install() {
        Ok(interrupts) => interrupts,
        Err(error) => {
            eprintln!("error: cannot handle SIGINT and SIGTERM: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let hard_stop = tokio_util::sync::CancellationToken::new();
    let second = hard_stop.clone();
    let shutdown = async move {
        let Some(first) = interrupts.next().await else {
            return std::future::pending::<()>().await;
        };
        eprintln!(
            "\nvolley: interrupted ({first}); closing connections and writing the report (Ctrl-C or SIGTERM again to skip the polite close)…"
        );
        tokio::spawn(async move {
            if interrupts.next().await.is_some() {
                eprintln!("volley: closing at once");
                second.cancel();
            }
        });
    };
    if let Some(shard) = args.shard
        && shard.count > 1
        && args.run_id.is_none()
    {
        eprintln!(
            "error: --shard {shard} needs --run-id ID (or VOLLEY_RUN_ID), the same for every shard of the run, so `volley merge` can tell its shards from another run's (e.g. --run-id nightly-$(date +%F))"
        );
        return ExitCode::from(COULD_NOT_RUN);
    }
    if let Some(count) = args.workers {
        let options = volley::WorkerOptions {
            count,
            overrides: overrides(&args.file),
            show_secrets: args.file.show_secrets,
            interval: args.interval,
            start_at: args.start_at,
            run_id: args.run_id.clone(),
            series_file: args.series.clone(),
            metrics_addr: args.metrics_addr,
            progress: !args.no_progress,
            hard_stop,
            search_step: None,
        };
        if search {
            let options = volley::WorkerOptions {
                series_file: None,
                ..options
            };
            let steps_in = volley::StepsIn::Workers(options);
            return finish_search(&args, &scenario, baseline.as_ref(), &steps_in, shutdown).await;
        }
        return match volley::run_workers(&scenario, &options, shutdown).await {
            Ok(mut report) => {
                volley::judge_regressions(&mut report, &scenario, baseline.as_ref());
                finish(&report, &args.outputs, true)
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(COULD_NOT_RUN)
            }
        };
    }
    let options = RunOptions {
        progress: !args.no_progress,
        interval: args.interval,
        series_file: args.series.clone(),
        metrics_addr: args.metrics_addr,
        hard_stop: Some(hard_stop),
        show_secrets: args.file.show_secrets,
        shard: args.shard.unwrap_or_default(),
        start_at: args.start_at,
        feed: args.feed,
        run_id: args.run_id.clone(),
        population: None,
    };
    if search {
        let options = RunOptions {
            series_file: None,
            ..options
        };
        let steps_in = volley::StepsIn::ThisProcess(options);
        return finish_search(&args, &scenario, baseline.as_ref(), &steps_in, shutdown).await;
    }
    let mut report = match volley::run(&scenario, &options, shutdown).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    // A worker's results are merged and judged by its parent, which holds the baseline.
    if !args.feed {
        volley::judge_regressions(&mut report, &scenario, baseline.as_ref());
    }
    // A worker's stdout is its parent's feed: no summary there.
    finish(&report, &args.outputs, !args.feed)
}

/// With the hidden `--search-step LOAD` (a worker of a search with `--workers`): the scenario of
/// that step of the file's search. Otherwise the scenario as loaded.
fn search_step(args: &RunArgs, scenario: Scenario) -> Result<Scenario, ExitCode> {
    let Some(load) = args.search_step else {
        return Ok(scenario);
    };
    scenario.search_step(load).ok_or_else(|| {
        eprintln!(
            "error: --search-step {load}: {} has no `load.search`",
            args.file.file.display()
        );
        ExitCode::from(COULD_NOT_RUN)
    })
}

/// Run the file's capacity search with its steps in `steps_in`, judge its regressions (if any)
/// on the final report, write the results and print the summary; the verdict's exit code.
async fn finish_search(
    args: &RunArgs,
    scenario: &Scenario,
    baseline: Option<&Baseline>,
    steps_in: &volley::StepsIn,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> ExitCode {
    match volley::run_search(scenario, steps_in, shutdown).await {
        Ok(mut report) => {
            volley::judge_regressions(&mut report, scenario, baseline);
            finish(&report, &args.outputs, true)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

/// The baseline the file's `regressions:` are judged against: `--baseline`, else the file's
/// `baseline:`; read, and checked against the rules, before the run (exit 2 when it is not a
/// results file or lacks a rule's figure). None for a worker, and when the file has no rules
/// (a warning says the baseline is unused).
fn baseline(args: &RunArgs, scenario: &Scenario) -> Result<Option<Baseline>, ExitCode> {
    let Some(path) = args.baseline.as_ref().or(scenario.baseline.as_ref()) else {
        return Ok(None);
    };
    if args.feed {
        return Ok(None);
    }
    if scenario.regressions.is_empty() {
        eprintln!(
            "warning: the baseline {} is unused: {} has no `regressions:` rules to judge against it",
            path.display(),
            scenario.file.display()
        );
        return Ok(None);
    }
    let report = read_results(path)?;
    let baseline = Baseline {
        file: path.display().to_string(),
        report,
    };
    volley::check_baseline(scenario, &baseline).map_err(|error| {
        eprintln!("error: {error}");
        ExitCode::from(COULD_NOT_RUN)
    })?;
    Ok(Some(baseline))
}
