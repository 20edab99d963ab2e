//! A recorded upgrade request turned into the top of a flow file: the `target` (`ws://`/`wss://`,
//! also when the HAR recorded the upgrade as `http(s)://`), `subprotocols` from
//! `Sec-WebSocket-Protocol`, and the headers worth sending again. Headers the runner writes itself
//! or that only concern the recording browser (Host, Connection, Upgrade, the `Sec-WebSocket-*`
//! ones, Accept-Encoding, Pragma, Cache-Control, HTTP/2 pseudo-headers, client hints) are dropped;
//! credentials (Cookie, Authorization, names with token, auth, key, secret…) and query parameters
//! like `token=` or `sig=` become `${VARIABLE}` placeholders (`secrets`). The frames are not here.

use super::names;
use super::secrets::{Variables, looks_secret};
use crate::import::flow::{Piece, Template};

/// The top of one socket's flow file.
#[derive(Debug)]
pub struct Handshake {
    pub target: Template,
    pub headers: Vec<(String, Template)>,
    pub subprotocols: Vec<String>,
    /// Header names left out, for the README.
    pub dropped: Vec<String>,
    pub host: String,
}

/// Headers the runner sets itself or that describe the recording browser's connection.
const DROPPED: &[&str] = &[
    "host",
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "accept-encoding",
    "pragma",
    "cache-control",
    "content-length",
];

/// Read the upgrade request of the socket whose file is `file` (named in the variables' sources).
/// An error (a sentence) when the URL cannot be a WebSocket target.
pub fn handshake(
    url: &str,
    headers: &[(String, String)],
    file: &str,
    variables: &mut Variables,
) -> Result<Handshake, String> {
    let mut parsed =
        url::Url::parse(url).map_err(|error| format!("the URL `{url}` does not parse: {error}"))?;
    let scheme = match parsed.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => return Err(format!("the URL's scheme `{other}` is not a WebSocket's")),
    };
    let host = parsed.host_str().unwrap_or_default().to_owned();
    if host.is_empty() {
        return Err(format!("the URL `{url}` has no host"));
    }
    let prefix = names::env_prefix(&host);
    let query = parsed.query().map(str::to_owned);
    parsed.set_query(None);
    parsed.set_fragment(None);
    if parsed.set_scheme(scheme).is_err() {
        return Err(format!("the URL `{url}` cannot be made {scheme}://"));
    }
    let mut target = vec![Piece::Literal(parsed.as_str().to_owned())];
    if let Some(query) = query {
        target.push(Piece::Literal("?".to_owned()));
        for (number, pair) in query.split('&').enumerate() {
            if number > 0 {
                target.push(Piece::Literal("&".to_owned()));
            }
            match pair.split_once('=') {
                Some((name, value)) if looks_secret(name) && !value.is_empty() => {
                    let variable = variables.variable_for(
                        &names::env_name(&prefix, name),
                        value,
                        format!("the `{name}` query parameter of {file}'s target"),
                    );
                    target.push(Piece::Literal(format!("{name}=")));
                    target.push(Piece::Placeholder(format!("${{{variable}}}")));
                }
                _ => target.push(Piece::Literal(pair.to_owned())),
            }
        }
    }
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    let mut subprotocols = Vec::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if lower == "sec-websocket-protocol" {
            subprotocols.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|protocol| !protocol.is_empty())
                    .map(str::to_owned),
            );
        }
        if lower.starts_with(':')
            || lower.starts_with("sec-ch-")
            || DROPPED.contains(&lower.as_str())
        {
            if !dropped.contains(name) {
                dropped.push(name.clone());
            }
            continue;
        }
        if kept
            .iter()
            .any(|(known, _): &(String, Template)| known.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let value = if looks_secret(name) {
            let variable = variables.variable_for(
                &names::env_name(&prefix, name),
                value,
                format!("the {name} header of {file}"),
            );
            Template::placeholder(&format!("${{{variable}}}"))
        } else {
            Template::literal(value)
        };
        kept.push((name.clone(), value));
    }
    Ok(Handshake {
        target: Template { pieces: target },
        headers: kept,
        subprotocols,
        dropped,
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn credentials_become_variables_and_handshake_headers_go() {
        let mut variables = Variables::default();
        let handshake = handshake(
            "https://chat.example.com:8443/ws?room=1&access_token=s3cr3t-token#x",
            &pairs(&[
                ("Host", "chat.example.com"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Key", "abc"),
                ("Sec-WebSocket-Protocol", "chat.v2, chat.v1"),
                ("Cookie", "sid=cookie-value"),
                ("Authorization", "Bearer xyz"),
                ("Origin", "https://chat.example.com"),
                (":authority", "chat.example.com"),
            ]),
            "chat.yaml",
            &mut variables,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            handshake.target.plain(),
            "wss://chat.example.com:8443/ws?room=1&access_token=${CHAT_ACCESS_TOKEN}"
        );
        assert_eq!(handshake.subprotocols, vec!["chat.v2", "chat.v1"]);
        let headers: Vec<(String, String)> = handshake
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.plain()))
            .collect();
        assert_eq!(
            headers,
            pairs(&[
                ("Cookie", "${CHAT_COOKIE}"),
                ("Authorization", "${CHAT_AUTHORIZATION}"),
                ("Origin", "https://chat.example.com"),
            ])
        );
        assert_eq!(handshake.dropped.len(), 5);
        assert_eq!(handshake.host, "chat.example.com");
        let names: Vec<&str> = variables.list().iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["CHAT_ACCESS_TOKEN", "CHAT_COOKIE", "CHAT_AUTHORIZATION"]
        );
        assert!(variables.list()[1].sources[0].contains("Cookie header of chat.yaml"));
    }

    #[test]
    fn a_url_that_is_not_a_websocket_is_refused() {
        let mut variables = Variables::default();
        assert!(handshake("ftp://x/", &[], "f", &mut variables).is_err());
        assert!(handshake("not a url", &[], "f", &mut variables).is_err());
    }
}
