//! The scenario file exactly as written: serde types with `deny_unknown_fields`, no validation.
//! The validator in `config` (and `config/network`) turns this into validated types; nothing else
//! reads it.

use serde::{Deserialize, Deserializer};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;

/// Top level of a scenario file, `version: 1`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Required unless every population gives its own (checked in `validate`).
    #[serde(default, deserialize_with = "scalar")]
    pub target: Option<String>,
    /// The scenario's module; a file has this or `flow:`.
    #[serde(default)]
    pub module: Option<String>,
    /// Steps the runner interprets itself, instead of a module.
    #[serde(default)]
    pub flow: Option<Vec<crate::config::flow::raw::RawStep>>,
    /// A flow's steps run when the run ends its connection (before the runner's Close).
    #[serde(default)]
    pub goodbye: Option<Vec<crate::config::flow::raw::RawStep>>,
    #[serde(default, deserialize_with = "scalar")]
    pub module_sha256: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    #[serde(default)]
    pub subprotocols: Vec<String>,
    pub expect_upgrade: Option<RawExpectUpgrade>,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    /// A list of rows, or the path of a CSV / JSON file (checked in `validate`).
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default, deserialize_with = "scalar")]
    pub data_order: Option<String>,
    pub seed: Option<u64>,
    /// Required unless every population gives its own (checked in `validate`).
    pub load: Option<RawLoad>,
    #[serde(default)]
    pub limits: RawLimits,
    /// Custom metrics declared with their kind: `delivery_ms: duration`.
    #[serde(default)]
    pub metrics: Option<BTreeMap<String, crate::config::metrics::MetricKind>>,
    #[serde(default)]
    pub thresholds: Vec<RawThreshold>,
    /// Regression rules against a baseline run (parsed in `validate`).
    #[serde(default)]
    pub regressions: Vec<String>,
    /// The baseline's results file, relative to the scenario file.
    #[serde(default, deserialize_with = "scalar")]
    pub baseline: Option<String>,
    #[serde(default)]
    pub net: RawNet,
    #[serde(default)]
    pub tls: RawTls,
    /// Several populations in one run (`config/population`), in file order.
    #[serde(default)]
    pub populations: Option<crate::config::population::RawPopulations>,
}

/// `net:`: DNS, source addresses, pacing, per-phase timeouts, heartbeat, reconnect, compression.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNet {
    #[serde(default)]
    pub dns: RawDns,
    #[serde(default)]
    pub source_addresses: Vec<String>,
    pub max_handshakes_in_flight: Option<u32>,
    pub max_connect_rate: Option<f64>,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    pub heartbeat: Option<RawHeartbeat>,
    pub reconnect: Option<RawReconnect>,
    #[serde(default, deserialize_with = "scalar")]
    pub idle_timeout: Option<String>,
    /// `off`, `deflate` or `{ deflate: { … } }`: read by hand in `config/compression`, so each
    /// mistake names its key.
    #[serde(default)]
    pub compression: Option<Value>,
}

/// `expect_upgrade:`: the answer to the upgrade that counts as a pass.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpectUpgrade {
    pub status: u16,
}

/// `net.dns:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    #[serde(default)]
    pub nameservers: Vec<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub timeout: Option<String>,
}

/// `net.timeouts:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    #[serde(default, deserialize_with = "scalar")]
    pub dns: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub tcp: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub tls: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub upgrade: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub write: Option<String>,
}

/// `net.heartbeat:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeartbeat {
    #[serde(deserialize_with = "required_scalar")]
    pub interval: String,
    #[serde(default, deserialize_with = "scalar")]
    pub timeout: Option<String>,
}

/// `net.reconnect:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReconnect {
    pub max_attempts: Option<u32>,
    #[serde(default, deserialize_with = "scalar")]
    pub initial_backoff: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub max_backoff: Option<String>,
}

/// `tls:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub ca_file: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default)]
    pub system_roots: bool,
}

/// One entry of `thresholds:`: a rule, or a rule with options.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawThreshold {
    /// `- round_trip p99 < 50ms`
    Rule(String),
    /// `- { rule: round_trip p99 < 50ms, abort: true }`
    Detailed(RawThresholdOptions),
}

