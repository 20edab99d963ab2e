//! [`run_search`]: a capacity search (`load.search`) from its first step to one report. Each
//! step is a whole run of the same scenario with a constant load ([`Scenario::search_step`]),
//! run the way `volley run` runs any load: in this process ([`crate::run()`]) or split across
//! `--workers` processes ([`crate::run_workers`], each worker told the step with the hidden
//! `--search-step`). Each step's report is judged by the search's rules; whether the generator
//! limited it is `results::health::generator_limited`; which step comes next is the pure
//! `load::search` planner. Ctrl-C or SIGTERM stops the current step politely and the report
//! still holds the steps so far. The report's figures are those of the highest step that held
//! (the first step when none did), with the `search` section (`results::search`) beside them.
//! Beside `run.rs` and `workers/`, since it wires whole runs; no stage imports it.

use crate::config::Scenario;
use crate::config::search::{Population, RulesFrom, Search};
use crate::load::search::{Conclusion, Next, Steps, Tried};
use crate::results::report::Report;
use crate::results::search::{Ending, SearchReport, SearchResult, SearchStep};
use crate::run::{RunError, RunOptions};
use crate::workers::{WorkerError, WorkerOptions};
use std::future::Future;
use tokio_util::sync::CancellationToken;

/// Where a search runs its steps.
#[derive(Debug, Clone)]
pub enum StepsIn {
    /// In this process, like `volley run`.
    ThisProcess(RunOptions),
    /// Split across worker processes, like `volley run --workers N`.
    Workers(WorkerOptions),
}

/// Why a search could not produce a report (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The scenario has no `load.search`.
    #[error("the scenario file has no `load.search`")]
    NotASearch,
    /// The first step could not run in this process.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The first step could not run in worker processes.
    #[error(transparent)]
    Workers(#[from] WorkerError),
}

/// One step that ran: its load, its judged report and its line in the `search` section.
struct Ran {
    load: f64,
    report: Report,
    step: SearchStep,
}

/// Run the search of `scenario` step by step until it concludes or `shutdown` completes; the
/// report of its steps. Only a first step that cannot run at all is an error; a later one that
/// cannot (an OS limit at a higher load) ends the search with a lower bound.
pub async fn run_search(
    scenario: &Scenario,
    steps_in: &StepsIn,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Report, SearchError> {
    let search = scenario
        .load
        .search
        .as_ref()
        .ok_or(SearchError::NotASearch)?;
    let planner = Steps {
        start: search.start,
        factor: search.factor,
        max: search.max,
        resolution: search.resolution,
        whole: search.population == Population::Connections,
    };
    let interrupted = CancellationToken::new();
    let watcher = {
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            shutdown.await;
            interrupted.cancel();
        })
    };
    let mut ran: Vec<Ran> = Vec::new();
    let mut tried: Vec<Tried> = Vec::new();
    let mut stopped: Option<(f64, String)> = None;
    let conclusion = loop {
        let load = match planner.next(&tried) {
            Next::Run(load) => load,
            Next::Done(conclusion) => break Some(conclusion),
        };
        if interrupted.is_cancelled() {
            break None;
        }
        let Some(step) = scenario.search_step(load) else {
            return Err(SearchError::NotASearch);
        };
        eprintln!(
            "volley: search step {}: {}",
            ran.len() + 1,
            search.describe_load(load)
        );
        let stop = interrupted.clone().cancelled_owned();
        let outcome = match steps_in {
            StepsIn::ThisProcess(options) => crate::run::run(&step, options, stop)
                .await
                .map_err(SearchError::from),
            StepsIn::Workers(options) => {
                let options = WorkerOptions {
                    search_step: Some(load),
                    ..options.clone()
                };
                crate::workers::run_workers(&step, &options, stop)
                    .await
                    .map_err(SearchError::from)
            }
        };
        let mut report = match outcome {
            Ok(report) => report,
            Err(error) if ran.is_empty() => {
                watcher.abort();
                return Err(error);
            }
            Err(error) => {
                stopped = Some((load, format!("the step could not run: {error}")));
                break None;
            }
        };
        report.apply_thresholds(&search.rules);
        let limited = crate::results::health::generator_limited(&report);
        let step = SearchStep::of(load, &report, limited.clone());
        eprintln!(
            "volley: search step {}: {} {}",
            ran.len() + 1,
            search.describe_load(load),
            if step.passed { "held" } else { "broke" }
        );
        let cut_short = report.run.interrupted;
        ran.push(Ran { load, report, step });
        if cut_short {
            // A step cut short is kept in the report but judges nothing.
            break None;
        }
        tried.push(Tried {
            load,
            held: ran.last().is_some_and(|last| last.step.passed),
            saturated: limited.is_some(),
        });
    };
    watcher.abort();
    let result = result(search, &ran, &tried, conclusion, stopped, &interrupted);
    Ok(assemble(search, ran, result, interrupted.is_cancelled()))
}

