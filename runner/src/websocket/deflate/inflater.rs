//! The receiving half of permessage-deflate (RFC 7692 §7.2.2): inflates one compressed message
//! that may arrive in several frames, appending the `00 00 ff ff` tail after the last one, and
//! never lets the inflated message grow past the connection's message limit: a deflate bomb fails
//! as [`InflateError::TooLong`] after allocating at most the limit. With context takeover the
//! window carries over to the next message; without it the inflater is reset after each one.
//! The socket (`super::super::socket`) feeds it frame payloads; compressing lives in
//! [`deflater`](super::deflater).

use flate2::{Decompress, FlushDecompress, Status};

use crate::config::units::human_bytes;

use super::deflater::SYNC_FLUSH_TAIL;
use super::negotiation::MAX_WINDOW_BITS;

/// The first allocation for inflated bytes when the output buffer has no room.
const FIRST_CHUNK: usize = 4096;

/// A permessage-deflate decompressor for one direction of one connection (or a pooled one).
pub struct Inflater {
    decompressor: Decompress,
    no_context_takeover: bool,
}

/// Why a compressed message cannot be inflated. The display is the stable reason without the
/// `protocol: ` prefix; the connection fails with close code 1009 for [`TooLong`](Self::TooLong)
/// (RFC 6455 §7.4.1, "message too big") and 1007 for [`Corrupt`](Self::Corrupt) (data not
/// consistent with the message type, as Node's `ws` and Autobahn expect for bad DEFLATE data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// The inflated message would exceed the limit.
    #[error("message too long (limit {})", human_bytes(*.limit as u64))]
    TooLong {
        /// The limit in bytes (`limits.max_message_size`).
        limit: usize,
    },
    /// The payload is not valid DEFLATE data (or refers beyond the window); the detail is zlib's.
    #[error("invalid compressed data")]
    Corrupt(String),
}

impl Inflater {
    /// An inflater for the peer's agreed window (`window_bits`, 8..=15), resetting after each
    /// message when `no_context_takeover`. Window 8 inflates with 9 bits: zlib cannot do 8, and
    /// zlib-based peers that agreed 8 compress with 9 anyway (inflating with a larger window than
    /// the peer's is always safe).
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Inflater {
        Inflater {
            decompressor: Decompress::new_with_window_bits(
                false,
                window_bits.clamp(9, MAX_WINDOW_BITS),
            ),
            no_context_takeover,
        }
    }

    /// Feeds one frame's (unmasked) payload of a compressed message; inflated bytes are appended
    /// to `out`. `out` never grows beyond `limit` bytes in total: as soon as the message would,
    /// this returns [`InflateError::TooLong`] without allocating the excess.
    pub fn feed(
        &mut self,
        compressed: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let result = self.inflate(compressed, out, limit);
        if result.is_err() {
            // The message is abandoned; a context-takeover stream cannot continue after it anyway.
            self.reset();
        }
        result
    }

