//! [`run`]: one scenario file from start to report, the one place that wires the stages together.
//! Preflight the OS limits (`load::limits`), compile the module (`scenario`), start the embedded
//! server if the target asks for it (`devserver`), build the shared plan, start the live views
//! (`render::progress`, `render::openmetrics`) and the sampler (`measure::sampling`), drive the load
//! shape (`load::drive`), then stop: every connection says goodbye and closes politely and the run
//! drains (bounded by `load.goodbye_timeout` + `load.close_timeout` + 1 s, `Load::drain`).
//! `shutdown` (Ctrl-C in the binary, a channel in tests) does the same early and the report is
//! still produced (`results`); `hard_stop` (a second Ctrl-C) skips the goodbyes and the polite
//! drain. With `options.shard` the process carries only its shard of the load (`load::shard`),
//! and `options.start_at` makes it wait for a wall-clock time first. No stage imports this file.

use crate::config::Shape;
use crate::config::{Scenario, Target};
use crate::connection::connect::{Connector, ConnectorSettings};
use crate::devserver::in_process::InProcessServer;
use crate::load::limits::{
    LimitError, Sources, on_loopback, preflight, time_wait_settings, time_wait_warning,
};
use crate::load::plan::Plan;
use crate::load::shard::Shard;
use crate::measure::collector::Collector;
use crate::measure::counters::CounterValues;
use crate::measure::process::{Baseline, ProcessStats};
use crate::results::report::{Report, RunInfo, ScenarioInfo};
use crate::scenario::engine::{InstanceLimits, ModuleError, ScenarioEngine};
use crate::scenario::host::RunFacts;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;
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
    /// When cancelled after `shutdown`, stop waiting for polite closes (a second Ctrl-C).
    pub hard_stop: Option<CancellationToken>,
    /// Show query values and passwords of the target in the report (`--show-secrets`).
    pub show_secrets: bool,
    /// The part of the load this process carries (`--shard I/N`); `Shard::WHOLE` by default.
    pub shard: Shard,
    /// Start the load at this wall-clock time (`--start-at`), after compiling the module.
    pub start_at: Option<SystemTime>,
    /// Write every time-series point with the live figures as a JSON line on stdout, for the
    /// parent of a `--workers` run (`workers::feed`; the hidden flag `--feed`).
    pub feed: bool,
    /// The run's id (`--run-id`), the same in every shard of one run; `None`: a new one.
    pub run_id: Option<String>,
    /// Set by `populations` for each population's run: what it shares with the others.
    pub population: Option<crate::populations::Link>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            progress: false,
            interval: Duration::from_secs(1),
            series_file: None,
            metrics_addr: None,
            hard_stop: None,
            show_secrets: false,
            shard: Shard::WHOLE,
            start_at: None,
            feed: false,
            run_id: None,
            population: None,
        }
    }
}

