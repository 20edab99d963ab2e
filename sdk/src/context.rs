//! [`Context`]: what a scenario can ask of the runner during a callback, and the [`Host`] trait
//! behind it (the runner's imports inside WebAssembly, [`crate::testing::TestHost`] natively).

use crate::Handshake;
use std::time::Duration;

/// Severity of a [`Context::log`] line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Verbose detail.
    Debug,
    /// Normal information.
    Info,
    /// Something unexpected but survivable.
    Warn,
    /// Something failed.
    Error,
}

/// The raw host interface, one method per WIT import. Scenario authors use [`Context`]; implement
/// `Host` only to build a test double (or use [`crate::testing::TestHost`]).
///
/// ```
/// use volley_sdk::{Context, Host};
/// let mut host = volley_sdk::testing::TestHost::new();
/// let mut ctx = Context::new(&mut host);
/// ctx.send_text("hi");
/// ```
#[allow(missing_docs)] // each method mirrors the Context method of the same name
pub trait Host {
    fn send_text(&mut self, text: &str);
    fn send_binary(&mut self, data: &[u8]);
    fn request_text(&mut self, name: &str, key: &str, text: &str, timeout_ms: u32);
    fn request_binary(&mut self, name: &str, key: &str, data: &[u8], timeout_ms: u32);
    fn complete(&mut self, key: &str) -> Option<u64>;
    fn close(&mut self, code: u16, reason: &str);
    fn set_timer(&mut self, id: u32, delay_ms: u32);
    fn cancel_timer(&mut self, id: u32);
    fn check(&mut self, name: &str, ok: bool);
    fn metric(&mut self, name: &str, value: f64);
    fn var(&mut self, name: &str) -> Option<String>;
    fn vu(&mut self) -> u32;
    fn iteration(&mut self) -> u32;
    fn now_us(&mut self) -> u64;
    fn random_u64(&mut self) -> u64;
    fn log(&mut self, level: LogLevel, text: &str);
    fn handshake(&mut self) -> Handshake;
    fn ping(&mut self, payload: &[u8]);
    fn wall_clock_us(&mut self) -> u64;
    fn record_latency(&mut self, name: &str, since_wall_us: u64);
}

/// The scenario's handle on its connection during one callback.
///
/// ```
/// use volley_sdk::{Context, testing::TestHost};
/// use std::time::Duration;
/// let mut host = TestHost::new();
/// let mut ctx = Context::new(&mut host);
/// ctx.request_text("1", r#"{"seq":1}"#, Duration::from_secs(2));
/// ctx.set_timer(7, Duration::from_millis(100));
/// assert_eq!(host.sent_texts(), vec![r#"{"seq":1}"#]);
/// ```
pub struct Context<'host> {
    host: Backend<'host>,
}

/// Who answers a [`Context`]'s calls.
enum Backend<'host> {
    /// Inside WebAssembly: the runner's imports, called directly. Not through `dyn Host`: a vtable
    /// for them put 18 more functions in every instance's function table (for pingpong about
    /// 2.6 KB more wasmtime state per connection) and made each call indirect.
    #[cfg(target_arch = "wasm32")]
    Imports,
    /// Any other host: [`crate::testing::TestHost`] natively, or your own.
    Custom(&'host mut dyn Host),
}

/// Call `method` on the context's backend.
macro_rules! host_call {
    ($ctx:expr, $method:ident($($arg:expr),*)) => {
        match &mut $ctx.host {
            #[cfg(target_arch = "wasm32")]
            Backend::Imports => Host::$method(&mut crate::__bindings::WasmHost, $($arg),*),
            Backend::Custom(host) => host.$method($($arg),*),
        }
    };
}

fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

impl<'host> Context<'host> {
    /// Wrap a host: tests do it through [`crate::testing::TestHost`]. Inside WebAssembly the
    /// exported callbacks get a context on the runner's imports instead.
    pub fn new(host: &'host mut dyn Host) -> Self {
        Context {
            host: Backend::Custom(host),
        }
    }

