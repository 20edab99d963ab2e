//! Opening one WebSocket, phase by phase, each with its own timeout and timing: DNS (cached,
//! round robin, see [`dns`]), TCP connect (from a configured source address when given, with
//! `IP_BIND_ADDRESS_NO_PORT` so the port is chosen per destination; when a name has several
//! addresses, one after another as in RFC 8305's Happy Eyeballs: the next starts when one fails or
//! after [`ATTEMPT_DELAY`], the first to connect wins), TLS for `wss://` (see [`tls`]), then the
//! HTTP upgrade. Failures come back as [`ConnectError`]s whose text is the reason the report
//! counts and whose [`ConnectError::example`] names the addresses tried. Pacing and the overall connect timeout live in `load::iteration`; the embedded server in
//! `devserver`.

use super::{dns, tls};
use crate::config::compression::{Compression, DeflateSettings};
use crate::config::units::human_duration;
use crate::config::{PhaseTimeouts, Tls};
use crate::connection::transport::Transport;
use crate::websocket::client_handshake::{self, HandshakeError, ReadError, Response};
use crate::websocket::compression::{Deflation, Inflation};
use crate::websocket::deflate::negotiation::{self, Agreed, DeflateOffer};
use crate::websocket::message::{Assembler, Role};
use crate::websocket::socket::WebSocket;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use url::Url;

/// An open client WebSocket.
pub type WsStream = WebSocket<Transport>;

/// Why a connection could not be opened; the `Display` text is the report's reason.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL has no host or an unusable port.
    #[error("url: {0}")]
    Url(String),
    /// Name resolution failed.
    #[error("dns: {0}")]
    Dns(String),
    /// TCP connect failed: the stable reason (of the last attempt) and, for the report's example,
    /// each address tried with what happened to it.
    #[error("connect: {reason}")]
    Tcp {
        /// Stable text, e.g. `connection refused`.
        reason: String,
        /// `[::1]:8080, 127.0.0.1:8080` when all failed alike, else each with its own reason:
        /// `[::1]:8080: network unreachable; 127.0.0.1:8080: timed out after 3s`.
        tried: String,
    },
    /// TLS handshake failed.
    #[error("tls: {0}")]
    Tls(String),
    /// The server answered the upgrade with a non-101 status.
    #[error("upgrade: HTTP {0}")]
    Status(u16),
    /// The upgrade failed otherwise.
    #[error("upgrade: {0}")]
    Upgrade(String),
}

impl ConnectError {
    /// What exactly happened, for the report's one example per reason: the reason, and for a
    /// failed TCP connect the addresses tried.
    pub fn example(&self) -> String {
        match self {
            ConnectError::Tcp { reason, tried } => format!("connect: {reason} ({tried})"),
            other => other.to_string(),
        }
    }
}

/// RFC 8305's "Connection Attempt Delay": how long an attempt to one address may go unanswered
/// before the next address is tried beside it.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// How long each phase took (`None` when it did not happen, e.g. TLS on `ws://`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Phases {
    /// Name resolution (`None` for IP literals).
    pub dns: Option<Duration>,
    /// TCP connect.
    pub tcp: Option<Duration>,
    /// TLS handshake.
    pub tls: Option<Duration>,
    /// HTTP upgrade.
    pub upgrade: Option<Duration>,
}

/// An opened WebSocket and how it was opened.
pub struct Connected {
    /// The socket.
    pub socket: WsStream,
    /// Phase timings.
    pub phases: Phases,
    /// For `wss://`: whether the TLS session was resumed.
    pub resumed: Option<bool>,
    /// The server's answer to the upgrade (status, headers, subprotocol), for the scenario.
    pub handshake: crate::scenario::bindings::Handshake,
    /// The permessage-deflate parameters agreed, if any.
    pub negotiated: Option<Agreed>,
}

