//! [`Stomp`]: one STOMP 1.2 client on one WebSocket connection, on top of the plain
//! [`Context`] API. CONNECT and CONNECTED (timed as the request [`CONNECT_REQUEST`]) with
//! heart-beat negotiation (the layer sends its heart-beats on [`HEART_BEAT_TIMER`] and watches the
//! broker's on [`WATCHDOG_TIMER`]), SUBSCRIBE, SEND, MESSAGE, ACK and NACK, receipts timed as named
//! requests, ERROR frames as failed checks carrying the broker's `message`, DISCONNECT with a
//! receipt. A scenario holds one [`Stomp`] and forwards its `on_message`, `on_timer` and
//! `on_reply_timeout` calls to it.
//!
//! What does not live here: the bytes of a frame ([`super::frame`]), the socket (the runner owns
//! it), transactions (BEGIN, COMMIT, ABORT can still be sent with [`Stomp::send_frame`]).

use super::frame::{Command, Frame, FrameError, FrameReader};
use crate::protocol_error::ProtocolError;
use crate::{Context, LogLevel, Message};
use std::collections::BTreeMap;
use std::time::Duration;

/// The WebSocket subprotocol of STOMP 1.2 (`subprotocols: [v12.stomp]` in the scenario file).
///
/// ```
/// assert_eq!(volley_sdk::stomp::SUBPROTOCOL, "v12.stomp");
/// ```
pub const SUBPROTOCOL: &str = "v12.stomp";

/// The timer id on which the layer sends its heart-beats. Scenarios must not set it themselves;
/// forward every timer to [`Stomp::on_timer`], which returns `false` for the scenario's own ids.
///
/// ```
/// assert_eq!(volley_sdk::stomp::HEART_BEAT_TIMER, 0xFFFF_0201);
/// ```
pub const HEART_BEAT_TIMER: u32 = 0xFFFF_0201;

/// The timer id on which the layer notices a broker that stopped sending (no frame and no
/// heart-beat within twice the negotiated interval).
///
/// ```
/// assert_eq!(volley_sdk::stomp::WATCHDOG_TIMER, 0xFFFF_0202);
/// ```
pub const WATCHDOG_TIMER: u32 = 0xFFFF_0202;

/// The check recorded as failed when a message is not STOMP 1.2 (the reason is logged).
///
/// ```
/// assert_eq!(volley_sdk::stomp::FRAME_CHECK, "stomp frame is valid");
/// ```
pub const FRAME_CHECK: &str = "stomp frame is valid";

/// The check recorded as failed when the broker sends nothing within twice its heart-beat interval
/// (the layer then closes the connection).
///
/// ```
/// assert_eq!(volley_sdk::stomp::HEART_BEAT_CHECK, "stomp broker heart-beats in time");
/// ```
pub const HEART_BEAT_CHECK: &str = "stomp broker heart-beats in time";

/// An ERROR frame is a failed check named this prefix followed by the broker's `message` header
/// (at most 120 characters), so the results show what the broker said.
///
/// ```
/// assert_eq!(volley_sdk::stomp::ERROR_CHECK_PREFIX, "stomp ERROR: ");
/// ```
pub const ERROR_CHECK_PREFIX: &str = "stomp ERROR: ";

/// The request name of CONNECT, timed until CONNECTED.
///
/// ```
/// assert_eq!(volley_sdk::stomp::CONNECT_REQUEST, "stomp connect");
/// ```
pub const CONNECT_REQUEST: &str = "stomp connect";

/// The request name of a SEND with a receipt, timed until its RECEIPT.
///
/// ```
/// assert_eq!(volley_sdk::stomp::RECEIPT_REQUEST, "stomp receipt");
/// ```
pub const RECEIPT_REQUEST: &str = "stomp receipt";

/// The request name of a SUBSCRIBE with a receipt, timed until its RECEIPT.
///
/// ```
/// assert_eq!(volley_sdk::stomp::SUBSCRIBE_REQUEST, "stomp subscribe");
/// ```
pub const SUBSCRIBE_REQUEST: &str = "stomp subscribe";

/// The request name of DISCONNECT, timed until its RECEIPT.
///
/// ```
/// assert_eq!(volley_sdk::stomp::DISCONNECT_REQUEST, "stomp disconnect");
/// ```
pub const DISCONNECT_REQUEST: &str = "stomp disconnect";

/// The request key of CONNECT (one per connection).
const CONNECT_KEY: &str = "stomp-connect";

/// This layer's name in its errors.
const PROTOCOL: &str = "stomp";

/// How the broker expects deliveries of a subscription to be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// The broker considers a message delivered when it sends it.
    Auto,
    /// [`Stomp::ack`] acknowledges a message and every earlier one of the subscription.
    Client,
    /// [`Stomp::ack`] acknowledges one message only.
    ClientIndividual,
}

impl AckMode {
    /// The `ack` header's value.
    ///
    /// ```
    /// assert_eq!(volley_sdk::stomp::AckMode::ClientIndividual.as_str(), "client-individual");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            AckMode::Auto => "auto",
            AckMode::Client => "client",
            AckMode::ClientIndividual => "client-individual",
        }
    }
}

