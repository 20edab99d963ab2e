//! Chat scenario for `embedded://chat` (or any server that broadcasts each text message to every
//! member of the room named by the URL path, sender included). Every `interval_ms` the VU posts
//! `{"from":V,"seq":N}` as a timed request; its own broadcast completes the request (the round trip is
//! the fan-out latency), others' broadcasts are counted. After `messages` posts it closes, checking it
//! heard at least one other member.
//!
//! Vars: `messages` (default 10), `interval_ms` (default 200).

use std::time::Duration;
use volley_sdk::{Context, Message, Scenario};

/// Per-connection state.
pub struct Chat {
    posted: u32,
    own_seen: u32,
    others_seen: u32,
    messages: u32,
    interval: Duration,
}

/// `(from, seq)` of a chat line, if it parses.
pub fn parse_line(text: &str) -> Option<(u32, u32)> {
    let rest = text.strip_prefix(r#"{"from":"#)?.strip_suffix('}')?;
    let (from, seq) = rest.split_once(r#","seq":"#)?;
    Some((from.parse().ok()?, seq.parse().ok()?))
}

impl Scenario for Chat {
    fn open(ctx: &mut Context) -> Self {
        let messages = ctx.var_as::<u32>("messages").unwrap_or(10);
        let interval =
            Duration::from_millis(ctx.var_as::<u32>("interval_ms").unwrap_or(200).into());
        ctx.set_timer(0, interval);
        Chat {
            posted: 0,
            own_seen: 0,
            others_seen: 0,
            messages,
            interval,
        }
    }

    fn on_timer(&mut self, ctx: &mut Context, _timer: u32) {
        if self.posted >= self.messages {
            ctx.close(1000, "done");
            return;
        }
        self.posted += 1;
        let vu = ctx.vu();
        let line = format!(r#"{{"from":{vu},"seq":{}}}"#, self.posted);
        ctx.request_text(&self.posted.to_string(), &line, Duration::from_secs(5));
        // One extra tick after the last post gives the others' broadcasts time to arrive.
        ctx.set_timer(0, self.interval);
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        let vu = ctx.vu();
        match message.as_text().and_then(parse_line) {
            Some((from, seq)) if from == vu => {
                self.own_seen += 1;
                let was_pending = ctx.complete(&seq.to_string()).is_some();
                ctx.check("own message broadcast back", was_pending);
            }
            Some(_) => self.others_seen += 1,
            None => {
                ctx.check("broadcast is a chat line", false);
            }
        }
    }

    fn on_close(&mut self, ctx: &mut Context, _code: u16, _reason: &str) {
        ctx.metric("broadcasts_from_others", f64::from(self.others_seen));
        ctx.check("heard another member", self.others_seen > 0);
    }
}

volley_sdk::export_scenario!(Chat);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::TestHost;

    #[test]
    fn own_lines_complete_requests_and_others_are_counted() {
        let mut host = TestHost::new();
        host.vu = 3;
        let mut chat: Chat = host.open();
        host.timer(&mut chat, 0);
        assert_eq!(host.sent_texts(), vec![r#"{"from":3,"seq":1}"#]);
        host.message(&mut chat, Message::Text(r#"{"from":3,"seq":1}"#.into()));
        host.message(&mut chat, Message::Text(r#"{"from":4,"seq":9}"#.into()));
        host.closed(&mut chat, 1000, "");
        assert!(host.failed_checks().is_empty());
        assert_eq!(chat.others_seen, 1);
    }
}
