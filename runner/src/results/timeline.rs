//! [`Timeline`]: the time series of several runs (shards, workers, merged files) lined up by
//! wall-clock time, not by position, so a shard that started late (a Kubernetes index retried
//! minutes later, a worker that compiled its module slowly) lands where it ran. Each source's
//! point `t` seconds after its own start is put in the interval of the merged run it ended in
//! (`round((start − origin + t) / interval)`, the origin being the earliest source's start); in
//! one interval counts add, `t` is the latest, the `rtt_*` and `timer_lag_p99` percentiles are the
//! worst source's (an upper bound, not exact) and `open`, a gauge, is the sum over the sources of
//! each one's latest value, carried over an interval it has no point in while it runs. Used by
//! `merge` for `volley merge` and by `workers::live` for the live `--series` file of a `--workers`
//! run, so both give the same rows.

use crate::measure::series::Point;
use std::collections::BTreeMap;

/// Points of several sources on one time grid.
#[derive(Debug, Clone)]
pub struct Timeline {
    origin_ms: u64,
    interval_s: f64,
    /// Per interval: counts summed, percentiles the worst, `t` the latest (`open` left at 0).
    rows: BTreeMap<u64, Point>,
    /// Per source: interval → its latest `(t, open)` in that interval.
    gauges: Vec<BTreeMap<u64, (f64, u64)>>,
}

