//! What a flow's `expect` (or `check`) asks of a message or a value: the whole text `equals`, it
//! `contains`, a regular expression `matches`, a JSON path's value compares (`json:`), the message
//! is `binary`. All given must hold. Parsed once at load; [`Condition::holds`] is pure (templates
//! are rendered by the caller's [`Values`]).

use crate::config::flow::json_path::{JsonPath, as_text};
use crate::config::flow::template::{Template, Values};
use base64::Engine as _;
use regex::Regex;

/// A message as a condition sees it.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A text message (or a `check`'s value).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

/// All the tests of one `expect` or `check`.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    /// Matches binary messages (otherwise text ones).
    pub binary: bool,
    /// The whole text (binary: its base64) equals this.
    pub equals: Option<Template>,
    /// The text contains this.
    pub contains: Option<Template>,
    /// A match of this regular expression is found in the text.
    pub matches: Option<Regex>,
    /// A JSON path's value compares.
    pub json: Option<JsonTest>,
}

/// `json: {path, <comparison>}`.
#[derive(Debug, Clone)]
pub struct JsonTest {
    /// Where the value is.
    pub path: JsonPath,
    /// How it compares.
    pub compare: Compare,
}

/// A comparison of a JSON value.
#[derive(Debug, Clone)]
pub enum Compare {
    /// The value is present (even `null`).
    Exists,
    /// Its text form (a string without quotes) equals.
    Equals(Template),
    /// Its text form contains.
    Contains(Template),
    /// A regular expression finds a match in its text form.
    Matches(Regex),
    /// A number greater than.
    Gt(f64),
    /// A number at least.
    Ge(f64),
    /// A number less than.
    Lt(f64),
    /// A number at most.
    Le(f64),
}

impl Condition {
    /// Whether `subject` passes every test.
    pub fn holds(&self, subject: Subject<'_>, values: &mut dyn Values) -> bool {
        self.holds_parsed(subject, None, values)
    }

    /// [`Condition::holds`], with the message's JSON when the caller parsed it already (for its
    /// captures), so a message is parsed once.
    pub fn holds_parsed(
        &self,
        subject: Subject<'_>,
        parsed: Option<&serde_json::Value>,
        values: &mut dyn Values,
    ) -> bool {
        let reads_text = self.equals.is_some()
            || self.contains.is_some()
            || self.matches.is_some()
            || (self.json.is_some() && parsed.is_none());
        let text: std::borrow::Cow<'_, str> = match subject {
            Subject::Text(text) if !self.binary => text.into(),
            // A binary payload is base64-encoded only for a test that reads it as text.
            Subject::Binary(data) if self.binary && reads_text => {
                base64::engine::general_purpose::STANDARD
                    .encode(data)
                    .into()
            }
            Subject::Binary(_) if self.binary => "".into(),
            _ => return false,
        };
        if let Some(equals) = &self.equals
            && equals.render(values) != *text
        {
            return false;
        }
        if let Some(contains) = &self.contains
            && !text.contains(&contains.render(values))
        {
            return false;
        }
        if let Some(regex) = &self.matches
            && !regex.is_match(&text)
        {
            return false;
        }
        match (&self.json, parsed) {
            (None, _) => true,
            (Some(test), Some(root)) => test.holds(root, values),
            (Some(test), None) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(root) => test.holds(&root, values),
                Err(_) => false,
            },
        }
    }
}

impl JsonTest {
    /// Whether the value at the path in `root` compares.
    pub fn holds(&self, root: &serde_json::Value, values: &mut dyn Values) -> bool {
        let Some(value) = self.path.find(root) else {
            return false;
        };
        let number = || match value {
            serde_json::Value::Number(number) => number.as_f64(),
            serde_json::Value::String(text) => text.trim().parse::<f64>().ok(),
            _ => None,
        };
        match &self.compare {
            Compare::Exists => true,
            Compare::Equals(template) => as_text(value) == template.render(values),
            Compare::Contains(template) => as_text(value).contains(&template.render(values)),
            Compare::Matches(regex) => regex.is_match(&as_text(value)),
            Compare::Gt(limit) => number().is_some_and(|n| n > *limit),
            Compare::Ge(limit) => number().is_some_and(|n| n >= *limit),
            Compare::Lt(limit) => number().is_some_and(|n| n < *limit),
            Compare::Le(limit) => number().is_some_and(|n| n <= *limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::flow::template::Part;

    struct Sent;
    impl Values for Sent {
        fn value(&mut self, part: &Part, out: &mut String) {
            if let Part::Sent = part {
                out.push_str("hello");
            }
        }
    }

    fn template(text: &str) -> Template {
        Template::parse(text).unwrap_or_default()
    }

    #[test]
    fn every_given_test_must_hold() {
        let condition = Condition {
            contains: Some(template("\"joined\"")),
            json: Some(JsonTest {
                path: JsonPath::parse("$.n").unwrap_or_else(|_| unreachable!()),
                compare: Compare::Ge(3.0),
            }),
            ..Condition::default()
        };
        assert!(condition.holds(Subject::Text(r#"{"type":"joined","n":3}"#), &mut Sent));
        assert!(!condition.holds(Subject::Text(r#"{"type":"joined","n":2}"#), &mut Sent));
        assert!(!condition.holds(Subject::Text(r#"{"type":"left","n":9}"#), &mut Sent));
        assert!(!condition.holds(Subject::Text("not json \"joined\""), &mut Sent));
        assert!(!condition.holds(Subject::Binary(b"{}"), &mut Sent));
    }

    #[test]
    fn equals_renders_its_template_and_binary_compares_base64() {
        let echo = Condition {
            equals: Some(template("{{sent}}")),
            ..Condition::default()
        };
        assert!(echo.holds(Subject::Text("hello"), &mut Sent));
        assert!(!echo.holds(Subject::Text("hello!"), &mut Sent));
        let binary = Condition {
            binary: true,
            equals: Some(template("AAEC")),
            ..Condition::default()
        };
        assert!(binary.holds(Subject::Binary(&[0, 1, 2]), &mut Sent));
        assert!(!binary.holds(Subject::Text("AAEC"), &mut Sent));
        let any_text = Condition::default();
        assert!(any_text.holds(Subject::Text("anything"), &mut Sent));
    }

    #[test]
    fn json_equals_compares_text_forms_and_matches_uses_the_regex() {
        let root = serde_json::json!({"id": 17, "name": "ada", "gone": null});
        let test = |compare: Compare, path: &str| JsonTest {
            path: JsonPath::parse(path).unwrap_or_else(|_| unreachable!()),
            compare,
        };
        assert!(test(Compare::Equals(template("17")), "$.id").holds(&root, &mut Sent));
        assert!(test(Compare::Equals(template("ada")), "$.name").holds(&root, &mut Sent));
        assert!(test(Compare::Exists, "$.gone").holds(&root, &mut Sent));
        assert!(!test(Compare::Exists, "$.absent").holds(&root, &mut Sent));
        let regex = Regex::new("^a.a$").unwrap_or_else(|_| unreachable!());
        assert!(test(Compare::Matches(regex), "$.name").holds(&root, &mut Sent));
        assert!(!test(Compare::Lt(17.0), "$.id").holds(&root, &mut Sent));
        assert!(!test(Compare::Gt(1.0), "$.name").holds(&root, &mut Sent));
    }
}
