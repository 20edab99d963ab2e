//! [`Wake`]: a connection's one timer. The connection loop computes its earliest deadline (scenario
//! timers and reply deadlines, heartbeat, idle, iteration, close, write stall) after each event and
//! hands it here; the underlying tokio `Sleep` is created once per connection and reset only when
//! that instant changes or after it fired — never rebuilt per event.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::time::Sleep;

/// One re-armable deadline.
#[derive(Debug)]
pub struct Wake {
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    fired: bool,
    resets: u64,
}

impl Default for Wake {
    fn default() -> Self {
        Wake {
            sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            armed: None,
            fired: true,
            resets: 0,
        }
    }
}

impl Wake {
    /// Wake at `at` (or never, for `None`). Resets the timer only if `at` differs from the armed
    /// instant or the timer already fired.
    pub fn set(&mut self, at: Option<Instant>) {
        match at {
            None => self.armed = None,
            Some(at) if self.armed == Some(at) && !self.fired => {}
            Some(at) => {
                self.sleep.as_mut().reset(at.into());
                self.armed = Some(at);
                self.fired = false;
                self.resets += 1;
            }
        }
    }

    /// Ready once the armed instant has passed; pending forever while unarmed.
    pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.armed.is_none() || self.fired {
            return Poll::Pending;
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.fired = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// How many times the timer was reset (for tests).
    #[cfg(test)]
    fn resets(&self) -> u64 {
        self.resets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_timer_is_reset_only_when_the_deadline_changes() {
        let mut wake = Wake::default();
        let at = Instant::now() + Duration::from_secs(60);
        for _ in 0..1000 {
            wake.set(Some(at));
        }
        assert_eq!(wake.resets(), 1);
        wake.set(Some(at + Duration::from_millis(1)));
        assert_eq!(wake.resets(), 2);
        wake.set(None);
        wake.set(Some(at + Duration::from_millis(1)));
        assert_eq!(wake.resets(), 3);
    }

    #[tokio::test]
    async fn fires_once_at_its_deadline_and_again_only_when_re_armed() {
        let mut wake = Wake::default();
        let at = Instant::now() + Duration::from_millis(5);
        wake.set(Some(at));
        std::future::poll_fn(|cx| wake.poll(cx)).await;
        assert!(Instant::now() >= at);
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(wake.poll(&mut cx).is_pending(), "fired once, not again");
        wake.set(Some(at));
        assert!(wake.poll(&mut cx).is_ready(), "re-armed at a past instant");
    }

    #[tokio::test]
    async fn unarmed_never_fires() {
        let mut wake = Wake::default();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(wake.poll(&mut cx).is_pending());
    }
}
