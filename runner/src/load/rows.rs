//! [`Rows`]: which data row each iteration (connection) reads, following `data_order`. The VU
//! loop (`vu`) asks once per iteration — a reconnect of the same iteration keeps its row — and
//! hands the row to the URL, the header templates and the scenario's `ctx.var`, so all three agree.
//!
//! Across shards (`--shard`, `--workers`): `per_vu` and `random` depend only on the global VU
//! index, the iteration and `seed`, so a shard reads exactly the rows its VUs read in a
//! one-process run. `per_iteration` and `unique` count connections, which no two processes share:
//! shard `I` of `N` takes only the rows `I, I+N, I+2N, …`, so shards never read the same row (with
//! fewer rows than shards, `per_iteration` shards share rows; `unique` shards beyond the rows have
//! none). The table itself lives in `config::data`.

use crate::config::{DataOrder, DataTable};
use crate::load::shard::Shard;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What an iteration reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// This row (`None`: the file has no data; `vars` only).
    Row(Option<u32>),
    /// `unique` and every row of this shard was used: the VU stops.
    Exhausted,
}

/// Hands out data rows for one run (one shard of it).
pub struct Rows {
    table: Arc<DataTable>,
    order: DataOrder,
    seed: u64,
    shard: Shard,
    /// Rows this shard owns: global rows `shard.index + k × shard.count` for `k` below this.
    owned: u64,
    /// Rows handed out so far (`per_iteration`, `unique`).
    taken: AtomicU64,
    exhausted: AtomicBool,
}

