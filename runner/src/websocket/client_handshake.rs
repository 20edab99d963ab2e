//! The client's opening handshake (RFC 6455 §4.1): the HTTP upgrade request it writes and the
//! checks on the server's answer — status 101, `Upgrade: websocket`, `Connection: Upgrade`, the
//! `Sec-WebSocket-Accept` proof, a subprotocol that was offered, and the extensions (checked by
//! the negotiation in `deflate`). Reading the answer off the socket is `read_response`; the
//! rest is pure.

use crate::websocket::accept_key::accept_key;
use crate::websocket::http_head::{HeadError, read_head};
use std::fmt::Write as _;
use tokio::io::AsyncRead;
use url::Url;

/// Most response headers kept.
const MAX_HEADERS: usize = 128;

/// The upgrade request, as bytes to write, and the key whose proof the answer must carry.
pub struct Request {
    /// The whole request head.
    pub bytes: Vec<u8>,
    /// `Sec-WebSocket-Key`.
    pub key: String,
}

/// Why the upgrade failed; `Display` is the report's reason after `upgrade: `.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// A status other than 101.
    #[error("HTTP {0}")]
    Status(u16),
    /// The answer is not HTTP.
    #[error("invalid HTTP response")]
    NotHttp,
    /// The answer's head is larger than 16 KiB.
    #[error("response head larger than 16 KiB")]
    TooLarge,
    /// The server closed before its answer was complete.
    #[error("connection closed before the response")]
    Closed,
    /// `Upgrade: websocket` or `Connection: Upgrade` is missing.
    #[error("101 without `Upgrade: websocket` and `Connection: Upgrade`")]
    NotUpgraded,
    /// `Sec-WebSocket-Accept` is missing or wrong.
    #[error("wrong or missing Sec-WebSocket-Accept")]
    BadAccept,
    /// Subprotocols were offered and the server chose none (the file asks for one of them).
    #[error("server chose none of the offered subprotocols")]
    NoSubprotocol,
    /// A subprotocol that was not offered.
    #[error("server chose a subprotocol that was not offered")]
    UnofferedSubprotocol,
    /// The extension negotiation failed.
    #[error("{0}")]
    Extension(String),
}

/// The server's answer: status and headers (names in lower case).
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// Values of header `name` (lower case), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The request for `url` with `headers` (later ones replace earlier ones of the same name, and
/// replace the defaults), offering `subprotocols` and `extensions`. `key_bytes` are the 16
/// random bytes of the key.
pub fn request(
    url: &Url,
    headers: &[(&str, &[u8])],
    subprotocols: &[String],
    extensions: Option<&str>,
    key_bytes: [u8; 16],
) -> Request {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode(key_bytes);
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    let mut fields: Vec<(String, Vec<u8>)> = vec![
        ("Host".into(), host.into_bytes()),
        ("Connection".into(), b"Upgrade".to_vec()),
        ("Upgrade".into(), b"websocket".to_vec()),
        ("Sec-WebSocket-Version".into(), b"13".to_vec()),
        ("Sec-WebSocket-Key".into(), key.clone().into_bytes()),
    ];
    if !subprotocols.is_empty() {
        fields.push((
            "Sec-WebSocket-Protocol".into(),
            subprotocols.join(", ").into_bytes(),
        ));
    }
    if let Some(offer) = extensions {
        fields.push(("Sec-WebSocket-Extensions".into(), offer.as_bytes().to_vec()));
    }
    for (name, value) in headers {
        match fields
            .iter_mut()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
        {
            Some(field) => field.1 = value.to_vec(),
            None => fields.push(((*name).to_owned(), value.to_vec())),
        }
    }
    let mut head = String::new();
    let _ = write!(head, "GET {path} HTTP/1.1\r\n");
    let mut bytes = head.into_bytes();
    for (name, value) in fields {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(&value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    Request { bytes, key }
}

/// Read the response head from `stream`: the parsed response and the bytes read after it (the
/// first frames, when the server wrote them at once).
pub async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<(Response, Vec<u8>), ReadError> {
    match read_head(stream).await {
        Ok((head, rest)) => parse_response(&head)
            .map(|response| (response, rest))
            .map_err(ReadError::Handshake),
        Err(HeadError::Io(error)) => Err(ReadError::Io(error)),
        Err(HeadError::Closed) => Err(ReadError::Handshake(HandshakeError::Closed)),
        Err(HeadError::TooLarge) => Err(ReadError::Handshake(HandshakeError::TooLarge)),
    }
}

/// Reading the response failed.
#[derive(Debug)]
pub enum ReadError {
    /// The socket failed.
    Io(std::io::Error),
    /// The bytes are not an acceptable answer.
    Handshake(HandshakeError),
}

/// Parse a complete response head.
pub fn parse_response(head: &[u8]) -> Result<Response, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(HandshakeError::NotHttp),
    }
    let status = parsed.code.ok_or(HandshakeError::NotHttp)?;
    Ok(Response {
        status,
        headers: parsed
            .headers
            .iter()
            .map(|header| {
                (
                    header.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(header.value).trim().to_owned(),
                )
            })
            .collect(),
    })
}

