//! [`Handshake`]: the server's answer to the WebSocket upgrade, as [`crate::Context::handshake`]
//! returns it.

/// The server's answer to the upgrade of this connection: status (101 once open), headers and the
/// subprotocol it chose.
///
/// ```
/// use volley_sdk::{Context, Handshake, testing::TestHost};
/// let mut host = TestHost::new().with_handshake(Handshake {
///     status: 101,
///     headers: vec![("x-region".into(), "eu-1".into())],
///     subprotocol: Some("chat.v2".into()),
/// });
/// let mut ctx = Context::new(&mut host);
/// let handshake = ctx.handshake();
/// assert_eq!(handshake.header("X-Region"), Some("eu-1"));
/// assert_eq!(handshake.subprotocol.as_deref(), Some("chat.v2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The HTTP status code (101 Switching Protocols for an open connection).
    pub status: u16,
    /// The response headers in order, names lower-case, values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    /// The subprotocol the server chose (`Sec-WebSocket-Protocol`), if any.
    pub subprotocol: Option<String>,
}

impl Handshake {
    /// The first value of header `name` (compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl Default for Handshake {
    /// A plain 101 answer with no headers and no subprotocol.
    fn default() -> Self {
        Handshake {
            status: 101,
            headers: Vec::new(),
            subprotocol: None,
        }
    }
}
