//! W4's bare client: Volley's own WebSocket codec (`volley::websocket`, RFC 6455 framing and
//! RFC 7692 permessage-deflate on flate2), used directly, without scenarios, scheduler or
//! measurements — the same compressor, inflater and framing Volley's connections use, so W4's ratio
//! is the cost of Volley's layer over its own codec, not a comparison of two codecs.
//!
//! Why not a crate such as yawc (client deflate with context takeover): a different deflate
//! implementation and buffer strategy would mix codec differences into the ratio, and yawc brings
//! hyper, nom and a second `rand` into the bench for its handshake.
//!

use crate::socket::{FloorSocket, Offer};
use crate::wire::Counted;
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use volley::websocket::client_handshake;
use volley::websocket::compression::{Deflation, Inflation};
use volley::websocket::deflate::negotiation::{self, DeflateOffer};
use volley::websocket::message::{Assembler, Incoming, Role};
use volley::websocket::socket::{Outgoing, WebSocket, random_key};

/// Largest message accepted (W4's are 1 KiB).
const MAX_MESSAGE: usize = 1 << 20;

/// Volley's compression level by default.
const LEVEL: u32 = 6;

/// A connection on Volley's own codec.
pub struct VolleyCodec(WebSocket<Counted>);

impl VolleyCodec {
    /// Why this client cannot run in this build, or `None` when it can.
    pub fn missing() -> Option<&'static str> {
        None
    }
}

impl FloorSocket for VolleyCodec {
    type Text = String;

    fn text(text: String) -> String {
        text
    }

    async fn upgrade(
        mut stream: Counted,
        address: SocketAddr,
        offer: Offer,
    ) -> Option<(Self, bool)> {
        let deflate = match offer {
            Offer::Plain => None,
            Offer::Deflate {
                no_context_takeover,
            } => Some(DeflateOffer {
                client_max_window_bits: None,
                server_max_window_bits: None,
                client_no_context_takeover: no_context_takeover,
                server_no_context_takeover: no_context_takeover,
                level: LEVEL,
            }),
        };
        let url = url::Url::parse(&format!("ws://{address}/")).ok()?;
        let header = deflate.as_ref().map(DeflateOffer::header_value);
        let request = client_handshake::request(&url, &[], &[], header.as_deref(), random_key());
        stream.write_all(&request.bytes).await.ok()?;
        let (response, already_read) = client_handshake::read_response(&mut stream).await.ok()?;
        client_handshake::check(&response, &request.key, &[]).ok()?;
        let extensions: Vec<&str> = response.values("sec-websocket-extensions").collect();
        let agreed = match &deflate {
            Some(offer) => negotiation::accept_response(offer, &extensions).ok()?,
            None => None,
        };
        let inflation = agreed.map(|agreed| Inflation::new(Role::Client, &agreed));
        let deflation = agreed.map(|agreed| Deflation::new(Role::Client, &agreed, LEVEL));
        let assembler = Assembler::new(Role::Client, MAX_MESSAGE, inflation);
        let socket = WebSocket::new(stream, Role::Client, assembler, deflation, already_read);
        Some((VolleyCodec(socket), agreed.is_some()))
    }

    async fn send(&mut self, text: String) -> bool {
        self.0.send(Outgoing::Text(text)) && self.0.flush().await.is_ok()
    }

    async fn next_is(&mut self, expected: &String) -> Option<bool> {
        loop {
            match self.0.next().await? {
                Ok(Incoming::Text(text)) => return Some(&text == expected),
                Ok(Incoming::Binary(_)) => return Some(false),
                Ok(Incoming::Ping(_)) => {
                    // The codec queued the Pong: send it now, as Volley's loop would.
                    self.0.flush().await.ok()?;
                }
                Ok(Incoming::Pong(_)) => {}
                Ok(Incoming::Close(_)) | Err(_) => return None,
            }
        }
    }

    async fn close(mut self) {
        if self.0.close(1000, "").await.is_err() {
            return;
        }
        while let Some(Ok(_)) = self.0.next().await {}
    }
}
