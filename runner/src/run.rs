//! [`run`]: one scenario file from start to report. Preflight the OS limits, load the module, start
//! the embedded server if the target asks for it, ramp virtual users up at an even pace, hold, then
//! stop: every connection closes politely and the run drains (bounded by `load.close_timeout`).
//! `shutdown` (Ctrl-C in the binary, a channel in tests) does the same early and the report is
//! still produced. Connections live in `vu`/`conn`; rendering in `report`/`summary`.

use crate::config::{Scenario, Target};
use crate::engine::{InstanceLimits, ModuleError, ScenarioEngine};
use crate::host::RunFacts;
use crate::limits::{LimitError, preflight};
use crate::net::{Connector, ConnectorSettings};
use crate::plan::Plan;
use crate::report::{CounterValues, ProcessStats, Report, RunInfo, ScenarioInfo};
use crate::series::{Sampler, Series, SeriesFile};
use crate::server::EmbeddedServer;
use crate::shape::{Shape, Stage, arrival_gap, stage_target};
use crate::stats::{Collector, bump};
use crate::thresholds::Threshold;
use std::collections::BTreeMap;
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
    /// DNS or TLS could not be configured.
    #[error("cannot set up the network: {0}")]
    Network(String),
    /// The time-series file could not be created.
    #[error("cannot write the time series to {path}: {source}")]
    Series {
        /// The file.
        path: std::path::PathBuf,
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
}

/// Options that are not part of the scenario file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Show the live progress line (it still switches off when stderr is not a terminal).
    pub progress: bool,
    /// Seconds per time-series point.
    pub interval: Duration,
    /// Append each time-series point to this file as the run goes (`.csv` for CSV, else JSON lines).
    pub series_file: Option<std::path::PathBuf>,
    /// Serve live OpenMetrics on this address during the run.
    pub metrics_addr: Option<SocketAddr>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            progress: false,
            interval: Duration::from_secs(1),
            series_file: None,
            metrics_addr: None,
        }
    }
}

