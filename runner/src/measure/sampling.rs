//! The sampling task of a run: every interval while the load runs it takes a time-series point
//! (see `series`), appends it to the `--series` file, hands it to an optional tap (a `--workers`
//! worker's live feed to its parent), and asks an abort check (given by `run`: the `abort: true`
//! thresholds judged on the results so far) whether to stop the run. Once the load has stopped it
//! takes one last point, when the run has finished closing; no two points share a `t`. Started and
//! awaited by `run`.

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
    /// Cancelled to stop the run (by an abort threshold); once it is cancelled (by anything: the
    /// end of the hold, Ctrl-C, an abort) only the last point is still taken.
    pub stop: CancellationToken,
    /// When the load is planned to stop (the end of the hold, or `load.max_duration`): no regular
    /// point is taken at or after it, so the interval that ends there is the last point's.
    pub load_end: Instant,
    /// Cancelled by `run` when the run is over: the last point is taken then.
    pub done: CancellationToken,
    /// Called with every point right after it is taken (the last one included).
    pub tap: Option<PointTap>,
}

/// Least time between two points, so that their `t` (rounded to milliseconds) differ.
const MIN_GAP: Duration = Duration::from_millis(1);

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

/// Every interval until the load stops: take a time-series point, append it to the file, and ask
/// `abort_check` whether a rule was crossed by the results so far (stopping the run when one was);
/// then, when `done`, the last point. Returns the series and the crossed rule, if any.
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
    let mut previous: Option<Instant> = None;
    loop {
        let mut last = tokio::select! {
            _ = context.done.cancelled() => true,
            _ = sleep_until(next.into()), if next < context.load_end => false,
        };
        let mut now = Instant::now();
        if !last && (context.stop.is_cancelled() || now >= context.load_end) {
            // The load has stopped: the point for this interval is the last one, taken when the
            // run has finished closing (it would otherwise repeat this one's `t` and show the
            // population half closed).
            context.done.cancelled().await;
            last = true;
        }
        if last {
            if let Some(previous) = previous {
                // A run that ends in the millisecond of a regular point: `t` is rounded to ms.
                sleep_until((previous + MIN_GAP).into()).await;
            }
            now = Instant::now();
        }
        previous = Some(now);
        let t = now.saturating_duration_since(context.started).as_secs_f64();
        let point = sampler.sample(&collector, t);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the sampler with `interval` and a load planned to end at `load_end`; `done` is cancelled
    /// at `done_at` (and by `tap` if it likes).
    async fn series_of(
        interval: Duration,
        load_end: Duration,
        done_at: Duration,
        tap: impl FnMut(&Point, &CancellationToken) + Send + 'static,
    ) -> Vec<f64> {
        let started = Instant::now();
        let done = CancellationToken::new();
        let mut tap = tap;
        let tapped = done.clone();
        let context = SeriesContext {
            started,
            interval,
            stop: CancellationToken::new(),
            load_end: started + load_end,
            done: done.clone(),
            tap: Some(Box::new(move |_: &Collector, point: &Point| {
                tap(point, &tapped)
            })),
        };
        let sampler = tokio::spawn(sample_series(
            Arc::new(Collector::default()),
            None,
            context,
            None,
        ));
        tokio::select! {
            _ = sleep_until((started + done_at).into()) => done.cancel(),
            _ = done.cancelled() => {}
        }
        let (series, _) = sampler.await.unwrap_or_default();
        series.points.iter().map(|point| point.t).collect()
    }

    fn strictly_increasing(times: &[f64]) -> bool {
        times.windows(2).all(|pair| pair[0] < pair[1])
    }

    #[tokio::test]
    async fn no_regular_point_at_the_end_of_the_load_only_the_last_one() {
        // Issue 21: a run of `load.duration=2s` ended with two points at t=2.002: the regular
        // one, taken while its connections were closing, and the last. Here the run ends (`done`)
        // 30 ms after the load's end, or right after a second point if one is taken before then
        // (at the load's end, where the first interval's point is at 0.05).
        let mut points = 0;
        let times = series_of(
            Duration::from_millis(50),
            Duration::from_millis(100),
            Duration::from_millis(130),
            move |_, done| {
                points += 1;
                if points == 2 {
                    done.cancel();
                }
            },
        )
        .await;
        assert!(strictly_increasing(&times), "{times:?}");
        let (last, regular) = times.split_last().unwrap_or((&0.0, &[]));
        assert!(regular.iter().all(|t| *t <= 0.1), "{times:?}");
        assert!(*last >= 0.13, "{times:?}");
    }

    #[tokio::test]
    async fn a_run_ending_in_the_millisecond_of_a_point_still_gets_its_own_t() {
        // The tap ends the run as soon as the first point is taken, as a run whose iterations
        // finish right at an interval's end does.
        let times = series_of(
            Duration::from_millis(50),
            Duration::from_secs(60),
            Duration::from_secs(60),
            |_, done| done.cancel(),
        )
        .await;
        assert_eq!(times.len(), 2, "{times:?}");
        assert!(strictly_increasing(&times), "{times:?}");
    }
}
