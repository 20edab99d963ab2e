//! Opening one WebSocket: resolve, TCP connect, TLS for `wss://`, then the HTTP upgrade. Failures
//! come back as [`ConnectError`]s whose text is the reason the report counts. Timing of the whole
//! connect and the caller's timeout live in `conn`; the embedded server lives in `server`.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

/// An open client WebSocket.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a connection could not be opened; the `Display` text is the report's reason.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL has no host or an unusable port.
    #[error("url: {0}")]
    Url(String),
    /// Name resolution failed.
    #[error("dns: {0}")]
    Dns(String),
    /// TCP connect failed.
    #[error("connect: {0}")]
    Tcp(String),
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

/// Short, stable wording for an I/O error (the report groups by it).
pub fn io_reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset".into(),
        ErrorKind::ConnectionAborted => "connection aborted".into(),
        ErrorKind::TimedOut => "timed out".into(),
        ErrorKind::AddrNotAvailable => {
            "address not available (EADDRNOTAVAIL: out of ephemeral ports?)".into()
        }
        ErrorKind::UnexpectedEof => "unexpected end of stream".into(),
        ErrorKind::BrokenPipe => "broken pipe".into(),
        _ => match error.raw_os_error() {
            Some(libc::EMFILE) => "too many open files (EMFILE)".into(),
            Some(libc::ENETUNREACH) => "network unreachable".into(),
            Some(libc::EHOSTUNREACH) => "host unreachable".into(),
            _ => error.to_string(),
        },
    }
}

/// tungstenite's defaults allocate a 128 KiB read buffer per connection up front (a separate
/// mmap each, ~130 KiB of address space and a memory mapping per connection) and hold writes until
/// 128 KiB. Connections here are many and their messages small: read in 8 KiB chunks (larger
/// messages take several reads), write each flush through.
pub fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// Opens WebSockets with one TLS configuration, set of headers and subprotocols.
#[derive(Clone)]
pub struct Connector {
    tls: Arc<rustls::ClientConfig>,
    websocket: WebSocketConfig,
    headers: Vec<(String, String)>,
    subprotocols: Vec<String>,
}

/// The TLS client configuration: ring crypto, webpki-roots (Mozilla's bundled roots).
pub fn default_tls() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Connector {
    /// A connector; `max_message_size` bounds incoming messages and frames.
    pub fn new(
        tls: Arc<rustls::ClientConfig>,
        max_message_size: usize,
        headers: Vec<(String, String)>,
        subprotocols: Vec<String>,
    ) -> Self {
        let websocket = small_buffers()
            .max_message_size(Some(max_message_size))
            .max_frame_size(Some(max_message_size));
        Connector {
            tls,
            websocket,
            headers,
            subprotocols,
        }
    }

    /// Open a WebSocket to `url` (`ws://` or `wss://`).
    pub async fn connect(&self, url: &Url) -> Result<WsStream, ConnectError> {
        let host = url
            .host_str()
            .ok_or_else(|| ConnectError::Url(format!("{url} has no host")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| ConnectError::Url(format!("{url} has no port")))?;
        let address = resolve(host, port).await?;
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|error| ConnectError::Tcp(io_reason(&error)))?;
        let _ = tcp.set_nodelay(true);
        let stream = if url.scheme() == "wss" {
            let name =
                rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                    .map_err(|error| {
                    ConnectError::Tls(format!("invalid server name `{host}`: {error}"))
                })?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|error| ConnectError::Tls(tls_reason(&error, host)))?;
            MaybeTlsStream::Rustls(tls)
        } else {
            MaybeTlsStream::Plain(tcp)
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|error| ConnectError::Url(error.to_string()))?;
        for (name, value) in &self.headers {
            let name: tokio_tungstenite::tungstenite::http::HeaderName = name
                .parse()
                .map_err(|_| ConnectError::Url(format!("invalid header name `{name}`")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ConnectError::Url(format!("invalid value for header `{name}`")))?;
            request.headers_mut().insert(name, value);
        }
        if !self.subprotocols.is_empty() {
            let value = HeaderValue::from_str(&self.subprotocols.join(", "))
                .map_err(|_| ConnectError::Url("invalid subprotocol list".into()))?;
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", value);
        }
        let (socket, _response) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(self.websocket))
                .await
                .map_err(upgrade_error)?;
        Ok(socket)
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, ConnectError> {
    let bare = host.trim_matches(['[', ']']);
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut addresses = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|error| ConnectError::Dns(format!("{host}: {error}")))?;
    addresses
        .next()
        .ok_or_else(|| ConnectError::Dns(format!("{host}: no addresses")))
}

fn tls_reason(error: &std::io::Error, host: &str) -> String {
    let text = error.to_string();
    if text.contains("UnknownIssuer") {
        format!("certificate for {host} has an unknown issuer (self-signed or private CA?)")
    } else if text.contains("NotValidForName") {
        format!("certificate not valid for {host}")
    } else if text.contains("Expired") {
        format!("certificate for {host} has expired")
    } else {
        io_reason(error)
    }
}

fn upgrade_error(error: tokio_tungstenite::tungstenite::Error) -> ConnectError {
    use tokio_tungstenite::tungstenite::Error;
    match error {
        Error::Http(response) => ConnectError::Status(response.status().as_u16()),
        Error::Io(error) => ConnectError::Upgrade(io_reason(&error)),
        Error::Protocol(error) => ConnectError::Upgrade(error.to_string()),
        other => ConnectError::Upgrade(other.to_string()),
    }
}
