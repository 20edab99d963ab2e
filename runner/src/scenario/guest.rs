//! One scenario instance's exports, whatever interface version it was built for: [`GuestPre`] is
//! the linked module (which world it speaks is found once, at load), [`Guest`] one instance, and
//! [`Guest::call`] makes one [`Callback`] on it. A `volley:scenario@0.2.0` or `@0.1.0` module gets
//! the same callbacks converted to its types; the ones its world lacks (`on-pong` for 0.1.0,
//! `on-goodbye` for both) are skipped — a module cannot ask for a pong it cannot send, and the
//! connection loop never waits on a goodbye such a module cannot say ([`Guest::says_goodbye`]).
//! The imports every world calls live in `host`; when to call lives in `connection::event_loop`.

use crate::config::flow::Flow;
use crate::scenario::bindings::{
    LogLevel, LogLevelV0_1, LogLevelV0_2, Message, MessageV0_1, MessageV0_2, VolleyScenario,
    VolleyScenarioPre, VolleyScenarioPreV0_1, VolleyScenarioPreV0_2, VolleyScenarioV0_1,
    VolleyScenarioV0_2, WIT_PACKAGE, WIT_PACKAGE_V0_1, WIT_PACKAGE_V0_2,
};
use crate::scenario::flow::FlowRun;
use crate::scenario::host::ConnState;
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::InstancePre;

/// A scenario callback to make, with its arguments.
#[derive(Debug)]
pub enum Callback {
    /// `on-open`.
    Open,
    /// `on-message`.
    Message(Message),
    /// `on-timer(id)`.
    Timer(u32),
    /// `on-reply-timeout(key)`.
    ReplyTimeout(String),
    /// `on-close(code, reason)`.
    Close(u16, String),
    /// `on-pong(payload, rtt-us)` (0.2.0 and later).
    Pong(Vec<u8>, u64),
    /// `on-goodbye` (0.3.0 and later): the run is ending the connection.
    Goodbye,
}

impl Callback {
    /// Its WIT name, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Callback::Open => "on-open",
            Callback::Message(_) => "on-message",
            Callback::Timer(_) => "on-timer",
            Callback::ReplyTimeout(_) => "on-reply-timeout",
            Callback::Close(..) => "on-close",
            Callback::Pong(..) => "on-pong",
            Callback::Goodbye => "on-goodbye",
        }
    }
}

/// What a flow reports as its interface (where a module names its WIT package).
pub const FLOW_INTERFACE: &str = "volley flow (native)";

/// A linked module, ready to instantiate, in the world it speaks; or a compiled flow.
pub enum GuestPre {
    /// `volley:scenario@0.3.0`.
    Current(VolleyScenarioPre<ConnState>),
    /// `volley:scenario@0.2.0`.
    V0_2(VolleyScenarioPreV0_2<ConnState>),
    /// `volley:scenario@0.1.0`.
    V0_1(VolleyScenarioPreV0_1<ConnState>),
    /// A `flow:` the runner interprets itself (`scenario::flow`).
    Flow(Arc<Flow>),
}

impl GuestPre {
    /// Find which world `instance` exports: the current one, else 0.2.0, else 0.1.0; the error is
    /// the current world's (what a module should be rebuilt for).
    pub fn new(instance: InstancePre<ConnState>) -> wasmtime::Result<GuestPre> {
        match VolleyScenarioPre::new(instance.clone()) {
            Ok(pre) => Ok(GuestPre::Current(pre)),
            Err(error) => {
                if let Ok(pre) = VolleyScenarioPreV0_2::new(instance.clone()) {
                    Ok(GuestPre::V0_2(pre))
                } else if let Ok(pre) = VolleyScenarioPreV0_1::new(instance) {
                    Ok(GuestPre::V0_1(pre))
                } else {
                    Err(error)
                }
            }
        }
    }

    /// The WIT package the module speaks, e.g. `volley:scenario@0.2.0`.
    pub fn package(&self) -> &'static str {
        match self {
            GuestPre::Current(_) => WIT_PACKAGE,
            GuestPre::V0_2(_) => WIT_PACKAGE_V0_2,
            GuestPre::V0_1(_) => WIT_PACKAGE_V0_1,
            GuestPre::Flow(_) => FLOW_INTERFACE,
        }
    }

    /// A new instance in `store`.
    pub fn instantiate(&self, store: &mut Store<ConnState>) -> wasmtime::Result<Guest> {
        Ok(match self {
            GuestPre::Current(pre) => Guest::Current(pre.instantiate(store)?),
            GuestPre::V0_2(pre) => Guest::V0_2(pre.instantiate(store)?),
            GuestPre::V0_1(pre) => Guest::V0_1(pre.instantiate(store)?),
            GuestPre::Flow(flow) => Guest::Flow(Box::new(FlowRun::new(flow.clone()))),
        })
    }
}