/// A MESSAGE from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Where it was sent.
    pub destination: String,
    /// The id of the subscription it came through.
    pub subscription: String,
    /// The broker's id of the message.
    pub message_id: String,
    /// The `ack` header: what [`Stomp::ack`] and [`Stomp::nack`] send back (`None` in `auto` mode).
    pub ack: Option<String>,
    /// Every header, unescaped, in wire order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Delivery {
    /// The body as text, when it is UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Something the broker said, as [`Stomp::on_message`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNECTED: the session is open.
    Connected {
        /// The `version` header (`1.2`).
        version: Option<String>,
        /// The `server` header, e.g. `RabbitMQ/3.10.8`.
        server: Option<String>,
        /// How often this client sends heart-beats (zero: never).
        send_heart_beats: Duration,
        /// How often the broker promised to send (zero: never).
        receive_heart_beats: Duration,
        /// From CONNECT to CONNECTED, as the runner recorded it.
        round_trip: Option<Duration>,
    },
    /// A MESSAGE.
    Message(Delivery),
    /// A RECEIPT for a SEND or SUBSCRIBE made with a receipt.
    Receipt {
        /// The receipt id.
        receipt: String,
        /// The request's name ([`RECEIPT_REQUEST`], [`SUBSCRIBE_REQUEST`]), or `None` when the id
        /// matches no pending receipt (its reply deadline already passed).
        name: Option<&'static str>,
        /// The round trip from the frame to its receipt, as the runner recorded it.
        round_trip: Option<Duration>,
    },
    /// The RECEIPT of [`Stomp::disconnect`]: the broker processed everything before it, the
    /// scenario may close the WebSocket.
    Disconnected {
        /// From DISCONNECT to its receipt, as the runner recorded it.
        round_trip: Option<Duration>,
    },
    /// An ERROR frame: the check `stomp ERROR: MESSAGE` is already recorded as failed. The broker
    /// closes the connection after it.
    Error {
        /// The `message` header (empty when the broker sent none).
        message: String,
        /// The `receipt-id` header, when the error answers a frame that asked for a receipt.
        receipt: Option<String>,
        /// The body (more detail), as text with invalid UTF-8 replaced.
        body: String,
    },
}

/// One STOMP 1.2 client on one WebSocket connection.
///
/// The runner connects the WebSocket (offer the subprotocol [`SUBPROTOCOL`]); the scenario calls
/// [`Stomp::connect`] in `open`, and subscribes and sends once [`Event::Connected`] arrived.
///
/// ```
/// use volley_sdk::stomp::{AckMode, Event, Stomp};
/// use volley_sdk::{Context, Message, Scenario};
/// use std::time::Duration;
///
/// struct Chat { stomp: Stomp }
///
/// impl Scenario for Chat {
///     fn open(ctx: &mut Context) -> Self {
///         let mut stomp = Stomp::new("/").with_login("guest", "guest");
///         stomp.connect(ctx, Duration::from_secs(5));
///         Chat { stomp }
///     }
///     fn on_message(&mut self, ctx: &mut Context, message: Message) {
///         let Ok(events) = self.stomp.on_message(ctx, &message) else {
///             return ctx.close(1002, "not stomp"); // a failed check is already recorded
///         };
///         for event in events {
///             match event {
///                 Event::Connected { .. } => {
///                     self.stomp.subscribe(ctx, "/topic/chat", AckMode::Auto);
///                     self.stomp.send_with_receipt(ctx, "/topic/chat", "hi", Duration::from_secs(2));
///                 }
///                 Event::Message(delivery) => {
///                     ctx.check("hi arrives", delivery.body_text() == Some("hi"));
///                     self.stomp.disconnect(ctx, Duration::from_secs(2));
///                 }
///                 Event::Disconnected { .. } | Event::Error { .. } => ctx.close(1000, "done"),
///                 Event::Receipt { .. } => {}
///             }
///         }
///     }
///     fn on_timer(&mut self, ctx: &mut Context, timer: u32) {
///         self.stomp.on_timer(ctx, timer);
///     }
///     fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
///         self.stomp.on_reply_timeout(ctx, key);
///     }
/// }
///
/// // Natively, with the recording host:
/// use volley_sdk::testing::TestHost;
/// let mut host = TestHost::new();
/// let mut chat: Chat = host.open();
/// host.message(&mut chat, Message::Text("CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0".into()));
/// host.message(&mut chat, Message::Text(
///     "MESSAGE\ndestination:/topic/chat\nsubscription:0\nmessage-id:m1\n\nhi\0".into(),
/// ));
/// assert_eq!(host.passed_checks(), vec!["hi arrives"]);
/// assert!(host.sent_texts()[1].starts_with("SUBSCRIBE\n"));
/// ```
#[derive(Debug, Clone)]
pub struct Stomp {
    host: String,
    login: Option<(String, String)>,
    heart_beat: (Duration, Duration),
    reader: FrameReader,
    connected: bool,
    watchdog: Option<Duration>,
    next_id: u64,
    receipts: BTreeMap<String, &'static str>,
}

