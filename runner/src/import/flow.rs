//! The flow file an importer writes, as plain data: the scenario's top (name, target, headers,
//! subprotocols) and its `flow:` steps (`send`, `send_binary`, `expect`, `think`, `close`), with
//! text kept as a [`Template`] of recorded literals and placeholders (`{{counter}}`, `{{session}}`,
//! `${CHAT_COOKIE}`) so that writing it (`yaml_out`) can escape the one and not the other. Only
//! what `flow-spec` describes and an importer emits lives here; deciding the steps is the
//! importer's (`har/`), the YAML text is `yaml_out`'s.

/// A piece of text in a flow file: recorded literal text, or a placeholder written as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Recorded text: written with every `$` doubled (the file's `${…}` substitution reads `$$`
    /// as `$`).
    Literal(String),
    /// `{{counter}}`, `{{session}}`, `${CHAT_TOKEN}`: written as is.
    Placeholder(String),
}

/// Text made of recorded literals and placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

impl Template {
    /// Recorded text with no placeholder.
    pub fn literal(text: &str) -> Self {
        Self {
            pieces: vec![Piece::Literal(text.to_owned())],
        }
    }

    /// A placeholder alone (`${CHAT_COOKIE}`, `{{counter}}`).
    pub fn placeholder(text: &str) -> Self {
        Self {
            pieces: vec![Piece::Placeholder(text.to_owned())],
        }
    }

    /// `text` with the byte range `range` replaced by the placeholder `placeholder`.
    pub fn with_hole(text: &str, range: std::ops::Range<usize>, placeholder: &str) -> Self {
        let (Some(before), Some(after)) = (text.get(..range.start), text.get(range.end..)) else {
            return Self::literal(text);
        };
        let mut pieces = Vec::with_capacity(3);
        if !before.is_empty() {
            pieces.push(Piece::Literal(before.to_owned()));
        }
        pieces.push(Piece::Placeholder(placeholder.to_owned()));
        if !after.is_empty() {
            pieces.push(Piece::Literal(after.to_owned()));
        }
        Self { pieces }
    }

    /// Replace every occurrence of `needle` in the literal pieces that stands alone (no letter,
    /// digit or `_` right before or after it) by `placeholder`; how many were replaced.
    pub fn replace_word(&mut self, needle: &str, placeholder: &str) -> usize {
        self.replace(needle, placeholder, true)
    }

    /// Replace every occurrence of `needle` in the literal pieces, wherever it stands.
    pub fn replace_all(&mut self, needle: &str, placeholder: &str) -> usize {
        self.replace(needle, placeholder, false)
    }

    fn replace(&mut self, needle: &str, placeholder: &str, whole_word: bool) -> usize {
        if needle.is_empty() {
            return 0;
        }
        let mut replaced = 0;
        let mut pieces = Vec::with_capacity(self.pieces.len());
        for piece in std::mem::take(&mut self.pieces) {
            let Piece::Literal(text) = piece else {
                pieces.push(piece);
                continue;
            };
            let mut rest = text.as_str();
            let mut kept = String::new();
            loop {
                let found = if whole_word {
                    find_word(rest, needle)
                } else {
                    rest.find(needle)
                };
                let Some(at) = found else {
                    break;
                };
                kept.push_str(&rest[..at]);
                if !kept.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut kept)));
                }
                pieces.push(Piece::Placeholder(placeholder.to_owned()));
                replaced += 1;
                rest = &rest[at + needle.len()..];
            }
            kept.push_str(rest);
            if !kept.is_empty() {
                pieces.push(Piece::Literal(kept));
            }
        }
        self.pieces = pieces;
        replaced
    }

    /// The text as the runtime will see it after `${…}` substitution, with placeholders as
    /// written (for tests and for checking what a file would carry).
    pub fn plain(&self) -> String {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal(text) | Piece::Placeholder(text) => text.as_str(),
            })
            .collect()
    }
}

/// The byte offset of the first occurrence of `needle` in `text` not glued to a word character.
fn find_word(text: &str, needle: &str) -> Option<usize> {
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| rest.find(needle)) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        if !glued(before) && !glued(after) {
            return Some(at);
        }
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// A condition of an `expect` (the spec's keys; all given must hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `equals: TEXT`: the whole text message.
    Equals(Template),
    /// `contains: TEXT`.
    Contains(Template),
    /// `json: {path: PATH, equals: VALUE}`.
    JsonEquals { path: String, value: Template },
    /// `binary: true`.
    Binary,
}

/// One `expect` step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expect {
    /// `name:` (times the round trip from the send just before; only right after a send).
    pub name: Option<String>,
    /// At most one of each kind (the spec's keys are a mapping).
    pub conditions: Vec<Condition>,
    /// `capture:` name → JSON path, in order.
    pub captures: Vec<(String, String)>,
}

/// One step of `flow:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Send(Template),
    /// Base64 of the payload.
    SendBinary(String),
    Expect(Expect),
    /// Milliseconds.
    Think(u64),
    Close,
}

/// The `load:` the file starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    pub connections: u32,
    pub iterations: u32,
}

/// A whole flow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowFile {
    /// Comment lines at the top (without `# `).
    pub comments: Vec<String>,
    pub name: String,
    pub target: Template,
    /// Header name → value, in the recorded order.
    pub headers: Vec<(String, Template)>,
    pub subprotocols: Vec<String>,
    pub load: Load,
    pub steps: Vec<Step>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_word_replaces_only_whole_words_in_literals() {
        let mut text = Template::literal(r#"{"s":"abc123","t":"xabc123","u":"abc123"}"#);
        assert_eq!(text.replace_word("abc123", "{{session}}"), 2);
        assert_eq!(
            text.plain(),
            r#"{"s":"{{session}}","t":"xabc123","u":"{{session}}"}"#
        );
        // A placeholder is never searched again.
        assert_eq!(text.replace_word("session", "{{other}}"), 0);
        assert_eq!(text.replace_all("abc123", "${S}"), 1);
        assert!(text.plain().contains(r#""t":"x${S}""#));
    }

    #[test]
    fn with_hole_cuts_the_range_out() {
        let text = r#"{"id":7,"op":"x"}"#;
        let template = Template::with_hole(text, 6..7, "{{counter}}");
        assert_eq!(template.plain(), r#"{"id":{{counter}},"op":"x"}"#);
        assert_eq!(template.pieces.len(), 3);
        // A range off a character boundary keeps the text whole rather than panicking.
        assert_eq!(Template::with_hole("é", 1..2, "x").plain(), "é");
    }
}
