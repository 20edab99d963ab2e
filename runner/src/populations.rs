//! [`run_populations`]: a file with `populations:` run as one. Each population is a run of its
//! own scenario (`run::run_one`) in this process, side by side, each with its own collector, so
//! every figure is known per population; they share the embedded server (one per mode), one
//! Ctrl-C, one abort (a rule crossed in any population stops all: [`Link::stop_all`]), one
//! progress line and one `--metrics-addr` endpoint summing their collectors. A population starts
//! with the run, after an offset, or once another is established ([`Link::wait_for_start`],
//! [`Link::announce_established`]). At the end `results::merge::combine_populations` makes the
//! whole run's report with each population's beside it, the process figures are measured once
//! for all, and the file's thresholds are judged (`{population=NAME}` rules on that population).
//! With `--shard`/`--workers` each process runs every population's share (`load::shard` splits
//! each like a file of one), and `volley merge` merges the populations shard by shard. Beside
//! `run.rs`, since it wires whole runs; no stage imports it.

use crate::config::population::Start;
use crate::config::{Scenario, ServerMode, Target};
use crate::devserver::in_process::InProcessServer;
use crate::measure::collector::Collector;
use crate::measure::counters::CounterValues;
use crate::measure::process::{Baseline, ProcessStats};
use crate::measure::sampling::PointTap;
use crate::measure::series::Point;
use crate::results::report::{Report, ScenarioInfo};
use crate::run::{RunError, RunOptions, run_one};
use crate::workers::feed::Snapshot;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// What one population's run shares with the others (`RunOptions::population`).
#[derive(Debug, Clone)]
pub struct Link {
    /// The population's name (in log lines).
    pub name: String,
    /// Its place in the file (0 first): tags its lines on a worker's feed.
    pub index: u32,
    /// The embedded server for its target's mode, started once for all populations.
    pub embedded_server: Option<SocketAddr>,
    /// Cancelled when any population crosses an abort rule: every population stops politely.
    pub stop_all: CancellationToken,
    /// Its collector (read by the shared progress line and metrics endpoint).
    pub collector: Arc<Collector>,
    /// Opens when the population may start (`start:`); `None`: with the run.
    pub gate: Option<(String, watch::Receiver<bool>)>,
    /// Set when every planned connection of this population is established (or failed), or it
    /// ended: the gate of the populations that start after it.
    pub established: Arc<watch::Sender<bool>>,
    /// Where its time-series points go for the run's one live `--series` file (`None`: none).
    pub points: Option<mpsc::UnboundedSender<Live>>,
}

/// What a population's run tells the live series.
#[derive(Debug)]
pub enum Live {
    /// A time-series point, with the population's figures so far.
    Point(Box<Snapshot>),
    /// The population's run ended: the rows go on without it.
    Ended(u32),
}

impl Link {
    /// The sampler's tap that sends each point of this population to the live series.
    pub fn series_tap(&self, started_at_unix_ms: u64) -> Option<PointTap> {
        let points = self.points.clone()?;
        let population = self.index;
        Some(Box::new(move |collector: &Collector, point: &Point| {
            let _ = points.send(Live::Point(Box::new(Snapshot {
                counters: CounterValues::read(&collector.counters),
                totals: collector.snapshot(),
                point: point.clone(),
                started_at_unix_ms,
                population,
            })));
        }))
    }

    /// Wait until this population may start, or the run stops first.
    pub async fn wait_for_start(&self, stop: &CancellationToken) {
        let Some((waiting_for, gate)) = &self.gate else {
            return;
        };
        let mut gate = gate.clone();
        if !*gate.borrow() {
            eprintln!("volley: population {} waits: {waiting_for}", self.name);
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = gate.wait_for(|open| *open) => {}
        }
    }

    /// Watch `collector` until `connections` connections were established or failed (or the run
    /// stops), then open the gate of the populations waiting for this one.
    pub fn announce_established(
        &self,
        collector: &Arc<Collector>,
        connections: u32,
        stop: &CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let collector = collector.clone();
        let established = self.established.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let target = u64::from(connections);
            loop {
                let counters = CounterValues::read(&collector.counters);
                if counters.established + counters.failed >= target {
                    established.send_replace(true);
                    return;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
            }
        })
    }
}

