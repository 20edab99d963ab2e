//! Stage `websocket`: the WebSocket protocol (RFC 6455) and permessage-deflate (RFC 7692), owned
//! by Volley rather than taken from a crate (the decision and its figures: docs/architecture.md).
//! Pure parts — `frame` (headers, masking), `close` (Close payloads), `message` (fragments into
//! messages, UTF-8, size limits), `client_handshake` and `server_handshake` (the HTTP upgrade),
//! `accept_key`, `deflate` (negotiation, compressor, inflater, per-thread pools) with
//! `compression` joining them per connection — and one async part, `socket`, which reads through
//! a per-thread buffer and writes what the connection layer hands it.
//!
//! Hands to `connection`: a [`socket::WebSocket`] per open connection, [`message::Incoming`]
//! messages and [`error::ProtocolError`]s with their Close codes. Does not live here: timing,
//! timeouts, counting (`connection`, `measure`).

pub mod accept_key;
pub mod client_handshake;
pub mod close;
pub mod compression;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod http_head;
pub mod message;
pub mod server_handshake;
pub mod socket;
