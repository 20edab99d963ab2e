//! Frames into messages (RFC 6455 §5.4–5.5, RFC 7692 §6): joins fragments, checks their order and
//! the rules for control frames and RSV1, inflates compressed messages within the size limit, and
//! checks that text is UTF-8. Pure: bytes in, messages out; which side masks is checked here too.
//! A fragmented message's buffer exists only while it is being received.

use crate::websocket::compression::Inflation;
use crate::websocket::error::ProtocolError;
use crate::websocket::frame::{Header, Opcode};

/// A whole message or control frame from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A Ping (the socket answers it).
    Ping(Vec<u8>),
    /// A Pong.
    Pong(Vec<u8>),
    /// A Close frame: its code and reason, `None` when it carried neither.
    Close(Option<(u16, String)>),
}

/// Which end of the connection this is: a client receives unmasked frames, a server masked ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Volley's connections.
    Client,
    /// The development server.
    Server,
}

/// A fragmented message being received.
struct Open {
    text: bool,
    compressed: bool,
    data: Vec<u8>,
    /// For text: bytes known to be valid UTF-8 so far (a character cut by a fragment's end is
    /// checked when its rest arrives), so invalid text fails at the fragment that breaks it.
    checked: usize,
}

impl Open {
    /// Check the text received since the last call; an incomplete character at the end waits.
    fn check_text(&mut self) -> Result<(), ProtocolError> {
        if !self.text {
            return Ok(());
        }
        match std::str::from_utf8(&self.data[self.checked..]) {
            Ok(_) => self.checked = self.data.len(),
            Err(error) if error.error_len().is_none() => self.checked += error.valid_up_to(),
            Err(error) => {
                return Err(ProtocolError::InvalidUtf8 {
                    valid_up_to: self.checked + error.valid_up_to(),
                });
            }
        }
        Ok(())
    }
}

/// Turns one connection's frames into messages.
pub struct Assembler {
    role: Role,
    max_message: usize,
    inflation: Option<Inflation>,
    open: Option<Open>,
    /// The last message received was compressed.
    last_compressed: bool,
}

impl Assembler {
    /// Messages of at most `max_message` bytes (after inflating); `inflation` when
    /// permessage-deflate was agreed.
    pub fn new(role: Role, max_message: usize, inflation: Option<Inflation>) -> Assembler {
        Assembler {
            role,
            max_message,
            inflation,
            open: None,
            last_compressed: false,
        }
    }

    /// Whether the last message returned by [`Assembler::frame`] arrived compressed.
    pub fn last_compressed(&self) -> bool {
        self.last_compressed
    }

    /// Check a frame's header before its payload is received (so an oversized frame is refused
    /// before it is buffered).
    pub fn admit(&self, header: &Header) -> Result<(), ProtocolError> {
        match (self.role, header.mask.is_some()) {
            (Role::Client, true) => return Err(ProtocolError::MaskedByServer),
            (Role::Server, false) => return Err(ProtocolError::UnmaskedByClient),
            _ => {}
        }
        if header.rsv1 {
            if self.inflation.is_none() {
                return Err(ProtocolError::ReservedBits);
            }
            if header.opcode.is_control() {
                return Err(ProtocolError::CompressedControl);
            }
            if header.opcode == Opcode::Continuation {
                return Err(ProtocolError::CompressedContinuation);
            }
        }
        let held = match (header.opcode, &self.open) {
            (Opcode::Continuation, None) => return Err(ProtocolError::StrayContinuation),
            (Opcode::Text | Opcode::Binary, Some(_)) => {
                return Err(ProtocolError::InterleavedMessage);
            }
            (Opcode::Continuation, Some(open)) => open.data.len() as u64,
            _ => 0,
        };
        if held.saturating_add(header.length) > self.max_message as u64 {
            return Err(ProtocolError::TooLong {
                limit: self.max_message,
            });
        }
        Ok(())
    }

    /// One whole frame, `payload` already unmasked and its header admitted: the message it
    /// completes, if any.
    pub fn frame(
        &mut self,
        header: &Header,
        payload: &[u8],
    ) -> Result<Option<Incoming>, ProtocolError> {
        match header.opcode {
            Opcode::Ping => Ok(Some(Incoming::Ping(payload.to_vec()))),
            Opcode::Pong => Ok(Some(Incoming::Pong(payload.to_vec()))),
            Opcode::Close => Ok(Some(Incoming::Close(crate::websocket::close::parse(
                payload,
            )?))),
            Opcode::Text | Opcode::Binary => {
                let text = header.opcode == Opcode::Text;
                if header.fin && !header.rsv1 {
                    self.last_compressed = false;
                    return finish(text, payload.to_vec()).map(Some);
                }
                let mut open = Open {
                    text,
                    compressed: header.rsv1,
                    data: Vec::new(),
                    checked: 0,
                };
                self.append(&mut open, payload)?;
                if header.fin {
                    self.complete(open).map(Some)
                } else {
                    self.open = Some(open);
                    Ok(None)
                }
            }
            Opcode::Continuation => {
                let Some(mut open) = self.open.take() else {
                    return Err(ProtocolError::StrayContinuation);
                };
                self.append(&mut open, payload)?;
                if header.fin {
                    self.complete(open).map(Some)
                } else {
                    self.open = Some(open);
                    Ok(None)
                }
            }
        }
    }