/// Run `scenario` until it finishes or `shutdown` completes, and report. A file with
/// `populations:` runs them side by side (`populations`) and reports them together.
pub async fn run(
    scenario: &Scenario,
    options: &RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Report, RunError> {
    if scenario.populations.is_empty() {
        run_one(scenario, options, shutdown).await
    } else {
        crate::populations::run_populations(scenario, options, shutdown).await
    }
}

/// Run one population: [`run`] without `populations:`.
pub(crate) async fn run_one(
    scenario: &Scenario,
    options: &RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Report, RunError> {
    let link = options.population.as_ref();
    let embedded = matches!(scenario.target, Target::Embedded { .. });
    let shard = options.shard;
    let connections = shard.share(scenario.load.connections.get());
    let source_addresses = shard.source_addresses(&scenario.net.source_addresses);
    let sources = Sources::of_shard(
        shard.index,
        shard.count,
        scenario.net.source_addresses.len(),
        source_addresses.len(),
    );
    let limits = preflight(u64::from(connections), embedded, sources)?;
    if let (Shape::ArrivalRate { rate, .. }, Some(ports)) =
        (&scenario.load.shape, limits.ports_per_destination)
    {
        let (tw_reuse, timestamps) = time_wait_settings();
        let warning = time_wait_warning(
            rate.peak() / f64::from(shard.count.max(1)),
            u64::from(connections),
            ports,
            match &scenario.target {
                Target::Embedded { .. } => true,
                Target::Remote(template) => on_loopback(template),
            },
            tw_reuse,
            timestamps,
        );
        if let Some(warning) = warning {
            eprintln!("warning: {warning}");
        }
    }
    let engine = ScenarioEngine::for_scenario(
        scenario,
        InstanceLimits {
            callback_time: scenario.limits.callback_time,
            memory: scenario.limits.memory,
        },
    )?;
    let module_sha256 = engine.module_digest().hex().to_owned();
    let interface = engine.interface();
    // The run's CPU and peak memory count from here (the module is compiled).
    let baseline = Baseline::now();
    // Populations share one embedded server per mode (a chat room holds all of them).
    let shared_server = link.and_then(|link| link.embedded_server);
    let server = match (&scenario.target, shared_server) {
        (Target::Embedded { mode, .. }, None) => Some(
            InProcessServer::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), *mode)
                .await
                .map_err(RunError::Server)?,
        ),
        _ => None,
    };
    let url_template = match (&scenario.target, &server, shared_server) {
        (Target::Embedded { path, .. }, Some(server), _) => {
            format!("ws://{}{path}", server.address())
        }
        (Target::Embedded { path, .. }, None, Some(shared)) => format!("ws://{shared}{path}"),
        (Target::Embedded { path, .. }, None, None) => format!("ws://127.0.0.1{path}"),
        (Target::Remote(template), _, _) => template.clone(),
    };
    let series_file = match &options.series_file {
        Some(path) => Some(
            crate::measure::series::SeriesFile::create_with(path, &scenario.metrics.kinds)
                .map_err(|source| RunError::Series {
                    path: path.clone(),
                    source,
                })?,
        ),
        None => None,
    };
    if scenario.tls.insecure_skip_verify {
        eprintln!(
            "warning: tls.insecure_skip_verify is on: server certificates are NOT verified; never use this against production"
        );
    }
    // Static header values are sent as written; the others are filled in per connection.
    let mut static_headers = Vec::new();
    let mut header_templates = Vec::new();
    for header in &scenario.headers {
        if header.value.is_static() {
            let no_vars = |_: &str| None;
            let value = header
                .value
                .render(&crate::config::template::TemplateValues {
                    vu: 0,
                    iteration: 0,
                    lookup: &no_vars,
                })
                .map_err(RunError::Network)?;
            static_headers.push((header.name.clone(), value));
        } else {
            let name = http::HeaderName::from_bytes(header.name.as_bytes())
                .map_err(|_| RunError::Network(format!("invalid header name `{}`", header.name)))?;
            header_templates.push((name, header.value.clone()));
        }
    }
    let url_template = crate::config::template::Template::parse(&url_template)
        .map_err(|message| RunError::Network(format!("target: {message}")))?;
    let connector = Connector::new(ConnectorSettings {
        nameservers: &scenario.net.nameservers,
        tls: &scenario.tls,
        timeouts: scenario.net.timeouts,
        max_message_size: scenario.limits.max_message_size,
        compression: &scenario.net.compression,
        headers: static_headers,
        subprotocols: scenario.subprotocols.clone(),
        source_addresses,
    })
    .map_err(RunError::Network)?;
    let collector = link.map_or_else(
        || Arc::new(Collector::with_metric_kinds(scenario.metrics.kinds.clone())),
        |link| link.collector.clone(),
    );
    let metrics_endpoint = match options.metrics_addr {
        Some(address) => Some(
            crate::render::openmetrics::MetricsEndpoint::start(
                address,
                crate::render::openmetrics::of_collector(collector.clone()),
            )
            .await
            .map_err(|source| RunError::Metrics { address, source })?,
        ),
        None => None,
    };
    if let Some(endpoint) = &metrics_endpoint {
        // With port 0 the system picks the port: say which, for people and scrapers alike.
        eprintln!(
            "volley: live metrics on http://{}/metrics",
            endpoint.address()
        );
    }
    let stop = CancellationToken::new();
    let interrupted = Arc::new(AtomicBool::new(false));
    // Another population's abort stops this one too (not an interruption).
    let stop_all = link.map(|link| link.stop_all.clone()).unwrap_or_default();
    let watcher = {
        let stop = stop.clone();
        let interrupted = interrupted.clone();
        let stop_all = stop_all.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown => {
                    interrupted.store(true, Ordering::Relaxed);
                    stop.cancel();
                }
                _ = stop_all.cancelled() => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        })
    };
    if let Some(at) = options.start_at {
        wait_for_start(at, shard, &stop).await;
    }
    if let Some(link) = link {
        link.wait_for_start(&stop).await;
    }
    // The pacing limits are the whole run's: this shard takes its part of them.
    let pacing = shard.pacing(
        scenario.net.max_handshakes_in_flight.get(),
        scenario.net.max_connect_rate,
    );
    let started = Instant::now();
    let started_wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let started_at_unix_s = started_wall.as_secs();
    let started_at_unix_ms = u64::try_from(started_wall.as_millis()).unwrap_or(u64::MAX);
    let plan = Arc::new(Plan {
        engine,
        connector,
        facts: Arc::new(RunFacts::of(scenario, started)),
        collector: collector.clone(),
        // A static target is parsed once here; one that does not parse is left to each
        // connection, which reports it as its failure.
        static_url: url_template
            .is_static()
            .then(|| {
                let none = |_: &str| None;
                let values = crate::config::template::TemplateValues {
                    vu: 0,
                    iteration: 0,
                    lookup: &none,
                };
                let text = url_template.render(&values).ok()?;
                url::Url::parse(&text).ok()
            })
            .flatten(),
        url_template,
        header_templates,
        rows: crate::load::rows::Rows::new(
            scenario.data.clone(),
            scenario.data_order,
            scenario.seed,
            shard,
        ),
        load: scenario.load.clone(),
        net: scenario.net.clone(),
        pacing: crate::load::pacing::Pacing::new(pacing.in_flight, pacing.per_second)
            .first_slot_after(pacing.first_slot),
        shard,
        expect_upgrade: scenario.expect_upgrade,
    });

    let progress_done = CancellationToken::new();
    let progress = if options.progress {
        let live = collector.clone();
        crate::render::progress::start(
            move || CounterValues::read(&live.counters),
            connections,
            progress_done.clone(),
        )
    } else {
        None
    };

    let sampler_done = CancellationToken::new();
    let sampler = tokio::spawn(crate::measure::sampling::sample_series(
        collector.clone(),
        abort_check(
            &scenario.thresholds,
            options.feed,
            link.map(|_| stop_all.clone()),
        ),
        crate::measure::sampling::SeriesContext {
            started,
            interval: options.interval,
            stop: stop.clone(),
            load_end: started + plan.load.end().0,
            done: sampler_done.clone(),
            // A worker feeds its parent; a population feeds the run's one live series.
            tap: if options.feed {
                Some(crate::workers::feed::tap(
                    started_at_unix_ms,
                    link.map_or(0, |link| link.index),
                ))
            } else {
                link.and_then(|link| link.series_tap(started_at_unix_ms))
            },
        },
        series_file,
    ));

    let established = link.map(|link| link.announce_established(&collector, connections, &stop));
    let mut vus = JoinSet::new();
    match &scenario.load.shape {
        Shape::Constant => crate::load::drive::constant(&plan, &stop, &mut vus, started).await,
        Shape::Stages(stages) => {
            crate::load::drive::stages(&plan, stages, &stop, &mut vus, started).await
        }
        Shape::ArrivalRate { rate, max } => {
            let duration = scenario.load.duration.unwrap_or_default();
            let times = crate::load::arrival_times::ArrivalTimes::new(rate, duration);
            // A ramp's stages all last, even a trailing one at 0/s; a constant rate ends after
            // its last arrival's connection, as it always has.
            let hold_until = matches!(rate, crate::config::load::ArrivalRate::Ramp(_))
                .then(|| started + duration);
            crate::load::drive::arrivals(
                &plan,
                &times,
                hold_until,
                max.get(),
                &stop,
                &mut vus,
                started,
            )
            .await
        }
    }
    let hard_stop = options.hard_stop.clone().unwrap_or_default();
    let cut_short =
        crate::load::drive::hold_and_drain(&plan, &stop, &hard_stop, &mut vus, started).await;

    stop.cancel();
    if let Some(link) = link {
        // Whoever waits for this population waits no longer once it ended.
        link.established.send_replace(true);
    }
    if let Some(established) = established {
        let _ = established.await;
    }
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
    let server_cpu = match server {
        Some(server) => server.stop(Duration::from_secs(2)).await,
        None => None,
    };

    let values = CounterValues {
        dns_queries: plan.connector.dns_queries(),
        ..CounterValues::read(&collector.counters)
    };
    let load = &scenario.load;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut report = Report::build(
        ScenarioInfo {
            name: scenario.name.clone(),
            file: scenario.file.display().to_string(),
            target: scenario.target.shown(options.show_secrets),
            module: scenario.module.display().to_string(),
            module_sha256,
            interface: interface.to_owned(),
            seed: scenario.seed,
        },
        RunInfo {
            id: options
                .run_id
                .clone()
                .unwrap_or_else(crate::load::shard::new_run_id),
            shard_count: shard.count,
            shards: vec![shard.index],
            started_at_unix_s,
            started_at_unix_ms,
            ended_at_unix_ms: started_at_unix_ms.saturating_add(elapsed_ms),
            elapsed_s: elapsed_ms as f64 / 1000.0,
            connections,
            ramp_up_s: load.ramp_up.as_secs_f64(),
            duration_s: load.duration.map(|duration| duration.as_secs_f64()),
            iterations: load.iterations.map(|count| count.get()),
            interrupted: interrupted.load(Ordering::Relaxed),
            shape: load.describe(),
            aborted_by,
            merged_runs: 1,
            max_duration_reached: cut_short
                .then(|| crate::config::units::human_duration(load.max_duration)),
            ..RunInfo::default()
        },
        values,
        &collector.snapshot(),
        ProcessStats::since(&baseline, server_cpu, limits.open_files),
    );
    report.series = series;
    report.compression.setting = scenario.net.compression.describe();
    if !scenario.data.is_empty() {
        report.data = Some(crate::results::report::DataStats {
            source: scenario.data.source().to_owned(),
            rows: scenario.data.rows() as u64,
            order: scenario.data_order.name().to_owned(),
            exhausted: values.data_exhausted,
        });
    }
    // A population shape held until its duration ends sets out to have `connections` open at
    // once; iterations end VUs on their own and an arrival rate's maximum is only a cap.
    if !matches!(load.shape, Shape::ArrivalRate { .. }) && load.iterations.is_none() {
        report.population = Some(crate::results::report::Population {
            target: u64::from(connections),
            reached: report.connections.peak_open,
        });
        report.warnings = crate::results::health::warnings(&report);
    }
    report.apply_thresholds(&scenario.thresholds);
    Ok(report)
}

