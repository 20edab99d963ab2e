//! [`Mqtt`]: one MQTT client on one WebSocket connection, on top of the plain [`Context`] API.
//! It sends CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBLISH and DISCONNECT, times the broker's answers
//! as named requests (CONNACK, SUBACK, UNSUBACK, PUBACK, PUBCOMP), acknowledges incoming QoS 1
//! and 2 publishes by itself, keeps the connection alive with PINGREQ on a timer, resolves the
//! MQTT 5 topic aliases the broker sends, and turns refusals (reason codes) and malformed packets
//! into failed checks with the reason's name. A scenario holds one [`Mqtt`] and forwards its
//! `on_message`, `on_timer` and `on_reply_timeout` calls to it.
//!
//! What does not live here: the packet format (`packet.rs`, `codec.rs`), topic filter matching
//! (`topic.rs`), the socket (the runner owns it), MQTT 5 AUTH, sending topic aliases, flow
//! control by receive maximum, and resending unacknowledged publishes on a resumed session.

use super::codec::{DecodeError, PacketBuffer};
use super::packet::{
    Ack, Connect, Disconnect, Packet, Properties, Publish, QoS, Subscribe, Subscription,
    Unsubscribe, Version, Will, reason_name,
};
use crate::protocol_error::ProtocolError;
use crate::{Context, LogLevel, Message};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// This layer's name in its errors.
const PROTOCOL: &str = "mqtt";

/// The timer id the layer uses for keep alive. Scenarios must not set this id themselves;
/// forward every timer to [`Mqtt::on_timer`], which returns `false` for the scenario's own ids.
///
/// ```
/// assert_eq!(volley_sdk::mqtt::KEEPALIVE_TIMER, 0xFFFF_0201);
/// ```
pub const KEEPALIVE_TIMER: u32 = 0xFFFF_0201;

/// The check recorded as failed when a message is not MQTT (the reason is logged).
///
/// ```
/// assert_eq!(volley_sdk::mqtt::PACKET_CHECK, "mqtt packet is valid");
/// ```
pub const PACKET_CHECK: &str = "mqtt packet is valid";

/// The check recorded as failed when a PINGREQ got no PINGRESP before the next keep-alive tick
/// (the layer then closes the connection).
///
/// ```
/// assert_eq!(volley_sdk::mqtt::PING_CHECK, "mqtt broker answers pings");
/// ```
pub const PING_CHECK: &str = "mqtt broker answers pings";

/// Request name of CONNECT → CONNACK.
pub const CONNECT_REQUEST: &str = "mqtt connect";
/// Request name of SUBSCRIBE → SUBACK.
pub const SUBSCRIBE_REQUEST: &str = "mqtt subscribe";
/// Request name of UNSUBSCRIBE → UNSUBACK.
pub const UNSUBSCRIBE_REQUEST: &str = "mqtt unsubscribe";
/// Request name of a QoS 1 PUBLISH → PUBACK.
pub const PUBLISH_QOS1_REQUEST: &str = "mqtt publish qos1";
/// Request name of a QoS 2 PUBLISH → PUBREC, PUBREL → PUBCOMP (timed to the PUBCOMP).
pub const PUBLISH_QOS2_REQUEST: &str = "mqtt publish qos2";

/// The request key of the packet identifier `id` (the key of CONNECT is [`CONNECT_REQUEST`]).
///
/// ```
/// assert_eq!(volley_sdk::mqtt::request_key(7), "mqtt#7");
/// ```
pub fn request_key(id: u16) -> String {
    format!("mqtt#{id}")
}

/// An application message the broker delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its topic (a topic alias already resolved).
    pub topic: String,
    /// Its payload.
    pub payload: Vec<u8>,
    /// The QoS it was delivered at.
    pub qos: QoS,
    /// Set for a retained message sent because of a new subscription.
    pub retain: bool,
    /// Set when the broker redelivers it.
    pub dup: bool,
}

/// Something the broker said, as [`Mqtt::on_message`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// CONNACK accepted the connection: subscribe and publish from here.
    Connected {
        /// The broker resumed a session.
        session_present: bool,
        /// The client id the broker chose (MQTT 5, for an empty client id).
        assigned_client_id: Option<String>,
        /// CONNECT → CONNACK, as the runner recorded it.
        round_trip: Option<Duration>,
    },
    /// CONNACK refused the connection (a failed check named after the reason is recorded).
    ConnectRefused {
        /// The reason's name, e.g. `Not authorized`.
        reason: String,
    },
    /// SUBACK: one result per filter, the granted QoS or the refusal's reason name.
    Subscribed {
        /// The SUBSCRIBE's packet identifier.
        packet_id: u16,
        /// Per filter, in order.
        granted: Vec<Result<QoS, String>>,
        /// SUBSCRIBE → SUBACK.
        round_trip: Option<Duration>,
    },
    /// UNSUBACK.
    Unsubscribed {
        /// The UNSUBSCRIBE's packet identifier.
        packet_id: u16,
        /// UNSUBSCRIBE → UNSUBACK.
        round_trip: Option<Duration>,
    },
    /// A QoS 1 publish got its PUBACK, or a QoS 2 one its PUBCOMP.
    Published {
        /// The PUBLISH's packet identifier.
        packet_id: u16,
        /// Its QoS.
        qos: QoS,
        /// PUBLISH → PUBACK or PUBCOMP.
        round_trip: Option<Duration>,
    },
    /// The broker refused a publish (MQTT 5 reason code ≥ 0x80 in PUBACK or PUBREC).
    PublishRefused {
        /// The PUBLISH's packet identifier.
        packet_id: u16,
        /// The reason's name.
        reason: String,
    },
    /// An application message arrived (already acknowledged when QoS 1 or 2).
    Message(Received),
    /// PINGRESP.
    Pong,
    /// The broker sent DISCONNECT (MQTT 5).
    Disconnected {
        /// The reason's name (`Success` for a normal disconnection).
        reason: String,
    },
}