impl Stomp {
    /// A client for the broker's virtual host `host` (`/` is RabbitMQ's default), without login,
    /// offering heart-beats every 10 s both ways, keeping at most 1 MiB of a frame split across
    /// messages.
    ///
    /// ```
    /// let stomp = volley_sdk::stomp::Stomp::new("/");
    /// assert!(!stomp.is_connected());
    /// ```
    pub fn new(host: &str) -> Self {
        Stomp {
            host: host.to_owned(),
            login: None,
            heart_beat: (Duration::from_secs(10), Duration::from_secs(10)),
            reader: FrameReader::new(1 << 20),
            connected: false,
            watchdog: None,
            next_id: 0,
            receipts: BTreeMap::new(),
        }
    }

    /// Send `login` and `passcode` with CONNECT (builder style).
    pub fn with_login(mut self, login: &str, passcode: &str) -> Self {
        self.login = Some((login.to_owned(), passcode.to_owned()));
        self
    }

    /// Offer heart-beats (builder style): this client can send one every `send`, and wants one
    /// from the broker every `receive` (zero: not at all). Millisecond resolution. The negotiated
    /// intervals are the larger of each side's wish, as STOMP 1.2 says.
    ///
    /// ```
    /// use volley_sdk::{Context, stomp::Stomp, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// Stomp::new("/").with_heart_beat(Duration::from_millis(500), Duration::ZERO)
    ///     .connect(&mut Context::new(&mut host), Duration::from_secs(5));
    /// assert_eq!(host.sent_texts(), vec!["CONNECT\naccept-version:1.2\nhost:/\nheart-beat:500,0\n\n\0"]);
    /// ```
    pub fn with_heart_beat(mut self, send: Duration, receive: Duration) -> Self {
        self.heart_beat = (send, receive);
        self
    }

    /// Keep at most `bytes` of a frame split across WebSocket messages (builder style); a longer
    /// unfinished frame is a protocol error.
    pub fn with_max_frame(mut self, bytes: usize) -> Self {
        self.reader = FrameReader::new(bytes);
        self
    }

    /// True between [`Event::Connected`] and an ERROR or [`Stomp::disconnect`].
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Receipts still awaited (frames whose receipt neither arrived nor timed out).
    pub fn pending_receipts(&self) -> usize {
        self.receipts.len()
    }

    /// Send CONNECT (`accept-version:1.2`, `host`, login, heart-beat): a request named
    /// [`CONNECT_REQUEST`], timed until CONNECTED; without it within `timeout` the runner counts a
    /// reply timeout.
    pub fn connect(&mut self, ctx: &mut Context, timeout: Duration) {
        let (send, receive) = self.heart_beat;
        let mut frame = Frame::new(Command::Connect)
            .with_header("accept-version", "1.2")
            .with_header("host", &self.host);
        if let Some((login, passcode)) = &self.login {
            frame = frame
                .with_header("login", login)
                .with_header("passcode", passcode);
        }
        let frame = frame.with_header(
            "heart-beat",
            &format!("{},{}", send.as_millis(), receive.as_millis()),
        );
        request_frame(ctx, CONNECT_REQUEST, CONNECT_KEY, &frame, timeout);
    }

    /// SUBSCRIBE to `destination` with acknowledgement mode `ack`; returns the subscription id
    /// (`sub-N`), which deliveries carry in [`Delivery::subscription`].
    ///
    /// ```
    /// use volley_sdk::{Context, stomp::{AckMode, Stomp}, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let id = Stomp::new("/").subscribe(&mut Context::new(&mut host), "/queue/jobs", AckMode::Client);
    /// assert_eq!(id, "sub-0");
    /// assert_eq!(host.sent_texts(), vec!["SUBSCRIBE\nid:sub-0\ndestination:/queue/jobs\nack:client\n\n\0"]);
    /// ```
    pub fn subscribe(&mut self, ctx: &mut Context, destination: &str, ack: AckMode) -> String {
        let id = self.next("sub");
        send_frame(ctx, &subscribe_frame(&id, destination, ack));
        id
    }

    /// [`Stomp::subscribe`] with a receipt: a request named [`SUBSCRIBE_REQUEST`]. Returns the
    /// subscription id and the receipt id; once its [`Event::Receipt`] arrived the broker routes
    /// to the subscription.
    pub fn subscribe_with_receipt(
        &mut self,
        ctx: &mut Context,
        destination: &str,
        ack: AckMode,
        timeout: Duration,
    ) -> (String, String) {
        let id = self.next("sub");
        let receipt = self.next("receipt");
        let frame = subscribe_frame(&id, destination, ack).with_header("receipt", &receipt);
        self.expect_receipt(ctx, SUBSCRIBE_REQUEST, &receipt, &frame, timeout);
        (id, receipt)
    }

    /// UNSUBSCRIBE subscription `id`.
    pub fn unsubscribe(&mut self, ctx: &mut Context, id: &str) {
        send_frame(ctx, &Frame::new(Command::Unsubscribe).with_header("id", id));
    }

