//! The server's answer to the WebSocket upgrade as a scenario reads it (`host.handshake()`):
//! status, headers and the chosen subprotocol, taken from the HTTP response by `connection::connect`
//! and handed to the connection's `ConnState` before `on-open`. Whether an answer was the expected
//! one (`expect_upgrade`) is decided in `load::iteration`, not here.

use crate::scenario::bindings::Handshake;
use tokio_tungstenite::tungstenite::handshake::client::Response;

/// Response headers kept for the scenario; the HTTP parser already bounds their number and size.
const MAX_HEADERS: usize = 128;

/// The facts of `response`.
pub fn of_response(response: &Response) -> Handshake {
    let headers = response
        .headers()
        .iter()
        .take(MAX_HEADERS)
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let subprotocol = response
        .headers()
        .get("sec-websocket-protocol")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned());
    Handshake {
        status: response.status().as_u16(),
        headers,
        subprotocol,
    }
}

/// What a connection knows before any answer is read (never seen by a scenario in a real run:
/// `load::iteration` sets the real answer before `on-open`).
pub fn none_yet() -> Handshake {
    Handshake {
        status: 0,
        headers: Vec::new(),
        subprotocol: None,
    }
}
