//! The Close frame's payload (RFC 6455 §5.5.1, §7.4): a status code and a UTF-8 reason, both
//! optional together. Parsing checks what a peer may send; writing truncates a long reason on a
//! character boundary so the frame stays within the 125 bytes of a control frame. Pure.

use crate::websocket::error::ProtocolError;

/// Codes a Close frame may carry (RFC 6455 §7.4.1 and the IANA registry): 1004–1006 and 1015
/// are never sent, 1016–2999 are reserved, 3000–4999 belong to libraries and applications.
pub fn may_be_sent(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// The code and reason of a received Close payload; `None` for an empty payload (1005).
pub fn parse(payload: &[u8]) -> Result<Option<(u16, String)>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::InvalidClose),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !may_be_sent(code) {
                return Err(ProtocolError::InvalidClose);
            }
            let reason =
                std::str::from_utf8(reason).map_err(|error| ProtocolError::InvalidUtf8 {
                    valid_up_to: error.valid_up_to(),
                })?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}

/// The payload of a Close frame with `code` and `reason` (at most 123 bytes of it kept).
pub fn payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Vec::with_capacity(2 + end);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_close_payloads_parse() {
        assert_eq!(parse(&[]), Ok(None));
        assert_eq!(parse(&[0x03, 0xE8]), Ok(Some((1000, String::new()))));
        assert_eq!(
            parse(&[0x0F, 0xA0, b'b', b'y', b'e']),
            Ok(Some((4000, "bye".into())))
        );
    }

    #[test]
    fn codes_that_may_not_be_sent_are_refused() {
        for code in [
            0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
        ] {
            let bytes = code.to_be_bytes();
            assert_eq!(parse(&bytes), Err(ProtocolError::InvalidClose), "{code}");
        }
        for code in [1000u16, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(parse(&code.to_be_bytes()).is_ok(), "{code}");
        }
        assert_eq!(parse(&[0x03]), Err(ProtocolError::InvalidClose));
    }

    #[test]
    fn a_reason_that_is_not_utf8_is_invalid_data() {
        assert_eq!(
            parse(&[0x03, 0xE8, 0xCE, 0xBA, 0xE1]),
            Err(ProtocolError::InvalidUtf8 { valid_up_to: 2 })
        );
    }

    #[test]
    fn a_long_reason_is_cut_on_a_character_boundary() {
        let reason = "é".repeat(100);
        let bytes = payload(1000, &reason);
        assert!(bytes.len() <= 125);
        assert!(parse(&bytes).is_ok());
    }
}
