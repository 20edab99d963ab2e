//! The signals that interrupt the `volley` binary: SIGINT (Ctrl-C) and SIGTERM (what CI
//! cancellation, `kill` and Kubernetes send) are handled alike. `main.rs` installs them once at
//! start-up and turns the first one into the run's polite shutdown and the second into its hard
//! stop; `volley serve` stops on the first. The run's reaction (close, drain, report) lives in
//! `run.rs` and `load::drive`, not here.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM listeners, installed together so neither ends the process by default.
pub struct Interrupts {
    int: Signal,
    term: Signal,
}

impl Interrupts {
    /// Install the listeners (from then on, neither signal kills the process).
    pub fn install() -> std::io::Result<Interrupts> {
        Ok(Interrupts {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Wait for the next SIGINT or SIGTERM and name it (`None` if the listeners are gone).
    pub async fn next(&mut self) -> Option<&'static str> {
        tokio::select! {
            got = self.int.recv() => got.map(|()| "SIGINT"),
            got = self.term.recv() => got.map(|()| "SIGTERM"),
        }
    }
}
