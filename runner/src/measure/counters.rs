//! The live counters of a run ([`Counters`], relaxed atomics bumped by connections and read by
//! the progress line, the metrics endpoint and the sampler) and their plain values
//! ([`CounterValues`]: read once into the report, read live by the progress line and the metrics
//! endpoint, and summed over worker processes by `workers`). Histograms live in `stats`, not here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A scenario callback that used at least this much of its thread's CPU time is counted in
/// `long_callbacks`: it held its worker thread, and every connection waiting on that thread, for
/// as long (docs/benchmarks.md, "A long callback and its neighbours"). One that took this long in
/// wall-clock time but used less CPU was descheduled (the machine was busy, not the scenario) and
/// is counted in `descheduled_callbacks`. The same 5 ms as the generator-saturation limit.
pub const LONG_CALLBACK: Duration = Duration::from_millis(5);

/// Plain counters, updated live with relaxed atomics (read by the progress line and the report).
#[derive(Debug, Default)]
pub struct Counters {
    /// Connection attempts started.
    pub attempted: AtomicU64,
    /// Handshakes completed.
    pub established: AtomicU64,
    /// Connections that failed (connect error, protocol error, scenario trap).
    pub failed: AtomicU64,
    /// Connections open right now.
    pub open: AtomicU64,
    /// Most connections open at once.
    pub peak_open: AtomicU64,
    /// Connections the server closed (Close frame) before the scenario or the run did.
    pub closed_by_server: AtomicU64,
    /// Data messages sent.
    pub messages_sent: AtomicU64,
    /// Data messages received.
    pub messages_received: AtomicU64,
    /// Payload bytes sent.
    pub bytes_sent: AtomicU64,
    /// Payload bytes received.
    pub bytes_received: AtomicU64,
    /// Bytes of WebSocket frames sent, as on the wire: headers and (compressed) payloads of every
    /// frame, control frames included. Counted by the connection layer.
    pub wire_bytes_sent: AtomicU64,
    /// Bytes of WebSocket frames received, as on the wire (see `wire_bytes_sent`).
    pub wire_bytes_received: AtomicU64,
    /// Data messages sent compressed (RSV1 set, permessage-deflate).
    pub compressed_messages_sent: AtomicU64,
    /// Data messages received compressed (RSV1 set).
    pub compressed_messages_received: AtomicU64,
    /// Requests whose reply missed its deadline.
    pub reply_timeouts: AtomicU64,
    /// Requests still waiting for a reply when their connection ended.
    pub requests_abandoned: AtomicU64,
    /// Messages a flow received that no `expect` matched (server pushes, late duplicates).
    pub unexpected_messages: AtomicU64,
    /// Round trips completed (mirrors the histogram count, for the live view).
    pub round_trips: AtomicU64,
    /// Scenario callbacks that used at least [`LONG_CALLBACK`] of their thread's CPU time: while
    /// one runs, nothing else on its worker thread does.
    pub long_callbacks: AtomicU64,
    /// The longest scenario callback so far, µs of wall-clock time.
    pub longest_callback_us: AtomicU64,
    /// The most CPU time a long callback used, µs.
    pub longest_callback_cpu_us: AtomicU64,
    /// Callbacks that took at least [`LONG_CALLBACK`] of wall-clock time but less CPU time: their
    /// thread was descheduled, by other programs or other threads.
    pub descheduled_callbacks: AtomicU64,
    /// Arrivals (arrival-rate shape) dropped because `max_connections` were open.
    pub dropped_arrivals: AtomicU64,
    /// Arrivals (arrival-rate shape) whose time came: started, dropped, pending at the end, or
    /// stopped for want of a data row.
    pub arrivals: AtomicU64,
    /// Iterations still waiting for a pacing permit (`net.max_handshakes_in_flight`,
    /// `net.max_connect_rate`), or still connecting, when the run ended: not attempts, but never
    /// lost either.
    pub pending_at_end: AtomicU64,
    /// TLS handshakes that were full.
    pub tls_full: AtomicU64,
    /// TLS handshakes that resumed a session.
    pub tls_resumed: AtomicU64,
    /// Connections re-opened by the reconnect policy after a drop.
    pub reconnects: AtomicU64,
    /// Reconnect series that reached `net.reconnect.max_attempts` (their attempts already
    /// counted as failures; a give-up is not another one).
    pub reconnect_give_ups: AtomicU64,
    /// Client pings sent.
    pub pings_sent: AtomicU64,
    /// VUs (or arrivals) that stopped because `data_order: unique` had no row left.
    pub data_exhausted: AtomicU64,
    /// Upgrades answered with the status `expect_upgrade` asked for (not 101): passes.
    pub expected_rejections: AtomicU64,
    /// `record-latency` calls whose stamp was in the future (clock skew between machines):
    /// recorded as 0 and counted here.
    pub latency_stamps_in_future: AtomicU64,
    /// Connections the run's end said goodbye on (`on-goodbye` called).
    pub goodbyes: AtomicU64,
    /// Goodbyes cut at `load.goodbye_timeout` with requests still pending.
    pub goodbye_timeouts: AtomicU64,
}

