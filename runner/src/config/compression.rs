//! `net.compression` of a scenario file, validated: whether connections offer permessage-deflate
//! (RFC 7692) and with which parameters ([`Compression`], [`DeflateSettings`]). The field is
//! `off`, `deflate`, or `{ deflate: { … } }`, read from the YAML tree by hand (not by serde) so
//! that every mistake names the key concerned at its `file:line:column`, the allowed values and
//! the fix. Called by `config/network`; the connection layer turns the settings into the offer it
//! sends and the codec's limits. Does not live here: negotiation and compression (`websocket`).

use super::{ConfigError, Validator, closest};
use serde_yaml_ng::{Mapping, Value};

/// `net.compression` validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// No extension offered (the default, as in k6).
    #[default]
    Off,
    /// permessage-deflate offered with these parameters.
    Deflate(DeflateSettings),
}

/// The options of `net.compression.deflate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateSettings {
    /// `client_max_window_bits` (8..=15): the largest window the client compresses with. `None`:
    /// the parameter is offered without a value, as browsers do, and the server may choose.
    pub client_max_window_bits: Option<u8>,
    /// `server_max_window_bits` (8..=15) asked of the server; `None`: not offered.
    pub server_max_window_bits: Option<u8>,
    /// Offer `client_no_context_takeover`: each message the client sends is compressed alone.
    pub client_no_context_takeover: bool,
    /// Offer `server_no_context_takeover`: ask the server to compress each message alone.
    pub server_no_context_takeover: bool,
    /// zlib compression level of the messages the client sends, 0..=9.
    pub level: u32,
    /// Fail the connection (`upgrade: server declined permessage-deflate`) when the server does
    /// not accept the extension; otherwise the connection goes on uncompressed.
    pub required: bool,
}

/// Default of `net.compression.deflate.level`: zlib's own default, a balance of CPU and ratio.
pub const DEFAULT_LEVEL: u32 = 6;

/// The window sizes RFC 7692 allows (§7.1.2): 2^8 to 2^15 bytes.
pub const WINDOW_BITS: std::ops::RangeInclusive<u8> = 8..=15;

/// The highest zlib level.
pub const MAX_LEVEL: u32 = 9;

impl Default for DeflateSettings {
    /// What a browser offers: `permessage-deflate; client_max_window_bits`.
    fn default() -> Self {
        DeflateSettings {
            client_max_window_bits: None,
            server_max_window_bits: None,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            level: DEFAULT_LEVEL,
            required: false,
        }
    }
}

/// The names `net.compression` takes as a single word.
const NAMES: [&str; 2] = ["off", "deflate"];

/// The fields of `net.compression.deflate`.
const DEFLATE_FIELDS: [&str; 6] = [
    "client_max_window_bits",
    "server_max_window_bits",
    "client_no_context_takeover",
    "server_no_context_takeover",
    "level",
    "required",
];

impl Compression {
    /// The setting in words, stable (results files and the summary carry it): `off`, `deflate`,
    /// or `deflate` followed by the options that differ from their defaults, e.g.
    /// `deflate client_max_window_bits=12 server_no_context_takeover level=1 required`.
    pub fn describe(&self) -> String {
        let Compression::Deflate(settings) = self else {
            return "off".to_owned();
        };
        let mut words = vec!["deflate".to_owned()];
        if let Some(bits) = settings.client_max_window_bits {
            words.push(format!("client_max_window_bits={bits}"));
        }
        if let Some(bits) = settings.server_max_window_bits {
            words.push(format!("server_max_window_bits={bits}"));
        }
        if settings.client_no_context_takeover {
            words.push("client_no_context_takeover".to_owned());
        }
        if settings.server_no_context_takeover {
            words.push("server_no_context_takeover".to_owned());
        }
        if settings.level != DEFAULT_LEVEL {
            words.push(format!("level={}", settings.level));
        }
        if settings.required {
            words.push("required".to_owned());
        }
        words.join(" ")
    }
}

/// A YAML value as it would be written, for error messages.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Null => "null".to_owned(),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(tagged) => format!("{}", tagged.tag),
    }
}

/// How `net.compression` is written, for errors about its shape.
const USAGE: &str = "write `compression: off` (the default), `compression: deflate`, or `compression: { deflate: { … } }` with the options in docs/scenario-file.md";

