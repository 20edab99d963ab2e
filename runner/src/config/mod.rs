//! Stage `config`: scenario files. YAML text → `${ENV}` substituted (`substitute`) → `--set`
//! applied (`overrides`) → [`raw`] serde types (`deny_unknown_fields`) → validated [`Scenario`]
//! (`validate`, `network`, `compression`, `load`, `search`, `threshold`, `regression`). After this stage no stringly URL, path or duration
//! survives: targets are URL templates checked at load (`template`), paths are resolved against the
//! file's folder, durations are `Duration`s. Every error names `file:line:column` and the fix
//! (`error`, `locate`); none shows a secret (`redact`: a target's query values and password, a
//! `--set` value). `Scenario::load` reads the module once (`module_file`) and checks that very
//! buffer against `module_sha256:` (`pin`); `scenario::engine` compiles it. `relocate` writes a file
//! back with its paths renamed (for `volley kubernetes`). `units` is the leaf
//! every stage may use for parsing and printing durations and sizes.
//!
//! Hands to `load` (and the rest): an immutable [`Scenario`]. Imports no other stage. Does not live
//! here: carrying the load out (`load`), judging thresholds (`results`).

pub mod compression;
pub mod data;
mod data_file;
mod error;
pub mod flow;
pub mod load;
mod locate;
pub mod metrics;
pub mod module_file;
mod module_kind;
mod module_path;
mod network;
mod overrides;
pub mod pin;
pub mod population;
pub mod rate;
mod raw;
pub mod redact;
pub mod regression;
pub mod relocate;
mod rule_words;
pub mod search;
pub(crate) mod substitute;
pub mod template;
pub mod threshold;
pub mod units;
mod validate;
mod validate_flow;
mod validate_populations;

pub use compression::Compression;
pub use data::{DataOrder, DataTable};
pub use error::{ConfigError, closest};
pub use load::{Load, Shape};
pub use network::{Heartbeat, Network, PhaseTimeouts, Reconnect, Tls};
pub use overrides::Overrides;

use raw::RawFile;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use template::Template;
use validate::Validator;

/// By default `limits.max_message_size` is `limits.memory` divided by this.
pub const MESSAGE_SHARE_OF_MEMORY: usize = 4;

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
    /// The scenario module, resolved against the file's folder (empty for a flow).
    pub module: PathBuf,
    /// The steps of `flow:`, compiled, when the file has them instead of `module:`.
    pub flow: Option<Arc<flow::Flow>>,
    /// `module_sha256:`: the digest the module must have, when the file pins one.
    pub module_sha256: Option<pin::Sha256Hex>,
    /// The module as [`Scenario::load`] read it (once; checked against `module_sha256` there and
    /// compiled from these bytes). `None` from [`Scenario::from_text`], which reads no module.
    pub module_file: Option<module_file::ModuleFile>,
    /// Extra request headers for the upgrade request; values are templates like `target`.
    pub headers: Vec<Header>,
    /// `Sec-WebSocket-Protocol` values offered.
    pub subprotocols: Vec<String>,
    /// `expect_upgrade.status`: the HTTP status the upgrade should be answered with (101, the
    /// default, opens the connection; another, e.g. 401 for a negative auth test, counts as an
    /// expected rejection and the scenario does not run).
    pub expect_upgrade: u16,
    /// Variables every connection can read.
    pub vars: BTreeMap<String, String>,
    /// Per-connection rows (inline or from a file), read before `vars`; empty without `data`.
    pub data: Arc<DataTable>,
    /// Which row a connection reads.
    pub data_order: DataOrder,
    /// Seed of the connections' random generators.
    pub seed: u64,
    /// How many connections, how fast, how long.
    pub load: Load,
    /// What one scenario instance may use.
    pub limits: Limits,
    /// Pass/fail rules on the results.
    pub thresholds: Vec<threshold::Threshold>,
    /// Custom metrics declared under `metrics:` with their kinds.
    pub metrics: metrics::DeclaredMetrics,
    /// What the file may have wrong without being refused (a threshold on an undeclared metric),
    /// printed once at load.
    pub warnings: Vec<String>,
    /// `regressions:`: limits on the change of figures against a baseline run.
    pub regressions: Vec<regression::Regression>,
    /// `baseline:`: the baseline's results file, resolved against the file's folder
    /// (`volley run --baseline` overrides it).
    pub baseline: Option<PathBuf>,
    /// DNS, source addresses, pacing, timeouts, heartbeat, reconnect, compression.
    pub net: Network,
    /// TLS trust and identity.
    pub tls: Tls,
    /// `populations:`, in file order; empty for a file of one population. With populations the
    /// rest of this `Scenario` is the first population's, `thresholds` and `regressions` are the
    /// whole file's, and each population's own `Scenario` holds no thresholds but the abort rules
    /// it judges itself.
    pub populations: Vec<Population>,
}

