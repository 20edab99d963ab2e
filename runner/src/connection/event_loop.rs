//! One open connection's event loop. The loop waits on three things only: its own stop token, one
//! deadline ([`Wake`]: the earliest of the scenario's timers and reply deadlines, heartbeat, idle,
//! iteration, close and write-stall deadlines) and the socket — reading and writing concurrently, so
//! queued sends never stop reading, pings are answered and replies time-stamped on arrival while a
//! write is pending. Before every frame it checks the clock, so a server that streams without pause
//! delays no deadline by more than one frame. It calls the scenario instance for each event; on stop
//! it says goodbye (`on-goodbye`, for a scenario that has one: see [`Connection::say_goodbye`]),
//! then closes politely (Close frame, wait for the server's, then for the server to close TCP
//! first) and returns how it ended ([`Outcome`]).
//! Every failure — protocol error, silent socket, a server that stops reading, scenario trap — is
//! recorded with its reason and ends this connection only. Connecting and instantiating happen
//! before, in `load::iteration`; repeating iterations in `load::vu`; what is due when lives in the
//! pure `scenario::schedule`.

use crate::connection::callback_clock::CallbackClock;
use crate::connection::connect::WsStream;
use crate::connection::deadlines::Deadlines;
use crate::connection::failure::{self, ENDED_WITHOUT_CLOSE, Failure};
use crate::connection::keepalive::Keepalive;
use crate::connection::send_queue::SendQueue;
use crate::connection::stop::StopSignal;
use crate::connection::wake::Wake;
use crate::measure::counters::{LONG_CALLBACK, bump};
use crate::scenario::bindings::Message as GuestMessage;
use crate::scenario::engine::InstanceLimits;
use crate::scenario::guest::{Callback, Guest};
use crate::scenario::host::{ConnState, Outgoing as HostOutgoing};
use crate::scenario::schedule::Due;
use crate::websocket::message::Incoming;
use crate::websocket::socket::{Outgoing, SocketError};
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wasmtime::Store;

/// tokio's timers have 1 ms granularity and fire late, never early. A scenario timer may fire up
/// to this much before its due time, so scheduled sends are not systematically late; round trips
/// count from the later of due time and actual send. Reply deadlines never fire early.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// Longest wait, after both Close frames, for the server to close TCP first (RFC 6455 §7.1.1).
const SERVER_CLOSES_TCP_WITHIN: Duration = Duration::from_secs(1);

/// Timer and deadline callbacks made per turn of the loop before the socket gets its turn.
const MAX_CALLBACKS_PER_TURN: usize = 64;

/// Queued messages are encoded into the socket while less than this waits there unwritten:
/// several small messages leave in one write, and a server that stops reading leaves at most
/// this much (plus one message) encoded.
const ENCODE_AHEAD: usize = 64 * 1024;

/// The reason of the Close frame the runner sends when the run ends a connection.
const RUN_FINISHED: &str = "run finished";

/// How one iteration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Connected, ran and closed without a failure.
    Completed,
    /// Could not connect.
    ConnectFailed,
    /// Connected, then failed in the scenario or the protocol.
    Failed,
    /// Connected, then dropped: closed by the server, or reset, dead heartbeat, idle (`failed`).
    Dropped {
        /// True for a failure (reset, heartbeat, idle), false for a Close frame from the server.
        failed: bool,
        /// How long the connection had been open.
        lived: Duration,
    },
    /// The run stopped before the connection was established.
    Stopped,
    /// The upgrade was answered with the status `expect_upgrade` asked for (a pass; no scenario).
    Rejected,
}

/// What a connection is allowed, from the scenario file.
pub struct Settings {
    /// CPU and memory limits of the scenario instance.
    pub limits: InstanceLimits,
    /// Time to wait for the server's Close frame after ours.
    pub close_timeout: Duration,
    /// `load.goodbye_timeout`: longest a goodbye may wait for its pending requests.
    pub goodbye_timeout: Duration,
    /// `net.timeouts.write`: longest the server may read nothing of what is waiting to be sent.
    pub write_timeout: Duration,
    /// Heartbeat pings and the idle timeout.
    pub keepalive: Keepalive,
    /// `load.iteration_timeout`.
    pub iteration_timeout: Option<Duration>,
}