    /// SEND `body` to `destination`, without a receipt.
    ///
    /// ```
    /// use volley_sdk::{Context, stomp::Stomp, testing::TestHost};
    /// let mut host = TestHost::new();
    /// Stomp::new("/").send(&mut Context::new(&mut host), "/topic/t", "hi");
    /// assert_eq!(host.sent_texts(), vec!["SEND\ndestination:/topic/t\ncontent-length:2\n\nhi\0"]);
    /// ```
    pub fn send(&mut self, ctx: &mut Context, destination: &str, body: impl Into<Vec<u8>>) {
        let frame = Frame::new(Command::Send)
            .with_header("destination", destination)
            .with_body(body);
        send_frame(ctx, &frame);
    }

    /// SEND `body` to `destination` with a receipt: a request named [`RECEIPT_REQUEST`], timed
    /// until the broker's RECEIPT. Returns the receipt id (`receipt-N`), which is also the request
    /// key.
    ///
    /// ```
    /// use volley_sdk::{Context, stomp::Stomp, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// let id = Stomp::new("/").send_with_receipt(&mut Context::new(&mut host), "/topic/t", "x", Duration::from_secs(1));
    /// assert_eq!(id, "receipt-0");
    /// assert_eq!(host.request_names(), vec![("receipt-0", "stomp receipt")]);
    /// ```
    pub fn send_with_receipt(
        &mut self,
        ctx: &mut Context,
        destination: &str,
        body: impl Into<Vec<u8>>,
        timeout: Duration,
    ) -> String {
        let receipt = self.next("receipt");
        let frame = Frame::new(Command::Send)
            .with_header("destination", destination)
            .with_header("receipt", &receipt)
            .with_body(body);
        self.expect_receipt(ctx, RECEIPT_REQUEST, &receipt, &frame, timeout);
        receipt
    }

    /// Send any frame as it is (extra headers, transactions, your own receipts).
    pub fn send_frame(&mut self, ctx: &mut Context, frame: &Frame) {
        send_frame(ctx, frame);
    }

    /// ACK a delivery of a `client` or `client-individual` subscription; returns `false`, sending
    /// nothing, when the delivery has no `ack` header (an `auto` subscription).
    ///
    /// ```
    /// use volley_sdk::{Context, stomp::{Delivery, Stomp}, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let delivery = Delivery {
    ///     destination: "/queue/q".into(), subscription: "sub-0".into(), message_id: "m".into(),
    ///     ack: Some("a1".into()), headers: vec![], body: vec![],
    /// };
    /// assert!(Stomp::new("/").ack(&mut Context::new(&mut host), &delivery));
    /// assert_eq!(host.sent_texts(), vec!["ACK\nid:a1\n\n\0"]);
    /// ```
    pub fn ack(&mut self, ctx: &mut Context, delivery: &Delivery) -> bool {
        acknowledge(ctx, Command::Ack, delivery)
    }

    /// NACK a delivery (the broker redelivers or dead-letters it); `false` as for [`Stomp::ack`].
    pub fn nack(&mut self, ctx: &mut Context, delivery: &Delivery) -> bool {
        acknowledge(ctx, Command::Nack, delivery)
    }

    /// DISCONNECT with a receipt: a request named [`DISCONNECT_REQUEST`]; [`Event::Disconnected`]
    /// arrives with the receipt, after which the scenario closes the WebSocket. Heart-beats stop.
    ///
    /// ```
    /// use volley_sdk::{Context, Message, stomp::{Event, Stomp}, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// let mut stomp = Stomp::new("/");
    /// stomp.disconnect(&mut Context::new(&mut host), Duration::from_secs(1));
    /// assert_eq!(host.sent_texts(), vec!["DISCONNECT\nreceipt:disconnect-0\n\n\0"]);
    /// let events = stomp.on_message(&mut Context::new(&mut host),
    ///     &Message::Text("RECEIPT\nreceipt-id:disconnect-0\n\n\0".into()));
    /// assert_eq!(events, Ok(vec![Event::Disconnected { round_trip: Some(Duration::ZERO) }]));
    /// ```
    pub fn disconnect(&mut self, ctx: &mut Context, timeout: Duration) {
        let receipt = self.next("disconnect");
        let frame = Frame::new(Command::Disconnect).with_header("receipt", &receipt);
        self.stop_heart_beats(ctx);
        self.expect_receipt(ctx, DISCONNECT_REQUEST, &receipt, &frame, timeout);
    }

    /// Handle one WebSocket message: every frame it completes becomes an [`Event`] (heart-beats
    /// and the parts of a split frame become none). A message that is not STOMP 1.2 records the
    /// check [`FRAME_CHECK`] as failed, logs the reason, and is returned as a [`ProtocolError`];
    /// it never panics. An ERROR frame records the failed check `stomp ERROR: MESSAGE`.
    ///
    /// ```
    /// use volley_sdk::{Context, Message, stomp::Stomp, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let mut stomp = Stomp::new("/");
    /// let broken = stomp.on_message(&mut Context::new(&mut host), &Message::Text("HELLO\n\n\0".into()));
    /// assert_eq!(broken.unwrap_err().reason(), "unknown command `HELLO`");
    /// assert_eq!(host.failed_checks(), vec!["stomp frame is valid"]);
    /// ```
    pub fn on_message(
        &mut self,
        ctx: &mut Context,
        message: &Message,
    ) -> Result<Vec<Event>, ProtocolError> {
        let bytes = match message {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(data) => data.as_slice(),
        };
        self.arm_watchdog(ctx);
        let result = self
            .reader
            .push(bytes)
            .map_err(|error: FrameError| error.to_string())
            .and_then(|frames| {
                frames
                    .into_iter()
                    .map(|frame| self.frame(ctx, frame))
                    .collect::<Result<Vec<_>, _>>()
            });
        result.map_err(|reason| {
            let error = ProtocolError::new(PROTOCOL, reason, &String::from_utf8_lossy(bytes));
            ctx.check(FRAME_CHECK, false);
            ctx.log(LogLevel::Warn, &error.to_string());
            error
        })
    }