/// Check a 101 answer to the request with `key` that offered `subprotocols`. Extensions are
/// checked by the caller.
pub fn check(
    response: &Response,
    key: &str,
    subprotocols: &[String],
) -> Result<(), HandshakeError> {
    if response.status != 101 {
        return Err(HandshakeError::Status(response.status));
    }
    let has_token = |name: &str, token: &str| {
        response.values(name).any(|value| {
            value
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err(HandshakeError::NotUpgraded);
    }
    let expected = accept_key(key.as_bytes());
    let mut accepts = response.values("sec-websocket-accept");
    if accepts.next() != Some(expected.as_str()) || accepts.next().is_some() {
        return Err(HandshakeError::BadAccept);
    }
    match response.values("sec-websocket-protocol").next() {
        Some(chosen) if !subprotocols.iter().any(|offered| offered == chosen) => {
            Err(HandshakeError::UnofferedSubprotocol)
        }
        None if !subprotocols.is_empty() => Err(HandshakeError::NoSubprotocol),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        match Url::parse(text) {
            Ok(url) => url,
            Err(error) => panic!("{text}: {error}"),
        }
    }

    fn text(request: &Request) -> String {
        String::from_utf8_lossy(&request.bytes).into_owned()
    }

    #[test]
    fn the_request_names_host_path_key_and_offers() {
        let request = request(
            &url("ws://example.com:8080/chat?room=1"),
            &[("Authorization", b"Bearer x"), ("host", b"other:1")],
            &["chat.v1".into(), "chat.v2".into()],
            Some("permessage-deflate; client_max_window_bits"),
            [0; 16],
        );
        let head = text(&request);
        assert!(head.starts_with("GET /chat?room=1 HTTP/1.1\r\n"), "{head}");
        assert!(head.contains("Host: other:1\r\n"), "{head}");
        assert!(!head.contains("example.com"), "{head}");
        assert!(head.contains("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"));
        assert!(head.contains("Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n"));
        assert!(
            head.contains(
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            )
        );
        assert!(head.contains("Authorization: Bearer x\r\n"));
        assert!(head.ends_with("\r\n\r\n"));
        let default_port = super::request(&url("wss://[::1]/"), &[], &[], None, [1; 16]);
        assert!(text(&default_port).contains("Host: [::1]\r\n"));
        assert!(!text(&default_port).contains("Extensions"));
    }

    fn answer(extra: &str) -> Response {
        // RFC 6455 §1.3's example key and proof.
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n"
        );
        match parse_response(head.as_bytes()) {
            Ok(response) => response,
            Err(error) => panic!("{error}"),
        }
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn a_correct_answer_passes() {
        assert_eq!(check(&answer(""), KEY, &[]), Ok(()));
        let chosen = answer("Sec-WebSocket-Protocol: chat.v2\r\n");
        assert_eq!(
            check(&chosen, KEY, &["chat.v1".into(), "chat.v2".into()]),
            Ok(())
        );
        assert_eq!(
            chosen.values("sec-websocket-protocol").next(),
            Some("chat.v2")
        );
    }

    #[test]
    fn wrong_answers_are_refused() {
        assert_eq!(
            check(&answer(""), "AAAAAAAAAAAAAAAAAAAAAA==", &[]),
            Err(HandshakeError::BadAccept)
        );
        assert_eq!(
            check(
                &answer("Sec-WebSocket-Protocol: other\r\n"),
                KEY,
                &["chat".into()]
            ),
            Err(HandshakeError::UnofferedSubprotocol)
        );
        let head = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
        let refused = parse_response(head).map(|response| check(&response, KEY, &[]));
        assert_eq!(refused, Ok(Err(HandshakeError::Status(503))));
        let head = b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        let bare = parse_response(head).map(|response| check(&response, KEY, &[]));
        assert_eq!(bare, Ok(Err(HandshakeError::NotUpgraded)));
        assert_eq!(
            parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").err(),
            Some(HandshakeError::NotHttp)
        );
    }
}