/// What woke the loop.
enum Event {
    /// The run (or the VU) is stopping.
    Stop,
    /// The deadline passed.
    Due,
    /// A message or control frame arrived.
    Frame(Incoming),
    /// The server ended the TCP stream.
    Ended,
    /// Reading or writing failed.
    Error(SocketError),
}

/// One open connection and its scenario instance.
pub struct Connection {
    socket: WsStream,
    store: Store<ConnState>,
    scenario: Guest,
    /// This connection's own stop signal, created once (no lock per event).
    stop: StopSignal,
    stop_seen: bool,
    /// CPU and memory limits of the scenario instance.
    limits: InstanceLimits,
    close_timeout: Duration,
    goodbye_timeout: Duration,
    /// Set while a goodbye waits for the requests it made: when it is cut.
    goodbye: Option<Instant>,
    /// The keys of the requests `on-goodbye` made.
    goodbye_keys: Vec<String>,
    write_timeout: Duration,
    /// Set once a close started: the deadline for the server's Close frame.
    closing: Option<Instant>,
    closed_by_server: bool,
    /// Heartbeat pings and the idle timeout.
    keepalive: Keepalive,
    /// When the handshake completed.
    opened: Instant,
    /// The code of the server's Close frame, when it closed first.
    server_close_code: u16,
    /// When `load.iteration_timeout` runs out.
    give_up: Option<Instant>,
    iteration_timeout: Option<Duration>,
    /// Set when the iteration timeout closed the connection (already counted as a failure).
    overran: bool,
    outgoing: SendQueue,
    /// Frame bytes (received, written) and compressed messages sent, already added to the
    /// counters.
    wire_counted: (u64, u64),
    compressed_counted: u64,
    wake: Wake,
}

impl Connection {
    /// A connection over `socket` driven by `scenario`, until `stop`.
    pub fn new(
        socket: WsStream,
        store: Store<ConnState>,
        scenario: Guest,
        stop: &CancellationToken,
        settings: Settings,
    ) -> Connection {
        let opened = Instant::now();
        Connection {
            socket,
            store,
            scenario,
            stop: StopSignal::new(stop),
            stop_seen: false,
            limits: settings.limits,
            close_timeout: settings.close_timeout,
            goodbye_timeout: settings.goodbye_timeout,
            goodbye: None,
            goodbye_keys: Vec::new(),
            write_timeout: settings.write_timeout,
            closing: None,
            closed_by_server: false,
            keepalive: settings.keepalive,
            opened,
            server_close_code: 1005,
            give_up: settings.iteration_timeout.map(|limit| opened + limit),
            iteration_timeout: settings.iteration_timeout,
            overran: false,
            outgoing: SendQueue::default(),
            wire_counted: (0, 0),
            compressed_counted: 0,
            wake: Wake::default(),
        }
    }

    /// Run the connection until it ends; say how.
    pub async fn run(&mut self) -> Outcome {
        let result = self.drive().await;
        let outcome = match result {
            Ok(()) if self.closed_by_server => {
                // Normal closure and "going away" are a server's right; other codes (1008 policy,
                // 1011 internal error, 1013 try again later…) are failures by code.
                let failed = !matches!(self.server_close_code, 1000 | 1001 | 1005);
                if failed {
                    let reason =
                        format!("close: server closed with code {}", self.server_close_code);
                    self.store.data_mut().recorder.failure(&reason);
                }
                Outcome::Dropped {
                    failed,
                    lived: self.opened.elapsed(),
                }
            }
            Ok(()) if self.overran => Outcome::Failed,
            Ok(()) => Outcome::Completed,
            Err(Failure::Scenario(message)) => {
                let state = self.store.data_mut();
                state.recorder.scenario_error(&message);
                state.recorder.failure(&message);
                self.close_quickly(1011, "scenario error", self.close_timeout)
                    .await;
                Outcome::Failed
            }
            Err(Failure::Network(reason)) => {
                self.store.data_mut().recorder.failure(&reason);
                Outcome::Dropped {
                    failed: true,
                    lived: self.opened.elapsed(),
                }
            }
            Err(Failure::Protocol {
                reason,
                detail,
                code,
            }) => {
                let recorder = &mut self.store.data_mut().recorder;
                recorder.failure_with(&reason, &detail);
                // Tell the server why before dropping the connection (RFC 6455 §7.1.7); a server
                // that does not read within a second is not waited for.
                self.close_quickly(code, "", self.close_timeout.min(Duration::from_secs(1)))
                    .await;
                Outcome::Failed
            }
        };
        self.count_wire();
        let state = self.store.data_mut();
        let abandoned = state.schedule.abandon() as u64;
        let counters = &state.recorder.collector().counters;
        if abandoned > 0 {
            bump(&counters.requests_abandoned, abandoned);
        }
        if self.closed_by_server {
            bump(&counters.closed_by_server, 1);
        }
        outcome
    }

