//! What a scenario instance can ask of the runner: [`ConnState`] is the data of one connection's
//! wasmtime `Store`, and implements the WIT `host` imports — once, for the current interface; the
//! `volley:scenario@0.2.0` and `volley:scenario@0.1.0` imports forward to the same methods (an
//! unnamed request, for instance).
//! Imports never block or do I/O: sends and pings are queued in an outbox, timers and request
//! deadlines go into the connection's [`Schedule`], measurements into its `Recorder`. The
//! connection task (`connection::event_loop`) drains and acts on all of it after each callback.

use crate::measure::recorder::Recorder;
use crate::scenario::bindings::{
    Handshake, HandshakeV0_2, HostImports, HostImportsV0_1, HostImportsV0_2, LogLevel,
    LogLevelV0_1, LogLevelV0_2, TypesHost, TypesHostV0_1, TypesHostV0_2,
};
use crate::scenario::budget::MemoryBudget;
use crate::scenario::guest::Callback;
use crate::scenario::schedule::{Full, MAX_PENDING, MAX_TIMERS, Schedule};
use crate::scenario::wasi_state::LazyWasi;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime_wasi::{ResourceTable, WasiCtxView, WasiView};

/// Longest log line kept, in bytes.
const MAX_LOG_LINE: usize = 1000;
/// Longest request key, in bytes: with [`MAX_PENDING`] keys this bounds what pending requests hold.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest check or metric name, in bytes (names are kept for the whole run, up to
/// `measure::stats::MAX_NAMES` of them).
pub const MAX_NAME_BYTES: usize = 200;
/// Longest Close reason, in bytes (RFC 6455: the Close payload is at most 125 bytes with the code).
pub const MAX_CLOSE_REASON_BYTES: usize = 123;
/// Longest Ping payload, in bytes (RFC 6455: a control frame carries at most 125).
pub const MAX_PING_BYTES: usize = 125;
/// Scenario pings that may wait for their Pong at once.
pub const MAX_PINGS_WAITING: usize = 16;
/// Log lines printed per run; later ones are counted, not printed.
pub const MAX_LOG_LINES: u64 = 10_000;

/// A message the scenario asked to send.
#[derive(Debug)]
pub enum Outgoing {
    /// Text message.
    Text(String),
    /// Binary message.
    Binary(Vec<u8>),
    /// A Ping frame (`ping`), not a data message.
    Ping(Vec<u8>),
}

/// Read-only facts about the run shared by every connection.
#[derive(Debug)]
pub struct RunFacts {
    /// When the run started (`now-us` counts from here).
    pub started: Instant,
    /// `vars:` from the file.
    pub vars: BTreeMap<String, String>,
    /// `data:` rows (shared, never copied per connection).
    pub data: Arc<crate::config::DataTable>,
    /// The file's seed.
    pub seed: u64,
    /// Scenario log lines written so far (printing stops at [`MAX_LOG_LINES`]).
    pub log_lines: std::sync::atomic::AtomicU64,
}

impl RunFacts {
    /// The facts of a run of `scenario` that started at `started`.
    pub fn of(scenario: &crate::config::Scenario, started: Instant) -> RunFacts {
        RunFacts {
            started,
            vars: scenario.vars.clone(),
            data: scenario.data.clone(),
            seed: scenario.seed,
            log_lines: Default::default(),
        }
    }

    /// A variable of a connection that reads data row `row` (chosen by `load::rows`; `None`
    /// without data): the row first, then `vars`.
    pub fn var(&self, row: Option<u32>, name: &str) -> Option<&str> {
        row.and_then(|row| self.data.value(row as usize, name))
            .or_else(|| self.vars.get(name).map(String::as_str))
    }
}