    /// Handle a timer: returns `true` when it was one of the layer's ([`HEART_BEAT_TIMER`]: a
    /// heart-beat is sent; [`WATCHDOG_TIMER`]: the check [`HEART_BEAT_CHECK`] fails and the
    /// connection closes), `false` for the scenario's own timers.
    ///
    /// ```
    /// use volley_sdk::{Context, stomp::{Stomp, HEART_BEAT_TIMER}, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let mut stomp = Stomp::new("/");
    /// assert!(!stomp.on_timer(&mut Context::new(&mut host), 0));
    /// assert!(stomp.on_timer(&mut Context::new(&mut host), HEART_BEAT_TIMER));
    /// assert_eq!(host.sent_texts(), vec!["\n"]);
    /// ```
    pub fn on_timer(&mut self, ctx: &mut Context, timer: u32) -> bool {
        match timer {
            HEART_BEAT_TIMER => {
                ctx.send_text("\n");
                let (send, _) = self.heart_beat;
                if self.connected && !send.is_zero() {
                    ctx.set_timer(HEART_BEAT_TIMER, send);
                }
                true
            }
            WATCHDOG_TIMER => {
                ctx.check(HEART_BEAT_CHECK, false);
                ctx.log(
                    LogLevel::Warn,
                    "stomp: nothing from the broker within twice its heart-beat interval; closing",
                );
                ctx.close(1000, "stomp heart-beat timeout");
                true
            }
            _ => false,
        }
    }

    /// Handle a reply timeout: returns the request's name when `key` was one of this client's
    /// (CONNECT or a receipt; the runner already counted the timeout), `None` for the scenario's
    /// own keys.
    ///
    /// ```
    /// use volley_sdk::{Context, stomp::Stomp, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// let mut stomp = Stomp::new("/");
    /// let receipt = stomp.send_with_receipt(&mut Context::new(&mut host), "/topic/t", "x", Duration::from_secs(1));
    /// assert_eq!(stomp.on_reply_timeout(&mut Context::new(&mut host), &receipt), Some("stomp receipt"));
    /// assert_eq!(stomp.pending_receipts(), 0);
    /// assert_eq!(stomp.on_reply_timeout(&mut Context::new(&mut host), "mine"), None);
    /// ```
    pub fn on_reply_timeout(&mut self, _ctx: &mut Context, key: &str) -> Option<&'static str> {
        if key == CONNECT_KEY {
            return Some(CONNECT_REQUEST);
        }
        self.receipts.remove(key)
    }

    fn next(&mut self, kind: &str) -> String {
        let id = format!("{kind}-{}", self.next_id);
        self.next_id += 1;
        id
    }

    fn expect_receipt(
        &mut self,
        ctx: &mut Context,
        name: &'static str,
        receipt: &str,
        frame: &Frame,
        timeout: Duration,
    ) {
        self.receipts.insert(receipt.to_owned(), name);
        request_frame(ctx, name, receipt, frame, timeout);
    }

    fn arm_watchdog(&self, ctx: &mut Context) {
        if let Some(deadline) = self.watchdog {
            ctx.set_timer(WATCHDOG_TIMER, deadline);
        }
    }

    fn stop_heart_beats(&mut self, ctx: &mut Context) {
        if self.connected {
            ctx.cancel_timer(HEART_BEAT_TIMER);
        }
        if self.watchdog.take().is_some() {
            ctx.cancel_timer(WATCHDOG_TIMER);
        }
        self.connected = false;
    }

    fn frame(&mut self, ctx: &mut Context, frame: Frame) -> Result<Event, String> {
        match frame.command {
            Command::Connected => self.connected(ctx, &frame),
            Command::Message => delivery(frame).map(Event::Message),
            Command::Receipt => {
                let receipt = required(&frame, "receipt-id")?.to_owned();
                let name = self.receipts.remove(&receipt);
                let round_trip = name.and_then(|_| ctx.complete(&receipt));
                if name == Some(DISCONNECT_REQUEST) {
                    Ok(Event::Disconnected { round_trip })
                } else {
                    Ok(Event::Receipt {
                        receipt,
                        name,
                        round_trip,
                    })
                }
            }
            Command::Error => {
                let message = frame.header("message").unwrap_or_default().to_owned();
                let receipt = frame.header("receipt-id").map(str::to_owned);
                if let Some(receipt) = &receipt {
                    self.receipts.remove(receipt);
                }
                let body = String::from_utf8_lossy(&frame.body).into_owned();
                let shown: String = message.chars().take(120).collect();
                ctx.check(&format!("{ERROR_CHECK_PREFIX}{shown}"), false);
                ctx.log(
                    LogLevel::Warn,
                    &format!("stomp: the broker sent ERROR `{message}`: {body}"),
                );
                self.stop_heart_beats(ctx);
                Ok(Event::Error {
                    message,
                    receipt,
                    body,
                })
            }
            other => Err(format!(
                "unexpected {} frame from the server",
                other.as_str()
            )),
        }
    }

    fn connected(&mut self, ctx: &mut Context, frame: &Frame) -> Result<Event, String> {
        let (server_send, server_wants) = match frame.header("heart-beat") {
            Some(value) => heart_beat(value)?,
            None => (Duration::ZERO, Duration::ZERO),
        };
        let (client_send, client_wants) = self.heart_beat;
        let send = negotiated(client_send, server_wants);
        let receive = negotiated(server_send, client_wants);
        self.heart_beat = (send, receive);
        self.connected = true;
        if !send.is_zero() {
            ctx.set_timer(HEART_BEAT_TIMER, send);
        }
        if !receive.is_zero() {
            self.watchdog = Some(receive.saturating_mul(2));
            self.arm_watchdog(ctx);
        }
        Ok(Event::Connected {
            version: frame.header("version").map(str::to_owned),
            server: frame.header("server").map(str::to_owned),
            send_heart_beats: send,
            receive_heart_beats: receive,
            round_trip: ctx.complete(CONNECT_KEY),
        })
    }
}

