//! [`Plan`]: everything the connections of one run share, built once by `run` — the loaded module,
//! the connector, the variables, the measurement sink and the timing rules — plus the per-connection
//! URL. Read-only after construction.

use crate::config::Load;
use crate::config::template::{TemplateValues, expand_template};
use crate::connection::connect::Connector;
use crate::measure::collector::Collector;
use crate::scenario::engine::ScenarioEngine;
use crate::scenario::host::RunFacts;
use std::sync::Arc;
use url::Url;

/// What every connection of a run shares.
pub struct Plan {
    /// The scenario module, ready to instantiate.
    pub engine: ScenarioEngine,
    /// Opens WebSockets.
    pub connector: Connector,
    /// Vars, data rows, seed, start time.
    pub facts: Arc<RunFacts>,
    /// Where measurements go.
    pub collector: Arc<Collector>,
    /// URL template with `{vu}`, `{iteration}`, `{var.NAME}` (embedded targets already resolved to
    /// their loopback address).
    pub url_template: String,
    /// Connections, ramp, duration, iterations and timeouts.
    pub load: Load,
    /// DNS, heartbeat, reconnect and idle settings.
    pub net: crate::config::Network,
    /// Handshakes in flight and connection rate.
    pub pacing: crate::load::pacing::Pacing,
    /// Which part of the load this process carries (`Shard::WHOLE` for all of it).
    pub shard: crate::load::shard::Shard,
    /// `expect_upgrade.status` (101 unless a file expects a rejection).
    pub expect_upgrade: u16,
}

impl Plan {
    /// The URL for VU `vu`'s iteration `iteration`.
    pub fn url(&self, vu: u32, iteration: u32) -> Result<Url, String> {
        let lookup = |name: &str| self.facts.var(vu, name).cloned();
        let text = expand_template(
            &self.url_template,
            &TemplateValues {
                vu,
                iteration,
                lookup: &lookup,
            },
        )?;
        Url::parse(&text).map_err(|error| format!("`{text}` is not a URL: {error}"))
    }
}
