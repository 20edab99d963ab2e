//! Varied JSON-like echo for bench W4 (`just bench`, `runner/benches/floor/`, issue 22): each
//! message is a JSON-like event of exactly `size` bytes (1,024 by default) built by
//! [`text::write_json_text`] from this connection's VU index and the message's sequence number,
//! so every message differs and compresses like a real feed. Each goes out as a timed request, the
//! next `interval_ms` after the previous was sent (`interval_ms: 0`: from the echo's callback), and
//! the echo must be byte-for-byte the text sent. It closes after `messages` round trips. The bench's
//! bare client includes `text.rs` itself, so both clients send the same bytes. Like `pingpong`, the
//! text and its key are built into buffers kept between messages.
//!
//! Vars: `messages` (default 10), `interval_ms` (default 100), `size` (default 1024, at least
//! [`text::MIN_SIZE`]), `timeout_ms` (default 5000).

pub mod text;

use std::time::Duration;
use volley_sdk::{Context, Message, Scenario};

const TICK: u32 = 0;

/// Per-connection state.
pub struct JsonEcho {
    connection: u32,
    sent: u32,
    answered: u32,
    messages: u32,
    interval: Duration,
    size: usize,
    timeout: Duration,
    /// The last text sent (the echo expected).
    text: String,
    /// The last request's key: its sequence number in decimal.
    key: String,
}

impl JsonEcho {
    fn send_next(&mut self, ctx: &mut Context) {
        self.sent += 1;
        self.key.clear();
        self.key.push_str(&self.sent.to_string());
        text::write_json_text(&mut self.text, self.connection, self.sent, self.size);
        ctx.request_text(&self.key, &self.text, self.timeout);
        if !self.interval.is_zero() && self.sent < self.messages {
            ctx.set_timer(TICK, self.interval);
        }
    }

    /// After a reply or a timeout: close when done, or send the next one without a timer.
    fn answered(&mut self, ctx: &mut Context) {
        self.answered += 1;
        if self.answered >= self.messages {
            ctx.close(1000, "done");
        } else if self.interval.is_zero() && self.sent < self.messages {
            self.send_next(ctx);
        }
    }
}

impl Scenario for JsonEcho {
    fn open(ctx: &mut Context) -> Self {
        let messages = ctx.var_as::<u32>("messages").unwrap_or(10);
        let interval =
            Duration::from_millis(ctx.var_as::<u32>("interval_ms").unwrap_or(100).into());
        let size = ctx
            .var_as::<usize>("size")
            .unwrap_or(1024)
            .max(text::MIN_SIZE);
        let timeout = Duration::from_millis(ctx.var_as::<u32>("timeout_ms").unwrap_or(5000).into());
        let mut state = JsonEcho {
            connection: ctx.vu(),
            sent: 0,
            answered: 0,
            messages,
            interval,
            size,
            timeout,
            text: String::with_capacity(size),
            key: String::with_capacity(10),
        };
        if messages == 0 {
            ctx.close(1000, "done");
        } else {
            state.send_next(ctx);
        }
        state
    }

    fn on_timer(&mut self, ctx: &mut Context, _timer: u32) {
        if self.sent < self.messages {
            self.send_next(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        ctx.check(
            "echo matches what was sent",
            message.as_text() == Some(self.text.as_str()),
        );
        ctx.complete(&self.key);
        self.answered(ctx);
    }

    fn on_reply_timeout(&mut self, ctx: &mut Context, _key: &str) {
        self.answered(ctx);
    }
}

volley_sdk::export_scenario!(JsonEcho);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::TestHost;

    fn expected(connection: u32, seq: u32, size: usize) -> String {
        let mut out = String::new();
        text::write_json_text(&mut out, connection, seq, size);
        out
    }

    #[test]
    fn sends_the_vu_s_texts_on_the_timer_and_closes_after_the_last_echo() {
        let mut host = TestHost::new()
            .with_var("messages", "2")
            .with_var("interval_ms", "100");
        let mut state: JsonEcho = host.open();
        let first = expected(0, 1, 1024);
        assert_eq!(host.sent_texts(), vec![first.as_str()]);
        host.message(&mut state, Message::Text(first));
        assert_eq!(host.sent_texts().len(), 1, "the next waits for the timer");
        host.timer(&mut state, TICK);
        let second = expected(0, 2, 1024);
        assert_eq!(host.sent_texts().last(), Some(&second.as_str()));
        host.message(&mut state, Message::Text(second));
        assert!(host.failed_checks().is_empty());
        assert!(matches!(
            host.actions.last(),
            Some(volley_sdk::testing::Action::Close(1000, _))
        ));
    }

    #[test]
    fn a_wrong_echo_fails_the_check() {
        let mut host = TestHost::new().with_var("size", "200");
        let mut state: JsonEcho = host.open();
        assert_eq!(host.sent_texts().first().map(|text| text.len()), Some(200));
        host.message(&mut state, Message::Text("{}".into()));
        assert_eq!(host.failed_checks(), vec!["echo matches what was sent"]);
    }
}
