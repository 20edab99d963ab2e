//! `volley run --workers N`: one run carried by N worker processes of this same binary on one
//! machine, shown and reported as one. [`run_workers`] picks the count (`auto`: enough for the
//! open-file limit), starts the workers (`process`: each `volley run FILE --shard i/N --feed`,
//! results to a private temporary folder), and while they run keeps the sum of their live feeds
//! (`feed`, `live`) behind the one progress line, the one `--metrics-addr` endpoint and the one
//! `--series` file, appended row by row as the workers report. It forwards SIGINT/SIGTERM (the
//! first signal gives every worker its polite close, the second its hard stop), stops the others
//! when one says on its feed that it crossed an abort rule, notices workers that die, and at the
//! end merges their results files with `results::merge` into one report (every worker has the
//! parent's run id), counting a dead worker's connections as failed and its shard as missing.
//! Called by `main.rs` instead of [`crate::run()`]; the shard arithmetic lives in `load::shard`,
//! the per-process run in `run.rs` (which writes the feed with [`feed::tap`] when told `--feed`).
//! `serve` does the same for `volley serve --workers N` (SO_REUSEPORT).

pub(crate) mod feed;
pub(crate) mod live;
mod process;
mod scratch;
pub mod serve;

use crate::config::{Overrides, Scenario};
use crate::load::shard::Shard;
use crate::measure::series::SeriesFile;
use crate::render::openmetrics::{MetricsEndpoint, Source};
use crate::results::merge::{count_lost_shard, merge};
use crate::results::report::Report;
use live::Live;
use process::{Event, Worker, describe, ran, signal};
use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// How many worker processes (`--workers N|auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerCount {
    /// This many.
    Count(u32),
    /// The fewest whose open-file limits hold the connections (`load::limits::workers_for`).
    Auto,
}

/// What a run with workers needs besides the scenario.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// How many workers.
    pub count: WorkerCount,
    /// `--target` and `--set`, given again to every worker.
    pub overrides: Overrides,
    /// `--show-secrets`, given to every worker.
    pub show_secrets: bool,
    /// Seconds per time-series point, in every worker (and so per live update).
    pub interval: Duration,
    /// `--start-at`, given to every worker.
    pub start_at: Option<SystemTime>,
    /// `--run-id`, given to every worker; `None`: a new one, the same for all of them.
    pub run_id: Option<String>,
    /// Append the summed time series here as the workers report it.
    pub series_file: Option<PathBuf>,
    /// Serve the workers' summed live metrics here (the workers serve none).
    pub metrics_addr: Option<SocketAddr>,
    /// Show one progress line with the summed figures (when stderr is a terminal).
    pub progress: bool,
    /// Cancelled after `shutdown` (a second Ctrl-C): every worker gets its hard stop.
    pub hard_stop: CancellationToken,
    /// The load of a capacity search's step (`search.rs`): every worker runs that step of the
    /// file's `load.search` (`--search-step`) instead of the file's load.
    pub search_step: Option<f64>,
}

