//! STOMP chat fan-out for a STOMP 1.2 broker over WebSocket (RabbitMQ's `rabbitmq_web_stomp`;
//! `scenarios/stomp-chat.yaml`, two populations picked by the var `role`: `publisher` sends,
//! `subscriber` only listens; without `role` VU 0 sends). Every connection logs in, subscribes to
//! the topic `topic` (with a receipt, so the broker routes to it before anything is sent), records
//! the messages it never got in the metric `lost_messages`, and the sender sends `messages` chat
//! messages to `send_to` (default: the topic), one every `interval_ms`, each with a receipt: a
//! timed, named request `stomp receipt`. Every connection checks that each message arrives
//! exactly once (`chat message arrives once`, one check per delivery) and that all of them arrived
//! (`every chat message arrives`), then sends DISCONNECT with a receipt and closes.
//!
//! A topic only delivers to subscriptions that exist when a message is sent, so VU 0 waits for
//! the others: each other connection, once subscribed, announces `ready VU` on `TOPIC.ready`
//! every `announce_ms` until the first chat message arrives, and VU 0 starts sending when it has
//! heard `peers` distinct VUs (set `peers` to the number of connections minus one). No clock is
//! trusted to coordinate the start. A connection that has not seen every message after
//! `give_up_ms` fails `every chat message arrives` and closes.
//!
//! Vars: `topic` (`/topic/chat`), `send_to` (the topic), `peers` (0), `messages` (10),
//! `interval_ms` (10), `timeout_ms` (5000), `announce_ms` (100), `give_up_ms` (20000), `login`
//! and `passcode` (`guest`), `heart_beat_ms` (unset: the SDK's 10 s; set: offered both ways, and
//! the check `broker agreed to heart-beats both ways` records the broker's answer). A chat body is
//! `SEQ WALL_US`, the sender's wall clock at the send: each delivery records its latency `deliver`
//! (`ctx.record_latency`; exact between connections of one machine, across machines as good as
//! their clock sync).
//!
//! When the run ends a connection still open (its `duration`, Ctrl-C), its goodbye sends
//! DISCONNECT with a receipt (the named request `stomp disconnect`): the runner keeps the
//! connection until the receipt arrives (then it closes) or `load.goodbye_timeout` passes.

use std::collections::BTreeSet;
use std::time::Duration;
use volley_sdk::stomp::{AckMode, Delivery, Event, RECEIPT_REQUEST, Stomp};
use volley_sdk::{Context, LogLevel, Message, Scenario};

const SEND: u32 = 0;
const ANNOUNCE: u32 = 1;
const GIVE_UP: u32 = 2;

/// Vars read once at open.
struct Settings {
    topic: String,
    send_to: String,
    peers: usize,
    messages: u32,
    interval: Duration,
    timeout: Duration,
    announce: Duration,
    /// Set when `heart_beat_ms` is: the connection checks the broker agreed to heart-beats.
    heart_beat: Option<u64>,
}

/// Per-connection state.
pub struct Chat {
    stomp: Stomp,
    settings: Settings,
    /// Subscription receipts still awaited before this connection may announce (or send).
    subscribing: BTreeSet<String>,
    ready_subscription: Option<String>,
    peers_ready: BTreeSet<u32>,
    sending: bool,
    sent: u32,
    receipts_settled: u32,
    received: BTreeSet<u32>,
    finished: bool,
}

impl Chat {
    fn ready_topic(&self) -> String {
        format!("{}.ready", self.settings.topic)
    }

    /// `role: publisher` sends, `role: subscriber` does not (two populations of one file);
    /// without `role`, VU 0 sends.
    fn is_sender(ctx: &mut Context) -> bool {
        match ctx.var("role").as_deref() {
            Some("publisher") => true,
            Some("subscriber") => false,
            _ => ctx.vu() == 0,
        }
    }

    /// Record the messages this connection never got (the counter `lost_messages`).
    fn record_lost(&self, ctx: &mut Context) {
        let lost = self
            .settings
            .messages
            .saturating_sub(self.received.len() as u32);
        ctx.metric("lost_messages", f64::from(lost));
    }

    fn subscribed(&mut self, ctx: &mut Context) {
        if !self.subscribing.is_empty() {
            return;
        }
        if Chat::is_sender(ctx) {
            self.start_sending_when_ready(ctx);
        } else if self.received.is_empty() {
            ctx.set_timer(ANNOUNCE, Duration::ZERO);
        }
    }

    fn start_sending_when_ready(&mut self, ctx: &mut Context) {
        if !self.sending
            && self.subscribing.is_empty()
            && self.peers_ready.len() >= self.settings.peers
        {
            self.sending = true;
            ctx.set_timer(SEND, Duration::ZERO);
        }
    }

