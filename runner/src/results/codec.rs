//! HDR histograms as text for results files: the V2 compressed encoding (the HdrHistogram family's
//! interchange format) in base64. `merge` decodes them to combine runs exactly; nothing here knows
//! what the values mean.

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

/// Decode what [`encode`] wrote.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    if text.is_empty() {
        return Ok(crate::measure::stats::new_histogram());
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|error| format!("histogram is not base64: {error}"))?;
    let mut histogram: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|error| format!("histogram does not decode: {error:?}"))?;
    histogram.auto(true);
    Ok(histogram)
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
}