/// Why a run with workers could not produce a report (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// This binary could not be found or started again.
    #[error("cannot start worker {index} ({program}): {source}")]
    Spawn {
        /// Which worker.
        index: u32,
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The temporary folder for the workers' results.
    #[error("cannot create a folder in {path} for the workers' results: {source}")]
    Folder {
        /// Where the folder was to be made.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The time-series file could not be created.
    #[error("cannot write the time series to {path}: {source}")]
    Series {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The metrics endpoint could not listen.
    #[error("cannot serve metrics on {address}: {source}")]
    Metrics {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// No worker wrote results.
    #[error("no worker wrote results (every one exited: {0}); see their lines above")]
    NoResults(String),
    /// The results could not be merged.
    #[error("cannot merge the workers' results: {0}")]
    Merge(String),
}

/// How long the parent waits, after the last worker exited, for the rest of their feeds.
const FEED_DRAIN: Duration = Duration::from_secs(5);

fn lock(live: &Mutex<Live>) -> MutexGuard<'_, Live> {
    match live.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// How many workers `count` means for `scenario` (printing why, for `auto`).
fn worker_count(scenario: &Scenario, count: WorkerCount) -> u32 {
    match count {
        WorkerCount::Count(count) => count.max(1),
        WorkerCount::Auto => {
            let (soft, _) = crate::load::limits::raise_open_files();
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
            let embedded = matches!(scenario.target, crate::config::Target::Embedded { .. });
            let connections = u64::from(scenario.connections());
            let (count, why) = crate::load::limits::workers_for(connections, embedded, soft, cores);
            eprintln!("volley: --workers auto: {count} workers: {why}");
            count
        }
    }
}

/// The arguments every worker gets after the program name: `run FILE [--target …] [--set …]
/// [--show-secrets] --interval … [--start-at …] --run-id ID [--search-step LOAD]`; `process::start` adds `--out`,
/// `--no-progress` and `--feed`, [`run_workers`] the `--shard`.
fn worker_args(scenario: &Scenario, options: &WorkerOptions, run_id: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["run".into(), scenario.file.clone().into()];
    if let Some(target) = &options.overrides.target {
        args.extend(["--target".into(), target.into()]);
    }
    for (key, value) in &options.overrides.sets {
        args.extend(["--set".into(), format!("{key}={value}").into()]);
    }
    if options.show_secrets {
        args.push("--show-secrets".into());
    }
    args.extend([
        "--interval".into(),
        format!("{}ms", options.interval.as_millis()).into(),
    ]);
    if let Some(at) = options.start_at {
        let unix = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        args.extend(["--start-at".into(), format!("{unix:.3}").into()]);
    }
    args.extend(["--run-id".into(), run_id.into()]);
    if let Some(load) = options.search_step {
        args.extend(["--search-step".into(), load.to_string().into()]);
    }
    args
}

/// Run `scenario` in worker processes until they all exit, then merge their results into one
/// report. `shutdown` (Ctrl-C, SIGTERM) stops them politely, `options.hard_stop` at once.
pub async fn run_workers(
    scenario: &Scenario,
    options: &WorkerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Report, WorkerError> {
    let count = worker_count(scenario, options.count);
    let connections = scenario.connections();
    let program = std::env::current_exe().map_err(|source| WorkerError::Spawn {
        index: 0,
        program: "volley".into(),
        source,
    })?;
    let series = match &options.series_file {
        Some(path) => Some(
            SeriesFile::create_with(path, &scenario.metrics.kinds).map_err(|source| {
                WorkerError::Series {
                    path: path.clone(),
                    source,
                }
            })?,
        ),
        None => None,
    };
    // The live figures are kept per worker and population: each feeds its own lines.
    let populations = u32::try_from(scenario.populations.len().max(1)).unwrap_or(1);
    let source = move |worker: u32, population: u32| worker * populations + population;
    let live = Arc::new(Mutex::new(Live::new(
        count * populations,
        options.interval.as_secs_f64(),
        series,
    )));
    let endpoint = match options.metrics_addr {
        Some(address) => {
            let sum = live.clone();
            let source: Source = Arc::new(move || {
                let live = lock(&sum);
                crate::render::openmetrics::render(&live.counters(), &live.totals())
            });
            let endpoint = MetricsEndpoint::start(address, source)
                .await
                .map_err(|source| WorkerError::Metrics { address, source })?;
            eprintln!(
                "volley: live metrics on http://{}/metrics (the sum over the workers)",
                endpoint.address()
            );
            Some(endpoint)
        }
        None => None,
    };
    let folder = scratch::fresh_private_folder(&std::env::temp_dir()).map_err(|source| {
        WorkerError::Folder {
            path: std::env::temp_dir(),
            source,
        }
    })?;
    eprintln!("volley: running {connections} connections in {count} worker processes");
    let run_id = options
        .run_id
        .clone()
        .unwrap_or_else(crate::load::shard::new_run_id);
    let args = worker_args(scenario, options, &run_id);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut workers: Vec<Worker> = Vec::new();
    for index in 0..count {
        let shard = Shard { index, count };
        let mut worker_args = args.clone();
        worker_args.extend(["--shard".into(), shard.to_string().into()]);
        let results = folder.join(format!("worker-{index}.json"));
        match process::start(&program, index, worker_args, results, &events_tx) {
            Ok(worker) => {
                eprintln!(
                    "volley: worker {index}: pid {}, shard {shard}",
                    worker.child.id()
                );
                workers.push(worker);
            }
            Err(source) => {
                for worker in &mut workers {
                    signal(worker, libc::SIGKILL);
                    let _ = worker.child.wait();
                }
                let _ = std::fs::remove_dir_all(&folder);
                if let Some(endpoint) = endpoint {
                    endpoint.stop().await;
                }
                return Err(WorkerError::Spawn {
                    index,
                    program: program.display().to_string(),
                    source,
                });
            }
        }
    }
    drop(events_tx);

    let progress_done = CancellationToken::new();
    let progress = if options.progress {
        let sum = live.clone();
        crate::render::progress::start(
            move || lock(&sum).counters(),
            connections,
            progress_done.clone(),
        )
    } else {
        None
    };

    let mut shutdown = std::pin::pin!(shutdown);
    let mut interrupted = false;
    let mut hard_stopped = false;
    let mut aborted = false;
    let mut feeds_open = count;
    let mut all_exited: Option<Instant> = None;
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = &mut shutdown, if !interrupted => {
                interrupted = true;
                workers.iter().for_each(|worker| signal(worker, libc::SIGTERM));
            }
            () = options.hard_stop.cancelled(), if interrupted && !hard_stopped => {
                hard_stopped = true;
                workers.iter().for_each(|worker| signal(worker, libc::SIGTERM));
            }
            Some(event) = events.recv() => match event {
                Event::Feed(index, snapshot) => {
                    let population = snapshot.population.min(populations - 1);
                    lock(&live).update(source(index, population), *snapshot);
                }
                Event::FeedClosed(index) => {
                    feeds_open = feeds_open.saturating_sub(1);
                    let mut live = lock(&live);
                    (0..populations).for_each(|population| live.ended(source(index, population)));
                }
                Event::Aborted(index, rule) if !aborted => {
                    // One worker crossed an abort rule: the run stops everywhere, as in one process.
                    aborted = true;
                    eprintln!(
                        "volley: worker {index} crossed the abort rule `{rule}`; stopping every worker"
                    );
                    workers
                        .iter()
                        .filter(|worker| worker.index != index)
                        .for_each(|worker| signal(worker, libc::SIGTERM));
                }
                Event::Aborted(..) => {}
            },
            _ = poll.tick() => {}
        }
        for worker in &mut workers {
            if worker.exited.is_none()
                && let Ok(Some(status)) = worker.child.try_wait()
            {
                worker.exited = Some(status);
                if !ran(worker.exited) {
                    let mut live = lock(&live);
                    (0..populations)
                        .for_each(|population| live.died(source(worker.index, population)));
                }
            }
        }
        if workers.iter().all(|worker| worker.exited.is_some()) {
            let since = *all_exited.get_or_insert_with(Instant::now);
            // Every worker has exited; their last feed lines may still be in the pipes.
            if feeds_open == 0 || since.elapsed() > FEED_DRAIN {
                break;
            }
        }
    }
    progress_done.cancel();
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    if let Some(endpoint) = endpoint {
        endpoint.stop().await;
    }

    let outcome = collect(count, connections, &workers);
    let _ = std::fs::remove_dir_all(&folder);
    outcome
}

/// Read what the workers wrote, merge it and count the lost shards.
fn collect(count: u32, connections: u32, workers: &[Worker]) -> Result<Report, WorkerError> {
    let mut reports = Vec::new();
    let mut lost = Vec::new();
    for worker in workers {
        match read_report(&worker.results) {
            Some(report) if ran(worker.exited) => {
                reports.push((format!("worker {}'s results", worker.index), report));
            }
            _ => lost.push(worker),
        }
    }
    if reports.is_empty() {
        let how: Vec<String> = workers
            .iter()
            .map(|worker| format!("worker {} {}", worker.index, describe(worker.exited)))
            .collect();
        return Err(WorkerError::NoResults(how.join(", ")));
    }
    // A worker without results is counted below, as a missing shard.
    let mut report = merge(reports, true).map_err(|error| WorkerError::Merge(error.to_string()))?;
    for worker in lost {
        let share = Shard {
            index: worker.index,
            count,
        }
        .share(connections);
        let how = describe(worker.exited);
        eprintln!(
            "volley: worker {} exited ({how}): its {share} connections are counted as failed",
            worker.index
        );
        count_lost_shard(
            &mut report,
            worker.index,
            share,
            &format!("worker: exited ({how}) without results"),
        )
        .map_err(WorkerError::Merge)?;
    }
    Ok(report)
}

fn read_report(path: &Path) -> Option<Report> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}
