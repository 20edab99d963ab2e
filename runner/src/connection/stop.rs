//! [`StopSignal`]: a connection's view of its stop token that costs one atomic load per look.
//! tokio-util's `WaitForCancellationFutureOwned` takes two mutexes each time it is polled (the
//! token's `is_cancelled` and the waiter list of its `Notify`), and the event loop looks at it at
//! every wake-up. Here the future is polled only when its own wake-up fired — a flag set by a
//! waker that wraps the task's — or when the task's waker changed; otherwise the answer is "not
//! yet" at once. Under callgrind that was about 350 instructions per W2 round trip.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Wake, Waker};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// The task's waker, and whether the stop token's wake-up went through it.
struct FlagWaker {
    fired: AtomicBool,
    task: Waker,
}

impl Wake for FlagWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

/// Whether a connection has been told to stop.
pub struct StopSignal {
    future: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The waker the future was last polled with (`None`: never polled).
    waker: Option<Arc<FlagWaker>>,
    stopped: bool,
}

impl StopSignal {
    /// A view of `token` (created once per connection).
    pub fn new(token: &CancellationToken) -> StopSignal {
        StopSignal {
            future: Box::pin(token.clone().cancelled_owned()),
            waker: None,
            stopped: false,
        }
    }

    /// Whether the stop has come; if not, `cx`'s task is woken when it does.
    pub fn poll_stopped(&mut self, cx: &mut Context<'_>) -> bool {
        if self.stopped {
            return true;
        }
        let waker = match &self.waker {
            Some(waker) if waker.task.will_wake(cx.waker()) => {
                if !waker.fired.swap(false, Ordering::Acquire) {
                    return false;
                }
                waker.clone()
            }
            _ => {
                let waker = Arc::new(FlagWaker {
                    fired: AtomicBool::new(false),
                    task: cx.waker().clone(),
                });
                self.waker = Some(waker.clone());
                waker
            }
        };
        let waker = Waker::from(waker);
        let mut inner = Context::from_waker(&waker);
        self.stopped = self.future.as_mut().poll(&mut inner).is_ready();
        self.stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::task::Poll;
    use std::time::Duration;

    #[tokio::test]
    async fn a_stop_is_seen_after_the_wake_it_caused_and_not_before() {
        let token = CancellationToken::new();
        let mut signal = StopSignal::new(&token);
        let mut looks = 0;
        let stopper = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            stopper.cancel();
        });
        let seen = tokio::time::timeout(
            Duration::from_secs(5),
            poll_fn(|cx| {
                looks += 1;
                if signal.poll_stopped(cx) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }),
        )
        .await;
        assert!(seen.is_ok(), "the cancel never woke the task");
        // One look before the cancel and one after the wake-up it caused.
        assert_eq!(looks, 2);
        assert!(signal.poll_stopped(&mut Context::from_waker(Waker::noop())));
    }

    #[test]
    fn a_token_cancelled_before_the_first_look_is_seen_at_once() {
        let token = CancellationToken::new();
        token.cancel();
        let mut signal = StopSignal::new(&token);
        assert!(signal.poll_stopped(&mut Context::from_waker(Waker::noop())));
    }
}