/// Run every population of `scenario` side by side until they all finish or `shutdown`
/// completes, and report the whole run with each population beside it.
pub async fn run_populations(
    scenario: &Scenario,
    options: &RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Report, RunError> {
    let baseline = Baseline::now();
    let mut servers: Vec<(ServerMode, InProcessServer)> = Vec::new();
    for population in &scenario.populations {
        if let Target::Embedded { mode, .. } = population.scenario.target
            && !servers.iter().any(|(started, _)| *started == mode)
        {
            let server = InProcessServer::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), mode)
                .await
                .map_err(RunError::Server)?;
            servers.push((mode, server));
        }
    }
    let interrupt = CancellationToken::new();
    let watcher = {
        let interrupt = interrupt.clone();
        tokio::spawn(async move {
            shutdown.await;
            interrupt.cancel();
        })
    };
    let stop_all = CancellationToken::new();
    let collectors: Vec<Arc<Collector>> = scenario
        .populations
        .iter()
        .map(|population| {
            Arc::new(Collector::with_metric_kinds(
                population.scenario.metrics.kinds.clone(),
            ))
        })
        .collect();
    let established: Vec<Arc<watch::Sender<bool>>> = scenario
        .populations
        .iter()
        .map(|_| Arc::new(watch::channel(false).0))
        .collect();

    // The one live `--series` file, its rows made as a `--workers` parent makes them (a worker
    // feeds its parent instead, which writes the file).
    let (points, series) = match (&options.series_file, options.feed) {
        (Some(path), false) => {
            let file =
                crate::measure::series::SeriesFile::create_with(path, &scenario.metrics.kinds)
                    .map_err(|source| RunError::Series {
                        path: path.clone(),
                        source,
                    })?;
            let (sender, mut receiver) = mpsc::unbounded_channel::<Live>();
            let count = u32::try_from(scenario.populations.len()).unwrap_or(u32::MAX);
            let mut live =
                crate::workers::live::Live::new(count, options.interval.as_secs_f64(), Some(file));
            let writer = tokio::spawn(async move {
                while let Some(message) = receiver.recv().await {
                    match message {
                        Live::Point(snapshot) => live.update(snapshot.population, *snapshot),
                        Live::Ended(population) => live.ended(population),
                    }
                }
            });
            (Some(sender), Some(writer))
        }
        _ => (None, None),
    };
    let mut runs = Vec::new();
    let mut offsets = Vec::new();
    for (index, population) in scenario.populations.iter().enumerate() {
        let gate = match &population.start {
            Start::Together => None,
            Start::After(offset) => {
                let (open, gate) = watch::channel(false);
                offsets.push((*offset, open));
                Some((format!("starts {}", population.start.describe()), gate))
            }
            Start::AfterPopulation(name) => scenario
                .populations
                .iter()
                .position(|other| other.name == *name)
                .map(|other| {
                    (
                        format!("starts once `{name}` is established"),
                        established[other].subscribe(),
                    )
                }),
        };
        let embedded_server = match population.scenario.target {
            Target::Embedded { mode, .. } => servers
                .iter()
                .find(|(started, _)| *started == mode)
                .map(|(_, server)| server.address()),
            Target::Remote(_) => None,
        };
        let population_options = RunOptions {
            progress: false,
            series_file: None,
            metrics_addr: None,
            population: Some(Link {
                name: population.name.clone(),
                index: u32::try_from(index).unwrap_or(u32::MAX),
                embedded_server,
                stop_all: stop_all.clone(),
                collector: collectors[index].clone(),
                gate,
                established: established[index].clone(),
                points: points.clone(),
            }),
            ..options.clone()
        };
        let interrupt = interrupt.clone();
        let ended = points.clone();
        runs.push(async move {
            let report = run_one(
                &population.scenario,
                &population_options,
                interrupt.cancelled_owned(),
            )
            .await;
            if let Some(ended) = ended {
                let _ = ended.send(Live::Ended(u32::try_from(index).unwrap_or(u32::MAX)));
            }
            report
        });
    }
    let opener = tokio::spawn({
        let interrupt = interrupt.clone();
        async move {
            for (offset, open) in offsets {
                let open = async move {
                    tokio::time::sleep(offset).await;
                    open.send_replace(true);
                };
                tokio::spawn(open);
            }
            interrupt.cancelled().await;
        }
    });
    drop(points);
    let live = LiveViews::start(scenario, options, &collectors).await?;
    let results = futures_util::future::join_all(runs).await;
    opener.abort();
    watcher.abort();
    live.stop().await;
    if let Some(series) = series {
        // Every sender is gone with the runs: the writer drains the last rows and ends.
        let _ = series.await;
    }

    let mut server_cpu: Option<crate::measure::process::CpuTime> = None;
    for (_, server) in servers {
        if let Some(cpu) = server.stop(Duration::from_secs(2)).await {
            server_cpu = Some(match server_cpu {
                None => cpu,
                Some(so_far) => crate::measure::process::CpuTime {
                    cpu_user_s: so_far.cpu_user_s + cpu.cpu_user_s,
                    cpu_system_s: so_far.cpu_system_s + cpu.cpu_system_s,
                },
            });
        }
    }
    let mut parts = Vec::new();
    for (population, result) in scenario.populations.iter().zip(results) {
        let mut report = result?;
        report.thresholds.clear();
        report.rejudge();
        parts.push((population.name.clone(), report));
    }
    let (open_files, _) = crate::load::limits::raise_open_files();
    let process = ProcessStats::since(&baseline, server_cpu, open_files);
    let info = ScenarioInfo {
        name: scenario.name.clone(),
        file: scenario.file.display().to_string(),
        target: describe_targets(scenario, options.show_secrets),
        module: scenario
            .populations
            .iter()
            .map(|p| format!("{}: {}", p.name, module_of(&p.scenario)))
            .collect::<Vec<_>>()
            .join("; "),
        module_sha256: String::new(),
        interface: crate::results::report::POPULATIONS_INTERFACE.into(),
        seed: scenario.seed,
    };
    let mut report = crate::results::merge::combine_populations(info, process, parts)
        .map_err(RunError::Network)?;
    report.scenario.module_sha256 = digest_of_parts(&report);
    report.apply_thresholds(&scenario.thresholds);
    Ok(report)
}

