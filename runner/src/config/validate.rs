//! Raw serde types → a validated [`Scenario`]: every field checked, defaulted and converted (URLs,
//! durations, sizes, paths resolved against the file's folder), each mistake a [`ConfigError`]
//! at the field's `file:line:column` with the fix. Reading the file and `${ENV}` live in `mod.rs`.

use super::data::{self, DataOrder, DataTable};
use super::data_file;
use super::load::{ArrivalRamp, ArrivalRate, ArrivalStage, Load, Shape, Stage, stages_duration};
use super::rate::parse_rate;
use super::raw::{self, RawFile};
use super::regression::Regression;
use super::template::{Template, TemplateValues};
use super::threshold::Threshold;
use super::units::{human_duration, parse_bytes, parse_duration};
use super::{
    ConfigError, FILE_VERSION, Header, Limits, Overrides, Scenario, ServerMode, Target, closest,
    locate, pin, redact,
};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

pub(super) struct Validator<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    /// Validating one population's document: its name and the keys it set itself (errors about
    /// them point under `populations.NAME`).
    pub(super) population: Option<(&'a str, &'a [String])>,
}

impl<'a> Validator<'a> {
    /// A validator of the whole file `text`.
    pub(super) fn of(file: &'a Path, text: &'a str) -> Validator<'a> {
        Validator {
            file,
            text,
            population: None,
        }
    }

    /// Where `path` is written: under `populations.NAME` when the population set its first key.
    pub(super) fn path_of<'p>(&self, path: &[&'p str]) -> Vec<&'p str>
    where
        'a: 'p,
    {
        match (self.population, path.first()) {
            (Some((name, keys)), Some(first)) if keys.iter().any(|key| key == first) => {
                let mut full = vec!["populations", name];
                full.extend_from_slice(path);
                full
            }
            _ => path.to_vec(),
        }
    }

    /// The file (or a population) lacks a required `key`; `example` shows one.
    fn missing(&self, key: &str, example: &str) -> ConfigError {
        match self.population {
            Some((name, _)) => self.error(
                &["populations", name],
                format!("population `{name}` has no `{key}`: give it one (`{example}`), or write it once at the top of the file for every population"),
            ),
            None => self.error(&["name"], format!("missing field `{key}`: add `{example}`")),
        }
    }

    pub(super) fn error(&self, path: &[&str], message: impl Into<String>) -> ConfigError {
        ConfigError::at(
            self.file,
            locate::locate(self.text, &self.path_of(path)),
            message,
        )
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

    pub(super) fn duration(
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

    /// `load.arrival_rate`: a constant rate, or a ramp whose every stage lasts and whose rates are
    /// numbers per second, minute or hour.
    fn arrival_rate(&self, raw: &raw::RawArrivalRate) -> Result<ArrivalRate, ConfigError> {
        const AT: [&str; 2] = ["load", "arrival_rate"];
        const STAGES: [&str; 3] = ["load", "arrival_rate", "stages"];
        let ramp = match raw {
            raw::RawArrivalRate::Constant(text) => {
                return match parse_rate(text) {
                    Ok(per_second) if per_second > 0.0 => Ok(ArrivalRate::Constant(per_second)),
                    Ok(_) => Err(self.error(
                        &AT,
                        "`load.arrival_rate` must be above 0 (e.g. `arrival_rate: 10` or `10/s`)",
                    )),
                    Err(message) => Err(self.error(&AT, format!("`load.arrival_rate`: {message}"))),
                };
            }
            raw::RawArrivalRate::Ramp(ramp) => ramp,
        };
        let start = match &ramp.start {
            None => 0.0,
            Some(text) => parse_rate(text).map_err(|message| {
                self.error(
                    &["load", "arrival_rate", "start"],
                    format!("`load.arrival_rate.start`: {message}"),
                )
            })?,
        };
        if ramp.stages.is_empty() {
            return Err(self.error(
                &STAGES,
                "`load.arrival_rate.stages` is empty; list at least one stage, e.g. `- {target: 100/s, duration: 1m}`",
            ));
        }
        let mut stages = Vec::with_capacity(ramp.stages.len());
        for (index, stage) in ramp.stages.iter().enumerate() {
            let at = locate::locate_item(self.text, &self.path_of(&STAGES), index);
            let number = index + 1;
            let target = parse_rate(&stage.target).map_err(|message| {
                ConfigError::at(
                    self.file,
                    at,
                    format!("`load.arrival_rate.stages` #{number}, `target`: {message}"),
                )
            })?;
            let duration = parse_duration(&stage.duration).map_err(|message| {
                ConfigError::at(
                    self.file,
                    at,
                    format!("`load.arrival_rate.stages` #{number}, `duration`: {message}"),
                )
            })?;
            if duration.is_zero() {
                return Err(ConfigError::at(
                    self.file,
                    at,
                    format!(
                        "`load.arrival_rate.stages` #{number} lasts 0s; give it a length (e.g. `duration: 30s`), or remove it: a ramp jumps by giving the next stage a short duration"
                    ),
                ));
            }
            stages.push(ArrivalStage { target, duration });
        }
        let ramp = ArrivalRamp { start, stages };
        if ramp.stages.iter().all(|stage| stage.target == 0.0) && start == 0.0 {
            return Err(self.error(
                &STAGES,
                "`load.arrival_rate` never rises above 0/s, so no connection would arrive; give a stage a `target` above 0, e.g. `target: 100/s`",
            ));
        }
        Ok(ArrivalRate::Ramp(ramp))
    }

    /// `load.search` replaces the file's own load shape and its length: refuse them beside it.
    fn search_alone(
        &self,
        load: &raw::RawLoad,
        search: &raw::RawSearch,
    ) -> Result<(), ConfigError> {
        let shapes = [
            (load.connections.is_some(), "connections"),
            (load.stages.is_some(), "stages"),
            (load.arrival_rate.is_some(), "arrival_rate"),
        ];
        if let Some((_, key)) = shapes.iter().find(|(given, _)| *given) {
            return Err(self.error(
                &["load", key],
                format!(
                    "`load.search` replaces `load.{key}`: each step's load comes from `load.search` (`connections: {{start, factor, max}}` or `arrival_rate: …`); remove `load.{key}`"
                ),
            ));
        }
        let lengths = [
            (load.duration.is_some(), "duration"),
            (load.ramp_up.is_some(), "ramp_up"),
            (load.iterations.is_some(), "iterations"),
        ];
        if let Some((_, key)) = lengths.iter().find(|(given, _)| *given) {
            return Err(self.error(
                &["load", key],
                format!(
                    "with `load.search`, each step lasts `load.search.ramp` + `load.search.hold`; remove `load.{key}`"
                ),
            ));
        }
        if load.max_connections.is_some() && search.arrival_rate.is_none() {
            return Err(self.error(
                &["load", "max_connections"],
                "`max_connections` applies to a search of `arrival_rate` only; remove it",
            ));
        }
        Ok(())
    }

    pub(super) fn bytes(
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

    pub(super) fn validate(
        &self,
        raw: RawFile,
        overrides: &Overrides,
    ) -> Result<Scenario, ConfigError> {
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
        let module = match (&raw.module, &raw.flow) {
            (Some(module), None) => folder.join(module),
            (None, Some(_)) => PathBuf::new(),
            (Some(_), Some(_)) => {
                return Err(self.error(
                    &["flow"],
                    "the file has both `module:` and `flow:`; a scenario is a module or a flow, not both: remove one",
                ));
            }
            (None, None) => {
                return Err(self.error(
                    &["name"],
                    "the file has neither `module:` nor `flow:`; add `flow:` with steps (docs/flows.md) or `module: path/to/scenario.wasm` (docs/sdk.md)",
                ));
            }
        };
        if raw.flow.is_some() && raw.module_sha256.is_some() {
            return Err(self.error(
                &["module_sha256"],
                "`module_sha256` pins a module, and this file runs a `flow:`; remove it",
            ));
        }
        let module_sha256 = match &raw.module_sha256 {
            Some(text) => Some(
                pin::Sha256Hex::parse(text)
                    .map_err(|message| self.error(&["module_sha256"], message))?,
            ),
            None => None,
        };

        let vars = self.texts(&raw.vars, "vars", "var")?;
        let data = Arc::new(self.data(raw.data.as_ref(), folder)?);
        let data_order = self.data_order(raw.data_order.as_deref(), &data)?;
        let sample = |name: &str| {
            data.sample(name)
                .or_else(|| vars.get(name).map(String::as_str))
        };
        let sample_values = TemplateValues {
            vu: 0,
            iteration: 0,
            lookup: &sample,
        };

        let mut headers = Vec::new();
        for (name, value) in &raw.headers {
            let text = scalar_text(value).ok_or_else(|| {
                self.error(
                    &["headers", name],
                    format!("header `{name}` must be a single value"),
                )
            })?;
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(self.error(
                    &["headers", name],
                    format!("`{name}` is not a valid HTTP header name"),
                ));
            }
            let template = Template::parse(&text)
                .and_then(|template| Ok((template.render(&sample_values)?, template)));
            let (rendered, template) = template.map_err(|message| {
                self.error(&["headers", name], format!("header `{name}`: {message}"))
            })?;
            if http::HeaderValue::from_str(&rendered).is_err() {
                return Err(self.error(
                    &["headers", name],
                    format!("the value of header `{name}` has characters HTTP does not allow"),
                ));
            }
            headers.push(Header {
                name: name.clone(),
                value: template,
            });
        }

        let expect_upgrade = match &raw.expect_upgrade {
            None => 101,
            Some(expect) if expect.status == 101 || (200..=599).contains(&expect.status) => {
                expect.status
            }
            Some(expect) => {
                return Err(self.error(
                    &["expect_upgrade", "status"],
                    format!(
                        "`expect_upgrade.status: {}` is not an answer to an upgrade; use 101 (the connection opens) or an HTTP status from 200 to 599, e.g. 401",
                        expect.status
                    ),
                ));
            }
        };

        let (target_text, from_flag) = match &overrides.target {
            Some(target) => (target.clone(), true),
            None => match &raw.target {
                Some(target) => (target.clone(), false),
                None => return Err(self.missing("target", "target: ws://host:port/path")),
            },
        };
        let target = self
            .target(&target_text, &sample_values)
            .map_err(|message| {
                // Shown like the outputs show it: a token in the query or a password is hidden.
                let shown = redact::redact_url(&target_text);
                if from_flag {
                    ConfigError::at(self.file, None, format!("--target {shown}: {message}"))
                } else {
                    self.error(&["target"], format!("target `{shown}`: {message}"))
                }
            })?;

        let Some(raw_load) = &raw.load else {
            return Err(self.missing("load", "load: {connections: 10, duration: 30s}"));
        };
        let load = raw_load;
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
        if let Some(search) = &load.search {
            self.search_alone(load, search)?;
        } else if shapes_given.iter().filter(|given| **given).count() != 1 {
            return Err(self.error(
                &["load"],
                "`load` needs exactly one of `connections` (a constant number), `stages` (a list of targets) or `arrival_rate` (new connections per second)",
            ));
        }
        let (shape, connections) = if load.search.is_some() {
            // Replaced below by the first step's load, once the thresholds are read.
            (Shape::Constant, NonZeroU32::MIN)
        } else if let Some(stages) = &load.stages {
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
            duration = Some(stages_duration(&parsed));
            (Shape::Stages(parsed), peak)
        } else if let Some(rate) = &load.arrival_rate {
            let rate = self.arrival_rate(rate)?;
            let max = load.max_connections.and_then(NonZeroU32::new).ok_or_else(|| {
                self.error(&["load", "arrival_rate"], "with `arrival_rate`, set `max_connections` (the most connections open at once, e.g. `max_connections: 1000`)")
            })?;
            match &rate {
                ArrivalRate::Constant(_) if duration.is_none() => {
                    return Err(self.error(&["load", "arrival_rate"], "with `arrival_rate`, set `duration` (how long arrivals go on, e.g. `duration: 1m`)"));
                }
                ArrivalRate::Constant(_) => {}
                ArrivalRate::Ramp(ramp) => {
                    let stages = ramp.duration();
                    if let Some(given) = duration.filter(|given| *given != stages) {
                        return Err(self.error(
                            &["load", "duration"],
                            format!(
                                "`load.duration` is {} but the stages of `arrival_rate` last {}; a ramp lasts as long as its stages, so remove `load.duration` (or make the stages add up to it)",
                                human_duration(given),
                                human_duration(stages)
                            ),
                        ));
                    }
                    duration = Some(stages);
                }
            }
            iterations = Some(NonZeroU32::MIN);
            (Shape::ArrivalRate { rate, max }, max)
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
        if load.max_connections.is_some()
            && !matches!(shape, Shape::ArrivalRate { .. })
            && load.search.is_none()
        {
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
            goodbye_timeout: self.duration(
                &["load", "goodbye_timeout"],
                load.goodbye_timeout.as_deref(),
                super::load::DEFAULT_GOODBYE_TIMEOUT,
            )?,
            retry_pause: self.duration(
                &["load", "retry_pause"],
                load.retry_pause.as_deref(),
                Duration::from_secs(1),
            )?,
            max_duration: self.duration(
                &["load", "max_duration"],
                load.max_duration.as_deref(),
                super::load::DEFAULT_MAX_DURATION,
            )?,
            search: None,
            iteration_timeout: match &load.iteration_timeout {
                None => None,
                Some(text) => Some(self.duration(
                    &["load", "iteration_timeout"],
                    Some(text),
                    Duration::ZERO,
                )?),
            },
        };
        let polite = load.goodbye_timeout + load.close_timeout + Duration::from_secs(1);
        if polite > super::load::MAX_POLITE_CLOSE {
            let field = if raw_load.goodbye_timeout.is_some() {
                "goodbye_timeout"
            } else {
                "close_timeout"
            };
            return Err(self.error(
                &["load", field],
                format!(
                    "`load.goodbye_timeout` ({}) + `load.close_timeout` ({}) + 1s must be at most {}: the polite close at the end of a run is bounded so; shorten one of them",
                    super::units::human_duration(load.goodbye_timeout),
                    super::units::human_duration(load.close_timeout),
                    super::units::human_duration(super::load::MAX_POLITE_CLOSE)
                ),
            ));
        }
        let limits = Limits {
            callback_time: self.duration(
                &["limits", "callback_time"],
                raw.limits.callback_time.as_deref(),
                Duration::from_millis(100),
            )?,
            memory: self.bytes(&["limits", "memory"], raw.limits.memory.as_deref(), 4 << 20)?,
            max_message_size: 0,
        };
        // A message is copied into the scenario's memory whole, and the scenario usually copies it
        // again (a String, a parsed value): by default a message may use a quarter of that memory,
        // so one too large fails as `protocol: message too long` before it is copied, never as a
        // memory trap in the scenario.
        let default_max_message = (limits.memory / super::MESSAGE_SHARE_OF_MEMORY) as u64;
        let limits = Limits {
            max_message_size: self.bytes(
                &["limits", "max_message_size"],
                raw.limits.max_message_size.as_deref(),
                default_max_message,
            )?,
            ..limits
        };
        if limits.max_message_size > limits.memory / 2 {
            return Err(self.error(
                &["limits", "max_message_size"],
                format!(
                    "`limits.max_message_size` ({}) must be at most half of `limits.memory` ({}): a message is copied into the scenario's memory; raise `limits.memory` or lower `limits.max_message_size`",
                    super::units::human_bytes(limits.max_message_size as u64),
                    super::units::human_bytes(limits.memory as u64)
                ),
            ));
        }
        if limits.callback_time < Duration::from_millis(10) {
            return Err(self.error(
                &["limits", "callback_time"],
                "`limits.callback_time` must be at least 10ms (the interruption tick)",
            ));
        }
        if limits.memory < 256 << 10 {
            return Err(self.error(
                &["limits", "memory"],
                "`limits.memory` must be at least 256KiB (a scenario built as docs/sdk.md says starts at 64 or 128KiB)",
            ));
        }

        let metrics = crate::config::metrics::DeclaredMetrics {
            section: raw.metrics.is_some(),
            kinds: raw.metrics.clone().unwrap_or_default(),
        };
        let mut warnings = Vec::new();
        let mut thresholds = Vec::new();
        for raw_threshold in &raw.thresholds {
            let (rule, abort) = match raw_threshold {
                raw::RawThreshold::Rule(rule) => (rule.as_str(), false),
                raw::RawThreshold::Detailed(options) => (options.rule.as_str(), options.abort),
            };
            let refuse = |message: String| {
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
            };
            let threshold = Threshold::parse(rule, abort).map_err(refuse)?;
            warnings.extend(metrics.check(&threshold).map_err(refuse)?);
            thresholds.push(threshold);
        }

        let mut regressions = Vec::new();
        for (index, rule) in raw.regressions.iter().enumerate() {
            let position = locate::locate_item(self.text, &["regressions"], index);
            let refuse = |message: String| {
                ConfigError::at(
                    self.file,
                    position,
                    format!("regression `{}`: {message}", rule.trim()),
                )
            };
            let regression = Regression::parse(rule).map_err(refuse)?;
            metrics
                .check_regression(&regression.figure)
                .map_err(refuse)?;
            regressions.push(Regression {
                position,
                ..regression
            });
        }
        let baseline = raw.baseline.as_ref().map(|path| folder.join(path));
        // A search's `load` is its first step's, with the search beside it.
        let load = match &raw_load.search {
            Some(search) => {
                let search = self.search(search, &thresholds, raw_load.max_connections)?;
                // A search rule on a custom metric follows its kind, as a threshold does.
                for rule in &search.rules {
                    metrics.check(rule).map_err(|message| {
                        self.error(
                            &["load", "search", "until"],
                            format!("search rule `{}`: {message}", rule.expression),
                        )
                    })?;
                }
                Load {
                    search: Some(search.clone()),
                    ..search.step_load(&load, search.start)
                }
            }
            None => load,
        };

        let net = self.network(&raw.net, load.connect_timeout)?;
        let tls = self.tls(&raw.tls, folder)?;
        let flow = match raw.flow {
            None => {
                if raw.goodbye.is_some() {
                    return Err(self.error(
                        &["goodbye"],
                        "`goodbye:` steps belong to a flow; a module says goodbye in its `on_goodbye` (docs/sdk.md)",
                    ));
                }
                None
            }
            Some(steps) => Some(Arc::new(self.flow(
                steps,
                raw.goodbye,
                &vars,
                &data,
                &metrics,
            )?)),
        };

        Ok(Scenario {
            flow,
            net,
            tls,
            thresholds,
            metrics,
            warnings,
            regressions,
            baseline,
            file: self.file.to_owned(),
            name: raw.name,
            description: raw.description,
            target,
            module,
            module_sha256,
            module_file: None,
            headers,
            subprotocols: raw.subprotocols,
            expect_upgrade,
            vars,
            data,
            data_order,
            // Below 2^53 so JSON readers that use doubles print it exactly.
            seed: raw.seed.unwrap_or_else(|| rand::random::<u64>() >> 11),
            load,
            limits,
            populations: Vec::new(),
        })
    }

    /// `data:`: inline rows, or a file read relative to `folder`.
    fn data(&self, value: Option<&Value>, folder: &Path) -> Result<DataTable, ConfigError> {
        let rows = match value {
            None | Some(Value::Null) => return Ok(DataTable::default()),
            Some(Value::String(path)) => return self.data_file(path, folder),
            Some(Value::Sequence(rows)) => rows,
            Some(_) => {
                return Err(self.error(
                    &["data"],
                    "`data` is a list of rows (`- { user: alice }`) or the path of a CSV or JSON file (`data: users.csv`)",
                ));
            }
        };
        let mut texts = Vec::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            let Value::Mapping(row) = row else {
                return Err(self.error(
                    &["data"],
                    format!(
                        "data row {} must be a mapping such as `{{ user: alice }}`",
                        index + 1
                    ),
                ));
            };
            let mut cells = Vec::with_capacity(row.len());
            for (name, value) in row {
                let Some(name) = name.as_str() else {
                    return Err(self.error(
                        &["data"],
                        format!("data row {}: names must be text", index + 1),
                    ));
                };
                let text = scalar_text(value).ok_or_else(|| {
                    self.error(
                        &["data", name],
                        format!("data field `{name}` must be a string, number or boolean"),
                    )
                })?;
                cells.push((name.to_owned(), text));
            }
            texts.push(cells);
        }
        data::from_rows(&texts).map_err(|message| self.error(&["data"], message))
    }

    /// `data: FILE`: CSV or JSON rows; mistakes inside name the data file's line and column.
    fn data_file(&self, path: &str, folder: &Path) -> Result<DataTable, ConfigError> {
        let file = folder.join(path);
        let format = data_file::Format::of(&file).ok_or_else(|| {
            self.error(
                &["data"],
                format!("data file `{path}`: unknown format; name it `.csv` (with a header row), `.jsonl` or `.json`"),
            )
        })?;
        let bytes = std::fs::read(&file).map_err(|error| {
            self.error(
                &["data"],
                format!(
                    "cannot read data file `{}`: {error}; write its path relative to this file",
                    file.display()
                ),
            )
        })?;
        data_file::parse(&file.display().to_string(), format, &bytes)
            .map_err(|error| ConfigError::at(&file, error.position, error.message))
    }

    /// `data_order:`.
    fn data_order(&self, text: Option<&str>, data: &DataTable) -> Result<DataOrder, ConfigError> {
        let Some(text) = text else {
            return Ok(DataOrder::default());
        };
        let order = DataOrder::parse(text).ok_or_else(|| {
            let names = DataOrder::ALL.map(DataOrder::name);
            let hint = match closest(text, names) {
                Some(name) => format!("did you mean `{name}`?"),
                None => format!("use one of `{}`", names.join("`, `")),
            };
            self.error(
                &["data_order"],
                format!("unknown data_order `{text}`; {hint}"),
            )
        })?;
        if data.is_empty() {
            return Err(self.error(
                &["data_order"],
                "`data_order` needs `data` (rows, or a file); add `data:` or remove `data_order`",
            ));
        }
        Ok(order)
    }

    fn target(&self, text: &str, sample_values: &TemplateValues<'_>) -> Result<Target, String> {
        let sample = Template::parse(text)?.render(sample_values)?;
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
