//! The condition an `expect` checks a recorded server message with, and the name its check gets:
//! specific enough to tell the message from others, loose enough not to fail on what changes
//! between runs. A JSON object is matched on a discriminating field (`type`, `event`, `op`,
//! `action`, `kind`, `method`, `status`, …) or, when the client's id came back, on the echoed id
//! (with the discriminator as a `contains`); short text without digits on `equals`; other text
//! on `contains` of a stable prefix (up to the first digit); binary on `binary: true`. A
//! condition whose text would carry a secret or a `{{` is left out. Which messages get an expect
//! is `socket_flow`'s.

use super::json_paths::text_form;
use super::names::identifier;
use super::recording::Payload;
use crate::import::flow::{Condition, Template};
use serde_json::Value;

/// Top-level keys that usually say what kind of message it is, most telling first.
const DISCRIMINATORS: &[&str] = &[
    "type",
    "event",
    "op",
    "action",
    "kind",
    "method",
    "status",
    "cmd",
    "command",
    "topic",
    "channel",
    "msg_type",
    "messageType",
    "t",
    "e",
];

/// Text up to this long, without digits, is matched whole.
const SHORT_TEXT: usize = 40;
/// A `contains` prefix is at most this long.
const PREFIX: usize = 32;

/// What an expect checks, and what to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub conditions: Vec<Condition>,
    /// The check's name before it is made unique (`joined`, `reply`).
    pub name: String,
    /// The condition in words, for the README.
    pub description: String,
}

/// The id the client sent and this message echoes, as the expect should check it.
pub struct Echo<'a> {
    /// Its path in this message.
    pub path: &'a str,
    /// What it equals: `{{counter}}`, or the literal id.
    pub value: Template,
}

/// Choose the condition for `payload` (`json` when it parsed). `secrets` are values no
/// condition may carry.
pub fn choose(
    payload: &Payload,
    json: Option<&Value>,
    echo: Option<Echo<'_>>,
    secrets: &[&str],
) -> Chosen {
    let text = match payload {
        Payload::Binary(_) => {
            return Chosen {
                conditions: vec![Condition::Binary],
                name: "binary_reply".to_owned(),
                description: "a binary message (`binary: true`)".to_owned(),
            };
        }
        Payload::Text(text) => text.as_str(),
    };
    let writable = |candidate: &str| {
        !candidate.contains("{{") && !secrets.iter().any(|secret| candidate.contains(secret))
    };
    if let Some(Value::Object(object)) = json {
        let discriminator = DISCRIMINATORS.iter().find_map(|key| {
            let value = text_form(object.get(*key)?)?;
            (!value.is_empty() && value.chars().count() <= SHORT_TEXT && writable(&value))
                .then_some((*key, value))
        });
        let name = discriminator
            .as_ref()
            .map(|(_, value)| identifier(value))
            .unwrap_or_else(|| "reply".to_owned());
        if let Some(echo) = echo {
            let mut conditions = vec![Condition::JsonEquals {
                path: echo.path.to_owned(),
                value: echo.value.clone(),
            }];
            let mut description = format!("the echoed id at `{}`", echo.path);
            if let Some(piece) = discriminator
                .as_ref()
                .and_then(|(key, value)| verbatim_pair(text, key, value))
            {
                description.push_str(&format!(" and the text `{piece}`"));
                conditions.push(Condition::Contains(Template::literal(&piece)));
            }
            return Chosen {
                conditions,
                name,
                description,
            };
        }
        if let Some((key, value)) = discriminator {
            return Chosen {
                description: format!("`$.{key}` equals `{value}`"),
                conditions: vec![Condition::JsonEquals {
                    path: format!("$.{key}"),
                    value: Template::literal(&value),
                }],
                name,
            };
        }
        // No discriminating field: the first key as written (`"result":`).
        let first_key = object
            .keys()
            .filter_map(|key| {
                let token = format!("\"{key}\":");
                text.find(&token).map(|at| (at, token))
            })
            .min()
            .map(|(_, token)| token)
            .filter(|token| writable(token));
        return match first_key {
            Some(token) => Chosen {
                description: format!("a JSON object containing `{token}`"),
                conditions: vec![Condition::Contains(Template::literal(&token))],
                name,
            },
            None => anything(name),
        };
    }
    let short = text.chars().count() <= SHORT_TEXT && !text.chars().any(|c| c.is_ascii_digit());
    if json.is_none() && short && !text.is_empty() && writable(text) {
        return Chosen {
            conditions: vec![Condition::Equals(Template::literal(text))],
            name: identifier(text),
            description: format!("the whole text `{text}`"),
        };
    }
    let prefix = stable_prefix(text);
    if prefix.chars().count() >= 3 && writable(&prefix) {
        return Chosen {
            description: format!("text containing `{prefix}`"),
            conditions: vec![Condition::Contains(Template::literal(&prefix))],
            name: "reply".to_owned(),
        };
    }
    anything("reply".to_owned())
}

