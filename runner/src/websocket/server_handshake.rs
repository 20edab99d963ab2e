//! The server's side of the opening handshake (RFC 6455 §4.2), for the development server: checks
//! the client's request (GET, `Upgrade: websocket`, a key, version 13), and writes the 101 answer
//! with the accept proof, the first subprotocol offered (so scenario files with `subprotocols:`
//! run against it) and the extensions agreed. Pure.

use crate::websocket::accept_key::accept_key;

/// Most request headers read.
const MAX_HEADERS: usize = 64;

/// What the server needs from an acceptable upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The path, without the query.
    pub path: String,
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// The first subprotocol offered.
    pub subprotocol: Option<String>,
    /// Every `Sec-WebSocket-Extensions` value, in order.
    pub extensions: Vec<String>,
}

/// Parse an upgrade request head; `None` when it is not one (answer 400).
pub fn parse_request(head: &[u8]) -> Option<UpgradeRequest> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(head), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    if request.method != Some("GET") {
        return None;
    }
    let target = request.path?;
    let path = target.split('?').next().unwrap_or("/").to_owned();
    let headers: &[httparse::Header<'_>] = request.headers;
    let value = |name: &'static str| values(headers, name);
    let has_token = |name: &'static str, token: &str| {
        value(name).any(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return None;
    }
    if value("sec-websocket-version").next() != Some("13") {
        return None;
    }
    let key = value("sec-websocket-key").next()?.to_owned();
    let subprotocol = value("sec-websocket-protocol")
        .next()
        .and_then(|list| list.split(',').next())
        .map(|first| first.trim().to_owned())
        .filter(|first| !first.is_empty());
    let extensions = value("sec-websocket-extensions")
        .map(str::to_owned)
        .collect();
    Some(UpgradeRequest {
        path,
        key,
        subprotocol,
        extensions,
    })
}

/// The values of header `name`, trimmed.
fn values<'a>(
    headers: &'a [httparse::Header<'a>],
    name: &'static str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |header| header.name.eq_ignore_ascii_case(name))
        .filter_map(|header| std::str::from_utf8(header.value).ok())
        .map(str::trim)
}

/// The 101 answer to `request`, agreeing to `extensions` when given.
pub fn response(request: &UpgradeRequest, extensions: Option<&str>) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        accept_key(request.key.as_bytes())
    );
    if let Some(subprotocol) = &request.subprotocol {
        head.push_str(&format!("Sec-WebSocket-Protocol: {subprotocol}\r\n"));
    }
    if let Some(agreed) = extensions {
        head.push_str(&format!("Sec-WebSocket-Extensions: {agreed}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The answer to a request that is not a WebSocket upgrade.
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "GET /room/1?x=2 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat.v1, chat.v2\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

    #[test]
    fn an_upgrade_request_is_understood_and_answered() {
        let Some(request) = parse_request(REQUEST.as_bytes()) else {
            panic!("not understood");
        };
        assert_eq!(request.path, "/room/1");
        assert_eq!(request.subprotocol.as_deref(), Some("chat.v1"));
        assert_eq!(
            request.extensions,
            vec!["permessage-deflate; client_max_window_bits".to_owned()]
        );
        let answer =
            String::from_utf8_lossy(&response(&request, Some("permessage-deflate"))).into_owned();
        assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(answer.contains("Sec-WebSocket-Protocol: chat.v1\r\n"));
        assert!(answer.contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
    }

    #[test]
    fn other_requests_are_not_upgrades() {
        let plain = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(parse_request(plain.as_bytes()), None);
        let post = REQUEST.replacen("GET", "POST", 1);
        assert_eq!(parse_request(post.as_bytes()), None);
        let old = REQUEST.replace("Version: 13", "Version: 8");
        assert_eq!(parse_request(old.as_bytes()), None);
    }
}
