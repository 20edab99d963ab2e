//! The first floor's library: tokio-tungstenite (the workspace's, the library Volley's connection
//! layer was built on), 4 KiB read and write buffers. No extension: it cannot offer
//! permessage-deflate (tungstenite refuses frames with RSV1), so a deflate offer fails the upgrade.

use crate::socket::{FloorSocket, Offer};
use crate::wire::Counted;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub struct Tungstenite(WebSocketStream<Counted>);

impl FloorSocket for Tungstenite {
    type Text = Utf8Bytes;

    fn text(text: String) -> Utf8Bytes {
        text.into()
    }

    async fn upgrade(stream: Counted, address: SocketAddr, offer: Offer) -> Option<(Self, bool)> {
        if offer != Offer::Plain {
            return None;
        }
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(4096);
        let url = format!("ws://{address}/");
        tokio_tungstenite::client_async_with_config(url, stream, Some(config))
            .await
            .ok()
            .map(|(ws, _)| (Tungstenite(ws), false))
    }

    async fn send(&mut self, text: Utf8Bytes) -> bool {
        self.0.send(Message::Text(text)).await.is_ok()
    }

    async fn next_is(&mut self, expected: &Utf8Bytes) -> Option<bool> {
        loop {
            match self.0.next().await {
                Some(Ok(Message::Text(reply))) => return Some(reply == *expected),
                Some(Ok(Message::Binary(_))) => return Some(false),
                // Pings are answered by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            }
        }
    }

    async fn close(mut self) {
        let _ = self.0.close(None).await;
        while let Some(Ok(_)) = self.0.next().await {}
    }
}
