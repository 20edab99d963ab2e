//! The sampling task of a run: every interval it takes a time-series point (see `series`),
//! appends it to the `--series` file, and checks the `abort: true` thresholds against the results
//! so far, stopping the run when one is crossed. Started and awaited by `run`.

use crate::results::report::{CounterValues, ProcessStats, Report, RunInfo, ScenarioInfo};
use crate::measure::series::{Sampler, Series, SeriesFile};
use crate::measure::stats::Collector;
use crate::results::thresholds::Threshold;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

/// What the sampling task needs besides the collector.
pub struct SeriesContext {
    /// When the run started.
    pub started: Instant,
    /// Seconds per point.
    pub interval: Duration,
    /// Cancelled to stop the run (by an abort threshold).
    pub stop: CancellationToken,
    /// Cancelled by `run` when the run is over: the last point is taken then.
    pub done: CancellationToken,
}

/// Every interval: take a time-series point, append it to the file, and check the abort
/// thresholds against the results so far (stopping the run when one is crossed). Returns the
/// series and the crossed rule, if any.
pub async fn sample_series(
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
    Report::build(
        ScenarioInfo::default(),
        RunInfo::default(),
        CounterValues::read(&collector.counters),
        &collector.snapshot(),
        ProcessStats::default(),
    )
}