    /// The context the exported callbacks get inside WebAssembly: the runner's imports.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn of_imports() -> Context<'static> {
        Context {
            host: Backend::Imports,
        }
    }

    /// Send a text message.
    pub fn send_text(&mut self, text: &str) {
        host_call!(self, send_text(text))
    }

    /// Send a binary message.
    pub fn send_binary(&mut self, data: &[u8]) {
        host_call!(self, send_binary(data))
    }

    /// Send a text message that expects a reply. Call [`Context::complete`] with the same `key` when
    /// the reply arrives; the runner records the round trip from when this send was due. Without a
    /// `complete` within `timeout` (millisecond resolution) the request counts as a reply timeout and
    /// [`crate::Scenario::on_reply_timeout`] is called. Reusing a pending key restarts it. The round
    /// trip counts in the total only; [`Context::named_request_text`] also keeps it per name.
    pub fn request_text(&mut self, key: &str, text: &str, timeout: Duration) {
        host_call!(self, request_text("", key, text, millis(timeout)))
    }

    /// Binary twin of [`Context::request_text`].
    pub fn request_binary(&mut self, key: &str, data: &[u8], timeout: Duration) {
        host_call!(self, request_binary("", key, data, millis(timeout)))
    }

    /// [`Context::request_text`] for a request named `name`: its round trip is also recorded in the
    /// histogram of that name (`round_trips_by_name` in the results, `round_trip{NAME}` in
    /// thresholds). Name kinds of requests (`login`, `order`), not single ones: at most 200 bytes,
    /// and names beyond the 1000th distinct one are counted together. `key` still identifies this
    /// one request for [`Context::complete`].
    ///
    /// ```
    /// use volley_sdk::{Context, testing::TestHost};
    /// use std::time::Duration;
    /// let mut host = TestHost::new();
    /// let mut ctx = Context::new(&mut host);
    /// ctx.named_request_text("echo", "7", "hello", Duration::from_secs(2));
    /// assert_eq!(host.request_names(), vec![("7", "echo")]);
    /// ```
    pub fn named_request_text(&mut self, name: &str, key: &str, text: &str, timeout: Duration) {
        host_call!(self, request_text(name, key, text, millis(timeout)))
    }

    /// Binary twin of [`Context::named_request_text`].
    pub fn named_request_binary(&mut self, name: &str, key: &str, data: &[u8], timeout: Duration) {
        host_call!(self, request_binary(name, key, data, millis(timeout)))
    }

    /// Send a Ping frame carrying `payload` (at most 125 bytes, RFC 6455; more fails the
    /// connection). When the server's Pong arrives, the runner records the round trip in `ping_rtt`
    /// and calls [`crate::Scenario::on_pong`]. At most 16 pings may wait for their Pong at once;
    /// give each its own payload (a counter) to tell them apart. The server's own pings are
    /// answered by the runner.
    ///
    /// ```
    /// use volley_sdk::{Context, testing::TestHost};
    /// let mut host = TestHost::new();
    /// let mut ctx = Context::new(&mut host);
    /// ctx.ping(b"1");
    /// assert_eq!(host.pings_waiting(), vec![b"1".to_vec()]);
    /// ```
    pub fn ping(&mut self, payload: &[u8]) {
        host_call!(self, ping(payload))
    }

    /// The server's answer to this connection's upgrade: status, headers and chosen subprotocol.
    ///
    /// ```
    /// use volley_sdk::{Context, Scenario, testing::TestHost};
    /// struct Auth;
    /// impl Scenario for Auth {
    ///     fn open(ctx: &mut Context) -> Self {
    ///         let handshake = ctx.handshake();
    ///         ctx.check("server chose chat.v2", handshake.subprotocol.as_deref() == Some("chat.v2"));
    ///         Auth
    ///     }
    /// }
    /// let mut host = TestHost::new();
    /// host.handshake.subprotocol = Some("chat.v2".into());
    /// let _: Auth = host.open();
    /// assert!(host.failed_checks().is_empty());
    /// ```
    pub fn handshake(&mut self) -> Handshake {
        host_call!(self, handshake())
    }

    /// Mark request `key` answered; returns its round trip, or `None` if it was not pending.
    pub fn complete(&mut self, key: &str) -> Option<Duration> {
        host_call!(self, complete(key)).map(Duration::from_micros)
    }

    /// Close the connection politely (code 1000 is a normal closure).
    pub fn close(&mut self, code: u16, reason: &str) {
        host_call!(self, close(code, reason))
    }

    /// Fire [`crate::Scenario::on_timer`] with `id` after `delay`, counted from when the current
    /// callback was due: re-arming from `on_timer` gives a drift-free schedule. Millisecond resolution.
    pub fn set_timer(&mut self, id: u32, delay: Duration) {
        host_call!(self, set_timer(id, millis(delay)))
    }

    /// Cancel timer `id`, if set.
    pub fn cancel_timer(&mut self, id: u32) {
        host_call!(self, cancel_timer(id))
    }

    /// Record a named check; returns `ok` so it can be used in conditions.
    pub fn check(&mut self, name: &str, ok: bool) -> bool {
        host_call!(self, check(name, ok));
        ok
    }

    /// Record a value of a custom metric (non-negative; kept to 1/1024, about three decimals).
    /// What the value means is the metric's kind, declared under `metrics:` in the scenario
    /// file: a `duration` in milliseconds, an amount a `counter` adds, a `rate`'s true (≠ 0) or
    /// false (0), or a plain `value` (the default); see docs/sdk.md.
    pub fn metric(&mut self, name: &str, value: f64) {
        host_call!(self, metric(name, value))
    }

    /// A variable from the connection's data row or the file's `vars`.
    pub fn var(&mut self, name: &str) -> Option<String> {
        host_call!(self, var(name))
    }

    /// A variable parsed as `T` (a number, usually); `None` when unset or unparsable.
    ///
    /// ```
    /// use volley_sdk::{Context, testing::TestHost};
    /// let mut host = TestHost::new().with_var("messages", "20");
    /// let mut ctx = Context::new(&mut host);
    /// assert_eq!(ctx.var_as::<u32>("messages"), Some(20));
    /// assert_eq!(ctx.var_as::<u32>("interval_ms").unwrap_or(100), 100);
    /// ```
    pub fn var_as<T: std::str::FromStr>(&mut self, name: &str) -> Option<T> {
        self.var(name).and_then(|value| value.trim().parse().ok())
    }

    /// This connection's virtual-user index (0-based).
    pub fn vu(&mut self) -> u32 {
        host_call!(self, vu())
    }

    /// This virtual user's iteration (0-based).
    pub fn iteration(&mut self) -> u32 {
        host_call!(self, iteration())
    }

    /// Time since the run started (monotonic, microsecond resolution).
    pub fn now(&mut self) -> Duration {
        Duration::from_micros(host_call!(self, now_us()))
    }

    /// Microseconds since the Unix epoch by the system clock: a stamp to put in a payload so that
    /// the connection receiving it (maybe another one, on another machine) can time the delivery
    /// with [`Context::record_latency`]. Not monotonic ([`Context::now`] is, but counts from this
    /// run's start on this machine only).
    ///
    /// ```
    /// use volley_sdk::{Context, testing::TestHost};
    /// let mut host = TestHost::new();
    /// host.wall_clock_us = 1_700_000_000_000_000;
    /// let mut ctx = Context::new(&mut host);
    /// let payload = format!(r#"{{"sent_us":{}}}"#, ctx.wall_clock_us());
    /// assert_eq!(payload, r#"{"sent_us":1700000000000000}"#);
    /// ```
    pub fn wall_clock_us(&mut self) -> u64 {
        host_call!(self, wall_clock_us())
    }

    /// Record the wall clock now minus `stamp_us` (a [`Context::wall_clock_us`] taken where the
    /// message was sent) in the latency histogram `name`: `latency` in the results,
    /// `latency{NAME}` in thresholds. Name kinds of deliveries (`deliver`), at most 200 bytes;
    /// names beyond the 1000th distinct one are counted together. Exact between connections of one
    /// machine; across machines as good as their clock sync (docs/sdk.md). A stamp in the future
    /// records 0 and is counted in `latency_stamps_in_future`.
    ///
    /// ```
    /// use volley_sdk::{Context, testing::TestHost};
    /// let mut host = TestHost::new();
    /// host.wall_clock_us = 5_000;
    /// let mut ctx = Context::new(&mut host);
    /// ctx.record_latency("deliver", 3_500);
    /// assert_eq!(host.latencies(), vec![("deliver", 1_500)]);
    /// ```
    pub fn record_latency(&mut self, name: &str, stamp_us: u64) {
        host_call!(self, record_latency(name, stamp_us))
    }

    /// A random number from the connection's seeded generator.
    pub fn random_u64(&mut self) -> u64 {
        host_call!(self, random_u64())
    }

    /// Write a line to the runner's log.
    pub fn log(&mut self, level: LogLevel, text: &str) {
        host_call!(self, log(level, text))
    }
}
