//! What a bare client needs from a WebSocket library, as one trait: upgrade a connected TCP
//! stream, send a text, wait for the next data message and compare it with the text sent, close
//! politely. The workloads (`client.rs`) are written once against it; each library is one file
//! beside it (`client_tungstenite.rs`, `client_tws.rs`, `client_deflate.rs`), so the floors differ
//! in the library and in nothing else.

use crate::wire::Counted;
use std::net::SocketAddr;

/// What a bare client offers in its upgrade request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// No extension.
    Plain,
    /// permessage-deflate as a browser offers it (`client_max_window_bits`), with
    /// `client_no_context_takeover` and `server_no_context_takeover` when `no_context_takeover`.
    Deflate { no_context_takeover: bool },
}

impl Offer {
    /// The word for it on the child's command line (`plain`, `deflate`, `deflate-no-takeover`).
    pub fn word(self) -> &'static str {
        match self {
            Offer::Plain => "plain",
            Offer::Deflate {
                no_context_takeover: false,
            } => "deflate",
            Offer::Deflate {
                no_context_takeover: true,
            } => "deflate-no-takeover",
        }
    }

    pub fn parse(word: &str) -> Option<Offer> {
        [
            Offer::Plain,
            Offer::Deflate {
                no_context_takeover: false,
            },
            Offer::Deflate {
                no_context_takeover: true,
            },
        ]
        .into_iter()
        .find(|offer| offer.word() == word)
    }
}

/// One client connection of one library. Control frames (pings, the close handshake's replies)
/// are the library's business, as they are in Volley's connection layer.
pub(crate) trait FloorSocket: Sized {
    /// A text as this library sends it; cloned to keep the echo expected.
    type Text: Clone;

    /// `text` in this library's type, without copying it where the library allows.
    fn text(text: String) -> Self::Text;

    /// The WebSocket upgrade over `stream` (connected, Nagle off) to `ws://address/`, offering
    /// `offer`. `None` on any failure, or when the library cannot make that offer; otherwise the
    /// socket and whether permessage-deflate was agreed.
    async fn upgrade(stream: Counted, address: SocketAddr, offer: Offer) -> Option<(Self, bool)>;

    /// Send `text`; `false` when the connection is unusable.
    async fn send(&mut self, text: Self::Text) -> bool;

    /// The next data message: `Some(true)` a text equal to `expected`, `Some(false)` any other
    /// data message, `None` when the connection closed or failed.
    async fn next_is(&mut self, expected: &Self::Text) -> Option<bool>;

    /// A polite close: send Close, read until the server's Close.
    async fn close(self);
}
