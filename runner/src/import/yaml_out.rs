//! A [`FlowFile`] written as YAML text, by hand, so the output is deterministic, readable and laid
//! out the way a person writes a flow (comments on top, `send` on one line, `expect` as a block).
//! Every string goes through [`scalar`]: plain when it cannot be read as anything else, in single
//! quotes (quotes doubled) when it is printable, in double quotes with escapes otherwise. Recorded
//! `$` is written `$$` (the file's `${…}` substitution reads it back as `$`), and a `- send:`
//! whose text has a `$` puts the text on its own line, where the substitution quotes it right.
//! Deciding what the steps are is not here (`flow`, `har/`).

use super::flow::{Condition, Expect, FlowFile, Piece, Step, Template};
use std::fmt::Write as _;

/// The whole file.
pub fn render(file: &FlowFile) -> String {
    let mut out = String::new();
    for line in &file.comments {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str(&format!("# {line}\n"));
        }
    }
    out.push_str("version: 1\n");
    out.push_str(&format!("name: {}\n", scalar(&file.name)));
    out.push_str(&format!("target: {}\n", template(&file.target)));
    if !file.headers.is_empty() {
        out.push_str("headers:\n");
        for (name, value) in &file.headers {
            out.push_str(&format!("  {}: {}\n", scalar(name), template(value)));
        }
    }
    if !file.subprotocols.is_empty() {
        out.push_str("subprotocols:\n");
        for protocol in &file.subprotocols {
            out.push_str(&format!("  - {}\n", scalar(protocol)));
        }
    }
    out.push_str("load:\n");
    out.push_str(
        "  # One connection running the recording once: set the load you want here\n  # (docs/scenario-file.md#load), e.g. `connections: 100` and `duration: 1m`.\n",
    );
    out.push_str(&format!(
        "  connections: {}\n  iterations: {}\n",
        file.load.connections, file.load.iterations
    ));
    out.push_str("flow:\n");
    for step in &file.steps {
        step_lines(step, &mut out);
    }
    out
}

fn step_lines(step: &Step, out: &mut String) {
    match step {
        Step::Send(text) => {
            let text = template(text);
            if text.contains('$') {
                let _ = writeln!(out, "  - send:\n      {text}");
            } else {
                let _ = writeln!(out, "  - send: {text}");
            }
        }
        Step::SendBinary(base64) => {
            let _ = writeln!(out, "  - send_binary: {}", scalar(base64));
        }
        Step::Think(millis) => {
            let _ = writeln!(out, "  - think: {millis}ms");
        }
        Step::Close => out.push_str("  - close\n"),
        Step::Expect(expect) => expect_lines(expect, out),
    }
}

fn expect_lines(expect: &Expect, out: &mut String) {
    if expect.name.is_none() && expect.conditions.is_empty() && expect.captures.is_empty() {
        out.push_str("  - expect: {}\n");
        return;
    }
    out.push_str("  - expect:\n");
    if let Some(name) = &expect.name {
        let _ = writeln!(out, "      name: {}", scalar(name));
    }
    for condition in &expect.conditions {
        match condition {
            Condition::Equals(text) => {
                let _ = writeln!(out, "      equals: {}", template(text));
            }
            Condition::Contains(text) => {
                let _ = writeln!(out, "      contains: {}", template(text));
            }
            Condition::JsonEquals { path, value } => {
                let _ = writeln!(
                    out,
                    "      json:\n        path: {}\n        equals: {}",
                    scalar(path),
                    template(value)
                );
            }
            Condition::Binary => out.push_str("      binary: true\n"),
        }
    }
    if !expect.captures.is_empty() {
        out.push_str("      capture:\n");
        for (name, path) in &expect.captures {
            let _ = writeln!(out, "        {}: {}", scalar(name), scalar(path));
        }
    }
}

/// A template as one YAML scalar: literal `$` doubled, placeholders as they are.
pub fn template(text: &Template) -> String {
    let joined: String = text
        .pieces
        .iter()
        .map(|piece| match piece {
            Piece::Literal(text) => text.replace('$', "$$"),
            Piece::Placeholder(text) => text.clone(),
        })
        .collect();
    scalar(&joined)
}

/// Words a YAML reader (1.1 or 1.2) may take for something other than a string.
const NOT_STRINGS: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
];

