//! permessage-deflate (RFC 7692), the pure parts: negotiating it in the handshake
//! ([`negotiation`]), compressing a message ([`deflater`]), inflating one within the message limit
//! ([`inflater`]), and per-thread pools for connections without context takeover ([`pool`]). The
//! handshake (`super::handshake`) calls the negotiation; the socket (`super::socket`) sets and
//! checks RSV1 and calls the Deflater and Inflater. Nothing here does I/O. Built on flate2 with the
//! zlib-rs backend (pure Rust zlib; window sizes need a zlib backend, miniz_oxide has none).
//!
//! Memory per instance (heap after one 1.3 KiB JSON-like message, zlib-rs 0.6.8, measured by
//! `tests::heap_per_instance`; the level changes nothing, zlib-rs sizes its hash tables for
//! memLevel 8 whatever the level):
//!
//! | window bits | Deflater | Inflater |
//! |---|---|---|
//! | 15 | 371 KiB | 46.6 KiB |
//! | 14 | 307 KiB | 46.6 KiB |
//! | 13 | 275 KiB | 46.6 KiB |
//! | 12 | 259 KiB | 46.6 KiB |
//! | 11 | 251 KiB | 46.6 KiB |
//! | 10 | 247 KiB | 46.6 KiB |
//! | 9  | 245 KiB | 46.6 KiB |
//! | 8  | 0 (sends uncompressed) | 46.6 KiB |
//!
//! A smaller window saves little on a Deflater (its hash tables and symbol buffer, sized for
//! memLevel 8, do not shrink with it) and nothing on an Inflater (zlib-rs allocates the same
//! 46.6 KiB at creation whatever the window bits). What saves memory is not holding one per connection: with
//! `client_no_context_takeover` the [`pool`] lends Deflaters per thread, and callers create their
//! state at the first compressed message, not at connect.

pub mod deflater;
pub mod inflater;
pub mod negotiation;
pub mod pool;

