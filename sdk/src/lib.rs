//! `volley-sdk`: write a Volley scenario in Rust and compile it to a WebAssembly component.
//!
//! A scenario drives one WebSocket connection. The Volley runner owns the socket, the clock and the
//! measurements; the scenario reacts to what happens on the connection (open, message, timer, reply
//! timeout, pong, goodbye, close) and answers through a [`Context`]: send messages, time
//! request/reply round trips (per request name), time deliveries across connections by a
//! wall-clock stamp ([`Context::record_latency`]), send pings, read the upgrade's answer, record
//! checks and metrics. Each connection gets its own instance, so a scenario keeps its state in
//! plain fields of its own type.
//!
//! ```
//! use volley_sdk::{Context, Message, Scenario};
//! use std::time::Duration;
//!
//! /// Sends "ping" every second and checks that the reply is "pong".
//! struct Ping;
//!
//! impl Scenario for Ping {
//!     fn open(ctx: &mut Context) -> Self {
//!         ctx.set_timer(0, Duration::ZERO);
//!         Ping
//!     }
//!     fn on_timer(&mut self, ctx: &mut Context, _timer: u32) {
//!         ctx.request_text("ping", "ping", Duration::from_secs(1));
//!         ctx.set_timer(0, Duration::from_secs(1));
//!     }
//!     fn on_message(&mut self, ctx: &mut Context, message: Message) {
//!         ctx.complete("ping");
//!         ctx.check("reply is pong", message.as_text() == Some("pong"));
//!     }
//! }
//!
//! volley_sdk::export_scenario!(Ping);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` and point a scenario file's `module:`
//! at the `.wasm`. Test its logic natively with [`testing::TestHost`].
//!
//! Protocols above raw frames: [`socketio`] (Socket.IO v4 events, acknowledgements timed as
//! requests), [`graphql`] (GraphQL subscriptions over `graphql-transport-ws`) and [`stomp`]
//! (STOMP 1.2 over `v12.stomp`, receipts timed as requests).
//!
//! What does not live here: the runner (crate `volley`) and the WIT contract (`wit/scenario.wit`,
//! `volley:scenario@0.3.0`).

#![deny(missing_docs)]

mod context;
pub mod graphql;
mod handshake;
mod message;
pub mod mqtt;
mod protocol_error;
mod scenario;
pub mod socketio;
pub mod stomp;
pub mod testing;
#[cfg(test)]
mod version_tests;

#[doc(hidden)]
pub mod __private;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod __bindings;

pub use context::{Context, Host, LogLevel};
pub use handshake::Handshake;
pub use message::Message;
pub use scenario::Scenario;

/// JSON values for the protocol layers ([`socketio`], [`graphql`]): `serde_json`, re-exported so a
/// scenario needs no extra dependency.
///
/// ```
/// let payload = volley_sdk::json!({"seq": 1});
/// assert_eq!(payload["seq"], 1);
/// ```
pub use serde_json::{Value, json};

/// Export a type implementing [`Scenario`] as this module's scenario. Use it once per crate.
///
/// ```
/// # use volley_sdk::{Context, Scenario};
/// struct Quiet;
/// impl Scenario for Quiet {
///     fn open(_ctx: &mut Context) -> Self {
///         Quiet
///     }
/// }
/// volley_sdk::export_scenario!(Quiet);
/// # fn main() {}
/// ```
///
/// A type that does not implement [`Scenario`] is a compile error pointing at the type.
#[macro_export]
macro_rules! export_scenario {
    ($scenario:ty) => {
        const _: fn() = || {
            fn must_implement_volley_scenario<S: $crate::Scenario>() {}
            must_implement_volley_scenario::<$scenario>();
        };
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            ::std::thread_local! {
                static STATE: ::core::cell::RefCell<::core::option::Option<$scenario>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }
            struct VolleyGuest;
            impl $crate::__bindings::exports::volley::scenario::scenario::Guest for VolleyGuest {
                fn on_open() {
                    STATE.with(|state| $crate::__private::on_open(&mut state.borrow_mut()))
                }
                fn on_message(message: $crate::__bindings::volley::scenario::types::Message) {
                    STATE.with(|state| {
                        $crate::__private::on_message(&mut state.borrow_mut(), message.into())
                    })
                }
                fn on_timer(id: u32) {
                    STATE.with(|state| $crate::__private::on_timer(&mut state.borrow_mut(), id))
                }
                fn on_reply_timeout(key: ::std::string::String) {
                    STATE.with(|state| {
                        $crate::__private::on_reply_timeout(&mut state.borrow_mut(), &key)
                    })
                }
                fn on_goodbye() {
                    STATE.with(|state| $crate::__private::on_goodbye(&mut state.borrow_mut()))
                }
                fn on_close(code: u16, reason: ::std::string::String) {
                    STATE.with(|state| {
                        $crate::__private::on_close(&mut state.borrow_mut(), code, &reason)
                    })
                }
                fn on_pong(payload: ::std::vec::Vec<u8>, rtt_us: u64) {
                    STATE.with(|state| {
                        $crate::__private::on_pong(&mut state.borrow_mut(), &payload, rtt_us)
                    })
                }
            }
            $crate::__bindings::__export_volley_scenario!(VolleyGuest with_types_in $crate::__bindings);
        };
    };
}
