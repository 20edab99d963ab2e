//! Find where a key sits in a block-style YAML text (`load.ramp_up` → line 9, column 3), so errors
//! found after parsing (a bad duration, a bad URL) still name `file:line:column`.

/// 1-based (line, column) of the last key of `path`, or of the deepest key found.
pub fn locate(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    let mut found = None;
    let mut parent_indent: Option<usize> = None;
    let mut lines = text.lines().enumerate();
    'keys: for key in path {
        for (number, line) in lines.by_ref() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if parent_indent.is_some_and(|parent| indent <= parent) {
                return found;
            }
            let bare = trimmed.trim_start_matches("- ");
            let key_text = bare
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            if key_text == *key && bare.contains(':') {
                let column = indent + (trimmed.len() - bare.len()) + 1;
                found = Some((number + 1, column));
                parent_indent = Some(indent);
                continue 'keys;
            }
        }
        return found;
    }
    found
}

/// 1-based (line, column) of entry `index` (from 0) of the block list under `path`
/// (`load.arrival_rate.stages`, entry 2 → where its `- ` item starts); the list's key when the
/// entry is not found (a flow list on one line, fewer entries).
pub fn locate_item(text: &str, path: &[&str], index: usize) -> Option<(usize, usize)> {
    let key = locate(text, path)?;
    let key_indent = key.1 - 1;
    let mut item_indent = None;
    let mut seen = 0;
    for (number, line) in text.lines().enumerate().skip(key.0) {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let is_item = trimmed.starts_with("- ") || trimmed == "-";
        if indent < key_indent || (indent == key_indent && !is_item) {
            break;
        }
        if !is_item || item_indent.is_some_and(|first| first != indent) {
            continue;
        }
        item_indent = Some(indent);
        if seen == index {
            let content = trimmed[1..].len() - trimmed[1..].trim_start().len();
            return Some((number + 1, indent + 2 + content));
        }
        seen += 1;
    }
    Some(key)
}

/// 1-based (line, column) of a byte offset.
pub fn position_of(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version: 1\nname: x\nload:\n  # comment\n  connections: 5\n  ramp_up: 2s\nlimits:\n  ramp_up: 1\n";

    #[test]
    fn finds_nested_keys() {
        assert_eq!(locate(TEXT, &["load", "ramp_up"]), Some((6, 3)));
        assert_eq!(locate(TEXT, &["limits", "ramp_up"]), Some((8, 3)));
        assert_eq!(locate(TEXT, &["name"]), Some((2, 1)));
    }

    #[test]
    fn falls_back_to_the_parent() {
        assert_eq!(locate(TEXT, &["load", "duration"]), Some((3, 1)));
    }

    #[test]
    fn finds_list_entries() {
        let text = "load:\n  arrival_rate:\n    stages:\n      - {target: 1/s, duration: 1s}\n      # a comment\n      - target: 2/s\n        duration: 0s\n  max_connections: 5\n";
        let path = ["load", "arrival_rate", "stages"];
        assert_eq!(locate_item(text, &path, 0), Some((4, 9)));
        assert_eq!(locate_item(text, &path, 1), Some((6, 9)));
        assert_eq!(locate_item(text, &path, 2), Some((3, 5)));
        let flow = "load:\n  arrival_rate:\n    stages: [{target: 1/s, duration: 1s}]\n";
        assert_eq!(locate_item(flow, &path, 0), Some((3, 5)));
    }

    #[test]
    fn offsets_to_positions() {
        assert_eq!(position_of("ab\ncd", 4), (2, 2));
        assert_eq!(position_of("ab", 0), (1, 1));
    }
}