/// The larger of two optional figures, or the one that is there.
pub fn max_option(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl Timeline {
    /// An empty timeline starting at Unix time `origin_ms` with intervals of `interval_s` seconds.
    pub fn new(origin_ms: u64, interval_s: f64) -> Timeline {
        Timeline {
            origin_ms,
            interval_s: if interval_s > 0.0 { interval_s } else { 1.0 },
            rows: BTreeMap::new(),
            gauges: Vec::new(),
        }
    }

    /// The interval a point `t` seconds after `started_ms` belongs to, and its time on the grid.
    fn place(&self, started_ms: u64, t: f64) -> (u64, f64) {
        let offset = started_ms.saturating_sub(self.origin_ms) as f64 / 1000.0 + t.max(0.0);
        let offset = (offset * 1000.0).round() / 1000.0;
        ((offset / self.interval_s).round() as u64, offset)
    }

    /// Add `point` of source `source` (from 0), whose run started at Unix time `started_ms`.
    pub fn add(&mut self, source: usize, started_ms: u64, point: &Point) {
        let (interval, t) = self.place(started_ms, point.t);
        let row = self.rows.entry(interval).or_insert_with(|| Point {
            t,
            ..Point::default()
        });
        row.t = row.t.max(t);
        row.sent += point.sent;
        row.received += point.received;
        row.round_trips += point.round_trips;
        row.failed += point.failed;
        row.rtt_p50 = max_option(row.rtt_p50, point.rtt_p50);
        row.rtt_p90 = max_option(row.rtt_p90, point.rtt_p90);
        row.rtt_p99 = max_option(row.rtt_p99, point.rtt_p99);
        row.rtt_max = max_option(row.rtt_max, point.rtt_max);
        row.timer_lag_p99 = max_option(row.timer_lag_p99, point.timer_lag_p99);
        for (reason, count) in &point.errors {
            *row.errors.entry(reason.clone()).or_default() += count;
        }
        for (name, metric) in &point.metrics {
            row.metrics.entry(name.clone()).or_default().merge(metric);
        }
        if self.gauges.len() <= source {
            self.gauges.resize_with(source + 1, BTreeMap::new);
        }
        let gauge = self.gauges[source]
            .entry(interval)
            .or_insert((t, point.open));
        if t >= gauge.0 {
            *gauge = (t, point.open);
        }
    }

    /// The interval the latest point of `source` fell in (`None` before its first point).
    pub fn last_interval(&self, source: usize) -> Option<u64> {
        self.gauges
            .get(source)
            .and_then(|gauge| gauge.keys().next_back().copied())
    }

    /// The row of `interval`, with `open` summed over the sources running then (`None`: no source
    /// has a point in it).
    fn row(&self, interval: u64) -> Option<Point> {
        let mut row = self.rows.get(&interval)?.clone();
        row.open = self
            .gauges
            .iter()
            .filter(|gauge| {
                gauge
                    .keys()
                    .next_back()
                    .is_some_and(|last| *last >= interval)
            })
            .filter_map(|gauge| gauge.range(..=interval).next_back())
            .map(|(_, (_, open))| *open)
            .sum();
        Some(row)
    }

    /// The rows of the intervals in `from..to`, in time order.
    pub fn rows_between(&self, from: u64, to: u64) -> Vec<Point> {
        if from >= to {
            return Vec::new();
        }
        self.rows
            .range(from..to)
            .filter_map(|(interval, _)| self.row(*interval))
            .collect()
    }

    /// Every row, in time order.
    pub fn points(&self) -> Vec<Point> {
        self.rows_between(0, u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, open: u64, sent: u64) -> Point {
        Point {
            t,
            open,
            sent,
            ..Point::default()
        }
    }

    #[test]
    fn sources_that_started_together_add_up_interval_by_interval() {
        let mut timeline = Timeline::new(1_000_000, 1.0);
        timeline.add(0, 1_000_000, &point(1.001, 3, 10));
        timeline.add(1, 1_000_020, &point(1.002, 4, 5));
        timeline.add(0, 1_000_000, &point(2.001, 3, 1));
        timeline.add(1, 1_000_020, &point(2.001, 4, 2));
        let rows = timeline.points();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].t, rows[0].open, rows[0].sent), (1.022, 7, 15));
        assert_eq!((rows[1].t, rows[1].open, rows[1].sent), (2.021, 7, 3));
    }

    #[test]
    fn a_source_that_ran_later_lands_where_it_ran_not_at_the_start() {
        // Source 1 (a retried index) started 600 s after source 0.
        let mut timeline = Timeline::new(0, 1.0);
        for second in 1..=3 {
            timeline.add(0, 0, &point(f64::from(second), 5, 10));
            timeline.add(1, 600_000, &point(f64::from(second), 2, 1));
        }
        let rows = timeline.points();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].sent, 10, "{rows:?}");
        assert_eq!(rows[0].open, 5, "source 1 was not running yet");
        assert_eq!((rows[3].t, rows[3].open, rows[3].sent), (601.0, 2, 1));
        assert_eq!(rows[2].open, 5);
    }

    #[test]
    fn two_points_of_one_source_in_one_interval_keep_its_latest_open() {
        let mut timeline = Timeline::new(0, 1.0);
        timeline.add(0, 0, &point(3.0, 5, 10));
        // Its last point, right after draining, falls in the same interval.
        timeline.add(0, 0, &point(3.2, 0, 1));
        timeline.add(1, 0, &point(3.0, 4, 2));
        let rows = timeline.points();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].t, rows[0].open, rows[0].sent), (3.2, 4, 13));
    }

    #[test]
    fn a_running_source_without_a_point_in_an_interval_keeps_its_open_connections() {
        let mut timeline = Timeline::new(0, 1.0);
        for second in 1..=4 {
            timeline.add(0, 0, &point(f64::from(second), 5, 1));
        }
        // Source 1 started half an interval late; jitter put two points in interval 2, none in 3.
        timeline.add(1, 500, &point(1.0, 2, 1));
        timeline.add(1, 500, &point(1.99, 2, 1));
        timeline.add(1, 500, &point(3.6, 2, 1));
        let rows = timeline.points();
        let open: Vec<u64> = rows.iter().map(|row| row.open).collect();
        assert_eq!(open, vec![5, 7, 7, 7]);
        assert_eq!(timeline.last_interval(1), Some(4));
        assert_eq!(timeline.rows_between(2, 4).len(), 2);
    }
}
