//! Failure reasons as stable keys. A reason is a map key in the JSON, a summary line and an
//! OpenMetrics label, so it must not carry per-connection values (byte offsets, sizes, VU numbers,
//! raw bytes): [`stable`] splits what a connection reported into a short stable reason
//! (`scenario: panicked in on-open`) and the detail, of which the report keeps one example per
//! reason. Most reasons are made stable where failures happen (`connection`, `load::iteration`);
//! this normalises scenario panics and caps every reason in bytes.

/// Longest stable reason, in bytes; anything longer is cut at a character boundary.
pub const MAX_REASON_BYTES: usize = 240;
/// Longest example detail kept per reason, in bytes.
pub const MAX_DETAIL_BYTES: usize = 400;

/// `(stable reason, detail)` for what a connection reported; the detail is the full text, capped.
pub fn stable(reported: &str) -> (String, String) {
    let detail = cap(reported, MAX_DETAIL_BYTES);
    let key = if let Some(rest) = reported.strip_prefix("scenario: panicked in ") {
        // `scenario: panicked in on-open: <message> (at file:line:col)` → the callback only.
        let callback = rest.split(':').next().unwrap_or(rest);
        format!("scenario: panicked in {callback}")
    } else {
        reported.to_owned()
    };
    (cap(&key, MAX_REASON_BYTES), detail)
}

/// `text` cut to at most `limit` bytes at a character boundary, with `…` when cut.
pub fn cap(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut cut = limit.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_connection_values_stay_in_the_detail() {
        let (key, detail) = stable(
            "scenario: panicked in on-open: scenario gave up on purpose (vu 3) (at faulty/src/lib.rs:24:13)",
        );
        assert_eq!(key, "scenario: panicked in on-open");
        assert!(detail.contains("(vu 3)"));
        let (key, _) = stable("connect: connection refused");
        assert_eq!(key, "connect: connection refused");
    }

    #[test]
    fn long_text_is_capped_at_a_character_boundary() {
        let long = "é".repeat(400);
        let (key, detail) = stable(&long);
        assert!(key.len() <= MAX_REASON_BYTES && key.ends_with('…'));
        assert!(detail.len() <= MAX_DETAIL_BYTES);
    }
}
