//! The floor's own server (`floor-server`, a child of the bench, used by the handshake sweep): a
//! bare tokio-tungstenite echo server on a `current_thread` runtime, bound with tokio's default
//! listen backlog (1,024, like websocat's), so the sweep shows what the cap does against a server
//! that does not enlarge its backlog the way `volley serve` does (8,192, capped by
//! net.core.somaxconn). Prints `floor-server: listening on ws://ADDR …` first; exits when killed or
//! after an hour.

use futures_util::{SinkExt, StreamExt};
use std::process::ExitCode;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Upper bound on the server's life, in case the bench that started it is gone.
const LIFETIME: Duration = Duration::from_secs(3600);

pub fn main() -> ExitCode {
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("floor-server: cannot raise the open-file limit: {error}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("floor-server: cannot start tokio: {error}");
            return ExitCode::from(2);
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("floor-server: cannot listen: {error}");
                return ExitCode::from(2);
            }
        };
        match listener.local_addr() {
            Ok(address) => println!(
                "floor-server: listening on ws://{address} (tokio-tungstenite echo, tokio's default backlog)"
            ),
            Err(error) => {
                eprintln!("floor-server: no local address: {error}");
                return ExitCode::from(2);
            }
        }
        let accept = async {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::task::spawn_local(echo(stream));
                    }
                    // EMFILE and friends: back off instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        };
        let _ = tokio::time::timeout(LIFETIME, accept).await;
        ExitCode::SUCCESS
    })
}

/// Upgrade, then send every text or binary message back until the client closes.
async fn echo(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}
