//! One virtual user: runs iterations (fresh connection, fresh scenario instance) one after another
//! until its iteration count is reached or the run stops. A failed connection is retried after
//! `load.retry_pause`, so an unreachable target is counted, not hammered. The iteration itself lives
//! in `conn`.

use crate::conn::{Outcome, run_iteration};
use crate::plan::Plan;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Run VU `vu` until done or stopped.
pub async fn run_vu(plan: Arc<Plan>, vu: u32, stop: CancellationToken) {
    let mut iteration: u32 = 0;
    loop {
        if stop.is_cancelled() {
            return;
        }
        if plan
            .load
            .iterations
            .is_some_and(|limit| iteration >= limit.get())
        {
            return;
        }
        let outcome = run_iteration(&plan, vu, iteration, &stop).await;
        iteration = iteration.saturating_add(1);
        match outcome {
            Outcome::Stopped => return,
            Outcome::Completed => {}
            Outcome::ConnectFailed | Outcome::Failed => {
                if plan
                    .load
                    .iterations
                    .is_some_and(|limit| iteration >= limit.get())
                {
                    return;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(plan.load.retry_pause) => {}
                }
            }
        }
    }
}
