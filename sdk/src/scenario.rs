//! [`Scenario`]: the trait a scenario author implements.

use crate::{Context, Message};

/// The behaviour of one WebSocket connection. The runner creates one instance per connection
/// (per iteration) with [`Scenario::open`] and calls the other methods as events arrive. Every method
/// but `open` has a default that does nothing.
///
/// ```
/// use volley_sdk::{Context, Message, Scenario};
/// struct Greeter { greeted: bool }
/// impl Scenario for Greeter {
///     fn open(ctx: &mut Context) -> Self {
///         ctx.send_text("hello");
///         Greeter { greeted: false }
///     }
///     fn on_message(&mut self, ctx: &mut Context, message: Message) {
///         self.greeted = true;
///         ctx.check("greeting echoed", message.as_text() == Some("hello"));
///         ctx.close(1000, "done");
///     }
/// }
/// ```
pub trait Scenario: Sized + 'static {
    /// The WebSocket handshake completed: build the connection's state, usually sending a first
    /// message or setting a timer.
    fn open(ctx: &mut Context) -> Self;

    /// A data message arrived from the server.
    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        let _ = (ctx, message);
    }

    /// Timer `timer`, set with [`Context::set_timer`], fired.
    fn on_timer(&mut self, ctx: &mut Context, timer: u32) {
        let _ = (ctx, timer);
    }

    /// The request `key` (see [`Context::request_text`]) was not completed before its deadline. The
    /// runner has already counted it as a reply timeout.
    fn on_reply_timeout(&mut self, ctx: &mut Context, key: &str) {
        let _ = (ctx, key);
    }

    /// The Pong answering [`Context::ping`] with `payload` arrived, `rtt` after the ping was due
    /// (the runner has recorded it in `ping_rtt`).
    fn on_pong(&mut self, ctx: &mut Context, payload: &[u8], rtt: std::time::Duration) {
        let _ = (ctx, payload, rtt);
    }

    /// The run is ending this connection (its duration reached, `max_duration`, Ctrl-C, an abort
    /// rule) — not called when the server or the scenario closed it. Say goodbye here: the
    /// scenario may still send. Then, if it called [`Context::close`], the connection closes so
    /// (after what it queued); else if requests it made here are pending (a DISCONNECT waiting for
    /// its receipt), the connection keeps running — replies still reach `on_message` — until none
    /// is pending or `load.goodbye_timeout` passes; else the runner sends its Close right away.
    /// Requests made before the goodbye are not waited for.
    ///
    /// ```
    /// use volley_sdk::{Context, Scenario, testing::TestHost};
    /// struct Polite;
    /// impl Scenario for Polite {
    ///     fn open(_ctx: &mut Context) -> Self { Polite }
    ///     fn on_goodbye(&mut self, ctx: &mut Context) {
    ///         ctx.send_text("bye");
    ///     }
    /// }
    /// let mut host = TestHost::new();
    /// let mut polite: Polite = host.open();
    /// host.goodbye(&mut polite);
    /// assert_eq!(host.sent_texts(), vec!["bye"]);
    /// ```
    fn on_goodbye(&mut self, ctx: &mut Context) {
        let _ = ctx;
    }

    /// The connection is closing with `code` and `reason`. Sends are ignored from here on; checks and
    /// metrics still count.
    fn on_close(&mut self, ctx: &mut Context, code: u16, reason: &str) {
        let _ = (ctx, code, reason);
    }
}
