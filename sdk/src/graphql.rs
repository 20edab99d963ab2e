//! GraphQL over WebSocket with the `graphql-transport-ws` protocol (the protocol of the
//! `graphql-ws` library) on top of the plain [`Context`] API: `connection_init` and
//! `connection_ack`, `subscribe`, `next`, `error`, `complete`, and ping/pong (the server's pings are
//! answered here). Each subscription is a timed, named request from `subscribe` to its `complete`
//! (or `error`). A scenario holds one [`GraphqlWs`] and forwards `on_message` and
//! `on_reply_timeout` to it.
//!
//! What does not live here: the WebSocket subprotocol (the scenario file offers it with
//! `subprotocols: [graphql-transport-ws]`) and the legacy `subscriptions-transport-ws` protocol.
//! Each subscription is a request named after it, so the results keep one round-trip histogram
//! per subscription name.

use crate::{Context, Message};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The WebSocket subprotocol to offer: `subprotocols: [graphql-transport-ws]` in the scenario file.
///
/// ```
/// assert_eq!(volley_sdk::graphql::SUBPROTOCOL, "graphql-transport-ws");
/// ```
pub const SUBPROTOCOL: &str = "graphql-transport-ws";

/// The name of the check recorded as failed when a message cannot be parsed (the reason is logged).
///
/// ```
/// assert_eq!(volley_sdk::graphql::MESSAGE_CHECK, "graphql-ws message is valid");
/// ```
pub const MESSAGE_CHECK: &str = "graphql-ws message is valid";

/// Something the server said, as [`GraphqlWs::on_message`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `connection_ack`: subscriptions queued before it have now been sent.
    Acknowledged {
        /// The server's optional payload.
        payload: Option<Value>,
    },
    /// `next`: one result of a subscription (usually `{"data": …}`).
    Next {
        /// The subscription id.
        id: String,
        /// The subscription's name, as given to [`GraphqlWs::subscribe`].
        name: String,
        /// The execution result.
        payload: Value,
    },
    /// `error`: the subscription failed (validation or execution); it is over.
    Error {
        /// The subscription id.
        id: String,
        /// The subscription's name.
        name: String,
        /// The GraphQL errors.
        errors: Vec<Value>,
        /// The time from `subscribe` to this error, or `None` after its reply timeout.
        round_trip: Option<Duration>,
    },
    /// `complete`: the server finished the subscription.
    Complete {
        /// The subscription id.
        id: String,
        /// The subscription's name.
        name: String,
        /// The time from `subscribe` to `complete` as the runner recorded it, or `None` when
        /// the subscription's reply deadline had already passed.
        round_trip: Option<Duration>,
    },
    /// `pong`: the answer to [`GraphqlWs::ping`].
    Pong {
        /// The server's optional payload.
        payload: Option<Value>,
    },
}

/// A message that is not `graphql-transport-ws`: what was wrong and the start of the message.
///
/// ```
/// use volley_sdk::{Context, Message, graphql::GraphqlWs, testing::TestHost};
/// let mut host = TestHost::new();
/// let error = GraphqlWs::new()
///     .on_message(&mut Context::new(&mut host), &Message::Text(r#"{"type":"hello"}"#.into()))
///     .unwrap_err();
/// assert_eq!(error.to_string(), r#"graphql-ws: unknown message type `hello` in `{"type":"hello"}`"#);
/// let error = GraphqlWs::new()
///     .on_message(&mut Context::new(&mut host), &Message::Text("[]".into()))
///     .unwrap_err();
/// assert_eq!(error.reason(), "message is not a JSON object");
/// ```
pub use crate::protocol_error::ProtocolError;
use crate::protocol_error::reported;

/// This layer's name in its errors.
const PROTOCOL: &str = "graphql-ws";

#[derive(Debug, Clone)]
struct Subscription {
    name: String,
    timed_out: bool,
}

