//! Correlation between frames, found by comparing them: an id the client sent that the server
//! echoed back in its reply ([`echoed_id`]: `id`, `requestId`, `correlationId`, `seq`, `ref`, …,
//! at the same key in the reply), where that id sits in the sent text ([`value_range`], so the send
//! can take `{{counter}}` there), and values the server handed out that are worth capturing
//! ([`server_values`]: long, non-trivial strings and numbers). Which of them a later send uses,
//! and the steps that follow, are `socket_flow`'s.

use super::json_paths::{leaves, text_form};
use serde_json::Value;
use std::ops::Range;

/// Whether a key names a request id (case, `_` and `-` ignored).
pub fn is_id_key(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const IDS: &[&str] = &[
        "id",
        "reqid",
        "requestid",
        "correlationid",
        "corrid",
        "seq",
        "seqno",
        "sequence",
        "ref",
        "msgid",
        "messageid",
        "rid",
        "cid",
        "tid",
        "txid",
        "transactionid",
        "callid",
        "nonce",
    ];
    IDS.contains(&folded.as_str())
        || folded.ends_with("requestid")
        || folded.ends_with("correlationid")
}

/// An id the client sent and the server's reply carried back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoedId {
    /// The key in both (`id`).
    pub key: String,
    /// Its path in the reply (`$.id`).
    pub reply_path: String,
    /// The value's text form (`7`, `abc`).
    pub value: String,
    /// Whether it is a number, or a string of digits: then the send can count instead.
    pub numeric: bool,
    /// Where the value's text sits in the sent text (inside the quotes for a string), when it
    /// occurs exactly once after its key.
    pub send_range: Option<Range<usize>>,
}

/// The first id-like field of `sent` whose value the reply has at a key of the same name.
pub fn echoed_id(sent_text: &str, sent: &Value, reply: &Value) -> Option<EchoedId> {
    let reply_leaves = leaves(reply);
    leaves(sent).into_iter().find_map(|leaf| {
        let key = leaf.key.filter(|key| is_id_key(key))?;
        let value = text_form(leaf.value)?;
        if value.is_empty() || matches!(leaf.value, Value::Bool(_)) {
            return None;
        }
        let echo = reply_leaves
            .iter()
            .find(|echo| echo.key == Some(key) && echo.value == leaf.value)?;
        let numeric = match leaf.value {
            Value::Number(number) => number.is_u64(),
            Value::String(text) => text.len() <= 18 && text.chars().all(|c| c.is_ascii_digit()),
            _ => false,
        };
        Some(EchoedId {
            key: key.to_owned(),
            reply_path: echo.path.clone(),
            value: value.clone(),
            numeric,
            send_range: value_range(sent_text, key, leaf.value),
        })
    })
}

/// The byte range of `value`'s text right after `"key":` in `text` (inside the quotes for a
/// string), when that key-value pair occurs exactly once; none for a value with escapes.
pub fn value_range(text: &str, key: &str, value: &Value) -> Option<Range<usize>> {
    let (token, quoted) = match value {
        Value::String(inner)
            if !inner.contains(['"', '\\']) && !inner.chars().any(char::is_control) =>
        {
            (inner.clone(), true)
        }
        Value::Number(number) => (number.to_string(), false),
        _ => return None,
    };
    let needle = format!("\"{key}\"");
    let mut found = None;
    let mut from = 0;
    while let Some(at) = text.get(from..).and_then(|rest| rest.find(&needle)) {
        let start = from + at;
        from = start + needle.len();
        let rest = &text[from..];
        let after_colon = rest.trim_start().strip_prefix(':').map(str::trim_start);
        let Some(after_colon) = after_colon else {
            continue;
        };
        let value_at = text.len() - after_colon.len();
        let range = if quoted {
            let inner = after_colon
                .strip_prefix('"')
                .and_then(|v| v.strip_prefix(token.as_str()));
            match inner {
                Some(tail) if tail.starts_with('"') => value_at + 1..value_at + 1 + token.len(),
                _ => continue,
            }
        } else {
            match after_colon.strip_prefix(token.as_str()) {
                Some(tail)
                    if !tail.starts_with(|c: char| c.is_ascii_digit() || ".eE".contains(c)) =>
                {
                    value_at..value_at + token.len()
                }
                _ => continue,
            }
        };
        if found.is_some() {
            return None;
        }
        found = Some(range);
    }
    found
}

