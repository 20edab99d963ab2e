//! [`ProtocolError`]: what a protocol layer (`socketio`, `graphql`) returns for a message that is not
//! its protocol. One type for every layer, so a scenario handles them alike; [`reported`] records
//! the failed check and log line every layer owes for one. Parsing lives in the layers, not here.

use crate::{Context, LogLevel, Message};
use std::fmt;

/// Parse `message` with `parse_text` (a binary message is `binary`'s error, with its size), and
/// count an error as a failed check named `check`, logged as a warning; the result is passed on.
pub(crate) fn reported<T>(
    ctx: &mut Context,
    message: &Message,
    (protocol, check, binary): (&'static str, &str, &str),
    parse_text: impl FnOnce(&mut Context, &str) -> Result<T, ProtocolError>,
) -> Result<T, ProtocolError> {
    let result = match message {
        Message::Text(text) => parse_text(ctx, text),
        Message::Binary(data) => Err(ProtocolError::new(
            protocol,
            binary,
            &format!("<{} bytes>", data.len()),
        )),
    };
    if let Err(error) = &result {
        ctx.check(check, false);
        ctx.log(LogLevel::Warn, &error.to_string());
    }
    result
}

/// A message that is not the protocol: which layer, what was wrong, and the start of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    protocol: &'static str,
    reason: String,
    input: String,
}

impl ProtocolError {
    /// `reason` found in `input` by `protocol`; the input is kept up to 120 characters.
    pub(crate) fn new(protocol: &'static str, reason: impl Into<String>, input: &str) -> Self {
        const SHOWN: usize = 120;
        let mut shown: String = input.chars().take(SHOWN).collect();
        if input.chars().nth(SHOWN).is_some() {
            shown.push('…');
        }
        ProtocolError {
            protocol,
            reason: reason.into(),
            input: shown,
        }
    }

    /// What was wrong, without the message.
    ///
    /// ```
    /// use volley_sdk::socketio::SocketIo;
    /// use volley_sdk::{Context, Message, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let error = SocketIo::new("/")
    ///     .on_message(&mut Context::new(&mut host), &Message::Text(String::new()))
    ///     .unwrap_err();
    /// assert_eq!(error.reason(), "empty packet");
    /// ```
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} in `{}`", self.protocol, self.reason, self.input)
    }
}

impl std::error::Error for ProtocolError {}
