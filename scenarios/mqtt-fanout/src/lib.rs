//! MQTT fan-out through a broker over WebSocket (`scenarios/mqtt-fanout.yaml`): the var `role`
//! (`publisher` or `subscriber`, one per population of the file) picks the side; without it VU 0
//! publishes and every other VU subscribes. Each subscriber checks it got every message exactly
//! once and records the ones it never got in the metric `lost_messages`.
//!
//! The start is coordinated through the broker, not by a clock: each subscriber, once its
//! SUBACK is in, publishes a retained `ready` to `TOPIC/ready/VU`; the publisher subscribes to
//! `TOPIC/ready/+` (retained readies arrive even if it subscribed last), and when `subscribers`
//! distinct readies are in it clears them (empty retained messages) and publishes `messages`
//! messages to `TOPIC`, one every `interval_ms`, at `qos` (QoS 1 and 2 timed as the named requests
//! `mqtt publish qos1` / `mqtt publish qos2`). A payload is `SEQ WALL_US`, the publisher's wall
//! clock at the publish: each delivery records its latency `deliver` (`ctx.record_latency`; exact
//! between the connections of one machine, across machines as good as their clock sync).
//!
//! When the run ends a connection still open (its `duration`, Ctrl-C), its goodbye sends MQTT
//! DISCONNECT and closes: the broker then discards the connection's Will. With `will_topic` set,
//! every connection's CONNECT carries a Will (`gone SIDE-VU`, e.g. `gone sub-3`, to that topic), and `goodbye: false` skips
//! the DISCONNECT, so the broker publishes the Will of each connection the run ended.
//!
//! Checks: `every message delivered exactly once` (per subscriber), `every publish acknowledged`
//! (the publisher, QoS 1 and 2), `subscription granted`, and with `expect_retained`,
//! `late subscriber sees the retained message` (a message flagged retain on subscription is not
//! counted as a delivery). Vars: `messages` (10), `subscribers` (20: `load.connections` − 1),
//! `interval_ms` (10), `qos` (0), `retain` (false), `expect_retained` (false), `topic`
//! (`volley/fanout`), `mqtt` (`3.1.1` or `5`), `timeout_ms` (5000), `will_topic` (unset),
//! `goodbye` (true).

use std::collections::BTreeSet;
use std::time::Duration;
use volley_sdk::mqtt::{Event, Mqtt, QoS, Received, TimedOut, Version};
use volley_sdk::{Context, Message, Scenario};

/// The publisher's tick.
const TICK: u32 = 0;

/// Check names, as they appear in the results.
pub const DELIVERED: &str = "every message delivered exactly once";
/// See [`DELIVERED`].
pub const ACKNOWLEDGED: &str = "every publish acknowledged";
/// See [`DELIVERED`].
pub const GRANTED: &str = "subscription granted";
/// The custom metric of messages a subscriber never got (declare it `counter`: the run's total).
pub const LOST: &str = "lost_messages";
/// See [`DELIVERED`].
pub const RETAINED: &str = "late subscriber sees the retained message";

/// What the vars say.
#[derive(Debug, Clone)]
struct Plan {
    topic: String,
    messages: u32,
    subscribers: usize,
    interval: Duration,
    qos: QoS,
    retain: bool,
    expect_retained: bool,
    /// Say goodbye (DISCONNECT) when the run ends the connection.
    goodbye: bool,
}

impl Plan {
    fn read(ctx: &mut Context) -> Plan {
        let qos = match ctx.var_as::<u8>("qos").unwrap_or(0) {
            2 => QoS::ExactlyOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::AtMostOnce,
        };
        Plan {
            topic: ctx.var("topic").unwrap_or_else(|| "volley/fanout".into()),
            messages: ctx.var_as("messages").unwrap_or(10),
            subscribers: ctx.var_as("subscribers").unwrap_or(20),
            interval: Duration::from_millis(ctx.var_as("interval_ms").unwrap_or(10)),
            qos,
            retain: ctx.var_as("retain").unwrap_or(false),
            expect_retained: ctx.var_as("expect_retained").unwrap_or(false),
            goodbye: ctx.var_as("goodbye").unwrap_or(true),
        }
    }

    fn ready_topic(&self, vu: u32) -> String {
        format!("{}/ready/{vu}", self.topic)
    }
}

/// VU 0: waits for every subscriber's ready, then publishes.
#[derive(Debug, Default)]
struct Publisher {
    ready: BTreeSet<String>,
    started: bool,
    published: u32,
    acknowledged: u32,
    timed_out: u32,
}

/// Every other VU: subscribes, says ready, counts deliveries.
#[derive(Debug, Default)]
struct Subscriber {
    seen: BTreeSet<u32>,
    deliveries: u32,
    retained_seen: bool,
}

