//! Socket.IO v4 (Engine.IO 4, WebSocket transport) on top of the plain [`Context`] API: the
//! Engine.IO open packet and the server's ping interval and timeout (pings are answered here),
//! connecting to a namespace, emitting events with JSON arguments, receiving events, and
//! acknowledgements timed as requests. A scenario holds one [`SocketIo`] and forwards its
//! `on_message`, `on_timer` and `on_reply_timeout` calls to it.
//!
//! What does not live here: the socket (the runner owns it), polling transports, binary
//! attachments (`BINARY_EVENT`/`BINARY_ACK` are reported as protocol errors). Each acknowledged
//! emit is a request named after its event, so the results keep one round-trip histogram per event.

use crate::{Context, LogLevel, Message};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The timer id the layer uses to notice a server that stopped pinging. Scenarios must not set
/// this id themselves; forward every timer to [`SocketIo::on_timer`], which returns `false` for
/// the scenario's own ids.
///
/// ```
/// assert_eq!(volley_sdk::socketio::WATCHDOG_TIMER, 0xFFFF_0001);
/// ```
pub const WATCHDOG_TIMER: u32 = 0xFFFF_0001;

/// The name of the check recorded as failed when a packet cannot be parsed (the reason is logged).
///
/// ```
/// assert_eq!(volley_sdk::socketio::PACKET_CHECK, "socket.io packet is valid");
/// ```
pub const PACKET_CHECK: &str = "socket.io packet is valid";

/// The name of the check recorded as failed when the server sends no ping within its ping
/// interval plus ping timeout (the layer then closes the connection).
///
/// ```
/// assert_eq!(volley_sdk::socketio::PING_CHECK, "socket.io server pings in time");
/// ```
pub const PING_CHECK: &str = "socket.io server pings in time";

/// Something the server said, as [`SocketIo::on_message`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The Engine.IO handshake: the session id and the server's ping schedule. The layer has
    /// already asked to connect to the namespace.
    Opened {
        /// The Engine.IO session id.
        sid: String,
        /// How often the server pings.
        ping_interval: Duration,
        /// How long the server waits for the pong.
        ping_timeout: Duration,
    },
    /// The namespace accepted the connection: emits may start.
    Connected {
        /// The Socket.IO session id in this namespace.
        sid: String,
    },
    /// The namespace refused the connection (e.g. an authentication middleware said no).
    ConnectError {
        /// The server's message.
        message: String,
    },
    /// The server emitted an event.
    Event {
        /// The event name.
        name: String,
        /// Its arguments.
        args: Vec<Value>,
        /// Set when the server expects an acknowledgement: answer with [`SocketIo::ack`].
        ack: Option<u64>,
    },
    /// The server acknowledged an emit made with [`SocketIo::emit_with_ack`].
    Ack {
        /// The event name of that emit, or `None` when the id matches no pending emit (its reply
        /// deadline already passed: the runner counted a reply timeout).
        name: Option<String>,
        /// The ack id.
        id: u64,
        /// The acknowledgement's arguments.
        args: Vec<Value>,
        /// The round trip from the emit to this ack, as the runner recorded it.
        round_trip: Option<Duration>,
    },
    /// The server disconnected this namespace, or closed the Engine.IO session.
    Disconnected,
}

/// A packet that is not Socket.IO v4: what was wrong and the start of the packet.
///
/// ```
/// use volley_sdk::socketio::SocketIo;
/// use volley_sdk::{Context, Message, testing::TestHost};
/// let mut host = TestHost::new();
/// let mut io = SocketIo::new("/");
/// let error = io.on_message(&mut Context::new(&mut host), &Message::Text("9".into())).unwrap_err();
/// assert_eq!(error.to_string(), "socket.io: unknown Engine.IO packet type `9` in `9`");
/// ```
pub use crate::protocol_error::ProtocolError;
use crate::protocol_error::reported;

/// This layer's name in its errors.
const PROTOCOL: &str = "socket.io";

