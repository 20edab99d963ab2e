//! Driving the load shape: starting and stopping virtual users over time. `constant` starts VUs
//! evenly over the ramp; `stages` keeps the number of running VUs at the interpolated target;
//! `arrivals` starts single-iteration VUs at the times `arrival_times` computes (a constant or
//! ramping rate), counting each arrival and dropping (and counting) those that come while
//! `max_connections` are open. Targets and times are pure functions (`shape`, `arrival_times`); the VU
//! loop lives in `vu`; `run` calls these and then drains. A sharded run (`plan.shard`) starts only
//! its shard's global VU indexes, its share of each stage target and every N-th arrival, each at
//! the moment the one-process run would (`shard`).

use crate::config::load::{Stage, stages_duration};
use crate::load::arrival_times::ArrivalTimes;
use crate::load::plan::Plan;
use crate::load::shape::stage_target;
use crate::measure::counters::bump;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

/// Start VU `i` at `started + ramp_up × i / connections` (only this shard's `i`), unless the run
/// stops first.
pub async fn constant(
    plan: &Arc<Plan>,
    stop: &CancellationToken,
    vus: &mut JoinSet<()>,
    started: Instant,
) {
    let connections = plan.load.connections.get();
    for vu in plan.shard.indexes().take_while(|vu| *vu < connections) {
        let offset = plan
            .load
            .ramp_up
            .mul_f64(f64::from(vu) / f64::from(connections));
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = sleep_until((started + offset).into()) => {}
        }
        vus.spawn(crate::load::vu::run_vu(
            plan.clone(),
            vu,
            0,
            None,
            stop.clone(),
        ));
    }
}

/// VU indices in use by a staged run.
#[derive(Default)]
struct Slots {
    /// Running VUs and the token that stops each.
    running: BTreeMap<u32, CancellationToken>,
    /// VUs told to stop that have not finished closing: their index is not reused until then, so
    /// two VUs never share an index (and its data row and random sequence).
    retiring: BTreeSet<u32>,
}

/// Keep the number of running VUs at the stage target (this shard's share of it): start VUs
/// (lowest free index of the shard first) when it rises, stop the highest-indexed ones (politely)
/// when it falls.
pub async fn stages(
    plan: &Arc<Plan>,
    stages: &[Stage],
    stop: &CancellationToken,
    vus: &mut JoinSet<()>,
    started: Instant,
) {
    let mut slots = Slots::default();
    let finished = Arc::new(Mutex::new(Vec::<u32>::new()));
    let end = started + stages_duration(stages);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Ok(mut done) = finished.lock() {
            for vu in done.drain(..) {
                // A VU that ended by itself (iterations done) or finished retiring.
                if !slots.retiring.remove(&vu) {
                    slots.running.remove(&vu);
                }
            }
        }
        let now = Instant::now();
        if now >= end {
            return;
        }
        let whole = stage_target(stages, now - started).round() as u32;
        let wanted = plan.shard.share(whole) as usize;
        // With `data_order: unique` run out, a new VU would find no row and stop at once.
        while slots.running.len() < wanted && !plan.rows.exhausted() {
            let vu = plan
                .shard
                .indexes()
                .find(|index| !slots.running.contains_key(index) && !slots.retiring.contains(index))
                .unwrap_or(plan.shard.index);
            let own = stop.child_token();
            slots.running.insert(vu, own.clone());
            let (plan, finished) = (plan.clone(), finished.clone());
            vus.spawn(async move {
                crate::load::vu::run_vu(plan, vu, 0, None, own).await;
                if let Ok(mut done) = finished.lock() {
                    done.push(vu);
                }
            });
        }
        while slots.running.len() > wanted {
            if let Some((vu, own)) = slots.running.pop_last() {
                own.cancel();
                slots.retiring.insert(vu);
            }
        }
    }
}

/// Frees an arrival slot when its VU ends, however it ends (even by panic or abort).
struct SlotGuard {
    busy: Arc<Mutex<Vec<bool>>>,
    slot: usize,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        match self.busy.lock() {
            Ok(mut slots) => slots[self.slot] = false,
            Err(poisoned) => poisoned.into_inner()[self.slot] = false,
        }
    }
}