/// Wait until the wall-clock time `at` (`--start-at`), or until the run is stopped.
async fn wait_for_start(at: SystemTime, shard: Shard, stop: &CancellationToken) {
    let Ok(wait) = at.duration_since(SystemTime::now()) else {
        eprintln!("volley: --start-at is already past; starting now");
        return;
    };
    let which = if shard == Shard::WHOLE {
        String::new()
    } else {
        format!("shard {shard}: ")
    };
    eprintln!(
        "volley: {which}waiting {:.1}s for --start-at",
        wait.as_secs_f64()
    );
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = tokio::time::sleep(wait) => {}
    }
}

/// The sampler's abort check: the `abort: true` rules judged on the results so far (none: no check).
/// With `feed` (a `--workers` worker), a crossed rule is also announced on the feed, so the parent
/// stops the other workers.
fn abort_check(
    thresholds: &[crate::config::threshold::Threshold],
    feed: bool,
    stop_all: Option<CancellationToken>,
) -> Option<crate::measure::sampling::AbortCheck> {
    let rules: Vec<_> = thresholds.iter().filter(|t| t.abort).cloned().collect();
    if rules.is_empty() {
        return None;
    }
    Some(Box::new(move |collector: &Collector| {
        let crossed = crate::results::verdict::crossed_abort_rule(&rules, collector);
        if feed && let Some(crossed) = &crossed {
            crate::workers::feed::announce_abort(&crossed.expression);
        }
        if let (Some(stop_all), Some(_)) = (&stop_all, &crossed) {
            stop_all.cancel();
        }
        crossed
    }))
}
