//! Fixed-size echo for benchmarks (`just bench`, `runner/benches/floor/`): each message is the
//! sequence number zero-padded to exactly `size` bytes of text (32 by default), sent as a timed
//! request; the echo must be byte-for-byte the text sent. With `interval_ms: 0` it plays ping-pong
//! (the next message goes out from the echo's callback, no timer in between); otherwise the next
//! message is due `interval_ms` after the previous one was sent, like `echo`. It closes after
//! `messages` round trips (`messages: 0` closes at once, after the handshake). The bench's own
//! tokio-tungstenite client (the "floor") sends the same bytes, so both clients do the same work.
//! Each text and its request key are built once, into buffers kept between messages, and the echo
//! is compared with the text kept: what a scenario does per message is its own CPU cost, measured
//! with the runner's, so this one does no more than the floor client does.
//!
//! Vars: `messages` (default 10), `interval_ms` (default 0), `size` (default 32, at least 10, so
//! any `u32` sequence number fits), `timeout_ms` (default 5000).

use std::time::Duration;
use volley_sdk::{Context, Message, Scenario};

const TICK: u32 = 0;

/// Per-connection state.
pub struct PingPong {
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

/// The text sent for sequence number `seq`: its decimal digits, zero-padded on the left to `size`
/// bytes (`size` ≥ 10 keeps every `u32` within it).
pub fn payload(seq: u32, size: usize) -> String {
    let mut text = String::with_capacity(size);
    write_padded(&mut text, seq, size);
    text
}

/// Replace `out` with `seq`'s decimal digits, zero-padded on the left to at least `width` bytes.
/// Zeros go in by the slice and digits by the char, with no `fmt` and no `str::from_utf8` (whose
/// 256-byte table in the data segment would move the heap's start onto the next page: 4 KiB more
/// linear memory touched per connection).
fn write_padded(out: &mut String, seq: u32, width: usize) {
    const ZEROS: &str = "0000000000000000";
    let mut digits = [0u8; 10];
    let mut count = 0;
    let mut rest = seq;
    for digit in digits.iter_mut() {
        *digit = (rest % 10) as u8;
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.clear();
    let mut padding = width.saturating_sub(count);
    while padding > 0 {
        let take = padding.min(ZEROS.len());
        out.push_str(ZEROS.get(..take).unwrap_or_default());
        padding -= take;
    }
    for digit in digits.iter().take(count).rev() {
        out.push(char::from(b'0' + digit));
    }
}

impl PingPong {
    fn send_next(&mut self, ctx: &mut Context) {
        self.sent += 1;
        write_padded(&mut self.key, self.sent, 1);
        write_padded(&mut self.text, self.sent, self.size);
        ctx.request_text(&self.key, &self.text, self.timeout);
        if !self.interval.is_zero() && self.sent < self.messages {
            ctx.set_timer(TICK, self.interval);
        }
    }

    /// After a reply or a timeout: close when done, or send the next one in ping-pong mode.
    fn answered(&mut self, ctx: &mut Context) {
        self.answered += 1;
        if self.answered >= self.messages {
            ctx.close(1000, "done");
        } else if self.interval.is_zero() && self.sent < self.messages {
            self.send_next(ctx);
        }
    }
}

impl Scenario for PingPong {
    fn open(ctx: &mut Context) -> Self {
        let messages = ctx.var_as::<u32>("messages").unwrap_or(10);
        let interval = Duration::from_millis(ctx.var_as::<u32>("interval_ms").unwrap_or(0).into());
        let size = ctx.var_as::<usize>("size").unwrap_or(32).max(10);
        let timeout = Duration::from_millis(ctx.var_as::<u32>("timeout_ms").unwrap_or(5000).into());
        let mut state = PingPong {
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

volley_sdk::export_scenario!(PingPong);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::TestHost;

    #[test]
    fn every_payload_is_exactly_size_bytes() {
        assert_eq!(payload(7, 32).len(), 32);
        assert_eq!(payload(u32::MAX, 32).len(), 32);
        assert_eq!(payload(7, 32), format!("{}7", "0".repeat(31)));
        assert_eq!(payload(4_294_967_295, 10), "4294967295");
        assert_eq!(payload(0, 10), "0000000000");
        let mut key = String::from("stale text");
        write_padded(&mut key, 120, 1);
        assert_eq!(key, "120");
    }

    #[test]
    fn ping_pong_sends_the_next_from_the_echo_and_closes_after_the_last() {
        let mut host = TestHost::new()
            .with_var("messages", "2")
            .with_var("interval_ms", "0");
        let mut state: PingPong = host.open();
        assert_eq!(host.sent_texts(), vec![payload(1, 32)]);
        host.message(&mut state, Message::Text(payload(1, 32)));
        assert_eq!(host.sent_texts(), vec![payload(1, 32), payload(2, 32)]);
        host.message(&mut state, Message::Text(payload(2, 32)));
        assert!(host.failed_checks().is_empty());
        assert!(matches!(
            host.actions.last(),
            Some(volley_sdk::testing::Action::Close(1000, _))
        ));
    }

    #[test]
    fn paced_mode_waits_for_the_timer_and_a_wrong_echo_fails_the_check() {
        let mut host = TestHost::new()
            .with_var("messages", "3")
            .with_var("interval_ms", "1000");
        let mut state: PingPong = host.open();
        host.message(&mut state, Message::Text("garbage".into()));
        assert_eq!(host.sent_texts().len(), 1);
        assert_eq!(host.failed_checks(), vec!["echo matches what was sent"]);
        host.timer(&mut state, TICK);
        assert_eq!(host.sent_texts().len(), 2);
    }

    #[test]
    fn zero_messages_closes_at_once() {
        let mut host = TestHost::new().with_var("messages", "0");
        let _state: PingPong = host.open();
        assert!(host.sent_texts().is_empty());
        assert!(matches!(
            host.actions.last(),
            Some(volley_sdk::testing::Action::Close(1000, _))
        ));
    }
}