/// Open model: start one single-iteration VU at each arrival's time in `times` (evenly spaced at a
/// constant rate, closer and closer on a rising ramp), unless `max` are open, in which case the
/// arrival is dropped and counted. A shard takes every N-th arrival (at its global time) and its
/// share of `max`, with global slot indexes. With `hold_until` (a ramp: the end of its stages) it
/// returns only then, so trailing stages with few or no arrivals (a hold at 0/s to watch the
/// server settle) last as written; without it (a constant rate) it returns after the last arrival.
pub async fn arrivals(
    plan: &Arc<Plan>,
    times: &ArrivalTimes,
    hold_until: Option<Instant>,
    max: u32,
    stop: &CancellationToken,
    vus: &mut JoinSet<()>,
    started: Instant,
) {
    let shard = plan.shard;
    let busy = Arc::new(Mutex::new(vec![false; shard.share(max) as usize]));
    let mut owned: u32 = 0;
    loop {
        // This shard's next arrival, numbered globally from 0.
        let global = shard.nth(owned);
        let Some(offset) = times.at(u64::from(global)) else {
            if let Some(end) = hold_until {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = sleep_until(end.into()) => {}
                }
            }
            return;
        };
        let at = started + offset;
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = sleep_until(at.into()) => {}
        }
        // Every arrival whose time came is counted, and ends up in exactly one figure: started
        // (its lateness, from `at` to its connect attempt, is `arrival_lag`), dropped here, still
        // queued for a pacing permit at the end, or out of data rows.
        bump(&plan.collector.counters.arrivals, 1);
        // Finished arrivals are reaped as the run goes: a JoinSet keeps every finished task (its
        // whole future) until joined, which grew the runner by ~390 B per arrival.
        while vus.try_join_next().is_some() {}
        owned = owned.saturating_add(1);
        let arrival = u64::from(global) + 1;
        let free = busy.lock().ok().and_then(|mut slots| {
            let index = slots.iter().position(|taken| !taken)?;
            slots[index] = true;
            Some(index)
        });
        let Some(slot) = free else {
            bump(&plan.collector.counters.dropped_arrivals, 1);
            continue;
        };
        let guard = SlotGuard {
            busy: busy.clone(),
            slot,
        };
        let (plan, stop) = (plan.clone(), stop.clone());
        // Each arrival gets its own iteration number, so slots reused over time still get fresh
        // random sequences.
        let first_iteration = u32::try_from(arrival).unwrap_or(u32::MAX);
        vus.spawn(async move {
            let _guard = guard;
            crate::load::vu::run_vu(
                plan,
                shard.nth(slot as u32),
                first_iteration,
                Some(at),
                stop,
            )
            .await;
        });
    }
}

/// Wait for the VUs: until all finished, the duration (or, with iterations only,
/// `load.max_duration`) ended, or the run was stopped; then give them `goodbye_timeout` +
/// `close_timeout` + 1 s (`Load::drain`, at most 30 s) to say goodbye and close politely, and abort
/// whatever is left — at once, goodbyes and all, when `hard_stop` fires.
/// Returns true when `load.max_duration` cut the run short.
pub async fn hold_and_drain(
    plan: &Arc<Plan>,
    stop: &CancellationToken,
    hard_stop: &CancellationToken,
    vus: &mut JoinSet<()>,
    started: Instant,
) -> bool {
    let (after, is_limit) = plan.load.end();
    let end = started + after;
    let mut cut_short = false;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            joined = vus.join_next() => match joined {
                None => return cut_short,
                Some(Err(error)) if error.is_panic() => {
                    // A runner bug: count it where the user will see it instead of losing the VU.
                    let mut recorder = crate::measure::recorder::Recorder::new(0, plan.collector.clone());
                    recorder.failure("runner: internal error (a virtual user's task panicked)");
                }
                Some(_) => {}
            },
            _ = sleep_until(end.into()), if drain_deadline.is_none() && !stop.is_cancelled() => {
                cut_short = is_limit;
                stop.cancel();
            }
            _ = stop.cancelled(), if drain_deadline.is_none() => {
                let drain = plan.load.drain();
                drain_deadline = Some(Instant::now() + drain);
            }
            _ = hard_stop.cancelled() => {
                stop.cancel();
                vus.abort_all();
                while vus.join_next().await.is_some() {}
                return cut_short;
            }
            _ = sleep_until(drain_deadline.unwrap_or_else(Instant::now).into()), if drain_deadline.is_some() => {
                vus.abort_all();
                while vus.join_next().await.is_some() {}
                return cut_short;
            }
        }
    }
}
