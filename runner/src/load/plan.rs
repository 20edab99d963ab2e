//! [`Plan`]: everything the connections of one run share, built once by `run` — the loaded module,
//! the connector, the variables and data rows, the measurement sink and the timing rules — plus the
//! per-connection URL and header values (templates filled in with the connection's VU, iteration
//! and data row). Read-only after construction, but for the row counters in `rows`.

use crate::config::Load;
use crate::config::template::{Template, TemplateValues};
use crate::connection::connect::Connector;
use crate::measure::collector::Collector;
use crate::scenario::engine::ScenarioEngine;
use crate::scenario::host::RunFacts;
use http::{HeaderName, HeaderValue};
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
    pub url_template: Template,
    /// The URL itself when the template has no placeholders: parsed once, not per connection.
    pub static_url: Option<Url>,
    /// Upgrade headers whose values vary per connection (static ones live in the connector).
    pub header_templates: Vec<(HeaderName, Template)>,
    /// Which data row each iteration reads.
    pub rows: crate::load::rows::Rows,
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
    /// The URL for VU `vu`'s iteration `iteration`, reading data row `row` (borrowed when it is
    /// the same for every connection).
    pub fn url(
        &self,
        vu: u32,
        iteration: u32,
        row: Option<u32>,
    ) -> Result<std::borrow::Cow<'_, Url>, String> {
        if let Some(url) = &self.static_url {
            return Ok(std::borrow::Cow::Borrowed(url));
        }
        let lookup = |name: &str| self.facts.var(row, name);
        let text = self.url_template.render(&TemplateValues {
            vu,
            iteration,
            lookup: &lookup,
        })?;
        // The error names the VU and row, never the text: it is kept as the reason's example in
        // every output, and a data row may carry a token.
        Url::parse(&text)
            .map(std::borrow::Cow::Owned)
            .map_err(|error| {
                let row = row.map_or(String::new(), |row| format!(", data row {}", row + 1));
                format!(
                    "the target filled in for VU {vu}, iteration {iteration}{row} is not a URL ({error}); check the values of its placeholders"
                )
            })
    }

    /// The varying upgrade headers for VU `vu`'s iteration `iteration`, reading data row `row`
    /// (empty, without allocating, when every header is static). A value HTTP does not allow (a
    /// data value with a line break, say) fails this connection only, with a reason naming the
    /// header.
    pub fn headers(
        &self,
        vu: u32,
        iteration: u32,
        row: Option<u32>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let lookup = |name: &str| self.facts.var(row, name);
        let values = TemplateValues {
            vu,
            iteration,
            lookup: &lookup,
        };
        self.header_templates
            .iter()
            .map(|(name, template)| {
                let text = template
                    .render(&values)
                    .map_err(|reason| format!("header `{name}`: {reason}"))?;
                let value = HeaderValue::from_str(&text).map_err(|_| {
                    format!(
                        "header `{name}`: the value for this connection has characters HTTP does not allow (a line break in the data?)"
                    )
                })?;
                Ok((name.clone(), value))
            })
            .collect()
    }
}
