//! Why a connection's event loop ended early ([`Failure`]), and how a socket error becomes one:
//! the stable reason the report counts, the detail kept as its example, and the Close code to
//! answer a protocol error with. Pure.

use crate::connection::connect::io_reason;
use crate::websocket::socket::SocketError;

/// Why the loop ended early.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The scenario trapped; the instance is unusable.
    Scenario(String),
    /// The socket failed or went silent (reconnectable).
    Network(String),
    /// The server broke the protocol (a frame over the limit, a bad frame, invalid UTF-8): the
    /// stable reason, what exactly happened, and the Close code to answer with (RFC 6455 §7.4.1).
    Protocol {
        /// Stable reason, e.g. `protocol: invalid UTF-8`.
        reason: String,
        /// What exactly happened on this connection.
        detail: String,
        /// 1002 protocol error, 1007 invalid data, 1009 too big.
        code: u16,
    },
}

/// The reason for a server that ended TCP without the Close handshake.
pub const ENDED_WITHOUT_CLOSE: &str = "io: server closed the connection without a Close frame";

/// What a socket error means: `None` when it ends nothing that was still needed (after the
/// Close handshake started, a TCP close without TLS close_notify, common in servers, or a reset).
pub fn of_socket_error(error: SocketError, closing: bool) -> Option<Failure> {
    match error {
        SocketError::Io(_) if closing => None,
        SocketError::Io(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            Some(Failure::Network(ENDED_WITHOUT_CLOSE.into()))
        }
        SocketError::Io(error) => Some(Failure::Network(format!("io: {}", io_reason(&error)))),
        SocketError::Protocol(error) => Some(Failure::Protocol {
            reason: format!("protocol: {error}"),
            detail: format!("protocol: {}", error.detail()),
            code: error.close_code(),
        }),
    }
}

/// What a panic carried, as text (a host function's panic is a runner bug that ends only its
/// connection).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::error::ProtocolError;

    #[test]
    fn a_panic_reads_as_its_message() {
        let caught = std::panic::catch_unwind(|| panic!("broken {}", 42));
        match caught {
            Err(payload) => assert_eq!(panic_text(payload.as_ref()), "broken 42"),
            Ok(()) => panic!("no panic"),
        }
        assert_eq!(panic_text(&7u8), "unknown panic");
    }

    #[test]
    fn protocol_errors_keep_their_close_codes() {
        let invalid = ProtocolError::InvalidUtf8 { valid_up_to: 3 };
        let failure = of_socket_error(SocketError::Protocol(invalid), false);
        assert_eq!(
            failure,
            Some(Failure::Protocol {
                reason: "protocol: invalid UTF-8".into(),
                detail: "protocol: invalid UTF-8: the byte after the first 3 is not valid UTF-8"
                    .into(),
                code: 1007
            })
        );
        let too_long = ProtocolError::TooLong { limit: 1 << 20 };
        match of_socket_error(SocketError::Protocol(too_long), false) {
            Some(Failure::Protocol { reason, code, .. }) => {
                assert_eq!(reason, "protocol: message too long (limit 1 MiB)");
                assert_eq!(code, 1009);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn io_errors_end_nothing_once_closing() {
        let reset = || std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(of_socket_error(SocketError::Io(reset()), true), None);
        assert_eq!(
            of_socket_error(SocketError::Io(reset()), false),
            Some(Failure::Network("io: connection reset".into()))
        );
    }
}