    fn delivered(&mut self, ctx: &mut Context, delivery: &Delivery) {
        let body = delivery.body_text().unwrap_or_default();
        if Some(delivery.subscription.as_str()) == self.ready_subscription.as_deref() {
            if let Some(vu) = body.strip_prefix("ready ").and_then(|vu| vu.parse().ok()) {
                self.peers_ready.insert(vu);
                self.start_sending_when_ready(ctx);
            }
            return;
        }
        // `SEQ WALL_US`: the sequence number and the sender's wall clock at the send.
        let mut parts = body.split(' ');
        let seq = parts.next().and_then(|seq| seq.parse::<u32>().ok());
        let sent_us = parts.next().and_then(|sent| sent.parse::<u64>().ok());
        if let Some(sent_us) = sent_us {
            ctx.record_latency("deliver", sent_us);
        }
        let new = seq.is_some_and(|seq| seq < self.settings.messages && self.received.insert(seq));
        ctx.check("chat message arrives once", new);
        if self.received.len() == 1 {
            ctx.cancel_timer(ANNOUNCE);
        }
        self.finish_if_done(ctx);
    }

    fn finish_if_done(&mut self, ctx: &mut Context) {
        let all_received = self.received.len() as u32 == self.settings.messages;
        let all_settled = !Chat::is_sender(ctx) || self.receipts_settled == self.settings.messages;
        if self.finished || !all_received || !all_settled {
            return;
        }
        self.finished = true;
        ctx.check("every chat message arrives", true);
        self.record_lost(ctx);
        ctx.cancel_timer(GIVE_UP);
        self.stomp.disconnect(ctx, self.settings.timeout);
    }
}