/// The state of one connection's store.
pub struct ConnState {
    /// WASI (Rust's std links it), built on the scenario's first WASI call.
    wasi: LazyWasi,
    /// The memory cap, shared by linear memory and the requests and timers held for the scenario
    /// (installed as the store's limiter).
    pub limits: MemoryBudget,
    facts: Arc<RunFacts>,
    vu: u32,
    iteration: u32,
    /// The data row this connection reads (see `with_row`).
    row: Option<u32>,
    rng: SmallRng,
    /// When the current callback was due; timers set during it count from here.
    pub due: Instant,
    /// When the current callback's sends count as sent: the earlier of its due time and its start.
    pub send_base: Instant,
    /// When the message the current callback handles arrived (`on-message` only): a round trip
    /// the scenario completes ends there, not after the scenario's own parsing.
    pub arrived: Option<Instant>,
    /// Messages queued by the current callback.
    pub outbox: Vec<Outgoing>,
    /// A close the scenario asked for.
    pub close_request: Option<(u16, String)>,
    /// Once true, sends are ignored (the connection is closing).
    pub closing: bool,
    /// Timers and reply deadlines.
    pub schedule: Schedule,
    /// This connection's measurements.
    pub recorder: Recorder,
    /// The thread CPU time when the current call first reached its epoch deadline (see `engine`).
    pub cpu_mark: Option<Duration>,
    /// Bytes queued in the outbox by the current callback.
    queued_bytes: usize,
    /// Set when the scenario exceeded a host-side limit; the connection fails with it.
    pub violation: Option<String>,
    /// The memory cap, which also bounds what one callback may queue.
    memory: usize,
    /// The server's answer to the upgrade (set before `on-open`).
    pub handshake: Handshake,
    /// Scenario pings waiting for their Pong: payload and when the ping was due.
    pings: VecDeque<(Vec<u8>, Instant)>,
    /// While `on-goodbye` runs: the keys of the requests it makes (the connection waits for
    /// those, not for requests made before the goodbye).
    pub goodbye_keys: Option<Vec<String>>,
}

impl ConnState {
    /// State for VU `vu`, iteration `iteration`, with a memory cap of `memory` bytes.
    pub fn new(
        facts: Arc<RunFacts>,
        vu: u32,
        iteration: u32,
        memory: usize,
        recorder: Recorder,
    ) -> Self {
        let seed = facts.seed ^ (u64::from(vu) << 32) ^ u64::from(iteration);
        ConnState {
            wasi: LazyWasi::default(),
            limits: MemoryBudget::new(memory),
            facts,
            vu,
            iteration,
            row: None,
            rng: SmallRng::seed_from_u64(seed),
            due: Instant::now(),
            send_base: Instant::now(),
            arrived: None,
            outbox: Vec::new(),
            close_request: None,
            closing: false,
            schedule: Schedule::default(),
            recorder,
            cpu_mark: None,
            queued_bytes: 0,
            violation: None,
            memory,
            handshake: crate::scenario::handshake::none_yet(),
            pings: VecDeque::new(),
            goodbye_keys: None,
        }
    }

    /// The data row `var` reads for this connection: the one its URL and headers were made from.
    pub fn with_row(mut self, row: Option<u32>) -> Self {
        self.row = row;
        self
    }

    /// The run's shared facts (variables, data rows).
    pub fn facts(&self) -> &RunFacts {
        &self.facts
    }

    /// The data row this connection reads, if the file has data.
    pub fn row(&self) -> Option<u32> {
        self.row
    }

    /// The WASI resource table (streams, pollables).
    pub fn table(&mut self) -> &mut ResourceTable {
        self.wasi.table()
    }

    /// What the scenario wrote to stderr (a panic message, usually), lossily decoded.
    pub fn stderr_text(&self) -> String {
        self.wasi.stderr_text()
    }

    fn queue(&mut self, message: Outgoing) {
        if self.closing || self.violation.is_some() {
            return;
        }
        let size = match &message {
            Outgoing::Text(text) => text.len(),
            Outgoing::Binary(data) | Outgoing::Ping(data) => data.len(),
        };
        if self.outbox.is_empty() {
            self.queued_bytes = 0;
        }
        self.queued_bytes += size;
        if self.queued_bytes > self.memory {
            self.violate(format!(
                "scenario: queued more than {} of messages in one callback (limits.memory)",
                crate::config::units::human_bytes(self.memory as u64)
            ));
            return;
        }
        self.outbox.push(message);
    }

    fn violate(&mut self, reason: String) {
        if self.violation.is_none() {
            self.violation = Some(reason);
        }
    }

    /// A Pong with `payload` arrived at `now`. When it answers a scenario ping: its round trip is
    /// recorded in `ping_rtt` and the `on-pong` callback to make is returned; `None` otherwise
    /// (a heartbeat's pong, or an unsolicited one).
    pub fn pong(&mut self, payload: &[u8], now: Instant) -> Option<Callback> {
        let index = self.pings.iter().position(|(sent, _)| sent == payload)?;
        let (payload, due) = self.pings.remove(index)?;
        let rtt = now.saturating_duration_since(due);
        self.recorder.ping_rtt(rtt);
        Some(Callback::Pong(
            payload,
            crate::measure::recorder::micros(rtt),
        ))
    }

