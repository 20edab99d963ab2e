//! `volley run --workers N`: one run carried by N worker processes of this same binary on one
//! machine, each `volley run FILE --shard i/N` writing its results and time series to a private
//! temporary folder. This module starts them, forwards SIGINT/SIGTERM (the first signal gives every
//! worker its polite close, the second its hard stop), stops the others when one crosses an abort
//! rule, notices workers that die, and merges what they wrote with `results::merge` into one
//! report, counting a dead worker's connections as failed. Called by `main.rs` instead of
//! [`crate::run()`]; the shard arithmetic lives in `load::shard`, the per-process run in `run.rs`.
//! `serve` does the same for `volley serve --workers N` (SO_REUSEPORT).

pub mod serve;

use crate::load::shard::Shard;
use crate::results::merge::{count_lost_shard, merge};
use crate::results::report::Report;
use std::ffi::OsString;
use std::future::Future;
use std::io::BufRead;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the worker processes run.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    /// How many workers.
    pub count: u32,
    /// The arguments every worker gets after the program name: `run FILE [--target …] [--set …]
    /// [--interval …] [--start-at …]`; `--shard`, `--out`, `--series` and `--no-progress` are added.
    pub run_args: Vec<OsString>,
    /// The whole run's planned connections (a dead worker's share of them counts as failed).
    pub connections: u32,
    /// Write the merged time series here (at the end of the run).
    pub series_file: Option<PathBuf>,
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
    #[error("cannot create {path} for the workers' results: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
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

/// One running worker.
struct Worker {
    index: u32,
    child: Child,
    exited: Option<ExitStatus>,
    results: PathBuf,
}

/// Make a worker process get SIGTERM when this process dies, even by SIGKILL (Linux
/// `PR_SET_PDEATHSIG`), so no worker outlives its parent: it closes politely and exits.
pub(crate) fn die_with_parent(command: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which is
    // async-signal-safe; it allocates nothing and touches no lock.
    #[allow(unsafe_code)] // pre_exec is the one hook between fork and exec
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        })
    }
}

/// Send `signal` to a worker that is still running.
fn signal(worker: &Worker, signal: i32) {
    if worker.exited.is_some() {
        return;
    }
    if let Ok(pid) = i32::try_from(worker.child.id()) {
        // SAFETY: kill(2) on the id of a child we started and have not reaped.
        #[allow(unsafe_code)] // the one way to forward SIGTERM to a child process
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// How a worker ended, in words: `code 2`, `signal 9`.
fn describe(status: Option<ExitStatus>) -> String {
    match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("code {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "status unknown".into(),
        },
        None => "not reaped".into(),
    }
}

/// Copy a worker's stderr to ours, each line prefixed; tell `abort` when it crosses an abort rule.
fn forward_stderr(index: u32, child: &mut Child, abort: tokio::sync::mpsc::UnboundedSender<u32>) {
    let Some(stderr) = child.stderr.take() else {
        return;
    };
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            eprintln!("worker {index}: {line}");
            if line.contains("crossed") && line.contains("stopping the run") {
                let _ = abort.send(index);
            }
        }
    });
}