/// Increment a counter by `n`.
pub fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Read a counter.
pub fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Counters {
    /// A scenario callback took `took` of wall-clock time. For a callback that took at least
    /// [`LONG_CALLBACK`], `cpu` says how much of it was its thread's CPU time (`None`: unknown,
    /// then the wall-clock time counts): long in CPU time, it is a long callback; long only in
    /// wall-clock time, it was descheduled. The longest wall-clock time is kept for every callback.
    pub fn callback_ran(&self, took: Duration, cpu: Option<Duration>) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // A plain load first: the maximum rarely changes, and a read-modify-write on every
        // callback would pull the cache line away from the other worker threads each time.
        if micros > read(&self.longest_callback_us) {
            self.longest_callback_us
                .fetch_max(micros, Ordering::Relaxed);
        }
        if took < LONG_CALLBACK {
            return;
        }
        let cpu = cpu.unwrap_or(took);
        if cpu >= LONG_CALLBACK {
            bump(&self.long_callbacks, 1);
            let cpu_micros = u64::try_from(cpu.as_micros()).unwrap_or(u64::MAX);
            self.longest_callback_cpu_us
                .fetch_max(cpu_micros, Ordering::Relaxed);
        } else {
            bump(&self.descheduled_callbacks, 1);
        }
    }

    /// A connection opened: count it and track the peak.
    pub fn opened(&self) {
        let now = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_open.fetch_max(now, Ordering::Relaxed);
    }

    /// A connection that was open has ended.
    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counter values read at one moment (the end of a run, or live).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CounterValues {
    /// See [`Counters`].
    pub attempted: u64,
    /// Established.
    pub established: u64,
    /// Failed.
    pub failed: u64,
    /// Closed by server.
    pub closed_by_server: u64,
    /// Peak open.
    pub peak_open: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Frame bytes sent, as on the wire.
    pub wire_bytes_sent: u64,
    /// Frame bytes received, as on the wire.
    pub wire_bytes_received: u64,
    /// Messages sent compressed.
    pub compressed_messages_sent: u64,
    /// Messages received compressed.
    pub compressed_messages_received: u64,
    /// Reply timeouts.
    pub reply_timeouts: u64,
    /// Requests abandoned when their connection ended.
    pub requests_abandoned: u64,
    /// Messages a flow received that no `expect` matched.
    pub unexpected_messages: u64,
    /// Callbacks that took at least `LONG_CALLBACK`.
    pub long_callbacks: u64,
    /// The longest callback, µs (the maximum when processes are added).
    pub longest_callback_us: u64,
    /// The most CPU a long callback used, µs (the maximum when processes are added).
    pub longest_callback_cpu_us: u64,
    /// Callbacks long in wall-clock time only.
    pub descheduled_callbacks: u64,
    /// Dropped arrivals.
    pub dropped_arrivals: u64,
    /// Full TLS handshakes.
    pub tls_full: u64,
    /// Resumed TLS handshakes.
    pub tls_resumed: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Reconnect give-ups.
    pub reconnect_give_ups: u64,
    /// DNS queries (filled in by `run` from the connector).
    pub dns_queries: u64,
    /// Pings sent.
    pub pings_sent: u64,
    /// Connections open when read (a gauge).
    pub open: u64,
    /// Round trips completed.
    pub round_trips: u64,
    /// VUs stopped for want of a `unique` data row.
    pub data_exhausted: u64,
    /// Upgrades answered as `expect_upgrade` expected.
    pub expected_rejections: u64,
    /// Arrivals whose time came (arrival-rate shape).
    pub arrivals: u64,
    /// Iterations waiting for a pacing permit or connecting when the run ended.
    pub pending_at_end: u64,
    /// Latency stamps in the future.
    pub latency_stamps_in_future: u64,
    /// Goodbyes said.
    pub goodbyes: u64,
    /// Goodbyes cut at `load.goodbye_timeout`.
    pub goodbye_timeouts: u64,
}

