//! The embedded server of an `embedded://` run, on a thread of its own with a single-threaded
//! runtime, so its CPU time can be measured apart from the runner's (`getrusage(RUSAGE_THREAD)`
//! at the end of the thread) and reported as the embedded server's share. What it serves lives in
//! `server`; `volley serve` runs the same server on the main runtime instead.

use crate::config::ServerMode;
use crate::devserver::server::EmbeddedServer;
use crate::measure::process::CpuTime;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// An embedded server running on its own thread.
pub struct InProcessServer {
    address: SocketAddr,
    stop: CancellationToken,
    done: oneshot::Receiver<CpuTime>,
}

impl InProcessServer {
    /// Start serving `mode` on `address` (port 0 picks a free port) on a new thread.
    pub async fn start(address: SocketAddr, mode: ServerMode) -> std::io::Result<InProcessServer> {
        let (started_tx, started_rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let stop = CancellationToken::new();
        let thread_stop = stop.clone();
        std::thread::Builder::new()
            .name("volley-embedded-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = started_tx.send(Err(error));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match EmbeddedServer::start(address, mode).await {
                        Ok(server) => {
                            let _ = started_tx.send(Ok(server.address()));
                            thread_stop.cancelled().await;
                            server.stop(Duration::from_secs(2)).await;
                        }
                        Err(error) => {
                            let _ = started_tx.send(Err(error));
                        }
                    }
                });
                drop(runtime);
                let _ = done_tx.send(CpuTime::read(libc::RUSAGE_THREAD));
            })?;
        let address = started_rx
            .await
            .map_err(|_| std::io::Error::other("the embedded server's thread ended early"))??;
        Ok(InProcessServer {
            address,
            stop,
            done,
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Close every connection, wait for the thread (at most `grace` + 1 s) and say how much CPU
    /// time it used (`None` if it did not end in time).
    pub async fn stop(self, grace: Duration) -> Option<CpuTime> {
        self.stop.cancel();
        tokio::time::timeout(grace + Duration::from_secs(1), self.done)
            .await
            .ok()
            .and_then(Result::ok)
    }
}
