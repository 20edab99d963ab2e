//! STOMP 1.2 over WebSocket (subprotocol `v12.stomp`), as RabbitMQ's `rabbitmq_web_stomp`,
//! ActiveMQ and Spring's message brokers speak it: [`Stomp`] is the client a scenario holds
//! (`client`), [`Frame`] and [`FrameReader`] the bytes (`frame`). Receipts are timed as named
//! requests ([`RECEIPT_REQUEST`]); an ERROR frame is a failed check carrying the broker's message;
//! a malformed frame is a failed check [`FRAME_CHECK`] with a reason, never a panic.
//!
//! What does not live here: the socket and its WebSocket Close (the runner owns them), STOMP 1.0
//! and 1.1 (CONNECT offers 1.2 only), transactions as methods (BEGIN/COMMIT/ABORT can be sent with
//! [`Stomp::send_frame`]), and sending a goodbye when the runner ends a run (see docs/sdk.md).

mod client;
mod frame;

pub use client::{
    AckMode, CONNECT_REQUEST, DISCONNECT_REQUEST, Delivery, ERROR_CHECK_PREFIX, Event, FRAME_CHECK,
    HEART_BEAT_CHECK, HEART_BEAT_TIMER, RECEIPT_REQUEST, SUBPROTOCOL, SUBSCRIBE_REQUEST, Stomp,
    WATCHDOG_TIMER,
};
pub use frame::{Command, Frame, FrameError, FrameReader};

/// The error a protocol layer returns for a message that is not its protocol.
pub use crate::protocol_error::ProtocolError;
