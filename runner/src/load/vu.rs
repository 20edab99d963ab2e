//! One virtual user: runs iterations (fresh connection, fresh scenario instance) one after another
//! until its iteration count is reached or the run stops. A failed connection is retried after
//! `load.retry_pause`, so an unreachable target is counted, not hammered. With `net.reconnect`, a
//! connection that drops (reset, closed by the server, dead heartbeat, idle) is re-opened after an
//! exponential backoff with full jitter, up to `max_attempts` in a row; each re-open is counted as a
//! reconnect and continues the same iteration. Each iteration reads one data row, asked of
//! `load::rows` when the iteration starts (a reconnect keeps it); with `data_order: unique` a VU
//! that finds no row left stops, counted in `data_exhausted`. The iteration itself lives in
//! `iteration`.

use crate::config::Reconnect;
use crate::connection::event_loop::Outcome;
use crate::load::iteration::run_iteration;
use crate::load::plan::Plan;
use crate::load::rows::Pick;
use crate::measure::counters::bump;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The backoff before reconnect attempt `attempt` (1-based): uniformly random up to
/// `initial × 2^(attempt-1)`, capped at `max` ("full jitter", so a dropped fleet does not
/// reconnect in lockstep).
pub fn backoff(policy: &Reconnect, attempt: u32, random: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let ceiling = policy
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(policy.max_backoff);
    ceiling.mul_f64(random.clamp(0.0, 1.0))
}

/// Run VU `vu` until done or stopped, numbering its iterations from `first_iteration` (arrivals
/// reuse VU slots, so each arrival gets its own iteration number and random sequence). An arrival
/// passes the moment it was `due`: its first attempt's lateness is measured from there.
pub async fn run_vu(
    plan: Arc<Plan>,
    vu: u32,
    first_iteration: u32,
    due: Option<Instant>,
    stop: CancellationToken,
) {
    let mut iteration: u32 = first_iteration;
    let mut due = due;
    let done = |iteration: u32| {
        plan.load
            .iterations
            .is_some_and(|limit| iteration - first_iteration >= limit.get())
    };
    let mut reconnect_attempts: u32 = 0;
    // The data row of the iteration in progress, kept across its reconnects.
    let mut row_of: Option<(u32, Option<u32>)> = None;
    loop {
        if stop.is_cancelled() {
            if due.is_some() {
                // An arrival whose task had not started when the run ended: still queued.
                bump(&plan.collector.counters.pending_at_end, 1);
            }
            return;
        }
        if done(iteration) {
            return;
        }
        let row = match row_of {
            Some((of, row)) if of == iteration => row,
            _ => match plan.rows.pick(vu, iteration) {
                Pick::Row(row) => {
                    row_of = Some((iteration, row));
                    row
                }
                Pick::Exhausted => {
                    bump(&plan.collector.counters.data_exhausted, 1);
                    return;
                }
            },
        };
        let outcome = run_iteration(&plan, vu, iteration, row, due.take(), &stop).await;
        let policy = plan.net.reconnect;
        if let (Some(policy), Outcome::Dropped { lived, .. }) = (policy, outcome)
            && lived >= policy.max_backoff.min(Duration::from_secs(10))
        {
            // The connection lasted: this drop starts a fresh series of attempts.
            reconnect_attempts = 0;
        }
        let reconnect = match (outcome, policy) {
            (Outcome::Dropped { .. }, Some(policy)) => Some(policy),
            (Outcome::ConnectFailed, Some(policy)) if reconnect_attempts > 0 => Some(policy),
            _ => None,
        };
        let pause = if let Some(policy) = reconnect {
            reconnect_attempts += 1;
            if reconnect_attempts > policy.max_attempts {
                // Give up on this series, visibly, and go on with the next iteration. Its attempts
                // were counted as failures already; the give-up is not another one.
                bump(&plan.collector.counters.reconnect_give_ups, 1);
                reconnect_attempts = 0;
                iteration = iteration.saturating_add(1);
                if done(iteration) {
                    return;
                }
                Some(plan.load.retry_pause)
            } else {
                let random: f64 = rand::rng().random();
                Some(backoff(&policy, reconnect_attempts, random))
            }
        } else {
            reconnect_attempts = 0;
            match outcome {
                Outcome::Stopped => return,
                Outcome::Completed => {
                    iteration = iteration.saturating_add(1);
                    None
                }
                Outcome::Rejected => {
                    // Expected, but instant: pace the next attempt like a failed one.
                    iteration = iteration.saturating_add(1);
                    if done(iteration) {
                        return;
                    }
                    Some(plan.load.retry_pause)
                }
                Outcome::Dropped {
                    failed: false,
                    lived,
                } => {
                    // A server that closes at once must not be hammered in a tight loop; a VU
                    // with no iteration left has nothing to pause for.
                    iteration = iteration.saturating_add(1);
                    if done(iteration) {
                        return;
                    }
                    (lived < plan.load.retry_pause).then_some(plan.load.retry_pause)
                }
                Outcome::ConnectFailed
                | Outcome::Failed
                | Outcome::Dropped { failed: true, .. } => {
                    iteration = iteration.saturating_add(1);
                    if done(iteration) {
                        return;
                    }
                    Some(plan.load.retry_pause)
                }
            }
        };
        if let Some(pause) = pause {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            if reconnect.is_some() && reconnect_attempts > 0 {
                bump(&plan.collector.counters.reconnects, 1);
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = Reconnect {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        assert_eq!(backoff(&policy, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&policy, 3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(&policy, 3, 0.5), Duration::from_millis(200));
        assert_eq!(backoff(&policy, 9, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(&policy, 40, 1.0), Duration::from_secs(1));
    }
}