/// One Socket.IO client on one connection, in one namespace.
///
/// The runner connects the WebSocket (target `ws://HOST:PORT/socket.io/?EIO=4&transport=websocket`);
/// the server then sends the Engine.IO open packet, to which the layer answers by connecting to the
/// namespace. Emits are allowed once [`Event::Connected`] arrived.
///
/// ```
/// use volley_sdk::socketio::{Event, SocketIo};
/// use volley_sdk::{Context, Message, Scenario, json};
/// use std::time::Duration;
///
/// struct Echo { io: SocketIo }
///
/// impl Scenario for Echo {
///     fn open(_ctx: &mut Context) -> Self {
///         Echo { io: SocketIo::new("/") }
///     }
///     fn on_message(&mut self, ctx: &mut Context, message: Message) {
///         match self.io.on_message(ctx, &message) {
///             Ok(Some(Event::Connected { .. })) => {
///                 self.io.emit_with_ack(ctx, "echo", &[json!({"n": 1})], Duration::from_secs(2));
///             }
///             Ok(Some(Event::Ack { args, .. })) => {
///                 ctx.check("echo acked with the payload", args == [json!({"n": 1})]);
///                 ctx.close(1000, "done");
///             }
///             Ok(_) => {}
///             Err(_) => ctx.close(1002, "not socket.io"), // a failed check is already recorded
///         }
///     }
///     fn on_timer(&mut self, ctx: &mut Context, timer: u32) {
///         self.io.on_timer(ctx, timer);
///     }
///     fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
///         self.io.on_reply_timeout(ctx, key);
///     }
/// }
///
/// // Natively, with the recording host:
/// use volley_sdk::testing::TestHost;
/// let mut host = TestHost::new();
/// let mut echo: Echo = host.open();
/// let open = r#"0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
/// host.message(&mut echo, Message::Text(open.into()));
/// host.message(&mut echo, Message::Text(r#"40{"sid":"s1"}"#.into()));
/// assert_eq!(host.sent_texts(), vec!["40", r#"420["echo",{"n":1}]"#]);
/// host.message(&mut echo, Message::Text(r#"430[{"n":1}]"#.into()));
/// assert_eq!(host.passed_checks(), vec!["echo acked with the payload"]);
/// ```
#[derive(Debug, Clone)]
pub struct SocketIo {
    namespace: String,
    auth: Option<Value>,
    watchdog: Option<Duration>,
    connected: bool,
    next_ack: u64,
    pending: BTreeMap<u64, String>,
}

impl SocketIo {
    /// A client for `namespace` (`"/"` is the main namespace; others start with `/`, e.g.
    /// `"/admin"`; a missing leading slash is added).
    ///
    /// ```
    /// let io = volley_sdk::socketio::SocketIo::new("admin");
    /// assert_eq!(io.namespace(), "/admin");
    /// ```
    pub fn new(namespace: &str) -> Self {
        let namespace = if namespace.starts_with('/') {
            namespace.to_owned()
        } else {
            format!("/{namespace}")
        };
        SocketIo {
            namespace,
            auth: None,
            watchdog: None,
            connected: false,
            next_ack: 0,
            pending: BTreeMap::new(),
        }
    }

    /// Send `auth` (the server's `socket.handshake.auth`) with the namespace connect.
    ///
    /// ```
    /// use volley_sdk::{Context, Message, json, socketio::SocketIo, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let mut io = SocketIo::new("/chat").with_auth(json!({"token": "t"}));
    /// let open = r#"0{"sid":"e","pingInterval":25000,"pingTimeout":20000}"#;
    /// io.on_message(&mut Context::new(&mut host), &Message::Text(open.into())).unwrap();
    /// assert_eq!(host.sent_texts(), vec![r#"40/chat,{"token":"t"}"#]);
    /// ```
    pub fn with_auth(mut self, auth: Value) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The namespace this client connects to.
    ///
    /// ```
    /// assert_eq!(volley_sdk::socketio::SocketIo::new("/").namespace(), "/");
    /// ```
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// True between [`Event::Connected`] and [`Event::Disconnected`].
    ///
    /// ```
    /// assert!(!volley_sdk::socketio::SocketIo::new("/").is_connected());
    /// ```
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Acks still awaited (emits whose ack neither arrived nor timed out).
    ///
    /// ```
    /// assert_eq!(volley_sdk::socketio::SocketIo::new("/").pending_acks(), 0);
    /// ```
    pub fn pending_acks(&self) -> usize {
        self.pending.len()
    }

    /// `"/admin,"` for a custom namespace, `""` for the main one (its prefix is implicit).
    fn prefix(&self) -> String {
        if self.namespace == "/" {
            String::new()
        } else {
            format!("{},", self.namespace)
        }
    }