/// `text` as a YAML scalar that reads back as exactly `text`, a string.
pub fn scalar(text: &str) -> String {
    let plain = text
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == '$')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./$".contains(c))
        && !NOT_STRINGS.contains(&text.to_ascii_lowercase().as_str());
    if plain {
        return text.to_owned();
    }
    if !text.chars().any(needs_escape) {
        return format!("'{}'", text.replace('\'', "''"));
    }
    let mut out = String::with_capacity(text.len() + 8);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters a single-quoted scalar cannot carry as they are: control characters (C0, DEL, C1
/// with NEL), the Unicode line and paragraph separators and the byte-order mark.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::flow::Load;
    use proptest::prelude::*;
    use serde_yaml_ng::Value;

    fn read_back(scalar_text: &str) -> Value {
        let document = format!("key: {scalar_text}\n");
        let value: Value = serde_yaml_ng::from_str(&document)
            .unwrap_or_else(|error| panic!("{document:?} is not YAML: {error}"));
        value.get("key").cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn plain_only_when_it_cannot_be_read_otherwise() {
        assert_eq!(scalar("joined"), "joined");
        assert_eq!(scalar("$.type"), "$.type");
        assert_eq!(scalar("true"), "'true'");
        assert_eq!(scalar("No"), "'No'");
        assert_eq!(scalar("17"), "'17'");
        assert_eq!(scalar(""), "''");
        assert_eq!(scalar("a b"), "'a b'");
        assert_eq!(scalar(r#"{"a":"it's"}"#), r#"'{"a":"it''s"}'"#);
        assert_eq!(scalar("line\nbreak"), r#""line\nbreak""#);
        assert_eq!(scalar("nel\u{85}"), r#""nel\u0085""#);
    }

    proptest! {
        #[test]
        fn every_string_reads_back_as_itself(text in any::<String>()) {
            prop_assert_eq!(read_back(&scalar(&text)), Value::String(text));
        }
    }

    #[test]
    fn a_file_reads_back_with_its_structure_and_dollars_doubled() {
        let file = FlowFile {
            comments: vec!["Imported".into(), String::new()],
            name: "chat 1".into(),
            target: Template::literal("wss://h/ws?x=1"),
            headers: vec![("Cookie".into(), Template::placeholder("${CHAT_COOKIE}"))],
            subprotocols: vec!["chat.v1".into()],
            load: Load {
                connections: 1,
                iterations: 1,
            },
            steps: vec![
                Step::Send(Template::literal(r#"{"price":"$5"}"#)),
                Step::Expect(Expect {
                    name: Some("quote".into()),
                    conditions: vec![Condition::JsonEquals {
                        path: "$.type".into(),
                        value: Template::literal("quote"),
                    }],
                    captures: vec![("session".into(), "$.session".into())],
                }),
                Step::Think(250),
                Step::SendBinary("AAEC".into()),
                Step::Expect(Expect {
                    conditions: vec![Condition::Binary],
                    ..Expect::default()
                }),
                Step::Expect(Expect::default()),
                Step::Close,
            ],
        };
        let text = render(&file);
        assert!(text.starts_with("# Imported\n#\nversion: 1\n"), "{text}");
        assert!(
            text.contains("  - send:\n      '{\"price\":\"$$5\"}'\n"),
            "{text}"
        );
        let value: Value = serde_yaml_ng::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(value["headers"]["Cookie"], "${CHAT_COOKIE}");
        assert_eq!(value["subprotocols"][0], "chat.v1");
        assert_eq!(value["load"]["connections"], 1);
        let flow = &value["flow"];
        assert_eq!(flow[0]["send"], "{\"price\":\"$$5\"}");
        assert_eq!(flow[1]["expect"]["name"], "quote");
        assert_eq!(flow[1]["expect"]["json"]["path"], "$.type");
        assert_eq!(flow[1]["expect"]["json"]["equals"], "quote");
        assert_eq!(flow[1]["expect"]["capture"]["session"], "$.session");
        assert_eq!(flow[2]["think"], "250ms");
        assert_eq!(flow[3]["send_binary"], "AAEC");
        assert_eq!(flow[4]["expect"]["binary"], true);
        assert!(flow[5]["expect"].as_mapping().is_some_and(|m| m.is_empty()));
        assert_eq!(flow[6], "close");
    }

    #[test]
    fn the_files_substitution_gives_back_the_recorded_text_and_the_variables_values() {
        let file = FlowFile {
            comments: vec!["costs ${NOT_A_VARIABLE} in a comment".into()],
            name: "n".into(),
            target: Template {
                pieces: vec![
                    Piece::Literal("wss://h/ws?token=".into()),
                    Piece::Placeholder("${TOKEN}".into()),
                ],
            },
            headers: vec![("Cookie".into(), Template::placeholder("${COOKIE}"))],
            subprotocols: Vec::new(),
            load: Load {
                connections: 1,
                iterations: 1,
            },
            steps: vec![
                Step::Send(Template {
                    pieces: vec![
                        Piece::Literal(r#"{"auth":""#.into()),
                        Piece::Placeholder("${TOKEN}".into()),
                        Piece::Literal(r#"","price":"$5 ${x} $$","q":"it's: ok"}"#.into()),
                    ],
                }),
                Step::Send(Template::literal("line\nbreak $")),
                Step::Expect(Expect {
                    name: Some("n".into()),
                    conditions: vec![Condition::JsonEquals {
                        path: "$.price".into(),
                        value: Template::literal("$5"),
                    }],
                    captures: Vec::new(),
                }),
            ],
        };
        let text = render(&file);
        let lookup = |name: &str| match name {
            "TOKEN" => Some("t'o\"k: #en".to_owned()),
            "COOKIE" => Some("sid=1; x=2".to_owned()),
            _ => None,
        };
        let substituted = crate::config::substitute::substitute(&text, lookup)
            .unwrap_or_else(|unset| panic!("{} unset in\n{text}", unset.name));
        let value: Value = serde_yaml_ng::from_str(&substituted)
            .unwrap_or_else(|error| panic!("{error}\n{substituted}"));
        assert_eq!(value["target"], "wss://h/ws?token=t'o\"k: #en");
        assert_eq!(value["headers"]["Cookie"], "sid=1; x=2");
        assert_eq!(
            value["flow"][0]["send"],
            r#"{"auth":"t'o"k: #en","price":"$5 ${x} $$","q":"it's: ok"}"#
        );
        assert_eq!(value["flow"][1]["send"], "line\nbreak $");
        assert_eq!(value["flow"][2]["expect"]["json"]["equals"], "$5");
    }
}
