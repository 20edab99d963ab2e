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
    fn offsets_to_positions() {
        assert_eq!(position_of("ab\ncd", 4), (2, 2));
        assert_eq!(position_of("ab", 0), (1, 1));
    }
}