/// The `search.result` from how the loop ended.
fn result(
    search: &Search,
    ran: &[Ran],
    tried: &[Tried],
    conclusion: Option<Conclusion>,
    stopped: Option<(f64, String)>,
    interrupted: &CancellationToken,
) -> SearchResult {
    let step_at = |load: f64| ran.iter().find(|step| step.load == load).map(|r| &r.step);
    let (held, broke) = Steps::bracket(tried);
    let (ending, why) = match (conclusion, stopped) {
        (Some(Conclusion::Broke { .. }), _) => (Ending::Broke, None),
        (Some(Conclusion::HeldMax { .. }), _) => (Ending::HeldMax, None),
        (Some(Conclusion::NoneHeld { .. }), _) => (Ending::NoneHeld, None),
        (Some(Conclusion::LowerBound { at, .. }), _) => {
            let warning = step_at(at)
                .and_then(|step| step.generator_limited.clone())
                .unwrap_or_default();
            (
                Ending::LowerBound,
                Some(format!(
                    "the generator limited the step at {}, so the server may hold more: {warning}. A search needs a generator with room to spare: add --workers N (or cores, or a quieter machine) and search again",
                    search.describe_load(at)
                )),
            )
        }
        (None, Some((at, error))) => (
            Ending::LowerBound,
            Some(format!(
                "the step at {} could not run ({error}); fix that limit, or add --workers N or machines, and search again",
                search.describe_load(at)
            )),
        ),
        (None, None) => {
            let why = if interrupted.is_cancelled() {
                "Ctrl-C or SIGTERM; the steps so far are below"
            } else {
                "a step was cut short"
            };
            (Ending::Interrupted, Some(why.to_owned()))
        }
    };
    let because = broke.and_then(step_at).and_then(SearchStep::because);
    SearchResult {
        ending,
        held,
        held_p99_us: held
            .and_then(step_at)
            .filter(|step| step.round_trips > 0)
            .map(|step| step.round_trip_p99_us),
        broke,
        observed: because.as_ref().and_then(|(_, observed)| observed.clone()),
        because: because.map(|(rule, _)| rule),
        why,
    }
}

/// The final report: the figures of the highest step that held (else the first step), with the
/// `search` section, judged again so the search's result joins the verdict.
fn assemble(search: &Search, ran: Vec<Ran>, result: SearchResult, interrupted: bool) -> Report {
    let steps: Vec<SearchStep> = ran.iter().map(|step| step.step.clone()).collect();
    let body = ran
        .iter()
        .enumerate()
        .filter(|(_, step)| step.step.passed && !step.step.interrupted)
        .max_by(|(_, a), (_, b)| a.load.total_cmp(&b.load))
        .map_or(0, |(index, _)| index);
    let body = ran.into_iter().nth(body);
    let (figures_of, mut report) = match body {
        Some(body) => (body.load, body.report),
        // Interrupted before the first step ended: an empty report with the section.
        None => (
            search.start,
            Report::build(
                Default::default(),
                Default::default(),
                Default::default(),
                &Default::default(),
                Default::default(),
            ),
        ),
    };
    let shape = std::mem::take(&mut report.run.shape);
    report.run.shape = format!(
        "{}; the figures below are the step at {} ({shape})",
        search.describe(),
        search.describe_load(figures_of)
    );
    report.run.interrupted |= interrupted;
    let mut section = SearchReport {
        population: search.population_name().to_owned(),
        settings: search.describe(),
        rules: search
            .rules
            .iter()
            .map(|rule| rule.expression.clone())
            .collect(),
        rules_from: match search.rules_from {
            RulesFrom::Until => "until",
            RulesFrom::Thresholds => "thresholds",
        }
        .to_owned(),
        steps,
        result,
        figures_of,
        summary: String::new(),
    };
    section.summary = section.sentence();
    report.search = Some(section);
    report.rejudge();
    report
}
