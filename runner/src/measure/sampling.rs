//! The sampling task of a run: every interval it takes a time-series point (see `series`),
//! appends it to the `--series` file, hands it to an optional tap (a `--workers` worker's live
//! feed to its parent), and asks an abort check (given by `run`: the `abort: true`
//! thresholds judged on the results so far) whether to stop the run. Started and awaited by `run`.

use crate::measure::collector::Collector;
use crate::measure::series::{Point, Sampler, Series, SeriesFile};
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
    /// Called with every point right after it is taken (the last one included).
    pub tap: Option<PointTap>,
}

/// Sees every point as it is taken, with the collector it was taken from.
pub type PointTap = Box<dyn FnMut(&Collector, &Point) + Send>;

/// A crossed abort rule: the rule as written and the measured value.
pub struct Crossed {
    /// The rule as written.
    pub expression: String,
    /// The measured value, human-readable.
    pub actual: String,
}

/// Asked once per interval whether an abort rule was crossed by the results so far.
pub type AbortCheck = Box<dyn FnMut(&Collector) -> Option<Crossed> + Send>;

/// Every interval: take a time-series point, append it to the file, and ask `abort_check` whether
/// a rule was crossed by the results so far (stopping the run when one was). Returns the series
/// and the crossed rule, if any.
pub async fn sample_series(
    collector: Arc<Collector>,
    mut abort_check: Option<AbortCheck>,
    mut context: SeriesContext,
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
        if let Some(tap) = &mut context.tap {
            tap(&collector, &point);
        }
        series.points.push(point);
        if last {
            return (series, aborted_by);
        }
        next += context.interval;
        if aborted_by.is_none()
            && let Some(check) = &mut abort_check
            && let Some(crossed) = check(&collector)
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
