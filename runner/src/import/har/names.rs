//! The names an import makes up: file stems after a socket's host and path
//! (`chat-example-com-ws-1`), environment variable names after the host and the header or
//! parameter (`CHAT_COOKIE`), identifiers for captures and expects (`session`, `joined_2`), and
//! keeping each unique. Pure text functions; which names are needed is the caller's.

use std::collections::BTreeSet;

/// Lower-case letters and digits, every other run of characters one `-`, none at the ends.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The file stem of socket `index` (1-based): its host, port and path as a slug, at most 48
/// characters, then the index.
pub fn file_stem(host: &str, port: Option<u16>, path: &str, index: usize) -> String {
    let port = port.map(|port| format!("-{port}")).unwrap_or_default();
    let mut stem = slug(&format!("{host}{port}{path}"));
    if stem.len() > 48 {
        stem.truncate(48);
        while stem.ends_with('-') {
            stem.pop();
        }
    }
    if stem.is_empty() {
        stem.push_str("socket");
    }
    format!("{stem}-{index}")
}

/// Host labels too generic to name an application by.
const GENERIC_LABELS: &[&str] = &[
    "www", "ws", "wss", "api", "app", "socket", "sockets", "realtime", "rt", "stream", "push",
    "live", "gateway", "edge",
];

/// The prefix of a host's environment variables: its first label that names something (`chat`
/// of `chat.example.com`, `example` of `ws.example.com`), upper case; `WS` for an address.
pub fn env_prefix(host: &str) -> String {
    let label = host
        .split('.')
        .find(|label| {
            label
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && !GENERIC_LABELS.contains(&label.to_ascii_lowercase().as_str())
        })
        .unwrap_or("ws");
    env_word(label)
}

/// `PREFIX_NAME` in upper snake case (`CHAT` + `X-Api-Key` → `CHAT_X_API_KEY`).
pub fn env_name(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", env_word(name))
}

fn env_word(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("VALUE");
    }
    out
}

/// A lower snake case identifier (`roomId` → `room_id`), starting with a letter.
pub fn identifier(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    let mut previous_lower = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && previous_lower && !out.ends_with('_') {
                out.push('_');
            }
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        } else {
            previous_lower = false;
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if !out.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        out.insert_str(0, "v_");
    }
    out
}

/// Names handed out so far; each new one made unique with `_2`, `_3`, …
#[derive(Debug, Default)]
pub struct Unique {
    taken: BTreeSet<String>,
}

impl Unique {
    /// Names that are never handed out (the templates' own words).
    pub fn reserving(words: &[&str]) -> Self {
        Self {
            taken: words.iter().map(|word| (*word).to_owned()).collect(),
        }
    }

    /// `base`, or `base_2`, `base_3`… if it is taken; now taken.
    pub fn take(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut number = 2;
        while self.taken.contains(&name) {
            name = format!("{base}_{number}");
            number += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_follow_host_port_and_path() {
        assert_eq!(
            file_stem("chat.example.com", None, "/ws", 1),
            "chat-example-com-ws-1"
        );
        assert_eq!(
            file_stem("127.0.0.1", Some(9001), "/", 2),
            "127-0-0-1-9001-2"
        );
        assert_eq!(file_stem("", None, "/", 3), "socket-3");
        assert!(file_stem(&"a".repeat(100), None, "/", 1).len() <= 50);
    }

    #[test]
    fn environment_names_are_upper_snake_after_the_host() {
        assert_eq!(env_prefix("chat.example.com"), "CHAT");
        assert_eq!(env_prefix("ws.example.com"), "EXAMPLE");
        assert_eq!(env_prefix("127.0.0.1"), "WS");
        assert_eq!(env_name("CHAT", "X-Api-Key"), "CHAT_X_API_KEY");
        assert_eq!(env_name("CHAT", "access_token"), "CHAT_ACCESS_TOKEN");
    }

    #[test]
    fn identifiers_are_snake_case_and_unique() {
        assert_eq!(identifier("roomId"), "room_id");
        assert_eq!(identifier("session-token"), "session_token");
        assert_eq!(identifier("2fa"), "v_2fa");
        let mut names = Unique::reserving(&["counter"]);
        assert_eq!(names.take("counter"), "counter_2");
        assert_eq!(names.take("joined"), "joined");
        assert_eq!(names.take("joined"), "joined_2");
    }
}