/// One `graphql-transport-ws` client on one connection.
///
/// Call [`GraphqlWs::init`] in `open`; subscriptions made before the server's `connection_ack`
/// are queued and sent (and timed) when it arrives.
///
/// ```
/// use volley_sdk::graphql::{Event, GraphqlWs};
/// use volley_sdk::{Context, Message, Scenario, json};
/// use std::time::Duration;
///
/// struct Countdown { gql: GraphqlWs, values: Vec<i64> }
///
/// impl Scenario for Countdown {
///     fn open(ctx: &mut Context) -> Self {
///         let mut gql = GraphqlWs::new();
///         gql.init(ctx, None);
///         gql.subscribe(ctx, "countdown", "subscription { countdown(from: 2) }", json!({}), Duration::from_secs(5));
///         Countdown { gql, values: Vec::new() }
///     }
///     fn on_message(&mut self, ctx: &mut Context, message: Message) {
///         match self.gql.on_message(ctx, &message) {
///             Ok(Some(Event::Next { payload, .. })) => {
///                 self.values.extend(payload["data"]["countdown"].as_i64());
///             }
///             Ok(Some(Event::Complete { .. })) => {
///                 ctx.check("counted down", self.values == [2, 1]);
///                 ctx.close(1000, "done");
///             }
///             Ok(_) => {}
///             Err(_) => ctx.close(1002, "not graphql-ws"), // a failed check is already recorded
///         }
///     }
///     fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
///         self.gql.on_reply_timeout(ctx, key);
///     }
/// }
///
/// use volley_sdk::testing::TestHost;
/// let mut host = TestHost::new();
/// let mut scenario: Countdown = host.open();
/// assert_eq!(host.sent_texts(), vec![r#"{"type":"connection_init"}"#]);
/// host.message(&mut scenario, Message::Text(r#"{"type":"connection_ack"}"#.into()));
/// assert!(host.pending.contains_key("countdown#1"));
/// for n in [2, 1] {
///     let next = format!(r#"{{"id":"1","type":"next","payload":{{"data":{{"countdown":{n}}}}}}}"#);
///     host.message(&mut scenario, Message::Text(next));
/// }
/// host.message(&mut scenario, Message::Text(r#"{"id":"1","type":"complete"}"#.into()));
/// assert_eq!(host.passed_checks(), vec!["counted down"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct GraphqlWs {
    acknowledged: bool,
    next_id: u64,
    subscriptions: BTreeMap<String, Subscription>,
    /// Subscriptions waiting for `connection_ack`: name, key, message, timeout.
    queued: Vec<(String, String, String, Duration)>,
}

impl GraphqlWs {
    /// A client that has not sent `connection_init` yet.
    ///
    /// ```
    /// assert!(!volley_sdk::graphql::GraphqlWs::new().is_acknowledged());
    /// ```
    pub fn new() -> Self {
        GraphqlWs::default()
    }

    /// True once the server sent `connection_ack`.
    ///
    /// ```
    /// assert!(!volley_sdk::graphql::GraphqlWs::new().is_acknowledged());
    /// ```
    pub fn is_acknowledged(&self) -> bool {
        self.acknowledged
    }

    /// Subscriptions that have neither completed nor failed.
    ///
    /// ```
    /// assert_eq!(volley_sdk::graphql::GraphqlWs::new().active(), 0);
    /// ```
    pub fn active(&self) -> usize {
        self.subscriptions.len()
    }

    /// Send `connection_init`, with `payload` (e.g. an auth token) when given.
    ///
    /// ```
    /// use volley_sdk::{Context, json, graphql::GraphqlWs, testing::TestHost};
    /// let mut host = TestHost::new();
    /// GraphqlWs::new().init(&mut Context::new(&mut host), Some(json!({"token": "t"})));
    /// assert_eq!(host.sent_texts(), vec![r#"{"payload":{"token":"t"},"type":"connection_init"}"#]);
    /// ```
    pub fn init(&mut self, ctx: &mut Context, payload: Option<Value>) {
        let message = match payload {
            Some(payload) => json!({"type": "connection_init", "payload": payload}),
            None => json!({"type": "connection_init"}),
        };
        ctx.send_text(&message.to_string());
    }