/// A 64-bit mix (SplitMix64's finaliser): neighbouring inputs give unrelated outputs.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Rows {
    /// Rows of `table` in `order` for `shard`; `seed` drives `random`.
    pub fn new(table: Arc<DataTable>, order: DataOrder, seed: u64, shard: Shard) -> Rows {
        let total = table.rows() as u64;
        let count = u64::from(shard.count.max(1));
        let index = u64::from(shard.index);
        let owned = if total > index {
            (total - index - 1) / count + 1
        } else {
            0
        };
        Rows {
            table,
            order,
            seed,
            shard,
            owned,
            taken: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
        }
    }

    /// Whether `unique` ran out (no new VU should start).
    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }

    /// The row for iteration `iteration` of global VU `vu`.
    pub fn pick(&self, vu: u32, iteration: u32) -> Pick {
        let total = self.table.rows() as u64;
        if total == 0 {
            return Pick::Row(None);
        }
        let count = u64::from(self.shard.count.max(1));
        let index = u64::from(self.shard.index);
        let row = match self.order {
            DataOrder::PerVu => u64::from(vu) % total,
            DataOrder::Random => {
                let key = (u64::from(vu) << 32) | u64::from(iteration);
                mix(self.seed ^ mix(key ^ 0xDA7A)) % total
            }
            DataOrder::PerIteration => {
                let taken = self.taken.fetch_add(1, Ordering::Relaxed);
                if self.owned > 0 {
                    index + (taken % self.owned) * count
                } else {
                    (index + taken * count) % total
                }
            }
            DataOrder::Unique => {
                let taken = self.taken.fetch_add(1, Ordering::Relaxed);
                if taken >= self.owned {
                    self.exhausted.store(true, Ordering::Relaxed);
                    return Pick::Exhausted;
                }
                index + taken * count
            }
        };
        // Below `total`, which came from a `usize` row count held in 32-bit offsets.
        Pick::Row(Some(u32::try_from(row).unwrap_or(u32::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::data::from_rows;
    use std::collections::BTreeSet;

    fn table(rows: usize) -> Arc<DataTable> {
        let rows: Vec<Vec<(String, String)>> = (0..rows)
            .map(|row| vec![("n".to_owned(), row.to_string())])
            .collect();
        match from_rows(&rows) {
            Ok(table) => Arc::new(table),
            Err(error) => panic!("{error}"),
        }
    }

    fn row(pick: Pick) -> u32 {
        match pick {
            Pick::Row(Some(row)) => row,
            other => panic!("expected a row, got {other:?}"),
        }
    }

    #[test]
    fn without_data_every_pick_is_no_row() {
        let rows = Rows::new(table(0), DataOrder::Unique, 1, Shard::WHOLE);
        assert_eq!(rows.pick(3, 7), Pick::Row(None));
        assert!(!rows.exhausted());
    }

    #[test]
    fn per_vu_is_vu_modulo_rows_for_every_iteration() {
        let rows = Rows::new(table(3), DataOrder::PerVu, 1, Shard::WHOLE);
        assert_eq!(row(rows.pick(0, 0)), 0);
        assert_eq!(row(rows.pick(4, 0)), 1);
        assert_eq!(row(rows.pick(4, 9)), 1);
        let shard = Rows::new(table(3), DataOrder::PerVu, 1, Shard { index: 1, count: 2 });
        assert_eq!(
            row(shard.pick(5, 0)),
            2,
            "global VU index, as in one process"
        );
    }

    #[test]
    fn per_iteration_takes_the_next_row_and_wraps() {
        let rows = Rows::new(table(3), DataOrder::PerIteration, 1, Shard::WHOLE);
        let picked: Vec<u32> = (0..7).map(|i| row(rows.pick(0, i))).collect();
        assert_eq!(picked, [0, 1, 2, 0, 1, 2, 0]);
        assert!(!rows.exhausted());
    }

    #[test]
    fn unique_never_repeats_and_then_is_exhausted() {
        let rows = Rows::new(table(5), DataOrder::Unique, 1, Shard::WHOLE);
        let picked: BTreeSet<u32> = (0..5).map(|vu| row(rows.pick(vu, 0))).collect();
        assert_eq!(picked.len(), 5);
        assert!(!rows.exhausted());
        assert_eq!(rows.pick(0, 1), Pick::Exhausted);
        assert!(rows.exhausted());
        assert_eq!(rows.pick(9, 0), Pick::Exhausted);
    }

    #[test]
    fn random_is_repeatable_per_seed_vu_and_iteration_and_spreads() {
        let a = Rows::new(table(10), DataOrder::Random, 42, Shard::WHOLE);
        let b = Rows::new(
            table(10),
            DataOrder::Random,
            42,
            Shard { index: 1, count: 3 },
        );
        let c = Rows::new(table(10), DataOrder::Random, 43, Shard::WHOLE);
        let from_a: Vec<u32> = (0..50).map(|i| row(a.pick(i % 5, i / 5))).collect();
        let from_b: Vec<u32> = (0..50).map(|i| row(b.pick(i % 5, i / 5))).collect();
        let from_c: Vec<u32> = (0..50).map(|i| row(c.pick(i % 5, i / 5))).collect();
        assert_eq!(
            from_a, from_b,
            "same seed, VU and iteration: same row, in any shard"
        );
        assert_ne!(from_a, from_c, "another seed, other rows");
        assert!(
            from_a.iter().collect::<BTreeSet<_>>().len() >= 8,
            "{from_a:?}"
        );
    }

    #[test]
    fn shards_take_disjoint_rows_that_add_up_to_all() {
        let shards: Vec<Rows> = (0..3)
            .map(|index| Rows::new(table(10), DataOrder::Unique, 1, Shard { index, count: 3 }))
            .collect();
        let mut seen = Vec::new();
        for shard in &shards {
            while let Pick::Row(Some(row)) = shard.pick(0, 0) {
                seen.push(row);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<u32>>(), "each row exactly once");
        let shard = Rows::new(
            table(10),
            DataOrder::PerIteration,
            1,
            Shard { index: 1, count: 3 },
        );
        let picked: Vec<u32> = (0..5).map(|i| row(shard.pick(0, i))).collect();
        assert_eq!(picked, [1, 4, 7, 1, 4], "its own rows, wrapping");
        let beyond = Rows::new(
            table(2),
            DataOrder::PerIteration,
            1,
            Shard { index: 2, count: 3 },
        );
        assert_eq!(row(beyond.pick(0, 0)), 0, "fewer rows than shards: shared");
        let beyond = Rows::new(table(2), DataOrder::Unique, 1, Shard { index: 2, count: 3 });
        assert_eq!(beyond.pick(0, 0), Pick::Exhausted);
    }
}
