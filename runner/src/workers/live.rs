//! [`Live`]: the parent's running sum of its workers' feeds (`feed`), for the one progress line,
//! the one `--metrics-addr` endpoint and the one live `--series` file of a `--workers` run. It
//! keeps each worker's latest [`Snapshot`] (counters add up; histograms, checks, metrics and
//! failures merge exactly, as `volley merge` does) and the series summed row by row: row `i` is
//! the sum of every worker's point `i` (`results::merge::add_point`, the same rule as the final
//! merge) and is appended to the file once every worker still running has reported it. A worker
//! that ends keeps its last figures in the sum; one that died (no results) has its open
//! connections taken out of the `open` gauge, since the kernel closed them. The final report does
//! not come from here: `mod.rs` merges the workers' results files.

use crate::measure::counters::CounterValues;
use crate::measure::series::{Point, SeriesFile};
use crate::measure::stats::Totals;
use crate::results::merge::add_point;
use crate::workers::feed::Snapshot;

/// One worker's latest figures.
#[derive(Default)]
struct Latest {
    counters: CounterValues,
    totals: Totals,
    /// Points it has reported.
    points: usize,
    /// It has exited: it reports nothing more.
    ended: bool,
}

/// The sum over the workers of a run.
pub struct Live {
    workers: Vec<Latest>,
    rows: Vec<Point>,
    written: usize,
    file: Option<SeriesFile>,
}

impl Live {
    /// No figures yet from `count` workers; complete rows go to `file`.
    pub fn new(count: u32, file: Option<SeriesFile>) -> Live {
        Live {
            workers: (0..count).map(|_| Latest::default()).collect(),
            rows: Vec::new(),
            written: 0,
            file,
        }
    }

    /// Worker `index` reported `snapshot`.
    pub fn update(&mut self, index: u32, snapshot: Snapshot) {
        let Some(worker) = self.workers.get_mut(index as usize) else {
            return;
        };
        add_point(&mut self.rows, worker.points, &snapshot.point);
        worker.points += 1;
        worker.counters = snapshot.counters;
        worker.totals = snapshot.totals;
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

    /// The rows summed so far (written or not).
    #[cfg(test)]
    fn rows(&self) -> &[Point] {
        &self.rows
    }

    /// Append every row that every running worker has reported.
    fn write_complete_rows(&mut self) {
        let complete = self
            .workers
            .iter()
            .filter(|worker| !worker.ended)
            .map(|worker| worker.points)
            .min()
            .unwrap_or(self.rows.len())
            .min(self.rows.len());
        while self.written < complete {
            if let Some(file) = &mut self.file
                && let Err(error) = file.append(&self.rows[self.written])
            {
                eprintln!(
                    "warning: cannot append to {}: {error}; the results file still gets the time series",
                    file.path().display()
                );
                self.file = None;
            }
            self.written += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(t: f64, open: u64, sent: u64, total_sent: u64) -> Snapshot {
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
        }
    }

    #[test]
    fn counters_add_up_and_rows_wait_for_every_running_worker() {
        let path = std::env::temp_dir().join(format!("volley-live-{}.jsonl", std::process::id()));
        let file = match SeriesFile::create(&path) {
            Ok(file) => file,
            Err(error) => panic!("{error}"),
        };
        let mut live = Live::new(2, Some(file));
        live.update(0, snapshot(1.0, 3, 10, 10));
        let lines = || {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .count()
        };
        assert_eq!(lines(), 0, "worker 1 has not reported row 0 yet");
        live.update(1, snapshot(1.01, 4, 5, 5));
        assert_eq!(lines(), 1);
        assert_eq!(live.rows()[0].open, 7);
        assert_eq!(live.rows()[0].sent, 15);
        assert_eq!(live.rows()[0].t, 1.01);
        live.update(0, snapshot(2.0, 3, 1, 11));
        assert_eq!(live.counters().messages_sent, 16);
        assert_eq!(live.counters().open, 7);
        // Worker 1 dies: its counts stay, its connections are no longer open, and the rows it
        // will never report are written without it.
        live.died(1);
        assert_eq!(lines(), 1, "its feed is still open");
        live.ended(1);
        assert_eq!(lines(), 2);
        assert_eq!(live.counters().messages_sent, 16);
        assert_eq!(live.counters().open, 3);
        assert_eq!(live.rows()[1].sent, 1);
        let _ = std::fs::remove_file(&path);
    }
}
