//! A small JSON path, parsed once at load: `$`, `$.a.b`, `$.items[0].id`, `$["odd key"]`,
//! `$[-1]` (the last element). Enough to find a field in a reply; no filters or wildcards.
//! Pure: [`JsonPath::find`] walks a `serde_json::Value`.

use serde_json::Value;
use std::fmt;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// An object's member.
    Key(String),
    /// An array's element; negative counts from the end.
    Index(i64),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

impl JsonPath {
    /// Parse `text`; the error says where it stops making sense and what is accepted.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let fail = |what: &str| {
            format!(
                "JSON path `{text}`: {what}; write `$.field`, `$.list[0].field` or `$[\"odd key\"]`"
            )
        };
        let Some(mut rest) = text.trim().strip_prefix('$') else {
            return Err(fail("it must start with `$`"));
        };
        let mut segments = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let key = &after[..end];
                if key.is_empty() {
                    return Err(fail("an empty name after `.`"));
                }
                segments.push(Segment::Key(key.to_owned()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let Some(end) = after.find(']') else {
                    return Err(fail("a `[` without its `]`"));
                };
                let inside = after[..end].trim();
                let quoted = inside
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .or_else(|| inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
                match quoted {
                    Some(key) => segments.push(Segment::Key(key.to_owned())),
                    None => match inside.parse::<i64>() {
                        Ok(index) => segments.push(Segment::Index(index)),
                        Err(_) => {
                            return Err(fail(&format!(
                                "`[{inside}]` is neither an index nor a quoted name"
                            )));
                        }
                    },
                }
                rest = &after[end + 1..];
            } else {
                return Err(fail(&format!("unexpected `{rest}`")));
            }
        }
        Ok(JsonPath {
            text: text.trim().to_owned(),
            segments,
        })
    }

    /// The value at this path in `root`, if there is one.
    pub fn find<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        let mut here = root;
        for segment in &self.segments {
            here = match (segment, here) {
                (Segment::Key(key), Value::Object(map)) => map.get(key)?,
                (Segment::Index(index), Value::Array(items)) => {
                    let at = if *index < 0 {
                        items.len().checked_sub(index.unsigned_abs() as usize)?
                    } else {
                        *index as usize
                    };
                    items.get(at)?
                }
                _ => return None,
            };
        }
        Some(here)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A JSON value as text for comparisons and captures: a string without its quotes, anything
/// else as JSON (`17`, `true`, `{"a":1}`).
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value() -> Value {
        serde_json::json!({"type": "joined", "items": [{"id": 1}, {"id": 2}], "odd key": true, "n": 17})
    }

    #[test]
    fn paths_find_fields_elements_and_quoted_keys() {
        let root = value();
        let find = |path: &str| {
            JsonPath::parse(path)
                .ok()
                .and_then(|p| p.find(&root).map(as_text))
        };
        assert_eq!(find("$.type").as_deref(), Some("joined"));
        assert_eq!(find("$.items[1].id").as_deref(), Some("2"));
        assert_eq!(find("$.items[-1].id").as_deref(), Some("2"));
        assert_eq!(find("$[\"odd key\"]").as_deref(), Some("true"));
        assert_eq!(find("$.n").as_deref(), Some("17"));
        assert_eq!(find("$.missing"), None);
        assert_eq!(find("$.items[5]"), None);
        assert_eq!(find("$.type.deeper"), None);
        assert!(find("$").is_some_and(|whole| whole.starts_with('{')));
    }

    #[test]
    fn bad_paths_are_refused_with_the_reason() {
        for (path, reason) in [
            ("type", "must start with `$`"),
            ("$.", "empty name"),
            ("$.a[0", "without its `]`"),
            ("$[x]", "neither an index"),
            ("$x", "unexpected"),
        ] {
            let error = JsonPath::parse(path).err().unwrap_or_default();
            assert!(error.contains(reason), "{path}: {error}");
        }
    }
}
