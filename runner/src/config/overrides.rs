//! Command-line changes on top of a scenario file: `--target URL` and `--set key.path=value`
//! (applied to the parsed YAML tree before validation, so a `--set` value is checked like the file's).

use serde_yaml_ng::Value;

/// Command-line changes applied on top of the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--target URL`.
    pub target: Option<String>,
    /// `--set key.path=value`, in order.
    pub sets: Vec<(String, String)>,
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