/// Run `scenario` until it finishes or `shutdown` completes, and report.
pub async fn run(
    scenario: &Scenario,
    options: &RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Report, RunError> {
    let embedded = matches!(scenario.target, Target::Embedded { .. });
    let connections = scenario.load.connections.get();
    let limits = preflight(
        u64::from(connections),
        embedded,
        scenario.net.source_addresses.len() as u64,
    )?;
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
    let series_file =
        match &options.series_file {
            Some(path) => Some(crate::series::SeriesFile::create(path).map_err(|source| {
                RunError::Series {
                    path: path.clone(),
                    source,
                }
            })?),
            None => None,
        };
    if scenario.tls.insecure_skip_verify {
        eprintln!(
            "warning: tls.insecure_skip_verify is on: server certificates are NOT verified; never use this against production"
        );
    }
    let connector = Connector::new(ConnectorSettings {
        nameservers: &scenario.net.nameservers,
        tls: &scenario.tls,
        timeouts: scenario.net.timeouts,
        max_message_size: scenario.limits.max_message_size,
        headers: scenario.headers.clone(),
        subprotocols: scenario.subprotocols.clone(),
        source_addresses: scenario.net.source_addresses.clone(),
    })
    .map_err(RunError::Network)?;
    let collector = Arc::new(Collector::default());
    let metrics_endpoint = match options.metrics_addr {
        Some(address) => Some(
            crate::metrics_endpoint::MetricsEndpoint::start(address, collector.clone())
                .await
                .map_err(|source| RunError::Metrics { address, source })?,
        ),
        None => None,
    };
    let started = Instant::now();
    let started_at_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let plan = Arc::new(Plan {
        engine,
        connector,
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
        net: scenario.net.clone(),
        pacing: crate::pacing::Pacing::new(
            scenario.net.max_handshakes_in_flight.get(),
            scenario.net.max_connect_rate,
        ),
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

    let sampler_done = CancellationToken::new();
    let sampler = tokio::spawn(sample_series(
        collector.clone(),
        scenario
            .thresholds
            .iter()
            .filter(|t| t.abort)
            .cloned()
            .collect(),
        SeriesContext {
            started,
            interval: options.interval,
            stop: stop.clone(),
            done: sampler_done.clone(),
        },
        series_file,
    ));

    let mut vus = JoinSet::new();
    match &scenario.load.shape {
        Shape::Constant => ramp(&plan, &stop, &mut vus, started).await,
        Shape::Stages(stages) => follow_stages(&plan, stages, &stop, &mut vus, started).await,
        Shape::ArrivalRate { per_second, max } => {
            arrive(&plan, *per_second, max.get(), &stop, &mut vus, started).await
        }
    }
    hold_and_drain(&plan, &stop, &mut vus, started).await;

    stop.cancel();
    let _ = watcher.await;
    sampler_done.cancel();
    let (series, aborted_by) = sampler.await.unwrap_or_default();
    if let Some(endpoint) = metrics_endpoint {
        endpoint.stop().await;
    }
    progress_done.cancel();
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    if let Some(server) = server {
        server.stop(Duration::from_secs(2)).await;
    }

    let values = CounterValues {
        dns_queries: plan.connector.dns_queries(),
        ..CounterValues::read(&collector.counters)
    };
    let load = &scenario.load;
    let mut report = Report::build(
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
            shape: describe_shape(load),
            aborted_by,
            merged_runs: 1,
        },
        values,
        &collector.snapshot(),
        ProcessStats::read(limits.open_files),
    );
    report.series = series;
    report.apply_thresholds(&scenario.thresholds);
    Ok(report)
}

/// The load shape in words, for the summary.
pub fn describe_shape(load: &crate::config::Load) -> String {
    use crate::report::human_duration;
    match &load.shape {
        Shape::Constant => {
            let hold = match (load.duration, load.iterations) {
                (Some(duration), Some(iterations)) => format!(
                    "hold {} or {iterations} iterations",
                    human_duration(duration)
                ),
                (Some(duration), None) => format!("hold {}", human_duration(duration)),
                (None, Some(iterations)) => format!("{iterations} iterations each"),
                (None, None) => String::new(),
            };
            format!(
                "constant {} connections, ramp {}, {hold}",
                load.connections,
                human_duration(load.ramp_up)
            )
        }
        Shape::Stages(stages) => {
            let mut from = 0;
            let steps: Vec<String> = stages
                .iter()
                .map(|stage| {
                    let step = format!(
                        "{from}→{} over {}",
                        stage.target,
                        human_duration(stage.duration)
                    );
                    from = stage.target;
                    step
                })
                .collect();
            format!("stages {}", steps.join(", "))
        }
        Shape::ArrivalRate { per_second, max } => format!(
            "arrival rate {per_second}/s for {}, at most {max} open",
            human_duration(load.duration.unwrap_or_default())
        ),
    }
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
        vus.spawn(crate::vu::run_vu(plan.clone(), vu, 0, stop.clone()));
    }
}

/// Keep the number of running VUs at the stage target: start VUs (lowest free index first) when
/// it rises, stop the highest-indexed ones (politely) when it falls.
async fn follow_stages(
    plan: &Arc<Plan>,
    stages: &[Stage],
    stop: &CancellationToken,
    vus: &mut JoinSet<()>,
    started: Instant,
) {
    let mut running: BTreeMap<u32, CancellationToken> = BTreeMap::new();
    let finished = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let end = started + crate::shape::stages_duration(stages);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Ok(mut done) = finished.lock() {
            for vu in done.drain(..) {
                running.remove(&vu);
            }
        }
        let now = Instant::now();
        if now >= end {
            return;
        }
        let wanted = stage_target(stages, now - started).round() as usize;
        while running.len() < wanted {
            let vu = (0..)
                .find(|index| !running.contains_key(index))
                .unwrap_or(0);
            let own = stop.child_token();
            running.insert(vu, own.clone());
            let (plan, finished) = (plan.clone(), finished.clone());
            vus.spawn(async move {
                crate::vu::run_vu(plan, vu, 0, own).await;
                if let Ok(mut done) = finished.lock() {
                    done.push(vu);
                }
            });
        }
        while running.len() > wanted {
            if let Some((_, own)) = running.pop_last() {
                own.cancel();
            }
        }
    }
}