    /// Start a subscription (or a query or mutation: any operation whose results come as `next`
    /// and end with `complete`) as a timed, named request: the runner times it from `subscribe`
    /// to `complete` or `error`, or counts a reply timeout when neither arrives within `timeout`.
    /// Before `connection_ack` it is queued and sent (and its clock started) when the ack arrives.
    /// The request key is `NAME#ID` (see [`request_key`]). Returns the subscription id.
    ///
    /// ```
    /// use volley_sdk::{Context, Message, json, graphql::GraphqlWs, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// let mut gql = GraphqlWs::new();
    /// let ack = Message::Text(r#"{"type":"connection_ack"}"#.into());
    /// gql.on_message(&mut Context::new(&mut host), &ack).unwrap();
    /// let id = gql.subscribe(&mut Context::new(&mut host), "ticks", "subscription { ticks }", json!({}), Duration::from_secs(9));
    /// assert_eq!(id, "1");
    /// assert_eq!(
    ///     host.sent_texts(),
    ///     vec![r#"{"id":"1","payload":{"query":"subscription { ticks }","variables":{}},"type":"subscribe"}"#]
    /// );
    /// ```
    pub fn subscribe(
        &mut self,
        ctx: &mut Context,
        name: &str,
        query: &str,
        variables: Value,
        timeout: Duration,
    ) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let message = json!({
            "id": id,
            "type": "subscribe",
            "payload": {"query": query, "variables": variables},
        })
        .to_string();
        let key = request_key(name, &id);
        if self.acknowledged {
            ctx.named_request_text(name, &key, &message, timeout);
        } else {
            self.queued.push((name.to_owned(), key, message, timeout));
        }
        self.subscriptions.insert(
            id.clone(),
            Subscription {
                name: name.to_owned(),
                timed_out: false,
            },
        );
        id
    }

    /// Stop subscription `id` from the client side (a `complete` message). Its request is
    /// completed too, so the runner records the time from `subscribe` to this call.
    ///
    /// ```
    /// use volley_sdk::{Context, json, graphql::GraphqlWs, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// let mut gql = GraphqlWs::new();
    /// let id = gql.subscribe(&mut Context::new(&mut host), "s", "subscription { s }", json!({}), Duration::from_secs(1));
    /// gql.unsubscribe(&mut Context::new(&mut host), &id);
    /// assert_eq!(gql.active(), 0);
    /// ```
    pub fn unsubscribe(&mut self, ctx: &mut Context, id: &str) {
        let Some(subscription) = self.subscriptions.remove(id) else {
            return;
        };
        let key = request_key(&subscription.name, id);
        let before = self.queued.len();
        self.queued.retain(|(_, queued, _, _)| *queued != key);
        if self.queued.len() == before {
            ctx.complete(&key);
            ctx.send_text(&json!({"id": id, "type": "complete"}).to_string());
        }
    }

    /// Send a `ping`; the server answers with a `pong` ([`Event::Pong`]).
    ///
    /// ```
    /// use volley_sdk::{Context, graphql::GraphqlWs, testing::TestHost};
    /// let mut host = TestHost::new();
    /// GraphqlWs::new().ping(&mut Context::new(&mut host));
    /// assert_eq!(host.sent_texts(), vec![r#"{"type":"ping"}"#]);
    /// ```
    pub fn ping(&mut self, ctx: &mut Context) {
        ctx.send_text(&json!({"type": "ping"}).to_string());
    }

    /// Handle one WebSocket message. The server's pings are answered (`Ok(None)`); everything
    /// else is returned as an [`Event`]. A message that is not `graphql-transport-ws` records the
    /// check [`MESSAGE_CHECK`] as failed, logs the reason and is returned as a
    /// [`ProtocolError`]; it never panics.
    ///
    /// ```
    /// use volley_sdk::{Context, Message, graphql::GraphqlWs, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let mut gql = GraphqlWs::new();
    /// let ping = Message::Text(r#"{"type":"ping"}"#.into());
    /// assert_eq!(gql.on_message(&mut Context::new(&mut host), &ping), Ok(None));
    /// assert_eq!(host.sent_texts(), vec![r#"{"type":"pong"}"#]);
    /// ```
    pub fn on_message(
        &mut self,
        ctx: &mut Context,
        message: &Message,
    ) -> Result<Option<Event>, ProtocolError> {
        let layer = (
            PROTOCOL,
            MESSAGE_CHECK,
            "binary messages are not part of graphql-transport-ws",
        );
        reported(ctx, message, layer, |ctx, text| self.handle(ctx, text))
    }

    /// Handle a reply timeout: returns the subscription's name and id when `key` was one of this
    /// client's subscriptions (the runner already counted the timeout), `None` for the scenario's
    /// own keys. The subscription stays known, so its late messages still parse.
    ///
    /// ```
    /// use volley_sdk::{Context, json, graphql::GraphqlWs, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// let mut gql = GraphqlWs::new();
    /// gql.subscribe(&mut Context::new(&mut host), "s", "subscription { s }", json!({}), Duration::from_secs(1));
    /// assert_eq!(gql.on_reply_timeout(&mut Context::new(&mut host), "s#1"), Some(("s".to_owned(), "1".to_owned())));
    /// assert_eq!(gql.on_reply_timeout(&mut Context::new(&mut host), "other"), None);
    /// ```
    pub fn on_reply_timeout(&mut self, _ctx: &mut Context, key: &str) -> Option<(String, String)> {
        let (name, id) = key.rsplit_once('#')?;
        let subscription = self.subscriptions.get_mut(id)?;
        if subscription.name != name {
            return None;
        }
        subscription.timed_out = true;
        Some((name.to_owned(), id.to_owned()))
    }

    fn handle(&mut self, ctx: &mut Context, text: &str) -> Result<Option<Event>, ProtocolError> {
        let value: Value = serde_json::from_str(text).map_err(|error| {
            ProtocolError::new(PROTOCOL, format!("message is not JSON ({error})"), text)
        })?;
        let Value::Object(mut fields) = value else {
            return Err(ProtocolError::new(
                PROTOCOL,
                "message is not a JSON object",
                text,
            ));
        };
        let kind = match fields.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            _ => {
                return Err(ProtocolError::new(
                    PROTOCOL,
                    "message has no string `type`",
                    text,
                ));
            }
        };
        let payload = fields.remove("payload");
        match kind.as_str() {
            "connection_ack" => {
                self.acknowledged = true;
                for (name, key, message, timeout) in std::mem::take(&mut self.queued) {
                    ctx.named_request_text(&name, &key, &message, timeout);
                }
                Ok(Some(Event::Acknowledged { payload }))
            }
            "ping" => {
                ctx.send_text(&json!({"type": "pong"}).to_string());
                Ok(None)
            }
            "pong" => Ok(Some(Event::Pong { payload })),
            "next" | "error" | "complete" => {
                let id = match fields.get("id") {
                    Some(Value::String(id)) => id.clone(),
                    _ => {
                        return Err(ProtocolError::new(
                            PROTOCOL,
                            format!("`{kind}` has no string `id`"),
                            text,
                        ));
                    }
                };
                let Some(subscription) = self.subscriptions.get(&id) else {
                    return Err(ProtocolError::new(
                        PROTOCOL,
                        format!("`{kind}` for unknown subscription id `{id}`"),
                        text,
                    ));
                };
                let name = subscription.name.clone();
                let timed_out = subscription.timed_out;
                match kind.as_str() {
                    "next" => {
                        let Some(payload) = payload else {
                            return Err(ProtocolError::new(
                                PROTOCOL,
                                "`next` has no payload",
                                text,
                            ));
                        };
                        Ok(Some(Event::Next { id, name, payload }))
                    }
                    "error" => {
                        let Some(Value::Array(errors)) = payload else {
                            return Err(ProtocolError::new(
                                PROTOCOL,
                                "`error` payload is not a list of errors",
                                text,
                            ));
                        };
                        self.subscriptions.remove(&id);
                        let round_trip = finish(ctx, &name, &id, timed_out);
                        Ok(Some(Event::Error {
                            id,
                            name,
                            errors,
                            round_trip,
                        }))
                    }
                    _ => {
                        self.subscriptions.remove(&id);
                        let round_trip = finish(ctx, &name, &id, timed_out);
                        Ok(Some(Event::Complete {
                            id,
                            name,
                            round_trip,
                        }))
                    }
                }
            }
            other => Err(ProtocolError::new(
                PROTOCOL,
                format!("unknown message type `{other}`"),
                text,
            )),
        }
    }
}

