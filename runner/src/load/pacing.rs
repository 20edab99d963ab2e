//! Connection pacing, so a ramp cannot become a SYN flood against the user's own service: at most
//! `net.max_handshakes_in_flight` handshakes at once (a semaphore permit held from TCP connect to
//! the upgrade's answer) and at most `net.max_connect_rate` new connections per second (evenly
//! spaced start slots). Used by `load::iteration` before each connect.

use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// The run's pacing rules.
pub struct Pacing {
    handshakes: Semaphore,
    gap: Option<Duration>,
    next_slot: Mutex<Instant>,
}

impl Pacing {
    /// At most `in_flight` handshakes at once and `per_second` starts per second (if set).
    pub fn new(in_flight: u32, per_second: Option<f64>) -> Pacing {
        Pacing {
            handshakes: Semaphore::new(in_flight as usize),
            gap: per_second.map(|rate| Duration::from_secs_f64(1.0 / rate)),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// The same rules with the first start slot `delay` from now: a shard's place in the run's
    /// sequence of slots (`load::shard::Shard::pacing`).
    pub fn first_slot_after(mut self, delay: Duration) -> Pacing {
        let next = match self.next_slot.get_mut() {
            Ok(next) => next,
            Err(poisoned) => poisoned.into_inner(),
        };
        *next = Instant::now() + delay;
        self
    }

    /// Wait for a start slot and a handshake permit; hold the permit until the handshake is done.
    pub async fn admit(&self) -> Option<SemaphorePermit<'_>> {
        if let Some(gap) = self.gap {
            let slot = {
                let mut next = match self.next_slot.lock() {
                    Ok(next) => next,
                    Err(poisoned) => poisoned.into_inner(),
                };
                let slot = (*next).max(Instant::now());
                *next = slot + gap;
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
        self.handshakes.acquire().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_by_the_rate() {
        let pacing = Pacing::new(100, Some(10.0));
        let started = tokio::time::Instant::now();
        for _ in 0..5 {
            let _permit = pacing.admit().await;
        }
        // Slots at 0, 100, 200, 300, 400 ms.
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(450),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn handshakes_in_flight_are_capped() {
        let pacing = Pacing::new(2, None);
        let first = pacing.admit().await;
        let second = pacing.admit().await;
        assert!(first.is_some() && second.is_some());
        let third = tokio::time::timeout(Duration::from_secs(1), pacing.admit()).await;
        assert!(third.is_err(), "a third handshake must wait");
        drop(first);
        assert!(pacing.admit().await.is_some());
    }
}
