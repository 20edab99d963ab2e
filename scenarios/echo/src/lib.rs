//! Echo scenario: every `interval_ms` send a JSON text `{"seq":N,"vu":V}` as a timed request named
//! `echo` (its round trips also show as `round_trip{echo}`), expect
//! the same text back, check it, and close after `messages` round trips. Runs against
//! `embedded://echo` or any echo server.
//!
//! Vars: `messages` (default 10), `interval_ms` (default 100), `timeout_ms` (default 2000),
//! `words` (default 0: with N > 0 the JSON also carries `"text"`, N words from a small vocabulary
//! that vary with the sequence number and the VU: compressible text like a chat or a feed, for
//! the permessage-deflate tests).

use std::time::Duration;
use volley_sdk::{Context, Message, Scenario};

const TICK: u32 = 0;

/// Per-connection state.
pub struct Echo {
    sent: u32,
    answered: u32,
    messages: u32,
    interval: Duration,
    timeout: Duration,
    words: u32,
}

/// The words a message's `"text"` is made of.
const VOCABULARY: [&str; 16] = [
    "price", "update", "order", "book", "level", "market", "trade", "volume", "bid", "ask",
    "symbol", "open", "close", "high", "low", "depth",
];

/// The text sent for sequence number `seq` by virtual user `vu`, with `words` words of text
/// (none: just the sequence number and the VU).
pub fn payload(seq: u32, vu: u32, words: u32) -> String {
    let mut text = format!(r#"{{"seq":{seq},"vu":{vu}"#);
    if words > 0 {
        text.push_str(r#","text":""#);
        for index in 0..words {
            if index > 0 {
                text.push(' ');
            }
            let pick = seq
                .wrapping_mul(7)
                .wrapping_add(vu.wrapping_mul(3))
                .wrapping_add(index.wrapping_mul(5));
            text.push_str(VOCABULARY[pick as usize % VOCABULARY.len()]);
        }
        text.push('"');
    }
    text.push('}');
    text
}

/// The sequence number inside a payload, if it parses.
pub fn seq_of(text: &str) -> Option<u32> {
    let rest = text.strip_prefix(r#"{"seq":"#)?;
    let end = rest.find(',')?;
    rest[..end].parse().ok()
}

impl Echo {
    fn finish_if_done(&self, ctx: &mut Context) {
        if self.answered >= self.messages {
            ctx.close(1000, "done");
        }
    }
}

impl Scenario for Echo {
    fn open(ctx: &mut Context) -> Self {
        let messages = ctx.var_as::<u32>("messages").unwrap_or(10);
        let interval =
            Duration::from_millis(ctx.var_as::<u32>("interval_ms").unwrap_or(100).into());
        let timeout = Duration::from_millis(ctx.var_as::<u32>("timeout_ms").unwrap_or(2000).into());
        let words = ctx.var_as::<u32>("words").unwrap_or(0);
        ctx.set_timer(TICK, Duration::ZERO);
        Echo {
            sent: 0,
            answered: 0,
            messages,
            interval,
            timeout,
            words,
        }
    }

    fn on_timer(&mut self, ctx: &mut Context, _timer: u32) {
        if self.sent >= self.messages {
            return;
        }
        self.sent += 1;
        let vu = ctx.vu();
        ctx.named_request_text(
            "echo",
            &self.sent.to_string(),
            &payload(self.sent, vu, self.words),
            self.timeout,
        );
        if self.sent < self.messages {
            ctx.set_timer(TICK, self.interval);
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        let vu = ctx.vu();
        let seq = message.as_text().and_then(seq_of);
        let matches =
            seq.is_some_and(|seq| message.as_text() == Some(payload(seq, vu, self.words).as_str()));
        ctx.check("echo matches what was sent", matches);
        ctx.metric("reply_bytes", message.len() as f64);
        if let Some(seq) = seq {
            ctx.complete(&seq.to_string());
        }
        self.answered += 1;
        self.finish_if_done(ctx);
    }

    fn on_reply_timeout(&mut self, ctx: &mut Context, _key: &str) {
        self.answered += 1;
        self.finish_if_done(ctx);
    }
}

volley_sdk::export_scenario!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::TestHost;

    #[test]
    fn sends_on_each_tick_and_closes_after_the_last_echo() {
        let mut host = TestHost::new().with_var("messages", "2");
        let mut echo: Echo = host.open();
        host.timer(&mut echo, TICK);
        host.timer(&mut echo, TICK);
        assert_eq!(host.sent_texts(), vec![payload(1, 0, 0), payload(2, 0, 0)]);
        host.message(&mut echo, Message::Text(payload(1, 0, 0)));
        host.message(&mut echo, Message::Text(payload(2, 0, 0)));
        assert!(host.failed_checks().is_empty());
        assert!(host.pending.is_empty());
        assert!(matches!(
            host.actions.last(),
            Some(volley_sdk::testing::Action::Close(1000, _))
        ));
    }

    #[test]
    fn words_make_a_longer_json_text_that_varies_and_still_echoes() {
        assert_eq!(payload(3, 1, 0), r#"{"seq":3,"vu":1}"#);
        assert_eq!(
            payload(1, 0, 3),
            r#"{"seq":1,"vu":0,"text":"volume close update"}"#
        );
        assert_ne!(payload(1, 0, 40), payload(2, 0, 40));
        assert_ne!(payload(1, 0, 40), payload(1, 1, 40));
        assert_eq!(seq_of(&payload(12, 4, 40)), Some(12));
        let mut host = TestHost::new()
            .with_var("messages", "1")
            .with_var("words", "40");
        let mut echo: Echo = host.open();
        host.timer(&mut echo, TICK);
        let sent = host.sent_texts();
        assert_eq!(sent, vec![payload(1, 0, 40)]);
        host.message(&mut echo, Message::Text(payload(1, 0, 40)));
        assert!(host.failed_checks().is_empty());
    }

    #[test]
    fn a_wrong_echo_fails_the_check() {
        let mut host = TestHost::new();
        let mut echo: Echo = host.open();
        host.timer(&mut echo, TICK);
        host.message(&mut echo, Message::Text("garbage".into()));
        assert_eq!(host.failed_checks(), vec!["echo matches what was sent"]);
    }
}
