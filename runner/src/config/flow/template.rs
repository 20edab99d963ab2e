//! A flow's text template: literal text with `{{name}}` placeholders, parsed once at load.
//! `{{` never occurs in JSON, so JSON payloads need no escaping. Built-in names (`vu`,
//! `iteration`, `counter`, `timestamp`, `now_us`, `random`, `sent`), `var.NAME` (a data column or
//! a `vars:` entry) and any other name, a capture, which `flow::compile` resolves to its slot.
//! Pure: rendering asks a [`Values`] for each placeholder.

use std::fmt;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text sent as written.
    Literal(String),
    /// The VU index.
    Vu,
    /// The VU's iteration.
    Iteration,
    /// Messages this connection's flow sent, the one being sent included (in an expect: the
    /// last send's number).
    Counter,
    /// Unix time in milliseconds.
    Timestamp,
    /// Microseconds since the run started.
    NowUs,
    /// A random u32 from the connection's seeded generator.
    Random,
    /// The last text this flow sent.
    Sent,
    /// `var.NAME`: the data row's column, else `vars:`.
    Var(String),
    /// A capture, by name until `flow::compile` gives it a slot.
    Capture(String),
    /// A capture's slot in the connection's captured values.
    Slot(usize),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    /// The pieces in order.
    pub parts: Vec<Part>,
}

/// What a template's placeholders are worth for one connection at one moment.
pub trait Values {
    /// Append the value of `part` (never a literal) to `out`.
    fn value(&mut self, part: &Part, out: &mut String);
}

impl Template {
    /// Parse `text`; the error names the bad placeholder and the fix.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(format!(
                    "`{{{{` at byte {} has no closing `}}}}`; write placeholders as `{{{{name}}}}`",
                    text.len() - rest.len() + open
                ));
            };
            parts.push(placeholder(after[..close].trim())?);
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The text, with each placeholder's value from `values`.
    pub fn render(&self, values: &mut dyn Values) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                other => values.value(other, &mut out),
            }
        }
        out
    }

    /// Mutable access to the pieces (for resolving captures).
    pub fn parts_mut(&mut self) -> impl Iterator<Item = &mut Part> {
        self.parts.iter_mut()
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Literal(text) => write!(f, "{text}")?,
                Part::Vu => write!(f, "{{{{vu}}}}")?,
                Part::Iteration => write!(f, "{{{{iteration}}}}")?,
                Part::Counter => write!(f, "{{{{counter}}}}")?,
                Part::Timestamp => write!(f, "{{{{timestamp}}}}")?,
                Part::NowUs => write!(f, "{{{{now_us}}}}")?,
                Part::Random => write!(f, "{{{{random}}}}")?,
                Part::Sent => write!(f, "{{{{sent}}}}")?,
                Part::Var(name) => write!(f, "{{{{var.{name}}}}}")?,
                Part::Capture(name) => write!(f, "{{{{{name}}}}}")?,
                Part::Slot(slot) => write!(f, "{{{{#{slot}}}}}")?,
            }
        }
        Ok(())
    }
}

/// The names a flow gives a value without a capture.
pub const BUILT_IN: [&str; 7] = [
    "vu",
    "iteration",
    "counter",
    "timestamp",
    "now_us",
    "random",
    "sent",
];

fn placeholder(name: &str) -> Result<Part, String> {
    Ok(match name {
        "vu" => Part::Vu,
        "iteration" => Part::Iteration,
        "counter" => Part::Counter,
        "timestamp" => Part::Timestamp,
        "now_us" => Part::NowUs,
        "random" => Part::Random,
        "sent" => Part::Sent,
        _ => {
            if let Some(var) = name.strip_prefix("var.") {
                if !valid_name(var) {
                    return Err(format!(
                        "`{{{{{name}}}}}`: `{var}` is not a variable name (letters, digits, `_` and `-`)"
                    ));
                }
                Part::Var(var.to_owned())
            } else if valid_name(name) {
                Part::Capture(name.to_owned())
            } else {
                return Err(format!(
                    "`{{{{{name}}}}}` is not a placeholder; use one of {}, `var.NAME` or the name of a capture",
                    BUILT_IN.map(|b| format!("`{b}`")).join(", ")
                ));
            }
        }
    })
}

/// A capture or variable name: letters, digits, `_` and `-`, not starting with a digit.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Values for Fixed {
        fn value(&mut self, part: &Part, out: &mut String) {
            match part {
                Part::Vu => out.push('7'),
                Part::Var(name) => out.push_str(&format!("<{name}>")),
                Part::Capture(name) => out.push_str(&format!("[{name}]")),
                _ => out.push('?'),
            }
        }
    }

    #[test]
    fn json_braces_are_text_and_double_braces_are_placeholders() {
        let template =
            Template::parse(r#"{"user":"u{{vu}}","s":"{{ session }}","r":"{{var.room}}"}"#)
                .unwrap_or_default();
        assert_eq!(
            template.render(&mut Fixed),
            r#"{"user":"u7","s":"[session]","r":"<room>"}"#
        );
        let only_text = |t: &Template| t.parts.iter().all(|part| matches!(part, Part::Literal(_)));
        assert!(!only_text(&template));
        assert!(Template::parse(r#"{"a":{"b":1}}"#).is_ok_and(|t| only_text(&t)));
    }

    #[test]
    fn mistakes_are_named() {
        let unclosed = Template::parse("hello {{vu").err().unwrap_or_default();
        assert!(unclosed.contains("no closing"), "{unclosed}");
        let bad = Template::parse("{{1abc}}").err().unwrap_or_default();
        assert!(bad.contains("is not a placeholder"), "{bad}");
        let var = Template::parse("{{var.}}").err().unwrap_or_default();
        assert!(var.contains("not a variable name"), "{var}");
    }

    #[test]
    fn display_round_trips() {
        let text = "a{{vu}}b{{var.x}}c{{cap}}d{{counter}}";
        let template = Template::parse(text).unwrap_or_default();
        assert_eq!(template.to_string(), text);
    }
}