/// What a timed-out request was, as [`Mqtt::on_reply_timeout`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimedOut {
    /// CONNECT got no CONNACK.
    Connect,
    /// A SUBSCRIBE got no SUBACK.
    Subscribe(u16),
    /// An UNSUBSCRIBE got no UNSUBACK.
    Unsubscribe(u16),
    /// A publish got no PUBACK or PUBCOMP.
    Publish(u16, QoS),
}

/// What a packet identifier in flight is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InFlight {
    Subscribe,
    Unsubscribe,
    Publish(QoS),
}

/// One MQTT client on one connection.
///
/// The scenario file offers the subprotocol (`subprotocols: [mqtt]`); the client sends CONNECT
/// when [`Mqtt::connect`] is called (usually in `open`).
///
/// ```
/// use volley_sdk::mqtt::{Event, Mqtt, QoS};
/// use volley_sdk::{Context, Message, Scenario};
/// use std::time::Duration;
///
/// struct Hello { mqtt: Mqtt }
///
/// impl Scenario for Hello {
///     fn open(ctx: &mut Context) -> Self {
///         let mut mqtt = Mqtt::v311("hello-1");
///         mqtt.connect(ctx);
///         Hello { mqtt }
///     }
///     fn on_message(&mut self, ctx: &mut Context, message: Message) {
///         let Ok(events) = self.mqtt.on_message(ctx, &message) else {
///             return ctx.close(1002, "not mqtt"); // a failed check is already recorded
///         };
///         for event in events {
///             match event {
///                 Event::Connected { .. } => {
///                     self.mqtt.subscribe(ctx, "greetings/#", QoS::AtLeastOnce);
///                 }
///                 Event::Subscribed { .. } => {
///                     self.mqtt.publish(ctx, "greetings/en", b"hello", QoS::AtLeastOnce, false);
///                 }
///                 Event::Message(received) => {
///                     ctx.check("hello came back", received.payload == b"hello");
///                     self.mqtt.disconnect(ctx);
///                     ctx.close(1000, "done");
///                 }
///                 _ => {}
///             }
///         }
///     }
///     fn on_timer(&mut self, ctx: &mut Context, timer: u32) {
///         self.mqtt.on_timer(ctx, timer);
///     }
///     fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
///         self.mqtt.on_reply_timeout(ctx, key);
///     }
/// }
///
/// // Natively, with the recording host and a broker's packets written by hand:
/// use volley_sdk::testing::TestHost;
/// let mut host = TestHost::new();
/// let mut hello: Hello = host.open();
/// assert_eq!(host.request_names(), vec![("mqtt connect", "mqtt connect")]);
/// host.message(&mut hello, Message::Binary(vec![0x20, 0x02, 0x00, 0x00])); // CONNACK
/// host.message(&mut hello, Message::Binary(vec![0x90, 0x03, 0x00, 0x01, 0x01])); // SUBACK
/// assert_eq!(host.request_names()[2], ("mqtt#2", "mqtt publish qos1"));
/// ```
#[derive(Debug, Clone)]
pub struct Mqtt {
    version: Version,
    client_id: String,
    clean_start: bool,
    keep_alive: Duration,
    credentials: Option<(String, Option<Vec<u8>>)>,
    will: Option<Will>,
    session_expiry: Option<u32>,
    topic_alias_maximum: u16,
    timeout: Duration,
    buffer: PacketBuffer,
    connected: bool,
    ping_outstanding: bool,
    next_id: u16,
    in_flight: BTreeMap<u16, InFlight>,
    incoming_qos2: BTreeSet<u16>,
    aliases: BTreeMap<u16, String>,
}

/// The largest packet accepted by default (1 MiB).
const DEFAULT_MAX_PACKET: usize = 1 << 20;

impl Mqtt {
    /// An MQTT 3.1.1 client with `client_id`, a clean session, a 60 s keep alive and a 5 s reply
    /// timeout.
    ///
    /// ```
    /// let mqtt = volley_sdk::mqtt::Mqtt::v311("sensor-1");
    /// assert!(!mqtt.is_connected());
    /// ```
    pub fn v311(client_id: &str) -> Self {
        Mqtt::new(Version::V311, client_id)
    }

    /// An MQTT 5.0 client, otherwise as [`Mqtt::v311`].
    pub fn v5(client_id: &str) -> Self {
        Mqtt::new(Version::V5, client_id)
    }

    /// A client speaking `version`.
    pub fn new(version: Version, client_id: &str) -> Self {
        Mqtt {
            version,
            client_id: client_id.to_owned(),
            clean_start: true,
            keep_alive: Duration::from_secs(60),
            credentials: None,
            will: None,
            session_expiry: None,
            topic_alias_maximum: 0,
            timeout: Duration::from_secs(5),
            buffer: PacketBuffer::new(DEFAULT_MAX_PACKET),
            connected: false,
            ping_outstanding: false,
            next_id: 0,
            in_flight: BTreeMap::new(),
            incoming_qos2: BTreeSet::new(),
            aliases: BTreeMap::new(),
        }
    }

