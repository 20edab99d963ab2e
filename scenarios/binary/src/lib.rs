//! Binary scenario: send `messages` random binary payloads of `size` bytes, one every `interval_ms`,
//! each as a timed request keyed by its first 8 bytes, and verify the echoed bytes exactly.
//!
//! Vars: `messages` (default 10), `size` (default 1024, at least 8), `interval_ms` (default 50).

use std::collections::HashMap;
use std::time::Duration;
use volley_sdk::{Context, Message, Scenario};

/// Per-connection state: payloads in flight by key.
pub struct Binary {
    in_flight: HashMap<String, Vec<u8>>,
    sent: u32,
    done: u32,
    messages: u32,
    size: usize,
    interval: Duration,
}

fn key_of(data: &[u8]) -> String {
    data.iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl Binary {
    fn random_payload(&self, ctx: &mut Context) -> Vec<u8> {
        let mut data = Vec::with_capacity(self.size);
        while data.len() < self.size {
            data.extend_from_slice(&ctx.random_u64().to_le_bytes());
        }
        data.truncate(self.size);
        data
    }

    fn settle(&mut self, ctx: &mut Context) {
        self.done += 1;
        if self.done >= self.messages {
            ctx.close(1000, "done");
        }
    }
}

impl Scenario for Binary {
    fn open(ctx: &mut Context) -> Self {
        let size = (ctx.var_as::<u32>("size").unwrap_or(1024) as usize).max(8);
        let messages = ctx.var_as::<u32>("messages").unwrap_or(10);
        let interval = Duration::from_millis(ctx.var_as::<u32>("interval_ms").unwrap_or(50).into());
        ctx.set_timer(0, Duration::ZERO);
        Binary {
            in_flight: HashMap::new(),
            sent: 0,
            done: 0,
            messages,
            size,
            interval,
        }
    }

    fn on_timer(&mut self, ctx: &mut Context, _timer: u32) {
        let payload = self.random_payload(ctx);
        let key = key_of(&payload);
        ctx.request_binary(&key, &payload, Duration::from_secs(5));
        self.in_flight.insert(key, payload);
        self.sent += 1;
        if self.sent < self.messages {
            ctx.set_timer(0, self.interval);
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        let Some(data) = message.as_binary() else {
            ctx.check("reply is binary", false);
            return self.settle(ctx);
        };
        let key = key_of(data);
        let expected = self.in_flight.remove(&key);
        ctx.check("bytes echoed exactly", expected.as_deref() == Some(data));
        ctx.complete(&key);
        ctx.metric("payload_bytes", data.len() as f64);
        self.settle(ctx);
    }

    fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
        self.in_flight.remove(key);
        self.settle(ctx);
    }
}

volley_sdk::export_scenario!(Binary);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::TestHost;

    #[test]
    fn echoed_bytes_pass_and_altered_bytes_fail() {
        let mut host = TestHost::new()
            .with_var("size", "16")
            .with_var("messages", "2");
        let mut binary: Binary = host.open();
        host.timer(&mut binary, 0);
        host.timer(&mut binary, 0);
        let sent: Vec<Vec<u8>> = host.sent_binaries().iter().map(|d| d.to_vec()).collect();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].len(), 16);
        host.message(&mut binary, Message::Binary(sent[0].clone()));
        let mut altered = sent[1].clone();
        altered[15] ^= 1;
        host.message(&mut binary, Message::Binary(altered));
        assert_eq!(host.passed_checks(), vec!["bytes echoed exactly"]);
        assert_eq!(host.failed_checks(), vec!["bytes echoed exactly"]);
    }
}
