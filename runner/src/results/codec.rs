//! HDR histograms as text for results files: the V2 compressed encoding (the HdrHistogram family's
//! interchange format) in base64. `merge` decodes them to combine runs exactly; nothing here knows
//! what the values mean. Decoding is bounded, since results files come from elsewhere: at most
//! [`MAX_ENCODED`] of text, at most [`MAX_INFLATED`] once inflated, and only the precision Volley
//! writes (3 significant digits), so a hostile file cannot make `merge` or `report` allocate more
//! than about a megabyte per histogram being decoded.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// Encode a histogram; an empty string if encoding fails (it cannot for in-memory data).
pub fn encode(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(histogram, &mut bytes) {
        Ok(_) => STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// Longest encoded histogram accepted, in base64 characters.
pub const MAX_ENCODED: usize = 1 << 20;
/// Largest histogram payload accepted once inflated, in bytes.
pub const MAX_INFLATED: u64 = 8 << 20;
/// The V2 cookies of the HdrHistogram encoding (compressed, and plain).
const COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;
const PLAIN_COOKIE: u32 = 0x1c84_9303 | 0x10;
/// Highest value a decoded histogram may track: the most an HDR histogram can (a metric at
/// `METRIC_TOP` is 2^62 once scaled); its counts then take about 440 KiB.
const MAX_TRACKABLE: u64 = i64::MAX as u64;

/// Decode what [`encode`] wrote, within the bounds above.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    if text.is_empty() {
        return Ok(crate::measure::stats::new_histogram());
    }
    if text.len() > MAX_ENCODED {
        return Err(format!(
            "histogram is {} characters long; at most {MAX_ENCODED} are accepted",
            text.len()
        ));
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|error| format!("histogram is not base64: {error}"))?;
    let plain = inflate(&bytes)?;
    check_header(&plain)?;
    let mut histogram: Histogram<u64> = Deserializer::new()
        .deserialize(&mut plain.as_slice())
        .map_err(|error| format!("histogram does not decode: {error:?}"))?;
    histogram.auto(true);
    Ok(histogram)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(word))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let word: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(word))
}

/// The plain V2 encoding inside `bytes`, inflated with a cap when compressed.
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    match read_u32(bytes, 0) {
        Some(PLAIN_COOKIE) => Ok(bytes.to_vec()),
        Some(COMPRESSED_COOKIE) => {
            let compressed = bytes.get(8..).ok_or("histogram is truncated")?;
            let mut plain = Vec::new();
            flate2::read::ZlibDecoder::new(compressed)
                .take(MAX_INFLATED + 1)
                .read_to_end(&mut plain)
                .map_err(|error| format!("histogram does not inflate: {error}"))?;
            if plain.len() as u64 > MAX_INFLATED {
                return Err(format!(
                    "histogram inflates to more than {MAX_INFLATED} bytes"
                ));
            }
            Ok(plain)
        }
        _ => Err("histogram has no HdrHistogram V2 cookie".into()),
    }
}

/// Refuse headers that would make the decoder allocate more than Volley's own histograms need.
fn check_header(plain: &[u8]) -> Result<(), String> {
    // V2 header: cookie, payload length, normalizing offset, significant digits (u32 each), then
    // lowest and highest trackable values (u64 each).
    let digits = read_u32(plain, 12).ok_or("histogram header is truncated")?;
    let highest = read_u64(plain, 24).ok_or("histogram header is truncated")?;
    if digits != 3 {
        return Err(format!(
            "histogram has {digits} significant digits; Volley writes 3"
        ));
    }
    if highest > MAX_TRACKABLE {
        return Err(format!(
            "histogram tracks values up to {highest}; at most {MAX_TRACKABLE} are accepted"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_exactly() -> Result<(), String> {
        let mut histogram = crate::measure::stats::new_histogram();
        for value in [1u64, 17, 1_000, 123_456, 9_999_999] {
            histogram.record(value).map_err(|e| e.to_string())?;
        }
        let decoded = decode(&encode(&histogram))?;
        assert_eq!(decoded, histogram);
        assert_eq!(
            decoded.value_at_quantile(0.5),
            histogram.value_at_quantile(0.5)
        );
        Ok(())
    }

    #[test]
    fn the_largest_metric_value_decodes() -> Result<(), String> {
        let mut recorded = crate::measure::recorded::Recorded::default();
        for value in [1.0, 7e13, 9e15, f64::MAX] {
            recorded.record_metric(value);
        }
        let decoded = decode(&encode(&recorded.histogram))?;
        assert_eq!(decoded, recorded.histogram);
        Ok(())
    }

    #[test]
    fn hostile_histograms_are_refused_before_they_are_allocated() {
        let too_long = "A".repeat(MAX_ENCODED + 4);
        assert!(decode(&too_long).is_err_and(|e| e.contains("at most")));
        // A deflate bomb: 64 MiB of zeros behind a compressed cookie.
        let mut bomb = Vec::new();
        bomb.extend_from_slice(&COMPRESSED_COOKIE.to_be_bytes());
        bomb.extend_from_slice(&0u32.to_be_bytes());
        {
            use std::io::Write as _;
            let mut encoder =
                flate2::write::ZlibEncoder::new(&mut bomb, flate2::Compression::best());
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..64 {
                let _ = encoder.write_all(&zeros);
            }
            let _ = encoder.finish();
        }
        let error = decode(&STANDARD.encode(&bomb)).unwrap_err();
        assert!(error.contains("inflates to more than"), "{error}");
        assert!(decode(&STANDARD.encode(b"not a histogram")).is_err());
    }
}