fn finish(ctx: &mut Context, name: &str, id: &str, timed_out: bool) -> Option<Duration> {
    if timed_out {
        None
    } else {
        ctx.complete(&request_key(name, id))
    }
}

/// The request key of a subscription: `NAME#ID`. The runner's reply timeouts and
/// [`Context::complete`] use it; the request's name (its histogram) is NAME.
///
/// ```
/// assert_eq!(volley_sdk::graphql::request_key("countdown", "1"), "countdown#1");
/// ```
pub fn request_key(name: &str, id: &str) -> String {
    format!("{name}#{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestHost;

    fn feed(
        gql: &mut GraphqlWs,
        host: &mut TestHost,
        text: &str,
    ) -> Result<Option<Event>, ProtocolError> {
        gql.on_message(&mut Context::new(host), &Message::Text(text.into()))
    }

    fn acknowledged(host: &mut TestHost) -> GraphqlWs {
        let mut gql = GraphqlWs::new();
        feed(&mut gql, host, r#"{"type":"connection_ack"}"#).ok();
        gql
    }

    #[test]
    fn subscriptions_before_the_ack_are_queued_then_timed_from_the_ack() {
        let mut host = TestHost::new();
        let mut gql = GraphqlWs::new();
        gql.init(&mut Context::new(&mut host), None);
        gql.subscribe(
            &mut Context::new(&mut host),
            "c",
            "subscription { c }",
            json!({}),
            Duration::from_secs(1),
        );
        assert!(host.pending.is_empty());
        host.now = Duration::from_millis(3);
        let ack = feed(
            &mut gql,
            &mut host,
            r#"{"type":"connection_ack","payload":{"v":1}}"#,
        );
        assert_eq!(
            ack,
            Ok(Some(Event::Acknowledged {
                payload: Some(json!({"v": 1}))
            }))
        );
        assert_eq!(host.pending.get("c#1"), Some(&Duration::from_millis(3)));
        assert_eq!(host.sent_texts().len(), 2);
    }

    #[test]
    fn next_then_complete_records_the_round_trip() {
        let mut host = TestHost::new();
        let mut gql = acknowledged(&mut host);
        let id = gql.subscribe(
            &mut Context::new(&mut host),
            "c",
            "subscription { c }",
            json!({}),
            Duration::from_secs(1),
        );
        let next = feed(
            &mut gql,
            &mut host,
            r#"{"id":"1","type":"next","payload":{"data":{"c":5}}}"#,
        );
        assert_eq!(
            next,
            Ok(Some(Event::Next {
                id: id.clone(),
                name: "c".into(),
                payload: json!({"data": {"c": 5}})
            }))
        );
        host.now = Duration::from_millis(40);
        let complete = feed(&mut gql, &mut host, r#"{"id":"1","type":"complete"}"#);
        assert_eq!(
            complete,
            Ok(Some(Event::Complete {
                id,
                name: "c".into(),
                round_trip: Some(Duration::from_millis(40))
            }))
        );
        assert_eq!(gql.active(), 0);
    }

    #[test]
    fn errors_end_the_subscription() {
        let mut host = TestHost::new();
        let mut gql = acknowledged(&mut host);
        gql.subscribe(
            &mut Context::new(&mut host),
            "c",
            "subscription { nope }",
            json!({}),
            Duration::from_secs(1),
        );
        let error = feed(
            &mut gql,
            &mut host,
            r#"{"id":"1","type":"error","payload":[{"message":"no field nope"}]}"#,
        );
        assert_eq!(
            error,
            Ok(Some(Event::Error {
                id: "1".into(),
                name: "c".into(),
                errors: vec![json!({"message": "no field nope"})],
                round_trip: Some(Duration::ZERO),
            }))
        );
        assert_eq!(gql.active(), 0);
    }

    #[test]
    fn a_timed_out_subscription_completes_without_a_round_trip() {
        let mut host = TestHost::new();
        let mut gql = acknowledged(&mut host);
        gql.subscribe(
            &mut Context::new(&mut host),
            "c",
            "subscription { c }",
            json!({}),
            Duration::from_secs(1),
        );
        host.pending.clear(); // what the runner does at the deadline
        assert!(
            gql.on_reply_timeout(&mut Context::new(&mut host), "c#1")
                .is_some()
        );
        let late = feed(&mut gql, &mut host, r#"{"id":"1","type":"complete"}"#);
        assert_eq!(
            late,
            Ok(Some(Event::Complete {
                id: "1".into(),
                name: "c".into(),
                round_trip: None
            }))
        );
    }

    #[test]
    fn pings_are_answered_and_pongs_reported() {
        let mut host = TestHost::new();
        let mut gql = GraphqlWs::new();
        assert_eq!(
            feed(&mut gql, &mut host, r#"{"type":"ping","payload":{}}"#),
            Ok(None)
        );
        assert_eq!(host.sent_texts(), vec![r#"{"type":"pong"}"#]);
        assert_eq!(
            feed(&mut gql, &mut host, r#"{"type":"pong"}"#),
            Ok(Some(Event::Pong { payload: None }))
        );
    }

    #[test]
    fn malformed_messages_are_failed_checks_with_reasons_never_panics() {
        let cases: &[(&str, &str)] = &[
            ("", "message is not JSON"),
            ("{", "message is not JSON"),
            ("3", "message is not a JSON object"),
            ("{}", "message has no string `type`"),
            (r#"{"type":7}"#, "message has no string `type`"),
            (r#"{"type":"data"}"#, "unknown message type `data`"),
            (r#"{"type":"next"}"#, "`next` has no string `id`"),
            (r#"{"type":"next","id":1}"#, "`next` has no string `id`"),
            (
                r#"{"type":"next","id":"9"}"#,
                "`next` for unknown subscription id `9`",
            ),
            (r#"{"type":"next","id":"1"}"#, "`next` has no payload"),
            (
                r#"{"type":"error","id":"1","payload":{}}"#,
                "`error` payload is not a list of errors",
            ),
        ];
        for (message, reason) in cases {
            let mut host = TestHost::new();
            let mut gql = acknowledged(&mut host);
            gql.subscribe(
                &mut Context::new(&mut host),
                "c",
                "subscription { c }",
                json!({}),
                Duration::from_secs(1),
            );
            let error = match feed(&mut gql, &mut host, message) {
                Err(error) => error,
                Ok(event) => panic!("`{message}` parsed as {event:?}"),
            };
            assert!(
                error.reason().starts_with(reason),
                "`{message}`: `{}` does not start with `{reason}`",
                error.reason()
            );
            assert_eq!(host.failed_checks(), vec![MESSAGE_CHECK], "`{message}`");
        }
        let mut host = TestHost::new();
        let binary =
            GraphqlWs::new().on_message(&mut Context::new(&mut host), &Message::Binary(vec![0]));
        assert_eq!(
            binary.map_err(|error| error.to_string()),
            Err(
                "graphql-ws: binary messages are not part of graphql-transport-ws in `<1 bytes>`"
                    .into()
            )
        );
    }

    #[test]
    fn unsubscribing_a_queued_subscription_never_sends_it() {
        let mut host = TestHost::new();
        let mut gql = GraphqlWs::new();
        let id = gql.subscribe(
            &mut Context::new(&mut host),
            "c",
            "subscription { c }",
            json!({}),
            Duration::from_secs(1),
        );
        gql.unsubscribe(&mut Context::new(&mut host), &id);
        feed(&mut gql, &mut host, r#"{"type":"connection_ack"}"#).ok();
        assert!(host.sent_texts().is_empty());
        assert!(host.pending.is_empty());
    }
}
