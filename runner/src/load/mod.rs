//! Stage `load`: carrying out the `load:` section over time. `limits` preflights the operating
//! system (open files, ports, memory maps); `plan` holds what every connection shares (engine,
//! connector, collector, pacing); `drive` starts and stops virtual users to follow the shape (its
//! targets computed in `shape`, an arrival rate's arrival times in `arrival_times`) and drains them at the end; `vu` repeats iterations and applies the
//! reconnect policy, asking `rows` which data row each iteration reads; `iteration` connects one
//! and hands it to `connection`; `pacing` caps handshakes in flight and the connect rate; `search` picks a capacity search's next step (pure); `shard` splits all of it between processes (shard
//! `I` of `N`: global VU indexes, stage targets, arrivals, source addresses) and parses `--start-at`.
//!
//! Hands to `connection` and `scenario`: a URL, a socket and an instance per iteration. Does not
//! live here: the event loop (`connection`), the report (`results`), wiring a whole run (`run.rs`).

pub mod arrival_times;
pub mod drive;
pub mod iteration;
pub mod limits;
pub mod pacing;
pub mod plan;
pub mod rows;
pub mod search;
pub mod shape;
pub mod shard;
pub mod vu;