/// Short, stable wording for an I/O error (the report groups by it).
pub fn io_reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset".into(),
        ErrorKind::ConnectionAborted => "connection aborted".into(),
        ErrorKind::TimedOut => "timed out".into(),
        // From connect(): every local port towards this destination is taken, by open
        // connections and by closed ones still in TIME_WAIT (see `load::limits`). A source address
        // that is not local fails at bind instead (`Connector::tcp_connect`).
        ErrorKind::AddrNotAvailable => {
            "no free local port (EADDRNOTAVAIL: all ports to this address are held by open or closing connections, TIME_WAIT included)".into()
        }
        ErrorKind::AddrInUse => "address in use (EADDRINUSE)".into(),
        ErrorKind::UnexpectedEof => "unexpected end of stream".into(),
        ErrorKind::BrokenPipe => "broken pipe".into(),
        _ => match error.raw_os_error() {
            Some(libc::EMFILE) => "too many open files (EMFILE)".into(),
            Some(libc::ENFILE) => "too many open files in the system (ENFILE)".into(),
            Some(libc::ENETUNREACH) => "network unreachable".into(),
            Some(libc::EHOSTUNREACH) => "host unreachable".into(),
            _ => error.to_string(),
        },
    }
}

/// Opens WebSockets for one run: resolver, TLS configuration, headers, source addresses.
pub struct Connector {
    dns: dns::Dns,
    tls: Arc<rustls::ClientConfig>,
    server_name: Option<String>,
    max_message_size: usize,
    /// `net.compression: deflate`: what is offered, at which level, and whether it is required.
    deflate: Option<(DeflateOffer, u32, bool)>,
    /// The `Sec-WebSocket-Extensions` value offered.
    offer: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    subprotocols: Vec<String>,
    source_addresses: Vec<IpAddr>,
    next_source: AtomicUsize,
    timeouts: PhaseTimeouts,
}

/// Everything a [`Connector`] is built from.
pub struct ConnectorSettings<'a> {
    /// Name servers (empty: system).
    pub nameservers: &'a [SocketAddr],
    /// TLS options.
    pub tls: &'a Tls,
    /// Per-phase timeouts.
    pub timeouts: PhaseTimeouts,
    /// Largest incoming message and frame.
    pub max_message_size: usize,
    /// `net.compression`.
    pub compression: &'a Compression,
    /// Extra upgrade headers that are the same for every connection (per-connection ones are
    /// passed to [`Connector::connect`]).
    pub headers: Vec<(String, String)>,
    /// Offered subprotocols.
    pub subprotocols: Vec<String>,
    /// Local addresses to spread connections over.
    pub source_addresses: Vec<IpAddr>,
}

async fn phase<T, E>(
    limit: Duration,
    on_timeout: impl FnOnce() -> ConnectError,
    work: impl Future<Output = Result<T, E>>,
    on_error: impl FnOnce(E) -> ConnectError,
) -> Result<(T, Duration), ConnectError> {
    let started = Instant::now();
    match tokio::time::timeout(limit, work).await {
        Err(_) => Err(on_timeout()),
        Ok(Err(error)) => Err(on_error(error)),
        Ok(Ok(value)) => Ok((value, started.elapsed())),
    }
}

