//! The server's answer to the WebSocket upgrade as a scenario reads it (`host.handshake()`):
//! status, headers and the chosen subprotocol, taken from the HTTP response by `connection::connect`
//! and handed to the connection's `ConnState` before `on-open`. Whether an answer was the expected
//! one (`expect_upgrade`) is decided in `load::iteration`, not here.

use crate::scenario::bindings::Handshake;
use crate::websocket::client_handshake::Response;

/// Response headers kept for the scenario.
const MAX_HEADERS: usize = 128;

/// The facts of `response`.
pub fn of_response(response: &Response) -> Handshake {
    let headers = response.headers.iter().take(MAX_HEADERS).cloned().collect();
    let subprotocol = response
        .values("sec-websocket-protocol")
        .next()
        .map(str::to_owned);
    Handshake {
        status: response.status,
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
