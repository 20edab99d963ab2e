//! The live progress line: once a second, open connections against the target, messages per second
//! and failures, rewritten in place on stderr. It only reads the live counters, and it switches
//! itself off when stderr is not a terminal (CI logs get the final summary only).

use crate::measure::collector::Collector;
use crate::measure::counters::read;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Start the progress line if stderr is a terminal; it stops (and clears itself) when `done` fires.
pub fn start(
    collector: Arc<Collector>,
    target: u32,
    done: CancellationToken,
) -> Option<JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(tokio::spawn(async move {
        let started = Instant::now();
        let mut last_sent = 0;
        let mut last_received = 0;
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = done.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let counters = &collector.counters;
            let sent = read(&counters.messages_sent);
            let received = read(&counters.messages_received);
            let line = format!(
                "  {:>5.0}s  open {}/{}  sent {}/s  received {}/s  round trips {}  failed {}",
                started.elapsed().as_secs_f64(),
                read(&counters.open),
                target,
                sent - last_sent,
                received - last_received,
                read(&counters.round_trips),
                read(&counters.failed),
            );
            last_sent = sent;
            last_received = received;
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K{line}");
            let _ = stderr.flush();
        }
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[2K");
        let _ = stderr.flush();
    }))
}
