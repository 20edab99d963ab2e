//! W4's bare client: Volley's own WebSocket codec (`volley::websocket`, RFC 6455 framing and
//! RFC 7692 permessage-deflate on flate2), used directly, without scenarios, scheduler or
//! measurements — the same compressor, inflater and framing Volley's connections use, so W4's ratio
//! is the cost of Volley's layer over its own codec, not a comparison of two codecs.
//!
//! Why not a crate such as yawc (client deflate with context takeover): a different deflate
//! implementation and buffer strategy would mix codec differences into the ratio, and yawc brings
//! hyper, nom and a second `rand` into the bench for its handshake.
//!
//! TODO(lead): the codec's public API lands with issue 22's `runner/src/websocket/`. Until then this
//! type has no value and `floor-client deflate …` says so (exit 2), and the W4 table shows "—" for
//! the bare side. To finish it, replace the uninhabited field with the codec's client socket over
//! [`Counted`] and fill the five functions:
//! - `upgrade`: the upgrade request to `ws://{address}/` with a deflate offer built from `offer`
//!   (`Offer::Deflate { no_context_takeover }` → offer `client_max_window_bits` bare as a browser
//!   does, plus `client_no_context_takeover` and `server_no_context_takeover` when
//!   `no_context_takeover`; level 6, as Volley's default; `Offer::Plain` → no extension); return
//!   the socket and whether the server agreed permessage-deflate.
//! - `text`/`send`: one text message (compressed when agreed, as Volley sends it).
//! - `next_is`: the next data message, inflated and compared with the text sent; control frames
//!   answered by the codec as Volley's connection answers them.
//! - `close`: Close, then read to the server's Close.
//!
//! and make [`VolleyCodec::missing`] return `None`.

use crate::socket::{FloorSocket, Offer};
use crate::wire::Counted;
use std::convert::Infallible;
use std::net::SocketAddr;

/// A connection on Volley's own codec (uninhabited until the codec's API lands; see the TODO).
pub struct VolleyCodec(Infallible);

impl VolleyCodec {
    /// Why this client cannot run in this build, or `None` when it can.
    pub fn missing() -> Option<&'static str> {
        Some(
            "the bare deflate client needs volley::websocket (issue 22's codec), which this build does not have yet",
        )
    }
}

impl FloorSocket for VolleyCodec {
    type Text = String;

    fn text(text: String) -> String {
        text
    }

    async fn upgrade(
        _stream: Counted,
        _address: SocketAddr,
        _offer: Offer,
    ) -> Option<(Self, bool)> {
        None
    }

    async fn send(&mut self, _text: String) -> bool {
        match self.0 {}
    }

    async fn next_is(&mut self, _expected: &String) -> Option<bool> {
        match self.0 {}
    }

    async fn close(self) {
        match self.0 {}
    }
}