/// Open model: start one single-iteration VU every `1 / per_second`, unless `max` are open, in
/// which case the arrival is dropped and counted.
async fn arrive(
    plan: &Arc<Plan>,
    per_second: f64,
    max: u32,
    stop: &CancellationToken,
    vus: &mut JoinSet<()>,
    started: Instant,
) {
    let Some(duration) = plan.load.duration else {
        return;
    };
    let end = started + duration;
    let gap = arrival_gap(per_second);
    let busy = Arc::new(std::sync::Mutex::new(vec![false; max as usize]));
    let mut arrival: u64 = 0;
    loop {
        let at = started + gap.mul_f64(arrival as f64);
        if at >= end {
            return;
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = sleep_until(at.into()) => {}
        }
        arrival += 1;
        let free = busy.lock().ok().and_then(|mut slots| {
            let index = slots.iter().position(|taken| !taken)?;
            slots[index] = true;
            Some(index as u32)
        });
        let Some(vu) = free else {
            bump(&plan.collector.counters.dropped_arrivals, 1);
            continue;
        };
        let (plan, busy, stop) = (plan.clone(), busy.clone(), stop.clone());
        let first_iteration = u32::try_from(arrival).unwrap_or(u32::MAX);
        vus.spawn(async move {
            crate::vu::run_vu(plan, vu, first_iteration, stop).await;
            if let Ok(mut slots) = busy.lock() {
                slots[vu as usize] = false;
            }
        });
    }
}

/// What the sampling task needs besides the collector.
struct SeriesContext {
    started: Instant,
    interval: Duration,
    stop: CancellationToken,
    done: CancellationToken,
}

/// Every interval: take a time-series point, append it to the file, and check the abort
/// thresholds against the results so far (stopping the run when one is crossed). Returns the
/// series and the crossed rule, if any.
async fn sample_series(
    collector: Arc<Collector>,
    abort_rules: Vec<Threshold>,
    context: SeriesContext,
    mut file: Option<SeriesFile>,
) -> (Series, Option<String>) {
    let mut sampler = Sampler::default();
    let mut series = Series {
        interval_s: context.interval.as_secs_f64(),
        points: Vec::new(),
    };
    let mut aborted_by = None;
    let mut next = context.started + context.interval;
    loop {
        let last = tokio::select! {
            _ = context.done.cancelled() => true,
            _ = sleep_until(next.into()) => false,
        };
        let point = sampler.sample(&collector, context.started.elapsed().as_secs_f64());
        if let Some(writer) = &mut file
            && let Err(error) = writer.append(&point)
        {
            eprintln!(
                "warning: cannot append to {}: {error}; the time series goes on in memory",
                writer.path().display()
            );
            file = None;
        }
        series.points.push(point);
        if last {
            return (series, aborted_by);
        }
        next += context.interval;
        if aborted_by.is_none() && !abort_rules.is_empty() {
            let provisional = provisional_report(&collector);
            if let Some(crossed) = abort_rules
                .iter()
                .map(|rule| rule.evaluate(&provisional))
                .find(|outcome| !outcome.passed && !outcome.actual.starts_with("no data"))
            {
                eprintln!(
                    "volley: threshold `{}` crossed (actual {}); stopping the run",
                    crossed.expression, crossed.actual
                );
                aborted_by = Some(crossed.expression);
                context.stop.cancel();
            }
        }
    }
}

/// The results so far, for abort thresholds.
fn provisional_report(collector: &Collector) -> Report {
    let empty_info = ScenarioInfo {
        name: String::new(),
        file: String::new(),
        target: String::new(),
        module: String::new(),
        seed: 0,
    };
    let run = RunInfo {
        started_at_unix_s: 0,
        elapsed_s: 0.0,
        connections: 0,
        ramp_up_s: 0.0,
        duration_s: None,
        iterations: None,
        interrupted: false,
        shape: String::new(),
        aborted_by: None,
        merged_runs: 1,
    };
    Report::build(
        empty_info,
        run,
        CounterValues::read(&collector.counters),
        &collector.snapshot(),
        ProcessStats::default(),
    )
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
