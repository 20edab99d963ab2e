//! The sending half of permessage-deflate (RFC 7692 §7.2.1): compresses one whole message per call
//! with raw DEFLATE, ends it with a sync flush and strips the flush's `00 00 ff ff` tail. With
//! context takeover the LZ77 window carries over to the next message; without it the compressor is
//! reset after each one. The socket (`super::super::socket`) frames the result with RSV1 set; the
//! per-thread [`pool`](super::pool) shares Deflaters between connections that agreed
//! `client_no_context_takeover`. Inflating lives in [`inflater`](super::inflater).

use flate2::{Compress, Compression, FlushCompress, Status};

use super::negotiation::MAX_WINDOW_BITS;

/// The empty stored block a sync flush ends with; RFC 7692 §7.2.1 removes it from the wire.
pub(crate) const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output reserved beyond the payload's size: a sync flush adds at most a few bytes, and stored
/// blocks (incompressible data) add 5 bytes per 64 KiB.
const OUTPUT_SLACK: usize = 64;

/// A permessage-deflate compressor for one direction of one connection (or a pooled one).
pub struct Deflater {
    /// `None` when the agreed window is 8 bits: zlib cannot compress with a 256-byte window (it
    /// silently uses 512 bytes, which a peer that allowed only 256 may fail to inflate), so such a
    /// Deflater sends every message uncompressed, as RFC 7692 §6 allows (a message without RSV1).
    compressor: Option<Compress>,
    no_context_takeover: bool,
}

/// zlib refused to compress (it does not for valid state; kept typed rather than unwrapped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeflateError {
    /// The compressor returned an error.
    #[error("compression failed ({0})")]
    Compressor(String),
    /// The compressor stopped making progress with room to write.
    #[error("compression failed (no progress)")]
    Stalled,
    /// The sync flush did not end with `00 00 ff ff`.
    #[error("compression failed (no sync flush tail)")]
    MissingTail,
}

impl Deflater {
    /// A compressor for the agreed window (`window_bits`, 8..=15; values outside are clamped),
    /// at `level` (0..=9, clamped), resetting after each message when `no_context_takeover`.
    pub fn new(window_bits: u8, level: u32, no_context_takeover: bool) -> Deflater {
        let compressor = (window_bits > 8).then(|| {
            Compress::new_with_window_bits(
                Compression::new(level.min(9)),
                false,
                window_bits.min(MAX_WINDOW_BITS),
            )
        });
        Deflater {
            compressor,
            no_context_takeover,
        }
    }

    /// Appends the compressed message to `out` with the trailing `00 00 ff ff` removed (RFC 7692
    /// §7.2.1). Returns `false` if it chose not to compress (window 8): the caller then sends the
    /// payload as is, without RSV1.
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<bool, DeflateError> {
        let Some(compressor) = self.compressor.as_mut() else {
            return Ok(false);
        };
        let start = out.len();
        let result = compress_with_sync_flush(compressor, payload, out);
        if result.is_err() || self.no_context_takeover {
            compressor.reset();
        }
        if let Err(error) = result {
            out.truncate(start);
            return Err(error);
        }
        if out.len() == start {
            // zlib writes nothing for a sync flush with no new input right after another flush
            // (an empty message mid-stream). An empty stored block says the same: `00`, which the
            // peer completes with the tail (RFC 7692 §7.2.3.6).
            out.push(0x00);
            return Ok(true);
        }
        if !out[start..].ends_with(&SYNC_FLUSH_TAIL) {
            out.truncate(start);
            compressor.reset();
            return Err(DeflateError::MissingTail);
        }
        out.truncate(out.len() - SYNC_FLUSH_TAIL.len());
        Ok(true)
    }

    /// Forgets the window: the next message starts from an empty one.
    pub fn reset(&mut self) {
        if let Some(compressor) = self.compressor.as_mut() {
            compressor.reset();
        }
    }
}