impl Connector {
    /// A connector for one run.
    pub fn new(settings: ConnectorSettings<'_>) -> Result<Connector, String> {
        let headers = settings
            .headers
            .iter()
            .map(|(name, value)| {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("invalid header name `{name}`"))?;
                let value = HeaderValue::from_str(value)
                    .map_err(|_| format!("invalid value for header `{name}`"))?;
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let deflate = match settings.compression {
            Compression::Off => None,
            Compression::Deflate(settings) => Some(offer_of(settings)),
        };
        Ok(Connector {
            dns: dns::Dns::new(settings.nameservers, settings.timeouts.dns)?,
            tls: tls::client_config(settings.tls)?,
            server_name: settings.tls.server_name.clone(),
            max_message_size: settings.max_message_size,
            offer: deflate.as_ref().map(|(offer, _, _)| offer.header_value()),
            deflate,
            headers,
            subprotocols: settings.subprotocols,
            source_addresses: settings.source_addresses,
            next_source: AtomicUsize::new(0),
            timeouts: settings.timeouts,
        })
    }

    /// DNS queries sent so far (the rest were answered from the cache).
    pub fn dns_queries(&self) -> u64 {
        self.dns.queries()
    }

    /// Open a WebSocket to `url` (`ws://` or `wss://`), adding this connection's own `headers`
    /// (values filled in from its data row) to the static ones.
    pub async fn connect(
        &self,
        url: &Url,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<Connected, ConnectError> {
        let host = url
            .host_str()
            .ok_or_else(|| ConnectError::Url(format!("{url} has no host")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| ConnectError::Url(format!("{url} has no port")))?;
        let mut phases = Phases::default();
        let bare = host.trim_matches(['[', ']']);
        let literal = bare.parse::<IpAddr>().ok();
        let resolved = match literal {
            Some(_) => None,
            None => {
                // The resolver applies the DNS timeout itself (one lookup serves many connections).
                let started = Instant::now();
                // Boxed, like the TLS handshake below: large futures most connections never run.
                let resolved = Box::pin(self.dns.resolve(bare))
                    .await
                    .map_err(ConnectError::Dns)?;
                phases.dns = Some(started.elapsed());
                Some(resolved)
            }
        };
        let candidates = match (&resolved, literal) {
            (Some(resolved), _) => resolved.candidates(),
            (None, ip) => ip.into_iter().collect(),
        };
        let started = Instant::now();
        let tcp = Box::pin(self.open_tcp(&candidates, port, resolved.as_deref())).await?;
        phases.tcp = Some(started.elapsed());
        let _ = tcp.set_nodelay(true);
        let mut resumed = None;
        let stream = if url.scheme() == "wss" {
            let verify_name = self.server_name.clone().unwrap_or_else(|| bare.to_owned());
            let name =
                rustls::pki_types::ServerName::try_from(verify_name.clone()).map_err(|error| {
                    ConnectError::Tls(format!("invalid server name `{verify_name}`: {error}"))
                })?;
            let limit = self.timeouts.tls;
            let (tls, took) = phase(
                limit,
                || {
                    ConnectError::Tls(format!(
                        "handshake timed out after {}",
                        human_duration(limit)
                    ))
                },
                Box::pin(tokio_rustls::TlsConnector::from(self.tls.clone()).connect(name, tcp)),
                |error| ConnectError::Tls(tls::reason(&error, &verify_name)),
            )
            .await?;
            phases.tls = Some(took);
            resumed = Some(matches!(
                tls.get_ref().1.handshake_kind(),
                Some(rustls::HandshakeKind::Resumed)
            ));
            Transport::Tls(Box::new(tls))
        } else {
            Transport::Plain(tcp)
        };
        let limit = self.timeouts.upgrade;
        let ((socket, response, negotiated), took) = phase(
            limit,
            || ConnectError::Upgrade(format!("no response within {}", human_duration(limit))),
            self.upgrade(stream, url, headers),
            |error| error,
        )
        .await?;
        phases.upgrade = Some(took);
        Ok(Connected {
            socket,
            phases,
            resumed,
            handshake: crate::scenario::handshake::of_response(&response),
            negotiated,
        })
    }

    /// The HTTP upgrade over `stream`: write the request, read and check the answer.
    async fn upgrade(
        &self,
        mut stream: Transport,
        url: &Url,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<(WsStream, Response, Option<Agreed>), ConnectError> {
        let mut fields: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .chain(headers)
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect();
        // With an SNI override on wss://, the HTTP Host names the same virtual host.
        let host = self
            .server_name
            .as_ref()
            .filter(|_| url.scheme() == "wss")
            .map(|name| match url.port() {
                Some(port) => format!("{name}:{port}"),
                None => name.clone(),
            });
        if let Some(host) = &host {
            fields.push(("Host", host.as_bytes()));
        }
        let request = client_handshake::request(
            url,
            &fields,
            &self.subprotocols,
            self.offer.as_deref(),
            crate::websocket::socket::random_key(),
        );
        stream
            .write_all(&request.bytes)
            .await
            .map_err(upgrade_io_error)?;
        stream.flush().await.map_err(upgrade_io_error)?;
        let (response, already_read) =
            client_handshake::read_response(&mut stream)
                .await
                .map_err(|error| match error {
                    ReadError::Io(error) => upgrade_io_error(error),
                    ReadError::Handshake(error) => handshake_error(error),
                })?;
        client_handshake::check(&response, &request.key, &self.subprotocols)
            .map_err(handshake_error)?;
        let extensions: Vec<&str> = response.values("sec-websocket-extensions").collect();
        let negotiated = match &self.deflate {
            None => negotiation::refuse_any(&extensions).map(|()| None),
            Some((offer, _, _)) => negotiation::accept_response(offer, &extensions),
        }
        .map_err(|error| ConnectError::Upgrade(error.to_string()))?;
        if negotiated.is_none()
            && let Some((_, _, true)) = &self.deflate
        {
            return Err(ConnectError::Upgrade(
                "server declined permessage-deflate".into(),
            ));
        }
        let level = self.deflate.as_ref().map_or(0, |(_, level, _)| *level);
        let inflation = negotiated.map(|agreed| Inflation::new(Role::Client, &agreed));
        let deflation = negotiated.map(|agreed| Deflation::new(Role::Client, &agreed, level));
        let assembler = Assembler::new(Role::Client, self.max_message_size, inflation);
        let socket = WebSocket::new(stream, Role::Client, assembler, deflation, already_read);
        Ok((socket, response, negotiated))
    }

    /// A TCP connection to the first of `candidates` (all on `port`) that accepts one, trying
    /// them in order: the next starts when an attempt fails, or after [`ATTEMPT_DELAY`] beside the
    /// ones still running; each attempt has `net.timeouts.tcp`. `resolved` learns which
    /// addresses work. When all fail, the reason is the last failure's and the example lists
    /// every address tried.
    async fn open_tcp(
        &self,
        candidates: &[IpAddr],
        port: u16,
        resolved: Option<&dns::Resolved>,
    ) -> Result<TcpStream, ConnectError> {
        let limit = self.timeouts.tcp;
        let attempt = |ip: IpAddr| {
            let address = SocketAddr::new(ip, port);
            async move {
                let result = match tokio::time::timeout(limit, self.tcp_connect(address)).await {
                    Ok(result) => result,
                    Err(_) => Err(TcpFailure {
                        reason: format!("timed out after {}", human_duration(limit)),
                        source: None,
                    }),
                };
                (address, result)
            }
        };
        let mut waiting = candidates.iter().copied();
        let mut running = futures_util::stream::FuturesUnordered::new();
        running.extend(waiting.next().map(&attempt));
        let next_attempt = tokio::time::sleep(ATTEMPT_DELAY);
        tokio::pin!(next_attempt);
        let mut failures: Vec<(SocketAddr, TcpFailure)> = Vec::new();
        loop {
            let more = waiting.len() > 0;
            tokio::select! {
                Some((address, result)) = running.next() => match result {
                    Ok(stream) => {
                        if let Some(resolved) = resolved {
                            resolved.connected(address.ip());
                        }
                        return Ok(stream);
                    }
                    Err(failure) => {
                        if let Some(resolved) = resolved {
                            resolved.connect_failed(address.ip());
                        }
                        failures.push((address, failure));
                        if let Some(ip) = waiting.next() {
                            running.push(attempt(ip));
                            next_attempt.as_mut().reset(tokio::time::Instant::now() + ATTEMPT_DELAY);
                        }
                    }
                },
                () = &mut next_attempt, if more => {
                    running.extend(waiting.next().map(&attempt));
                    next_attempt.as_mut().reset(tokio::time::Instant::now() + ATTEMPT_DELAY);
                }
                else => return Err(all_failed(&failures)),
            }
        }
    }

    /// One TCP connect to `address`, from the next configured source address of its family.
    async fn tcp_connect(&self, address: SocketAddr) -> Result<TcpStream, TcpFailure> {
        let failed = |error: std::io::Error, source: Option<IpAddr>| TcpFailure {
            reason: io_reason(&error),
            source,
        };
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|error| failed(error, None))?;
        let sources: Vec<&IpAddr> = self
            .source_addresses
            .iter()
            .filter(|source| source.is_ipv4() == address.is_ipv4())
            .collect();
        let mut source = None;
        if !sources.is_empty() {
            let index = self.next_source.fetch_add(1, Ordering::Relaxed) % sources.len();
            let chosen = *sources[index];
            bind_address_no_port(&socket);
            source = Some(chosen);
            socket
                .bind(SocketAddr::new(chosen, 0))
                .map_err(|error| match error.kind() {
                    // bind() checks the address only (the port comes at connect).
                    std::io::ErrorKind::AddrNotAvailable => TcpFailure {
                        reason: "source address not available (EADDRNOTAVAIL: not an address of this machine)".into(),
                        source,
                    },
                    _ => failed(error, source),
                })?;
        }
        socket
            .connect(address)
            .await
            .map_err(|error| failed(error, source))
    }
}

/// Ask Linux to pick the local port at connect time, per destination, instead of at bind time:
/// with many connections from one source address, bind-time ports run out after ~28k in total;
/// connect-time ports after ~28k per destination.
fn bind_address_no_port(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let enable: libc::c_int = 1;
    // SAFETY: setsockopt on a valid socket descriptor with a pointer to a c_int and its size.
    #[allow(unsafe_code)] // no safe wrapper for IP_BIND_ADDRESS_NO_PORT in tokio or std
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&enable as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Why one TCP attempt failed, and from which source address it was made (when one was bound).
struct TcpFailure {
    reason: String,
    source: Option<IpAddr>,
}

/// The error for a connect whose every attempt failed: the last attempt's reason, and the
/// addresses tried (`127.0.0.1:8080`, `… from 127.0.0.2` with a source address), each with its
/// own reason when they differ.
fn all_failed(failures: &[(SocketAddr, TcpFailure)]) -> ConnectError {
    let Some((_, last)) = failures.last() else {
        return ConnectError::Tcp {
            reason: "no address to connect to".into(),
            tried: String::new(),
        };
    };
    let alike = failures
        .iter()
        .all(|(_, failure)| failure.reason == last.reason);
    let tried: Vec<String> = failures
        .iter()
        .map(|(address, failure)| {
            let from = failure
                .source
                .map(|source| format!(" from {source}"))
                .unwrap_or_default();
            if alike {
                format!("{address}{from}")
            } else {
                format!("{address}{from}: {}", failure.reason)
            }
        })
        .collect();
    ConnectError::Tcp {
        reason: last.reason.clone(),
        tried: tried.join(if alike { ", " } else { "; " }),
    }
}

/// The offer `net.compression: deflate` makes, its level, and whether it is required.
fn offer_of(settings: &DeflateSettings) -> (DeflateOffer, u32, bool) {
    let offer = DeflateOffer {
        client_max_window_bits: settings.client_max_window_bits,
        server_max_window_bits: settings.server_max_window_bits,
        client_no_context_takeover: settings.client_no_context_takeover,
        server_no_context_takeover: settings.server_no_context_takeover,
        level: settings.level,
    };
    (offer, settings.level, settings.required)
}

/// A failed read or write during the upgrade. TLS 1.3 servers check the client certificate
/// after the handshake: their alert arrives with the upgrade's answer.
fn upgrade_io_error(error: std::io::Error) -> ConnectError {
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
    {
        ConnectError::Tls(tls::reason(&error, "the server"))
    } else {
        ConnectError::Upgrade(io_reason(&error))
    }
}

fn handshake_error(error: HandshakeError) -> ConnectError {
    match error {
        HandshakeError::Status(status) => ConnectError::Status(status),
        other => ConnectError::Upgrade(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(reason: &str, source: Option<IpAddr>) -> TcpFailure {
        TcpFailure {
            reason: reason.into(),
            source,
        }
    }

    fn address(text: &str) -> SocketAddr {
        match text.parse() {
            Ok(address) => address,
            Err(error) => panic!("{text}: {error}"),
        }
    }

    #[test]
    fn a_failed_connect_names_every_address_tried() {
        let refused = "connection refused";
        let error = all_failed(&[
            (address("[::1]:9001"), failure(refused, None)),
            (address("127.0.0.1:9001"), failure(refused, None)),
        ]);
        assert_eq!(error.to_string(), "connect: connection refused");
        assert_eq!(
            error.example(),
            "connect: connection refused ([::1]:9001, 127.0.0.1:9001)"
        );
        let source = Some(IpAddr::from([127, 0, 0, 2]));
        let error = all_failed(&[
            (address("[::1]:9001"), failure("network unreachable", None)),
            (
                address("127.0.0.1:9001"),
                failure("timed out after 3s", source),
            ),
        ]);
        assert_eq!(error.to_string(), "connect: timed out after 3s");
        assert_eq!(
            error.example(),
            "connect: timed out after 3s ([::1]:9001: network unreachable; 127.0.0.1:9001 from 127.0.0.2: timed out after 3s)"
        );
    }
}
