//! [`Message`]: a WebSocket data message as a scenario sees it.

/// A WebSocket data message: text or binary.
///
/// ```
/// use volley_sdk::Message;
/// let m = Message::Text("hi".into());
/// assert_eq!(m.as_text(), Some("hi"));
/// assert_eq!(m.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Message {
    /// The text, when this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
        }
    }

    /// The bytes, when this is a binary message.
    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Message::Text(_) => None,
            Message::Binary(data) => Some(data),
        }
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(text) => text.len(),
            Message::Binary(data) => data.len(),
        }
    }

    /// True when the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