#[derive(Debug)]
enum Role {
    Publisher(Publisher),
    Subscriber(Subscriber),
}

/// Per-connection state.
#[derive(Debug)]
pub struct Fanout {
    mqtt: Mqtt,
    plan: Plan,
    role: Role,
    vu: u32,
    finished: bool,
}

impl Fanout {
    fn finish(&mut self, ctx: &mut Context) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.record_checks(ctx);
        self.mqtt.disconnect(ctx);
        ctx.close(1000, "done");
    }

    fn record_checks(&self, ctx: &mut Context) {
        match &self.role {
            Role::Publisher(publisher) => {
                if self.plan.qos != QoS::AtMostOnce {
                    ctx.check(ACKNOWLEDGED, publisher.acknowledged == self.plan.messages);
                }
            }
            Role::Subscriber(subscriber) => {
                let exact = subscriber.deliveries == self.plan.messages
                    && subscriber.seen.len() == self.plan.messages as usize;
                ctx.check(DELIVERED, exact);
                // Messages this subscriber never got (a counter when the file declares it).
                let lost = (self.plan.messages as usize).saturating_sub(subscriber.seen.len());
                ctx.metric(LOST, lost as f64);
                if self.plan.expect_retained {
                    ctx.check(RETAINED, subscriber.retained_seen);
                }
            }
        }
    }

    fn subscriber_done(&self) -> bool {
        match &self.role {
            Role::Subscriber(subscriber) => {
                subscriber.deliveries >= self.plan.messages
                    && (!self.plan.expect_retained || subscriber.retained_seen)
            }
            Role::Publisher(_) => false,
        }
    }

    fn publisher_done(&self) -> bool {
        match &self.role {
            Role::Publisher(publisher) => {
                publisher.started
                    && publisher.published == self.plan.messages
                    && (self.plan.qos == QoS::AtMostOnce
                        || publisher.acknowledged + publisher.timed_out == self.plan.messages)
            }
            Role::Subscriber(_) => false,
        }
    }

    fn on_event(&mut self, ctx: &mut Context, event: Event) {
        match event {
            Event::Connected { .. } => {
                let filter = match self.role {
                    Role::Publisher(_) => format!("{}/ready/+", self.plan.topic),
                    Role::Subscriber(_) => self.plan.topic.clone(),
                };
                self.mqtt.subscribe(ctx, &filter, self.plan.qos);
            }
            Event::ConnectRefused { reason } => ctx.close(1000, &reason),
            Event::Subscribed { granted, .. } => {
                ctx.check(GRANTED, granted.iter().all(Result::is_ok));
                if let Role::Subscriber(_) = self.role {
                    let ready = self.plan.ready_topic(self.vu);
                    self.mqtt
                        .publish(ctx, &ready, b"ready", QoS::AtMostOnce, true);
                }
            }
            Event::Published { .. } => {
                if let Role::Publisher(publisher) = &mut self.role {
                    publisher.acknowledged += 1;
                }
            }
            Event::Message(received) => self.received(ctx, received),
            Event::Disconnected { reason } => ctx.close(1000, &reason),
            _ => {}
        }
        if self.subscriber_done() || self.publisher_done() {
            self.finish(ctx);
        }
    }

    fn received(&mut self, ctx: &mut Context, received: Received) {
        match &mut self.role {
            Role::Publisher(publisher) => {
                if received.payload.is_empty() || publisher.started {
                    return; // its own clearing of the readies, or a ready from a late rerun
                }
                publisher.ready.insert(received.topic);
                if publisher.ready.len() >= self.plan.subscribers {
                    publisher.started = true;
                    for topic in std::mem::take(&mut publisher.ready) {
                        self.mqtt.publish(ctx, &topic, b"", QoS::AtMostOnce, true);
                    }
                    ctx.set_timer(TICK, Duration::ZERO);
                }
            }
            Role::Subscriber(subscriber) => {
                if received.retain {
                    subscriber.retained_seen = true;
                    return;
                }
                let Some((seq, sent_us)) = parse_payload(&received.payload) else {
                    ctx.check("payload is SEQ WALL_US", false);
                    return;
                };
                subscriber.deliveries += 1;
                subscriber.seen.insert(seq);
                ctx.record_latency("deliver", sent_us);
            }
        }
    }
}

/// `SEQ WALL_US` → the two numbers.
fn parse_payload(payload: &[u8]) -> Option<(u32, u64)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (seq, sent) = text.split_once(' ')?;
    Some((seq.parse().ok()?, sent.parse().ok()?))
}

