//! The byte-level pieces of MQTT's wire format, shared by every packet: the remaining-length
//! variable byte integer, two-byte integers, length-prefixed UTF-8 strings and binary data, read
//! through a [`Reader`] that reports a truncated packet instead of panicking, and written by
//! [`Writer`]. [`PacketBuffer`] joins WebSocket messages into whole packets (several packets in one
//! message, one packet split across messages), up to a size limit. Which packets exist and what
//! their fields mean lives in `packet.rs`, not here.

use std::fmt;

/// The largest remaining length MQTT can express (four bytes of 7 bits).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Why bytes are not an MQTT packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The packet ended before `what` was complete.
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// The remaining length's fifth byte would be needed (more than 4 bytes).
    RemainingLengthTooLong,
    /// A packet declared more bytes than the buffer accepts.
    TooLarge {
        /// The packet's declared size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The fixed header's packet type is 0 or one this client does not speak.
    UnknownPacketType(u8),
    /// The fixed header's flags are not the ones the packet type requires.
    BadFlags {
        /// The packet type's name.
        packet: &'static str,
        /// The flags received.
        flags: u8,
    },
    /// A QoS of 3 (reserved).
    BadQos(u8),
    /// A string field that is not UTF-8.
    BadUtf8 {
        /// The field.
        what: &'static str,
    },
    /// An MQTT 5 property identifier the specification does not define.
    UnknownProperty(u8),
    /// Anything else the specification forbids, described.
    Malformed(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { what } => write!(f, "packet truncated in {what}"),
            DecodeError::RemainingLengthTooLong => {
                write!(f, "remaining length longer than 4 bytes")
            }
            DecodeError::TooLarge { size, limit } => {
                write!(
                    f,
                    "packet of {size} bytes exceeds the limit of {limit} bytes"
                )
            }
            DecodeError::UnknownPacketType(kind) => write!(f, "unknown packet type {kind}"),
            DecodeError::BadFlags { packet, flags } => {
                write!(f, "{packet} with reserved flags {flags:#06b}")
            }
            DecodeError::BadQos(qos) => write!(f, "QoS {qos} is not 0, 1 or 2"),
            DecodeError::BadUtf8 { what } => write!(f, "{what} is not UTF-8"),
            DecodeError::UnknownProperty(id) => write!(f, "unknown property {id:#04x}"),
            DecodeError::Malformed(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decode a remaining length at the start of `bytes`: `Ok(Some((value, bytes used)))`,
/// `Ok(None)` when more bytes are needed, an error past 4 bytes.
pub fn decode_varint(bytes: &[u8]) -> Result<Option<(usize, usize)>, DecodeError> {
    let mut value = 0usize;
    for (index, byte) in bytes.iter().enumerate() {
        if index == 4 {
            return Err(DecodeError::RemainingLengthTooLong);
        }
        value |= usize::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(Some((value, index + 1)));
        }
    }
    if bytes.len() >= 4 {
        return Err(DecodeError::RemainingLengthTooLong);
    }
    Ok(None)
}

/// Append `value` (at most [`MAX_REMAINING_LENGTH`]; larger values are clamped) as a variable
/// byte integer.
pub fn encode_varint(value: usize, out: &mut Vec<u8>) {
    let mut value = value.min(MAX_REMAINING_LENGTH);
    loop {
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            break;
        }
    }
}

/// Reads the fields of one packet's body; every read past the end is [`DecodeError::Truncated`].
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Read `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// The next `count` bytes.
    pub fn take(&mut self, count: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < count {
            return Err(DecodeError::Truncated { what });
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    /// A big-endian two-byte integer.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let bytes = self.take(2, what)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// A big-endian four-byte integer.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A variable byte integer (MQTT 5 property lengths, subscription identifiers).
    pub fn varint(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        match decode_varint(self.bytes)? {
            Some((value, used)) => {
                self.bytes = &self.bytes[used..];
                Ok(value)
            }
            None => Err(DecodeError::Truncated { what }),
        }
    }

    /// Two-byte length then that many bytes.
    pub fn binary(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let length = self.u16(what)?;
        self.take(usize::from(length), what)
    }

    /// Two-byte length then that many bytes of UTF-8.
    pub fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let bytes = self.binary(what)?;
        match std::str::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => Ok(text.to_owned()),
            _ => Err(DecodeError::BadUtf8 { what }),
        }
    }
}

/// Writes the fields of a packet's body (lengths longer than 65,535 bytes are cut: MQTT's
/// two-byte prefix cannot say more).
#[derive(Default)]
pub struct Writer {
    /// The bytes written so far.
    pub bytes: Vec<u8>,
}

impl Writer {
    /// One byte.
    pub fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    /// A big-endian two-byte integer.
    pub fn u16(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    /// A big-endian four-byte integer.
    pub fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    /// A variable byte integer.
    pub fn varint(&mut self, value: usize) {
        encode_varint(value, &mut self.bytes);
    }

    /// Two-byte length then the bytes.
    pub fn binary(&mut self, data: &[u8]) {
        let data = &data[..data.len().min(usize::from(u16::MAX))];
        self.u16(data.len() as u16);
        self.bytes.extend_from_slice(data);
    }

    /// Two-byte length then the UTF-8 bytes.
    pub fn string(&mut self, text: &str) {
        self.binary(text.as_bytes());
    }

    /// Raw bytes, no prefix.
    pub fn raw(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }
}

/// A whole packet cut from the stream: its first byte (type and flags) and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Packet type (high nibble) and flags (low nibble).
    pub header: u8,
    /// The bytes after the remaining length.
    pub body: Vec<u8>,
}

/// Joins the bytes of successive WebSocket messages and cuts whole packets from them. A packet
/// whose declared size exceeds the limit is an error (the stream cannot be trusted after it).
///
/// ```
/// use volley_sdk::mqtt::codec::PacketBuffer;
/// let mut buffer = PacketBuffer::new(1024);
/// buffer.push(&[0xD0]); // PINGRESP, split after its first byte
/// assert_eq!(buffer.next_packet(), Ok(None));
/// buffer.push(&[0x00, 0xD0, 0x00]); // its length, then a whole second PINGRESP
/// assert_eq!(buffer.next_packet().unwrap().unwrap().header, 0xD0);
/// assert_eq!(buffer.next_packet().unwrap().unwrap().header, 0xD0);
/// assert_eq!(buffer.next_packet(), Ok(None));
/// ```
#[derive(Debug, Clone)]
pub struct PacketBuffer {
    bytes: Vec<u8>,
    start: usize,
    limit: usize,
}

impl PacketBuffer {
    /// A buffer accepting packets of at most `limit` bytes (header included).
    pub fn new(limit: usize) -> Self {
        PacketBuffer {
            bytes: Vec::new(),
            start: 0,
            limit,
        }
    }

    /// Append a message's bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        self.bytes.extend_from_slice(data);
    }

    /// Drop every byte held (after a malformed packet the rest of the stream has no boundaries).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.start = 0;
    }

    /// Bytes held that are not yet a whole packet.
    pub fn pending(&self) -> usize {
        self.bytes.len() - self.start
    }

    /// The next whole packet, `Ok(None)` when more bytes are needed.
    pub fn next_packet(&mut self) -> Result<Option<Frame>, DecodeError> {
        let available = &self.bytes[self.start..];
        let Some(&header) = available.first() else {
            return Ok(None);
        };
        let Some((length, used)) = decode_varint(&available[1..])? else {
            return Ok(None);
        };
        let size = 1 + used + length;
        if size > self.limit {
            return Err(DecodeError::TooLarge {
                size,
                limit: self.limit,
            });
        }
        if available.len() < size {
            return Ok(None);
        }
        let body = available[1 + used..size].to_vec();
        self.start += size;
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
        Ok(Some(Frame { header, body }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        for value in [
            0,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            MAX_REMAINING_LENGTH,
        ] {
            let mut out = Vec::new();
            encode_varint(value, &mut out);
            assert_eq!(decode_varint(&out), Ok(Some((value, out.len()))), "{value}");
        }
    }

    #[test]
    fn a_fifth_varint_byte_is_an_error_and_a_short_one_waits() {
        assert_eq!(
            decode_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Err(DecodeError::RemainingLengthTooLong)
        );
        assert_eq!(
            decode_varint(&[0xFF, 0xFF, 0xFF, 0xFF]),
            Err(DecodeError::RemainingLengthTooLong)
        );
        assert_eq!(decode_varint(&[0xFF, 0xFF]), Ok(None));
        assert_eq!(decode_varint(&[]), Ok(None));
    }

    #[test]
    fn a_packet_split_byte_by_byte_comes_out_whole() {
        let packet = [0x30, 0x05, 0x00, 0x01, b't', b'h', b'i'];
        let mut buffer = PacketBuffer::new(64);
        for (index, byte) in packet.iter().enumerate() {
            assert_eq!(buffer.next_packet(), Ok(None), "after {index} bytes");
            buffer.push(&[*byte]);
        }
        let frame = buffer.next_packet().ok().flatten();
        assert_eq!(
            frame,
            Some(Frame {
                header: 0x30,
                body: packet[2..].to_vec()
            })
        );
        assert_eq!(buffer.pending(), 0);
    }

    #[test]
    fn a_packet_above_the_limit_is_refused_before_it_arrives() {
        let mut buffer = PacketBuffer::new(100);
        buffer.push(&[0x30, 0xE8, 0x07]); // 1,000 bytes announced
        assert_eq!(
            buffer.next_packet(),
            Err(DecodeError::TooLarge {
                size: 1003,
                limit: 100
            })
        );
    }

    #[test]
    fn reading_past_the_end_is_truncated_not_a_panic() {
        let mut reader = Reader::new(&[0x00, 0x05, b'a']);
        assert_eq!(
            reader.string("topic"),
            Err(DecodeError::Truncated { what: "topic" })
        );
        let mut reader = Reader::new(&[0x00, 0x02, 0xC3, 0x28]);
        assert_eq!(
            reader.string("topic"),
            Err(DecodeError::BadUtf8 { what: "topic" })
        );
    }
}
