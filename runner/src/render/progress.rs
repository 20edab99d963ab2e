//! The live progress line: once a second, open connections against the target, messages per second
//! and failures, rewritten in place on stderr. It only reads live counter values through the
//! function it is given (one process's counters, or the sum over `--workers` processes), and it
//! switches itself off when stderr is not a terminal (CI logs get the final summary only).

use crate::measure::counters::CounterValues;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Start the progress line if stderr is a terminal; it stops (and clears itself) when `done` fires.
/// `read` gives the live counter values each second; `target` is the planned connections.
pub fn start(
    read: impl Fn() -> CounterValues + Send + 'static,
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
            let values = read();
            let (sent, received) = (values.messages_sent, values.messages_received);
            let line = format!(
                "  {:>5.0}s  open {}/{}  sent {}/s  received {}/s  round trips {}  failed {}",
                started.elapsed().as_secs_f64(),
                values.open,
                target,
                sent.saturating_sub(last_sent),
                received.saturating_sub(last_received),
                values.round_trips,
                values.failed,
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
