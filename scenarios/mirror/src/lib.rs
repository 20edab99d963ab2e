//! Mirror: send every data message back exactly as it arrived (text as text, binary as binary, in
//! order), open nothing, time nothing, and never close: the connection lasts until the server
//! closes it. It is the client side of a conformance suite whose server does the testing, as
//! `just autobahn` (`scripts/autobahn/`) uses it with the Autobahn|Testsuite fuzzing server: the
//! server's report is the verdict, not this scenario's. Pings are answered by the runner itself.
//!
//! Vars: none.

use volley_sdk::{Context, Message, Scenario};

/// Per-connection state: none; every message is answered as it comes.
pub struct Mirror;

impl Scenario for Mirror {
    fn open(_ctx: &mut Context) -> Self {
        Mirror
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        match message {
            Message::Text(text) => ctx.send_text(&text),
            Message::Binary(data) => ctx.send_binary(&data),
        }
    }
}

volley_sdk::export_scenario!(Mirror);

#[cfg(test)]
mod tests {
    use super::*;
    use volley_sdk::testing::{Action, TestHost};

    fn sent(host: &TestHost) -> Vec<Message> {
        host.actions
            .iter()
            .filter_map(|action| match action {
                Action::Send { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_message_goes_back_as_it_came_in_order() {
        let mut host = TestHost::new();
        let mut mirror: Mirror = host.open();
        let received = vec![
            Message::Text("héllo".into()),
            Message::Binary(vec![0, 255, 7]),
            Message::Text(String::new()),
            Message::Binary(Vec::new()),
            Message::Text("ok".into()),
        ];
        for message in &received {
            host.message(&mut mirror, message.clone());
        }
        assert_eq!(sent(&host), received);
    }

    #[test]
    fn it_neither_sends_first_nor_closes() {
        let mut host = TestHost::new();
        let mut mirror: Mirror = host.open();
        host.message(&mut mirror, Message::Text("one".into()));
        host.closed(&mut mirror, 1000, "bye");
        assert_eq!(sent(&host), vec![Message::Text("one".into())]);
        assert_eq!(host.actions.len(), 1, "only the echo: {:?}", host.actions);
    }
}