    /// Keep alive (whole seconds, at most 65,535; zero turns PINGREQ off).
    pub fn with_keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = Duration::from_secs(keep_alive.as_secs().min(u64::from(u16::MAX)));
        self
    }

    /// Resume a session instead of starting clean (3.1.1: clean session 0).
    pub fn with_clean_start(mut self, clean_start: bool) -> Self {
        self.clean_start = clean_start;
        self
    }

    /// User name and optional password.
    pub fn with_credentials(mut self, username: &str, password: Option<&[u8]>) -> Self {
        self.credentials = Some((username.to_owned(), password.map(<[u8]>::to_vec)));
        self
    }

    /// A last will the broker publishes if the connection ends without DISCONNECT.
    pub fn with_will(mut self, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Self {
        self.will = Some(Will {
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            qos,
            retain,
        });
        self
    }

    /// MQTT 5: how long the broker keeps the session after the connection ends (whole seconds).
    pub fn with_session_expiry(mut self, expiry: Duration) -> Self {
        self.session_expiry = Some(u32::try_from(expiry.as_secs()).unwrap_or(u32::MAX));
        self
    }

    /// MQTT 5: accept topic aliases up to `maximum` from the broker (0, the default, accepts none).
    pub fn with_topic_alias_maximum(mut self, maximum: u16) -> Self {
        self.topic_alias_maximum = maximum;
        self
    }

    /// How long CONNACK, SUBACK, UNSUBACK, PUBACK and PUBCOMP may take before the runner counts a
    /// reply timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest packet accepted from the broker; a larger one is a protocol error.
    pub fn with_max_packet_size(mut self, bytes: usize) -> Self {
        self.buffer = PacketBuffer::new(bytes);
        self
    }

    /// The protocol version spoken.
    pub fn version(&self) -> Version {
        self.version
    }

    /// True between an accepting CONNACK and [`Mqtt::disconnect`].
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Subscribes, unsubscribes and QoS 1/2 publishes still waiting for the broker.
    ///
    /// ```
    /// assert_eq!(volley_sdk::mqtt::Mqtt::v311("c").in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Send CONNECT, timed as the request [`CONNECT_REQUEST`] until CONNACK.
    pub fn connect(&mut self, ctx: &mut Context) {
        let v5 = self.version == Version::V5;
        let properties = if v5 {
            Properties {
                session_expiry_interval: self.session_expiry,
                topic_alias_maximum: (self.topic_alias_maximum > 0)
                    .then_some(self.topic_alias_maximum),
                ..Properties::default()
            }
        } else {
            Properties::default()
        };
        let connect = Packet::Connect(Connect {
            version: self.version,
            client_id: self.client_id.clone(),
            clean_start: self.clean_start,
            keep_alive: u16::try_from(self.keep_alive.as_secs()).unwrap_or(u16::MAX),
            username: self.credentials.as_ref().map(|(user, _)| user.clone()),
            password: self
                .credentials
                .as_ref()
                .and_then(|(_, password)| password.clone()),
            will: self.will.clone(),
            properties,
        });
        ctx.named_request_binary(
            CONNECT_REQUEST,
            CONNECT_REQUEST,
            &connect.encode(self.version),
            self.timeout,
        );
    }

    /// Subscribe to `filter` (wildcards `+` and `#`) at up to `qos`, timed as the request
    /// [`SUBSCRIBE_REQUEST`] until SUBACK. Returns the packet identifier, or `None` when none is
    /// free (65,535 requests in flight).
    pub fn subscribe(&mut self, ctx: &mut Context, filter: &str, qos: QoS) -> Option<u16> {
        self.subscribe_many(ctx, &[Subscription::new(filter, qos)])
    }

    /// Subscribe to several filters, with their options, in one SUBSCRIBE.
    pub fn subscribe_many(
        &mut self,
        ctx: &mut Context,
        subscriptions: &[Subscription],
    ) -> Option<u16> {
        let id = self.allocate(ctx, InFlight::Subscribe)?;
        let packet = Packet::Subscribe(Subscribe {
            packet_id: id,
            subscriptions: subscriptions.to_vec(),
            properties: Properties::default(),
        });
        ctx.named_request_binary(
            SUBSCRIBE_REQUEST,
            &request_key(id),
            &packet.encode(self.version),
            self.timeout,
        );
        Some(id)
    }

    /// Unsubscribe from `filters`, timed as the request [`UNSUBSCRIBE_REQUEST`] until UNSUBACK.
    pub fn unsubscribe(&mut self, ctx: &mut Context, filters: &[&str]) -> Option<u16> {
        let id = self.allocate(ctx, InFlight::Unsubscribe)?;
        let packet = Packet::Unsubscribe(Unsubscribe {
            packet_id: id,
            filters: filters.iter().map(|filter| (*filter).to_owned()).collect(),
            properties: Properties::default(),
        });
        ctx.named_request_binary(
            UNSUBSCRIBE_REQUEST,
            &request_key(id),
            &packet.encode(self.version),
            self.timeout,
        );
        Some(id)
    }

    /// Publish `payload` to `topic`. QoS 0 is sent and forgotten (returns `None`); QoS 1 is timed
    /// as the request [`PUBLISH_QOS1_REQUEST`] until PUBACK, QoS 2 as [`PUBLISH_QOS2_REQUEST`]
    /// until PUBCOMP (the PUBREL between is sent by the layer); both return the packet identifier
    /// (`None` when none is free: a failed check is recorded and nothing sent).
    ///
    /// ```
    /// use volley_sdk::mqtt::{Mqtt, QoS};
    /// use volley_sdk::{Context, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let mut mqtt = Mqtt::v311("c");
    /// assert_eq!(mqtt.publish(&mut Context::new(&mut host), "t", b"x", QoS::AtMostOnce, true), None);
    /// assert_eq!(host.sent_binaries(), vec![&[0x31, 0x04, 0x00, 0x01, b't', b'x'][..]]);
    /// assert_eq!(mqtt.publish(&mut Context::new(&mut host), "t", b"x", QoS::ExactlyOnce, false), Some(1));
    /// assert_eq!(host.request_names(), vec![("mqtt#1", "mqtt publish qos2")]);
    /// ```
    pub fn publish(
        &mut self,
        ctx: &mut Context,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Option<u16> {
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            _ => Some(self.allocate(ctx, InFlight::Publish(qos))?),
        };
        let packet = Packet::Publish(Publish {
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            qos,
            retain,
            dup: false,
            packet_id,
            properties: Properties::default(),
        });
        let bytes = packet.encode(self.version);
        match packet_id {
            None => ctx.send_binary(&bytes),
            Some(id) => {
                let name = if qos == QoS::AtLeastOnce {
                    PUBLISH_QOS1_REQUEST
                } else {
                    PUBLISH_QOS2_REQUEST
                };
                ctx.named_request_binary(name, &request_key(id), &bytes, self.timeout);
            }
        }
        packet_id
    }

    /// Send DISCONNECT (the broker then drops the will) and stop the keep-alive timer. Close the
    /// WebSocket afterwards.
    ///
    /// ```
    /// use volley_sdk::mqtt::Mqtt;
    /// use volley_sdk::{Context, testing::TestHost};
    /// let mut host = TestHost::new();
    /// Mqtt::v311("c").disconnect(&mut Context::new(&mut host));
    /// assert_eq!(host.sent_binaries(), vec![&[0xE0, 0x00][..]]);
    /// ```
    pub fn disconnect(&mut self, ctx: &mut Context) {
        ctx.send_binary(&Packet::Disconnect(Disconnect::default()).encode(self.version));
        ctx.cancel_timer(KEEPALIVE_TIMER);
        self.connected = false;
    }

    /// Handle one WebSocket message: it may hold several packets or part of one (the rest is
    /// kept for the next message). Acknowledgements owed to the broker (PUBACK, PUBREC, PUBREL,
    /// PUBCOMP) are sent here. A message that is not MQTT (text, a malformed packet, a packet
    /// larger than the limit) records the check [`PACKET_CHECK`] as failed, logs the reason and is
    /// returned as a [`ProtocolError`]; it never panics. Refusals (reason codes) are events and
    /// failed checks named `mqtt connect: REASON`, `mqtt subscribe: REASON` or
    /// `mqtt publish: REASON`.
    ///
    /// ```
    /// use volley_sdk::mqtt::{Event, Mqtt};
    /// use volley_sdk::{Context, Message, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let mut mqtt = Mqtt::v311("c");
    /// // CONNACK refusing with "not authorized", then PINGRESP, in one message.
    /// let events = mqtt.on_message(&mut Context::new(&mut host), &Message::Binary(vec![0x20, 2, 0, 5, 0xD0, 0]));
    /// assert_eq!(events.unwrap().len(), 2);
    /// assert_eq!(host.failed_checks(), vec!["mqtt connect: Connection Refused, not authorized"]);
    /// let broken = mqtt.on_message(&mut Context::new(&mut host), &Message::Binary(vec![0xF0, 0]));
    /// assert_eq!(broken.unwrap_err().reason(), "unknown packet type 15");
    /// ```
    pub fn on_message(
        &mut self,
        ctx: &mut Context,
        message: &Message,
    ) -> Result<Vec<Event>, ProtocolError> {
        let result = match message {
            Message::Binary(data) => self.packets(ctx, data),
            Message::Text(text) => Err(ProtocolError::new(
                PROTOCOL,
                "a text message (MQTT over WebSocket is binary)",
                text,
            )),
        };
        if let Err(error) = &result {
            ctx.check(PACKET_CHECK, false);
            ctx.log(LogLevel::Warn, &error.to_string());
        }
        result
    }

    /// Handle a timer: `true` when it was [`KEEPALIVE_TIMER`] (a PINGREQ is sent; if the last one
    /// is still unanswered the check [`PING_CHECK`] fails and the connection closes), `false` for
    /// the scenario's own timers.
    pub fn on_timer(&mut self, ctx: &mut Context, timer: u32) -> bool {
        if timer != KEEPALIVE_TIMER {
            return false;
        }
        if self.ping_outstanding {
            ctx.check(PING_CHECK, false);
            ctx.log(
                LogLevel::Warn,
                "mqtt: no PINGRESP within the keep alive; closing",
            );
            ctx.close(1000, "mqtt ping timeout");
            return true;
        }
        ctx.send_binary(&Packet::PingReq.encode(self.version));
        self.ping_outstanding = true;
        self.arm_keep_alive(ctx);
        true
    }

    /// Handle a reply timeout: what it was when `key` is one of this client's requests (the
    /// runner already counted the timeout; the packet identifier is free again), `None` for the
    /// scenario's own keys.
    pub fn on_reply_timeout(&mut self, _ctx: &mut Context, key: &str) -> Option<TimedOut> {
        if key == CONNECT_REQUEST {
            return Some(TimedOut::Connect);
        }
        let id: u16 = key.strip_prefix("mqtt#")?.parse().ok()?;
        Some(match self.in_flight.remove(&id)? {
            InFlight::Subscribe => TimedOut::Subscribe(id),
            InFlight::Unsubscribe => TimedOut::Unsubscribe(id),
            InFlight::Publish(qos) => TimedOut::Publish(id, qos),
        })
    }

    fn arm_keep_alive(&self, ctx: &mut Context) {
        if !self.keep_alive.is_zero() {
            ctx.set_timer(KEEPALIVE_TIMER, self.keep_alive);
        }
    }

    /// A free packet identifier (1..=65535) now waiting for `what`.
    fn allocate(&mut self, ctx: &mut Context, what: InFlight) -> Option<u16> {
        for _ in 0..u16::MAX {
            self.next_id = self.next_id.checked_add(1).unwrap_or(1);
            if let std::collections::btree_map::Entry::Vacant(entry) =
                self.in_flight.entry(self.next_id)
            {
                entry.insert(what);
                return Some(self.next_id);
            }
        }
        ctx.check("mqtt packet identifier free", false);
        None
    }

    fn packets(&mut self, ctx: &mut Context, data: &[u8]) -> Result<Vec<Event>, ProtocolError> {
        self.buffer.push(data);
        let mut events = Vec::new();
        loop {
            let frame = match self.buffer.next_packet() {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(events),
                Err(error) => return Err(self.decode_error(error, data)),
            };
            let packet = Packet::decode(&frame, self.version)
                .map_err(|error| self.decode_error(error, data))?;
            if let Some(event) = self.handle(ctx, packet, data)? {
                events.push(event);
            }
        }
    }

    fn decode_error(&mut self, error: DecodeError, data: &[u8]) -> ProtocolError {
        // The stream cannot be trusted past a bad packet: drop what is buffered.
        self.buffer.clear();
        ProtocolError::new(PROTOCOL, error.to_string(), &hex(data))
    }

    fn refused(&self, ctx: &mut Context, what: &str, connack: bool, code: u8) -> String {
        let reason = reason_name(self.version, connack, code);
        ctx.check(&format!("mqtt {what}: {reason}"), false);
        ctx.log(
            LogLevel::Warn,
            &format!("mqtt: {what} refused by the broker: {reason} ({code:#04x})"),
        );
        reason
    }

    fn handle(
        &mut self,
        ctx: &mut Context,
        packet: Packet,
        data: &[u8],
    ) -> Result<Option<Event>, ProtocolError> {
        let unexpected = |packet: &Packet| {
            Err(ProtocolError::new(
                PROTOCOL,
                format!("{} is not sent by a broker", packet.name()),
                &hex(data),
            ))
        };
        Ok(Some(match packet {
            Packet::ConnAck(ack) => {
                let round_trip = ctx.complete(CONNECT_REQUEST);
                let refused = match self.version {
                    Version::V311 => ack.code != 0,
                    Version::V5 => ack.code >= 0x80,
                };
                if refused {
                    let reason = self.refused(ctx, "connect", true, ack.code);
                    return Ok(Some(Event::ConnectRefused { reason }));
                }
                self.connected = true;
                if let Some(seconds) = ack.properties.server_keep_alive {
                    self.keep_alive = Duration::from_secs(u64::from(seconds));
                }
                self.arm_keep_alive(ctx);
                Event::Connected {
                    session_present: ack.session_present,
                    assigned_client_id: ack.properties.assigned_client_identifier,
                    round_trip,
                }
            }
            Packet::Publish(publish) => return self.incoming(ctx, publish, data),
            Packet::PubAck(ack) => return Ok(self.acknowledged(ctx, &ack, QoS::AtLeastOnce)),
            Packet::PubRec(ack) => {
                if self.version == Version::V5 && ack.code >= 0x80 {
                    return Ok(self.acknowledged(ctx, &ack, QoS::ExactlyOnce));
                }
                // Always released: a PUBREC for a publish whose reply deadline passed still
                // holds state in the broker until PUBREL.
                let known = self.in_flight.contains_key(&ack.packet_id);
                let mut release = Ack::of(ack.packet_id);
                if !known && self.version == Version::V5 {
                    release.code = 0x92; // Packet Identifier not found
                }
                ctx.send_binary(&Packet::PubRel(release).encode(self.version));
                return Ok(None);
            }
            Packet::PubRel(ack) => {
                self.incoming_qos2.remove(&ack.packet_id);
                let complete = Packet::PubComp(Ack::of(ack.packet_id));
                ctx.send_binary(&complete.encode(self.version));
                return Ok(None);
            }
            Packet::PubComp(ack) => return Ok(self.acknowledged(ctx, &ack, QoS::ExactlyOnce)),
            Packet::SubAck(ack) => {
                let round_trip = ctx.complete(&request_key(ack.packet_id));
                if self.in_flight.remove(&ack.packet_id).is_none() {
                    return Ok(None);
                }
                let granted = ack
                    .codes
                    .iter()
                    .map(|&code| match QoS::from_bits(code) {
                        Ok(qos) => Ok(qos),
                        Err(_) => Err(self.refused(ctx, "subscribe", false, code)),
                    })
                    .collect();
                Event::Subscribed {
                    packet_id: ack.packet_id,
                    granted,
                    round_trip,
                }
            }
            Packet::UnsubAck(ack) => {
                let round_trip = ctx.complete(&request_key(ack.packet_id));
                if self.in_flight.remove(&ack.packet_id).is_none() {
                    return Ok(None);
                }
                for &code in &ack.codes {
                    if code >= 0x80 {
                        self.refused(ctx, "unsubscribe", false, code);
                    }
                }
                Event::Unsubscribed {
                    packet_id: ack.packet_id,
                    round_trip,
                }
            }
            Packet::PingResp => {
                self.ping_outstanding = false;
                Event::Pong
            }
            Packet::Disconnect(disconnect) => {
                self.connected = false;
                ctx.cancel_timer(KEEPALIVE_TIMER);
                let reason = if disconnect.code >= 0x80 {
                    self.refused(ctx, "session", false, disconnect.code)
                } else {
                    reason_name(self.version, false, disconnect.code)
                };
                Event::Disconnected { reason }
            }
            other @ (Packet::Connect(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq) => return unexpected(&other),
        }))
    }

    /// PUBACK (QoS 1) or PUBCOMP / failing PUBREC (QoS 2) of one of this client's publishes.
    fn acknowledged(&mut self, ctx: &mut Context, ack: &Ack, qos: QoS) -> Option<Event> {
        let round_trip = ctx.complete(&request_key(ack.packet_id));
        if self.in_flight.get(&ack.packet_id) != Some(&InFlight::Publish(qos)) {
            return None; // its deadline passed (counted as a reply timeout) or not ours
        }
        self.in_flight.remove(&ack.packet_id);
        if ack.code >= 0x80 {
            let reason = self.refused(ctx, "publish", false, ack.code);
            return Some(Event::PublishRefused {
                packet_id: ack.packet_id,
                reason,
            });
        }
        Some(Event::Published {
            packet_id: ack.packet_id,
            qos,
            round_trip,
        })
    }

    /// An application message from the broker: resolve its topic alias, acknowledge it, and
    /// deliver it unless it repeats a QoS 2 message not yet released.
    fn incoming(
        &mut self,
        ctx: &mut Context,
        publish: Publish,
        data: &[u8],
    ) -> Result<Option<Event>, ProtocolError> {
        let topic = match publish.properties.topic_alias {
            None => publish.topic,
            Some(alias) if alias == 0 || alias > self.topic_alias_maximum => {
                return Err(ProtocolError::new(
                    PROTOCOL,
                    format!(
                        "topic alias {alias} outside 1..={} (the maximum this client announced)",
                        self.topic_alias_maximum
                    ),
                    &hex(data),
                ));
            }
            Some(alias) if publish.topic.is_empty() => match self.aliases.get(&alias) {
                Some(topic) => topic.clone(),
                None => {
                    return Err(ProtocolError::new(
                        PROTOCOL,
                        format!("topic alias {alias} used before it was set"),
                        &hex(data),
                    ));
                }
            },
            Some(alias) => {
                self.aliases.insert(alias, publish.topic.clone());
                publish.topic
            }
        };
        let mut deliver = true;
        match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => {
                ctx.send_binary(&Packet::PubAck(Ack::of(id)).encode(self.version));
            }
            (QoS::ExactlyOnce, Some(id)) => {
                deliver = self.incoming_qos2.insert(id);
                ctx.send_binary(&Packet::PubRec(Ack::of(id)).encode(self.version));
            }
            _ => {}
        }
        Ok(deliver.then_some(Event::Message(Received {
            topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            dup: publish.dup,
        })))
    }
}

