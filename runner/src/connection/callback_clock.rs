//! [`CallbackClock`]: how much CPU a long scenario callback used, without reading the thread's CPU
//! clock around every callback. `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` is a system call (no
//! vDSO), measured at about 1 µs on this VM: two per W1 message cost +0.57 s of system time in a
//! 300,000-message run. So each worker thread keeps one baseline, (wall instant, thread CPU time),
//! refreshed at most every [`REFRESH`]; a callback reads only the wall clock, and only one that took
//! `LONG_CALLBACK` or more reads the CPU clock again. Its CPU time is then known within
//! [`REFRESH`]: the CPU used since the baseline, less the wall time between the baseline and the
//! callback's start (the most the thread can have run before it), never below zero. That tells a
//! callback that kept its thread busy (CPU close to its wall time) from one whose thread was
//! descheduled (CPU far below it). Called by `event_loop`'s `call`.

use crate::scenario::engine::thread_cpu_time;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Longest age of a thread's baseline.
pub const REFRESH: Duration = Duration::from_millis(2);

thread_local! {
    /// This thread's baseline: when, and its CPU time then (`Duration::MAX`: unreadable).
    static BASELINE: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
}

/// A callback's start, as the clock sees it.
#[derive(Debug, Clone, Copy)]
pub struct CallbackClock {
    /// When the callback started.
    pub started: Instant,
    baseline: (Instant, Duration),
}

impl CallbackClock {
    /// A callback starts now: refresh this thread's baseline if it is older than [`REFRESH`].
    pub fn start() -> CallbackClock {
        let started = Instant::now();
        let baseline = BASELINE.with(|cell| match cell.get() {
            Some(baseline) if started.saturating_duration_since(baseline.0) < REFRESH => baseline,
            _ => {
                let fresh = (started, thread_cpu_time());
                cell.set(Some(fresh));
                fresh
            }
        });
        CallbackClock { started, baseline }
    }

    /// The CPU time the callback used, read at its end (call it only for a long callback; `None`
    /// when the thread's CPU clock cannot be read).
    pub fn cpu_used(&self) -> Option<Duration> {
        let (at, cpu_then) = self.baseline;
        let cpu_now = thread_cpu_time();
        if cpu_then == Duration::MAX || cpu_now == Duration::MAX {
            return None;
        }
        let before_start = self.started.saturating_duration_since(at);
        Some(
            cpu_now
                .saturating_sub(cpu_then)
                .saturating_sub(before_start),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(how_long: Duration) {
        let until = Instant::now() + how_long;
        while Instant::now() < until {
            std::hint::black_box(0u64);
        }
    }

    #[test]
    fn a_busy_callback_is_known_to_have_used_its_cpu_and_a_sleeping_one_not() {
        let busy = CallbackClock::start();
        spin(Duration::from_millis(30));
        let used = busy.cpu_used().unwrap_or_default();
        // A loaded machine may take some of the 30 ms away; the baseline's error is at most REFRESH.
        assert!(used >= Duration::from_millis(5), "{used:?}");

        let asleep = CallbackClock::start();
        std::thread::sleep(Duration::from_millis(30));
        let used = asleep.cpu_used().unwrap_or(Duration::MAX);
        assert!(used < Duration::from_millis(5), "{used:?}");
    }

    #[test]
    fn the_baseline_is_read_once_per_refresh() {
        let first = CallbackClock::start();
        let second = CallbackClock::start();
        assert_eq!(first.baseline, second.baseline);
    }
}
