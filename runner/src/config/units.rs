//! Human units in scenario files: durations (`250ms`, `5s`, `1m30s`, `2h`) and sizes (`512KiB`,
//! `4MiB`, `1GiB`, plain bytes), parsed from files and formatted back for people (`human_*`), so
//! both directions agree. A leaf: it imports nothing from the crate, and every stage may use it.
//! Callers attach the file location to parse errors.

use std::time::Duration;

/// The longest duration accepted anywhere in a file (keeps deadline arithmetic far from overflow).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parse a duration such as `100ms`, `5s`, `1m30s` or `2h`. A bare number is rejected because its
/// unit would be a guess.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. `500ms`, `10s` or `2m`".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration; write e.g. `500ms`, `10s` or `2m`"
            ));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` has a malformed number"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "`{text}` has no unit; write `{text}s` for seconds or `{text}ms` for milliseconds"
                ));
            }
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{text}`; use us, ms, s, m or h"
                ));
            }
        };
        rest = &rest[unit_len..];
        let term = Duration::try_from_secs_f64(number * seconds_per_unit)
            .map_err(|_| format!("`{text}` is out of range"))?;
        total = total
            .checked_add(term)
            .filter(|sum| *sum <= MAX_DURATION)
            .ok_or_else(|| format!("`{text}` is longer than the 365 days a run may last"))?;
    }
    if total > MAX_DURATION {
        return Err(format!(
            "`{text}` is longer than the 365 days a run may last"
        ));
    }
    Ok(total)
}

/// Parse a size such as `4MiB`, `512KiB`, `64kB` or `1048576` (bytes).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let number: f64 = text[..digits]
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. `4MiB` or `512KiB`"))?;
    let multiplier = match text[digits..].trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}`; use B, KiB, MiB or GiB"
            ));
        }
    };
    Ok((number * multiplier) as u64)
}

/// `1.5s`, `250ms`, `2m`, as a person writes it.
pub fn human_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        format!("{}µs", duration.as_micros())
    } else if millis < 1000 {
        format!("{millis}ms")
    } else if millis.is_multiple_of(60_000) {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// A microsecond figure as a person reads it: `850µs`, `3.61ms`, `1.20s`.
pub fn human_micros(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}s", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.2}ms", value / 1e3)
    } else {
        format!("{value:.0}µs")
    }
}

/// A plain number as a person reads it: at most 3 decimals, no trailing zeros (`18`, `17.615`,
/// `1.296`).
pub fn human_number(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".to_owned(),
        _ => text.to_owned(),
    }
}

/// `4 MiB`, `512 KiB`, `100 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_duration(Duration::from_millis(100)), "100ms");
        assert_eq!(human_duration(Duration::from_secs(5)), "5s");
        assert_eq!(human_duration(Duration::from_secs(120)), "2m");
        assert_eq!(human_bytes(4 << 20), "4 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn durations_combine_units() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn bare_numbers_and_unknown_units_are_explained() {
        let error = parse_duration("30").unwrap_err();
        assert!(error.contains("`30s`"), "{error}");
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_duration("400d").is_err());
        assert!(parse_duration("10000000000000000000s10000000000000000000s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("4MiB"), Ok(4 * 1024 * 1024));
        assert_eq!(parse_bytes("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_bytes("100"), Ok(100));
        assert!(parse_bytes("4 parsecs").is_err());
    }
}
