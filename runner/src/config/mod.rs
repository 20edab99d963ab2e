//! Scenario files: YAML text → [`raw`] serde types → validated [`Scenario`]. After this module no
//! stringly URL, path or duration survives: targets are URL templates checked at load, paths are
//! resolved against the file's folder, durations are `Duration`s. Every error names
//! `file:line:column` (see [`ConfigError`]). Running the scenario lives in `run`, not here.

mod error;
mod locate;
mod network;
mod raw;
mod substitute;
mod units;

pub use error::{ConfigError, closest};
pub use network::{Heartbeat, Network, PhaseTimeouts, Reconnect, Tls};
pub use units::{parse_bytes, parse_duration};

use crate::load::shape::{self, Shape, Stage};
use raw::RawFile;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// The scenario-file format version this runner reads.
pub const FILE_VERSION: u32 = 1;

/// A validated scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file, as given.
    pub file: PathBuf,
    /// `name:`.
    pub name: String,
    /// `description:`.
    pub description: String,
    /// Where to connect (possibly overridden by `--target`).
    pub target: Target,
    /// The scenario module, resolved against the file's folder.
    pub module: PathBuf,
    /// Extra request headers for the upgrade request.
    pub headers: Vec<(String, String)>,
    /// `Sec-WebSocket-Protocol` values offered.
    pub subprotocols: Vec<String>,
    /// Variables every connection can read.
    pub vars: BTreeMap<String, String>,
    /// Per-connection rows: VU `i` reads row `i % data.len()` before `vars`.
    pub data: Vec<BTreeMap<String, String>>,
    /// Seed of the connections' random generators.
    pub seed: u64,
    /// How many connections, how fast, how long.
    pub load: Load,
    /// What one scenario instance may use.
    pub limits: Limits,
    /// Pass/fail rules on the results.
    pub thresholds: Vec<crate::results::thresholds::Threshold>,
    /// DNS, source addresses, pacing, timeouts, heartbeat, reconnect.
    pub net: Network,
    /// TLS trust and identity.
    pub tls: Tls,
}

/// `load:` validated.
#[derive(Debug, Clone)]
pub struct Load {
    /// Constant, stages or arrival rate.
    pub shape: Shape,
    /// Most connections open at once: `connections`, the highest stage target, or
    /// `max_connections`.
    pub connections: NonZeroU32,
    /// Time over which connections are opened, evenly spaced.
    pub ramp_up: Duration,
    /// Time to hold after the ramp; `None` runs until every VU finished its iterations.
    pub duration: Option<Duration>,
    /// Iterations per VU; `None` repeats until the duration ends.
    pub iterations: Option<NonZeroU32>,
    /// Limit on the whole connect: DNS + TCP + TLS + WebSocket upgrade.
    pub connect_timeout: Duration,
    /// Time to wait for the server's Close frame after ours.
    pub close_timeout: Duration,
    /// Pause before a VU retries after its connection failed.
    pub retry_pause: Duration,
    /// Longest one iteration (connection) may stay open before it is closed as a failure.
    pub iteration_timeout: Option<Duration>,
}

/// `limits:` validated.
#[derive(Debug, Clone)]
pub struct Limits {
    /// CPU time one callback may take before it is interrupted.
    pub callback_time: Duration,
    /// Linear memory one instance may grow to, in bytes.
    pub memory: usize,
    /// Largest incoming message (and frame) accepted, in bytes.
    pub max_message_size: usize,
}

/// The embedded server's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMode {
    /// Send every message back to its sender.
    Echo,
    /// Broadcast every message to all connections on the same path (the room), sender included.
    Chat,
}

impl ServerMode {
    /// The mode's name in URLs and flags.
    pub fn name(self) -> &'static str {
        match self {
            ServerMode::Echo => "echo",
            ServerMode::Chat => "chat",
        }
    }
}

/// Where connections go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The runner's own server, started on loopback for this run (`embedded://echo/path`).
    Embedded {
        /// Echo or chat.
        mode: ServerMode,
        /// Path-and-query template, e.g. `/room-{vu}`.
        path: String,
    },
    /// A `ws://` or `wss://` URL template.
    Remote(String),
}

impl Target {
    /// The target as the user wrote it.
    pub fn describe(&self) -> String {
        match self {
            Target::Embedded { mode, path } => format!("embedded://{}{path}", mode.name()),
            Target::Remote(template) => template.clone(),
        }
    }
}

