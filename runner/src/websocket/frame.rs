//! One WebSocket frame's header (RFC 6455 §5.2): parsing it from the bytes received, writing it
//! for the bytes sent, and masking. Pure: no I/O, no allocation; what a frame means in a message
//! (fragments, control frames, compression) is `message`'s concern.

use crate::websocket::error::ProtocolError;

/// Frame types (RFC 6455 §5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// 0x0: the next fragment of a message.
    Continuation,
    /// 0x1: UTF-8 text.
    Text,
    /// 0x2: binary data.
    Binary,
    /// 0x8: Close.
    Close,
    /// 0x9: Ping.
    Ping,
    /// 0xA: Pong.
    Pong,
}

impl Opcode {
    /// Close, Ping and Pong: at most 125 bytes, never fragmented.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }

    fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }
}

/// A frame header as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Last frame of its message.
    pub fin: bool,
    /// RSV1: with permessage-deflate, "this message is compressed" (first frame only).
    pub rsv1: bool,
    /// The frame type.
    pub opcode: Opcode,
    /// The masking key, when the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub length: u64,
    /// Bytes the header itself took.
    pub header_length: usize,
}

/// Longest header: 2 bytes, 8 of extended length, 4 of mask.
pub const MAX_HEADER: usize = 14;

/// Parse the header at the start of `bytes`: `Ok(None)` while it is incomplete. Rejects what no
/// extension in use here allows: RSV2/RSV3, unknown opcodes, a fragmented or long control frame,
/// a 64-bit length with its top bit set.
pub fn parse(bytes: &[u8]) -> Result<Option<Header>, ProtocolError> {
    let [first, second, rest @ ..] = bytes else {
        return Ok(None);
    };
    if first & 0x30 != 0 {
        return Err(ProtocolError::ReservedBits);
    }
    let opcode = Opcode::from_bits(first & 0x0F).ok_or(ProtocolError::UnknownOpcode)?;
    let fin = first & 0x80 != 0;
    let rsv1 = first & 0x40 != 0;
    let masked = second & 0x80 != 0;
    let short = second & 0x7F;
    let (length, extended) = match short {
        126 => match rest {
            [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
            _ => return Ok(None),
        },
        127 => match rest.get(..8) {
            Some(eight) => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(eight);
                let length = u64::from_be_bytes(raw);
                if length >> 63 != 0 {
                    return Err(ProtocolError::BadLength);
                }
                (length, 8)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 0),
    };
    if opcode.is_control() {
        if !fin {
            return Err(ProtocolError::FragmentedControl);
        }
        if length > 125 {
            return Err(ProtocolError::LongControl);
        }
    }
    let mask = if masked {
        match rest.get(extended..extended + 4) {
            Some(key) => Some([key[0], key[1], key[2], key[3]]),
            None => return Ok(None),
        }
    } else {
        None
    };
    Ok(Some(Header {
        fin,
        rsv1,
        opcode,
        mask,
        length,
        header_length: 2 + extended + if masked { 4 } else { 0 },
    }))
}

/// Append a header for a frame of `length` payload bytes to `out`.
pub fn write_header(
    out: &mut Vec<u8>,
    fin: bool,
    rsv1: bool,
    opcode: Opcode,
    mask: Option<[u8; 4]>,
    length: usize,
) {
    let first = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode.bits();
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    out.push(first);
    if length < 126 {
        out.push(mask_bit | length as u8);
    } else if let Ok(short) = u16::try_from(length) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(length as u64).to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// XOR `data` with `key`, as if `data` started `offset` bytes into the payload (RFC 6455 §5.3).
/// Masking and unmasking are the same operation.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let mut rotated = [0u8; 4];
    for (index, byte) in rotated.iter_mut().enumerate() {
        *byte = key[(offset + index) % 4];
    }
    let wide = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2],
        rotated[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let masked = u64::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    for (index, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= rotated[index % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: &[u8]) -> Header {
        match parse(bytes) {
            Ok(Some(header)) => header,
            other => panic!("{bytes:02x?}: {other:?}"),
        }
    }

    #[test]
    fn the_rfc_examples_parse() {
        // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
        let unmasked = header(&[0x81, 0x05, 0x48, 0x65]);
        assert_eq!((unmasked.fin, unmasked.opcode), (true, Opcode::Text));
        assert_eq!((unmasked.length, unmasked.header_length), (5, 2));
        assert_eq!(unmasked.mask, None);
        // A masked "Hello".
        let masked = header(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f]);
        assert_eq!(masked.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(masked.header_length, 6);
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
        // A fragmented "Hel" + "lo".
        assert!(!header(&[0x01, 0x03]).fin);
        assert_eq!(header(&[0x80, 0x02]).opcode, Opcode::Continuation);
        // 256 bytes and 64 KiB binary.
        assert_eq!(header(&[0x82, 0x7E, 0x01, 0x00]).length, 256);
        let long = header(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((long.length, long.header_length), (65536, 10));
    }

    #[test]
    fn an_incomplete_header_asks_for_more() {
        for bytes in [
            &[][..],
            &[0x81],
            &[0x82, 0x7E, 0x01],
            &[0x82, 0xFF, 0, 0],
            &[0x81, 0x85, 1, 2, 3],
        ] {
            assert_eq!(parse(bytes), Ok(None), "{bytes:02x?}");
        }
    }

    #[test]
    fn what_no_extension_allows_is_refused() {
        assert_eq!(parse(&[0xA1, 0x00]), Err(ProtocolError::ReservedBits));
        assert_eq!(parse(&[0x91, 0x00]), Err(ProtocolError::ReservedBits));
        assert_eq!(parse(&[0x83, 0x00]), Err(ProtocolError::UnknownOpcode));
        assert_eq!(parse(&[0x8B, 0x00]), Err(ProtocolError::UnknownOpcode));
        assert_eq!(parse(&[0x09, 0x00]), Err(ProtocolError::FragmentedControl));
        assert_eq!(
            parse(&[0x89, 0x7E, 0, 126]),
            Err(ProtocolError::LongControl)
        );
        assert_eq!(
            parse(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::BadLength)
        );
        // RSV1 is the extension's to judge.
        assert!(header(&[0xC1, 0x00]).rsv1);
    }

    #[test]
    fn written_headers_parse_back() {
        for length in [0usize, 1, 125, 126, 65535, 65536, 1 << 24] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut out = Vec::new();
                write_header(
                    &mut out,
                    true,
                    length % 2 == 0,
                    Opcode::Binary,
                    mask,
                    length,
                );
                let parsed = header(&out);
                assert_eq!(parsed.length, length as u64);
                assert_eq!(parsed.header_length, out.len());
                assert_eq!(parsed.mask, mask);
                assert_eq!(parsed.rsv1, length % 2 == 0);
            }
        }
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let original: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut whole = original.clone();
        apply_mask(&mut whole, key, 0);
        let mut pieces = original.clone();
        let (first, second) = pieces.split_at_mut(37);
        apply_mask(first, key, 0);
        apply_mask(second, key, 37);
        assert_eq!(whole, pieces);
        apply_mask(&mut whole, key, 0);
        assert_eq!(whole, original);
    }
}