impl Scenario for Chat {
    fn open(ctx: &mut Context) -> Self {
        let topic = ctx.var("topic").unwrap_or_else(|| "/topic/chat".into());
        let settings = Settings {
            send_to: ctx.var("send_to").unwrap_or_else(|| topic.clone()),
            topic,
            peers: ctx.var_as("peers").unwrap_or(0),
            messages: ctx.var_as("messages").unwrap_or(10),
            interval: Duration::from_millis(ctx.var_as("interval_ms").unwrap_or(10)),
            timeout: Duration::from_millis(ctx.var_as("timeout_ms").unwrap_or(5000)),
            announce: Duration::from_millis(ctx.var_as("announce_ms").unwrap_or(100)),
            heart_beat: ctx.var_as("heart_beat_ms"),
        };
        let login = ctx.var("login").unwrap_or_else(|| "guest".into());
        let passcode = ctx.var("passcode").unwrap_or_else(|| "guest".into());
        let mut stomp = Stomp::new("/").with_login(&login, &passcode);
        if let Some(every) = settings.heart_beat {
            let every = Duration::from_millis(every);
            stomp = stomp.with_heart_beat(every, every);
        }
        stomp.connect(ctx, settings.timeout);
        let give_up = Duration::from_millis(ctx.var_as("give_up_ms").unwrap_or(20_000));
        ctx.set_timer(GIVE_UP, give_up);
        Chat {
            stomp,
            settings,
            subscribing: BTreeSet::new(),
            ready_subscription: None,
            peers_ready: BTreeSet::new(),
            sending: false,
            sent: 0,
            receipts_settled: 0,
            received: BTreeSet::new(),
            finished: false,
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        let events = match self.stomp.on_message(ctx, &message) {
            Ok(events) => events,
            // The layer recorded a failed check and logged why.
            Err(_) => return ctx.close(1002, "not stomp"),
        };
        for event in events {
            match event {
                Event::Connected {
                    send_heart_beats,
                    receive_heart_beats,
                    ..
                } => {
                    if self.settings.heart_beat.is_some_and(|every| every > 0) {
                        ctx.check(
                            "broker agreed to heart-beats both ways",
                            !send_heart_beats.is_zero() && !receive_heart_beats.is_zero(),
                        );
                    }
                    let timeout = self.settings.timeout;
                    let topic = self.settings.topic.clone();
                    let (_, receipt) =
                        self.stomp
                            .subscribe_with_receipt(ctx, &topic, AckMode::Auto, timeout);
                    self.subscribing.insert(receipt);
                    if Chat::is_sender(ctx) {
                        let ready = self.ready_topic();
                        let (id, receipt) =
                            self.stomp
                                .subscribe_with_receipt(ctx, &ready, AckMode::Auto, timeout);
                        self.ready_subscription = Some(id);
                        self.subscribing.insert(receipt);
                    }
                }
                Event::Receipt { receipt, name, .. } => {
                    if self.subscribing.remove(&receipt) {
                        self.subscribed(ctx);
                    } else if name == Some(RECEIPT_REQUEST) {
                        self.receipts_settled += 1;
                        self.finish_if_done(ctx);
                    }
                }
                Event::Message(delivery) => self.delivered(ctx, &delivery),
                Event::Disconnected { .. } => ctx.close(1000, "done"),
                // The failed check `stomp ERROR: …` is recorded; the broker closes the connection.
                Event::Error { .. } => ctx.close(1000, "stomp error"),
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context, timer: u32) {
        if self.stomp.on_timer(ctx, timer) {
            return;
        }
        match timer {
            SEND if self.sent < self.settings.messages => {
                let body = format!("{} {}", self.sent, ctx.wall_clock_us());
                let (send_to, timeout) = (self.settings.send_to.clone(), self.settings.timeout);
                self.stomp.send_with_receipt(ctx, &send_to, body, timeout);
                self.sent += 1;
                if self.sent < self.settings.messages {
                    ctx.set_timer(SEND, self.settings.interval);
                }
            }
            ANNOUNCE if self.received.is_empty() => {
                let (ready, vu) = (self.ready_topic(), ctx.vu());
                self.stomp.send(ctx, &ready, format!("ready {vu}"));
                ctx.set_timer(ANNOUNCE, self.settings.announce);
            }
            GIVE_UP => {
                ctx.check("every chat message arrives", false);
                self.record_lost(ctx);
                ctx.log(
                    LogLevel::Warn,
                    &format!(
                        "stomp-chat: {} of {} messages arrived, {} of {} peers ready; giving up",
                        self.received.len(),
                        self.settings.messages,
                        self.peers_ready.len(),
                        self.settings.peers
                    ),
                );
                ctx.close(1000, "gave up");
            }
            _ => {}
        }
    }

    fn on_goodbye(&mut self, ctx: &mut Context) {
        // The run is ending this connection: DISCONNECT with a receipt, unless finishing already
        // sent it. Its RECEIPT (`Event::Disconnected`) closes the connection.
        if !self.finished && self.stomp.is_connected() {
            self.finished = true;
            self.stomp.disconnect(ctx, self.settings.timeout);
        }
    }

    fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
        match self.stomp.on_reply_timeout(ctx, key) {
            Some(RECEIPT_REQUEST) => {
                self.receipts_settled += 1; // already counted as a reply timeout by the runner
                self.finish_if_done(ctx);
            }
            Some(_) => ctx.close(1000, "stomp timeout"),
            None => {}
        }
    }
}

volley_sdk::export_scenario!(Chat);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::{Action, TestHost};

    const CONNECTED: &str = "CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0";

    fn text(host: &mut TestHost, chat: &mut Chat, text: &str) {
        host.message(chat, Message::Text(text.into()));
    }

    fn message(subscription: &str, body: &str) -> String {
        format!(
            "MESSAGE\ndestination:/topic/chat\nsubscription:{subscription}\nmessage-id:m\n\n{body}\0"
        )
    }

    #[test]
    fn the_sender_waits_for_its_peers_then_sends_with_receipts() {
        let mut host = TestHost::new()
            .with_var("peers", "2")
            .with_var("messages", "2");
        let mut chat: Chat = host.open();
        text(&mut host, &mut chat, CONNECTED);
        // sub-0 (chat, receipt-1) and sub-2 (ready, receipt-3).
        text(
            &mut host,
            &mut chat,
            "RECEIPT\nreceipt-id:receipt-1\n\n\0RECEIPT\nreceipt-id:receipt-3\n\n\0",
        );
        text(&mut host, &mut chat, &message("sub-2", "ready 1"));
        text(&mut host, &mut chat, &message("sub-2", "ready 1"));
        assert!(
            !host
                .actions
                .contains(&Action::SetTimer(SEND, Duration::ZERO))
        );
        text(&mut host, &mut chat, &message("sub-2", "ready 2"));
        assert!(
            host.actions
                .contains(&Action::SetTimer(SEND, Duration::ZERO))
        );
        host.timer(&mut chat, SEND);
        host.timer(&mut chat, SEND);
        let names: Vec<_> = host
            .request_names()
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        assert_eq!(
            names,
            vec![
                "stomp connect",
                "stomp subscribe",
                "stomp subscribe",
                "stomp receipt",
                "stomp receipt"
            ]
        );
        text(&mut host, &mut chat, &message("sub-0", "0 0"));
        text(&mut host, &mut chat, &message("sub-0", "0 0"));
        text(&mut host, &mut chat, &message("sub-0", "1 0"));
        text(&mut host, &mut chat, "RECEIPT\nreceipt-id:receipt-4\n\n\0");
        assert!(
            !host
                .sent_texts()
                .iter()
                .any(|sent| sent.starts_with("DISCONNECT"))
        );
        text(&mut host, &mut chat, "RECEIPT\nreceipt-id:receipt-5\n\n\0");
        assert!(
            host.sent_texts()
                .iter()
                .any(|sent| sent.starts_with("DISCONNECT"))
        );
        assert_eq!(host.failed_checks(), vec!["chat message arrives once"]);
        assert_eq!(
            host.passed_checks(),
            vec![
                "chat message arrives once",
                "chat message arrives once",
                "every chat message arrives"
            ]
        );
        text(
            &mut host,
            &mut chat,
            "RECEIPT\nreceipt-id:disconnect-6\n\n\0",
        );
        assert!(host.actions.contains(&Action::Close(1000, "done".into())));
    }

    #[test]
    fn the_goodbye_disconnects_with_a_receipt_once_and_its_receipt_closes() {
        let mut host = TestHost::new().with_var("peers", "3");
        let mut chat: Chat = host.open();
        text(&mut host, &mut chat, CONNECTED);
        host.goodbye(&mut chat);
        host.goodbye(&mut chat);
        let disconnects: Vec<_> = host
            .request_names()
            .into_iter()
            .filter(|(_, name)| *name == "stomp disconnect")
            .collect();
        assert_eq!(disconnects.len(), 1);
        let receipt = format!("RECEIPT\nreceipt-id:{}\n\n\0", disconnects[0].0);
        text(&mut host, &mut chat, &receipt);
        assert!(host.actions.contains(&Action::Close(1000, "done".into())));
    }

    #[test]
    fn a_message_records_its_latency_from_the_senders_stamp() {
        let mut host = TestHost::new().with_var("messages", "1");
        host.vu = 2;
        host.wall_clock_us = 2_000_500;
        let mut chat: Chat = host.open();
        text(&mut host, &mut chat, CONNECTED);
        text(&mut host, &mut chat, "RECEIPT\nreceipt-id:receipt-1\n\n\0");
        text(&mut host, &mut chat, &message("sub-0", "0 2000000"));
        assert_eq!(host.latencies(), vec![("deliver", 500)]);
    }

    #[test]
    fn a_subscriber_announces_until_the_first_message() {
        let mut host = TestHost::new().with_var("messages", "1");
        host.vu = 3;
        let mut chat: Chat = host.open();
        text(&mut host, &mut chat, CONNECTED);
        text(&mut host, &mut chat, "RECEIPT\nreceipt-id:receipt-1\n\n\0");
        host.timer(&mut chat, ANNOUNCE);
        host.timer(&mut chat, ANNOUNCE);
        text(&mut host, &mut chat, &message("sub-0", "0 0"));
        host.timer(&mut chat, ANNOUNCE);
        let announced = host
            .sent_texts()
            .iter()
            .filter(|sent| sent.ends_with("ready 3\0"))
            .count();
        assert_eq!(announced, 2);
        assert_eq!(
            host.passed_checks(),
            vec!["chat message arrives once", "every chat message arrives"]
        );
    }

    #[test]
    fn heart_beats_offered_by_var_are_checked_against_the_brokers_answer() {
        for (answer, agreed) in [("100,100", true), ("0,100", false)] {
            let mut host = TestHost::new().with_var("heart_beat_ms", "100");
            let mut chat: Chat = host.open();
            assert!(host.sent_texts()[0].contains("heart-beat:100,100\n"));
            text(
                &mut host,
                &mut chat,
                &format!("CONNECTED\nversion:1.2\nheart-beat:{answer}\n\n\0"),
            );
            let check = "broker agreed to heart-beats both ways".to_owned();
            assert!(
                host.actions.contains(&Action::Check(check, agreed)),
                "{answer}"
            );
        }
    }

    #[test]
    fn an_error_frame_and_giving_up_are_failed_checks() {
        let mut host = TestHost::new();
        let mut chat: Chat = host.open();
        text(
            &mut host,
            &mut chat,
            "ERROR\nmessage:Unknown destination\n\n\0",
        );
        assert_eq!(
            host.failed_checks(),
            vec!["stomp ERROR: Unknown destination"]
        );
        host.timer(&mut chat, GIVE_UP);
        assert_eq!(
            host.failed_checks(),
            vec![
                "stomp ERROR: Unknown destination",
                "every chat message arrives"
            ]
        );
    }
}
