//! Test fixture, not an example: exercises what interface `volley:scenario@0.2.0` added, so the
//! end-to-end tests can check it against real servers. On open it reads the upgrade's answer and
//! checks it against vars, then sends `pings` pings and `alpha` + `beta` named echo requests, and
//! closes once every pong and reply (or reply timeout) is in.
//!
//! Vars: `header` (`NAME=VALUE`: check "handshake header" that the answer carried it),
//! `subprotocol` (check "handshake subprotocol" that the server chose it), `pings` (default 0;
//! each pong is checked as "pong answers a ping"), `alpha` and `beta` (default 0: requests named
//! `alpha` and `beta`, each echoed back by the server).

use std::time::Duration;
use volley_sdk::{Context, Message, Scenario};

/// Per-connection state.
pub struct Probe {
    expected: u32,
    answered: u32,
}

impl Probe {
    fn answered(&mut self, ctx: &mut Context) {
        self.answered += 1;
        if self.answered >= self.expected {
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
        if expected == 0 {
            ctx.close(1000, "nothing to do");
        }
        Probe {
            expected,
            answered: 0,
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
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