    /// Emit `event` with JSON `args`, without an acknowledgement.
    ///
    /// ```
    /// use volley_sdk::{Context, json, socketio::SocketIo, testing::TestHost};
    /// let mut host = TestHost::new();
    /// SocketIo::new("/").emit(&mut Context::new(&mut host), "chat", &[json!("hi"), json!(2)]);
    /// assert_eq!(host.sent_texts(), vec![r#"42["chat","hi",2]"#]);
    /// ```
    pub fn emit(&mut self, ctx: &mut Context, event: &str, args: &[Value]) {
        let packet = format!("42{}{}", self.prefix(), event_array(event, args));
        ctx.send_text(&packet);
    }

    /// Emit `event` with JSON `args` and ask for an acknowledgement: a timed, named request. The
    /// runner times it from the emit to the ack; without an ack within `timeout` it counts a reply
    /// timeout and [`SocketIo::on_reply_timeout`] reports it. The request key is `EVENT#ID` (see
    /// [`request_key`]). Returns the ack id.
    ///
    /// ```
    /// use volley_sdk::{Context, json, socketio::SocketIo, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// let mut io = SocketIo::new("/");
    /// let id = io.emit_with_ack(&mut Context::new(&mut host), "echo", &[json!(7)], Duration::from_secs(1));
    /// assert_eq!(id, 0);
    /// assert_eq!(host.sent_texts(), vec![r#"420["echo",7]"#]);
    /// assert!(host.pending.contains_key("echo#0"));
    /// ```
    pub fn emit_with_ack(
        &mut self,
        ctx: &mut Context,
        event: &str,
        args: &[Value],
        timeout: Duration,
    ) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        let packet = format!("42{}{id}{}", self.prefix(), event_array(event, args));
        ctx.named_request_text(event, &request_key(event, id), &packet, timeout);
        self.pending.insert(id, event.to_owned());
        id
    }

    /// Answer an event the server emitted with an ack id ([`Event::Event`]'s `ack`).
    ///
    /// ```
    /// use volley_sdk::{Context, json, socketio::SocketIo, testing::TestHost};
    /// let mut host = TestHost::new();
    /// SocketIo::new("/").ack(&mut Context::new(&mut host), 12, &[json!("ok")]);
    /// assert_eq!(host.sent_texts(), vec![r#"4312["ok"]"#]);
    /// ```
    pub fn ack(&mut self, ctx: &mut Context, id: u64, args: &[Value]) {
        let packet = format!("43{}{id}{}", self.prefix(), Value::Array(args.to_vec()));
        ctx.send_text(&packet);
    }

    /// Leave the namespace (a Socket.IO `DISCONNECT` packet); the WebSocket stays open.
    ///
    /// ```
    /// use volley_sdk::{Context, socketio::SocketIo, testing::TestHost};
    /// let mut host = TestHost::new();
    /// SocketIo::new("/").disconnect(&mut Context::new(&mut host));
    /// assert_eq!(host.sent_texts(), vec!["41"]);
    /// ```
    pub fn disconnect(&mut self, ctx: &mut Context) {
        let packet = format!("41{}", self.prefix());
        ctx.send_text(&packet);
        self.connected = false;
    }

    /// Handle one WebSocket message. Pings are answered and Engine.IO noops dropped (`Ok(None)`);
    /// everything else the scenario may care about is returned as an [`Event`]. A packet that is
    /// not Socket.IO v4 records the check [`PACKET_CHECK`] as failed, logs the reason, and is
    /// returned as a [`ProtocolError`]; it never panics.
    ///
    /// ```
    /// use volley_sdk::{Context, Message, socketio::SocketIo, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let mut io = SocketIo::new("/");
    /// assert_eq!(io.on_message(&mut Context::new(&mut host), &Message::Text("2".into())), Ok(None));
    /// assert_eq!(host.sent_texts(), vec!["3"]); // the pong
    /// let broken = io.on_message(&mut Context::new(&mut host), &Message::Text("42[oops".into()));
    /// assert!(broken.is_err());
    /// assert_eq!(host.failed_checks(), vec!["socket.io packet is valid"]);
    /// ```
    pub fn on_message(
        &mut self,
        ctx: &mut Context,
        message: &Message,
    ) -> Result<Option<Event>, ProtocolError> {
        let layer = (
            PROTOCOL,
            PACKET_CHECK,
            "binary attachments are not supported",
        );
        reported(ctx, message, layer, |ctx, text| {
            self.engine_packet(ctx, text)
        })
    }

    /// Handle a timer: returns `true` when it was the layer's [`WATCHDOG_TIMER`] (the server sent no
    /// ping within its interval plus timeout: the check [`PING_CHECK`] fails and the connection
    /// closes), `false` for the scenario's own timers.
    ///
    /// ```
    /// use volley_sdk::{Context, socketio::SocketIo, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let mut io = SocketIo::new("/");
    /// assert!(!io.on_timer(&mut Context::new(&mut host), 0));
    /// ```
    pub fn on_timer(&mut self, ctx: &mut Context, timer: u32) -> bool {
        if timer != WATCHDOG_TIMER {
            return false;
        }
        ctx.check(PING_CHECK, false);
        ctx.log(
            LogLevel::Warn,
            "socket.io: no ping from the server within pingInterval + pingTimeout; closing",
        );
        ctx.close(1000, "socket.io ping timeout");
        true
    }

    /// Handle a reply timeout: returns the event name and ack id when `key` was one of this
    /// client's acks (the runner already counted the timeout), `None` for the scenario's own keys.
    ///
    /// ```
    /// use volley_sdk::{Context, json, socketio::SocketIo, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// let mut io = SocketIo::new("/");
    /// io.emit_with_ack(&mut Context::new(&mut host), "echo", &[json!(1)], Duration::from_secs(1));
    /// let timed_out = io.on_reply_timeout(&mut Context::new(&mut host), "echo#0");
    /// assert_eq!(timed_out, Some(("echo".to_owned(), 0)));
    /// assert_eq!(io.pending_acks(), 0);
    /// ```
    pub fn on_reply_timeout(&mut self, _ctx: &mut Context, key: &str) -> Option<(String, u64)> {
        let (name, id) = key.rsplit_once('#')?;
        let id: u64 = id.parse().ok()?;
        if self.pending.get(&id).map(String::as_str) != Some(name) {
            return None;
        }
        self.pending.remove(&id);
        Some((name.to_owned(), id))
    }

    fn arm_watchdog(&self, ctx: &mut Context) {
        if let Some(deadline) = self.watchdog {
            ctx.set_timer(WATCHDOG_TIMER, deadline);
        }
    }

    fn engine_packet(
        &mut self,
        ctx: &mut Context,
        text: &str,
    ) -> Result<Option<Event>, ProtocolError> {
        let mut chars = text.chars();
        let Some(kind) = chars.next() else {
            return Err(ProtocolError::new(PROTOCOL, "empty packet", text));
        };
        let body = chars.as_str();
        match kind {
            '0' => self.opened(ctx, text, body).map(Some),
            '1' => {
                self.connected = false;
                ctx.cancel_timer(WATCHDOG_TIMER);
                Ok(Some(Event::Disconnected))
            }
            '2' => {
                ctx.send_text(&format!("3{body}"));
                self.arm_watchdog(ctx);
                Ok(None)
            }
            '3' | '6' => Ok(None),
            '4' => self.socket_packet(ctx, text, body),
            '5' => Err(ProtocolError::new(
                PROTOCOL,
                "transport upgrade packets are not expected on a WebSocket-only session",
                text,
            )),
            other => Err(ProtocolError::new(
                PROTOCOL,
                format!("unknown Engine.IO packet type `{other}`"),
                text,
            )),
        }
    }

    fn opened(
        &mut self,
        ctx: &mut Context,
        text: &str,
        body: &str,
    ) -> Result<Event, ProtocolError> {
        let handshake: Value = serde_json::from_str(body).map_err(|error| {
            ProtocolError::new(PROTOCOL, format!("open packet is not JSON ({error})"), text)
        })?;
        let sid = handshake
            .get("sid")
            .and_then(Value::as_str)
            .ok_or_else(|| ProtocolError::new(PROTOCOL, "open packet has no string `sid`", text))?
            .to_owned();
        let millis = |field: &str| {
            handshake
                .get(field)
                .and_then(Value::as_u64)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    ProtocolError::new(
                        PROTOCOL,
                        format!("open packet has no numeric `{field}`"),
                        text,
                    )
                })
        };
        let ping_interval = millis("pingInterval")?;
        let ping_timeout = millis("pingTimeout")?;
        self.watchdog = Some(ping_interval + ping_timeout);
        self.arm_watchdog(ctx);
        let connect = match &self.auth {
            Some(auth) => format!("40{}{auth}", self.prefix()),
            None => format!("40{}", self.prefix()),
        };
        ctx.send_text(&connect);
        Ok(Event::Opened {
            sid,
            ping_interval,
            ping_timeout,
        })
    }

    fn socket_packet(
        &mut self,
        ctx: &mut Context,
        text: &str,
        body: &str,
    ) -> Result<Option<Event>, ProtocolError> {
        let mut chars = body.chars();
        let Some(kind) = chars.next() else {
            return Err(ProtocolError::new(
                PROTOCOL,
                "message packet without a Socket.IO packet type",
                text,
            ));
        };
        let mut rest = chars.as_str();
        // Namespace: `/name,` unless it is the main namespace.
        let namespace = match rest.strip_prefix('/') {
            Some(after) => {
                let (name, after) = after.split_once(',').unwrap_or((after, ""));
                rest = after;
                format!("/{name}")
            }
            None => "/".to_owned(),
        };
        if namespace != self.namespace {
            return Err(ProtocolError::new(
                PROTOCOL,
                format!(
                    "packet for namespace `{namespace}`, this client is in `{}`",
                    self.namespace
                ),
                text,
            ));
        }
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (id, payload) = rest.split_at(digits);
        let id = if id.is_empty() {
            None
        } else {
            Some(id.parse::<u64>().map_err(|_| {
                ProtocolError::new(PROTOCOL, format!("ack id `{id}` is too large"), text)
            })?)
        };
        let json = |what: &str| -> Result<Value, ProtocolError> {
            serde_json::from_str(payload).map_err(|error| {
                ProtocolError::new(
                    PROTOCOL,
                    format!("{what} payload is not JSON ({error})"),
                    text,
                )
            })
        };
        match kind {
            '0' => {
                let sid = json("CONNECT")?
                    .get("sid")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ProtocolError::new(PROTOCOL, "CONNECT has no string `sid`", text)
                    })?
                    .to_owned();
                self.connected = true;
                Ok(Some(Event::Connected { sid }))
            }
            '1' => {
                self.connected = false;
                Ok(Some(Event::Disconnected))
            }
            '2' => {
                let Value::Array(mut args) = json("EVENT")? else {
                    return Err(ProtocolError::new(
                        PROTOCOL,
                        "EVENT payload is not an array",
                        text,
                    ));
                };
                if args.is_empty() {
                    return Err(ProtocolError::new(
                        PROTOCOL,
                        "EVENT has no event name",
                        text,
                    ));
                }
                let Value::String(name) = args.remove(0) else {
                    return Err(ProtocolError::new(
                        PROTOCOL,
                        "EVENT name is not a string",
                        text,
                    ));
                };
                Ok(Some(Event::Event {
                    name,
                    args,
                    ack: id,
                }))
            }
            '3' => {
                let Some(id) = id else {
                    return Err(ProtocolError::new(PROTOCOL, "ACK without an id", text));
                };
                let Value::Array(args) = json("ACK")? else {
                    return Err(ProtocolError::new(
                        PROTOCOL,
                        "ACK payload is not an array",
                        text,
                    ));
                };
                let name = self.pending.remove(&id);
                let round_trip = match &name {
                    Some(name) => ctx.complete(&request_key(name, id)),
                    None => None,
                };
                Ok(Some(Event::Ack {
                    name,
                    id,
                    args,
                    round_trip,
                }))
            }
            '4' => {
                let payload = json("CONNECT_ERROR")?;
                let message = match payload.get("message").and_then(Value::as_str) {
                    Some(message) => message.to_owned(),
                    None => payload.to_string(),
                };
                self.connected = false;
                Ok(Some(Event::ConnectError { message }))
            }
            '5' | '6' => Err(ProtocolError::new(
                PROTOCOL,
                "binary attachments are not supported",
                text,
            )),
            other => Err(ProtocolError::new(
                PROTOCOL,
                format!("unknown Socket.IO packet type `{other}`"),
                text,
            )),
        }
    }
}