    fn append(&mut self, open: &mut Open, payload: &[u8]) -> Result<(), ProtocolError> {
        if open.compressed {
            let Some(inflation) = self.inflation.as_mut() else {
                return Err(ProtocolError::ReservedBits);
            };
            inflation.feed(payload, &mut open.data, self.max_message)?;
        } else if open.data.len() + payload.len() > self.max_message {
            return Err(ProtocolError::TooLong {
                limit: self.max_message,
            });
        } else {
            open.data.extend_from_slice(payload);
        }
        open.check_text()
    }

    fn complete(&mut self, mut open: Open) -> Result<Incoming, ProtocolError> {
        if open.compressed {
            let Some(inflation) = self.inflation.as_mut() else {
                return Err(ProtocolError::ReservedBits);
            };
            inflation.finish(&mut open.data, self.max_message)?;
        }
        self.last_compressed = open.compressed;
        finish(open.text, open.data)
    }
}

fn finish(text: bool, data: Vec<u8>) -> Result<Incoming, ProtocolError> {
    if text {
        String::from_utf8(data)
            .map(Incoming::Text)
            .map_err(|error| ProtocolError::InvalidUtf8 {
                valid_up_to: error.utf8_error().valid_up_to(),
            })
    } else {
        Ok(Incoming::Binary(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fin: bool, rsv1: bool, opcode: Opcode, length: usize) -> Header {
        Header {
            fin,
            rsv1,
            opcode,
            mask: None,
            length: length as u64,
            header_length: 2,
        }
    }

    fn feed(
        assembler: &mut Assembler,
        fin: bool,
        opcode: Opcode,
        payload: &[u8],
    ) -> Result<Option<Incoming>, ProtocolError> {
        let header = header(fin, false, opcode, payload.len());
        assembler.admit(&header)?;
        assembler.frame(&header, payload)
    }

    #[test]
    fn fragments_join_and_control_frames_pass_between_them() {
        let mut assembler = Assembler::new(Role::Client, 1024, None);
        assert_eq!(feed(&mut assembler, false, Opcode::Text, b"Hel"), Ok(None));
        assert_eq!(
            feed(&mut assembler, true, Opcode::Ping, b"p"),
            Ok(Some(Incoming::Ping(b"p".to_vec())))
        );
        assert_eq!(
            feed(&mut assembler, true, Opcode::Continuation, b"lo"),
            Ok(Some(Incoming::Text("Hello".into())))
        );
        assert_eq!(
            feed(&mut assembler, true, Opcode::Binary, &[0, 159]),
            Ok(Some(Incoming::Binary(vec![0, 159])))
        );
    }

    #[test]
    fn fragments_out_of_order_are_protocol_errors() {
        let mut assembler = Assembler::new(Role::Client, 1024, None);
        assert_eq!(
            feed(&mut assembler, true, Opcode::Continuation, b"x"),
            Err(ProtocolError::StrayContinuation)
        );
        assert_eq!(feed(&mut assembler, false, Opcode::Binary, b"a"), Ok(None));
        assert_eq!(
            feed(&mut assembler, true, Opcode::Text, b"b"),
            Err(ProtocolError::InterleavedMessage)
        );
    }

    #[test]
    fn text_must_be_utf8_even_across_fragments() {
        let mut assembler = Assembler::new(Role::Client, 1024, None);
        // "κ" split between two fragments is valid.
        assert_eq!(feed(&mut assembler, false, Opcode::Text, &[0xCE]), Ok(None));
        assert_eq!(
            feed(&mut assembler, true, Opcode::Continuation, &[0xBA]),
            Ok(Some(Incoming::Text("κ".into())))
        );
        assert_eq!(
            feed(&mut assembler, true, Opcode::Text, &[0xFF]),
            Err(ProtocolError::InvalidUtf8 { valid_up_to: 0 })
        );
    }

    #[test]
    fn invalid_text_fails_at_the_fragment_that_breaks_it() {
        let mut assembler = Assembler::new(Role::Client, 1024, None);
        assert_eq!(feed(&mut assembler, false, Opcode::Text, b"ok "), Ok(None));
        // 0xED 0xA0 0x80 is a UTF-16 surrogate: invalid however the message continues.
        assert_eq!(
            feed(
                &mut assembler,
                false,
                Opcode::Continuation,
                &[0xED, 0xA0, 0x80]
            ),
            Err(ProtocolError::InvalidUtf8 { valid_up_to: 3 })
        );
    }

    #[test]
    fn the_size_limit_counts_every_fragment_before_it_is_buffered() {
        let mut assembler = Assembler::new(Role::Client, 10, None);
        assert_eq!(
            feed(&mut assembler, false, Opcode::Binary, &[0; 6]),
            Ok(None)
        );
        let too_much = header(true, false, Opcode::Continuation, 5);
        assert_eq!(
            assembler.admit(&too_much),
            Err(ProtocolError::TooLong { limit: 10 })
        );
        let one_frame = header(true, false, Opcode::Binary, 11);
        let fresh = Assembler::new(Role::Client, 10, None);
        assert_eq!(
            fresh.admit(&one_frame),
            Err(ProtocolError::TooLong { limit: 10 })
        );
    }

    #[test]
    fn rsv1_without_deflate_and_masking_from_the_wrong_side_are_refused() {
        let client = Assembler::new(Role::Client, 1024, None);
        assert_eq!(
            client.admit(&header(true, true, Opcode::Text, 1)),
            Err(ProtocolError::ReservedBits)
        );
        let mut masked = header(true, false, Opcode::Text, 1);
        masked.mask = Some([1, 2, 3, 4]);
        assert_eq!(client.admit(&masked), Err(ProtocolError::MaskedByServer));
        let server = Assembler::new(Role::Server, 1024, None);
        assert_eq!(
            server.admit(&header(true, false, Opcode::Text, 1)),
            Err(ProtocolError::UnmaskedByClient)
        );
        assert!(server.admit(&masked).is_ok());
    }

    fn deflating() -> (Assembler, crate::websocket::compression::Deflation) {
        use crate::websocket::compression::{Deflation, Inflation};
        use crate::websocket::deflate::negotiation::Agreed;
        let agreed = Agreed {
            client_max_window_bits: 15,
            server_max_window_bits: 15,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
        };
        let inflation = Inflation::new(Role::Client, &agreed);
        (
            Assembler::new(Role::Client, 1 << 20, Some(inflation)),
            Deflation::new(Role::Server, &agreed, 6),
        )
    }

    #[test]
    fn a_compressed_message_inflates_across_fragments() {
        let (mut assembler, mut server) = deflating();
        let text = "a compressible message, ".repeat(40);
        let mut wire = Vec::new();
        assert!(server.compress(text.as_bytes(), &mut wire));
        let (first, rest) = wire.split_at(wire.len() / 2);
        let opening = header(false, true, Opcode::Text, first.len());
        assert_eq!(assembler.admit(&opening), Ok(()));
        assert_eq!(assembler.frame(&opening, first), Ok(None));
        let last = header(true, false, Opcode::Continuation, rest.len());
        assert_eq!(assembler.admit(&last), Ok(()));
        assert_eq!(
            assembler.frame(&last, rest),
            Ok(Some(Incoming::Text(text.clone())))
        );
        assert!(assembler.last_compressed());
        // An uncompressed message on the same connection is fine too (RFC 7692 §6).
        assert_eq!(
            feed(&mut assembler, true, Opcode::Text, b"plain"),
            Ok(Some(Incoming::Text("plain".into())))
        );
        assert!(!assembler.last_compressed());
    }

    #[test]
    fn rsv1_where_deflate_forbids_it_is_refused() {
        let (assembler, _) = deflating();
        assert_eq!(
            assembler.admit(&header(true, true, Opcode::Ping, 0)),
            Err(ProtocolError::CompressedControl)
        );
        assert_eq!(
            assembler.admit(&header(true, true, Opcode::Close, 2)),
            Err(ProtocolError::CompressedControl)
        );
        let (mut assembler, _) = deflating();
        let opening = header(false, true, Opcode::Binary, 1);
        assert_eq!(assembler.admit(&opening), Ok(()));
        assert_eq!(assembler.frame(&opening, &[0x02]), Ok(None));
        assert_eq!(
            assembler.admit(&header(true, true, Opcode::Continuation, 1)),
            Err(ProtocolError::CompressedContinuation)
        );
    }

    #[test]
    fn data_that_does_not_inflate_is_invalid() {
        let (mut assembler, _) = deflating();
        let garbage = header(true, true, Opcode::Binary, 4);
        assert_eq!(assembler.admit(&garbage), Ok(()));
        assert_eq!(
            assembler.frame(&garbage, &[0xFF, 0xFF, 0xFF, 0xFF]),
            Err(ProtocolError::InvalidCompressed)
        );
    }

    #[test]
    fn close_frames_are_parsed() {
        let mut assembler = Assembler::new(Role::Client, 1024, None);
        assert_eq!(
            feed(&mut assembler, true, Opcode::Close, &[0x03, 0xE9]),
            Ok(Some(Incoming::Close(Some((1001, String::new())))))
        );
        assert_eq!(
            feed(&mut assembler, true, Opcode::Close, &[0x03, 0xED]),
            Err(ProtocolError::InvalidClose)
        );
    }
}