/// The options form of a threshold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholdOptions {
    pub rule: String,
    #[serde(default)]
    pub abort: bool,
}

/// `load:`: how many connections, how fast, for how long.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub connections: Option<u32>,
    pub stages: Option<Vec<RawStage>>,
    pub arrival_rate: Option<RawArrivalRate>,
    pub max_connections: Option<u32>,
    #[serde(default, deserialize_with = "scalar")]
    pub ramp_up: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub duration: Option<String>,
    pub iterations: Option<u32>,
    #[serde(default, deserialize_with = "scalar")]
    pub connect_timeout: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub close_timeout: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub goodbye_timeout: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub retry_pause: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub iteration_timeout: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub max_duration: Option<String>,
    /// `load.search`: a capacity search instead of one load (checked in `config::search`).
    pub search: Option<RawSearch>,
}

/// `load.search`: step a population up until its rules break, then bisect.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSearch {
    pub connections: Option<RawSearchSteps>,
    pub arrival_rate: Option<RawSearchSteps>,
    #[serde(default, deserialize_with = "scalar")]
    pub ramp: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub hold: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub resolution: Option<String>,
    /// Rules in the `thresholds:` syntax; `None`: the file's thresholds.
    pub until: Option<Vec<RawThreshold>>,
}

/// `load.search.connections` or `load.search.arrival_rate`: `{start, factor, max}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSearchSteps {
    #[serde(default, deserialize_with = "scalar")]
    pub start: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub factor: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub max: Option<String>,
}

/// One entry of `load.stages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    #[serde(deserialize_with = "required_scalar")]
    pub duration: String,
    pub target: u32,
}

/// `load.arrival_rate`: a rate (`5`, `200/s`), or a ramp (`{start, stages}`). Read by hand
/// rather than as an untagged enum, so a typo inside the ramp keeps serde's own `line:column` and
/// "unknown field" message.
#[derive(Debug)]
pub enum RawArrivalRate {
    /// `arrival_rate: 5` or `arrival_rate: 200/s`, as text.
    Constant(String),
    /// `arrival_rate: {start: 10/s, stages: [...]}`.
    Ramp(RawArrivalRamp),
}

impl<'de> Deserialize<'de> for RawArrivalRate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RateOrRamp;
        impl<'de> serde::de::Visitor<'de> for RateOrRamp {
            type Value = RawArrivalRate;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a rate such as `5` or `200/s`, or `{start, stages}` to ramp")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(RawArrivalRate::Constant(text.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(RawArrivalRate::Constant(value.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(RawArrivalRate::Constant(value.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(RawArrivalRate::Constant(value.to_string()))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<Self::Value, M::Error> {
                RawArrivalRamp::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawArrivalRate::Ramp)
            }
        }
        deserializer.deserialize_any(RateOrRamp)
    }
}

/// `load.arrival_rate: {start, stages}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrivalRamp {
    #[serde(default, deserialize_with = "scalar")]
    pub start: Option<String>,
    pub stages: Vec<RawArrivalStage>,
}

/// One entry of `load.arrival_rate.stages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrivalStage {
    #[serde(deserialize_with = "required_rate")]
    pub target: String,
    #[serde(deserialize_with = "required_scalar")]
    pub duration: String,
}

fn required_rate<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    scalar(deserializer)?.ok_or_else(|| serde::de::Error::custom("expected a rate such as `200/s`"))
}

fn required_scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    scalar(deserializer)?
        .ok_or_else(|| serde::de::Error::custom("expected a duration such as `30s`"))
}

/// `limits:`: what one scenario instance may use.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default, deserialize_with = "scalar")]
    pub callback_time: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub memory: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    pub max_message_size: Option<String>,
}

/// Accept any YAML scalar as text, so `memory: 1048576` or `--set load.duration=30s` reach the
/// validator (which explains units) instead of failing as "invalid type".
fn scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(Value::Bool(flag)) => Ok(Some(flag.to_string())),
        Some(_) => Err(serde::de::Error::custom(
            "expected a single value such as `10s` or `4MiB`",
        )),
    }
}
