//! `${NAME}` and `${NAME:-default}` substitution from the environment, applied to the file's text
//! before YAML parsing (so secrets and targets can come from CI variables). `$$` writes a literal `$`.
//!
//! A substituted value is taken whole, as the value of the field it stands in: inside a quoted
//! scalar it is escaped for those quotes, and in a plain scalar that the value would break (a `#`,
//! a `: `, a leading quote…) the whole scalar is written double-quoted. Placeholders in comments
//! are left alone. Lines never change, so YAML error locations stay right.

/// A `${NAME}` with no value and no default, at a byte offset in the text.
#[derive(Debug, PartialEq, Eq)]
pub struct Unset {
    pub name: String,
    pub offset: usize,
}

/// How a value must be written where its placeholder stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quoting {
    Plain,
    Double,
    Single,
}

/// Replace every `${NAME}` / `${NAME:-default}` using `lookup`.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, Unset> {
    let mut out = String::with_capacity(text.len());
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        substitute_line(line, line_start, &lookup, &mut out)?;
        line_start += line.len();
    }
    Ok(out)
}

/// Where the comment starts in `line` (a `#` at the start or after white space, outside quotes).
fn comment_start(line: &str) -> usize {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') if previous.is_whitespace() || ":-[{,".contains(previous) => {
                quote = Some(c);
            }
            (Some(open), _) if c == open => quote = None,
            (None, '#') if previous.is_whitespace() => return at,
            _ => {}
        }
        previous = c;
    }
    line.len()
}

/// Where the value of a `key: value`, `- value` or `- key: value` line starts (after the
/// indicator, the key and spaces).
fn value_start(code: &str) -> usize {
    let indent = code.len() - code.trim_start().len();
    let rest = &code[indent..];
    if rest.starts_with("- ") {
        let after = indent + 2;
        let item = after + (code[after..].len() - code[after..].trim_start().len());
        // `- send: '…${X}…'` (a flow step): the value is the key's, not the whole item.
        return item + key_value_start(&code[item..]).unwrap_or(0);
    }
    indent + key_value_start(rest).unwrap_or(0)
}

/// Where the value starts in `key: value` (after the colon and spaces); `None` when `text` does not
/// start with a plain key (a quoted scalar, a flow collection).
fn key_value_start(text: &str) -> Option<usize> {
    let colon = text.find(": ")?;
    if text[..colon].contains(['"', '\'', '{', '[']) {
        return None;
    }
    let after = colon + 2;
    Some(after + (text[after..].len() - text[after..].trim_start().len()))
}

fn substitute_line(
    line: &str,
    line_start: usize,
    lookup: &impl Fn(&str) -> Option<String>,
    out: &mut String,
) -> Result<(), Unset> {
    let comment = comment_start(line);
    let (code, rest_of_line) = line.split_at(comment);
    if !code.contains('$') {
        out.push_str(line);
        return Ok(());
    }
    let start = value_start(code);
    let value_end = code.trim_end().len().max(start);
    let (before, value, after) = (&code[..start], &code[start..value_end], &code[value_end..]);
    let quoting = match value.chars().next() {
        Some('"') => Quoting::Double,
        Some('\'') => Quoting::Single,
        _ => Quoting::Plain,
    };
    // Text before the value (a key) is substituted as is, for compatibility.
    let before = expand(before, line_start, Quoting::Plain, lookup)?;
    let expanded = expand(value, line_start + start, quoting, lookup)?;
    out.push_str(&before);
    if quoting == Quoting::Plain && expanded != value && !plain_safe(&expanded) {
        out.push('"');
        out.push_str(&escape_double(&expanded));
        out.push('"');
    } else {
        out.push_str(&expanded);
    }
    out.push_str(after);
    out.push_str(rest_of_line);
    Ok(())
}

