//! `net:` and `tls:` of a scenario file, validated: DNS servers and timeout, source addresses,
//! handshake pacing, per-phase timeouts, heartbeat, reconnect policy, idle timeout, compression
//! (read in `compression`), and TLS trust and identity files (paths resolved against the file's
//! folder and checked to exist). Used by `config`; acted on by `connection::connect` and
//! `connection::event_loop`.

use super::raw::{RawNet, RawTls};
use super::{Compression, ConfigError, Validator};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `net:` validated.
#[derive(Debug, Clone)]
pub struct Network {
    /// Name servers to ask instead of the system's (`/etc/resolv.conf`); empty = system.
    pub nameservers: Vec<SocketAddr>,
    /// Local addresses to bind, spread over connections; empty = the OS chooses.
    pub source_addresses: Vec<IpAddr>,
    /// Most TCP+TLS+upgrade handshakes in progress at once.
    pub max_handshakes_in_flight: NonZeroU32,
    /// Most new connections started per second, if limited.
    pub max_connect_rate: Option<f64>,
    /// Per-phase timeouts.
    pub timeouts: PhaseTimeouts,
    /// Client pings, if enabled.
    pub heartbeat: Option<Heartbeat>,
    /// Reconnect policy for dropped connections, if enabled.
    pub reconnect: Option<Reconnect>,
    /// Close a connection that received nothing for this long.
    pub idle_timeout: Option<Duration>,
    /// Whether to offer permessage-deflate, and with which parameters.
    pub compression: Compression,
}

/// Default of `net.max_handshakes_in_flight`. Measured with `just bench-handshakes` (5,000
/// connections at once against `volley serve` and a server with tokio's default backlog): from 128
/// in flight the connect p99 jumps to 0.5–1.1 s (SYN retransmits after the listen backlog
/// overflows) with no gain in rate; 16–64 give the best rates with a p99 of 9–33 ms.
pub const DEFAULT_HANDSHAKES_IN_FLIGHT: u32 = 32;

/// Default of `net.timeouts.write`.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Timeouts of each connect phase, and of writing on an open connection.
#[derive(Debug, Clone, Copy)]
pub struct PhaseTimeouts {
    /// Name resolution.
    pub dns: Duration,
    /// TCP connect.
    pub tcp: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// HTTP upgrade (request sent → 101 received).
    pub upgrade: Duration,
    /// Longest an open connection may wait for the server to read what it sends.
    pub write: Duration,
}

/// `net.heartbeat`.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    /// Time between client pings.
    pub interval: Duration,
    /// A pong must arrive within this after a ping, or the connection is dead.
    pub timeout: Duration,
}

/// `net.reconnect`.
#[derive(Debug, Clone, Copy)]
pub struct Reconnect {
    /// Reconnects allowed per VU in a row (a connection that lasts resets the count).
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with full jitter.
    pub initial_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
}

/// `tls:` validated.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    pub client_key: Option<PathBuf>,
    /// Name to send in SNI and verify the certificate against, instead of the URL's host.
    pub server_name: Option<String>,
    /// Accept any certificate (prints a warning on every run).
    pub insecure_skip_verify: bool,
    /// Also trust the platform's certificate store (the bundled Mozilla roots are always trusted).
    pub system_roots: bool,
}

