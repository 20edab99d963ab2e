//! Native testing of scenario logic: [`TestHost`] records everything a scenario asks of the runner,
//! so `cargo test` on the host checks a scenario without a runner, a socket or WebAssembly.

use crate::{Context, Handshake, Host, LogLevel, Message, Scenario};
use std::collections::BTreeMap;
use std::time::Duration;

/// One thing a scenario asked the host to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A message was sent; `request` holds the key when it expects a reply.
    Send {
        /// The message.
        message: Message,
        /// The request key, for `request_*` sends.
        request: Option<String>,
        /// The request's name (`named_request_*`); empty otherwise.
        name: String,
    },
    /// `ping(payload)`.
    Ping(Vec<u8>),
    /// `close(code, reason)`.
    Close(u16, String),
    /// `set_timer(id, delay)`.
    SetTimer(u32, Duration),
    /// `cancel_timer(id)`.
    CancelTimer(u32),
    /// `check(name, ok)`.
    Check(String, bool),
    /// `metric(name, value)`.
    Metric(String, f64),
    /// `log(level, text)`.
    Log(LogLevel, String),
    /// `record_latency(name, stamp)`: the name and the latency recorded, in microseconds (0 for a
    /// stamp in the future, as the runner records it).
    Latency(String, u64),
}

/// A recording host for native tests.
///
/// ```
/// use volley_sdk::{Context, Message, Scenario, testing::TestHost};
/// struct Echo;
/// impl Scenario for Echo {
///     fn open(ctx: &mut Context) -> Self { ctx.send_text("x"); Echo }
///     fn on_message(&mut self, ctx: &mut Context, m: Message) { ctx.check("echo", m.as_text() == Some("x")); }
/// }
/// let mut host = TestHost::new();
/// let mut echo: Echo = host.open();
/// host.message(&mut echo, Message::Text("x".into()));
/// assert_eq!(host.sent_texts(), vec!["x"]);
/// assert_eq!(host.failed_checks(), Vec::<String>::new());
/// ```
#[derive(Debug)]
pub struct TestHost {
    /// Everything the scenario did, in order.
    pub actions: Vec<Action>,
    /// Variables returned by `var`.
    pub vars: BTreeMap<String, String>,
    /// Value returned by `vu`.
    pub vu: u32,
    /// Value returned by `iteration`.
    pub iteration: u32,
    /// Value returned by `now`; tests advance it by hand.
    pub now: Duration,
    /// Pending request keys with the time they were sent.
    pub pending: BTreeMap<String, Duration>,
    /// What `handshake` returns (a plain 101 unless a test sets it).
    pub handshake: Handshake,
    /// Pings waiting for their pong, with the time they were sent.
    pub pings: Vec<(Vec<u8>, Duration)>,
    /// Value returned by `wall_clock_us` (microseconds since the Unix epoch); tests set it.
    pub wall_clock_us: u64,
    rng: u64,
}

impl Default for TestHost {
    fn default() -> Self {
        TestHost::new()
    }
}