    fn expect_reply(&mut self, name: String, key: String, timeout_ms: u32) {
        if self.violation.is_some() {
            return;
        }
        if name.len() > MAX_NAME_BYTES {
            self.violate(format!(
                "scenario: a request name is longer than {MAX_NAME_BYTES} bytes ({} bytes)",
                name.len()
            ));
            return;
        }
        if key.len() > MAX_KEY_BYTES {
            self.violate(format!(
                "scenario: a request key is longer than {MAX_KEY_BYTES} bytes ({} bytes)",
                key.len()
            ));
            return;
        }
        let deadline = self.send_base + Duration::from_millis(u64::from(timeout_ms));
        if let Some(keys) = &mut self.goodbye_keys {
            keys.push(key.clone());
        }
        if let Err(Full::Requests) =
            self.schedule
                .wait_for_reply(key, name.into_boxed_str(), self.send_base, deadline)
        {
            self.violate(format!(
                "scenario: more than {MAX_PENDING} requests waiting for replies"
            ));
            return;
        }
        self.hold_schedule();
    }

    /// Note what the waiting requests and timers hold; past the memory cap (with the linear
    /// memory), the connection fails with a memory reason.
    fn hold_schedule(&mut self) {
        let held = self.schedule.held_bytes();
        if !self.limits.hold(held) {
            self.violate(format!(
                "scenario: waiting requests and timers, with linear memory, exceed the {} memory cap; raise limits.memory if they are legitimate",
                crate::config::units::human_bytes(self.memory as u64)
            ));
        }
    }
}

/// Whether a scenario may send `code` in a Close frame: RFC 6455 §7.4 reserves 1004–1006 and 1015
/// (1005, 1006 and 1015 must never be sent), and 0–999 and 1016–2999 are not codes at all.
pub fn sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

impl WasiView for ConnState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.view()
    }
}

impl TypesHost for ConnState {}
impl TypesHostV0_1 for ConnState {}
impl TypesHostV0_2 for ConnState {}

/// Microseconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub fn wall_clock_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

/// The latency from a stamp `since_us` to `now_us` (both wall-clock µs): the difference, or 0 and
/// `true` when the stamp is in the future (the clocks of sender and receiver disagree).
pub fn latency_since(now_us: u64, since_us: u64) -> (u64, bool) {
    match now_us.checked_sub(since_us) {
        Some(latency) => (latency, false),
        None => (0, true),
    }
}

impl HostImports for ConnState {
    fn send_text(&mut self, text: String) {
        self.queue(Outgoing::Text(text));
    }

    fn send_binary(&mut self, data: Vec<u8>) {
        self.queue(Outgoing::Binary(data));
    }

    fn request_text(&mut self, name: String, key: String, text: String, timeout_ms: u32) {
        if !self.closing {
            self.expect_reply(name, key, timeout_ms);
            self.queue(Outgoing::Text(text));
        }
    }

    fn request_binary(&mut self, name: String, key: String, data: Vec<u8>, timeout_ms: u32) {
        if !self.closing {
            self.expect_reply(name, key, timeout_ms);
            self.queue(Outgoing::Binary(data));
        }
    }

    fn complete(&mut self, key: String) -> Option<u64> {
        let pending = self.schedule.complete(&key)?;
        self.limits.hold(self.schedule.held_bytes());
        let end = self.arrived.unwrap_or_else(Instant::now);
        let elapsed = end.saturating_duration_since(pending.sent);
        self.recorder.round_trip(&pending.name, elapsed);
        Some(crate::measure::recorder::micros(elapsed))
    }

    fn handshake(&mut self) -> Handshake {
        self.handshake.clone()
    }

    fn wall_clock_us(&mut self) -> u64 {
        wall_clock_us()
    }

    fn record_latency(&mut self, name: String, since_wall_us: u64) {
        if name.len() > MAX_NAME_BYTES {
            self.violate(format!(
                "scenario: a latency name is longer than {MAX_NAME_BYTES} bytes ({} bytes)",
                name.len()
            ));
            return;
        }
        let (latency, in_future) = latency_since(wall_clock_us(), since_wall_us);
        if in_future {
            crate::measure::counters::bump(
                &self.recorder.collector().counters.latency_stamps_in_future,
                1,
            );
        }
        self.recorder.latency(&name, latency);
    }

