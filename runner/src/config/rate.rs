//! Arrival rates as scenario files write them: `200/s`, `600/m`, `36000/h`, or a bare number (per
//! second, the constant `load.arrival_rate: 5` form), parsed into arrivals per second and
//! printed back (`human_rate`). Leaf like `units`; the validator attaches `file:line:column`.

/// The highest arrival rate a file may ask for, per second (one process or many).
pub const MAX_PER_SECOND: f64 = 100_000.0;

/// Parse a rate such as `200/s`, `30/m`, `10/h` or `5` (per second) into arrivals per second,
/// from 0 to [`MAX_PER_SECOND`].
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, unit) = match text.split_once('/') {
        Some((number, unit)) => (number.trim(), unit.trim()),
        None => (text, "s"),
    };
    let seconds_per_unit = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown rate unit `/{other}` in `{text}`; write arrivals per second, minute or hour, e.g. `200/s`, `600/m` or `36000/h`"
            ));
        }
    };
    let count: f64 = match number.parse::<f64>() {
        Ok(count) if count.is_finite() => count,
        _ => {
            return Err(format!(
                "`{text}` is not a rate; write a number of arrivals per second, minute or hour, e.g. `200/s` or `600/m`"
            ));
        }
    };
    if count < 0.0 {
        return Err(format!(
            "`{text}` is negative; a rate is 0 or more arrivals, e.g. `0/s` to ramp down to none"
        ));
    }
    let per_second = count / seconds_per_unit;
    if per_second > MAX_PER_SECOND {
        return Err(format!(
            "`{text}` is above {MAX_PER_SECOND} arrivals per second; spread a larger load over machines with --shard"
        ));
    }
    Ok(per_second)
}

/// `200/s`, `2.5/s`, `3.33/s`: a rate per second as a person writes it.
pub fn human_rate(per_second: f64) -> String {
    if per_second.fract() == 0.0 {
        format!("{per_second}/s")
    } else {
        let text = format!("{per_second:.2}");
        format!("{}/s", text.trim_end_matches('0').trim_end_matches('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_per_second_minute_and_hour() {
        assert_eq!(parse_rate("200/s"), Ok(200.0));
        assert_eq!(parse_rate("600/m"), Ok(10.0));
        assert_eq!(parse_rate("36000 / h"), Ok(10.0));
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        assert_eq!(parse_rate("0/s"), Ok(0.0));
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(parse_rate("-5/s").unwrap_err().contains("negative"));
        assert!(parse_rate("fast/s").unwrap_err().contains("not a rate"));
        assert!(parse_rate("inf/s").unwrap_err().contains("not a rate"));
        assert!(parse_rate("").unwrap_err().contains("not a rate"));
        let unit = parse_rate("10/d").unwrap_err();
        assert!(unit.contains("`/d`") && unit.contains("600/m"), "{unit}");
        assert!(parse_rate("100001/s").unwrap_err().contains("100000"));
    }

    #[test]
    fn rates_print_back_short() {
        assert_eq!(human_rate(200.0), "200/s");
        assert_eq!(human_rate(2.5), "2.5/s");
        assert_eq!(human_rate(200.0 / 60.0), "3.33/s");
        assert_eq!(human_rate(0.0), "0/s");
    }
}