impl TestHost {
    /// An empty host at time zero, VU 0, iteration 0.
    pub fn new() -> Self {
        TestHost {
            actions: Vec::new(),
            vars: BTreeMap::new(),
            vu: 0,
            iteration: 0,
            now: Duration::ZERO,
            pending: BTreeMap::new(),
            handshake: Handshake::default(),
            pings: Vec::new(),
            wall_clock_us: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Set a variable (builder style).
    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Set the upgrade answer `handshake` returns (builder style).
    pub fn with_handshake(mut self, handshake: Handshake) -> Self {
        self.handshake = handshake;
        self
    }

    /// Call [`Scenario::open`].
    pub fn open<S: Scenario>(&mut self) -> S {
        S::open(&mut Context::new(self))
    }

    /// Call [`Scenario::on_message`].
    pub fn message<S: Scenario>(&mut self, scenario: &mut S, message: Message) {
        scenario.on_message(&mut Context::new(self), message)
    }

    /// Call [`Scenario::on_timer`].
    pub fn timer<S: Scenario>(&mut self, scenario: &mut S, id: u32) {
        scenario.on_timer(&mut Context::new(self), id)
    }

    /// Call [`Scenario::on_reply_timeout`].
    pub fn reply_timeout<S: Scenario>(&mut self, scenario: &mut S, key: &str) {
        self.pending.remove(key);
        scenario.on_reply_timeout(&mut Context::new(self), key)
    }

    /// The server answered the ping with `payload`: call [`Scenario::on_pong`] with the time since
    /// it was sent (by [`TestHost::now`]). Returns false, without a call, when no such ping waits,
    /// as the runner would.
    ///
    /// ```
    /// use volley_sdk::{Context, Scenario, testing::TestHost};
    /// use std::time::Duration;
    /// struct Pinger;
    /// impl Scenario for Pinger {
    ///     fn open(ctx: &mut Context) -> Self { ctx.ping(b"p1"); Pinger }
    ///     fn on_pong(&mut self, ctx: &mut Context, payload: &[u8], rtt: Duration) {
    ///         ctx.check("pong under 1s", payload == b"p1" && rtt < Duration::from_secs(1));
    ///     }
    /// }
    /// let mut host = TestHost::new();
    /// let mut pinger: Pinger = host.open();
    /// host.now += Duration::from_millis(3);
    /// assert!(host.pong(&mut pinger, b"p1"));
    /// assert_eq!(host.passed_checks(), vec!["pong under 1s"]);
    /// assert!(!host.pong(&mut pinger, b"p1"));
    /// ```
    pub fn pong<S: Scenario>(&mut self, scenario: &mut S, payload: &[u8]) -> bool {
        let Some(index) = self.pings.iter().position(|(sent, _)| sent == payload) else {
            return false;
        };
        let (payload, sent) = self.pings.remove(index);
        let rtt = self.now.saturating_sub(sent);
        scenario.on_pong(&mut Context::new(self), &payload, rtt);
        true
    }

    /// Payloads of the pings still waiting for a pong, in order.
    pub fn pings_waiting(&self) -> Vec<Vec<u8>> {
        self.pings
            .iter()
            .map(|(payload, _)| payload.clone())
            .collect()
    }

    /// `(key, name)` of every named request sent so far, in order.
    pub fn request_names(&self) -> Vec<(&str, &str)> {
        self.actions
            .iter()
            .filter_map(|action| match action {
                Action::Send {
                    request: Some(key),
                    name,
                    ..
                } if !name.is_empty() => Some((key.as_str(), name.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Call [`Scenario::on_goodbye`] (the run is ending the connection).
    pub fn goodbye<S: Scenario>(&mut self, scenario: &mut S) {
        scenario.on_goodbye(&mut Context::new(self))
    }

    /// `(name, microseconds)` of every latency recorded so far, in order.
    pub fn latencies(&self) -> Vec<(&str, u64)> {
        self.actions
            .iter()
            .filter_map(|action| match action {
                Action::Latency(name, micros) => Some((name.as_str(), *micros)),
                _ => None,
            })
            .collect()
    }

    /// Call [`Scenario::on_close`].
    pub fn closed<S: Scenario>(&mut self, scenario: &mut S, code: u16, reason: &str) {
        scenario.on_close(&mut Context::new(self), code, reason)
    }

    /// Texts sent so far, in order.
    pub fn sent_texts(&self) -> Vec<&str> {
        self.actions
            .iter()
            .filter_map(|action| match action {
                Action::Send {
                    message: Message::Text(text),
                    ..
                } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Binary messages sent so far, in order.
    pub fn sent_binaries(&self) -> Vec<&[u8]> {
        self.actions
            .iter()
            .filter_map(|action| match action {
                Action::Send {
                    message: Message::Binary(data),
                    ..
                } => Some(data.as_slice()),
                _ => None,
            })
            .collect()
    }

    /// Names of checks recorded as failed, in order.
    pub fn failed_checks(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|action| match action {
                Action::Check(name, false) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// Names of checks recorded as passed, in order.
    pub fn passed_checks(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|action| match action {
                Action::Check(name, true) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    fn send(&mut self, message: Message, request: Option<&str>, name: &str) {
        if let Some(key) = request {
            self.pending.insert(key.to_owned(), self.now);
        }
        self.actions.push(Action::Send {
            message,
            request: request.map(str::to_owned),
            name: name.to_owned(),
        });
    }
}

impl Host for TestHost {
    fn send_text(&mut self, text: &str) {
        self.send(Message::Text(text.to_owned()), None, "")
    }
    fn send_binary(&mut self, data: &[u8]) {
        self.send(Message::Binary(data.to_vec()), None, "")
    }
    fn request_text(&mut self, name: &str, key: &str, text: &str, _timeout_ms: u32) {
        self.send(Message::Text(text.to_owned()), Some(key), name)
    }
    fn request_binary(&mut self, name: &str, key: &str, data: &[u8], _timeout_ms: u32) {
        self.send(Message::Binary(data.to_vec()), Some(key), name)
    }
    fn handshake(&mut self) -> Handshake {
        self.handshake.clone()
    }
    fn ping(&mut self, payload: &[u8]) {
        self.pings.push((payload.to_vec(), self.now));
        self.actions.push(Action::Ping(payload.to_vec()))
    }
    fn complete(&mut self, key: &str) -> Option<u64> {
        let sent = self.pending.remove(key)?;
        Some(u64::try_from(self.now.saturating_sub(sent).as_micros()).unwrap_or(u64::MAX))
    }
    fn close(&mut self, code: u16, reason: &str) {
        self.actions.push(Action::Close(code, reason.to_owned()))
    }
    fn set_timer(&mut self, id: u32, delay_ms: u32) {
        let delay = Duration::from_millis(u64::from(delay_ms));
        self.actions.push(Action::SetTimer(id, delay))
    }
    fn cancel_timer(&mut self, id: u32) {
        self.actions.push(Action::CancelTimer(id))
    }
    fn check(&mut self, name: &str, ok: bool) {
        self.actions.push(Action::Check(name.to_owned(), ok))
    }
    fn metric(&mut self, name: &str, value: f64) {
        self.actions.push(Action::Metric(name.to_owned(), value))
    }
    fn var(&mut self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn vu(&mut self) -> u32 {
        self.vu
    }
    fn iteration(&mut self) -> u32 {
        self.iteration
    }
    fn now_us(&mut self) -> u64 {
        u64::try_from(self.now.as_micros()).unwrap_or(u64::MAX)
    }
    fn random_u64(&mut self) -> u64 {
        // xorshift64*: deterministic so tests are repeatable.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn log(&mut self, level: LogLevel, text: &str) {
        self.actions.push(Action::Log(level, text.to_owned()))
    }
    fn wall_clock_us(&mut self) -> u64 {
        self.wall_clock_us
    }
    fn record_latency(&mut self, name: &str, since_wall_us: u64) {
        let latency = self.wall_clock_us.saturating_sub(since_wall_us);
        self.actions.push(Action::Latency(name.to_owned(), latency))
    }
}