    fn ping(&mut self, payload: Vec<u8>) {
        if self.closing {
            return;
        }
        if payload.len() > MAX_PING_BYTES {
            self.violate(format!(
                "scenario: a ping payload is longer than {MAX_PING_BYTES} bytes ({} bytes; RFC 6455)",
                payload.len()
            ));
            return;
        }
        if self.pings.len() >= MAX_PINGS_WAITING {
            self.violate(format!(
                "scenario: more than {MAX_PINGS_WAITING} pings waiting for a pong"
            ));
            return;
        }
        self.pings.push_back((payload.clone(), self.send_base));
        crate::measure::counters::bump(&self.recorder.collector().counters.pings_sent, 1);
        self.queue(Outgoing::Ping(payload));
    }

    fn close(&mut self, code: u16, reason: String) {
        if !sendable_close_code(code) {
            self.violate(format!(
                "scenario: close code {code} cannot be sent (RFC 6455: use 1000–1003, 1007–1014 or 3000–4999)"
            ));
            return;
        }
        if reason.len() > MAX_CLOSE_REASON_BYTES {
            self.violate(format!(
                "scenario: a close reason is longer than {MAX_CLOSE_REASON_BYTES} bytes ({} bytes; RFC 6455)",
                reason.len()
            ));
            return;
        }
        if self.close_request.is_none() {
            self.close_request = Some((code, reason));
        }
    }

    fn set_timer(&mut self, id: u32, delay_ms: u32) {
        let due = self.due + Duration::from_millis(u64::from(delay_ms));
        if let Err(Full::Timers) = self.schedule.set_timer(id, due) {
            self.violate(format!(
                "scenario: more than {MAX_TIMERS} timers set at once"
            ));
            return;
        }
        self.hold_schedule();
    }

    fn cancel_timer(&mut self, id: u32) {
        self.schedule.cancel_timer(id);
        self.limits.hold(self.schedule.held_bytes());
    }

    fn check(&mut self, name: String, ok: bool) {
        if name.len() > MAX_NAME_BYTES {
            self.violate(format!(
                "scenario: a check name is longer than {MAX_NAME_BYTES} bytes ({} bytes)",
                name.len()
            ));
            return;
        }
        self.recorder.check(&name, ok);
    }

    fn metric(&mut self, name: String, value: f64) {
        if name.len() > MAX_NAME_BYTES {
            self.violate(format!(
                "scenario: a metric name is longer than {MAX_NAME_BYTES} bytes ({} bytes)",
                name.len()
            ));
            return;
        }
        self.recorder.metric(&name, value);
    }

    fn var(&mut self, name: String) -> Option<String> {
        self.facts.var(self.row, &name).map(str::to_owned)
    }

    fn vu(&mut self) -> u32 {
        self.vu
    }

    fn iteration(&mut self) -> u32 {
        self.iteration
    }

    fn now_us(&mut self) -> u64 {
        crate::measure::recorder::micros(self.facts.started.elapsed())
    }

    fn random_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn log(&mut self, level: LogLevel, text: String) {
        let written = self
            .facts
            .log_lines
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if written >= MAX_LOG_LINES {
            if written == MAX_LOG_LINES {
                eprintln!(
                    "volley: {MAX_LOG_LINES} scenario log lines written; further lines are dropped"
                );
            }
            return;
        }
        let mut text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if text.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        eprintln!("[vu {} #{}] {level}: {text}", self.vu, self.iteration);
    }
}