/// Values a URL template can use.
pub struct TemplateValues<'a> {
    /// `{vu}`.
    pub vu: u32,
    /// `{iteration}`.
    pub iteration: u32,
    /// `{var.NAME}`: data row first, then vars.
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// Expand `{vu}`, `{iteration}` and `{var.NAME}` in a template.
pub fn expand_template(template: &str, values: &TemplateValues<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("unclosed `{{` in `{template}`"));
        };
        let name = &rest[open + 1..open + close];
        match name {
            "vu" => out.push_str(&values.vu.to_string()),
            "iteration" => out.push_str(&values.iteration.to_string()),
            _ => match name.strip_prefix("var.") {
                Some(var) => match (values.lookup)(var) {
                    Some(value) => out.push_str(&value),
                    None => return Err(format!("`{{{name}}}`: no var `{var}` in vars or data")),
                },
                None => {
                    return Err(format!(
                        "unknown placeholder `{{{name}}}`; use {{vu}}, {{iteration}} or {{var.NAME}}"
                    ));
                }
            },
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Command-line changes applied on top of the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--target URL`.
    pub target: Option<String>,
    /// `--set key.path=value`, in order.
    pub sets: Vec<(String, String)>,
}

impl Scenario {
    /// Read, substitute, parse and validate a scenario file.
    pub fn load(file: &Path, overrides: &Overrides) -> Result<Scenario, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|error| {
            ConfigError::at(
                file,
                None,
                format!("cannot read the scenario file: {error}"),
            )
        })?;
        let scenario =
            Scenario::from_text(file, &text, overrides, |name| std::env::var(name).ok())?;
        if !scenario.module.is_file() {
            return Err(ConfigError::at(
                file,
                locate::locate(&text, &["module"]),
                format!(
                    "module `{}` not found; build the scenarios with `just scenarios` (or `cargo build --release --target wasm32-wasip2` in the scenario's crate), and write `module:` relative to this file",
                    scenario.module.display()
                ),
            ));
        }
        Ok(scenario)
    }

    /// Parse and validate `text` as if read from `file`; `env` answers `${NAME}`.
    pub fn from_text(
        file: &Path,
        text: &str,
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Scenario, ConfigError> {
        let text = substitute::substitute(text, env).map_err(|unset| {
            ConfigError::at(
                file,
                Some(locate::position_of(text, unset.offset)),
                format!(
                    "environment variable `{}` is not set; set it or write `${{{}:-default}}`",
                    unset.name, unset.name
                ),
            )
        })?;
        let raw: RawFile = if overrides.sets.is_empty() {
            serde_yaml_ng::from_str(&text).map_err(|error| ConfigError::from_yaml(file, &error))?
        } else {
            let mut value: Value = serde_yaml_ng::from_str(&text)
                .map_err(|error| ConfigError::from_yaml(file, &error))?;
            for (path, new_value) in &overrides.sets {
                apply_set(&mut value, path, new_value).map_err(|message| {
                    ConfigError::at(file, None, format!("--set {path}={new_value}: {message}"))
                })?;
            }
            serde_yaml_ng::from_value(value)
                .map_err(|error| ConfigError::at(file, None, format!("after --set: {}", error)))?
        };
        Validator { file, text: &text }.validate(raw, overrides)
    }
}

/// Set `a.b.c` in a YAML mapping tree to `value` (parsed as a YAML scalar).
fn apply_set(root: &mut Value, path: &str, value: &str) -> Result<(), String> {
    let parsed: Value = serde_yaml_ng::from_str(value).unwrap_or(Value::String(value.to_owned()));
    let mut node = root;
    let keys: Vec<&str> = path.split('.').collect();
    for (index, key) in keys.iter().enumerate() {
        let Value::Mapping(map) = node else {
            return Err(format!("`{}` is not a mapping", keys[..index].join(".")));
        };
        let key_value = Value::String((*key).to_owned());
        if index + 1 == keys.len() {
            map.insert(key_value, parsed);
            return Ok(());
        }
        node = map
            .entry(key_value)
            .or_insert_with(|| Value::Mapping(Default::default()));
    }
    Err("empty key".into())
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

struct Validator<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Validator<'_> {
    fn error(&self, path: &[&str], message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.file, locate::locate(self.text, path), message)
    }

    /// A mapping of scalars (`vars:`, a `data:` row) as text.
    fn texts(
        &self,
        values: &BTreeMap<String, Value>,
        section: &str,
        what: &str,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        values
            .iter()
            .map(|(name, value)| {
                let text = scalar_text(value).ok_or_else(|| {
                    self.error(
                        &[section, name],
                        format!("{what} `{name}` must be a string, number or boolean"),
                    )
                })?;
                Ok((name.clone(), text))
            })
            .collect()
    }

    fn duration(
        &self,
        path: &[&str],
        value: Option<&str>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match value {
            None => Ok(default),
            Some(text) => parse_duration(text)
                .map_err(|message| self.error(path, format!("`{}`: {message}", path.join(".")))),
        }
    }

    fn bytes(
        &self,
        path: &[&str],
        value: Option<&str>,
        default: u64,
    ) -> Result<usize, ConfigError> {
        let bytes = match value {
            None => default,
            Some(text) => parse_bytes(text)
                .map_err(|message| self.error(path, format!("`{}`: {message}", path.join("."))))?,
        };
        usize::try_from(bytes).map_err(|_| self.error(path, "size too large for this machine"))
    }

    fn validate(&self, raw: RawFile, overrides: &Overrides) -> Result<Scenario, ConfigError> {
        if raw.version != FILE_VERSION {
            return Err(self.error(
                &["version"],
                format!(
                    "unsupported file version {}; this volley reads version {FILE_VERSION}",
                    raw.version
                ),
            ));
        }
        let folder = self.file.parent().unwrap_or(Path::new("."));
        let module = folder.join(&raw.module);

        let vars = self.texts(&raw.vars, "vars", "var")?;
        let data = raw
            .data
            .iter()
            .map(|row| self.texts(row, "data", "data field"))
            .collect::<Result<Vec<_>, _>>()?;

        let mut headers = Vec::new();
        for (name, value) in &raw.headers {
            let text = scalar_text(value).ok_or_else(|| {
                self.error(
                    &["headers", name],
                    format!("header `{name}` must be a single value"),
                )
            })?;
            if tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                .is_err()
            {
                return Err(self.error(
                    &["headers", name],
                    format!("`{name}` is not a valid HTTP header name"),
                ));
            }
            if tokio_tungstenite::tungstenite::http::HeaderValue::from_str(&text).is_err() {
                return Err(self.error(
                    &["headers", name],
                    format!("the value of header `{name}` has characters HTTP does not allow"),
                ));
            }
            headers.push((name.clone(), text));
        }

        let (target_text, from_flag) = match &overrides.target {
            Some(target) => (target.clone(), true),
            None => (raw.target.clone(), false),
        };
        let target = self.target(&target_text, &vars, &data).map_err(|message| {
            if from_flag {
                ConfigError::at(
                    self.file,
                    None,
                    format!("--target {target_text}: {message}"),
                )
            } else {
                self.error(&["target"], format!("target `{target_text}`: {message}"))
            }
        })?;

        let load = &raw.load;
        let mut duration = match &load.duration {
            Some(text) => Some(self.duration(&["load", "duration"], Some(text), Duration::ZERO)?),
            None => None,
        };
        let mut iterations = match load.iterations {
            Some(count) => Some(NonZeroU32::new(count).ok_or_else(|| {
                self.error(
                    &["load", "iterations"],
                    "`load.iterations` must be at least 1 (or left out)",
                )
            })?),
            None => None,
        };
        let shapes_given = [
            load.connections.is_some(),
            load.stages.is_some(),
            load.arrival_rate.is_some(),
        ];
        if shapes_given.iter().filter(|given| **given).count() != 1 {
            return Err(self.error(
                &["load"],
                "`load` needs exactly one of `connections` (a constant number), `stages` (a list of targets) or `arrival_rate` (new connections per second)",
            ));
        }
        let (shape, connections) = if let Some(stages) = &load.stages {
            let mut parsed = Vec::new();
            for stage in stages {
                parsed.push(Stage {
                    duration: self.duration(
                        &["load", "stages"],
                        Some(&stage.duration),
                        Duration::ZERO,
                    )?,
                    target: stage.target,
                });
            }
            let peak = parsed.iter().map(|stage| stage.target).max().unwrap_or(0);
            let peak = NonZeroU32::new(peak).ok_or_else(|| {
                self.error(
                    &["load", "stages"],
                    "`load.stages` must have at least one stage with a `target` above 0",
                )
            })?;
            if duration.is_some() {
                return Err(self.error(
                    &["load", "duration"],
                    "with `stages`, the run lasts as long as the stages; remove `load.duration`",
                ));
            }
            duration = Some(shape::stages_duration(&parsed));
            (Shape::Stages(parsed), peak)
        } else if let Some(per_second) = load.arrival_rate {
            if !(per_second > 0.0 && per_second <= 100_000.0) {
                return Err(self.error(
                    &["load", "arrival_rate"],
                    "`load.arrival_rate` must be between 0 and 100000 connections per second",
                ));
            }
            let max = load.max_connections.and_then(NonZeroU32::new).ok_or_else(|| {
                self.error(&["load", "arrival_rate"], "with `arrival_rate`, set `max_connections` (the most connections open at once, e.g. `max_connections: 1000`)")
            })?;
            if duration.is_none() {
                return Err(self.error(&["load", "arrival_rate"], "with `arrival_rate`, set `duration` (how long arrivals go on, e.g. `duration: 1m`)"));
            }
            iterations = Some(NonZeroU32::MIN);
            (Shape::ArrivalRate { per_second, max }, max)
        } else {
            let count = load.connections.unwrap_or(0);
            let connections = NonZeroU32::new(count).ok_or_else(|| {
                self.error(
                    &["load", "connections"],
                    "`load.connections` must be at least 1",
                )
            })?;
            if duration.is_none() && iterations.is_none() {
                return Err(self.error(
                    &["load"],
                    "`load` needs `duration` (e.g. `duration: 30s`), `iterations` (e.g. `iterations: 1`), or both",
                ));
            }
            (Shape::Constant, connections)
        };
        if load.ramp_up.is_some() && !matches!(shape, Shape::Constant) {
            return Err(self.error(&["load", "ramp_up"], "`ramp_up` applies to `connections` only; stages ramp by themselves and arrivals have no ramp"));
        }
        if load.iterations.is_some_and(|count| count != 1)
            && matches!(shape, Shape::ArrivalRate { .. })
        {
            return Err(self.error(
                &["load", "iterations"],
                "with `arrival_rate` every arrival runs one iteration; remove `load.iterations`",
            ));
        }
        if load.max_connections.is_some() && !matches!(shape, Shape::ArrivalRate { .. }) {
            return Err(self.error(
                &["load", "max_connections"],
                "`max_connections` applies to `arrival_rate` only; remove it",
            ));
        }
        let load = Load {
            shape,
            connections,
            ramp_up: self.duration(
                &["load", "ramp_up"],
                load.ramp_up.as_deref(),
                Duration::ZERO,
            )?,
            duration,
            iterations,
            connect_timeout: self.duration(
                &["load", "connect_timeout"],
                load.connect_timeout.as_deref(),
                Duration::from_secs(10),
            )?,
            close_timeout: self.duration(
                &["load", "close_timeout"],
                load.close_timeout.as_deref(),
                Duration::from_secs(5),
            )?,
            retry_pause: self.duration(
                &["load", "retry_pause"],
                load.retry_pause.as_deref(),
                Duration::from_secs(1),
            )?,
            iteration_timeout: match &load.iteration_timeout {
                None => None,
                Some(text) => Some(self.duration(
                    &["load", "iteration_timeout"],
                    Some(text),
                    Duration::ZERO,
                )?),
            },
        };
        let limits = Limits {
            callback_time: self.duration(
                &["limits", "callback_time"],
                raw.limits.callback_time.as_deref(),
                Duration::from_millis(100),
            )?,
            memory: self.bytes(&["limits", "memory"], raw.limits.memory.as_deref(), 4 << 20)?,
            max_message_size: self.bytes(
                &["limits", "max_message_size"],
                raw.limits.max_message_size.as_deref(),
                16 << 20,
            )?,
        };
        if limits.callback_time < Duration::from_millis(10) {
            return Err(self.error(
                &["limits", "callback_time"],
                "`limits.callback_time` must be at least 10ms (the interruption tick)",
            ));
        }
        if limits.memory < 256 << 10 {
            return Err(self.error(
                &["limits", "memory"],
                "`limits.memory` must be at least 256KiB (a scenario starts at 128KiB)",
            ));
        }

        let mut thresholds = Vec::new();
        for raw_threshold in &raw.thresholds {
            let (rule, abort) = match raw_threshold {
                raw::RawThreshold::Rule(rule) => (rule.as_str(), false),
                raw::RawThreshold::Detailed(options) => (options.rule.as_str(), options.abort),
            };
            let threshold =
                crate::results::thresholds::Threshold::parse(rule, abort).map_err(|message| {
                    let position = self
                        .text
                        .find(rule)
                        .map(|offset| locate::position_of(self.text, offset))
                        .or_else(|| locate::locate(self.text, &["thresholds"]));
                    ConfigError::at(
                        self.file,
                        position,
                        format!("threshold `{rule}`: {message}"),
                    )
                })?;
            thresholds.push(threshold);
        }

        let net = self.network(&raw.net, load.connect_timeout)?;
        let tls = self.tls(&raw.tls, folder)?;

        Ok(Scenario {
            net,
            tls,
            thresholds,
            file: self.file.to_owned(),
            name: raw.name,
            description: raw.description,
            target,
            module,
            headers,
            subprotocols: raw.subprotocols,
            vars,
            data,
            // Below 2^53 so JSON readers that use doubles print it exactly.
            seed: raw.seed.unwrap_or_else(|| rand::random::<u64>() >> 11),
            load,
            limits,
        })
    }

    fn target(
        &self,
        text: &str,
        vars: &BTreeMap<String, String>,
        data: &[BTreeMap<String, String>],
    ) -> Result<Target, String> {
        let lookup = |name: &str| {
            data.first()
                .and_then(|row| row.get(name))
                .or_else(|| vars.get(name))
                .cloned()
        };
        let sample = expand_template(
            text,
            &TemplateValues {
                vu: 0,
                iteration: 0,
                lookup: &lookup,
            },
        )?;
        let url = Url::parse(&sample).map_err(|error| {
            format!("not a URL ({error}); write e.g. `ws://host:8080/path` or `embedded://echo`")
        })?;
        match url.scheme() {
            "ws" | "wss" => Ok(Target::Remote(text.to_owned())),
            "embedded" => {
                let mode = match url.host_str() {
                    Some("echo") => ServerMode::Echo,
                    Some("chat") => ServerMode::Chat,
                    other => {
                        return Err(format!(
                            "unknown embedded server `{}`; use `embedded://echo` or `embedded://chat`",
                            other.unwrap_or("")
                        ));
                    }
                };
                let after_scheme = text.trim_start_matches("embedded://");
                let path = after_scheme
                    .find(['/', '?'])
                    .map_or(String::new(), |start| after_scheme[start..].to_owned());
                Ok(Target::Embedded { mode, path })
            }
            other => Err(format!(
                "unsupported scheme `{other}`; use ws://, wss:// or embedded://"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version: 1
name: echo
target: ws://${HOST:-127.0.0.1}:9001/room-{vu}
module: target/echo.wasm
vars:
  messages: 5
load:
  connections: 10
  ramp_up: 1s
  duration: 5s
";

    fn parse(text: &str) -> Result<Scenario, ConfigError> {
        Scenario::from_text(Path::new("dir/s.yaml"), text, &Overrides::default(), |_| {
            None
        })
    }

    #[test]
    fn a_good_file_validates_and_resolves_the_module_next_to_it() -> Result<(), ConfigError> {
        let scenario = parse(GOOD)?;
        assert_eq!(scenario.module, Path::new("dir/target/echo.wasm"));
        assert_eq!(scenario.load.connections.get(), 10);
        assert_eq!(scenario.load.ramp_up, Duration::from_secs(1));
        assert_eq!(scenario.vars.get("messages").map(String::as_str), Some("5"));
        assert!(
            matches!(&scenario.target, Target::Remote(t) if t == "ws://127.0.0.1:9001/room-{vu}")
        );
        assert_eq!(scenario.limits.memory, 4 << 20);
        Ok(())
    }

    #[test]
    fn a_typo_names_line_column_and_the_fix() {
        let text = GOOD.replace("  connections: 10", "  conections: 10");
        let error = parse(&text).unwrap_err().to_string();
        assert_eq!(
            error,
            "dir/s.yaml:8:3: load: unknown field `conections`, did you mean `connections`?"
        );
    }

    #[test]
    fn a_bad_duration_points_at_its_key() {
        let text = GOOD.replace("ramp_up: 1s", "ramp_up: 1");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.starts_with("dir/s.yaml:9:3: `load.ramp_up`"),
            "{error}"
        );
        assert!(error.contains("`1s`"), "{error}");
    }

    #[test]
    fn set_overrides_and_target_flag_apply() -> Result<(), ConfigError> {
        let overrides = Overrides {
            target: Some("embedded://chat/lobby".into()),
            sets: vec![
                ("load.connections".into(), "3".into()),
                ("vars.room".into(), "x".into()),
            ],
        };
        let scenario = Scenario::from_text(Path::new("s.yaml"), GOOD, &overrides, |_| None)?;
        assert_eq!(scenario.load.connections.get(), 3);
        assert_eq!(scenario.vars.get("room").map(String::as_str), Some("x"));
        assert!(
            matches!(scenario.target, Target::Embedded { mode: ServerMode::Chat, ref path } if path == "/lobby")
        );
        Ok(())
    }

    #[test]
    fn unknown_placeholders_and_schemes_are_errors() {
        let error = parse(&GOOD.replace("{vu}", "{user}"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("dir/s.yaml:3:1") && error.contains("{vu}"),
            "{error}"
        );
        let error = parse(&GOOD.replace("ws://", "http://"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unsupported scheme `http`"), "{error}");
    }

    #[test]
    fn load_needs_duration_or_iterations() {
        let error = parse(&GOOD.replace("  duration: 5s\n", ""))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("dir/s.yaml:7:1") && error.contains("iterations"),
            "{error}"
        );
    }

    #[test]
    fn bare_numbers_reach_the_validator_and_headers_are_checked() {
        let text = GOOD.replace(
            "  duration: 5s\n",
            "  duration: 5\nlimits:\n  memory: 1048576\n",
        );
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.contains("dir/s.yaml:10:3") && error.contains("`5s`"),
            "{error}"
        );
        let text = GOOD.replace("load:", "limits:\n  memory: 1048576\nload:");
        assert_eq!(parse(&text).map(|s| s.limits.memory).ok(), Some(1 << 20));
        let text = GOOD.replace("load:", "headers:\n  bad header: x\nload:");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.contains("dir/s.yaml:8:3") && error.contains("not a valid HTTP header name"),
            "{error}"
        );
    }

    #[test]
    fn thresholds_parse_and_unknown_metrics_point_at_the_rule() -> Result<(), ConfigError> {
        let text = format!(
            "{GOOD}thresholds:\n  - round_trip p99 < 50ms\n  - {{ rule: reply_timeouts == 0, abort: true }}\n"
        );
        let scenario = parse(&text)?;
        assert_eq!(scenario.thresholds.len(), 2);
        assert!(scenario.thresholds[1].abort);
        let text = format!("{GOOD}thresholds:\n  - latency p99 < 50ms\n");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "dir/s.yaml:12:5: threshold `latency p99 < 50ms`: unknown metric `latency`"
            ),
            "{error}"
        );
        Ok(())
    }

    #[test]
    fn load_shapes() -> Result<(), ConfigError> {
        let staged = GOOD.replace(
            "  connections: 10\n  ramp_up: 1s\n  duration: 5s\n",
            "  stages:\n    - { duration: 10s, target: 20 }\n    - { duration: 5s, target: 0 }\n",
        );
        let scenario = parse(&staged)?;
        assert_eq!(scenario.load.connections.get(), 20);
        assert_eq!(scenario.load.duration, Some(Duration::from_secs(15)));
        let arrivals = GOOD.replace(
            "  connections: 10\n  ramp_up: 1s\n",
            "  arrival_rate: 5\n  max_connections: 50\n",
        );
        let scenario = parse(&arrivals)?;
        assert!(matches!(scenario.load.shape, Shape::ArrivalRate { max, .. } if max.get() == 50));
        assert_eq!(scenario.load.iterations.map(NonZeroU32::get), Some(1));
        let both = GOOD.replace(
            "  connections: 10\n",
            "  connections: 10\n  arrival_rate: 5\n",
        );
        let error = parse(&both).unwrap_err().to_string();
        assert!(error.contains("exactly one of"), "{error}");
        Ok(())
    }

    #[test]
    fn templates_expand() {
        let lookup = |name: &str| (name == "room").then(|| "lobby".to_owned());
        let values = TemplateValues {
            vu: 7,
            iteration: 2,
            lookup: &lookup,
        };
        assert_eq!(
            expand_template("ws://h/{var.room}/{vu}?i={iteration}", &values),
            Ok("ws://h/lobby/7?i=2".to_owned())
        );
    }
}