/// Whether `text` reads back as the same plain YAML scalar (no comment, no mapping, no indicator).
fn plain_safe(text: &str) -> bool {
    let starts_with_indicator = text.starts_with([
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
        '`',
    ]);
    !(text.is_empty()
        || starts_with_indicator
        || text.contains(" #")
        || text.contains(": ")
        || text.ends_with(':')
        || text.contains(['\n', '\r', '\t'])
        || text != text.trim())
}

fn escape_double(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Substitute the placeholders of `text` (which starts at byte `offset` of the file), writing each
/// value as `quoting` requires.
fn expand(
    text: &str,
    offset: usize,
    quoting: Quoting,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, Unset> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut at = offset;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            at += dollar + 2;
            rest = stripped;
            continue;
        }
        let Some(end) = after.strip_prefix('{').and_then(|body| body.find('}')) else {
            out.push('$');
            at += dollar + 1;
            rest = after;
            continue;
        };
        let body = &after[1..1 + end];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        let value = lookup(name)
            .filter(|value| !value.is_empty())
            .or(default.map(str::to_owned))
            .ok_or_else(|| Unset {
                name: name.to_owned(),
                offset: at + dollar,
            })?;
        match quoting {
            Quoting::Plain => out.push_str(&value),
            Quoting::Double => out.push_str(&escape_double(&value)),
            Quoting::Single => out.push_str(&value.replace('\'', "''")),
        }
        let consumed = dollar + 2 + end + 1;
        at += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("staging.example.com".to_owned()),
            "SECRET" => Some("a#b: c\"d".to_owned()),
            "COUNT" => Some("100".to_owned()),
            _ => None,
        }
    }

    fn parsed(text: &str) -> serde_yaml_ng::Value {
        match substitute(text, env) {
            Ok(text) => serde_yaml_ng::from_str(&text).unwrap_or(serde_yaml_ng::Value::Null),
            Err(unset) => panic!("unset {unset:?}"),
        }
    }

    #[test]
    fn replaces_values_and_defaults() {
        let text = "target: wss://${HOST}/x?t=${TOKEN:-none} cost $$5 {vu}";
        assert_eq!(
            substitute(text, env),
            Ok("target: wss://staging.example.com/x?t=none cost $5 {vu}".to_owned())
        );
    }

    #[test]
    fn unset_without_default_names_the_variable_and_offset() {
        let text = "a: 1\nb: ${MISSING}\n";
        assert_eq!(
            substitute(text, env),
            Err(Unset {
                name: "MISSING".into(),
                offset: 8
            })
        );
    }

    #[test]
    fn a_secret_with_yaml_characters_is_taken_whole() {
        let want = "a#b: c\"d";
        for text in [
            "token: ${SECRET}\n",
            "token: \"${SECRET}\"\n",
            "token: '${SECRET}'\n",
            "token: ${SECRET} # trailing comment\n",
        ] {
            assert_eq!(parsed(text)["token"], want, "{text}");
        }
        assert_eq!(
            parsed("target: ws://h/?t=${SECRET}\n")["target"],
            "ws://h/?t=a#b: c\"d"
        );
        assert_eq!(parsed("list:\n  - ${SECRET}\n")["list"][0], want);
        // A flow step is a mapping in a list item: the value is the key's.
        for text in [
            "flow:\n  - send: ${SECRET}\n",
            "flow:\n  - send: '${SECRET}'\n",
            "flow:\n  - send: \"${SECRET}\"\n",
        ] {
            assert_eq!(parsed(text)["flow"][0]["send"], want, "{text}");
        }
        assert_eq!(
            parsed("flow:\n  - send: '{\"t\":\"${SECRET}\"}'\n")["flow"][0]["send"],
            "{\"t\":\"a#b: c\"d\"}"
        );
        assert_eq!(parsed("n: ${COUNT}\n")["n"], 100, "numbers stay numbers");
    }

    #[test]
    fn placeholders_in_comments_are_left_alone() {
        let text = "# uses ${MISSING} in prose\na: 1 # and ${MISSING} here\n";
        assert_eq!(substitute(text, env), Ok(text.to_owned()));
    }
}