/// The `volley:scenario@0.2.0` imports: each forwards to the current implementation above (0.3.0
/// only added imports; its types are the same shapes under another package).
impl HostImportsV0_2 for ConnState {
    fn send_text(&mut self, text: String) {
        HostImports::send_text(self, text)
    }
    fn send_binary(&mut self, data: Vec<u8>) {
        HostImports::send_binary(self, data)
    }
    fn request_text(&mut self, name: String, key: String, text: String, timeout_ms: u32) {
        HostImports::request_text(self, name, key, text, timeout_ms)
    }
    fn request_binary(&mut self, name: String, key: String, data: Vec<u8>, timeout_ms: u32) {
        HostImports::request_binary(self, name, key, data, timeout_ms)
    }
    fn complete(&mut self, key: String) -> Option<u64> {
        HostImports::complete(self, key)
    }
    fn close(&mut self, code: u16, reason: String) {
        HostImports::close(self, code, reason)
    }
    fn set_timer(&mut self, id: u32, delay_ms: u32) {
        HostImports::set_timer(self, id, delay_ms)
    }
    fn cancel_timer(&mut self, id: u32) {
        HostImports::cancel_timer(self, id)
    }
    fn check(&mut self, name: String, ok: bool) {
        HostImports::check(self, name, ok)
    }
    fn metric(&mut self, name: String, value: f64) {
        HostImports::metric(self, name, value)
    }
    fn var(&mut self, name: String) -> Option<String> {
        HostImports::var(self, name)
    }
    fn vu(&mut self) -> u32 {
        HostImports::vu(self)
    }
    fn iteration(&mut self) -> u32 {
        HostImports::iteration(self)
    }
    fn now_us(&mut self) -> u64 {
        HostImports::now_us(self)
    }
    fn random_u64(&mut self) -> u64 {
        HostImports::random_u64(self)
    }
    fn log(&mut self, level: LogLevelV0_2, text: String) {
        HostImports::log(self, crate::scenario::guest::log_level_v0_2(level), text)
    }
    fn handshake(&mut self) -> HandshakeV0_2 {
        let answer = HostImports::handshake(self);
        HandshakeV0_2 {
            status: answer.status,
            headers: answer.headers,
            subprotocol: answer.subprotocol,
        }
    }
    fn ping(&mut self, payload: Vec<u8>) {
        HostImports::ping(self, payload)
    }
}

/// The `volley:scenario@0.1.0` imports: each forwards to the current implementation above
/// (requests are unnamed: counted in the total round trips only).
impl HostImportsV0_1 for ConnState {
    fn send_text(&mut self, text: String) {
        HostImports::send_text(self, text)
    }
    fn send_binary(&mut self, data: Vec<u8>) {
        HostImports::send_binary(self, data)
    }
    fn request_text(&mut self, key: String, text: String, timeout_ms: u32) {
        HostImports::request_text(self, String::new(), key, text, timeout_ms)
    }
    fn request_binary(&mut self, key: String, data: Vec<u8>, timeout_ms: u32) {
        HostImports::request_binary(self, String::new(), key, data, timeout_ms)
    }
    fn complete(&mut self, key: String) -> Option<u64> {
        HostImports::complete(self, key)
    }
    fn close(&mut self, code: u16, reason: String) {
        HostImports::close(self, code, reason)
    }
    fn set_timer(&mut self, id: u32, delay_ms: u32) {
        HostImports::set_timer(self, id, delay_ms)
    }
    fn cancel_timer(&mut self, id: u32) {
        HostImports::cancel_timer(self, id)
    }
    fn check(&mut self, name: String, ok: bool) {
        HostImports::check(self, name, ok)
    }
    fn metric(&mut self, name: String, value: f64) {
        HostImports::metric(self, name, value)
    }
    fn var(&mut self, name: String) -> Option<String> {
        HostImports::var(self, name)
    }
    fn vu(&mut self) -> u32 {
        HostImports::vu(self)
    }
    fn iteration(&mut self) -> u32 {
        HostImports::iteration(self)
    }
    fn now_us(&mut self) -> u64 {
        HostImports::now_us(self)
    }
    fn random_u64(&mut self) -> u64 {
        HostImports::random_u64(self)
    }
    fn log(&mut self, level: LogLevelV0_1, text: String) {
        HostImports::log(self, crate::scenario::guest::log_level(level), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_is_now_minus_the_stamp_and_a_stamp_in_the_future_is_zero_and_flagged() {
        assert_eq!(latency_since(1_000_500, 1_000_000), (500, false));
        assert_eq!(latency_since(1_000_000, 1_000_000), (0, false));
        assert_eq!(latency_since(1_000_000, 1_000_001), (0, true));
        assert_eq!(latency_since(0, u64::MAX), (0, true));
        // The system clock is after 2020 on any machine that runs this.
        assert!(wall_clock_us() > 1_577_836_800_000_000);
    }

    #[test]
    fn only_codes_rfc_6455_lets_an_endpoint_send_are_sendable() {
        for code in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(sendable_close_code(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            assert!(!sendable_close_code(code), "{code}");
        }
    }
}
