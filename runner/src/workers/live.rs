//! [`Live`]: the parent's running sum of its workers' feeds (`feed`), for the one progress line,
//! the one `--metrics-addr` endpoint and the one live `--series` file of a `--workers` run. It
//! keeps each worker's latest [`Snapshot`] (counters add up; histograms, checks, metrics and
//! failures merge exactly, as `volley merge` does) and the workers' points on one time grid
//! (`results::timeline`, the same rule as the final merge, so the file holds the rows of the
//! merged results): the grid starts at the earliest worker's start, known once every worker still
//! running has reported a point, and a row is appended to the file once every worker still running
//! has reported a point in a later interval. A worker that ends keeps its last figures in the sum;
//! one that died (no results) has its open connections taken out of the `open` gauge, since the
//! kernel closed them. The final report does not come from here: `mod.rs` merges the workers'
//! results files.

use crate::measure::counters::CounterValues;
use crate::measure::series::{Point, SeriesFile};
use crate::measure::stats::Totals;
use crate::results::timeline::Timeline;
use crate::workers::feed::Snapshot;

/// One worker's latest figures.
#[derive(Default)]
struct Latest {
    counters: CounterValues,
    totals: Totals,
    /// Unix time its load started, ms (from its first point on).
    started_at_unix_ms: Option<u64>,
    /// It has exited: it reports nothing more.
    ended: bool,
}

/// The sum over the workers of a run.
pub struct Live {
    workers: Vec<Latest>,
    interval_s: f64,
    /// Points that came before every running worker's start was known: (worker, point).
    waiting: Vec<(usize, Point)>,
    /// The grid, once its origin is known.
    timeline: Option<Timeline>,
    /// The first interval not yet appended to the file.
    written: u64,
    file: Option<SeriesFile>,
}

impl Live {
    /// No figures yet from `count` workers taking a point every `interval_s` seconds; complete
    /// rows go to `file`.
    pub fn new(count: u32, interval_s: f64, file: Option<SeriesFile>) -> Live {
        Live {
            workers: (0..count).map(|_| Latest::default()).collect(),
            interval_s,
            waiting: Vec::new(),
            timeline: None,
            written: 0,
            file,
        }
    }

    /// Worker `index` reported `snapshot`.
    pub fn update(&mut self, index: u32, snapshot: Snapshot) {
        let source = index as usize;
        let Some(worker) = self.workers.get_mut(source) else {
            return;
        };
        worker.counters = snapshot.counters;
        worker.totals = snapshot.totals;
        worker.started_at_unix_ms = Some(snapshot.started_at_unix_ms);
        match &mut self.timeline {
            Some(timeline) => timeline.add(source, snapshot.started_at_unix_ms, &snapshot.point),
            None => self.waiting.push((source, snapshot.point)),
        }
        self.write_complete_rows();
    }

    /// Worker `index` closed its feed (it exited): the rows it never reported go on without it.
    pub fn ended(&mut self, index: u32) {
        let Some(worker) = self.workers.get_mut(index as usize) else {
            return;
        };
        worker.ended = true;
        self.write_complete_rows();
    }

    /// Worker `index` died without results (killed, crashed): its connections are no longer open.
    pub fn died(&mut self, index: u32) {
        if let Some(worker) = self.workers.get_mut(index as usize) {
            worker.counters.open = 0;
        }
    }

    /// The workers' counters, summed.
    pub fn counters(&self) -> CounterValues {
        let mut sum = CounterValues::default();
        for worker in &self.workers {
            sum.add(&worker.counters);
        }
        sum
    }

    /// The workers' histograms, checks, metrics and failures, merged.
    pub fn totals(&self) -> Totals {
        let mut all = Totals::default();
        for worker in &self.workers {
            all.merge(&worker.totals);
        }
        all
    }