/// One scenario instance.
pub enum Guest {
    /// `volley:scenario@0.3.0`.
    Current(VolleyScenario),
    /// `volley:scenario@0.2.0`.
    V0_2(VolleyScenarioV0_2),
    /// `volley:scenario@0.1.0`.
    V0_1(VolleyScenarioV0_1),
    /// One connection's run of a flow.
    Flow(Box<FlowRun>),
}

impl Guest {
    /// Whether this instance has an `on-goodbye` to call (0.3.0 modules, and flows): for the
    /// others the run's end closes the connection exactly as before goodbyes existed.
    pub fn says_goodbye(&self) -> bool {
        match self {
            Guest::Current(_) => true,
            Guest::Flow(run) => run.says_goodbye(),
            Guest::V0_2(_) | Guest::V0_1(_) => false,
        }
    }

    /// Make `callback` on this instance (the caller arms the CPU deadline first).
    pub fn call(
        &mut self,
        store: &mut Store<ConnState>,
        callback: Callback,
    ) -> wasmtime::Result<()> {
        match self {
            Guest::Flow(run) => {
                run.call(store.data_mut(), callback);
                Ok(())
            }
            Guest::Current(instance) => {
                let guest = instance.volley_scenario_scenario();
                match callback {
                    Callback::Open => guest.call_on_open(store),
                    Callback::Message(message) => guest.call_on_message(store, &message),
                    Callback::Timer(id) => guest.call_on_timer(store, id),
                    Callback::ReplyTimeout(key) => guest.call_on_reply_timeout(store, &key),
                    Callback::Close(code, reason) => guest.call_on_close(store, code, &reason),
                    Callback::Pong(payload, rtt) => guest.call_on_pong(store, &payload, rtt),
                    Callback::Goodbye => guest.call_on_goodbye(store),
                }
            }
            Guest::V0_2(instance) => {
                let guest = instance.volley_scenario_scenario();
                match callback {
                    Callback::Open => guest.call_on_open(store),
                    Callback::Message(message) => {
                        guest.call_on_message(store, &message_v0_2(message))
                    }
                    Callback::Timer(id) => guest.call_on_timer(store, id),
                    Callback::ReplyTimeout(key) => guest.call_on_reply_timeout(store, &key),
                    Callback::Close(code, reason) => guest.call_on_close(store, code, &reason),
                    Callback::Pong(payload, rtt) => guest.call_on_pong(store, &payload, rtt),
                    // A 0.2.0 module has no goodbye; the loop does not wait for one.
                    Callback::Goodbye => Ok(()),
                }
            }
            Guest::V0_1(instance) => {
                let guest = instance.volley_scenario_scenario();
                match callback {
                    Callback::Open => guest.call_on_open(store),
                    Callback::Message(message) => {
                        guest.call_on_message(store, &message_v0_1(message))
                    }
                    Callback::Timer(id) => guest.call_on_timer(store, id),
                    Callback::ReplyTimeout(key) => guest.call_on_reply_timeout(store, &key),
                    Callback::Close(code, reason) => guest.call_on_close(store, code, &reason),
                    // A 0.1.0 module cannot ping, so it is never owed a pong.
                    Callback::Pong(..) => Ok(()),
                    Callback::Goodbye => Ok(()),
                }
            }
        }
    }
}

fn message_v0_1(message: Message) -> MessageV0_1 {
    match message {
        Message::Text(text) => MessageV0_1::Text(text),
        Message::Binary(data) => MessageV0_1::Binary(data),
    }
}

fn message_v0_2(message: Message) -> MessageV0_2 {
    match message {
        Message::Text(text) => MessageV0_2::Text(text),
        Message::Binary(data) => MessageV0_2::Binary(data),
    }
}

/// The current log level for a 0.2.0 one (used by `host`'s adapter).
pub fn log_level_v0_2(level: LogLevelV0_2) -> LogLevel {
    match level {
        LogLevelV0_2::Debug => LogLevel::Debug,
        LogLevelV0_2::Info => LogLevel::Info,
        LogLevelV0_2::Warn => LogLevel::Warn,
        LogLevelV0_2::Error => LogLevel::Error,
    }
}

/// The current log level for a 0.1.0 one (used by `host`'s adapter).
pub fn log_level(level: LogLevelV0_1) -> LogLevel {
    match level {
        LogLevelV0_1::Debug => LogLevel::Debug,
        LogLevelV0_1::Info => LogLevel::Info,
        LogLevelV0_1::Warn => LogLevel::Warn,
        LogLevelV0_1::Error => LogLevel::Error,
    }
}