/// STOMP 1.2: no heart-beats when either side says 0, else the larger of the two wishes.
fn negotiated(can: Duration, wants: Duration) -> Duration {
    if can.is_zero() || wants.is_zero() {
        Duration::ZERO
    } else {
        can.max(wants)
    }
}

/// A `heart-beat` header `SX,SY` in milliseconds.
fn heart_beat(value: &str) -> Result<(Duration, Duration), String> {
    let parse = |part: &str| part.trim().parse::<u64>().ok().map(Duration::from_millis);
    match value.split_once(',') {
        Some((send, receive)) => match (parse(send), parse(receive)) {
            (Some(send), Some(receive)) => Ok((send, receive)),
            _ => Err(format!("heart-beat `{value}` is not two numbers")),
        },
        None => Err(format!("heart-beat `{value}` is not two numbers")),
    }
}

fn required<'frame>(frame: &'frame Frame, name: &str) -> Result<&'frame str, String> {
    frame
        .header(name)
        .ok_or_else(|| format!("{} without a `{name}` header", frame.command.as_str()))
}

fn delivery(frame: Frame) -> Result<Delivery, String> {
    Ok(Delivery {
        destination: required(&frame, "destination")?.to_owned(),
        subscription: required(&frame, "subscription")?.to_owned(),
        message_id: required(&frame, "message-id")?.to_owned(),
        ack: frame.header("ack").map(str::to_owned),
        headers: frame.headers,
        body: frame.body,
    })
}

fn subscribe_frame(id: &str, destination: &str, ack: AckMode) -> Frame {
    Frame::new(Command::Subscribe)
        .with_header("id", id)
        .with_header("destination", destination)
        .with_header("ack", ack.as_str())
}

fn acknowledge(ctx: &mut Context, command: Command, delivery: &Delivery) -> bool {
    let Some(id) = &delivery.ack else {
        return false;
    };
    send_frame(ctx, &Frame::new(command).with_header("id", id));
    true
}

/// A frame goes out as a text message when it is UTF-8 (what brokers expect of `v12.stomp`),
/// else as a binary one.
fn send_frame(ctx: &mut Context, frame: &Frame) {
    match String::from_utf8(frame.encode()) {
        Ok(text) => ctx.send_text(&text),
        Err(bytes) => ctx.send_binary(bytes.as_bytes()),
    }
}