    /// The message's last frame was fed: appends the `00 00 ff ff` tail, inflates what it
    /// releases, and resets when `no_context_takeover`.
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        let result = self.inflate(&SYNC_FLUSH_TAIL, out, limit);
        if result.is_err() || self.no_context_takeover {
            self.reset();
        }
        result
    }

    /// Forgets the window and any partial message.
    pub fn reset(&mut self) {
        self.decompressor.reset(false);
    }

    fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let mut consumed = 0;
        loop {
            let allowance = limit.saturating_sub(out.len());
            if allowance == 0 {
                return self.check_nothing_more(&input[consumed..], limit);
            }
            if out.len() == out.capacity() {
                let grow = out.capacity().max(FIRST_CHUNK).max(input.len() * 4);
                out.reserve_exact(grow.min(allowance));
            }
            let spare = out.capacity() - out.len();
            let before_in = self.decompressor.total_in();
            let status = if spare <= allowance {
                self.decompressor
                    .decompress_vec(&input[consumed..], out, FlushDecompress::None)
            } else {
                // A buffer with more room than the limit leaves: write only into the allowance.
                let start = out.len();
                out.resize(start + allowance, 0);
                let before_out = self.decompressor.total_out();
                let status = self.decompressor.decompress(
                    &input[consumed..],
                    &mut out[start..],
                    FlushDecompress::None,
                );
                let written = (self.decompressor.total_out() - before_out) as usize;
                out.truncate(start + written);
                status
            }
            .map_err(|error| InflateError::Corrupt(error.to_string()))?;
            let consumed_now = (self.decompressor.total_in() - before_in) as usize;
            consumed += consumed_now;
            if status == Status::StreamEnd {
                // A block with BFINAL set ended the DEFLATE stream (RFC 7692 §7.2.3.4); what
                // follows in the message, such as the appended tail, starts a new one.
                self.decompressor.reset(false);
                continue;
            }
            let room_left = out.len() < out.capacity().min(limit);
            if consumed == input.len() && room_left {
                return Ok(());
            }
            if consumed_now == 0 && room_left && status == Status::BufError {
                return Err(InflateError::Corrupt("no progress".into()));
            }
        }
    }

    /// `out` is full: any further inflated byte would exceed the limit. Inflates into a small
    /// stack buffer to find out, without keeping what it reads.
    fn check_nothing_more(&mut self, mut input: &[u8], limit: usize) -> Result<(), InflateError> {
        let mut probe = [0u8; 64];
        loop {
            let before_in = self.decompressor.total_in();
            let before_out = self.decompressor.total_out();
            let status = self
                .decompressor
                .decompress(input, &mut probe, FlushDecompress::None)
                .map_err(|error| InflateError::Corrupt(error.to_string()))?;
            if self.decompressor.total_out() > before_out {
                return Err(InflateError::TooLong { limit });
            }
            let consumed = (self.decompressor.total_in() - before_in) as usize;
            input = &input[consumed..];
            if status == Status::StreamEnd {
                self.decompressor.reset(false);
                continue;
            }
            if input.is_empty() {
                return Ok(());
            }
            if consumed == 0 {
                return Err(InflateError::Corrupt("no progress".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::deflater::Deflater;
    use super::*;
    use proptest::prelude::*;

    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    const LIMIT: usize = 1 << 20;

    fn inflate_message(inflater: &mut Inflater, frames: &[&[u8]]) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        for frame in frames {
            inflater.feed(frame, &mut out, LIMIT)?;
        }
        inflater.finish(&mut out, LIMIT)?;
        Ok(out)
    }

    #[test]
    fn the_rfc_7692_examples_inflate_to_hello() {
        // §7.2.3.1, one frame and the same bytes in two fragments.
        let mut inflater = Inflater::new(15, true);
        assert_eq!(
            inflate_message(&mut inflater, &[&HELLO]),
            Ok(b"Hello".to_vec())
        );
        assert_eq!(
            inflate_message(&mut inflater, &[&HELLO[..3], &HELLO[3..]]),
            Ok(b"Hello".to_vec())
        );
        // §7.2.3.3: a block with no compression.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(
            inflate_message(&mut inflater, &[&stored]),
            Ok(b"Hello".to_vec())
        );
        // §7.2.3.4: a block with BFINAL set, then an empty non-final block header.
        let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(
            inflate_message(&mut inflater, &[&bfinal]),
            Ok(b"Hello".to_vec())
        );
        // §7.2.3.5: two DEFLATE blocks in one message.
        let two_blocks = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(
            inflate_message(&mut inflater, &[&two_blocks]),
            Ok(b"Hello".to_vec())
        );
        // §7.2.3.6: an empty message.
        assert_eq!(inflate_message(&mut inflater, &[&[0x00]]), Ok(Vec::new()));
    }

    #[test]
    fn the_shared_window_example_needs_context_takeover() {
        // §7.2.3.2: the second "Hello" is a back-reference into the first message.
        let second = [0xf2, 0x00, 0x11, 0x00, 0x00];
        let mut inflater = Inflater::new(15, false);
        assert_eq!(
            inflate_message(&mut inflater, &[&HELLO]),
            Ok(b"Hello".to_vec())
        );
        assert_eq!(
            inflate_message(&mut inflater, &[&second]),
            Ok(b"Hello".to_vec())
        );
        let mut forgetful = Inflater::new(15, true);
        assert_eq!(
            inflate_message(&mut forgetful, &[&HELLO]),
            Ok(b"Hello".to_vec())
        );
        assert!(matches!(
            inflate_message(&mut forgetful, &[&second]),
            Err(InflateError::Corrupt(_))
        ));
    }

    #[test]
    fn a_deflate_bomb_fails_at_the_limit_without_allocating_the_rest() {
        // 1 GiB of zeros in about 1 MiB: one MiB of zeros compressed from an empty window refers
        // only to itself, so 1024 copies of it (each with its sync-flush tail) are a valid stream.
        let mut block = Vec::new();
        assert_eq!(
            Deflater::new(15, 9, true).compress(&vec![0u8; 1 << 20], &mut block),
            Ok(true)
        );
        block.extend_from_slice(&SYNC_FLUSH_TAIL);
        let bomb = block.repeat(1024);
        assert!(bomb.len() <= 2 << 20, "{} bytes", bomb.len());
        let limit = 16 << 20;
        let mut inflater = Inflater::new(15, false);
        let mut out = Vec::new();
        let result = bomb
            .chunks(64 << 10)
            .try_for_each(|frame| inflater.feed(frame, &mut out, limit));
        assert_eq!(result, Err(InflateError::TooLong { limit }));
        assert_eq!(out.len(), limit);
        assert!(out.capacity() <= limit, "capacity {}", out.capacity());
    }

    #[test]
    fn a_message_of_exactly_the_limit_is_accepted() {
        let payload = vec![b'a'; 10_000];
        let mut compressed = Vec::new();
        assert_eq!(
            Deflater::new(15, 6, true).compress(&payload, &mut compressed),
            Ok(true)
        );
        let mut inflater = Inflater::new(15, true);
        let mut out = Vec::new();
        assert_eq!(inflater.feed(&compressed, &mut out, payload.len()), Ok(()));
        assert_eq!(inflater.finish(&mut out, payload.len()), Ok(()));
        assert_eq!(out, payload);
        let mut out = Vec::new();
        assert_eq!(
            inflater
                .feed(&compressed, &mut out, payload.len() - 1)
                .and_then(|()| inflater.finish(&mut out, payload.len() - 1)),
            Err(InflateError::TooLong {
                limit: payload.len() - 1
            })
        );
    }

    #[test]
    fn a_large_buffer_is_still_held_to_the_limit() {
        let payload = vec![b'z'; 5000];
        let mut compressed = Vec::new();
        assert_eq!(
            Deflater::new(15, 6, true).compress(&payload, &mut compressed),
            Ok(true)
        );
        let mut out = Vec::with_capacity(1 << 20);
        let mut inflater = Inflater::new(15, true);
        let result = inflater
            .feed(&compressed, &mut out, 4096)
            .and_then(|()| inflater.finish(&mut out, 4096));
        assert_eq!(result, Err(InflateError::TooLong { limit: 4096 }));
        assert_eq!(out.len(), 4096);
    }

    #[test]
    fn the_limit_counts_what_the_buffer_already_held() {
        let mut inflater = Inflater::new(15, true);
        let mut out = vec![0u8; 8];
        let result = inflater
            .feed(&HELLO, &mut out, 10)
            .and_then(|()| inflater.finish(&mut out, 10));
        assert_eq!(result, Err(InflateError::TooLong { limit: 10 }));
    }

    #[test]
    fn errors_read_as_stable_reasons() {
        assert_eq!(
            InflateError::TooLong { limit: 64 << 20 }.to_string(),
            "message too long (limit 64 MiB)"
        );
        assert_eq!(
            InflateError::Corrupt("invalid block type".into()).to_string(),
            "invalid compressed data"
        );
    }

    #[test]
    fn garbage_is_corrupt() {
        let mut inflater = Inflater::new(15, false);
        // BTYPE 11 is reserved.
        assert!(matches!(
            inflate_message(&mut inflater, &[&[0xff, 0xff, 0xff]]),
            Err(InflateError::Corrupt(_))
        ));
        // The inflater is usable again for the next (valid) message.
        assert_eq!(
            inflate_message(&mut inflater, &[&HELLO]),
            Ok(b"Hello".to_vec())
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic_and_stay_within_the_limit(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..4),
            window in 8u8..=15,
            limit in 0usize..2000,
        ) {
            let mut inflater = Inflater::new(window, false);
            let mut out = Vec::new();
            let mut result = Ok(());
            for frame in &frames {
                result = inflater.feed(frame, &mut out, limit);
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() {
                result = inflater.finish(&mut out, limit);
            }
            prop_assert!(out.len() <= limit);
            if let Err(InflateError::TooLong { limit: reported }) = result {
                prop_assert_eq!(reported, limit);
            }
        }
    }
}