pub use deflater::{DeflateError, Deflater};
pub use inflater::{InflateError, Inflater};
pub use negotiation::{
    Agreed, DeflateOffer, NegotiationError, ServerDeflate, accept_response, answer_offers,
    refuse_any,
};

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 16 << 20;

    /// JSON-like messages: repetitive keys, varied numbers and words, as a chat or market feed sends.
    fn json_like(seed: u64, count: usize) -> Vec<Vec<u8>> {
        let words = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        ];
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        (0..count)
            .map(|_| {
                let mut message = String::from("{\"events\":[");
                for item in 0..(8 + next() % 24) {
                    if item > 0 {
                        message.push(',');
                    }
                    message.push_str(&format!(
                        "{{\"id\":{},\"user\":\"{}-{}\",\"price\":{}.{:02},\"text\":\"{} {} {}\"}}",
                        next() % 100_000,
                        words[(next() % 8) as usize],
                        next() % 1000,
                        next() % 500,
                        next() % 100,
                        words[(next() % 8) as usize],
                        words[(next() % 8) as usize],
                        words[(next() % 8) as usize],
                    ));
                }
                message.push_str("]}");
                message.into_bytes()
            })
            .collect()
    }

    /// Incompressible bytes.
    fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    fn inflate(inflater: &mut Inflater, compressed: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        assert_eq!(inflater.feed(compressed, &mut out, LIMIT), Ok(()));
        assert_eq!(inflater.finish(&mut out, LIMIT), Ok(()));
        out
    }

    #[test]
    fn messages_round_trip_for_every_window_with_and_without_context_takeover() {
        let mut messages = json_like(7, 12);
        messages.push(random_bytes(3, 70_000));
        messages.push(Vec::new());
        messages.push(b"short".to_vec());
        for window in 9..=15 {
            for no_context_takeover in [false, true] {
                let mut deflater = Deflater::new(window, 6, no_context_takeover);
                let mut inflater = Inflater::new(window, no_context_takeover);
                for message in &messages {
                    let mut compressed = Vec::new();
                    assert_eq!(deflater.compress(message, &mut compressed), Ok(true));
                    assert_eq!(
                        &inflate(&mut inflater, &compressed),
                        message,
                        "window {window}, no_context_takeover {no_context_takeover}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_message_split_into_many_frames_inflates_whole() {
        let message = json_like(11, 1).concat();
        let mut compressed = Vec::new();
        assert_eq!(
            Deflater::new(15, 6, false).compress(&message, &mut compressed),
            Ok(true)
        );
        let mut inflater = Inflater::new(15, false);
        let mut out = Vec::new();
        for frame in compressed.chunks(7) {
            assert_eq!(inflater.feed(frame, &mut out, LIMIT), Ok(()));
        }
        assert_eq!(inflater.finish(&mut out, LIMIT), Ok(()));
        assert_eq!(out, message);
    }

    #[test]
    fn context_takeover_makes_a_repeated_message_smaller() {
        let message = &json_like(5, 1)[0];
        for window in 9..=15 {
            let mut with_context = Deflater::new(window, 6, false);
            let mut without = Deflater::new(window, 6, true);
            let (mut first, mut second, mut fresh) = (Vec::new(), Vec::new(), Vec::new());
            assert_eq!(with_context.compress(message, &mut first), Ok(true));
            assert_eq!(with_context.compress(message, &mut second), Ok(true));
            assert_eq!(without.compress(message, &mut fresh), Ok(true));
            assert_eq!(without.compress(message, &mut fresh), Ok(true));
            let fresh_second = fresh.len() - first.len();
            // zlib reaches back at most the window less 262 bytes (its MIN_LOOKAHEAD).
            if message.len() + 262 <= 1 << window {
                // The whole first message is within reach: the second is a few long references.
                assert!(
                    second.len() * 4 < first.len(),
                    "window {window}: {} then {} bytes",
                    first.len(),
                    second.len()
                );
            }
            assert!(second.len() <= fresh_second, "window {window}");
            assert_eq!(
                fresh_second,
                first.len(),
                "window {window}: no context, same bytes"
            );
        }
    }

    #[test]
    fn a_larger_inflate_window_reads_a_smaller_compress_window() {
        let messages = json_like(9, 4);
        let mut deflater = Deflater::new(9, 6, false);
        let mut inflater = Inflater::new(15, false);
        for message in &messages {
            let mut compressed = Vec::new();
            assert_eq!(deflater.compress(message, &mut compressed), Ok(true));
            assert_eq!(&inflate(&mut inflater, &compressed), message);
        }
    }

    /// Python's zlib, context takeover, window 15, level 6, memLevel 8:
    /// `c = zlib.compressobj(6, zlib.DEFLATED, -15, 8)`, then for each message
    /// `(c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH))[:-4].hex()`.
    const PYTHON_MESSAGES: [&[u8]; 2] = [
        br#"{"type":"quote","symbol":"VOLY","bid":101.25,"ask":101.27,"seq":1}"#,
        br#"{"type":"quote","symbol":"VOLY","bid":101.26,"ask":101.28,"seq":2}"#,
    ];
    const PYTHON_COMPRESSED: [&str; 2] = [
        "aa562aa92c4855b2522a2ccd2f4955d2512aaecc4dcacf010a84f9fb4402f94999294a568606867a46a63a4a89c5d9508e3950656a2190530b00",
        "aa26de043364132ca02618d50200",
    ];

    fn from_hex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap_or_default())
            .collect()
    }

    #[test]
    fn python_zlib_fixtures_inflate_with_the_shared_window() {
        let mut inflater = Inflater::new(15, false);
        for (compressed, message) in PYTHON_COMPRESSED.iter().zip(PYTHON_MESSAGES) {
            assert_eq!(inflate(&mut inflater, &from_hex(compressed)), message);
        }
    }

    /// Both directions against the zlib Python links (the C library most servers use), for every
    /// window, with context takeover: Python inflates what we compress, we inflate what it does.
    /// Uses `VOLLEY_TEST_PYTHON` (as the e2e tests do) or `python3`.
    #[test]
    fn python_zlib_and_ours_read_each_other_for_every_window() {
        use std::io::Write;
        use std::process::{Command, Stdio};

        const SCRIPT: &str = r#"
import sys, zlib
out = []
for line in sys.stdin:
    window, messages, compressed = line.split(";")
    window = int(window)
    messages = [bytes.fromhex(m) for m in messages.split(",")]
    compressed = [bytes.fromhex(c) for c in compressed.split(",")]
    d = zlib.decompressobj(-window)
    for m, c in zip(messages, compressed):
        got = d.decompress(c + b"\x00\x00\xff\xff")
        if got != m:
            sys.exit("window %d: python inflated %d bytes, expected %d" % (window, len(got), len(m)))
    c = zlib.compressobj(6, zlib.DEFLATED, -window)
    out.append(",".join((c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH))[:-4].hex() for m in messages))
print("\n".join(out))
"#;
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let messages = json_like(42, 6);
        let mut input = String::new();
        for window in 9..=15u8 {
            let mut deflater = Deflater::new(window, 6, false);
            let compressed: Vec<String> = messages
                .iter()
                .map(|message| {
                    let mut out = Vec::new();
                    assert_eq!(deflater.compress(message, &mut out), Ok(true));
                    hex(&out)
                })
                .collect();
            let plain: Vec<String> = messages.iter().map(|m| hex(m)).collect();
            input.push_str(&format!(
                "{window};{};{}\n",
                plain.join(","),
                compressed.join(",")
            ));
        }
        let python = std::env::var("VOLLEY_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = match Command::new(&python)
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(error) => panic!("this test needs Python 3 ({python}): {error}"),
        };
        if let Some(mut stdin) = child.stdin.take() {
            assert!(stdin.write_all(input.as_bytes()).is_ok());
        }
        let output = match child.wait_with_output() {
            Ok(output) => output,
            Err(error) => panic!("{python}: {error}"),
        };
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 7, "one line per window");
        for (window, line) in (9..=15u8).zip(lines) {
            let mut inflater = Inflater::new(window, false);
            for (compressed, message) in line.split(',').zip(&messages) {
                assert_eq!(
                    &inflate(&mut inflater, &from_hex(compressed)),
                    message,
                    "window {window}"
                );
            }
        }
    }

    /// Live heap bytes as glibc counts them: small chunks plus mmapped large blocks. Includes
    /// malloc's per-chunk overhead (8–16 bytes per allocation).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn heap_in_use() -> usize {
        #[allow(unsafe_code)] // glibc's mallinfo2 reads the heap without replacing the allocator
        let info = unsafe { libc::mallinfo2() };
        info.uordblks + info.hblkhd
    }

    /// The figures in this module's doc: heap per Deflater and per Inflater, by window and level,
    /// after one 1.7 KiB JSON-like message. Run alone, since other tests allocate meanwhile:
    /// `cargo test --release -p volley --lib -- --ignored heap_per_instance --nocapture`.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    #[ignore = "a measurement; prints figures"]
    fn heap_per_instance() {
        let message = json_like(1, 1).concat();
        let mut compressed = Vec::with_capacity(1 << 20);
        let mut inflated = Vec::with_capacity(1 << 20);
        println!(
            "window  level  Deflater  Inflater  (KiB, after one {} B message)",
            message.len()
        );
        for window in (8..=15).rev() {
            for level in [1, 6, 9] {
                compressed.clear();
                inflated.clear();
                let before = heap_in_use();
                let mut deflater = Box::new(Deflater::new(window, level, false));
                assert!(deflater.compress(&message, &mut compressed).is_ok());
                let deflater_bytes = heap_in_use().saturating_sub(before);
                let compressed_message = if compressed.is_empty() {
                    &message
                } else {
                    &compressed
                };
                let before = heap_in_use();
                let mut inflater = Box::new(Inflater::new(window, false));
                if !compressed.is_empty() {
                    assert_eq!(
                        inflater.feed(compressed_message, &mut inflated, LIMIT),
                        Ok(())
                    );
                    assert_eq!(inflater.finish(&mut inflated, LIMIT), Ok(()));
                    assert_eq!(inflated, message);
                }
                let inflater_bytes = heap_in_use().saturating_sub(before);
                println!(
                    "{window:>6}  {level:>5}  {:>8.1}  {:>8.1}",
                    deflater_bytes as f64 / 1024.0,
                    inflater_bytes as f64 / 1024.0
                );
                // Sanity, not a target: the figures the module doc quotes stay in their range.
                assert!(deflater_bytes < 512 << 10 && inflater_bytes < 64 << 10);
                drop((deflater, inflater));
            }
        }
    }
}