impl Validator<'_> {
    pub(super) fn network(
        &self,
        raw: &RawNet,
        connect_timeout: Duration,
    ) -> Result<Network, ConfigError> {
        let mut nameservers = Vec::new();
        for text in &raw.dns.nameservers {
            let address = text
                .parse::<SocketAddr>()
                .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| {
                    self.error(
                        &["net", "dns", "nameservers"],
                        format!(
                            "`{text}` is not an IP address (e.g. `10.0.0.2` or `127.0.0.1:5353`)"
                        ),
                    )
                })?;
            nameservers.push(address);
        }
        let mut source_addresses = Vec::new();
        for text in &raw.source_addresses {
            let address = text.parse::<IpAddr>().map_err(|_| {
                self.error(
                    &["net", "source_addresses"],
                    format!("`{text}` is not an IP address"),
                )
            })?;
            source_addresses.push(address);
        }
        let max_handshakes_in_flight = match raw.max_handshakes_in_flight {
            None => NonZeroU32::new(DEFAULT_HANDSHAKES_IN_FLIGHT).unwrap_or(NonZeroU32::MIN),
            Some(count) => NonZeroU32::new(count).ok_or_else(|| {
                self.error(
                    &["net", "max_handshakes_in_flight"],
                    "`net.max_handshakes_in_flight` must be at least 1",
                )
            })?,
        };
        if let Some(rate) = raw.max_connect_rate
            && !(rate > 0.0 && rate <= 1_000_000.0)
        {
            return Err(self.error(
                &["net", "max_connect_rate"],
                "`net.max_connect_rate` must be a number of connections per second above 0",
            ));
        }
        let t = &raw.timeouts;
        let timeouts = PhaseTimeouts {
            dns: self.duration(
                &["net", "timeouts", "dns"],
                t.dns.as_deref(),
                connect_timeout,
            )?,
            tcp: self.duration(
                &["net", "timeouts", "tcp"],
                t.tcp.as_deref(),
                connect_timeout,
            )?,
            tls: self.duration(
                &["net", "timeouts", "tls"],
                t.tls.as_deref(),
                connect_timeout,
            )?,
            upgrade: self.duration(
                &["net", "timeouts", "upgrade"],
                t.upgrade.as_deref(),
                connect_timeout,
            )?,
            write: self.duration(
                &["net", "timeouts", "write"],
                t.write.as_deref(),
                DEFAULT_WRITE_TIMEOUT,
            )?,
        };
        let dns_timeout = self.duration(
            &["net", "dns", "timeout"],
            raw.dns.timeout.as_deref(),
            timeouts.dns,
        )?;
        let timeouts = PhaseTimeouts {
            dns: dns_timeout,
            ..timeouts
        };
        let heartbeat = match &raw.heartbeat {
            None => None,
            Some(heartbeat) => {
                let interval = self.duration(
                    &["net", "heartbeat", "interval"],
                    Some(&heartbeat.interval),
                    Duration::ZERO,
                )?;
                if interval < Duration::from_millis(10) {
                    return Err(self.error(
                        &["net", "heartbeat", "interval"],
                        "`net.heartbeat.interval` must be at least 10ms",
                    ));
                }
                let timeout = self.duration(
                    &["net", "heartbeat", "timeout"],
                    heartbeat.timeout.as_deref(),
                    interval,
                )?;
                Some(Heartbeat { interval, timeout })
            }
        };
        let reconnect = match &raw.reconnect {
            None => None,
            Some(reconnect) => Some(Reconnect {
                max_attempts: reconnect.max_attempts.unwrap_or(10),
                initial_backoff: self.duration(
                    &["net", "reconnect", "initial_backoff"],
                    reconnect.initial_backoff.as_deref(),
                    Duration::from_millis(500),
                )?,
                max_backoff: self.duration(
                    &["net", "reconnect", "max_backoff"],
                    reconnect.max_backoff.as_deref(),
                    Duration::from_secs(30),
                )?,
            }),
        };
        let idle_timeout = match &raw.idle_timeout {
            None => None,
            Some(text) => {
                Some(self.duration(&["net", "idle_timeout"], Some(text), Duration::ZERO)?)
            }
        };
        let compression = self.compression(raw.compression.as_ref())?;
        Ok(Network {
            compression,
            nameservers,
            source_addresses,
            max_handshakes_in_flight,
            max_connect_rate: raw.max_connect_rate,
            timeouts,
            heartbeat,
            reconnect,
            idle_timeout,
        })
    }

    pub(super) fn tls(&self, raw: &RawTls, folder: &Path) -> Result<Tls, ConfigError> {
        let file = |key: &str, value: &Option<String>| -> Result<Option<PathBuf>, ConfigError> {
            match value {
                None => Ok(None),
                Some(text) => {
                    let path = folder.join(text);
                    if !path.is_file() {
                        return Err(self.error(
                            &["tls", key],
                            format!("`tls.{key}`: no file at {}", path.display()),
                        ));
                    }
                    Ok(Some(path))
                }
            }
        };
        let tls = Tls {
            ca_file: file("ca_file", &raw.ca_file)?,
            client_cert: file("client_cert", &raw.client_cert)?,
            client_key: file("client_key", &raw.client_key)?,
            server_name: raw.server_name.clone(),
            insecure_skip_verify: raw.insecure_skip_verify,
            system_roots: raw.system_roots,
        };
        if tls.client_cert.is_some() != tls.client_key.is_some() {
            return Err(self.error(
                &["tls"],
                "mutual TLS needs both `tls.client_cert` and `tls.client_key`",
            ));
        }
        Ok(tls)
    }
}