/// The hint for a single word that is not one of [`NAMES`] nor close to one.
const ALLOWED: &str =
    "use `off` or `deflate` (permessage-deflate, RFC 7692, the one compression WebSocket has)";

/// `value` as window bits, if a whole number in [`WINDOW_BITS`].
fn window_bits(value: &Value) -> Option<u8> {
    value
        .as_u64()
        .and_then(|bits| u8::try_from(bits).ok())
        .filter(|bits| WINDOW_BITS.contains(bits))
}

/// `value` as a zlib level, if a whole number from 0 to [`MAX_LEVEL`].
fn level(value: &Value) -> Option<u32> {
    value
        .as_u64()
        .and_then(|level| u32::try_from(level).ok())
        .filter(|level| *level <= MAX_LEVEL)
}

impl Validator<'_> {
    /// `net.compression`: absent or `off`, `deflate`, or `{ deflate: { … } }`.
    pub(super) fn compression(&self, value: Option<&Value>) -> Result<Compression, ConfigError> {
        const PATH: [&str; 2] = ["net", "compression"];
        let map = match value {
            None | Some(Value::Null) => return Ok(Compression::Off),
            Some(Value::String(name)) if name == "off" => return Ok(Compression::Off),
            Some(Value::String(name)) if name == "deflate" => {
                return Ok(Compression::Deflate(DeflateSettings::default()));
            }
            Some(Value::String(other)) => {
                let hint = match closest(other, NAMES) {
                    Some(name) => format!("did you mean `{name}`?"),
                    None => ALLOWED.to_owned(),
                };
                let message = format!("unknown `net.compression` `{other}`; {hint}");
                return Err(self.error(&PATH, message));
            }
            Some(Value::Mapping(map)) => map,
            Some(other) => {
                let message = format!(
                    "`net.compression: {}` is not a setting; {USAGE}",
                    shown(other)
                );
                return Err(self.error(&PATH, message));
            }
        };
        let mut options = None;
        for (key, value) in map {
            match key.as_str() {
                Some("deflate") => options = Some(value),
                Some(other) => {
                    let hint = match closest(other, ["deflate"]) {
                        Some(name) => format!(", did you mean `{name}`?"),
                        None => "; the one field here is `deflate`".to_owned(),
                    };
                    let message = format!("net.compression: unknown field `{other}`{hint}");
                    return Err(self.error(&[PATH[0], PATH[1], other], message));
                }
                None => return Err(self.error(&PATH, USAGE)),
            }
        }
        match options {
            None | Some(Value::Null) => Ok(Compression::Deflate(DeflateSettings::default())),
            Some(Value::Mapping(options)) => Ok(Compression::Deflate(self.deflate(options)?)),
            Some(other) => {
                let message = format!(
                    "`net.compression.deflate` is a mapping of options such as `{{ client_max_window_bits: 12 }}`, not {}",
                    shown(other)
                );
                Err(self.error(&[PATH[0], PATH[1], "deflate"], message))
            }
        }
    }

    /// The options of `net.compression.deflate`, each checked.
    fn deflate(&self, options: &Mapping) -> Result<DeflateSettings, ConfigError> {
        let mut settings = DeflateSettings::default();
        for (key, value) in options {
            let Some(key) = key.as_str() else {
                let message = format!(
                    "`net.compression.deflate`: option names are text, e.g. `level`; the options are `{}`",
                    DEFLATE_FIELDS.join("`, `")
                );
                return Err(self.error(&["net", "compression", "deflate"], message));
            };
            let path = ["net", "compression", "deflate", key];
            let name = format!("net.compression.deflate.{key}");
            let shown = shown(value);
            let flag = || match value {
                Value::Bool(flag) => Ok(*flag),
                _ => Err(self.error(
                    &path,
                    format!("`{name}` is `true` or `false`, not `{shown}`"),
                )),
            };
            let window = || {
                let bits = window_bits(value).ok_or_else(|| {
                    self.error(
                        &path,
                        format!(
                            "`{name}` must be a whole number from 8 to 15 (a window of 2^N bytes, RFC 7692), not `{shown}`; leave it out to let the server choose"
                        ),
                    )
                })?;
                Ok(Some(bits))
            };
            match key {
                "client_max_window_bits" => settings.client_max_window_bits = window()?,
                "server_max_window_bits" => settings.server_max_window_bits = window()?,
                "client_no_context_takeover" => settings.client_no_context_takeover = flag()?,
                "server_no_context_takeover" => settings.server_no_context_takeover = flag()?,
                "required" => settings.required = flag()?,
                "level" => {
                    settings.level = level(value).ok_or_else(|| {
                        self.error(
                            &path,
                            format!(
                                "`{name}` must be a whole number from 0 (no compression) to 9 (smallest output), not `{shown}`; the default is {DEFAULT_LEVEL}"
                            ),
                        )
                    })?;
                }
                other => {
                    let hint = match closest(other, DEFLATE_FIELDS) {
                        Some(candidate) => format!(", did you mean `{candidate}`?"),
                        None => format!("; the fields here are `{}`", DEFLATE_FIELDS.join("`, `")),
                    };
                    let message = format!("net.compression.deflate: unknown field `{other}`{hint}");
                    return Err(self.error(&path, message));
                }
            }
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, Scenario};
    use std::path::Path;

    const FILE: &str = "version: 1
name: echo
target: ws://127.0.0.1:9001/
module: echo.wasm
load:
  connections: 1
  iterations: 1
net:
";

    fn parse(net: &str) -> Result<Compression, String> {
        let text = format!("{FILE}{net}");
        Scenario::from_text(Path::new("s.yaml"), &text, &Overrides::default(), |_| None)
            .map(|scenario| scenario.net.compression)
            .map_err(|error| error.to_string())
    }

    fn deflate(settings: DeflateSettings) -> Result<Compression, String> {
        Ok(Compression::Deflate(settings))
    }

    #[test]
    fn off_is_the_default_and_deflate_offers_what_a_browser_offers() {
        let without_net = FILE.trim_end_matches("net:\n");
        let scenario = Scenario::from_text(
            Path::new("s.yaml"),
            without_net,
            &Overrides::default(),
            |_| None,
        );
        assert_eq!(
            scenario.map(|s| s.net.compression).ok(),
            Some(Compression::Off)
        );
        assert_eq!(parse("  compression: off\n"), Ok(Compression::Off));
        assert_eq!(parse("  compression:\n"), Ok(Compression::Off));
        let browser = DeflateSettings {
            client_max_window_bits: None,
            server_max_window_bits: None,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            level: 6,
            required: false,
        };
        assert_eq!(parse("  compression: deflate\n"), deflate(browser));
        assert_eq!(parse("  compression:\n    deflate:\n"), deflate(browser));
        assert_eq!(parse("  compression: { deflate: {} }\n"), deflate(browser));
    }

    #[test]
    fn every_option_is_read() {
        let all = "  compression:
    deflate:
      client_max_window_bits: 12
      server_max_window_bits: 8
      client_no_context_takeover: true
      server_no_context_takeover: true
      level: 0
      required: true
";
        let settings = DeflateSettings {
            client_max_window_bits: Some(12),
            server_max_window_bits: Some(8),
            client_no_context_takeover: true,
            server_no_context_takeover: true,
            level: 0,
            required: true,
        };
        assert_eq!(parse(all), deflate(settings));
        assert_eq!(
            Compression::Deflate(settings).describe(),
            "deflate client_max_window_bits=12 server_max_window_bits=8 client_no_context_takeover server_no_context_takeover level=0 required"
        );
        assert_eq!(Compression::Off.describe(), "off");
        assert_eq!(
            Compression::Deflate(DeflateSettings::default()).describe(),
            "deflate"
        );
        let fifteen =
            parse("  compression: { deflate: { client_max_window_bits: 15, level: 9 } }\n");
        assert!(
            matches!(fifteen, Ok(Compression::Deflate(s)) if s.client_max_window_bits == Some(15) && s.level == 9),
            "{fifteen:?}"
        );
    }

    #[test]
    fn an_unknown_name_lists_the_allowed_values_at_its_place() {
        assert_eq!(
            parse("  compression: gzip\n"),
            Err("s.yaml:9:3: unknown `net.compression` `gzip`; use `off` or `deflate` (permessage-deflate, RFC 7692, the one compression WebSocket has)".to_owned())
        );
        assert_eq!(
            parse("  compression: deflat\n"),
            Err(
                "s.yaml:9:3: unknown `net.compression` `deflat`; did you mean `deflate`?"
                    .to_owned()
            )
        );
        let error = parse("  compression: true\n").unwrap_err();
        assert!(
            error.starts_with(
                "s.yaml:9:3: `net.compression: true` is not a setting; write `compression: off`"
            ),
            "{error}"
        );
        let error = parse("  compression: [deflate]\n").unwrap_err();
        assert!(
            error.starts_with("s.yaml:9:3: `net.compression: a list` is not a setting"),
            "{error}"
        );
    }

    #[test]
    fn unknown_fields_are_named_with_the_nearest_one() {
        assert_eq!(
            parse("  compression:\n    deflate:\n      client_max_windowbits: 12\n"),
            Err("s.yaml:11:7: net.compression.deflate: unknown field `client_max_windowbits`, did you mean `client_max_window_bits`?".to_owned())
        );
        assert_eq!(
            parse("  compression:\n    deflate:\n      memory: 12\n"),
            Err("s.yaml:11:7: net.compression.deflate: unknown field `memory`; the fields here are `client_max_window_bits`, `server_max_window_bits`, `client_no_context_takeover`, `server_no_context_takeover`, `level`, `required`".to_owned())
        );
        assert_eq!(
            parse("  compression:\n    deflat:\n      level: 1\n"),
            Err(
                "s.yaml:10:5: net.compression: unknown field `deflat`, did you mean `deflate`?"
                    .to_owned()
            )
        );
        assert_eq!(
            parse("  compression:\n    gzip: {}\n"),
            Err("s.yaml:10:5: net.compression: unknown field `gzip`; the one field here is `deflate`".to_owned())
        );
        let error = parse("  compression:\n    deflate: fast\n").unwrap_err();
        assert!(
            error.starts_with("s.yaml:10:5: `net.compression.deflate` is a mapping of options"),
            "{error}"
        );
    }

    #[test]
    fn out_of_range_values_name_their_key_and_the_range() {
        for (option, bad) in [
            ("client_max_window_bits", "16"),
            ("client_max_window_bits", "7"),
            ("server_max_window_bits", "0"),
            ("server_max_window_bits", "-9"),
            ("client_max_window_bits", "12.5"),
            ("client_max_window_bits", "\"12\""),
        ] {
            let error = parse(&format!(
                "  compression:\n    deflate:\n      level: 1\n      {option}: {bad}\n"
            ))
            .unwrap_err();
            let shown = bad.trim_matches('"');
            assert_eq!(
                error,
                format!(
                    "s.yaml:12:7: `net.compression.deflate.{option}` must be a whole number from 8 to 15 (a window of 2^N bytes, RFC 7692), not `{shown}`; leave it out to let the server choose"
                )
            );
        }
        assert_eq!(
            parse("  compression:\n    deflate:\n      level: 10\n"),
            Err("s.yaml:11:7: `net.compression.deflate.level` must be a whole number from 0 (no compression) to 9 (smallest output), not `10`; the default is 6".to_owned())
        );
        assert_eq!(
            parse("  compression:\n    deflate:\n      required: yes\n"),
            Err(
                "s.yaml:11:7: `net.compression.deflate.required` is `true` or `false`, not `yes`"
                    .to_owned()
            )
        );
        let error = parse("  compression:\n    deflate:\n      client_no_context_takeover: 1\n")
            .unwrap_err();
        assert!(
            error.starts_with("s.yaml:11:7: `net.compression.deflate.client_no_context_takeover` is `true` or `false`"),
            "{error}"
        );
    }

    #[test]
    fn set_reaches_the_same_checks() {
        let text = format!("{FILE}  compression: off\n");
        let with = |sets: &[(&str, &str)]| {
            let overrides = Overrides {
                sets: sets
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                    .collect(),
                ..Overrides::default()
            };
            Scenario::from_text(Path::new("s.yaml"), &text, &overrides, |_| None)
                .map(|scenario| scenario.net.compression)
                .map_err(|error| error.to_string())
        };
        assert_eq!(
            with(&[("net.compression", "deflate")]),
            deflate(DeflateSettings::default())
        );
        let levels = with(&[
            ("net.compression", "{deflate: {}}"),
            ("net.compression.deflate.level", "1"),
            ("net.compression.deflate.required", "true"),
        ]);
        assert!(
            matches!(levels, Ok(Compression::Deflate(s)) if s.level == 1 && s.required),
            "{levels:?}"
        );
        let error = with(&[("net.compression", "brotli")]).unwrap_err();
        assert!(
            error.contains("unknown `net.compression` `brotli`; use `off` or `deflate`"),
            "{error}"
        );
    }
}