/// The start of `data` in hex, for error messages.
fn hex(data: &[u8]) -> String {
    data.iter()
        .take(48)
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{ConnAck, SubAck};
    use crate::testing::{Action, TestHost};

    fn feed(
        mqtt: &mut Mqtt,
        host: &mut TestHost,
        bytes: &[u8],
    ) -> Result<Vec<Event>, ProtocolError> {
        mqtt.on_message(&mut Context::new(host), &Message::Binary(bytes.to_vec()))
    }

    fn encoded(packet: Packet, version: Version) -> Vec<u8> {
        packet.encode(version)
    }

    fn connected(version: Version) -> (Mqtt, TestHost) {
        let mut host = TestHost::new();
        let mut mqtt = Mqtt::new(version, "c").with_keep_alive(Duration::from_secs(10));
        mqtt.connect(&mut Context::new(&mut host));
        let connack = encoded(
            Packet::ConnAck(ConnAck {
                session_present: false,
                code: 0,
                properties: Properties::default(),
            }),
            version,
        );
        assert!(matches!(
            feed(&mut mqtt, &mut host, &connack).as_deref(),
            Ok([Event::Connected { .. }])
        ));
        (mqtt, host)
    }

    fn incoming(topic: &str, qos: QoS, id: Option<u16>, properties: Properties) -> Publish {
        Publish {
            topic: topic.into(),
            payload: b"p".to_vec(),
            qos,
            retain: false,
            dup: false,
            packet_id: id,
            properties,
        }
    }

    #[test]
    fn connect_carries_every_option_and_is_timed() {
        let mut host = TestHost::new();
        let mut mqtt = Mqtt::v5("dev-1")
            .with_keep_alive(Duration::from_secs(30))
            .with_clean_start(false)
            .with_credentials("u", Some(b"p"))
            .with_will("gone/dev-1", b"bye", QoS::AtLeastOnce, true)
            .with_session_expiry(Duration::from_secs(120))
            .with_topic_alias_maximum(8);
        mqtt.connect(&mut Context::new(&mut host));
        assert_eq!(
            host.request_names(),
            vec![(CONNECT_REQUEST, CONNECT_REQUEST)]
        );
        let sent = host.sent_binaries()[0].to_vec();
        let mut buffer = PacketBuffer::new(1024);
        buffer.push(&sent);
        let frame = buffer.next_packet().ok().flatten();
        let decoded = frame.map(|frame| Packet::decode(&frame, Version::V5));
        let Some(Ok(Packet::Connect(connect))) = decoded else {
            panic!("not a CONNECT: {sent:02x?}");
        };
        assert_eq!(connect.client_id, "dev-1");
        assert!(!connect.clean_start);
        assert_eq!(connect.keep_alive, 30);
        assert_eq!(connect.username.as_deref(), Some("u"));
        assert_eq!(connect.password.as_deref(), Some(&b"p"[..]));
        assert_eq!(
            connect.will.map(|will| will.topic),
            Some("gone/dev-1".into())
        );
        assert_eq!(connect.properties.session_expiry_interval, Some(120));
        assert_eq!(connect.properties.topic_alias_maximum, Some(8));
    }

    #[test]
    fn connack_arms_keep_alive_and_pings_until_one_goes_unanswered() {
        let (mut mqtt, mut host) = connected(Version::V311);
        assert!(mqtt.is_connected());
        assert!(
            host.actions
                .contains(&Action::SetTimer(KEEPALIVE_TIMER, Duration::from_secs(10)))
        );
        assert!(mqtt.on_timer(&mut Context::new(&mut host), KEEPALIVE_TIMER));
        assert_eq!(host.sent_binaries().last(), Some(&&[0xC0, 0x00][..]));
        assert!(matches!(
            feed(&mut mqtt, &mut host, &[0xD0, 0x00]).as_deref(),
            Ok([Event::Pong])
        ));
        mqtt.on_timer(&mut Context::new(&mut host), KEEPALIVE_TIMER);
        assert!(host.failed_checks().is_empty());
        mqtt.on_timer(&mut Context::new(&mut host), KEEPALIVE_TIMER);
        assert_eq!(host.failed_checks(), vec![PING_CHECK]);
        assert!(matches!(host.actions.last(), Some(Action::Close(1000, _))));
        assert!(!mqtt.on_timer(&mut Context::new(&mut host), 3));
    }

    #[test]
    fn a_v5_server_keep_alive_replaces_ours() {
        let mut host = TestHost::new();
        let mut mqtt = Mqtt::v5("c");
        let connack = encoded(
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: 0,
                properties: Properties {
                    server_keep_alive: Some(5),
                    assigned_client_identifier: Some("auto".into()),
                    ..Properties::default()
                },
            }),
            Version::V5,
        );
        let events = feed(&mut mqtt, &mut host, &connack);
        assert!(matches!(
            events.as_deref(),
            Ok([Event::Connected { session_present: true, assigned_client_id: Some(id), .. }]) if id == "auto"
        ));
        assert!(
            host.actions
                .contains(&Action::SetTimer(KEEPALIVE_TIMER, Duration::from_secs(5)))
        );
    }

    #[test]
    fn refusals_are_failed_checks_named_after_the_reason() {
        let mut host = TestHost::new();
        let mut mqtt = Mqtt::v5("c");
        mqtt.connect(&mut Context::new(&mut host));
        let events = feed(&mut mqtt, &mut host, &[0x20, 0x03, 0x00, 0x86, 0x00]);
        assert_eq!(
            events,
            Ok(vec![Event::ConnectRefused {
                reason: "Bad User Name or Password".into()
            }])
        );
        assert!(!mqtt.is_connected());
        let (mut mqtt, mut host) = connected(Version::V5);
        let id = mqtt.subscribe(&mut Context::new(&mut host), "a/#", QoS::ExactlyOnce);
        let published = mqtt.publish(
            &mut Context::new(&mut host),
            "a/b",
            b"x",
            QoS::AtLeastOnce,
            false,
        );
        let suback = encoded(
            Packet::SubAck(SubAck {
                packet_id: id.unwrap_or(0),
                codes: vec![0x97],
                properties: Properties::default(),
            }),
            Version::V5,
        );
        let puback = encoded(
            Packet::PubAck(Ack {
                packet_id: published.unwrap_or(0),
                code: 0x87,
                properties: Properties::default(),
            }),
            Version::V5,
        );
        let events = feed(&mut mqtt, &mut host, &[suback, puback].concat());
        assert!(matches!(
            events.as_deref(),
            Ok([
                Event::Subscribed { granted, .. },
                Event::PublishRefused { reason, .. },
            ]) if granted == &[Err("Quota exceeded".to_owned())] && reason == "Not authorized"
        ));
        assert_eq!(
            host.failed_checks(),
            vec![
                "mqtt subscribe: Quota exceeded",
                "mqtt publish: Not authorized"
            ]
        );
        assert_eq!(mqtt.in_flight(), 0);
    }

    #[test]
    fn qos1_and_qos2_publishes_are_timed_to_puback_and_pubcomp() {
        let (mut mqtt, mut host) = connected(Version::V311);
        let one = mqtt.publish(
            &mut Context::new(&mut host),
            "t",
            b"1",
            QoS::AtLeastOnce,
            false,
        );
        let two = mqtt.publish(
            &mut Context::new(&mut host),
            "t",
            b"2",
            QoS::ExactlyOnce,
            false,
        );
        assert_eq!((one, two), (Some(1), Some(2)));
        assert_eq!(
            host.request_names()[1..],
            [
                ("mqtt#1", PUBLISH_QOS1_REQUEST),
                ("mqtt#2", PUBLISH_QOS2_REQUEST)
            ]
        );
        host.now = Duration::from_millis(4);
        let events = feed(
            &mut mqtt,
            &mut host,
            &[0x40, 0x02, 0x00, 0x01, 0x50, 0x02, 0x00, 0x02],
        );
        assert_eq!(
            events,
            Ok(vec![Event::Published {
                packet_id: 1,
                qos: QoS::AtLeastOnce,
                round_trip: Some(Duration::from_millis(4))
            }])
        );
        // PUBREC answered with PUBREL; the request stays pending until PUBCOMP.
        assert_eq!(
            host.sent_binaries().last(),
            Some(&&[0x62, 0x02, 0x00, 0x02][..])
        );
        assert!(host.pending.contains_key("mqtt#2"));
        let events = feed(&mut mqtt, &mut host, &[0x70, 0x02, 0x00, 0x02]);
        assert!(matches!(
            events.as_deref(),
            Ok([Event::Published {
                packet_id: 2,
                qos: QoS::ExactlyOnce,
                round_trip: Some(_)
            }])
        ));
        assert_eq!(mqtt.in_flight(), 0);
        // A late PUBCOMP for nothing in flight is ignored.
        assert_eq!(
            feed(&mut mqtt, &mut host, &[0x70, 0x02, 0x00, 0x02]),
            Ok(vec![])
        );
    }

    #[test]
    fn incoming_qos1_and_qos2_are_acknowledged_and_qos2_delivered_once() {
        let (mut mqtt, mut host) = connected(Version::V311);
        let qos1 = encoded(
            Packet::Publish(incoming(
                "a",
                QoS::AtLeastOnce,
                Some(7),
                Properties::default(),
            )),
            Version::V311,
        );
        let events = feed(&mut mqtt, &mut host, &qos1);
        assert!(matches!(
            events.as_deref(),
            Ok([Event::Message(Received {
                qos: QoS::AtLeastOnce,
                ..
            })])
        ));
        assert_eq!(
            host.sent_binaries().last(),
            Some(&&[0x40, 0x02, 0x00, 0x07][..])
        );
        let qos2 = encoded(
            Packet::Publish(incoming(
                "a",
                QoS::ExactlyOnce,
                Some(8),
                Properties::default(),
            )),
            Version::V311,
        );
        assert_eq!(
            feed(&mut mqtt, &mut host, &qos2).map(|events| events.len()),
            Ok(1)
        );
        assert_eq!(
            host.sent_binaries().last(),
            Some(&&[0x50, 0x02, 0x00, 0x08][..])
        );
        // The broker repeats it before PUBREL: acknowledged again, not delivered again.
        assert_eq!(
            feed(&mut mqtt, &mut host, &qos2).map(|events| events.len()),
            Ok(0)
        );
        assert_eq!(
            feed(&mut mqtt, &mut host, &[0x62, 0x02, 0x00, 0x08]),
            Ok(vec![])
        );
        assert_eq!(
            host.sent_binaries().last(),
            Some(&&[0x70, 0x02, 0x00, 0x08][..])
        );
        // Released: the same id is a new message.
        assert_eq!(
            feed(&mut mqtt, &mut host, &qos2).map(|events| events.len()),
            Ok(1)
        );
    }

    #[test]
    fn packets_split_across_and_packed_into_messages_come_out_whole() {
        let (mut mqtt, mut host) = connected(Version::V311);
        let mut stream = Vec::new();
        for n in 0..3u8 {
            let publish = incoming(
                &format!("t/{n}"),
                QoS::AtMostOnce,
                None,
                Properties::default(),
            );
            stream.extend(encoded(Packet::Publish(publish), Version::V311));
        }
        let mut topics = Vec::new();
        for chunk in stream.chunks(4) {
            for event in feed(&mut mqtt, &mut host, chunk).unwrap_or_default() {
                if let Event::Message(received) = event {
                    topics.push(received.topic);
                }
            }
        }
        assert_eq!(topics, ["t/0", "t/1", "t/2"]);
        assert!(host.failed_checks().is_empty());
    }

    #[test]
    fn topic_aliases_from_the_broker_are_resolved() {
        let mut host = TestHost::new();
        let mut mqtt = Mqtt::v5("c").with_topic_alias_maximum(2);
        let with_alias = |topic: &str, alias: u16| {
            encoded(
                Packet::Publish(incoming(
                    topic,
                    QoS::AtMostOnce,
                    None,
                    Properties {
                        topic_alias: Some(alias),
                        ..Properties::default()
                    },
                )),
                Version::V5,
            )
        };
        let topic_of = |events: Result<Vec<Event>, ProtocolError>| match events.as_deref() {
            Ok([Event::Message(received)]) => Some(received.topic.clone()),
            _ => None,
        };
        let set = feed(&mut mqtt, &mut host, &with_alias("long/topic", 1));
        assert_eq!(topic_of(set), Some("long/topic".into()));
        let used = feed(&mut mqtt, &mut host, &with_alias("", 1));
        assert_eq!(topic_of(used), Some("long/topic".into()));
        let unset = feed(&mut mqtt, &mut host, &with_alias("", 2));
        assert_eq!(
            unset.map_err(|error| error.reason().to_owned()),
            Err("topic alias 2 used before it was set".into())
        );
        let beyond = feed(&mut mqtt, &mut host, &with_alias("x", 3));
        assert!(beyond.is_err());
        assert_eq!(host.failed_checks(), vec![PACKET_CHECK, PACKET_CHECK]);
    }

    #[test]
    fn malformed_input_is_a_failed_check_never_a_panic() {
        let inputs: &[&[u8]] = &[
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], // remaining length of 5 bytes
            &[0x00, 0x00],                         // packet type 0
            &[0x30, 0x04, 0x00, 0x02, 0xFF, 0xFE], // topic not UTF-8
            &[0x20, 0x01, 0x00],                   // truncated CONNACK
            &[0x10, 0x00],                         // CONNECT from the broker
        ];
        for input in inputs {
            let (mut mqtt, mut host) = connected(Version::V311);
            assert!(feed(&mut mqtt, &mut host, input).is_err(), "{input:02x?}");
            assert_eq!(host.failed_checks(), vec![PACKET_CHECK], "{input:02x?}");
            // The buffer was dropped: a good packet afterwards is read as one.
            assert_eq!(
                feed(&mut mqtt, &mut host, &[0xD0, 0x00]),
                Ok(vec![Event::Pong])
            );
        }
        let mut host = TestHost::new();
        let text =
            Mqtt::v311("c").on_message(&mut Context::new(&mut host), &Message::Text("hi".into()));
        assert!(text.is_err());
        let big = Mqtt::v311("c").with_max_packet_size(16).on_message(
            &mut Context::new(&mut host),
            &Message::Binary(vec![0x30, 0x20]),
        );
        assert_eq!(
            big.map_err(|error| error.reason().to_owned()),
            Err("packet of 34 bytes exceeds the limit of 16 bytes".into())
        );
    }

    #[test]
    fn reply_timeouts_free_the_packet_identifier() {
        let (mut mqtt, mut host) = connected(Version::V311);
        mqtt.subscribe(&mut Context::new(&mut host), "a", QoS::AtMostOnce);
        mqtt.unsubscribe(&mut Context::new(&mut host), &["a"]);
        mqtt.publish(
            &mut Context::new(&mut host),
            "a",
            b"",
            QoS::ExactlyOnce,
            false,
        );
        let mut timed_out = Vec::new();
        for key in [
            "mqtt#1",
            "mqtt#2",
            "mqtt#3",
            "mqtt#3",
            "mine",
            CONNECT_REQUEST,
        ] {
            timed_out.push(mqtt.on_reply_timeout(&mut Context::new(&mut host), key));
        }
        assert_eq!(
            timed_out,
            [
                Some(TimedOut::Subscribe(1)),
                Some(TimedOut::Unsubscribe(2)),
                Some(TimedOut::Publish(3, QoS::ExactlyOnce)),
                None,
                None,
                Some(TimedOut::Connect)
            ]
        );
        assert_eq!(mqtt.in_flight(), 0);
        // A late SUBACK for a forgotten id is ignored.
        assert_eq!(
            feed(&mut mqtt, &mut host, &[0x90, 0x03, 0x00, 0x01, 0x00]),
            Ok(vec![])
        );
    }

    #[test]
    fn a_v5_broker_disconnect_reports_its_reason() {
        let (mut mqtt, mut host) = connected(Version::V5);
        let events = feed(&mut mqtt, &mut host, &[0xE0, 0x01, 0x8B]);
        assert_eq!(
            events,
            Ok(vec![Event::Disconnected {
                reason: "Server shutting down".into()
            }])
        );
        assert_eq!(
            host.failed_checks(),
            vec!["mqtt session: Server shutting down"]
        );
        assert!(!mqtt.is_connected());
    }
}