/// One entry of `populations:`.
#[derive(Debug, Clone)]
pub struct Population {
    /// Its name (in rule labels `{population=NAME}` and in results).
    pub name: String,
    /// When it starts.
    pub start: population::Start,
    /// Its scenario: the file's keys with the population's over them.
    pub scenario: Scenario,
    /// The keys the population set itself (where its errors point).
    pub keys: Vec<String>,
}

/// One entry of `headers:`: a valid header name and a value template (checked at load with
/// sample values; rendered per connection unless static).
#[derive(Debug, Clone)]
pub struct Header {
    /// The header name.
    pub name: String,
    /// The value, with `{vu}`, `{iteration}`, `{var.NAME}` placeholders.
    pub value: Template,
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
    /// The target as shown in outputs: query values and passwords hidden unless `show_secrets`.
    pub fn shown(&self, show_secrets: bool) -> String {
        if show_secrets {
            self.describe()
        } else {
            redact::redact_url(&self.describe())
        }
    }

    /// The target as the user wrote it (after `${ENV}` substitution).
    pub fn describe(&self) -> String {
        match self {
            Target::Embedded { mode, path } => format!("embedded://{}{path}", mode.name()),
            Target::Remote(template) => template.clone(),
        }
    }
}

impl Scenario {
    /// Connections of the whole file: every population's, or `load.connections`.
    pub fn connections(&self) -> u32 {
        if self.populations.is_empty() {
            return self.load.connections.get();
        }
        self.populations
            .iter()
            .map(|population| population.scenario.load.connections.get())
            .fold(0u32, u32::saturating_add)
    }

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
        if scenario.populations.is_empty() {
            return scenario.with_module(file, &text, &[]);
        }
        let mut populations = Vec::with_capacity(scenario.populations.len());
        for population in &scenario.populations {
            let at: Vec<&str> = if population.keys.iter().any(|key| key == "module") {
                vec!["populations", population.name.as_str()]
            } else {
                Vec::new()
            };
            populations.push(Population {
                scenario: population.scenario.clone().with_module(file, &text, &at)?,
                ..population.clone()
            });
        }
        let first = populations
            .first()
            .map(|population| population.scenario.clone())
            .ok_or_else(|| ConfigError::at(file, None, "`populations:` is empty"))?;
        Ok(Scenario {
            populations,
            thresholds: scenario.thresholds,
            regressions: scenario.regressions,
            ..first
        })
    }

    /// Read this scenario's module once (none for a flow), check it against `module_sha256` and
    /// that it is a component; errors point at `module` under `at` (a population's keys).
    fn with_module(self, file: &Path, text: &str, at: &[&str]) -> Result<Scenario, ConfigError> {
        let scenario = self;
        let path_of = |key: &'static str| -> Vec<&str> {
            let mut path = at.to_vec();
            path.push(key);
            path
        };
        if scenario.flow.is_some() {
            return Ok(scenario);
        }
        if !scenario.module.is_file() {
            let folder = file.parent().unwrap_or(Path::new(""));
            let fix = match module_path::suggest(&scenario.module) {
                Some(found) => format!(
                    "`{}` exists: did you mean `module: {}`? (written relative to this file)",
                    found.display(),
                    module_path::relative_to(&found, folder).display()
                ),
                None => "build the scenarios with `just scenarios` (or `cargo build --release --target wasm32-wasip2` in the scenario's crate), and write `module:` relative to this file".to_owned(),
            };
            return Err(ConfigError::at(
                file,
                locate::locate(text, &path_of("module")),
                format!("module `{}` not found; {fix}", scenario.module.display()),
            ));
        }
        // Read once: the pin is checked against these bytes, and these bytes are compiled.
        let module = module_file::ModuleFile::read(&scenario.module).map_err(|error| {
            ConfigError::at(
                file,
                locate::locate(text, &path_of("module")),
                format!(
                    "cannot read module `{}`: {error}",
                    scenario.module.display()
                ),
            )
        })?;
        if let Some(pinned) = &scenario.module_sha256
            && module.digest() != pinned
        {
            return Err(ConfigError::at(
                file,
                locate::locate(text, &path_of("module_sha256")),
                pin::mismatch(&scenario.module, module.digest(), pinned),
            ));
        }
        if let Some(problem) = module_kind::classify(module.bytes()).problem() {
            return Err(ConfigError::at(
                file,
                locate::locate(text, &path_of("module")),
                format!("module `{}` is {problem}", scenario.module.display()),
            ));
        }
        Ok(Scenario {
            module_file: Some(module),
            ..scenario
        })
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
        let (mut raw, document): (RawFile, Option<Value>) = if overrides.sets.is_empty() {
            let raw: RawFile = serde_yaml_ng::from_str(&text)
                .map_err(|error| ConfigError::from_yaml(file, &error))?;
            (raw, None)
        } else {
            let mut value: Value = serde_yaml_ng::from_str(&text)
                .map_err(|error| ConfigError::from_yaml(file, &error))?;
            for (path, new_value) in &overrides.sets {
                // The key, not the value: a `--set` value may be a secret.
                overrides::apply_set(&mut value, path, new_value).map_err(|message| {
                    ConfigError::at(file, None, format!("--set {path}: {message}"))
                })?;
            }
            let raw = serde_yaml_ng::from_value(value.clone()).map_err(|error| {
                let message = overrides::hide_set_values(&error.to_string(), &overrides.sets);
                ConfigError::at(file, None, format!("after --set: {message}"))
            })?;
            (raw, Some(value))
        };
        let Some(populations) = raw.populations.take() else {
            return Validator::of(file, &text).validate(raw, overrides);
        };
        let document = match document {
            Some(document) => document,
            None => serde_yaml_ng::from_str(&text)
                .map_err(|error| ConfigError::from_yaml(file, &error))?,
        };
        validate_populations::validate(file, &text, raw, &document, populations, overrides)
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
    fn issue_23_declared_metrics_are_read_and_rules_checked_against_them() -> Result<(), ConfigError>
    {
        use crate::config::metrics::MetricKind;
        let declared = format!(
            "{GOOD}metrics:\n  delivery_ms: duration\n  seen: counter\nthresholds:\n  - metric delivery_ms p99 < 50ms\n  - metric seen count >= 10\n"
        );
        let scenario = parse(&declared)?;
        assert!(scenario.metrics.section);
        assert_eq!(scenario.metrics.kind("delivery_ms"), MetricKind::Duration);
        assert_eq!(scenario.metrics.kind("seen"), MetricKind::Counter);
        assert_eq!(
            scenario.thresholds[0].limit, 50.0,
            "ms, the unit durations are kept in"
        );
        assert!(scenario.warnings.is_empty());

        let misspelt = declared.replace("metric seen count", "metric sen count");
        let error = parse(&misspelt).unwrap_err().to_string();
        assert!(
            error.starts_with("dir/s.yaml:16:5: threshold `metric sen count >= 10`: metric `sen` is not declared under `metrics:`; did you mean `seen`?"),
            "{error}"
        );
        let wrong_stat = declared.replace("metric seen count", "metric seen p99");
        let error = parse(&wrong_stat).unwrap_err().to_string();
        assert!(
            error.contains("not a statistic of a counter metric"),
            "{error}"
        );
        let unknown = declared.replace("seen: counter", "seen: countr");
        let error = parse(&unknown).unwrap_err().to_string();
        assert!(
            error.starts_with("dir/s.yaml:13:9: metrics.seen: unknown variant `countr`")
                && error.ends_with("did you mean `counter`?"),
            "{error}"
        );
        let regression = declared.replace(
            "thresholds:",
            "regressions:\n  - metric seen p99 < +10%\nthresholds:",
        );
        let error = parse(&regression).unwrap_err().to_string();
        assert!(error.contains("`seen` is a counter"), "{error}");

        let undeclared = format!("{GOOD}thresholds:\n  - metric bytes p95 < 4096\n");
        let scenario = parse(&undeclared)?;
        assert!(!scenario.metrics.section);
        assert_eq!(scenario.warnings.len(), 1, "{:?}", scenario.warnings);
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
    fn issue_21_config_errors_never_show_a_secret_from_the_target_or_a_set_value() {
        const SECRET: &str = "s3cr3t-77";
        let shown = |text: &str, overrides: &Overrides| {
            let error = Scenario::from_text(Path::new("s.yaml"), text, overrides, |_| None)
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(!error.is_empty(), "no error for {overrides:?}");
            assert!(!error.contains(SECRET), "{error}");
            error
        };
        let bad_port = format!("ws://u:{SECRET}@h:99999/?token={SECRET}");
        let in_file = GOOD.replace("ws://${HOST:-127.0.0.1}:9001/room-{vu}", &bad_port);
        let error = shown(&in_file, &Overrides::default());
        assert!(
            error.contains("target `ws://u:…@h:99999/?token=…`: not a URL"),
            "{error}"
        );
        let flag = Overrides {
            target: Some(bad_port.clone()),
            ..Overrides::default()
        };
        assert!(
            shown(GOOD, &flag).contains("--target ws://u:…@h:99999/?token=…: not a URL"),
            "the flag's target is hidden too"
        );
        let unclosed = Overrides {
            target: Some(format!("ws://h/?token={SECRET}{{vu")),
            ..Overrides::default()
        };
        assert!(shown(GOOD, &unclosed).contains("unclosed `{`"));
        let set = |path: &str| Overrides {
            sets: vec![(path.to_owned(), SECRET.to_owned())],
            ..Overrides::default()
        };
        let error = shown(GOOD, &set("name.token"));
        assert!(
            error.contains("--set name.token: `name` is not a mapping"),
            "{error}"
        );
        let error = shown(GOOD, &set("load.connections"));
        assert!(error.starts_with("s.yaml: after --set: "), "{error}");
        let header = Overrides {
            sets: vec![("headers.Authorization".into(), format!("Bearer {SECRET}{{"))],
            ..Overrides::default()
        };
        assert!(shown(GOOD, &header).contains("header `Authorization`: unclosed `{`"));
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
    fn header_values_are_templates_checked_against_vars_and_data() -> Result<(), ConfigError> {
        let with = |headers: &str| {
            GOOD.replace(
                "load:",
                &format!("data:\n  - {{ token: t-1 }}\n  - {{ token: t-2, room: vip }}\nheaders:\n{headers}load:"),
            )
        };
        let scenario = parse(&with(
            "  Authorization: Bearer {var.token}\n  X-Room: \"{var.room}/{vu}\"\n  X-Static: volley\n",
        ))?;
        let headers: Vec<(&str, bool)> = scenario
            .headers
            .iter()
            .map(|header| (header.name.as_str(), header.value.is_static()))
            .collect();
        assert_eq!(
            headers,
            [
                ("Authorization", false),
                ("X-Room", false),
                ("X-Static", true)
            ]
        );
        assert_eq!(scenario.data.rows(), 2);
        assert_eq!(scenario.data_order, DataOrder::PerVu);
        let error = parse(&with("  Authorization: Bearer {var.nope}\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "dir/s.yaml:11:3: header `Authorization`: `{var.nope}`: no var `nope` in vars or data"
        );
        let error = parse(&with("  X-Id: \"{user}\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("dir/s.yaml:11:3: header `X-Id`: unknown placeholder `{user}`"),
            "{error}"
        );
        Ok(())
    }

    #[test]
    fn data_order_is_checked() {
        let text = GOOD.replace("load:", "data:\n  - { a: 1 }\ndata_order: uniq\nload:");
        let error = parse(&text).unwrap_err().to_string();
        assert_eq!(
            error,
            "dir/s.yaml:9:1: unknown data_order `uniq`; did you mean `unique`?"
        );
        let text = GOOD.replace("load:", "data_order: random\nload:");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("`data_order` needs `data`"), "{error}");
        let text = GOOD.replace("load:", "data: users.txt\nload:");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.starts_with("dir/s.yaml:7:1: data file `users.txt`: unknown format"),
            "{error}"
        );
        let text = GOOD.replace("load:", "data: users.csv\nload:");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.starts_with("dir/s.yaml:7:1: cannot read data file `dir/users.csv`"),
            "{error}"
        );
    }

    #[test]
    fn goodbye_timeout_defaults_to_2s_and_must_fit_the_polite_close_with_close_timeout()
    -> Result<(), ConfigError> {
        let scenario = parse(GOOD)?;
        assert_eq!(scenario.load.goodbye_timeout, Duration::from_secs(2));
        assert_eq!(scenario.load.drain(), Duration::from_secs(8));
        let scenario = parse(&format!("{GOOD}  goodbye_timeout: 500ms\n"))?;
        assert_eq!(scenario.load.goodbye_timeout, Duration::from_millis(500));
        let error = parse(&format!("{GOOD}  goodbye_timeout: 25s\n"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("dir/s.yaml:11:3: `load.goodbye_timeout` (25s) + `load.close_timeout` (5s) + 1s must be at most 30s"),
            "{error}"
        );
        let error = parse(&format!("{GOOD}  close_timeout: 28s\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("dir/s.yaml:11:3:"), "{error}");
        assert!(error.contains("shorten one of them"), "{error}");
        Ok(())
    }

    #[test]
    fn thresholds_parse_and_unknown_metrics_point_at_the_rule() -> Result<(), ConfigError> {
        let text = format!(
            "{GOOD}thresholds:\n  - round_trip p99 < 50ms\n  - {{ rule: reply_timeouts == 0, abort: true }}\n"
        );
        let scenario = parse(&text)?;
        assert_eq!(scenario.thresholds.len(), 2);
        assert!(scenario.thresholds[1].abort);
        let text = format!("{GOOD}thresholds:\n  - rtt p99 < 50ms\n");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.starts_with("dir/s.yaml:12:5: threshold `rtt p99 < 50ms`: unknown metric `rtt`"),
            "{error}"
        );
        // `latency` is a subject, but only with a name.
        let text = format!("{GOOD}thresholds:\n  - latency p99 < 50ms\n");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("`latency` needs a name"), "{error}");

        Ok(())
    }

    #[test]
    fn regression_rules_parse_and_mistakes_point_at_the_rule() -> Result<(), ConfigError> {
        let text = format!(
            "{GOOD}baseline: base.json\nregressions:\n  - round_trip p99 < +10%\n  - checks pass_rate > -0.1pp\n"
        );
        let scenario = parse(&text)?;
        assert_eq!(scenario.regressions.len(), 2);
        assert_eq!(scenario.regressions[1].position, Some((14, 5)));
        assert_eq!(scenario.baseline, Some(PathBuf::from("dir/base.json")));
        let text =
            format!("{GOOD}regressions:\n  - round_trip p99 < +10%\n  - round_trip p99 < 10%\n");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "dir/s.yaml:13:5: regression `round_trip p99 < 10%`: `10%` needs a sign"
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
        assert_eq!(
            scenario.load.iterations.map(std::num::NonZeroU32::get),
            Some(1)
        );
        let both = GOOD.replace(
            "  connections: 10\n",
            "  connections: 10\n  arrival_rate: 5\n",
        );
        let error = parse(&both).unwrap_err().to_string();
        assert!(error.contains("exactly one of"), "{error}");
        Ok(())
    }

    /// GOOD with `load:` replaced by a ramping arrival rate whose stages are `stages` (lines
    /// under `stages:`, indented 6), plus `extra` lines.
    fn ramp(stages: &str, extra: &str) -> String {
        GOOD.replace(
            "  connections: 10\n  ramp_up: 1s\n  duration: 5s\n",
            &format!(
                "  arrival_rate:\n    start: 10/s\n    stages:\n{stages}  max_connections: 50\n{extra}"
            ),
        )
    }

    #[test]
    fn issue_24_an_arrival_rate_ramps_through_stages() -> Result<(), ConfigError> {
        use load::{ArrivalRate, ArrivalStage};
        let text = ramp(
            "      - {target: 200/s, duration: 1m}\n      - target: 12000/m\n        duration: 5m\n      - {target: 0/h, duration: 30s}\n",
            "",
        );
        let scenario = parse(&text)?;
        let Shape::ArrivalRate {
            rate: ArrivalRate::Ramp(ramp),
            max,
        } = &scenario.load.shape
        else {
            panic!("not a ramp: {:?}", scenario.load.shape);
        };
        assert_eq!(max.get(), 50);
        assert_eq!(ramp.start, 10.0);
        assert_eq!(
            ramp.stages[1],
            ArrivalStage {
                target: 200.0,
                duration: Duration::from_secs(300)
            }
        );
        // The run lasts as long as the stages; a `duration` that agrees is accepted.
        assert_eq!(scenario.load.duration, Some(Duration::from_secs(390)));
        assert_eq!(
            scenario.load.iterations.map(std::num::NonZeroU32::get),
            Some(1)
        );
        assert_eq!(
            scenario.load.describe(),
            "ramping arrival rate 10/s→200/s over 1m, hold 200/s for 5m, 200/s→0/s over 30s, at most 50 open"
        );
        assert!(parse(&format!("{text}  duration: 6m30s\n")).is_ok());
        // The constant form still reads a number, and now a rate with its unit too.
        let constant = GOOD.replace(
            "  connections: 10\n  ramp_up: 1s\n",
            "  arrival_rate: 120/m\n  max_connections: 50\n",
        );
        let scenario = parse(&constant)?;
        assert!(matches!(
            scenario.load.shape,
            Shape::ArrivalRate {
                rate: ArrivalRate::Constant(2.0),
                ..
            }
        ));
        Ok(())
    }

    #[test]
    fn issue_24_a_bad_ramp_names_its_stage_and_the_fix() {
        let error =
            |stages: &str, extra: &str| parse(&ramp(stages, extra)).unwrap_err().to_string();
        let one = "      - {target: 100/s, duration: 10s}\n";
        // Line 12 is the second stage (`load:` is line 7).
        let zero = error(
            &format!("{one}      - {{target: 100/s, duration: 0s}}\n"),
            "",
        );
        assert_eq!(
            zero,
            "dir/s.yaml:12:9: `load.arrival_rate.stages` #2 lasts 0s; give it a length (e.g. `duration: 30s`), or remove it: a ramp jumps by giving the next stage a short duration"
        );
        let negative = error("      - {target: -5/s, duration: 10s}\n", "");
        assert!(
            negative.starts_with(
                "dir/s.yaml:11:9: `load.arrival_rate.stages` #1, `target`: `-5/s` is negative"
            ),
            "{negative}"
        );
        let words = error("      - {target: lots/s, duration: 10s}\n", "");
        assert!(
            words.starts_with("dir/s.yaml:11:9:") && words.contains("is not a rate"),
            "{words}"
        );
        let unit = error("      - {target: 5/d, duration: 10s}\n", "");
        assert!(
            unit.contains("unknown rate unit `/d`") && unit.contains("`600/m`"),
            "{unit}"
        );
        let empty = parse(&ramp("", "").replace("    stages:\n", "    stages: []\n"))
            .unwrap_err()
            .to_string();
        assert!(
            empty.starts_with("dir/s.yaml:10:5: `load.arrival_rate.stages` is empty"),
            "{empty}"
        );
        let disagree = error(one, "  duration: 1m\n");
        assert!(
            disagree.contains("`load.duration` is 1m but the stages of `arrival_rate` last 10s"),
            "{disagree}"
        );
        let typo = parse(&ramp(one, "").replace("start:", "strat:"))
            .unwrap_err()
            .to_string();
        assert!(
            typo.starts_with("dir/s.yaml:9:5:") && typo.contains("did you mean `start`"),
            "{typo}"
        );
        let start = parse(&ramp(one, "").replace("start: 10/s", "start: ten"))
            .unwrap_err()
            .to_string();
        assert!(
            start.starts_with("dir/s.yaml:9:5: `load.arrival_rate.start`"),
            "{start}"
        );
    }

    #[test]
    fn issue_24_a_ramp_that_never_rises_is_refused() {
        let text =
            ramp("      - {target: 0/s, duration: 10s}\n", "").replace("    start: 10/s\n", "");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("never rises above 0/s"), "{error}");
    }
}