/// No condition: the next text message (what the spec does with an empty expect).
fn anything(name: String) -> Chosen {
    Chosen {
        conditions: Vec::new(),
        name,
        description: "any text message (nothing stable to match on)".to_owned(),
    }
}

/// `"key":"value"` (or `"key":value` for a number) exactly as it is written in `text`.
fn verbatim_pair(text: &str, key: &str, value: &str) -> Option<String> {
    [
        format!("\"{key}\":\"{value}\""),
        format!("\"{key}\":{value}"),
    ]
    .into_iter()
    .find(|piece| text.contains(piece.as_str()))
}

/// The start of `text` up to its first digit, at most [`PREFIX`] characters, without trailing
/// white space.
pub fn stable_prefix(text: &str) -> String {
    let prefix: String = text
        .chars()
        .take_while(|c| !c.is_ascii_digit())
        .take(PREFIX)
        .collect();
    prefix.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    fn text(payload: &str) -> Chosen {
        let json = serde_json::from_str::<Value>(payload).ok();
        choose(
            &Payload::Text(payload.to_owned()),
            json.as_ref(),
            None,
            &["s3cr3t"],
        )
    }

    #[test]
    fn a_json_object_is_matched_on_its_discriminator() {
        let chosen = text(r#"{"type":"joined","session":"s-1","users":3}"#);
        assert_eq!(
            chosen.conditions,
            vec![Condition::JsonEquals {
                path: "$.type".into(),
                value: Template::literal("joined")
            }]
        );
        assert_eq!(chosen.name, "joined");
        // `event` when there is no `type`; a number's text form.
        let chosen = text(r#"{"event":"phx_reply","status":200}"#);
        assert_eq!(chosen.name, "phx_reply");
        let chosen = text(r#"{"status":200}"#);
        assert!(
            matches!(&chosen.conditions[0], Condition::JsonEquals { value, .. } if value.plain() == "200")
        );
    }

    #[test]
    fn an_echoed_id_is_checked_with_the_discriminator_as_text() {
        let payload = r#"{"type":"ack","id":7}"#;
        let json = serde_json::from_str::<Value>(payload).ok();
        let chosen = choose(
            &Payload::Text(payload.into()),
            json.as_ref(),
            Some(Echo {
                path: "$.id",
                value: Template::placeholder("{{counter}}"),
            }),
            &[],
        );
        assert_eq!(
            chosen.conditions,
            vec![
                Condition::JsonEquals {
                    path: "$.id".into(),
                    value: Template::placeholder("{{counter}}")
                },
                Condition::Contains(Template::literal(r#""type":"ack""#)),
            ]
        );
        assert_eq!(chosen.name, "ack");
    }

    #[test]
    fn objects_without_discriminator_text_and_binary() {
        let chosen = text(r#"{"result":{"n":1},"jsonrpc":"2.0"}"#);
        assert_eq!(
            chosen.conditions,
            vec![Condition::Contains(Template::literal(r#""result":"#))]
        );
        let chosen = text("pong");
        assert_eq!(
            chosen.conditions,
            vec![Condition::Equals(Template::literal("pong"))]
        );
        let chosen = text("server time is 12:03:44, all good");
        assert_eq!(
            chosen.conditions,
            vec![Condition::Contains(Template::literal("server time is"))]
        );
        let chosen = text("42");
        assert!(chosen.conditions.is_empty());
        let binary = choose(&Payload::Binary(vec![1]), None, None, &[]);
        assert_eq!(binary.conditions, vec![Condition::Binary]);
    }

    #[test]
    fn secrets_and_template_braces_are_never_matched_on() {
        for payload in ["welcome s3cr3t", "s3cr3t", r#"{"type":"s3cr3t"}"#] {
            let chosen = text(payload);
            assert!(
                chosen
                    .conditions
                    .iter()
                    .all(|c| !format!("{c:?}").contains("s3cr3t")),
                "{payload}: {chosen:?}"
            );
        }
        assert!(text("hi {{name}}").conditions.is_empty());
        assert_eq!(stable_prefix("abc   7"), "abc");
    }
}