impl CounterValues {
    /// Read the live counters now.
    pub fn read(counters: &Counters) -> CounterValues {
        CounterValues {
            attempted: read(&counters.attempted),
            established: read(&counters.established),
            failed: read(&counters.failed),
            closed_by_server: read(&counters.closed_by_server),
            peak_open: read(&counters.peak_open),
            messages_sent: read(&counters.messages_sent),
            messages_received: read(&counters.messages_received),
            bytes_sent: read(&counters.bytes_sent),
            bytes_received: read(&counters.bytes_received),
            wire_bytes_sent: read(&counters.wire_bytes_sent),
            wire_bytes_received: read(&counters.wire_bytes_received),
            compressed_messages_sent: read(&counters.compressed_messages_sent),
            compressed_messages_received: read(&counters.compressed_messages_received),
            reply_timeouts: read(&counters.reply_timeouts),
            requests_abandoned: read(&counters.requests_abandoned),
            unexpected_messages: read(&counters.unexpected_messages),
            long_callbacks: read(&counters.long_callbacks),
            longest_callback_us: read(&counters.longest_callback_us),
            longest_callback_cpu_us: read(&counters.longest_callback_cpu_us),
            descheduled_callbacks: read(&counters.descheduled_callbacks),
            dropped_arrivals: read(&counters.dropped_arrivals),
            tls_full: read(&counters.tls_full),
            tls_resumed: read(&counters.tls_resumed),
            reconnects: read(&counters.reconnects),
            reconnect_give_ups: read(&counters.reconnect_give_ups),
            dns_queries: 0,
            pings_sent: read(&counters.pings_sent),
            open: read(&counters.open),
            round_trips: read(&counters.round_trips),
            data_exhausted: read(&counters.data_exhausted),
            expected_rejections: read(&counters.expected_rejections),
            arrivals: read(&counters.arrivals),
            pending_at_end: read(&counters.pending_at_end),
            latency_stamps_in_future: read(&counters.latency_stamps_in_future),
            goodbyes: read(&counters.goodbyes),
            goodbye_timeouts: read(&counters.goodbye_timeouts),
        }
    }