    /// The grid, made once every worker still running has said when it started.
    fn timeline(&mut self) -> Option<&mut Timeline> {
        if self.timeline.is_none() {
            let unknown = self
                .workers
                .iter()
                .any(|worker| !worker.ended && worker.started_at_unix_ms.is_none());
            let origin = self
                .workers
                .iter()
                .filter_map(|worker| worker.started_at_unix_ms)
                .min();
            if unknown {
                return None;
            }
            let mut timeline = Timeline::new(origin?, self.interval_s);
            for (source, point) in self.waiting.drain(..) {
                let started = self.workers[source].started_at_unix_ms.unwrap_or_default();
                timeline.add(source, started, &point);
            }
            self.timeline = Some(timeline);
        }
        self.timeline.as_mut()
    }

    /// Append every row no running worker can add to any more.
    fn write_complete_rows(&mut self) {
        let running: Vec<usize> = (0..self.workers.len())
            .filter(|source| !self.workers[*source].ended)
            .collect();
        let written = self.written;
        let Some(timeline) = self.timeline() else {
            return;
        };
        // A worker's next point lands in its latest point's interval or a later one.
        let complete = running
            .iter()
            .map(|source| timeline.last_interval(*source).unwrap_or(0))
            .min()
            .unwrap_or(u64::MAX);
        let rows = timeline.rows_between(written, complete);
        self.written = written.max(complete);
        for row in rows {
            if let Some(file) = &mut self.file
                && let Err(error) = file.append(&row)
            {
                eprintln!(
                    "warning: cannot append to {}: {error}; the results file still gets the time series",
                    file.path().display()
                );
                self.file = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(started: u64, t: f64, open: u64, sent: u64, total_sent: u64) -> Snapshot {
        Snapshot {
            counters: CounterValues {
                open,
                messages_sent: total_sent,
                ..Default::default()
            },
            totals: Totals::default(),
            point: Point {
                t,
                open,
                sent,
                ..Point::default()
            },
            started_at_unix_ms: started,
            population: 0,
        }
    }

    #[test]
    fn counters_add_up_and_rows_wait_for_every_running_worker() {
        let path = std::env::temp_dir().join(format!("volley-live-{}.jsonl", std::process::id()));
        let file = match SeriesFile::create_with(&path, &std::collections::BTreeMap::new()) {
            Ok(file) => file,
            Err(error) => panic!("{error}"),
        };
        let lines = || -> Vec<Point> {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        };
        // Worker 1 started 10 ms after worker 0.
        let mut live = Live::new(2, 1.0, Some(file));
        live.update(0, snapshot(5_000, 1.0, 3, 10, 10));
        live.update(0, snapshot(5_000, 2.0, 3, 1, 11));
        assert!(lines().is_empty(), "worker 1 has not said when it started");
        live.update(1, snapshot(5_010, 1.0, 4, 5, 5));
        assert!(lines().is_empty(), "worker 1 may add to interval 1 still");
        live.update(1, snapshot(5_010, 2.0, 4, 2, 7));
        let written = lines();
        assert_eq!(written.len(), 1);
        assert_eq!(
            (written[0].t, written[0].open, written[0].sent),
            (1.01, 7, 15)
        );
        assert_eq!(live.counters().messages_sent, 18);
        assert_eq!(live.counters().open, 7);
        // Worker 1 dies: its counts stay, its connections are no longer open, and the rows it
        // will never report are written without it.
        live.died(1);
        live.update(0, snapshot(5_000, 3.0, 3, 1, 12));
        assert_eq!(lines().len(), 1, "worker 1's feed is still open");
        live.ended(1);
        assert_eq!(lines().len(), 2, "worker 0 may add to interval 3 still");
        live.ended(0);
        let written = lines();
        assert_eq!(written.len(), 3);
        assert_eq!((written[1].open, written[1].sent), (7, 3));
        assert_eq!((written[2].open, written[2].sent), (3, 1));
        assert_eq!(live.counters().messages_sent, 19);
        assert_eq!(live.counters().open, 3);
        let _ = std::fs::remove_file(&path);
    }
}
