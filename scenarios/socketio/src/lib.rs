//! Socket.IO scenario for a Socket.IO v4 server whose event `echo` acknowledges with its arguments
//! (`tests/servers/socketio.js`; start it with `node tests/servers/socketio.js 3000`). Each
//! connection completes the Engine.IO handshake, connects to namespace `/`, then every
//! `interval_ms` emits `echo` with `{"seq":N,"vu":V}` and an ack: a timed, named request `echo`
//! (request key `echo#ID`). Each ack must carry the same payload. After `messages` acks (or reply
//! timeouts) it closes. The server's pings are answered by the SDK's layer. A connection the run
//! ends (its duration, Ctrl-C) leaves the namespace in its goodbye (`41`) before the runner's Close.
//!
//! Vars: `messages` (default 10), `interval_ms` (default 100), `timeout_ms` (default 2000).

use std::collections::BTreeMap;
use std::time::Duration;
use volley_sdk::socketio::{Event, SocketIo};
use volley_sdk::{Context, Message, Scenario, Value, json};

const TICK: u32 = 0;

/// Per-connection state.
pub struct Echo {
    io: SocketIo,
    sent: BTreeMap<u64, Value>,
    emitted: u32,
    answered: u32,
    welcomed: bool,
    messages: u32,
    interval: Duration,
    timeout: Duration,
}

impl Echo {
    fn finish_if_done(&self, ctx: &mut Context) {
        if self.answered >= self.messages {
            ctx.check("server said welcome", self.welcomed);
            ctx.close(1000, "done");
        }
    }
}

impl Scenario for Echo {
    fn open(ctx: &mut Context) -> Self {
        Echo {
            io: SocketIo::new("/"),
            sent: BTreeMap::new(),
            emitted: 0,
            answered: 0,
            welcomed: false,
            messages: ctx.var_as::<u32>("messages").unwrap_or(10),
            interval: Duration::from_millis(ctx.var_as::<u32>("interval_ms").unwrap_or(100).into()),
            timeout: Duration::from_millis(ctx.var_as::<u32>("timeout_ms").unwrap_or(2000).into()),
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        match self.io.on_message(ctx, &message) {
            Ok(Some(Event::Connected { .. })) => ctx.set_timer(TICK, Duration::ZERO),
            Ok(Some(Event::ConnectError { message })) => {
                ctx.check("connected to namespace /", false);
                ctx.close(1000, &message);
            }
            Ok(Some(Event::Event { name, .. })) if name == "welcome" => self.welcomed = true,
            Ok(Some(Event::Ack { id, args, .. })) => {
                let expected = self.sent.remove(&id);
                ctx.check(
                    "ack carries the emitted payload",
                    expected.is_some_and(|payload| args == [payload]),
                );
                self.answered += 1;
                self.finish_if_done(ctx);
            }
            Ok(Some(Event::Disconnected)) => ctx.close(1000, "server disconnected"),
            Ok(_) => {}
            // The layer recorded a failed check and logged why; a broken stream is not worth
            // continuing.
            Err(_) => ctx.close(1002, "not socket.io"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context, timer: u32) {
        if self.io.on_timer(ctx, timer) || self.emitted >= self.messages {
            return;
        }
        self.emitted += 1;
        let payload = json!({"seq": self.emitted, "vu": ctx.vu()});
        let id = self
            .io
            .emit_with_ack(ctx, "echo", std::slice::from_ref(&payload), self.timeout);
        self.sent.insert(id, payload);
        if self.emitted < self.messages {
            ctx.set_timer(TICK, self.interval);
        }
    }

    fn on_goodbye(&mut self, ctx: &mut Context) {
        // Leave the namespace: the server sees a client disconnect, not a transport error. The
        // runner's Close follows at once (acks still pending are abandoned, as before).
        if self.io.is_connected() {
            self.io.disconnect(ctx);
        }
    }

    fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
        if let Some((_, id)) = self.io.on_reply_timeout(ctx, key) {
            self.sent.remove(&id);
            self.answered += 1; // already counted as a reply timeout by the runner
            self.finish_if_done(ctx);
        }
    }
}

volley_sdk::export_scenario!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::TestHost;

    const OPEN: &str = r#"0{"sid":"e","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

    fn text(host: &mut TestHost, echo: &mut Echo, text: &str) {
        host.message(echo, Message::Text(text.into()));
    }

    #[test]
    fn the_goodbye_leaves_the_namespace_once_connected() {
        let mut host = TestHost::new();
        let mut echo: Echo = host.open();
        host.goodbye(&mut echo);
        assert!(host.sent_texts().is_empty());
        text(&mut host, &mut echo, OPEN);
        text(&mut host, &mut echo, r#"40{"sid":"s"}"#);
        host.goodbye(&mut echo);
        assert_eq!(host.sent_texts().last().copied(), Some("41"));
    }

    #[test]
    fn emits_after_connecting_and_checks_each_ack() {
        let mut host = TestHost::new().with_var("messages", "2");
        host.vu = 4;
        let mut echo: Echo = host.open();
        text(&mut host, &mut echo, OPEN);
        text(&mut host, &mut echo, r#"40{"sid":"s"}"#);
        text(&mut host, &mut echo, r#"42["welcome",{"id":"s"}]"#);
        host.timer(&mut echo, TICK);
        host.timer(&mut echo, TICK);
        assert_eq!(
            host.sent_texts(),
            vec![
                "40",
                r#"420["echo",{"seq":1,"vu":4}]"#,
                r#"421["echo",{"seq":2,"vu":4}]"#
            ]
        );
        text(&mut host, &mut echo, r#"431[{"seq":2,"vu":4}]"#);
        text(&mut host, &mut echo, r#"430[{"seq":9,"vu":4}]"#);
        assert_eq!(
            host.failed_checks(),
            vec!["ack carries the emitted payload"]
        );
        assert_eq!(
            host.passed_checks(),
            vec!["ack carries the emitted payload", "server said welcome"]
        );
    }

    #[test]
    fn a_broken_packet_fails_a_check_and_closes() {
        let mut host = TestHost::new();
        let mut echo: Echo = host.open();
        text(&mut host, &mut echo, "42[broken");
        assert_eq!(
            host.failed_checks(),
            vec![volley_sdk::socketio::PACKET_CHECK]
        );
        assert!(host.actions.contains(&volley_sdk::testing::Action::Close(
            1002,
            "not socket.io".into()
        )));
    }

    #[test]
    fn timeouts_count_towards_the_end() {
        let mut host = TestHost::new().with_var("messages", "1");
        let mut echo: Echo = host.open();
        text(&mut host, &mut echo, OPEN);
        text(&mut host, &mut echo, r#"40{"sid":"s"}"#);
        host.timer(&mut echo, TICK);
        host.reply_timeout(&mut echo, "echo#0");
        assert_eq!(host.failed_checks(), vec!["server said welcome"]);
        assert!(
            host.actions
                .iter()
                .any(|action| matches!(action, volley_sdk::testing::Action::Close(1000, _)))
        );
    }
}