/// The request key of an emit with an ack: `EVENT#ID`. The runner's reply timeouts and
/// [`Context::complete`] use it; the request's name (its histogram) is the event.
///
/// ```
/// assert_eq!(volley_sdk::socketio::request_key("echo", 3), "echo#3");
/// ```
pub fn request_key(event: &str, id: u64) -> String {
    format!("{event}#{id}")
}

fn event_array(event: &str, args: &[Value]) -> Value {
    let mut array = Vec::with_capacity(args.len() + 1);
    array.push(Value::String(event.to_owned()));
    array.extend_from_slice(args);
    Value::Array(array)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Action, TestHost};
    use serde_json::json;

    const OPEN: &str =
        r#"0{"sid":"eio1","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1e6}"#;

    fn feed(
        io: &mut SocketIo,
        host: &mut TestHost,
        text: &str,
    ) -> Result<Option<Event>, ProtocolError> {
        io.on_message(&mut Context::new(host), &Message::Text(text.into()))
    }

    #[test]
    fn open_packet_connects_to_the_namespace_and_arms_the_watchdog() {
        let mut host = TestHost::new();
        let mut io = SocketIo::new("/admin");
        let event = feed(&mut io, &mut host, OPEN);
        assert_eq!(
            event,
            Ok(Some(Event::Opened {
                sid: "eio1".into(),
                ping_interval: Duration::from_millis(300),
                ping_timeout: Duration::from_millis(200),
            }))
        );
        assert_eq!(host.sent_texts(), vec!["40/admin,"]);
        assert!(host.actions.contains(&Action::SetTimer(
            WATCHDOG_TIMER,
            Duration::from_millis(500)
        )));
        let connected = feed(&mut io, &mut host, r#"40/admin,{"sid":"abc"}"#);
        assert_eq!(connected, Ok(Some(Event::Connected { sid: "abc".into() })));
        assert!(io.is_connected());
    }

    #[test]
    fn pings_are_answered_and_rearm_the_watchdog() {
        let mut host = TestHost::new();
        let mut io = SocketIo::new("/");
        feed(&mut io, &mut host, OPEN).ok();
        host.actions.clear();
        assert_eq!(feed(&mut io, &mut host, "2"), Ok(None));
        assert_eq!(host.sent_texts(), vec!["3"]);
        assert!(host.actions.contains(&Action::SetTimer(
            WATCHDOG_TIMER,
            Duration::from_millis(500)
        )));
    }

    #[test]
    fn a_silent_server_fails_the_ping_check_and_closes() {
        let mut host = TestHost::new();
        let mut io = SocketIo::new("/");
        assert!(io.on_timer(&mut Context::new(&mut host), WATCHDOG_TIMER));
        assert_eq!(host.failed_checks(), vec![PING_CHECK]);
        assert!(
            host.actions
                .iter()
                .any(|action| matches!(action, Action::Close(1000, _)))
        );
    }

    #[test]
    fn acks_complete_their_named_request() {
        let mut host = TestHost::new();
        let mut io = SocketIo::new("/");
        let mut ctx = Context::new(&mut host);
        let first = io.emit_with_ack(&mut ctx, "echo", &[json!({"a": 1})], Duration::from_secs(1));
        let second = io.emit_with_ack(&mut ctx, "echo", &[json!({"a": 2})], Duration::from_secs(1));
        assert_eq!((first, second), (0, 1));
        host.now = Duration::from_millis(7);
        let acked = feed(&mut io, &mut host, r#"431[{"a":2}]"#);
        assert_eq!(
            acked,
            Ok(Some(Event::Ack {
                name: Some("echo".into()),
                id: 1,
                args: vec![json!({"a": 2})],
                round_trip: Some(Duration::from_millis(7)),
            }))
        );
        assert_eq!(io.pending_acks(), 1);
        assert!(host.pending.contains_key("echo#0"));
    }

    #[test]
    fn a_late_ack_has_no_name_and_no_round_trip() {
        let mut host = TestHost::new();
        let mut io = SocketIo::new("/");
        io.emit_with_ack(
            &mut Context::new(&mut host),
            "echo",
            &[],
            Duration::from_secs(1),
        );
        host.reply_timeout(&mut Quiet, "echo#0");
        assert_eq!(
            io.on_reply_timeout(&mut Context::new(&mut host), "echo#0"),
            Some(("echo".into(), 0))
        );
        assert_eq!(
            io.on_reply_timeout(&mut Context::new(&mut host), "mine"),
            None
        );
        let late = feed(&mut io, &mut host, "430[]");
        assert_eq!(
            late,
            Ok(Some(Event::Ack {
                name: None,
                id: 0,
                args: vec![],
                round_trip: None
            }))
        );
    }

    struct Quiet;
    impl crate::Scenario for Quiet {
        fn open(_ctx: &mut Context) -> Self {
            Quiet
        }
    }

    #[test]
    fn server_events_with_and_without_ack_ids() {
        let mut host = TestHost::new();
        let mut io = SocketIo::new("/");
        assert_eq!(
            feed(&mut io, &mut host, r#"42["news",{"x":1},2]"#),
            Ok(Some(Event::Event {
                name: "news".into(),
                args: vec![json!({"x": 1}), json!(2)],
                ack: None
            }))
        );
        assert_eq!(
            feed(&mut io, &mut host, r#"4217["question"]"#),
            Ok(Some(Event::Event {
                name: "question".into(),
                args: vec![],
                ack: Some(17)
            }))
        );
    }

    #[test]
    fn connect_errors_and_disconnects_are_reported() {
        let mut host = TestHost::new();
        let mut io = SocketIo::new("/");
        assert_eq!(
            feed(&mut io, &mut host, r#"44{"message":"not authorized"}"#),
            Ok(Some(Event::ConnectError {
                message: "not authorized".into()
            }))
        );
        assert_eq!(
            feed(&mut io, &mut host, "41"),
            Ok(Some(Event::Disconnected))
        );
        assert_eq!(feed(&mut io, &mut host, "1"), Ok(Some(Event::Disconnected)));
    }

    #[test]
    fn malformed_packets_are_failed_checks_with_reasons_never_panics() {
        let cases: &[(&str, &str)] = &[
            ("", "empty packet"),
            ("x", "unknown Engine.IO packet type `x`"),
            ("0{", "open packet is not JSON"),
            (r#"0{"sid":1}"#, "open packet has no string `sid`"),
            (
                r#"0{"sid":"a","pingInterval":"x"}"#,
                "open packet has no numeric `pingInterval`",
            ),
            ("4", "message packet without a Socket.IO packet type"),
            ("42", "EVENT payload is not JSON"),
            ("42{}", "EVENT payload is not an array"),
            ("42[]", "EVENT has no event name"),
            ("42[1]", "EVENT name is not a string"),
            ("43[]", "ACK without an id"),
            ("431{}", "ACK payload is not an array"),
            (
                "4399999999999999999999[]",
                "ack id `99999999999999999999` is too large",
            ),
            ("40", "CONNECT payload is not JSON"),
            ("40{}", "CONNECT has no string `sid`"),
            (
                r#"42/other,["x"]"#,
                "packet for namespace `/other`, this client is in `/`",
            ),
            ("451-[\"x\"]", "binary attachments are not supported"),
            ("49", "unknown Socket.IO packet type `9`"),
            ("5", "transport upgrade packets are not expected"),
            ("4é", "unknown Socket.IO packet type `é`"),
        ];
        for (packet, reason) in cases {
            let mut host = TestHost::new();
            let mut io = SocketIo::new("/");
            let error = match feed(&mut io, &mut host, packet) {
                Err(error) => error,
                Ok(event) => panic!("`{packet}` parsed as {event:?}"),
            };
            assert!(
                error.reason().starts_with(reason),
                "`{packet}`: `{}` does not start with `{reason}`",
                error.reason()
            );
            assert_eq!(host.failed_checks(), vec![PACKET_CHECK], "`{packet}`");
        }
        let mut host = TestHost::new();
        let binary = SocketIo::new("/")
            .on_message(&mut Context::new(&mut host), &Message::Binary(vec![1, 2]));
        assert_eq!(
            binary.map_err(|error| error.to_string()),
            Err("socket.io: binary attachments are not supported in `<2 bytes>`".into())
        );
    }

    #[test]
    fn long_packets_are_shortened_in_errors() {
        let long = format!("x{}", "y".repeat(500));
        let error = ProtocolError::new(PROTOCOL, "bad", &long);
        assert!(error.to_string().len() < 200);
        assert!(error.to_string().ends_with("…`"));
    }
}
