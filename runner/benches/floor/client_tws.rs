//! The second floor's library: tokio-websockets (strict, built on tokio-util's codec; masks from
//! fastrand, the handshake's SHA-1 from ring). Its read buffer is tokio-util's (8 KiB to start,
//! grown as frames need) and it queues frames without a write buffer of its own: it has no
//! setting for either, so it runs as it ships. No extension: it refuses every RSV bit, so a deflate
//! offer fails the upgrade.

use crate::socket::{FloorSocket, Offer};
use crate::wire::Counted;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio_websockets::{ClientBuilder, Message, WebSocketStream};

pub struct TokioWebsockets(WebSocketStream<Counted>);

impl FloorSocket for TokioWebsockets {
    type Text = Message;

    fn text(text: String) -> Message {
        Message::text(text)
    }

    async fn upgrade(stream: Counted, address: SocketAddr, offer: Offer) -> Option<(Self, bool)> {
        if offer != Offer::Plain {
            return None;
        }
        let builder = ClientBuilder::new().uri(&format!("ws://{address}/")).ok()?;
        builder
            .connect_on(stream)
            .await
            .ok()
            .map(|(ws, _)| (TokioWebsockets(ws), false))
    }

    async fn send(&mut self, text: Message) -> bool {
        self.0.send(text).await.is_ok()
    }

    async fn next_is(&mut self, expected: &Message) -> Option<bool> {
        loop {
            match self.0.next().await {
                Some(Ok(reply)) if reply.is_text() => {
                    return Some(reply.as_payload()[..] == expected.as_payload()[..]);
                }
                Some(Ok(reply)) if reply.is_binary() => return Some(false),
                // Pings are answered by tokio-websockets itself.
                Some(Ok(reply)) if reply.is_ping() || reply.is_pong() => {}
                Some(Ok(_) | Err(_)) | None => return None,
            }
        }
    }

    async fn close(mut self) {
        // Sends Close, reads until the server's Close, then shuts the TCP stream down.
        let _ = self.0.close().await;
    }
}
