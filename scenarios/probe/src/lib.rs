//! Test fixture, not an example: a scenario that probes the connection engine's timing for the
//! end-to-end tests of `tests/e2e/engine.rs`. Every VU does the same.
//!
//! - In open: a request `tick` (a short text, answered by the test servers at once), then
//!   `burst` requests of `burst_bytes` bytes each (default 0 and 65,536) — together more than the
//!   socket buffers hold, so sending them takes as long as the server takes to read.
//! - The `tick` round trip is recorded as the metric `tick_ms`.
//! - When every burst reply has arrived, the connection closes (1000).
//! - A periodic timer every `timer_ms` (default: none); at its `stall_at`-th firing the callback
//!   busy-waits `stall_ms` (an injected generator stall; default none); the connection closes at
//!   firing `ticks` + 1 (`ticks` defaults to 20). With `stall_every` N, the stall repeats every N-th
//!   firing, and with `stall_vu` only that VU repeats it (to measure what a long callback does to its
//!   neighbours).
//! - With `request_ms` set (any value): a request `r<N>` at each of the first `ticks` firings, with
//!   a timeout of `timeout_ms` (default 1000); the servers answer `reply:r<N>` (an echo does).
//! - With `tick_metric` set to a number V: at each of the first `ticks` firings, the metrics
//!   `ticks_fired` 1 (a counter: connections × ticks in all), `tick_even` 1 on even firings and 0
//!   on odd ones (a rate: 50% with an even `ticks`) and `tick_value` V (its mean is exactly V), for
//!   the tests of declared metric kinds (`tests/e2e/metrics.rs`).

use std::time::Duration;
use volley_sdk::{Context, Message, Scenario};

const TIMER: u32 = 1;

/// Per-connection state.
pub struct Probe {
    burst_left: u32,
    timer: Option<Duration>,
    fired: u32,
    ticks: u32,
    stall_at: u32,
    stall: Duration,
    stall_every: u32,
    requests: bool,
    timeout: Duration,
    tick_metric: Option<f64>,
}

impl Scenario for Probe {
    fn open(ctx: &mut Context) -> Self {
        let burst: u32 = ctx.var_as("burst").unwrap_or(0);
        let burst_bytes: usize = ctx.var_as("burst_bytes").unwrap_or(65_536);
        ctx.request_text("tick", "tick", Duration::from_secs(30));
        let payload = "x".repeat(burst_bytes);
        for n in 0..burst {
            ctx.request_text(&format!("b{n}"), &payload, Duration::from_secs(30));
        }
        let timer = ctx.var_as::<u64>("timer_ms").map(Duration::from_millis);
        if let Some(every) = timer {
            ctx.set_timer(TIMER, every);
        }
        Probe {
            burst_left: burst,
            timer,
            fired: 0,
            ticks: ctx.var_as("ticks").unwrap_or(20),
            stall_at: ctx.var_as("stall_at").unwrap_or(u32::MAX),
            stall: Duration::from_millis(ctx.var_as("stall_ms").unwrap_or(0)),
            // `stall_vu`: only this VU stalls (default: every VU).
            stall_every: match ctx.var_as::<u32>("stall_vu") {
                Some(vu) if vu != ctx.vu() => 0,
                _ => ctx.var_as("stall_every").unwrap_or(0),
            },
            requests: ctx.var("request_ms").is_some(),
            timeout: Duration::from_millis(ctx.var_as("timeout_ms").unwrap_or(1000)),
            tick_metric: ctx.var_as("tick_metric"),
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        let Some(text) = message.as_text() else {
            return;
        };
        if text == "tick" {
            if let Some(took) = ctx.complete("tick") {
                ctx.metric("tick_ms", took.as_secs_f64() * 1000.0);
            }
        } else if self.burst_left > 0 && text.starts_with('x') {
            // Replies come back in order; complete the oldest burst request.
            let total: u32 = ctx.var_as("burst").unwrap_or(0);
            let n = total - self.burst_left;
            ctx.complete(&format!("b{n}"));
            self.burst_left -= 1;
            if self.burst_left == 0 && self.timer.is_none() {
                ctx.close(1000, "burst echoed");
            }
        } else if let Some(key) = text.strip_prefix("reply:") {
            ctx.complete(key);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context, _timer: u32) {
        self.fired += 1;
        if self.fired > self.ticks {
            ctx.close(1000, "ticks done");
            return;
        }
        if let Some(value) = self.tick_metric {
            ctx.metric("ticks_fired", 1.0);
            ctx.metric(
                "tick_even",
                f64::from(u8::from(self.fired.is_multiple_of(2))),
            );
            ctx.metric("tick_value", value);
        }
        if self.fired == self.stall_at
            || (self.stall_every > 0 && self.fired.is_multiple_of(self.stall_every))
        {
            let start = ctx.now();
            while ctx.now() - start < self.stall {
                std::hint::spin_loop();
            }
        }
        if self.requests {
            let key = format!("r{}", self.fired);
            ctx.request_text(&key, &format!("reply:{key}"), self.timeout);
        }
        if let Some(every) = self.timer {
            ctx.set_timer(TIMER, every);
        }
    }
}

volley_sdk::export_scenario!(Probe);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::{Action, TestHost};

    #[test]
    fn each_tick_records_the_three_metrics_with_tick_metric_set() {
        let mut host = TestHost::new()
            .with_var("timer_ms", "10")
            .with_var("ticks", "2")
            .with_var("tick_metric", "200");
        let mut probe: Probe = host.open();
        for _ in 0..3 {
            host.timer(&mut probe, TIMER);
        }
        let metrics: Vec<(&str, f64)> = host
            .actions
            .iter()
            .filter_map(|action| match action {
                Action::Metric(name, value) => Some((name.as_str(), *value)),
                _ => None,
            })
            .collect();
        assert_eq!(
            metrics,
            vec![
                ("ticks_fired", 1.0),
                ("tick_even", 0.0),
                ("tick_value", 200.0),
                ("ticks_fired", 1.0),
                ("tick_even", 1.0),
                ("tick_value", 200.0),
            ]
        );
    }
}
