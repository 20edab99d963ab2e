//! Glue called by [`crate::export_scenario!`]: keeps the per-instance scenario state and turns each
//! export call into a trait call with a [`Context`] on the real host. Not part of the public API.

use crate::{Context, Message, Scenario};

#[cfg(target_arch = "wasm32")]
fn with_context<R>(f: impl FnOnce(&mut Context) -> R) -> R {
    f(&mut Context::of_imports())
}

#[cfg(not(target_arch = "wasm32"))]
fn with_context<R>(_f: impl FnOnce(&mut Context) -> R) -> R {
    unreachable!("volley scenarios run natively only through volley_sdk::testing")
}

/// `on-open`: build the scenario state.
pub fn on_open<S: Scenario>(state: &mut Option<S>) {
    *state = Some(with_context(S::open));
}

/// `on-message`: forward to the state, if open.
pub fn on_message<S: Scenario>(state: &mut Option<S>, message: Message) {
    if let Some(scenario) = state {
        with_context(|ctx| scenario.on_message(ctx, message));
    }
}

/// `on-timer`.
pub fn on_timer<S: Scenario>(state: &mut Option<S>, id: u32) {
    if let Some(scenario) = state {
        with_context(|ctx| scenario.on_timer(ctx, id));
    }
}

/// `on-reply-timeout`.
pub fn on_reply_timeout<S: Scenario>(state: &mut Option<S>, key: &str) {
    if let Some(scenario) = state {
        with_context(|ctx| scenario.on_reply_timeout(ctx, key));
    }
}

/// `on-pong`.
pub fn on_pong<S: Scenario>(state: &mut Option<S>, payload: &[u8], rtt_us: u64) {
    if let Some(scenario) = state {
        with_context(|ctx| {
            scenario.on_pong(ctx, payload, std::time::Duration::from_micros(rtt_us))
        });
    }
}

/// `on-goodbye`: the run is ending the connection.
pub fn on_goodbye<S: Scenario>(state: &mut Option<S>) {
    if let Some(scenario) = state {
        with_context(|ctx| scenario.on_goodbye(ctx));
    }
}

/// `on-close`: the last call; the state is dropped afterwards.
pub fn on_close<S: Scenario>(state: &mut Option<S>, code: u16, reason: &str) {
    if let Some(mut scenario) = state.take() {
        with_context(|ctx| scenario.on_close(ctx, code, reason));
    }
}