/// Run `plan.count` workers until they all exit, then merge their results into one report.
pub async fn run_workers(
    plan: &WorkerPlan,
    shutdown: impl Future<Output = ()> + Send + 'static,
    hard_stop: CancellationToken,
) -> Result<Report, WorkerError> {
    let program = std::env::current_exe().map_err(|source| WorkerError::Spawn {
        index: 0,
        program: "volley".into(),
        source,
    })?;
    let folder = std::env::temp_dir().join(format!("volley-workers-{}", std::process::id()));
    std::fs::create_dir_all(&folder).map_err(|source| WorkerError::Folder {
        path: folder.clone(),
        source,
    })?;
    let (abort_tx, mut abort_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut workers = Vec::new();
    for index in 0..plan.count {
        let shard = Shard {
            index,
            count: plan.count,
        };
        let results = folder.join(format!("worker-{index}.json"));
        let spawned = die_with_parent(&mut Command::new(&program))
            .args(&plan.run_args)
            .arg("--shard")
            .arg(shard.to_string())
            .arg("--out")
            .arg(&results)
            .arg("--no-progress")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: a terminal's Ctrl-C reaches only this process, which forwards
            // it once (the terminal's and ours together would be a hard stop).
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(source) => {
                for worker in &mut workers {
                    signal(worker, libc::SIGKILL);
                    let _ = worker.child.wait();
                }
                let _ = std::fs::remove_dir_all(&folder);
                return Err(WorkerError::Spawn {
                    index,
                    program: program.display().to_string(),
                    source,
                });
            }
        };
        eprintln!("volley: worker {index}: pid {}, shard {shard}", child.id());
        forward_stderr(index, &mut child, abort_tx.clone());
        workers.push(Worker {
            index,
            child,
            exited: None,
            results,
        });
    }
    drop(abort_tx);

    let mut shutdown = std::pin::pin!(shutdown);
    let mut interrupted = false;
    let mut hard_stopped = false;
    let mut aborted = false;
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = &mut shutdown, if !interrupted => {
                interrupted = true;
                workers.iter().for_each(|worker| signal(worker, libc::SIGTERM));
            }
            () = hard_stop.cancelled(), if interrupted && !hard_stopped => {
                hard_stopped = true;
                workers.iter().for_each(|worker| signal(worker, libc::SIGTERM));
            }
            Some(index) = abort_rx.recv(), if !aborted => {
                // One worker crossed an abort rule: the run stops everywhere, as in one process.
                aborted = true;
                eprintln!("volley: worker {index} crossed an abort rule; stopping every worker");
                workers
                    .iter()
                    .filter(|worker| worker.index != index)
                    .for_each(|worker| signal(worker, libc::SIGTERM));
            }
            _ = poll.tick() => {}
        }
        for worker in &mut workers {
            if worker.exited.is_none()
                && let Ok(Some(status)) = worker.child.try_wait()
            {
                worker.exited = Some(status);
            }
        }
        if workers.iter().all(|worker| worker.exited.is_some()) {
            break;
        }
    }

    let outcome = collect(plan, &workers);
    let _ = std::fs::remove_dir_all(&folder);
    outcome
}

/// Read what the workers wrote, merge it and count the lost shards.
fn collect(plan: &WorkerPlan, workers: &[Worker]) -> Result<Report, WorkerError> {
    let mut reports = Vec::new();
    let mut lost = Vec::new();
    for worker in workers {
        let ran = matches!(worker.exited.and_then(|status| status.code()), Some(0 | 1));
        match read_report(&worker.results) {
            Some(report) if ran => reports.push(report),
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
    let mut report = merge(reports).map_err(WorkerError::Merge)?;
    for worker in lost {
        let share = Shard {
            index: worker.index,
            count: plan.count,
        }
        .share(plan.connections);
        let how = describe(worker.exited);
        eprintln!(
            "volley: worker {} exited ({how}): its {share} connections are counted as failed",
            worker.index
        );
        count_lost_shard(
            &mut report,
            share,
            &format!("worker: exited ({how}) without results"),
        )
        .map_err(WorkerError::Merge)?;
    }
    if let Some(path) = &plan.series_file {
        write_series(path, &report);
    }
    Ok(report)
}

fn read_report(path: &Path) -> Option<Report> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Write the merged time series to `path` (JSON lines, or CSV for `.csv`).
fn write_series(path: &Path, report: &Report) {
    let written = crate::measure::series::SeriesFile::create(path).and_then(|mut file| {
        report
            .series
            .points
            .iter()
            .try_for_each(|point| file.append(point))
    });
    if let Err(error) = written {
        eprintln!(
            "warning: cannot write the time series to {}: {error}",
            path.display()
        );
    }
}