/// Feeds all of `payload` and a sync flush, growing `out` until zlib returns with room to spare
/// (zlib's rule for a complete flush).
fn compress_with_sync_flush(
    compressor: &mut Compress,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), DeflateError> {
    out.reserve(payload.len() + payload.len() / 1024 + OUTPUT_SLACK);
    let start_in = compressor.total_in();
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(OUTPUT_SLACK));
        }
        let consumed = (compressor.total_in() - start_in) as usize;
        let written_before = out.len();
        let status = compressor
            .compress_vec(&payload[consumed..], out, FlushCompress::Sync)
            .map_err(|error| DeflateError::Compressor(error.to_string()))?;
        let consumed_now = (compressor.total_in() - start_in) as usize;
        let all_consumed = consumed_now == payload.len();
        if all_consumed && out.len() < out.capacity() {
            return Ok(());
        }
        let progressed = consumed_now > consumed || out.len() > written_before;
        if !progressed && status == Status::BufError && out.len() < out.capacity() {
            return Err(DeflateError::Stalled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_compresses_to_the_rfc_7692_example_bytes() {
        // RFC 7692 §7.2.3.1.
        let mut deflater = Deflater::new(15, 6, false);
        let mut out = Vec::new();
        assert_eq!(deflater.compress(b"Hello", &mut out), Ok(true));
        assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    }

    #[test]
    fn a_second_hello_refers_back_to_the_first_with_context_takeover() {
        // RFC 7692 §7.2.3.2: the second message is a back-reference into the shared window.
        let mut deflater = Deflater::new(15, 6, false);
        let mut first = Vec::new();
        let mut second = Vec::new();
        assert_eq!(deflater.compress(b"Hello", &mut first), Ok(true));
        assert_eq!(deflater.compress(b"Hello", &mut second), Ok(true));
        assert_eq!(second, [0xf2, 0x00, 0x11, 0x00, 0x00]);
    }

    #[test]
    fn without_context_takeover_every_message_starts_afresh() {
        let mut deflater = Deflater::new(15, 6, true);
        for _ in 0..3 {
            let mut out = Vec::new();
            assert_eq!(deflater.compress(b"Hello", &mut out), Ok(true));
            assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        }
    }

    #[test]
    fn level_zero_writes_the_rfc_7692_stored_block_example() {
        // RFC 7692 §7.2.3.3: "Hello" in a DEFLATE block with no compression.
        let mut deflater = Deflater::new(15, 0, false);
        let mut out = Vec::new();
        assert_eq!(deflater.compress(b"Hello", &mut out), Ok(true));
        assert_eq!(
            out,
            [
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00
            ]
        );
    }

    #[test]
    fn an_empty_message_compresses_to_one_zero_byte() {
        // RFC 7692 §7.2.3.6.
        let mut deflater = Deflater::new(15, 6, false);
        let mut out = Vec::new();
        assert_eq!(deflater.compress(b"", &mut out), Ok(true));
        assert_eq!(out, [0x00]);
    }

    #[test]
    fn an_empty_message_after_another_is_one_zero_byte_too() {
        let mut deflater = Deflater::new(15, 6, false);
        let mut out = Vec::new();
        assert_eq!(deflater.compress(b"Hello", &mut out), Ok(true));
        out.clear();
        assert_eq!(deflater.compress(b"", &mut out), Ok(true));
        assert_eq!(out, [0x00]);
    }

    #[test]
    fn window_eight_sends_messages_uncompressed() {
        let mut deflater = Deflater::new(8, 6, false);
        let mut out = vec![1, 2, 3];
        assert_eq!(deflater.compress(b"Hello Hello Hello", &mut out), Ok(false));
        assert_eq!(out, [1, 2, 3], "nothing appended");
    }

    #[test]
    fn output_is_appended_after_what_the_buffer_held() {
        let mut deflater = Deflater::new(15, 6, true);
        let mut out = vec![0x82, 0x07];
        assert_eq!(deflater.compress(b"Hello", &mut out), Ok(true));
        assert_eq!(out, [0x82, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    }
}
