//! [`run`]: one scenario file from start to report. Preflight the OS limits, load the module, start
//! the embedded server if the target asks for it, ramp virtual users up at an even pace, hold, then
//! stop: every connection closes politely and the run drains (bounded by `load.close_timeout`).
//! `shutdown` (Ctrl-C in the binary, a channel in tests) does the same early and the report is
//! still produced. Connections live in `vu`/`conn`; rendering in `report`/`summary`.

use crate::config::{Scenario, Target};
use crate::engine::{InstanceLimits, ModuleError, ScenarioEngine};
use crate::host::RunFacts;
use crate::limits::{LimitError, preflight};
use crate::net::{Connector, default_tls};
use crate::plan::Plan;
use crate::report::{CounterValues, ProcessStats, Report, RunInfo, ScenarioInfo};
use crate::server::EmbeddedServer;
use crate::stats::{Collector, read};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

/// Why a run could not start (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An OS limit is too low for the planned run.
    #[error(transparent)]
    Limits(#[from] LimitError),
    /// The scenario module is missing or broken.
    #[error(transparent)]
    Module(#[from] ModuleError),
    /// The embedded server could not start.
    #[error("cannot start the embedded server: {0}")]
    Server(std::io::Error),
    /// TLS could not be configured.
    #[error("cannot configure TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// Options that are not part of the scenario file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show the live progress line (it still switches off when stderr is not a terminal).
    pub progress: bool,
}

/// Run `scenario` until it finishes or `shutdown` completes, and report.
pub async fn run(
    scenario: &Scenario,
    options: &RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Report, RunError> {
    let embedded = matches!(scenario.target, Target::Embedded { .. });
    let connections = scenario.load.connections.get();
    let limits = preflight(u64::from(connections), embedded)?;
    let engine = ScenarioEngine::load(
        &scenario.module,
        InstanceLimits {
            callback_time: scenario.limits.callback_time,
            memory: scenario.limits.memory,
        },
    )?;
    let server = match &scenario.target {
        Target::Embedded { mode, .. } => Some(
            EmbeddedServer::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), *mode)
                .await
                .map_err(RunError::Server)?,
        ),
        Target::Remote(_) => None,
    };
    let url_template = match (&scenario.target, &server) {
        (Target::Embedded { path, .. }, Some(server)) => format!("ws://{}{path}", server.address()),
        (Target::Embedded { path, .. }, None) => format!("ws://127.0.0.1{path}"),
        (Target::Remote(template), _) => template.clone(),
    };
    let collector = Arc::new(Collector::default());
    let started = Instant::now();
    let started_at_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let plan = Arc::new(Plan {
        engine,
        connector: Connector::new(
            default_tls()?,
            scenario.limits.max_message_size,
            scenario.headers.clone(),
            scenario.subprotocols.clone(),
        ),
        facts: Arc::new(RunFacts {
            started,
            vars: scenario.vars.clone(),
            data: scenario.data.clone(),
            seed: scenario.seed,
        }),
        collector: collector.clone(),
        url_template,
        load: scenario.load.clone(),
        memory: scenario.limits.memory,
    });

    let stop = CancellationToken::new();
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown => {
                    interrupted.store(true, Ordering::Relaxed);
                    stop.cancel();
                }
                _ = stop.cancelled() => {}
            }
        })
    };
    let progress_done = CancellationToken::new();
    let progress = if options.progress {
        crate::progress::start(collector.clone(), connections, progress_done.clone())
    } else {
        None
    };

    let mut vus = JoinSet::new();
    ramp(&plan, &stop, &mut vus, started).await;
    hold_and_drain(&plan, &stop, &mut vus, started).await;

    stop.cancel();
    let _ = watcher.await;
    progress_done.cancel();
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    if let Some(server) = server {
        server.stop(Duration::from_secs(2)).await;
    }

    let counters = &collector.counters;
    let values = CounterValues {
        attempted: read(&counters.attempted),
        established: read(&counters.established),
        failed: read(&counters.failed),
        closed_by_server: read(&counters.closed_by_server),
        peak_open: read(&counters.peak_open),
        messages_sent: read(&counters.messages_sent),
        messages_received: read(&counters.messages_received),
        bytes_sent: read(&counters.bytes_sent),
        bytes_received: read(&counters.bytes_received),
        reply_timeouts: read(&counters.reply_timeouts),
    };
    let load = &scenario.load;
    Ok(Report::build(
        ScenarioInfo {
            name: scenario.name.clone(),
            file: scenario.file.display().to_string(),
            target: scenario.target.describe(),
            module: scenario.module.display().to_string(),
            seed: scenario.seed,
        },
        RunInfo {
            started_at_unix_s,
            elapsed_s: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            connections,
            ramp_up_s: load.ramp_up.as_secs_f64(),
            duration_s: load.duration.map(|duration| duration.as_secs_f64()),
            iterations: load.iterations.map(|count| count.get()),
            interrupted: interrupted.load(Ordering::Relaxed),
        },
        values,
        &collector.snapshot(),
        ProcessStats::read(limits.open_files),
    ))
}

/// Start VU `i` at `started + ramp_up × i / connections`, unless the run stops first.
async fn ramp(plan: &Arc<Plan>, stop: &CancellationToken, vus: &mut JoinSet<()>, started: Instant) {
    let connections = plan.load.connections.get();
    for vu in 0..connections {
        let offset = plan
            .load
            .ramp_up
            .mul_f64(f64::from(vu) / f64::from(connections));
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = sleep_until((started + offset).into()) => {}
        }
        vus.spawn(crate::vu::run_vu(plan.clone(), vu, stop.clone()));
    }
}

/// Wait for the VUs: until all finished, the duration ended, or the run was stopped; then give
/// them `close_timeout` (+1 s) to close politely and abort whatever is left.
async fn hold_and_drain(
    plan: &Arc<Plan>,
    stop: &CancellationToken,
    vus: &mut JoinSet<()>,
    started: Instant,
) {
    let end = plan
        .load
        .duration
        .map(|duration| started + plan.load.ramp_up + duration);
    let mut drain_deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            joined = vus.join_next() => match joined {
                None => return,
                Some(Err(error)) if error.is_panic() => {
                    // A runner bug: count it where the user will see it instead of losing the VU.
                    let mut recorder = crate::recorder::Recorder::new(0, plan.collector.clone());
                    recorder.failure("runner: internal error (a virtual user's task panicked)");
                }
                Some(_) => {}
            },
            _ = sleep_until(end.unwrap_or_else(Instant::now).into()), if end.is_some() && drain_deadline.is_none() => {
                stop.cancel();
            }
            _ = stop.cancelled(), if drain_deadline.is_none() => {
                drain_deadline = Some(Instant::now() + plan.load.close_timeout + Duration::from_secs(1));
            }
            _ = sleep_until(drain_deadline.unwrap_or_else(Instant::now).into()), if drain_deadline.is_some() => {
                vus.abort_all();
                while vus.join_next().await.is_some() {}
                return;
            }
        }
    }
}