fn request_frame(ctx: &mut Context, name: &str, key: &str, frame: &Frame, timeout: Duration) {
    match String::from_utf8(frame.encode()) {
        Ok(text) => ctx.named_request_text(name, key, &text, timeout),
        Err(bytes) => ctx.named_request_binary(name, key, bytes.as_bytes(), timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Action, TestHost};

    fn feed(
        stomp: &mut Stomp,
        host: &mut TestHost,
        text: &str,
    ) -> Result<Vec<Event>, ProtocolError> {
        stomp.on_message(&mut Context::new(host), &Message::Text(text.into()))
    }

    fn connected(heart_beat: &str) -> String {
        format!("CONNECTED\nversion:1.2\nserver:RabbitMQ/3.10.8\nheart-beat:{heart_beat}\n\n\0")
    }

    #[test]
    fn connect_is_timed_and_heart_beats_are_negotiated() {
        let mut host = TestHost::new();
        let mut stomp = Stomp::new("/")
            .with_login("guest", "guest")
            .with_heart_beat(Duration::from_millis(1000), Duration::from_millis(2000));
        stomp.connect(&mut Context::new(&mut host), Duration::from_secs(5));
        assert_eq!(
            host.sent_texts(),
            vec![
                "CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:1000,2000\n\n\0"
            ]
        );
        assert_eq!(
            host.request_names(),
            vec![("stomp-connect", "stomp connect")]
        );
        host.now = Duration::from_millis(3);
        // The broker wants one every 4 s and can send every 500 ms: we send every 4 s (the larger),
        // and expect one at least every 2 s (our wish, the larger), so the watchdog is 4 s.
        let events = feed(&mut stomp, &mut host, &connected("500,4000"));
        assert_eq!(
            events,
            Ok(vec![Event::Connected {
                version: Some("1.2".into()),
                server: Some("RabbitMQ/3.10.8".into()),
                send_heart_beats: Duration::from_secs(4),
                receive_heart_beats: Duration::from_secs(2),
                round_trip: Some(Duration::from_millis(3)),
            }])
        );
        assert!(
            host.actions
                .contains(&Action::SetTimer(HEART_BEAT_TIMER, Duration::from_secs(4)))
        );
        assert!(
            host.actions
                .contains(&Action::SetTimer(WATCHDOG_TIMER, Duration::from_secs(4)))
        );
        assert!(stomp.is_connected());
        // Each heart-beat re-arms its timer at the negotiated interval.
        host.actions.clear();
        assert!(stomp.on_timer(&mut Context::new(&mut host), HEART_BEAT_TIMER));
        assert_eq!(host.sent_texts(), vec!["\n"]);
        assert!(
            host.actions
                .contains(&Action::SetTimer(HEART_BEAT_TIMER, Duration::from_secs(4)))
        );
        // A heart-beat from the broker re-arms the watchdog and is no event.
        host.actions.clear();
        assert_eq!(feed(&mut stomp, &mut host, "\n"), Ok(vec![]));
        assert_eq!(
            host.actions,
            vec![Action::SetTimer(WATCHDOG_TIMER, Duration::from_secs(4))]
        );
    }

    #[test]
    fn zero_on_either_side_means_no_heart_beats() {
        let mut host = TestHost::new();
        let mut stomp = Stomp::new("/").with_heart_beat(Duration::ZERO, Duration::from_secs(1));
        let events = feed(&mut stomp, &mut host, &connected("0,1000"));
        assert!(matches!(
            events.as_deref(),
            Ok([Event::Connected {
                send_heart_beats: Duration::ZERO,
                receive_heart_beats: Duration::ZERO,
                ..
            }])
        ));
        assert!(
            !host
                .actions
                .iter()
                .any(|action| matches!(action, Action::SetTimer(..)))
        );
    }

    #[test]
    fn a_silent_broker_fails_the_heart_beat_check_and_closes() {
        let mut host = TestHost::new();
        let mut stomp = Stomp::new("/");
        assert!(stomp.on_timer(&mut Context::new(&mut host), WATCHDOG_TIMER));
        assert_eq!(host.failed_checks(), vec![HEART_BEAT_CHECK]);
        assert!(
            host.actions
                .iter()
                .any(|action| matches!(action, Action::Close(1000, _)))
        );
    }

    #[test]
    fn receipts_complete_their_named_requests() {
        let mut host = TestHost::new();
        let mut stomp = Stomp::new("/");
        let mut ctx = Context::new(&mut host);
        let (sub, sub_receipt) = stomp.subscribe_with_receipt(
            &mut ctx,
            "/topic/t",
            AckMode::Auto,
            Duration::from_secs(1),
        );
        let send_receipt =
            stomp.send_with_receipt(&mut ctx, "/topic/t", "x", Duration::from_secs(1));
        assert_eq!(
            (sub.as_str(), sub_receipt.as_str(), send_receipt.as_str()),
            ("sub-0", "receipt-1", "receipt-2")
        );
        assert_eq!(
            host.request_names(),
            vec![
                ("receipt-1", "stomp subscribe"),
                ("receipt-2", "stomp receipt")
            ]
        );
        host.now = Duration::from_millis(2);
        let events = feed(
            &mut stomp,
            &mut host,
            "RECEIPT\nreceipt-id:receipt-2\n\n\0RECEIPT\nreceipt-id:receipt-1\n\n\0",
        );
        assert_eq!(
            events,
            Ok(vec![
                Event::Receipt {
                    receipt: "receipt-2".into(),
                    name: Some(RECEIPT_REQUEST),
                    round_trip: Some(Duration::from_millis(2))
                },
                Event::Receipt {
                    receipt: "receipt-1".into(),
                    name: Some(SUBSCRIBE_REQUEST),
                    round_trip: Some(Duration::from_millis(2))
                },
            ])
        );
        assert_eq!(stomp.pending_receipts(), 0);
        // A receipt nobody waits for (late, or foreign) has no name and no round trip.
        let late = feed(&mut stomp, &mut host, "RECEIPT\nreceipt-id:receipt-2\n\n\0");
        assert_eq!(
            late,
            Ok(vec![Event::Receipt {
                receipt: "receipt-2".into(),
                name: None,
                round_trip: None
            }])
        );
    }

    #[test]
    fn messages_are_delivered_with_their_headers_and_can_be_acked() {
        let mut host = TestHost::new();
        let mut stomp = Stomp::new("/");
        let text = "MESSAGE\ndestination:/queue/q\nsubscription:sub-0\nmessage-id:T_1\nack:A\\c1\nx-seq:7\ncontent-length:5\n\nhello\0";
        let events = feed(&mut stomp, &mut host, text).unwrap_or_else(|e| panic!("{e}"));
        let [Event::Message(delivery)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(delivery.destination, "/queue/q");
        assert_eq!(delivery.subscription, "sub-0");
        assert_eq!(delivery.message_id, "T_1");
        assert_eq!(delivery.ack.as_deref(), Some("A:1"));
        assert_eq!(delivery.header("x-seq"), Some("7"));
        assert_eq!(delivery.body_text(), Some("hello"));
        assert!(stomp.ack(&mut Context::new(&mut host), delivery));
        assert!(stomp.nack(&mut Context::new(&mut host), delivery));
        assert_eq!(
            host.sent_texts(),
            vec!["ACK\nid:A\\c1\n\n\0", "NACK\nid:A\\c1\n\n\0"]
        );
        let auto = Delivery {
            ack: None,
            ..delivery.clone()
        };
        assert!(!stomp.ack(&mut Context::new(&mut host), &auto));
    }

    #[test]
    fn an_error_frame_is_a_failed_check_with_the_brokers_message() {
        let mut host = TestHost::new();
        let mut stomp = Stomp::new("/");
        feed(&mut stomp, &mut host, &connected("0,0")).ok();
        let receipt = stomp.send_with_receipt(
            &mut Context::new(&mut host),
            "/bad/x",
            "x",
            Duration::from_secs(1),
        );
        let error = format!(
            "ERROR\nmessage:Unknown destination\nreceipt-id:{receipt}\ncontent-type:text/plain\n\n'/bad/x' is not a valid destination\0"
        );
        let events = feed(&mut stomp, &mut host, &error);
        assert_eq!(
            events,
            Ok(vec![Event::Error {
                message: "Unknown destination".into(),
                receipt: Some(receipt),
                body: "'/bad/x' is not a valid destination".into(),
            }])
        );
        assert_eq!(
            host.failed_checks(),
            vec!["stomp ERROR: Unknown destination"]
        );
        assert_eq!(stomp.pending_receipts(), 0);
        assert!(!stomp.is_connected());
    }

    #[test]
    fn malformed_frames_are_failed_checks_with_reasons_never_panics() {
        let cases: &[(&str, &str)] = &[
            ("HELLO\n\n\0", "unknown command `HELLO`"),
            (
                "SEND\ndestination:/q\n\n\0",
                "unexpected SEND frame from the server",
            ),
            (
                "MESSAGE\nsubscription:s\nmessage-id:m\n\n\0",
                "MESSAGE without a `destination` header",
            ),
            (
                "MESSAGE\ndestination:/q\nmessage-id:m\n\n\0",
                "MESSAGE without a `subscription` header",
            ),
            (
                "MESSAGE\ndestination:/q\nsubscription:s\n\n\0",
                "MESSAGE without a `message-id` header",
            ),
            ("RECEIPT\n\n\0", "RECEIPT without a `receipt-id` header"),
            (
                "CONNECTED\nheart-beat:x,1\n\n\0",
                "heart-beat `x,1` is not two numbers",
            ),
            (
                "CONNECTED\nheart-beat:100\n\n\0",
                "heart-beat `100` is not two numbers",
            ),
            ("MESSAGE\nx:\\q\n\n\0", "undefined escape sequence"),
            (
                "MESSAGE\ncontent-length:3\n\nabcd\0",
                "no NUL after the content-length bytes",
            ),
            (
                "MESSAGE\ncontent-length:abc\n\n\0",
                "content-length `abc` is not a number",
            ),
        ];
        for (text, reason) in cases {
            let mut host = TestHost::new();
            let mut stomp = Stomp::new("/");
            let error = match feed(&mut stomp, &mut host, text) {
                Err(error) => error,
                Ok(events) => panic!("{text:?} parsed as {events:?}"),
            };
            assert!(
                error.reason().starts_with(reason),
                "{text:?}: `{}` does not start with `{reason}`",
                error.reason()
            );
            assert_eq!(host.failed_checks(), vec![FRAME_CHECK], "{text:?}");
        }
    }

    #[test]
    fn a_frame_split_across_messages_and_binary_messages() {
        let mut host = TestHost::new();
        let mut stomp = Stomp::new("/").with_max_frame(64);
        assert_eq!(feed(&mut stomp, &mut host, "RECEIPT\nrece"), Ok(vec![]));
        let events = stomp.on_message(
            &mut Context::new(&mut host),
            &Message::Binary(b"ipt-id:r\n\n\0".to_vec()),
        );
        assert_eq!(
            events,
            Ok(vec![Event::Receipt {
                receipt: "r".into(),
                name: None,
                round_trip: None
            }])
        );
        let too_long = format!("MESSAGE\n{}", "x".repeat(100));
        let error = feed(&mut stomp, &mut host, &too_long).map_err(|e| e.reason().to_owned());
        assert_eq!(error, Err("frame is larger than 64 bytes".into()));
    }
}
