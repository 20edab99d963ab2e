//! Secrets found in a recording and the environment variables that stand for them: which header,
//! query parameter or JSON field names look like credentials (`Cookie`, `Authorization`, names
//! with token, auth, key, secret, …), and the [`Variables`] of one import (`CHAT_COOKIE` and
//! where it came from). A value is held in memory only, to reuse its variable and to check that no
//! output carries it; it is never written and never printed (no `Debug` shows it). Replacing the
//! values in the text is the callers' (`handshake`, `socket_flow`).

/// Whether a header, parameter or field named `name` probably carries a credential.
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    const PARTS: &[&str] = &[
        "cookie",
        "token",
        "secret",
        "password",
        "passwd",
        "auth",
        "key",
        "jwt",
        "signature",
        "credential",
        "session",
    ];
    const WHOLE: &[&str] = &["sig", "pwd", "pass", "ticket"];
    let author = name == "author" || name.starts_with("author_") || name == "authors";
    (PARTS.iter().any(|part| name.contains(part)) && !author) || WHOLE.contains(&name.as_str())
}

/// One environment variable of the import.
pub struct Variable {
    /// `CHAT_COOKIE`.
    pub name: String,
    /// Where its value was found, each once (`the Cookie header of chat-example-com-ws-1.yaml`).
    pub sources: Vec<String>,
    /// The recorded value: never written out.
    value: String,
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Variable({}, {:?})", self.name, self.sources)
    }
}

/// The environment variables of one import, in the order they were found.
#[derive(Debug, Default)]
pub struct Variables {
    list: Vec<Variable>,
}

impl Variables {
    /// The variable for `value`: the one already made for the same value, else a new one named
    /// `name` (made unique with `_2`…). `source` is added to where it was found.
    pub fn variable_for(&mut self, name: &str, value: &str, source: String) -> String {
        if let Some(known) = self.list.iter_mut().find(|known| known.value == value) {
            if !known.sources.contains(&source) {
                known.sources.push(source);
            }
            return known.name.clone();
        }
        let mut unique = name.to_owned();
        let mut number = 2;
        while self.list.iter().any(|known| known.name == unique) {
            unique = format!("{name}_{number}");
            number += 1;
        }
        self.list.push(Variable {
            name: unique.clone(),
            sources: vec![source],
            value: value.to_owned(),
        });
        unique
    }

    /// Every variable, in the order found.
    pub fn list(&self) -> &[Variable] {
        &self.list
    }

    /// The values worth searching text for (`at_least` characters or more) with their names,
    /// longest first so a value containing another is replaced whole.
    pub fn values(&self, at_least: usize) -> Vec<(&str, &str)> {
        let mut values: Vec<(&str, &str)> = self
            .list
            .iter()
            .filter(|variable| variable.value.chars().count() >= at_least)
            .map(|variable| (variable.value.as_str(), variable.name.as_str()))
            .collect();
        values.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_look_secret_and_others_do_not() {
        for name in [
            "Cookie",
            "Authorization",
            "X-Api-Key",
            "access_token",
            "auth",
            "sig",
            "client_secret",
            "sessionId",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["User-Agent", "Origin", "room", "author", "type", "design"] {
            assert!(!looks_secret(name), "{name}");
        }
    }

    #[test]
    fn one_variable_per_value_and_names_made_unique() {
        let mut variables = Variables::default();
        let cookie = variables.variable_for("CHAT_COOKIE", "sid=1", "the Cookie header".into());
        let again = variables.variable_for("OTHER", "sid=1", "socket 2".into());
        let other = variables.variable_for("CHAT_COOKIE", "sid=2", "socket 3".into());
        assert_eq!(
            (cookie.as_str(), again.as_str()),
            ("CHAT_COOKIE", "CHAT_COOKIE")
        );
        assert_eq!(other, "CHAT_COOKIE_2");
        assert_eq!(variables.list()[0].sources.len(), 2);
        assert!(!format!("{:?}", variables).contains("sid=1"));
        assert_eq!(variables.values(6), Vec::<(&str, &str)>::new());
        assert_eq!(variables.values(5)[0].1, "CHAT_COOKIE");
    }
}