    /// Add `other` into `self`, every field summed (processes running side by side) except
    /// `longest_callback_us` and `longest_callback_cpu_us`, the maxima. `peak_open` becomes the sum of the peaks: an upper
    /// bound on the simultaneous peak, not that peak.
    pub fn add(&mut self, other: &CounterValues) {
        let CounterValues {
            attempted,
            established,
            failed,
            closed_by_server,
            peak_open,
            messages_sent,
            messages_received,
            bytes_sent,
            bytes_received,
            wire_bytes_sent,
            wire_bytes_received,
            compressed_messages_sent,
            compressed_messages_received,
            reply_timeouts,
            requests_abandoned,
            unexpected_messages,
            long_callbacks,
            longest_callback_us,
            longest_callback_cpu_us,
            descheduled_callbacks,
            dropped_arrivals,
            tls_full,
            tls_resumed,
            reconnects,
            reconnect_give_ups,
            dns_queries,
            pings_sent,
            open,
            round_trips,
            data_exhausted,
            expected_rejections,
            arrivals,
            pending_at_end,
            latency_stamps_in_future,
            goodbyes,
            goodbye_timeouts,
        } = *other;
        self.attempted += attempted;
        self.established += established;
        self.failed += failed;
        self.closed_by_server += closed_by_server;
        self.peak_open += peak_open;
        self.messages_sent += messages_sent;
        self.messages_received += messages_received;
        self.bytes_sent += bytes_sent;
        self.bytes_received += bytes_received;
        self.wire_bytes_sent += wire_bytes_sent;
        self.wire_bytes_received += wire_bytes_received;
        self.compressed_messages_sent += compressed_messages_sent;
        self.compressed_messages_received += compressed_messages_received;
        self.reply_timeouts += reply_timeouts;
        self.requests_abandoned += requests_abandoned;
        self.unexpected_messages += unexpected_messages;
        self.long_callbacks += long_callbacks;
        self.longest_callback_us = self.longest_callback_us.max(longest_callback_us);
        self.longest_callback_cpu_us = self.longest_callback_cpu_us.max(longest_callback_cpu_us);
        self.descheduled_callbacks += descheduled_callbacks;
        self.dropped_arrivals += dropped_arrivals;
        self.tls_full += tls_full;
        self.tls_resumed += tls_resumed;
        self.reconnects += reconnects;
        self.reconnect_give_ups += reconnect_give_ups;
        self.dns_queries += dns_queries;
        self.pings_sent += pings_sent;
        self.open += open;
        self.round_trips += round_trips;
        self.data_exhausted += data_exhausted;
        self.expected_rejections += expected_rejections;
        self.arrivals += arrivals;
        self.pending_at_end += pending_at_end;
        self.latency_stamps_in_future += latency_stamps_in_future;
        self.goodbyes += goodbyes;
        self.goodbye_timeouts += goodbye_timeouts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_callbacks_are_counted_from_the_threshold_and_the_longest_is_kept() {
        let counters = Counters::default();
        let ms = Duration::from_millis;
        counters.callback_ran(Duration::from_micros(40), None);
        counters.callback_ran(LONG_CALLBACK - Duration::from_micros(1), None);
        assert_eq!(read(&counters.long_callbacks), 0);
        counters.callback_ran(LONG_CALLBACK, Some(LONG_CALLBACK));
        counters.callback_ran(ms(30), Some(ms(29)));
        counters.callback_ran(ms(7), None);
        assert_eq!(read(&counters.long_callbacks), 3);
        assert_eq!(read(&counters.longest_callback_us), 30_000);
        assert_eq!(read(&counters.longest_callback_cpu_us), 29_000);
        assert_eq!(read(&counters.descheduled_callbacks), 0);
    }

    #[test]
    fn a_callback_long_in_wall_clock_time_only_was_descheduled_not_long() {
        // 40 ms of wall-clock time, 0.3 ms of CPU: the thread waited for a CPU (issue 21).
        let counters = Counters::default();
        counters.callback_ran(Duration::from_millis(40), Some(Duration::from_micros(300)));
        assert_eq!(read(&counters.long_callbacks), 0);
        assert_eq!(read(&counters.descheduled_callbacks), 1);
        assert_eq!(read(&counters.longest_callback_us), 40_000);
        assert_eq!(read(&counters.longest_callback_cpu_us), 0);
    }

    #[test]
    fn adding_counter_values_sums_every_field() {
        let one = CounterValues {
            attempted: 3,
            open: 2,
            peak_open: 3,
            messages_sent: 10,
            round_trips: 4,
            wire_bytes_sent: 700,
            wire_bytes_received: 900,
            compressed_messages_sent: 8,
            compressed_messages_received: 9,
            ..Default::default()
        };
        let mut sum = one;
        sum.add(&one);
        assert_eq!(
            (
                sum.wire_bytes_sent,
                sum.wire_bytes_received,
                sum.compressed_messages_sent,
                sum.compressed_messages_received
            ),
            (1400, 1800, 16, 18)
        );
        assert_eq!(sum.attempted, 6);
        assert_eq!(sum.open, 4);
        assert_eq!(sum.peak_open, 6);
        assert_eq!(sum.messages_sent, 20);
        assert_eq!(sum.round_trips, 8);
    }

    #[test]
    fn wire_and_compression_counters_are_read_with_the_others() {
        let counters = Counters::default();
        bump(&counters.bytes_sent, 1000);
        bump(&counters.wire_bytes_sent, 230);
        bump(&counters.wire_bytes_received, 250);
        bump(&counters.compressed_messages_sent, 3);
        bump(&counters.compressed_messages_received, 2);
        let values = CounterValues::read(&counters);
        assert_eq!(
            (
                values.bytes_sent,
                values.wire_bytes_sent,
                values.wire_bytes_received,
                values.compressed_messages_sent,
                values.compressed_messages_received
            ),
            (1000, 230, 250, 3, 2)
        );
        let json = serde_json::to_string(&values).unwrap_or_default();
        let back: CounterValues = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, values);
        // A feed line of a worker from before these counters reads as zero.
        let old: CounterValues = serde_json::from_str(r#"{"bytes_sent": 5}"#).unwrap_or_default();
        assert_eq!((old.bytes_sent, old.wire_bytes_sent), (5, 0));
    }
}
