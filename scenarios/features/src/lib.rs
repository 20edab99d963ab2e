//! Test fixture, not an example: exercises what interfaces `volley:scenario@0.2.0` and `@0.3.0`
//! added, so the end-to-end tests can check it against real servers. On open it reads the
//! upgrade's answer and checks it against vars, records delivery latencies, then sends `pings`
//! pings and `alpha` + `beta` named echo requests, and closes once every pong and reply (or reply
//! timeout) is in — unless `stay` keeps it open until the run ends it, where `goodbye` says what
//! its `on_goodbye` does.
//!
//! Vars: `header` (`NAME=VALUE`: check "handshake header" that the answer carried it),
//! `subprotocol` (check "handshake subprotocol" that the server chose it), `pings` (default 0;
//! each pong is checked as "pong answers a ping"), `alpha` and `beta` (default 0: requests named
//! `alpha` and `beta`, each echoed back by the server), `latency` (default 0: that many latencies
//! `deliver` from a wall-clock stamp taken 1 ms earlier), `skewed` (default 0: that many latencies
//! `skewed` from a stamp a minute in the future), `stay` (default false), `goodbye` (`none`
//! (default): nothing; `send`: send `bye`; `close`: send `bye` and close with 1000 `goodbye`;
//! `request`: a request named `goodbye` the server echoes; `unanswered`: a request named `goodbye`
//! whose echo this scenario does not recognise, so it stays pending).

use std::time::Duration;
use volley_sdk::{Context, Message, Scenario};

/// The text of a goodbye request this scenario does not recognise when it comes back.
const UNANSWERED: &str = "unanswered goodbye";

/// Per-connection state.
pub struct Probe {
    expected: u32,
    answered: u32,
    /// `stay`: never close by itself; the run's end does.
    stay: bool,
    goodbye: String,
}

impl Probe {
    fn answered(&mut self, ctx: &mut Context) {
        self.answered += 1;
        if self.answered >= self.expected && !self.stay {
            ctx.close(1000, "done");
        }
    }
}

impl Scenario for Probe {
    fn open(ctx: &mut Context) -> Self {
        let handshake = ctx.handshake();
        ctx.check("handshake status is 101", handshake.status == 101);
        if let Some(header) = ctx.var("header")
            && let Some((name, value)) = header.split_once('=')
        {
            ctx.check("handshake header", handshake.header(name) == Some(value));
        }
        if let Some(subprotocol) = ctx.var("subprotocol") {
            ctx.check(
                "handshake subprotocol",
                handshake.subprotocol.as_deref() == Some(subprotocol.as_str()),
            );
        }
        let now = ctx.wall_clock_us();
        for _ in 0..ctx.var_as::<u32>("latency").unwrap_or(0) {
            ctx.record_latency("deliver", now.saturating_sub(1_000));
        }
        for _ in 0..ctx.var_as::<u32>("skewed").unwrap_or(0) {
            ctx.record_latency("skewed", now + 60_000_000);
        }
        let stay = ctx.var_as::<bool>("stay").unwrap_or(false);
        let goodbye = ctx.var("goodbye").unwrap_or_else(|| "none".into());
        let pings = ctx.var_as::<u32>("pings").unwrap_or(0);
        let alpha = ctx.var_as::<u32>("alpha").unwrap_or(0);
        let beta = ctx.var_as::<u32>("beta").unwrap_or(0);
        for n in 0..pings {
            ctx.ping(format!("p{n}").as_bytes());
        }
        for (name, count) in [("alpha", alpha), ("beta", beta)] {
            for n in 0..count {
                let key = format!("{name}#{n}");
                ctx.named_request_text(name, &key, &key, Duration::from_secs(5));
            }
        }
        let expected = pings + alpha + beta;
        if expected == 0 && !stay {
            ctx.close(1000, "nothing to do");
        }
        Probe {
            expected,
            answered: 0,
            stay,
            goodbye,
        }
    }

    fn on_goodbye(&mut self, ctx: &mut Context) {
        match self.goodbye.as_str() {
            "send" => ctx.send_text("bye"),
            "close" => {
                ctx.send_text("bye");
                ctx.close(1000, "goodbye");
            }
            "request" => {
                ctx.named_request_text("goodbye", "goodbye", "goodbye", Duration::from_secs(60))
            }
            "unanswered" => {
                ctx.named_request_text("goodbye", "goodbye", UNANSWERED, Duration::from_secs(60))
            }
            _ => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        if matches!(message.as_text(), Some(UNANSWERED | "bye")) {
            return;
        }
        if let Some(key) = message.as_text() {
            let completed = ctx.complete(key).is_some();
            ctx.check("reply completes a request", completed);
        }
        self.answered(ctx);
    }

    fn on_pong(&mut self, ctx: &mut Context, payload: &[u8], _rtt: Duration) {
        ctx.check("pong answers a ping", payload.starts_with(b"p"));
        self.answered(ctx);
    }

    fn on_reply_timeout(&mut self, ctx: &mut Context, _key: &str) {
        self.answered(ctx);
    }
}

volley_sdk::export_scenario!(Probe);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::Handshake;
    use volley_sdk::testing::TestHost;

    #[test]
    fn records_latencies_and_says_goodbye_as_the_vars_say() {
        let mut host = TestHost::new()
            .with_var("latency", "2")
            .with_var("skewed", "1")
            .with_var("stay", "true")
            .with_var("goodbye", "close");
        host.wall_clock_us = 5_000_000;
        let mut probe: Probe = host.open();
        // The test host records what a stamp in the future gives: 0.
        assert_eq!(
            host.latencies(),
            vec![("deliver", 1_000), ("deliver", 1_000), ("skewed", 0)]
        );
        assert!(
            host.actions
                .iter()
                .all(|action| !matches!(action, volley_sdk::testing::Action::Close(..)))
        );
        host.goodbye(&mut probe);
        assert_eq!(host.sent_texts(), vec!["bye"]);
        assert!(matches!(
            host.actions.last(),
            Some(volley_sdk::testing::Action::Close(1000, reason)) if reason == "goodbye"
        ));
        let mut host = TestHost::new()
            .with_var("stay", "true")
            .with_var("goodbye", "unanswered");
        let mut probe: Probe = host.open();
        host.goodbye(&mut probe);
        assert_eq!(host.request_names(), vec![("goodbye", "goodbye")]);
        host.message(&mut probe, Message::Text(UNANSWERED.into()));
        assert!(host.pending.contains_key("goodbye"));
    }

    #[test]
    fn checks_the_handshake_then_pings_and_names_its_requests() {
        let mut host = TestHost::new()
            .with_var("header", "x-test=yes")
            .with_var("subprotocol", "chat.v2")
            .with_var("pings", "1")
            .with_var("alpha", "1")
            .with_var("beta", "1")
            .with_handshake(Handshake {
                status: 101,
                headers: vec![("x-test".into(), "yes".into())],
                subprotocol: Some("chat.v2".into()),
            });
        let mut probe: Probe = host.open();
        assert_eq!(host.pings_waiting(), vec![b"p0".to_vec()]);
        assert_eq!(
            host.request_names(),
            vec![("alpha#0", "alpha"), ("beta#0", "beta")]
        );
        assert!(host.pong(&mut probe, b"p0"));
        host.message(&mut probe, Message::Text("alpha#0".into()));
        host.message(&mut probe, Message::Text("beta#0".into()));
        assert!(host.failed_checks().is_empty(), "{:?}", host.actions);
        assert!(matches!(
            host.actions.last(),
            Some(volley_sdk::testing::Action::Close(1000, _))
        ));
    }
}