/// The module (or `flow`) of one population, as the report's `scenario.module` shows it.
fn module_of(scenario: &Scenario) -> String {
    if scenario.flow.is_some() {
        "flow".into()
    } else {
        scenario.module.display().to_string()
    }
}

/// The targets of the populations, once each.
fn describe_targets(scenario: &Scenario, show_secrets: bool) -> String {
    let mut targets: Vec<String> = Vec::new();
    for population in &scenario.populations {
        let target = population.scenario.target.shown(show_secrets);
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    targets.join(", ")
}

/// One digest for the run's scenarios: sha256 over each population's name and digest, so two
/// runs compare as the same build exactly when every population ran the same one.
fn digest_of_parts(report: &Report) -> String {
    let text: String = report
        .populations
        .iter()
        .map(|(name, part)| format!("{name}={};", part.scenario.module_sha256))
        .collect();
    crate::config::pin::digest_of(text.as_bytes())
        .hex()
        .to_owned()
}

/// The live views of a run with populations: one progress line and one metrics endpoint over
/// the sum of the populations' collectors.
struct LiveViews {
    done: CancellationToken,
    progress: Option<tokio::task::JoinHandle<()>>,
    endpoint: Option<crate::render::openmetrics::MetricsEndpoint>,
}

impl LiveViews {
    async fn start(
        scenario: &Scenario,
        options: &RunOptions,
        collectors: &[Arc<Collector>],
    ) -> Result<LiveViews, RunError> {
        let done = CancellationToken::new();
        let counters = {
            let collectors = collectors.to_vec();
            move || {
                let mut sum = CounterValues::default();
                for collector in &collectors {
                    sum.add(&CounterValues::read(&collector.counters));
                }
                sum
            }
        };
        let connections = scenario
            .populations
            .iter()
            .map(|p| options.shard.share(p.scenario.load.connections.get()))
            .sum();
        let progress = if options.progress {
            crate::render::progress::start(counters.clone(), connections, done.clone())
        } else {
            None
        };
        let endpoint = match options.metrics_addr {
            Some(address) => {
                let collectors = collectors.to_vec();
                let source: crate::render::openmetrics::Source = Arc::new(move || {
                    let mut totals = crate::measure::stats::Totals::default();
                    for collector in &collectors {
                        totals.merge(&collector.snapshot());
                    }
                    crate::render::openmetrics::render(&counters(), &totals)
                });
                let endpoint = crate::render::openmetrics::MetricsEndpoint::start(address, source)
                    .await
                    .map_err(|source| RunError::Metrics { address, source })?;
                eprintln!(
                    "volley: live metrics on http://{}/metrics",
                    endpoint.address()
                );
                Some(endpoint)
            }
            None => None,
        };
        Ok(LiveViews {
            done,
            progress,
            endpoint,
        })
    }

    async fn stop(self) {
        if let Some(endpoint) = self.endpoint {
            endpoint.stop().await;
        }
        self.done.cancel();
        if let Some(progress) = self.progress {
            let _ = progress.await;
        }
    }
}
