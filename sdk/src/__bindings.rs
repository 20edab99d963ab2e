//! The generated WIT bindings (the only `wit_bindgen::generate!` in the SDK) and the host adapter
//! that routes [`crate::Host`] calls to the runner's imports. Authors never name anything here.

#![allow(missing_docs, unsafe_code)] // generated code: no docs, and the canonical ABI glue is unsafe

wit_bindgen::generate!({
    path: "wit",
    world: "volley-scenario",
    pub_export_macro: true,
    export_macro_name: "__export_volley_scenario",
    default_bindings_module: "::volley_sdk::__bindings",
});

use crate::{Handshake, Host, LogLevel, Message};
use volley::scenario::host as imports;
use volley::scenario::types;

/// The real host: every call goes to the runner through the component's imports.
pub struct WasmHost;

impl Host for WasmHost {
    fn send_text(&mut self, text: &str) {
        imports::send_text(text)
    }
    fn send_binary(&mut self, data: &[u8]) {
        imports::send_binary(data)
    }
    fn request_text(&mut self, name: &str, key: &str, text: &str, timeout_ms: u32) {
        imports::request_text(name, key, text, timeout_ms)
    }
    fn request_binary(&mut self, name: &str, key: &str, data: &[u8], timeout_ms: u32) {
        imports::request_binary(name, key, data, timeout_ms)
    }
    fn handshake(&mut self) -> Handshake {
        let answer = imports::handshake();
        Handshake {
            status: answer.status,
            headers: answer.headers,
            subprotocol: answer.subprotocol,
        }
    }
    fn ping(&mut self, payload: &[u8]) {
        imports::ping(payload)
    }
    fn wall_clock_us(&mut self) -> u64 {
        imports::wall_clock_us()
    }
    fn record_latency(&mut self, name: &str, since_wall_us: u64) {
        imports::record_latency(name, since_wall_us)
    }
    fn complete(&mut self, key: &str) -> Option<u64> {
        imports::complete(key)
    }
    fn close(&mut self, code: u16, reason: &str) {
        imports::close(code, reason)
    }
    fn set_timer(&mut self, id: u32, delay_ms: u32) {
        imports::set_timer(id, delay_ms)
    }
    fn cancel_timer(&mut self, id: u32) {
        imports::cancel_timer(id)
    }
    fn check(&mut self, name: &str, ok: bool) {
        imports::check(name, ok)
    }
    fn metric(&mut self, name: &str, value: f64) {
        imports::metric(name, value)
    }
    fn var(&mut self, name: &str) -> Option<String> {
        imports::var(name)
    }
    fn vu(&mut self) -> u32 {
        imports::vu()
    }
    fn iteration(&mut self) -> u32 {
        imports::iteration()
    }
    fn now_us(&mut self) -> u64 {
        imports::now_us()
    }
    fn random_u64(&mut self) -> u64 {
        imports::random_u64()
    }
    fn log(&mut self, level: LogLevel, text: &str) {
        let level = match level {
            LogLevel::Debug => types::LogLevel::Debug,
            LogLevel::Info => types::LogLevel::Info,
            LogLevel::Warn => types::LogLevel::Warn,
            LogLevel::Error => types::LogLevel::Error,
        };
        imports::log(level, text)
    }
}

impl From<types::Message> for Message {
    fn from(message: types::Message) -> Self {
        match message {
            types::Message::Text(text) => Message::Text(text),
            types::Message::Binary(data) => Message::Binary(data),
        }
    }
}
