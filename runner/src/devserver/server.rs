//! The embedded WebSocket server behind `embedded://echo`, `embedded://chat` and `volley serve`:
//! echo sends every data message back; chat broadcasts every data message to all connections on the
//! same path (the room), sender included. Meant for trials, examples, tests and benchmarks on
//! loopback, not production. With SO_REUSEPORT ([`EmbeddedServer::start_shared`]) several
//! processes (`volley serve --workers N`) listen on one port and the kernel spreads the
//! connections between them; chat rooms are then per process.

use crate::config::ServerMode;
use crate::websocket::compression::{Deflation, Inflation};
use crate::websocket::deflate::negotiation::{ServerDeflate, answer_offers};
use crate::websocket::http_head::read_head;
use crate::websocket::message::{Assembler, Incoming, Role};
use crate::websocket::server_handshake::{self, BAD_REQUEST};
use crate::websocket::socket::{Outgoing, WebSocket};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

type Rooms = Arc<Mutex<HashMap<String, broadcast::Sender<Outgoing>>>>;

/// A running embedded server; dropping it does not stop it, call [`EmbeddedServer::stop`].
pub struct EmbeddedServer {
    address: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl EmbeddedServer {
    /// Bind `address` (port 0 picks a free port) and serve in `mode` on the current runtime.
    pub async fn start(address: SocketAddr, mode: ServerMode) -> std::io::Result<EmbeddedServer> {
        EmbeddedServer::start_shared(address, mode, None, false, false).await
    }

    /// Like [`EmbeddedServer::start`], serving `wss://` with `tls` when given.
    pub async fn start_with(
        address: SocketAddr,
        mode: ServerMode,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<EmbeddedServer> {
        EmbeddedServer::start_shared(address, mode, tls, false, false).await
    }

    /// Like [`EmbeddedServer::start_with`]; with `reuse_port`, other processes may listen on the
    /// same address (SO_REUSEPORT) and the kernel balances new connections between them; with
    /// `compression`, it accepts permessage-deflate (window 15, context takeover, unless the
    /// client asks for less).
    pub async fn start_shared(
        address: SocketAddr,
        mode: ServerMode,
        tls: Option<Arc<rustls::ServerConfig>>,
        reuse_port: bool,
        compression: bool,
    ) -> std::io::Result<EmbeddedServer> {
        let listener = listen(address, reuse_port)?;
        let address = listener.local_addr()?;
        let stop = CancellationToken::new();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let deflate = compression.then(ServerDeflate::default);
        let task = tokio::spawn(accept_loop(listener, mode, acceptor, deflate, stop.clone()));
        Ok(EmbeddedServer {
            address,
            stop,
            task,
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Close every connection (Close 1001) and wait for them, at most `grace`.
    pub async fn stop(self, grace: Duration) {
        self.stop.cancel();
        let _ = tokio::time::timeout(grace, self.task).await;
    }
}

/// Connections waiting to be accepted. tokio's default (1024) overflows when thousands of clients
/// connect at once (the kernel then drops SYNs and clients retry after a second); the kernel caps
/// this at net.core.somaxconn.
const LISTEN_BACKLOG: u32 = 8192;

fn listen(address: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

async fn accept_loop(
    listener: TcpListener,
    mode: ServerMode,
    tls: Option<tokio_rustls::TlsAcceptor>,
    deflate: Option<ServerDeflate>,
    stop: CancellationToken,
) {
    let rooms: Rooms = Arc::default();
    let deflate = Arc::new(deflate);
    let tracker = TaskTracker::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let (rooms, stop, deflate) = (rooms.clone(), stop.clone(), deflate.clone());
                    match &tls {
                        None => {
                            tracker.spawn(serve_connection(stream, mode, deflate, rooms, stop));
                        }
                        Some(acceptor) => {
                            let acceptor = acceptor.clone();
                            tracker.spawn(async move {
                                let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                                if let Ok(Ok(stream)) = handshake.await {
                                    serve_connection(stream, mode, deflate, rooms, stop).await;
                                }
                            });
                        }
                    }
                }
                // EMFILE and friends: back off instead of spinning; the client sees the timeout.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    tracker.close();
    tracker.wait().await;
}

/// Largest message the server takes (its clients are tests and benchmarks on loopback).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// How long a client may take to send its upgrade request.
const REQUEST_WITHIN: Duration = Duration::from_secs(10);

async fn serve_connection<S>(
    mut stream: S,
    mode: ServerMode,
    deflate: Arc<Option<ServerDeflate>>,
    rooms: Rooms,
    stop: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(Ok((head, already_read))) =
        tokio::time::timeout(REQUEST_WITHIN, read_head(&mut stream)).await
    else {
        return;
    };
    let Some(request) = server_handshake::parse_request(&head) else {
        let _ = stream.write_all(BAD_REQUEST).await;
        return;
    };
    let offers: Vec<&str> = request.extensions.iter().map(String::as_str).collect();
    let agreed = deflate
        .as_ref()
        .as_ref()
        .and_then(|server| answer_offers(&offers, server).map(|answer| (server.level, answer)));
    let answer = server_handshake::response(
        &request,
        agreed.as_ref().map(|(_, (_, header))| header.as_str()),
    );
    if stream.write_all(&answer).await.is_err() || stream.flush().await.is_err() {
        return;
    }
    let path = request.path;
    let inflation = agreed
        .as_ref()
        .map(|(_, (agreed, _))| Inflation::new(Role::Server, agreed));
    let deflation = agreed
        .as_ref()
        .map(|(level, (agreed, _))| Deflation::new(Role::Server, agreed, *level));
    let assembler = Assembler::new(Role::Server, MAX_MESSAGE, inflation);
    let mut socket = WebSocket::new(stream, Role::Server, assembler, deflation, already_read);
    let room = match mode {
        ServerMode::Echo => None,
        ServerMode::Chat => {
            // Subscribe under the lock: a member leaving at the same moment must see us in the
            // room, or it would delete the room we are joining.
            let joined = match rooms.lock() {
                Ok(mut rooms) => {
                    let sender = rooms
                        .entry(path.clone())
                        .or_insert_with(|| broadcast::channel(1024).0)
                        .clone();
                    let receiver = sender.subscribe();
                    (sender, receiver)
                }
                Err(_) => return,
            };
            Some(joined)
        }
    };
    let (sender, mut receiver) = match room {
        Some((sender, receiver)) => (Some(sender), Some(receiver)),
        None => (None, None),
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                let _ = socket.close(1001, "server stopping").await;
                break;
            }
            incoming = socket.next() => {
                let message = match incoming {
                    Some(Ok(Incoming::Text(text))) => Outgoing::Text(text),
                    Some(Ok(Incoming::Binary(data))) => Outgoing::Binary(data),
                    Some(Ok(Incoming::Ping(_) | Incoming::Pong(_))) => {
                        // Answer the ping now, even while nothing else is sent.
                        if socket.flush().await.is_err() {
                            break;
                        }
                        continue;
                    }
                    Some(Ok(Incoming::Close(_))) | None | Some(Err(_)) => break,
                };
                match &sender {
                    Some(sender) => {
                        let _ = sender.send(message);
                    }
                    None => {
                        socket.send(message);
                        if socket.flush().await.is_err() {
                            break;
                        }
                    }
                }
            }
            broadcast = async {
                match receiver.as_mut() {
                    Some(receiver) => receiver.recv().await,
                    None => std::future::pending().await,
                }
            } => match broadcast {
                Ok(message) => {
                    socket.send(message);
                    if socket.flush().await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    // Our answer to the client's Close (queued by the socket), then the server closes TCP first.
    let _ = socket.flush().await;
    if let (Some(sender), Ok(mut rooms)) = (sender, rooms.lock()) {
        // Drop empty rooms: our receiver is still counted, so "only us" means empty.
        if sender.receiver_count() <= 1 {
            rooms.remove(&path);
        }
    }
}
