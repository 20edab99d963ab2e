//! The scalar leaves of a JSON value with the JSON path of each (`$.session`, `$.data.room_id`,
//! `$.items[0].id`, `$["odd key"]`), in the flow spec's path syntax. Keys a path could not carry
//! safely through the file (quotes, backslashes, `$`, braces, control characters) leave their
//! subtree out. Used to find ids and server-assigned values (`correlate`) and discriminating
//! fields (`reply_condition`); deciding what a leaf means is theirs.

use serde_json::Value;

/// One scalar (string, number or boolean) inside a JSON value.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf<'a> {
    /// `$.a.b`, `$.items[0]`.
    pub path: String,
    /// The key the scalar sits at (none for an array element or the root).
    pub key: Option<&'a str>,
    pub value: &'a Value,
}

/// How deep and how many leaves are looked at: enough for application messages, bounded for
/// large payloads.
const MAX_DEPTH: usize = 6;
const MAX_LEAVES: usize = 500;

/// The scalar leaves of `value`, depth first, keys in the value's order.
pub fn leaves(value: &Value) -> Vec<Leaf<'_>> {
    let mut out = Vec::new();
    walk(value, "$".to_owned(), None, 0, &mut out);
    out
}

fn walk<'a>(
    value: &'a Value,
    path: String,
    key: Option<&'a str>,
    depth: usize,
    out: &mut Vec<Leaf<'a>>,
) {
    if out.len() >= MAX_LEAVES || depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(object) => {
            for (child_key, child) in object {
                if let Some(segment) = key_segment(child_key) {
                    walk(
                        child,
                        format!("{path}{segment}"),
                        Some(child_key),
                        depth + 1,
                        out,
                    );
                }
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                walk(child, format!("{path}[{index}]"), None, depth + 1, out);
            }
        }
        Value::Null => {}
        scalar => out.push(Leaf {
            path,
            key,
            value: scalar,
        }),
    }
}

/// `.key` for an identifier, `["key"]` for other safe keys, none for a key a path cannot carry.
pub fn key_segment(key: &str) -> Option<String> {
    let identifier = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        return Some(format!(".{key}"));
    }
    let unsafe_char = |c: char| c.is_control() || "\"\\${}".contains(c);
    (!key.is_empty() && !key.chars().any(unsafe_char)).then(|| format!("[\"{key}\"]"))
}

/// A scalar's text form, as the flow spec's `equals` compares it (`"joined"` → `joined`,
/// `17` → `17`).
pub fn text_form(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_carry_their_paths() {
        let value = json!({"type": "joined", "data": {"room_id": 42, "tags": ["a"]}, "odd key": true, "bad\"key": 1, "n": null});
        let paths: Vec<(String, Option<&str>)> = leaves(&value)
            .into_iter()
            .map(|leaf| (leaf.path, leaf.key))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("$.data.room_id".to_owned(), Some("room_id")),
                ("$.data.tags[0]".to_owned(), None),
                ("$[\"odd key\"]".to_owned(), Some("odd key")),
                ("$.type".to_owned(), Some("type")),
            ]
        );
    }

    #[test]
    fn text_forms_follow_the_spec() {
        assert_eq!(text_form(&json!("joined")).as_deref(), Some("joined"));
        assert_eq!(text_form(&json!(17)).as_deref(), Some("17"));
        assert_eq!(text_form(&json!(null)), None);
    }
}
