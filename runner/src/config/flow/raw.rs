//! A `flow:` exactly as written: serde types with `deny_unknown_fields`, one enum variant per step
//! kind (`- send: …`, `- expect: {…}`). Values that must parse (templates, JSON paths, regular
//! expressions, durations, base64) are checked while deserializing, so serde_yaml_ng reports
//! their `line:column`. Whole-flow rules (captures set before use, a timed expect after a send)
//! are `flow::compile`'s.

use crate::config::flow::json_path::JsonPath;
use crate::config::flow::template::Template;
use base64::Engine as _;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// One step: a mapping with one key, the step's kind (`- send: …`), or the bare `- close`.
#[derive(Debug)]
pub enum RawStep {
    /// Send a text message.
    Send(TextTemplate),
    /// Send a binary message, written as base64.
    SendBinary(Base64),
    /// Wait for a message that passes a condition.
    Expect(Box<RawExpect>),
    /// Pause.
    Think(Think),
    /// Repeat steps.
    Loop(RawLoop),
    /// Run steps on a timer, in the background.
    Every(RawEvery),
    /// Send a Ping frame.
    Ping(TextTemplate),
    /// Record a check on a value.
    Check(RawCheck),
    /// Record a custom metric.
    Metric(RawMetric),
    /// Close the connection.
    Close(Option<RawClose>),
}

impl RawStep {
    /// The step's key, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            RawStep::Send(_) => "send",
            RawStep::SendBinary(_) => "send_binary",
            RawStep::Expect(_) => "expect",
            RawStep::Think(_) => "think",
            RawStep::Loop(_) => "loop",
            RawStep::Every(_) => "every",
            RawStep::Ping(_) => "ping",
            RawStep::Check(_) => "check",
            RawStep::Metric(_) => "metric",
            RawStep::Close(_) => "close",
        }
    }
}

/// The step kinds, as written.
pub const KINDS: [&str; 10] = [
    "send",
    "send_binary",
    "expect",
    "think",
    "loop",
    "every",
    "ping",
    "check",
    "metric",
    "close",
];

impl<'de> Deserialize<'de> for RawStep {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StepVisitor)
    }
}

/// Reads a step from its one-key mapping, value by value from the document (so a mistake inside
/// keeps its line and column).
struct StepVisitor;

impl<'de> serde::de::Visitor<'de> for StepVisitor {
    type Value = RawStep;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a step such as `- send: …` or `- expect: {{…}}`")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<RawStep, E> {
        match text {
            "close" => Ok(RawStep::Close(None)),
            other => Err(E::custom(unknown_kind(other))),
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawStep, A::Error> {
        use serde::de::Error;
        let Some(kind) = map.next_key::<String>()? else {
            return Err(A::Error::custom(
                "an empty step; write one such as `- send: …`",
            ));
        };
        let step = match kind.as_str() {
            "send" => RawStep::Send(map.next_value()?),
            "send_binary" => RawStep::SendBinary(map.next_value()?),
            "expect" => RawStep::Expect(Box::new(
                map.next_value::<Option<RawExpect>>()?.unwrap_or_default(),
            )),
            "think" => RawStep::Think(map.next_value()?),
            "loop" => RawStep::Loop(map.next_value()?),
            "every" => RawStep::Every(map.next_value()?),
            "ping" => RawStep::Ping(map.next_value()?),
            "check" => RawStep::Check(map.next_value()?),
            "metric" => RawStep::Metric(map.next_value()?),
            "close" => RawStep::Close(map.next_value()?),
            other => return Err(A::Error::custom(unknown_kind(other))),
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(A::Error::custom(format!(
                "`{extra}` beside `{kind}`: a step has one kind; indent `{extra}` under `{kind}:` if it belongs to it, or start a new step with `- {extra}:`"
            )));
        }
        Ok(step)
    }
}

fn unknown_kind(kind: &str) -> String {
    let kinds = KINDS.map(|k| format!("`{k}`")).join(", ");
    match crate::config::closest(kind, KINDS.iter().copied()) {
        Some(close) => format!("unknown step `{kind}`, did you mean `{close}`?"),
        None => format!("unknown step `{kind}`; the steps are {kinds}"),
    }
}

/// A template, parsed from a YAML string (or a number, as its text).
#[derive(Debug, Clone)]
pub struct TextTemplate(pub Template);

impl<'de> Deserialize<'de> for TextTemplate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text =
            scalar_text(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)?;
        Template::parse(&text)
            .map(TextTemplate)
            .map_err(serde::de::Error::custom)
    }
}

