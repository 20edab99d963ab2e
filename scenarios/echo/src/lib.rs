//! Echo scenario: every `interval_ms` send a JSON text `{"seq":N,"vu":V}` as a timed request named
//! `echo` (its round trips also show as `round_trip{echo}`), expect
//! the same text back, check it, and close after `messages` round trips. Runs against
//! `embedded://echo` or any echo server.
//!
//! Vars: `messages` (default 10), `interval_ms` (default 100), `timeout_ms` (default 2000).

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
}

/// The text sent for sequence number `seq` by virtual user `vu`.
pub fn payload(seq: u32, vu: u32) -> String {
    format!(r#"{{"seq":{seq},"vu":{vu}}}"#)
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
        ctx.set_timer(TICK, Duration::ZERO);
        Echo {
            sent: 0,
            answered: 0,
            messages,
            interval,
            timeout,
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
            &payload(self.sent, vu),
            self.timeout,
        );
        if self.sent < self.messages {
            ctx.set_timer(TICK, self.interval);
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        let vu = ctx.vu();
        let seq = message.as_text().and_then(seq_of);
        let matches = seq.is_some_and(|seq| message.as_text() == Some(payload(seq, vu).as_str()));
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
        assert_eq!(host.sent_texts(), vec![payload(1, 0), payload(2, 0)]);
        host.message(&mut echo, Message::Text(payload(1, 0)));
        host.message(&mut echo, Message::Text(payload(2, 0)));
        assert!(host.failed_checks().is_empty());
        assert!(host.pending.is_empty());
        assert!(matches!(
            host.actions.last(),
            Some(volley_sdk::testing::Action::Close(1000, _))
        ));
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
