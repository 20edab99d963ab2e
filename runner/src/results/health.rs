//! Generator health: whether the runner itself was the bottleneck. Timer lag (how late scenario
//! timers fired) is the generator's own delay; every send it delays makes the measured round trips
//! longer by up to that much, through no fault of the server. When it is large — above
//! [`LAG_LIMIT_US`] at the 99th percentile, or above [`LAG_SHARE`] of the round-trip median (and
//! above [`LAG_FLOOR_US`], twice tokio's 1 ms timer granularity, which an idle runner reaches) —
//! the report carries a warning that says so, with the figures and what to do. Arrival lag (arrival-rate runs that started arrivals late)
//! is judged the same way, unless the lateness was a wait for a pacing permit (the `queue` connect
//! phase), which gets its own warning: the server upgraded too slowly, not the generator, and so are scenario callbacks long enough to hold up their worker thread
//! (`long_callbacks`). Called by `build` and again by `merge` (on merged histograms).

use crate::results::report::Report;

/// Timer lag p99 above this (µs) means the generator was saturated.
pub const LAG_LIMIT_US: f64 = 5_000.0;
/// Timer lag p99 above this share of the round-trip p50 means the generator's delay is a
/// noticeable part of what was measured…
pub const LAG_SHARE: f64 = 0.1;
/// …provided it is above twice tokio's 1 ms timer granularity (µs): an idle runner's timers land
/// up to about a millisecond late (the README's example: p99 1.1 ms against a 0.4 ms median).
pub const LAG_FLOOR_US: f64 = 2_000.0;

/// The warnings `report` deserves, in a fixed order.
pub fn warnings(report: &Report) -> Vec<String> {
    let mut warnings = Vec::new();
    let lag = &report.timer_lag;
    let rtt_p50 = report.round_trips.p50;
    let share_exceeded =
        report.round_trips.count > 0 && lag.p99 > LAG_FLOOR_US && lag.p99 > LAG_SHARE * rtt_p50;
    if lag.count > 0 && (lag.p99 > LAG_LIMIT_US || share_exceeded) {
        let why = if lag.p99 > LAG_LIMIT_US {
            format!("above {}", ms(LAG_LIMIT_US))
        } else {
            format!("above 10% of the round-trip median {}", ms(rtt_p50))
        };
        warnings.push(format!(
            "the generator was saturated: timer lag p99 {} ({why}); round trips include up to that much of the runner's own delay. Run fewer connections per core (this run: {} connections), spread them with --workers N, or use more machines (--shard)",
            ms(lag.p99),
            report.run.connections,
        ));
    }
    let long = &report.long_callbacks;
    if long.count > 0 {
        warnings.push(format!(
            "{} scenario callback{} took {} or longer (longest {}): while a callback runs, nothing else on its worker thread does, so the round trips and timers of the connections waiting there grew by up to that much. Keep callbacks short (split long work over timers); more cores (or --workers N) spread the delay but do not remove it",
            long.count,
            if long.count == 1 { "" } else { "s" },
            ms(long.threshold_us as f64),
            ms(long.max_us as f64),
        ));
    }
    let arrivals = &report.arrival_lag;
    let queue_p99 = report
        .connect_phases
        .get("queue")
        .map_or(0.0, |queue| queue.p99);
    let waited_for_pacing = queue_p99 > LAG_LIMIT_US;
    if arrivals.count > 0 && arrivals.p99 > LAG_LIMIT_US && !waited_for_pacing {
        warnings.push(format!(
            "arrivals started late: arrival lag p99 {} (above {}); the offered rate was lower than load.arrival_rate. Lower the rate per process or spread it with --workers N",
            ms(arrivals.p99),
            ms(LAG_LIMIT_US),
        ));
    }
    let pending_at_end = report.connections.pending_at_end;
    if waited_for_pacing {
        warnings.push(format!(
            "connections waited for a pacing permit before connecting: queue p99 {}{}{}; the server completes upgrades more slowly than the load starts connections, and net.max_handshakes_in_flight / net.max_connect_rate hold the rest back. That wait is counted in arrival lag, not hidden: raise the caps if the server can take more handshakes at once, or lower the rate",
            ms(queue_p99),
            if arrivals.count > 0 {
                format!(", arrival lag p99 {}", ms(arrivals.p99))
            } else {
                String::new()
            },
            if pending_at_end > 0 {
                format!(", {pending_at_end} still waiting or connecting when the run ended")
            } else {
                String::new()
            },
        ));
    }
    warnings
}

/// Microseconds as milliseconds, for people.
fn ms(us: f64) -> String {
    format!("{:.1} ms", us / 1000.0)
}