impl Scenario for Fanout {
    fn open(ctx: &mut Context) -> Self {
        let plan = Plan::read(ctx);
        let vu = ctx.vu();
        let version = match ctx.var("mqtt").as_deref() {
            Some("5") => Version::V5,
            _ => Version::V311,
        };
        let timeout = Duration::from_millis(ctx.var_as("timeout_ms").unwrap_or(5000));
        // `role` picks the side (two populations of one file); without it VU 0 publishes.
        let publishes = match ctx.var("role").as_deref() {
            Some("publisher") => true,
            Some("subscriber") => false,
            _ => vu == 0,
        };
        let side = if publishes { "pub" } else { "sub" };
        let mut mqtt = Mqtt::new(version, &format!("volley-fanout-{side}-{vu}"))
            .with_keep_alive(Duration::from_secs(30))
            .with_timeout(timeout);
        if let Some(topic) = ctx.var("will_topic") {
            let gone = format!("gone {side}-{vu}");
            mqtt = mqtt.with_will(&topic, gone.as_bytes(), QoS::AtMostOnce, false);
        }
        mqtt.connect(ctx);
        let role = if publishes {
            Role::Publisher(Publisher::default())
        } else {
            Role::Subscriber(Subscriber::default())
        };
        Fanout {
            mqtt,
            plan,
            role,
            vu,
            finished: false,
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        match self.mqtt.on_message(ctx, &message) {
            Ok(events) => {
                for event in events {
                    self.on_event(ctx, event);
                }
            }
            // The layer recorded a failed check and logged why.
            Err(_) => ctx.close(1002, "not mqtt"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context, timer: u32) {
        if self.mqtt.on_timer(ctx, timer) || timer != TICK {
            return;
        }
        let Role::Publisher(publisher) = &mut self.role else {
            return;
        };
        if publisher.published < self.plan.messages {
            publisher.published += 1;
            let payload = format!("{} {}", publisher.published, ctx.wall_clock_us());
            let (topic, qos, retain) = (&self.plan.topic, self.plan.qos, self.plan.retain);
            self.mqtt
                .publish(ctx, topic, payload.as_bytes(), qos, retain);
            if publisher.published < self.plan.messages {
                ctx.set_timer(TICK, self.plan.interval);
            }
        }
        if self.publisher_done() {
            self.finish(ctx);
        }
    }

    fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
        if let Some(TimedOut::Publish(..)) = self.mqtt.on_reply_timeout(ctx, key)
            && let Role::Publisher(publisher) = &mut self.role
        {
            publisher.timed_out += 1;
        }
        if self.publisher_done() {
            self.finish(ctx);
        }
    }

    fn on_goodbye(&mut self, ctx: &mut Context) {
        // The run is ending this connection: DISCONNECT tells the broker it is a normal end (no
        // Will), then close the WebSocket. Without it the Close alone is an abnormal end to MQTT.
        if self.plan.goodbye && self.mqtt.is_connected() {
            self.mqtt.disconnect(ctx);
            ctx.close(1000, "goodbye");
        }
    }

    fn on_close(&mut self, ctx: &mut Context, _code: u16, _reason: &str) {
        // Closed before finishing (the run ended, the broker sent a Close): what was counted so
        // far is the verdict. A connection that fails (the broker died) gets no on_close; its
        // failure reason is the verdict.
        if !self.finished {
            self.finished = true;
            self.record_checks(ctx);
        }
    }
}

volley_sdk::export_scenario!(Fanout);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::mqtt::{Packet, Properties, Publish, SubAck};
    use volley_sdk::testing::{Action, TestHost};

    const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

    fn suback(id: u16, qos: u8) -> Vec<u8> {
        Packet::SubAck(SubAck {
            packet_id: id,
            codes: vec![qos],
            properties: Properties::default(),
        })
        .encode(Version::V311)
    }

    fn publish(topic: &str, payload: &[u8], retain: bool) -> Vec<u8> {
        Packet::Publish(Publish {
            topic: topic.into(),
            payload: payload.to_vec(),
            qos: QoS::AtMostOnce,
            retain,
            dup: false,
            packet_id: None,
            properties: Properties::default(),
        })
        .encode(Version::V311)
    }

    fn binary(host: &mut TestHost, fanout: &mut Fanout, bytes: &[u8]) {
        host.message(fanout, Message::Binary(bytes.to_vec()));
    }

    fn closed(host: &TestHost) -> bool {
        host.actions
            .iter()
            .any(|action| matches!(action, Action::Close(1000, _)))
    }

    #[test]
    fn a_subscriber_says_ready_then_counts_each_message_once() {
        let mut host = TestHost::new().with_var("messages", "2");
        host.vu = 3;
        let mut fanout: Fanout = host.open();
        binary(&mut host, &mut fanout, &CONNACK);
        binary(&mut host, &mut fanout, &suback(1, 0));
        assert_eq!(
            host.sent_binaries().last().copied(),
            Some(&publish("volley/fanout/ready/3", b"ready", true)[..])
        );
        binary(
            &mut host,
            &mut fanout,
            &publish("volley/fanout", b"7 0", true),
        );
        binary(
            &mut host,
            &mut fanout,
            &publish("volley/fanout", b"1 0", false),
        );
        assert!(!closed(&host));
        binary(
            &mut host,
            &mut fanout,
            &publish("volley/fanout", b"2 0", false),
        );
        assert_eq!(host.passed_checks(), vec![GRANTED, DELIVERED]);
        assert!(closed(&host));
    }

    #[test]
    fn a_delivery_records_its_latency_from_the_publishers_wall_clock_stamp() {
        let mut host = TestHost::new().with_var("messages", "2");
        host.vu = 2;
        host.wall_clock_us = 1_700_000_000_250_000;
        let mut fanout: Fanout = host.open();
        binary(&mut host, &mut fanout, &CONNACK);
        binary(
            &mut host,
            &mut fanout,
            &publish("volley/fanout", b"1 1700000000000000", false),
        );
        assert_eq!(host.latencies(), vec![("deliver", 250_000)]);
    }

    #[test]
    fn the_goodbye_disconnects_unless_told_not_to_and_a_will_is_offered_when_asked() {
        let mut host = TestHost::new().with_var("will_topic", "volley/will");
        host.vu = 1;
        let mut fanout: Fanout = host.open();
        // CONNECT's flags carry the Will (bit 2).
        let connect = host.sent_binaries()[0].to_vec();
        assert!(
            connect
                .windows(b"volley/will".len())
                .any(|w| w == b"volley/will")
        );
        binary(&mut host, &mut fanout, &CONNACK);
        host.goodbye(&mut fanout);
        assert_eq!(
            host.sent_binaries().last().copied(),
            Some(&[0xE0, 0x00][..])
        );
        assert!(
            host.actions
                .contains(&Action::Close(1000, "goodbye".into()))
        );

        let mut host = TestHost::new().with_var("goodbye", "false");
        host.vu = 1;
        let mut fanout: Fanout = host.open();
        binary(&mut host, &mut fanout, &CONNACK);
        let sent = host.sent_binaries().len();
        host.goodbye(&mut fanout);
        assert_eq!(host.sent_binaries().len(), sent);
        assert!(!closed(&host));
    }

    #[test]
    fn a_subscriber_closed_early_fails_its_delivery_check() {
        let mut host = TestHost::new().with_var("messages", "2");
        host.vu = 1;
        let mut fanout: Fanout = host.open();
        binary(&mut host, &mut fanout, &CONNACK);
        binary(
            &mut host,
            &mut fanout,
            &publish("volley/fanout", b"1 0", false),
        );
        binary(
            &mut host,
            &mut fanout,
            &publish("volley/fanout", b"1 0", false),
        );
        host.closed(&mut fanout, 1006, "gone");
        assert_eq!(host.failed_checks(), vec![DELIVERED]);
    }

    #[test]
    fn the_publisher_waits_for_every_ready_then_publishes_and_waits_for_acks() {
        let mut host = TestHost::new()
            .with_var("messages", "2")
            .with_var("subscribers", "2")
            .with_var("qos", "1");
        let mut fanout: Fanout = host.open();
        binary(&mut host, &mut fanout, &CONNACK);
        binary(&mut host, &mut fanout, &suback(1, 1));
        binary(
            &mut host,
            &mut fanout,
            &publish("volley/fanout/ready/1", b"ready", true),
        );
        binary(
            &mut host,
            &mut fanout,
            &publish("volley/fanout/ready/1", b"ready", true),
        );
        assert!(
            !host
                .actions
                .contains(&Action::SetTimer(TICK, Duration::ZERO))
        );
        binary(
            &mut host,
            &mut fanout,
            &publish("volley/fanout/ready/2", b"ready", false),
        );
        assert!(
            host.actions
                .contains(&Action::SetTimer(TICK, Duration::ZERO))
        );
        // The readies were cleared.
        let sent = host.sent_binaries();
        assert!(sent.contains(&&publish("volley/fanout/ready/1", b"", true)[..]));
        assert!(sent.contains(&&publish("volley/fanout/ready/2", b"", true)[..]));
        host.timer(&mut fanout, TICK);
        host.timer(&mut fanout, TICK);
        assert_eq!(
            host.request_names()[2..],
            [
                ("mqtt#2", "mqtt publish qos1"),
                ("mqtt#3", "mqtt publish qos1")
            ]
        );
        assert!(!closed(&host));
        binary(&mut host, &mut fanout, &[0x40, 0x02, 0x00, 0x02]);
        host.reply_timeout(&mut fanout, "mqtt#3");
        assert_eq!(host.failed_checks(), vec![ACKNOWLEDGED]);
        assert!(closed(&host));
    }
}