    /// Both Close frames have been exchanged: send ours if it still waits (the socket queues its
    /// answer to a server's Close), then let the server close TCP first, as RFC 6455 §7.1.1 asks,
    /// so that TIME_WAIT (60 s of a local port per connection on Linux) stays on the server and
    /// not on this machine's ephemeral ports. A server that has not closed TCP within
    /// [`SERVER_CLOSES_TCP_WITHIN`] (at most `close_timeout`) is not waited for: the socket is
    /// dropped, and this side holds the TIME_WAIT.
    async fn finish_close(&mut self) {
        let wait = self.close_timeout.min(SERVER_CLOSES_TCP_WITHIN);
        let socket = &mut self.socket;
        let _ = tokio::time::timeout(wait, async {
            if socket.flush().await.is_err() {
                return;
            }
            // After the closing handshake the socket discards what arrives and ends the stream at
            // the server's FIN (or at an error such as a reset).
            while let Some(Ok(_)) = socket.next().await {}
        })
        .await;
    }

    /// Send a Close frame with `code` and `reason` and give the server at most `wait` to take
    /// it, then let go.
    async fn close_quickly(&mut self, code: u16, reason: &str, wait: Duration) {
        let _ = tokio::time::timeout(wait, self.socket.close(code, reason)).await;
    }

    async fn drive(&mut self) -> Result<(), Failure> {
        self.call(Instant::now(), Callback::Open)?;
        self.take_outbox()?;
        loop {
            // The clock is read before every event: whatever is due runs first, so a server that
            // floods frames delays a deadline by one frame at most.
            self.run_due(Instant::now())?;
            let next = self.next_deadline();
            self.wake.set(next);
            let event = std::future::poll_fn(|cx| self.poll_event(cx)).await;
            match event {
                Event::Stop => self.say_goodbye()?,
                Event::Due => {}
                Event::Frame(message) => {
                    if self.on_frame(message)? {
                        self.finish_close().await;
                        return Ok(());
                    }
                }
                Event::Ended => return self.ended_without_close(),
                Event::Error(error) => return self.socket_error(error),
            }
        }
    }