/// A value the server handed out, at a path of one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerValue {
    /// Its text as it would appear in a later send.
    pub value: String,
    /// Its path in the received message.
    pub path: String,
    /// The key it sits at (for the capture's name); `value` for an array element.
    pub key: String,
}

/// The values of `received` worth looking for in later sends: strings of 6 or more characters
/// with a digit, or of 16 or more, that need no escaping; integers of 5 or more digits.
pub fn server_values(received: &Value) -> Vec<ServerValue> {
    leaves(received)
        .into_iter()
        .filter_map(|leaf| {
            let value = match leaf.value {
                Value::String(text) => {
                    let length = text.chars().count();
                    let distinctive =
                        (length >= 6 && text.chars().any(|c| c.is_ascii_digit())) || length >= 16;
                    let writable = !text
                        .chars()
                        .any(|c| c.is_control() || c.is_whitespace() || "\"\\{}$".contains(c));
                    (distinctive && writable).then(|| text.clone())?
                }
                Value::Number(number) if number.is_i64() || number.is_u64() => {
                    let text = number.to_string();
                    (text.trim_start_matches('-').len() >= 5).then_some(text)?
                }
                _ => return None,
            };
            Some(ServerValue {
                value,
                path: leaf.path,
                key: leaf.key.unwrap_or("value").to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn id_keys_are_recognised() {
        for key in [
            "id",
            "requestId",
            "request_id",
            "correlationId",
            "seq",
            "ref",
            "msg-id",
        ] {
            assert!(is_id_key(key), "{key}");
        }
        for key in ["type", "room", "userId", "identity"] {
            assert!(!is_id_key(key), "{key}");
        }
    }

    #[test]
    fn an_echoed_number_is_found_with_its_place_in_the_send() {
        let sent = r#"{"op":"sub", "id" : 7,"topic":"x7"}"#;
        let echo = echoed_id(
            sent,
            &serde_json::from_str(sent).unwrap_or(Value::Null),
            &json!({"op": "ack", "id": 7}),
        );
        let Some(echo) = echo else {
            panic!("no echo found");
        };
        assert_eq!(
            (echo.key.as_str(), echo.reply_path.as_str()),
            ("id", "$.id")
        );
        assert!(echo.numeric);
        assert_eq!(echo.send_range.map(|range| &sent[range]), Some("7"));
    }

    #[test]
    fn a_string_id_and_one_not_echoed() {
        let sent = json!({"ref": "abc", "requestId": "55"});
        let text = sent.to_string();
        let echo = echoed_id(&text, &sent, &json!({"data": {"requestId": "55"}}));
        let Some(echo) = echo else {
            panic!("no echo found");
        };
        assert_eq!(echo.reply_path, "$.data.requestId");
        assert!(echo.numeric);
        assert_eq!(echo.send_range.map(|range| &text[range]), Some("55"));
        assert_eq!(echoed_id(&text, &sent, &json!({"ref": "other"})), None);
    }

    #[test]
    fn value_range_needs_exactly_one_occurrence() {
        assert_eq!(
            value_range(r#"{"id":1,"x":{"id":1}}"#, "id", &json!(1)),
            None
        );
        assert_eq!(value_range(r#"{"id":12}"#, "id", &json!(1)), None);
        assert_eq!(value_range(r#"{"id":"a"}"#, "id", &json!("a")), Some(7..8));
    }

    #[test]
    fn server_values_are_long_and_distinctive() {
        let values = server_values(&json!({
            "type": "welcome",
            "session": "s-4f9a2c",
            "room": "general",
            "token": "abcdefghijklmnopqrstuvwxyz",
            "user": 12,
            "room_id": 48213,
            "note": "has space 123"
        }));
        let found: Vec<(&str, &str)> = values
            .iter()
            .map(|value| (value.key.as_str(), value.value.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("room_id", "48213"),
                ("session", "s-4f9a2c"),
                ("token", "abcdefghijklmnopqrstuvwxyz"),
            ]
        );
    }
}
