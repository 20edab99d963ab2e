//! Command-line changes on top of a scenario file: `--target URL` and `--set key.path=value`
//! (applied to the parsed YAML tree before validation, so a `--set` value is checked like the file's).
//! A `--set` value may be a secret (`--set vars.token=$TOKEN`): errors about it name the key, never
//! the value ([`hide_set_values`]).

use super::redact::HIDDEN;
use serde_yaml_ng::Value;

/// Command-line changes applied on top of the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--target URL`.
    pub target: Option<String>,
    /// `--set key.path=value`, in order.
    pub sets: Vec<(String, String)>,
}

/// `message` (an error about the tree after `--set`) with every quoted `--set` value in it, as
/// given or as YAML read it (`"…"`, `` `…` `` or `'…'`, the ways serde quotes a value), hidden.
pub(super) fn hide_set_values(message: &str, sets: &[(String, String)]) -> String {
    let mut hidden = message.to_owned();
    for (_, value) in sets {
        let parsed = match serde_yaml_ng::from_str::<Value>(value) {
            Ok(Value::String(text)) => Some(text),
            _ => None,
        };
        for text in std::iter::once(value).chain(parsed.as_ref()) {
            if text.is_empty() {
                continue;
            }
            for quote in ['"', '`', '\''] {
                hidden = hidden.replace(
                    &format!("{quote}{text}{quote}"),
                    &format!("{quote}{HIDDEN}{quote}"),
                );
            }
        }
    }
    hidden
}

/// Set `a.b.c` in a YAML mapping tree to `value` (parsed as a YAML scalar).
pub(super) fn apply_set(root: &mut Value, path: &str, value: &str) -> Result<(), String> {
    let parsed: Value = serde_yaml_ng::from_str(value).unwrap_or(Value::String(value.to_owned()));
    let mut node = root;
    let keys: Vec<&str> = path.split('.').collect();
    for (index, key) in keys.iter().enumerate() {
        let Value::Mapping(map) = node else {
            return Err(format!("`{}` is not a mapping", keys[..index].join(".")));
        };
        let key_value = Value::String((*key).to_owned());
        if index + 1 == keys.len() {
            map.insert(key_value, parsed);
            return Ok(());
        }
        node = map
            .entry(key_value)
            .or_insert_with(|| Value::Mapping(Default::default()));
    }
    Err("empty key".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_set_values_are_hidden_in_messages() {
        let sets = vec![
            ("load.connections".to_owned(), "s3cr3t".to_owned()),
            ("vars.quoted".to_owned(), "'p4ss'".to_owned()),
        ];
        assert_eq!(
            hide_set_values(
                "load.connections: invalid type: string \"s3cr3t\", expected u32; `p4ss`",
                &sets
            ),
            "load.connections: invalid type: string \"…\", expected u32; `…`"
        );
        assert_eq!(hide_set_values("nothing to hide", &sets), "nothing to hide");
    }
}