/// Bytes written as base64.
#[derive(Debug, Clone)]
pub struct Base64(pub Vec<u8>);

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(Base64)
            .map_err(|error| {
                serde::de::Error::custom(format!(
                    "`send_binary` takes base64 ({error}); e.g. `send_binary: \"AAECAw==\"` for the bytes 0 1 2 3"
                ))
            })
    }
}

/// A parsed JSON path.
#[derive(Debug, Clone)]
pub struct Path(pub JsonPath);

impl<'de> Deserialize<'de> for Path {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        JsonPath::parse(&text)
            .map(Path)
            .map_err(serde::de::Error::custom)
    }
}

/// A compiled regular expression.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        regex::Regex::new(&text).map(Pattern).map_err(|error| {
            serde::de::Error::custom(format!(
                "`{text}` is not a regular expression: {}",
                error.to_string().lines().last().unwrap_or("")
            ))
        })
    }
}

/// A duration such as `200ms` or `1.5s`.
#[derive(Debug, Clone, Copy)]
pub struct Span(pub Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text =
            scalar_text(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)?;
        crate::config::units::parse_duration(&text)
            .map(Span)
            .map_err(serde::de::Error::custom)
    }
}

/// `think: 200ms` or `think: {min: 100ms, max: 300ms}`.
#[derive(Debug, Clone, Copy)]
pub struct Think {
    /// Shortest pause.
    pub min: Duration,
    /// Longest pause (equal to `min` for a fixed one).
    pub max: Duration,
}

impl<'de> Deserialize<'de> for Think {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Range {
            min: Span,
            max: Span,
        }
        let value = Value::deserialize(deserializer)?;
        let think = match value {
            Value::Mapping(_) => {
                let range: Range =
                    serde_yaml_ng::from_value(value).map_err(serde::de::Error::custom)?;
                Think {
                    min: range.min.0,
                    max: range.max.0,
                }
            }
            other => {
                let text = scalar_text(other).map_err(serde::de::Error::custom)?;
                let fixed = crate::config::units::parse_duration(&text)
                    .map_err(|error| serde::de::Error::custom(format!("think: {error}; write `think: 200ms` or `think: {{min: 100ms, max: 300ms}}`")))?;
                Think {
                    min: fixed,
                    max: fixed,
                }
            }
        };
        if think.min > think.max {
            return Err(serde::de::Error::custom(
                "think: `min` is longer than `max`; swap them",
            ));
        }
        Ok(think)
    }
}

/// `expect:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Times the round trip from the send just before; also the check's name.
    pub name: Option<String>,
    pub timeout: Option<Span>,
    #[serde(default)]
    pub capture: BTreeMap<String, Path>,
    #[serde(default)]
    pub binary: bool,
    pub equals: Option<TextTemplate>,
    pub contains: Option<TextTemplate>,
    pub matches: Option<Pattern>,
    pub json: Option<RawJsonTest>,
}

/// `json: {path, equals|contains|matches|exists|gt|ge|lt|le}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJsonTest {
    pub path: Path,
    pub equals: Option<TextTemplate>,
    pub contains: Option<TextTemplate>,
    pub matches: Option<Pattern>,
    pub exists: Option<bool>,
    pub gt: Option<f64>,
    pub ge: Option<f64>,
    pub lt: Option<f64>,
    pub le: Option<f64>,
}

/// `loop:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoop {
    pub count: Option<u32>,
    pub duration: Option<Span>,
    /// Only `data`: one pass per data row.
    pub over: Option<String>,
    pub steps: Vec<RawStep>,
}

/// `every:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvery {
    pub interval: Span,
    pub steps: Vec<RawStep>,
}

/// `check:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub name: String,
    pub value: TextTemplate,
    pub equals: Option<TextTemplate>,
    pub contains: Option<TextTemplate>,
    pub matches: Option<Pattern>,
}

/// `metric:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    pub name: String,
    pub value: TextTemplate,
}

/// `close:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClose {
    pub code: Option<u16>,
    pub reason: Option<String>,
}

/// A YAML scalar as text: strings as written, numbers and booleans in their usual form.
fn scalar_text(value: Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Null => Ok(String::new()),
        _ => Err("expected text (quote it: JSON payloads in single quotes)".to_owned()),
    }
}
