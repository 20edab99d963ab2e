//! GraphQL subscription scenario for a `graphql-transport-ws` server (the protocol of the
//! `graphql-ws` library) with `subscription { countdown(from: Int!): Int! }`, such as
//! `tests/servers/graphql.js` (start it with `node tests/servers/graphql.js 4000`). Each connection
//! sends `connection_init`, subscribes to `countdown(from: FROM)` as the timed, named request
//! `countdown` (from `subscribe` to `complete`), checks that the values FROM, FROM-1, …, 1 arrive
//! in order and that the subscription completes, then closes.
//!
//! Vars: `from` (default 5), `timeout_ms` (default 5000).

use std::time::Duration;
use volley_sdk::graphql::{Event, GraphqlWs};
use volley_sdk::{Context, Message, Scenario, json};

/// Per-connection state.
pub struct Countdown {
    gql: GraphqlWs,
    from: i64,
    values: Vec<i64>,
}

impl Scenario for Countdown {
    fn open(ctx: &mut Context) -> Self {
        let from = ctx.var_as::<i64>("from").unwrap_or(5);
        let timeout = Duration::from_millis(ctx.var_as::<u32>("timeout_ms").unwrap_or(5000).into());
        let mut gql = GraphqlWs::new();
        gql.init(ctx, None);
        // Queued until `connection_ack`; the clock starts when it is sent.
        gql.subscribe(
            ctx,
            "countdown",
            "subscription ($from: Int!) { countdown(from: $from) }",
            json!({ "from": from }),
            timeout,
        );
        Countdown {
            gql,
            from,
            values: Vec::new(),
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        match self.gql.on_message(ctx, &message) {
            Ok(Some(Event::Next { payload, .. })) => {
                let value = payload["data"]["countdown"].as_i64();
                ctx.check("next carries data.countdown", value.is_some());
                self.values.extend(value);
            }
            Ok(Some(Event::Complete { .. })) => {
                let expected: Vec<i64> = (1..=self.from).rev().collect();
                ctx.check("countdown values arrive in order", self.values == expected);
                ctx.check("subscription completes", true);
                ctx.close(1000, "done");
            }
            Ok(Some(Event::Error { errors, .. })) => {
                ctx.check("subscription completes", false);
                ctx.log(
                    volley_sdk::LogLevel::Warn,
                    &format!("graphql errors: {errors:?}"),
                );
                ctx.close(1000, "subscription failed");
            }
            Ok(_) => {}
            // The layer recorded a failed check and logged why.
            Err(_) => ctx.close(1002, "not graphql-transport-ws"),
        }
    }

    fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
        if self.gql.on_reply_timeout(ctx, key).is_some() {
            ctx.check("subscription completes", false);
            ctx.close(1000, "subscription timed out");
        }
    }
}

volley_sdk::export_scenario!(Countdown);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::TestHost;

    fn text(host: &mut TestHost, scenario: &mut Countdown, text: &str) {
        host.message(scenario, Message::Text(text.into()));
    }

    fn next(n: i64) -> String {
        format!(r#"{{"id":"1","type":"next","payload":{{"data":{{"countdown":{n}}}}}}}"#)
    }

    #[test]
    fn counts_down_and_completes() {
        let mut host = TestHost::new().with_var("from", "3");
        let mut scenario: Countdown = host.open();
        text(&mut host, &mut scenario, r#"{"type":"connection_ack"}"#);
        assert_eq!(
            host.sent_texts()[1],
            r#"{"id":"1","payload":{"query":"subscription ($from: Int!) { countdown(from: $from) }","variables":{"from":3}},"type":"subscribe"}"#
        );
        for n in [3, 2, 1] {
            text(&mut host, &mut scenario, &next(n));
        }
        text(&mut host, &mut scenario, r#"{"id":"1","type":"complete"}"#);
        assert!(host.failed_checks().is_empty());
        assert!(host.pending.is_empty());
    }

    #[test]
    fn values_out_of_order_fail_the_check() {
        let mut host = TestHost::new().with_var("from", "2");
        let mut scenario: Countdown = host.open();
        text(&mut host, &mut scenario, r#"{"type":"connection_ack"}"#);
        text(&mut host, &mut scenario, &next(1));
        text(&mut host, &mut scenario, &next(2));
        text(&mut host, &mut scenario, r#"{"id":"1","type":"complete"}"#);
        assert_eq!(
            host.failed_checks(),
            vec!["countdown values arrive in order"]
        );
    }

    #[test]
    fn a_broken_message_fails_a_check_and_closes() {
        let mut host = TestHost::new();
        let mut scenario: Countdown = host.open();
        text(&mut host, &mut scenario, "{not json");
        assert_eq!(
            host.failed_checks(),
            vec![volley_sdk::graphql::MESSAGE_CHECK]
        );
    }

    #[test]
    fn an_error_fails_the_completion_check() {
        let mut host = TestHost::new();
        let mut scenario: Countdown = host.open();
        text(&mut host, &mut scenario, r#"{"type":"connection_ack"}"#);
        text(
            &mut host,
            &mut scenario,
            r#"{"id":"1","type":"error","payload":[{"message":"bad"}]}"#,
        );
        assert_eq!(host.failed_checks(), vec!["subscription completes"]);
    }
}
