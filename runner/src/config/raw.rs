//! The scenario file exactly as written: serde types with `deny_unknown_fields`, no validation.
//! [`super::Scenario::try_from_raw`] turns this into validated types; nothing else reads it.

use serde::Deserialize;
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
    pub target: String,
    pub module: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub subprotocols: Vec<String>,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    #[serde(default)]
    pub data: Vec<BTreeMap<String, Value>>,
    pub seed: Option<u64>,
    pub load: RawLoad,
    #[serde(default)]
    pub limits: RawLimits,
}

/// `load:`: how many connections, how fast, for how long.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub connections: u32,
    pub ramp_up: Option<String>,
    pub duration: Option<String>,
    pub iterations: Option<u32>,
    pub connect_timeout: Option<String>,
    pub close_timeout: Option<String>,
    pub retry_pause: Option<String>,
}

/// `limits:`: what one scenario instance may use.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub callback_time: Option<String>,
    pub memory: Option<String>,
    pub max_message_size: Option<String>,
}