    /// Wait for the next event: the stop signal, the deadline, or the socket. Writing is driven
    /// here too (without being an event), so it progresses while the loop waits for anything else.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        if !self.stop_seen && self.stop.poll_stopped(cx) {
            self.stop_seen = true;
            if self.closing.is_none() {
                return Poll::Ready(Event::Stop);
            }
        }
        match self.poll_send(cx) {
            Err(error) => return Poll::Ready(Event::Error(error)),
            Ok(true) => {
                // The write deadline moved: the one timer must follow it.
                let next = self.next_deadline();
                self.wake.set(next);
            }
            Ok(false) => {}
        }
        let polled = self.socket.poll_next(cx);
        self.count_wire();
        match polled {
            Poll::Ready(Some(Ok(message))) => return Poll::Ready(Event::Frame(message)),
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Event::Error(error)),
            Poll::Ready(None) => return Poll::Ready(Event::Ended),
            Poll::Pending => {}
        }
        match self.wake.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Event::Due),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Hand waiting messages to the socket and write them, as far as the stream takes them now.
    /// Returns whether the write-stall deadline moved.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Result<bool, SocketError> {
        if self.outgoing.is_empty() && !self.socket.wants_write() {
            return Ok(false);
        }
        let (_, written_before) = self.socket.wire_totals();
        loop {
            while self.socket.unwritten() < ENCODE_AHEAD
                && let Some(message) = self.outgoing.pop()
            {
                let data = message.is_data();
                let size = message.len();
                if self.socket.send(message) && data {
                    let counters = &self.store.data().recorder.collector().counters;
                    bump(&counters.messages_sent, 1);
                    bump(&counters.bytes_sent, size as u64);
                }
            }
            match self.socket.poll_flush(cx) {
                Poll::Ready(Ok(())) if !self.outgoing.is_empty() => continue,
                Poll::Ready(Ok(())) | Poll::Pending => break,
                Poll::Ready(Err(error)) => return Err(SocketError::Io(error)),
            }
        }
        self.count_wire();
        let (_, written_after) = self.socket.wire_totals();
        let waiting = !self.outgoing.is_empty() || self.socket.wants_write();
        Ok(self
            .outgoing
            .after_write(written_after != written_before, waiting, Instant::now()))
    }

    /// Add the frame bytes read and written since the last call to the run's counters.
    fn count_wire(&mut self) {
        let totals = self.socket.wire_totals();
        let compressed = self.socket.compressed_sent();
        if totals != self.wire_counted || compressed != self.compressed_counted {
            let counters = &self.store.data().recorder.collector().counters;
            let (received, sent) = self.wire_counted;
            for (counter, now, before) in [
                (&counters.wire_bytes_received, totals.0, received),
                (&counters.wire_bytes_sent, totals.1, sent),
                (
                    &counters.compressed_messages_sent,
                    compressed,
                    self.compressed_counted,
                ),
            ] {
                if now > before {
                    bump(counter, now - before);
                }
            }
            self.wire_counted = totals;
            self.compressed_counted = compressed;
        }
    }

    /// The earliest moment something must be done.
    fn next_deadline(&mut self) -> Option<Instant> {
        Deadlines {
            closing: self.closing,
            write_stall: self
                .outgoing
                .stalled_since()
                .map(|since| since + self.write_timeout),
            give_up: self.give_up,
            keepalive: self.keepalive.next_due(),
            scenario: self.store.data_mut().schedule.next_wake(TIMER_SLACK),
            goodbye: self.goodbye,
        }
        .earliest()
    }

    /// Everything due at `now`, in order: connection deadlines, then the scenario's timers and
    /// reply deadlines (chronologically, at most [`MAX_CALLBACKS_PER_TURN`] per turn).
    fn run_due(&mut self, now: Instant) -> Result<(), Failure> {
        if let Some(deadline) = self.closing
            && now >= deadline
        {
            return Err(Failure::Network(format!(
                "close: no Close frame from the server within {}",
                crate::config::units::human_duration(self.close_timeout)
            )));
        }
        if let Some(since) = self.outgoing.stalled_since()
            && now >= since + self.write_timeout
        {
            return Err(Failure::Network(format!(
                "write: the server read nothing for {}",
                crate::config::units::human_duration(self.write_timeout)
            )));
        }
        if self.closing.is_some() {
            return Ok(());
        }
        if let Some(cut) = self.goodbye {
            if !self.goodbye_waits() {
                self.goodbye = None;
                return self.begin_close(1000, RUN_FINISHED);
            }
            if now >= cut {
                self.goodbye = None;
                bump(
                    &self
                        .store
                        .data()
                        .recorder
                        .collector()
                        .counters
                        .goodbye_timeouts,
                    1,
                );
                return self.begin_close(1000, RUN_FINISHED);
            }
        }
        if let Some(give_up) = self.give_up
            && now >= give_up
        {
            let limit = self.iteration_timeout.unwrap_or_default();
            self.store.data_mut().recorder.failure(&format!(
                "iteration: still open after {} (load.iteration_timeout)",
                crate::config::units::human_duration(limit)
            ));
            self.overran = true;
            return self.begin_close(1000, "iteration timeout");
        }
        if self.keepalive.next_due().is_some_and(|due| now >= due) {
            match self.keepalive.due(now) {
                Err(reason) => return Err(Failure::Network(reason)),
                Ok(Some(payload)) => {
                    bump(
                        &self.store.data().recorder.collector().counters.pings_sent,
                        1,
                    );
                    self.outgoing.push(Outgoing::Ping(payload));
                }
                Ok(None) => {}
            }
        }
        for _ in 0..MAX_CALLBACKS_PER_TURN {
            let state = self.store.data_mut();
            let Some(due) = state.schedule.take_due(Instant::now(), TIMER_SLACK) else {
                break;
            };
            match due {
                Due::Expired { key, pending } => {
                    // Censored at the deadline: a server that stops answering cannot make the
                    // percentiles look better by leaving requests out.
                    state.recorder.round_trip(
                        &pending.name,
                        pending.deadline.saturating_duration_since(pending.sent),
                    );
                    bump(&state.recorder.collector().counters.reply_timeouts, 1);
                    self.call(pending.deadline, Callback::ReplyTimeout(key))?;
                }
                Due::Timer { id, due } => {
                    state
                        .recorder
                        .timer_lag(Instant::now().saturating_duration_since(due));
                    self.call(due, Callback::Timer(id))?;
                }
            }
            self.take_outbox()?;
            if self.closing.is_some() {
                break;
            }
        }
        Ok(())
    }

    /// Handle one message or control frame; `true` when the connection is finished.
    fn on_frame(&mut self, message: Incoming) -> Result<bool, Failure> {
        let now = Instant::now();
        self.keepalive.received(now);
        let counters = &self.store.data().recorder.collector().counters;
        if matches!(message, Incoming::Text(_) | Incoming::Binary(_))
            && self.socket.last_compressed()
        {
            bump(&counters.compressed_messages_received, 1);
        }
        let guest = match message {
            Incoming::Text(text) => {
                bump(&counters.messages_received, 1);
                bump(&counters.bytes_received, text.len() as u64);
                GuestMessage::Text(text)
            }
            Incoming::Binary(data) => {
                bump(&counters.messages_received, 1);
                bump(&counters.bytes_received, data.len() as u64);
                GuestMessage::Binary(data)
            }
            Incoming::Close(frame) => {
                if self.closing.is_none() {
                    self.closed_by_server = true;
                    let (code, reason) = frame.unwrap_or((1005, String::new()));
                    self.server_close_code = code;
                    self.store.data_mut().closing = true;
                    self.closing = Some(now + self.close_timeout);
                    self.call(now, Callback::Close(code, reason))?;
                }
                return Ok(true);
            }
            Incoming::Pong(payload) => {
                if let Some(rtt) = self.keepalive.pong(&payload, now) {
                    self.store.data_mut().recorder.ping_rtt(rtt);
                } else if let Some(pong) = self.store.data_mut().pong(&payload, Instant::now())
                    && self.closing.is_none()
                {
                    self.call(Instant::now(), pong)?;
                    self.take_outbox()?;
                }
                return Ok(false);
            }
            Incoming::Ping(_) => return Ok(false),
        };
        if self.closing.is_some() {
            return Ok(false);
        }
        self.call(now, Callback::Message(guest))?;
        self.take_outbox()?;
        Ok(false)
    }

    /// Make one scenario call with its CPU deadline; a trap becomes a readable message.
    fn call(&mut self, due: Instant, callback: Callback) -> Result<(), Failure> {
        let state = self.store.data_mut();
        state.due = due;
        state.arrived = match callback {
            Callback::Message(_) => Some(due),
            _ => None,
        };
        // Timers fired and deadlines passed since the last call hold nothing any more.
        let held = state.schedule.held_bytes();
        state.limits.hold(held);
        // Late callback: count from when the send was due (the generator's delay is latency the
        // user would have seen). Early callback (timer slack): count from the actual send.
        let clock = CallbackClock::start();
        let started = clock.started;
        state.send_base = due.min(started);
        self.limits.arm(&mut self.store);
        let guest = &mut self.scenario;
        let name = callback.name();
        let store = &mut self.store;
        // A panic in a host function (a runner bug) must end this connection, not its VU task.
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| guest.call(&mut *store, callback)));
        // A long callback's CPU time tells the scenario's own work from a descheduled thread;
        // the second reading is taken only then (a clock that cannot be read: unknown).
        let took = started.elapsed();
        let cpu = if took >= LONG_CALLBACK {
            clock.cpu_used()
        } else {
            None
        };
        self.store
            .data()
            .recorder
            .collector()
            .counters
            .callback_ran(took, cpu);
        let result = match result {
            Ok(result) => result,
            Err(panic) => {
                let what = failure::panic_text(panic.as_ref());
                return Err(Failure::Scenario(format!(
                    "runner: internal error during {name}: {what}"
                )));
            }
        };
        if let Ok(()) = &result
            && let Some(reason) = self.store.data_mut().violation.take()
        {
            return Err(Failure::Scenario(reason));
        }
        result.map_err(|error| {
            Failure::Scenario(crate::scenario::trap::describe(
                &error,
                name,
                &self.store.data().stderr_text(),
                self.limits.callback_time,
                self.limits.memory,
            ))
        })
    }

    /// Queue what the last callback asked to send, then start a close it asked for. What waits
    /// to be sent is bounded by `limits.memory`: a server that reads too slowly for the scenario's
    /// pace fails the connection instead of growing the runner.
    fn take_outbox(&mut self) -> Result<(), Failure> {
        let state = self.store.data_mut();
        for message in state.outbox.drain(..) {
            self.outgoing.push(match message {
                HostOutgoing::Text(text) => Outgoing::Text(text),
                HostOutgoing::Binary(data) => Outgoing::Binary(data),
                HostOutgoing::Ping(data) => Outgoing::Ping(data),
            });
        }
        if self.outgoing.bytes() + self.socket.unwritten() > self.limits.memory {
            return Err(Failure::Network(format!(
                "write: more than {} waiting to be sent (limits.memory); the server reads too slowly",
                crate::config::units::human_bytes(self.limits.memory as u64)
            )));
        }
        if let Some((code, reason)) = state.close_request.take() {
            self.begin_close(code, &reason)?;
        }
        Ok(())
    }

    /// The run is ending this connection. A scenario without a goodbye (0.1.0, 0.2.0, a flow) is
    /// closed at once, as before goodbyes existed. Otherwise `on-goodbye` runs and what it queued
    /// is sent; then: if it called `close`, that close has started; else if requests it made are
    /// pending the connection keeps running (replies still reach `on-message`) until none is or
    /// `goodbye_timeout` passes (counted in `goodbye_timeouts`), checked in `run_due`; else the
    /// runner's Close follows the queued sends at once. Requests made before the goodbye are not
    /// waited for (they are abandoned at the close, as before goodbyes existed).
    fn say_goodbye(&mut self) -> Result<(), Failure> {
        if !self.scenario.says_goodbye() {
            return self.begin_close(1000, RUN_FINISHED);
        }
        bump(&self.store.data().recorder.collector().counters.goodbyes, 1);
        let now = Instant::now();
        self.store.data_mut().goodbye_keys = Some(Vec::new());
        let called = self.call(now, Callback::Goodbye);
        self.goodbye_keys = self
            .store
            .data_mut()
            .goodbye_keys
            .take()
            .unwrap_or_default();
        called?;
        self.take_outbox()?;
        if self.closing.is_some() {
            return Ok(());
        }
        if self.goodbye_waits() {
            self.goodbye = Some(now + self.goodbye_timeout);
            Ok(())
        } else {
            self.begin_close(1000, RUN_FINISHED)
        }
    }

    /// Whether a request the goodbye made is still waiting for its reply.
    fn goodbye_waits(&self) -> bool {
        let schedule = &self.store.data().schedule;
        self.goodbye_keys.iter().any(|key| schedule.is_waiting(key))
    }

    /// Start closing from our side: tell the scenario, queue a Close frame, wait for the server's.
    fn begin_close(&mut self, code: u16, reason: &str) -> Result<(), Failure> {
        if self.closing.is_some() {
            return Ok(());
        }
        self.store.data_mut().closing = true;
        self.closing = Some(Instant::now() + self.close_timeout);
        self.call(Instant::now(), Callback::Close(code, reason.to_owned()))?;
        self.outgoing.push(Outgoing::Close(code, reason.to_owned()));
        Ok(())
    }

    fn ended_without_close(&mut self) -> Result<(), Failure> {
        if self.closing.is_some() {
            Ok(())
        } else {
            Err(Failure::Network(ENDED_WITHOUT_CLOSE.into()))
        }
    }

    fn socket_error(&mut self, error: SocketError) -> Result<(), Failure> {
        match failure::of_socket_error(error, self.closing.is_some()) {
            None => Ok(()),
            Some(failure) => Err(failure),
        }
    }
}
