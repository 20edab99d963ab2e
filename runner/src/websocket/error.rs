//! How a peer broke the WebSocket protocol: one variant per stable reason, each with the Close
//! code RFC 6455 §7.4.1 answers it with. The report counts `protocol: ` + the `Display` text, so
//! the text never carries per-connection values other than the configured limit.

use crate::config::units::human_bytes;

/// A protocol violation by the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// RSV2/RSV3, or RSV1 without permessage-deflate.
    #[error("reserved bits set without an extension")]
    ReservedBits,
    /// An opcode RFC 6455 does not define.
    #[error("unknown opcode")]
    UnknownOpcode,
    /// A control frame without FIN.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame with more than 125 bytes.
    #[error("control frame too long")]
    LongControl,
    /// A 64-bit length with its most significant bit set.
    #[error("invalid frame length")]
    BadLength,
    /// A server masked its frame (RFC 6455 §5.1).
    #[error("masked frame from the server")]
    MaskedByServer,
    /// A client did not mask its frame.
    #[error("unmasked frame from the client")]
    UnmaskedByClient,
    /// A continuation frame with no message to continue.
    #[error("continuation frame without a message")]
    StrayContinuation,
    /// A new data frame while a fragmented message is still open.
    #[error("new message before the last one ended")]
    InterleavedMessage,
    /// RSV1 on Close, Ping or Pong (RFC 7692 §6.1).
    #[error("compressed control frame")]
    CompressedControl,
    /// RSV1 on a continuation frame (RFC 7692 §6.1).
    #[error("RSV1 on a continuation frame")]
    CompressedContinuation,
    /// Text (or a Close reason) that is not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8 {
        /// Bytes that were valid before the first invalid one.
        valid_up_to: usize,
    },
    /// A Close frame with one byte of payload or a code that may not be sent.
    #[error("invalid close frame")]
    InvalidClose,
    /// A compressed message that does not inflate.
    #[error("invalid compressed data")]
    InvalidCompressed,
    /// A message (inflated, when compressed) larger than `limits.max_message_size`.
    #[error("message too long (limit {})", human_bytes(*limit as u64))]
    TooLong {
        /// The limit.
        limit: usize,
    },
}

impl ProtocolError {
    /// The Close code to answer with.
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::InvalidUtf8 { .. } | ProtocolError::InvalidCompressed => 1007,
            ProtocolError::TooLong { .. } => 1009,
            _ => 1002,
        }
    }

    /// What exactly happened, for the report's example (the reason plus this connection's
    /// values).
    pub fn detail(&self) -> String {
        match self {
            ProtocolError::InvalidUtf8 { valid_up_to } => {
                format!("{self}: the byte after the first {valid_up_to} is not valid UTF-8")
            }
            other => other.to_string(),
        }
    }
}
