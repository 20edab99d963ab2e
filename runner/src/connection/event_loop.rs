//! One open connection's event loop: a single `select!` over the socket, the scenario's next timer
//! or reply deadline, keepalive, and the stop signal, calling the scenario instance for each event.
//! On stop it closes politely (Close frame, wait for the server's) and returns how it ended
//! ([`Outcome`]). Every failure — protocol error, silent socket, scenario trap — is recorded with
//! its reason and ends this connection only. Connecting and instantiating happen before, in
//! `load::iteration`; repeating iterations in `load::vu`.

use crate::connection::connect::{WsStream, io_reason};
use crate::connection::keepalive::Keepalive;
use crate::measure::counters::bump;
use crate::scenario::bindings::Message as GuestMessage;
use crate::scenario::engine::InstanceLimits;
use crate::scenario::guest::{Callback, Guest};
use crate::scenario::host::{ConnState, Outgoing};
use futures_util::{SinkExt, StreamExt};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;
use wasmtime::Store;

/// tokio's timers have 1 ms granularity and fire late, never early. The connection wakes up to
/// this much before a due time and fires what is due within it, so scheduled sends are not
/// systematically late; round trips count from the later of due time and actual send.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// Longest a send may wait for the server to read before the connection fails.
const WRITE_STALL: Duration = Duration::from_secs(10);

/// Timer and deadline callbacks made per wake-up before yielding to the runtime.
const MAX_CALLBACKS_PER_WAKE: usize = 64;

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

/// Why the loop ended early.
enum Failure {
    /// The scenario trapped; the instance is unusable.
    Scenario(String),
    /// The socket failed or went silent (reconnectable).
    Network(String),
    /// The server broke the protocol (a frame over the limit, a bad frame, invalid UTF-8): the
    /// stable reason, what exactly happened, and the Close code to answer with (RFC 6455 §7.4.1).
    Protocol {
        /// Stable reason, e.g. `protocol: invalid UTF-8`.
        reason: String,
        /// The library's words for this connection.
        detail: String,
        /// 1002 protocol error, 1007 invalid data, 1009 too big.
        code: u16,
    },
}

/// What a connection is allowed, from the scenario file.
pub struct Settings {
    /// CPU and memory limits of the scenario instance.
    pub limits: InstanceLimits,
    /// Time to wait for the server's Close frame after ours.
    pub close_timeout: Duration,
    /// Heartbeat pings and the idle timeout.
    pub keepalive: Keepalive,
    /// `load.iteration_timeout`.
    pub iteration_timeout: Option<Duration>,
}

/// One open connection and its scenario instance.
pub struct Connection {
    socket: WsStream,
    store: Store<ConnState>,
    scenario: Guest,
    stop: CancellationToken,
    /// CPU and memory limits of the scenario instance.
    limits: InstanceLimits,
    close_timeout: Duration,
    /// Set once a close started: the deadline for the server's Close frame.
    closing: Option<Instant>,
    closed_by_server: bool,
    /// Heartbeat pings and the idle timeout.
    keepalive: Keepalive,
    /// When the handshake completed.
    opened: Instant,
    /// The code of the server's Close frame, when it closed first.
    server_close_code: u16,
    /// `load.iteration_timeout`.
    iteration_timeout: Option<Duration>,
    /// Set when the iteration timeout closed the connection (already counted as a failure).
    overran: bool,
}

impl Connection {
    /// A connection over `socket` driven by `scenario`, until `stop`.
    pub fn new(
        socket: WsStream,
        store: Store<ConnState>,
        scenario: Guest,
        stop: CancellationToken,
        settings: Settings,
    ) -> Connection {
        Connection {
            socket,
            store,
            scenario,
            stop,
            limits: settings.limits,
            close_timeout: settings.close_timeout,
            closing: None,
            closed_by_server: false,
            keepalive: settings.keepalive,
            opened: Instant::now(),
            server_close_code: 1005,
            iteration_timeout: settings.iteration_timeout,
            overran: false,
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
                let frame = CloseFrame {
                    code: CloseCode::Error,
                    reason: "scenario error".into(),
                };
                let _ =
                    tokio::time::timeout(self.close_timeout, self.socket.close(Some(frame))).await;
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
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: "".into(),
                };
                let wait = self.close_timeout.min(Duration::from_secs(1));
                let _ = tokio::time::timeout(wait, self.socket.close(Some(frame))).await;
                Outcome::Failed
            }
        };
        if self.closed_by_server {
            bump(
                &self
                    .store
                    .data()
                    .recorder
                    .collector()
                    .counters
                    .closed_by_server,
                1,
            );
        }
        outcome
    }

    async fn drive(&mut self) -> Result<(), Failure> {
        self.call(Instant::now(), Callback::Open)?;
        self.flush().await?;
        loop {
            let wake = self.store.data_mut().next_wake();
            let flush_due = self.store.data().recorder.flush_due();
            let closing = self.closing;
            let keepalive_due = self.keepalive.next_due();
            let give_up = self.iteration_timeout.map(|limit| self.opened + limit);
            // Biased: checked in this order, so the stop signal and deadlines win over busy timers.
            tokio::select! {
                biased;
                _ = self.stop.cancelled(), if closing.is_none() => {
                    self.begin_close(1000, "run finished", true).await?;
                }
                frame = self.socket.next() => match frame {
                    None => return self.ended_without_close(),
                    Some(Ok(message)) => {
                        if let Some(done) = self.on_frame(message).await? {
                            return Ok(done);
                        }
                    }
                    Some(Err(error)) => return self.socket_error(error),
                },
                _ = sleep_until(keepalive_due.unwrap_or_else(Instant::now).into()), if keepalive_due.is_some() && closing.is_none() => {
                    match self.keepalive.due(Instant::now()) {
                        Err(reason) => return Err(Failure::Network(reason)),
                        Ok(Some(payload)) => {
                            bump(&self.store.data().recorder.collector().counters.pings_sent, 1);
                            self.write(vec![Message::Ping(payload.into())]).await?;
                        }
                        Ok(None) => {}
                    }
                }
                _ = sleep_until(flush_due.unwrap_or_else(Instant::now).into()), if flush_due.is_some() => {
                    self.store.data_mut().recorder.flush();
                }
                _ = sleep_until(give_up.unwrap_or_else(Instant::now).into()), if give_up.is_some() && closing.is_none() => {
                    let limit = self.iteration_timeout.unwrap_or_default();
                    self.store.data_mut().recorder.failure(&format!(
                        "iteration: still open after {} (load.iteration_timeout)",
                        crate::config::units::human_duration(limit)
                    ));
                    self.overran = true;
                    self.begin_close(1000, "iteration timeout", true).await?;
                }
                _ = sleep_until(closing.unwrap_or_else(Instant::now).into()), if closing.is_some() => {
                    return Err(Failure::Network(format!(
                        "close: no Close frame from the server within {}",
                        crate::config::units::human_duration(self.close_timeout)
                    )));
                }
                // Last: a scenario whose timers are always due (a zero-delay loop) must not starve
                // the deadlines above.
                _ = sleep_until(wake.map_or_else(Instant::now, |at| at - TIMER_SLACK).into()), if wake.is_some() && closing.is_none() => {
                    self.fire_due(Instant::now() + TIMER_SLACK)?;
                    self.flush().await?;
                }
            }
        }
    }

    /// Handle one frame; `Some(())` when the connection is finished.
    async fn on_frame(&mut self, message: Message) -> Result<Option<()>, Failure> {
        self.keepalive.received(Instant::now());
        let counters = &self.store.data().recorder.collector().counters;
        let guest = match message {
            Message::Text(text) => {
                bump(&counters.messages_received, 1);
                bump(&counters.bytes_received, text.len() as u64);
                GuestMessage::Text(text.as_str().to_owned())
            }
            Message::Binary(data) => {
                bump(&counters.messages_received, 1);
                bump(&counters.bytes_received, data.len() as u64);
                GuestMessage::Binary(data.to_vec())
            }
            Message::Close(frame) => {
                if self.closing.is_none() {
                    self.closed_by_server = true;
                    let (code, reason) = frame
                        .map(|frame| (u16::from(frame.code), frame.reason.as_str().to_owned()))
                        .unwrap_or((1005, String::new()));
                    self.server_close_code = code;
                    self.store.data_mut().closing = true;
                    self.call(Instant::now(), Callback::Close(code, reason))?;
                    self.closing = Some(Instant::now() + self.close_timeout);
                }
                // tungstenite answers the Close itself. Both Close frames have now been exchanged:
                // the connection is over and closing TCP is ours to do, cleanly, whether or not
                // the server closes first (RFC 6455 §7.1.1).
                let _ = self.socket.flush().await;
                return Ok(Some(()));
            }
            Message::Pong(payload) => {
                if let Some(rtt) = self.keepalive.pong(&payload, Instant::now()) {
                    self.store.data_mut().recorder.ping_rtt(rtt);
                } else if let Some(pong) = self.store.data_mut().pong(&payload, Instant::now())
                    && self.closing.is_none()
                {
                    self.call(Instant::now(), pong)?;
                    self.flush().await?;
                }
                return Ok(None);
            }
            Message::Ping(_) | Message::Frame(_) => return Ok(None),
        };
        if self.closing.is_some() {
            return Ok(None);
        }
        self.call(Instant::now(), Callback::Message(guest))?;
        self.flush().await?;
        Ok(None)
    }

    /// Fire the timers and reply deadlines due by `horizon`, in order — at most
    /// [`MAX_CALLBACKS_PER_WAKE`], so a scenario re-arming a zero-delay timer yields to the runtime
    /// (and to the stop signal) instead of spinning inside the runner.
    fn fire_due(&mut self, horizon: Instant) -> Result<(), Failure> {
        for _ in 0..MAX_CALLBACKS_PER_WAKE {
            let state = self.store.data_mut();
            if let Some((key, deadline)) = state.take_expired_request(horizon) {
                bump(&state.recorder.collector().counters.reply_timeouts, 1);
                self.call(deadline, Callback::ReplyTimeout(key))?;
                continue;
            }
            if let Some((id, due)) = state.take_due_timer(horizon) {
                state
                    .recorder
                    .timer_lag(Instant::now().saturating_duration_since(due));
                self.call(due, Callback::Timer(id))?;
                continue;
            }
            return Ok(());
        }
        Ok(())
    }

    /// Make one scenario call with its CPU deadline; a trap becomes a readable message.
    fn call(&mut self, due: Instant, callback: Callback) -> Result<(), Failure> {
        let state = self.store.data_mut();
        state.due = due;
        // Late callback: count from when the send was due (the generator's delay is latency the
        // user would have seen). Early callback (timer slack): count from the actual send.
        state.send_base = due.min(Instant::now());
        self.limits.arm(&mut self.store);
        let guest = &self.scenario;
        let name = callback.name();
        let store = &mut self.store;
        // A panic in a host function (a runner bug) must end this connection, not its VU task.
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| guest.call(&mut *store, callback)));
        let result = match result {
            Ok(result) => result,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
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

    /// Send what the last callback queued, then start a close it asked for.
    async fn flush(&mut self) -> Result<(), Failure> {
        let outbox = std::mem::take(&mut self.store.data_mut().outbox);
        if !outbox.is_empty() {
            let mut bytes = 0;
            let mut sent = 0;
            let messages: Vec<Message> = outbox
                .into_iter()
                .map(|message| match message {
                    Outgoing::Text(text) => {
                        bytes += text.len();
                        sent += 1;
                        Message::text(text)
                    }
                    Outgoing::Binary(data) => {
                        bytes += data.len();
                        sent += 1;
                        Message::binary(data)
                    }
                    Outgoing::Ping(data) => Message::Ping(data.into()),
                })
                .collect();
            self.write(messages).await?;
            let counters = &self.store.data().recorder.collector().counters;
            bump(&counters.messages_sent, sent);
            bump(&counters.bytes_sent, bytes as u64);
        }
        if let Some((code, reason)) = self.store.data_mut().close_request.take() {
            self.begin_close(code, &reason, true).await?;
        }
        Ok(())
    }

    /// Start closing from our side: tell the scenario, send a Close frame, wait for the server's.
    async fn begin_close(
        &mut self,
        code: u16,
        reason: &str,
        send_frame: bool,
    ) -> Result<(), Failure> {
        if self.closing.is_some() {
            return Ok(());
        }
        self.store.data_mut().closing = true;
        self.closing = Some(Instant::now() + self.close_timeout);
        self.call(Instant::now(), Callback::Close(code, reason.to_owned()))?;
        if send_frame {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.to_owned().into(),
            };
            self.write(vec![Message::Close(Some(frame))]).await?;
        }
        Ok(())
    }

    /// Send `messages` and flush them. A server that reads nothing for [`WRITE_STALL`] fails the
    /// connection instead of parking it (its timers, deadlines and the stop signal wait meanwhile).
    async fn write(&mut self, messages: Vec<Message>) -> Result<(), Failure> {
        let socket = &mut self.socket;
        let work = async {
            for message in messages {
                socket.feed(message).await?;
            }
            socket.flush().await
        };
        match tokio::time::timeout(WRITE_STALL, work).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => self.socket_error(error),
            Err(_) => Err(Failure::Network(format!(
                "write: the server read nothing for {}",
                crate::config::units::human_duration(WRITE_STALL)
            ))),
        }
    }

    fn ended_without_close(&mut self) -> Result<(), Failure> {
        if self.closing.is_some() {
            Ok(())
        } else {
            Err(Failure::Network(
                "io: server closed the connection without a Close frame".into(),
            ))
        }
    }

    fn socket_error(&mut self, error: WsError) -> Result<(), Failure> {
        match error {
            WsError::ConnectionClosed | WsError::AlreadyClosed if self.closing.is_some() => Ok(()),
            // After the Close handshake started, a TCP close without TLS close_notify (common in
            // servers) or a reset ends nothing that was still needed.
            WsError::Io(_) if self.closing.is_some() => Ok(()),
            WsError::ConnectionClosed | WsError::AlreadyClosed => self.ended_without_close(),
            WsError::Io(error) => Err(Failure::Network(format!("io: {}", io_reason(&error)))),
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => Err(
                Failure::Network("io: connection reset without a Close frame".into()),
            ),
            WsError::Capacity(CapacityError::MessageTooLong { max_size, .. }) => {
                Err(Failure::Protocol {
                    reason: format!(
                        "protocol: message too long (limit {})",
                        crate::config::units::human_bytes(max_size as u64)
                    ),
                    detail: error_text(&error),
                    code: 1009,
                })
            }
            WsError::Utf8(_) => Err(Failure::Protocol {
                reason: "protocol: invalid UTF-8".into(),
                detail: error_text(&error),
                code: 1007,
            }),
            WsError::Protocol(ProtocolError::InvalidCloseSequence) => Err(Failure::Protocol {
                reason: "protocol: invalid close frame".into(),
                detail: error_text(&error),
                code: 1002,
            }),
            other => {
                let detail = error_text(&other);
                Err(Failure::Protocol {
                    reason: format!("protocol: {}", first_clause(&other)),
                    detail,
                    code: 1002,
                })
            }
        }
    }
}

/// The library's words for a socket error.
fn error_text(error: &WsError) -> String {
    format!("protocol: {error}")
}

/// The stable part of a protocol error: its text up to the first `:` (what follows is a
/// per-connection value such as an opcode or a size), without the library's prefix.
fn first_clause(error: &WsError) -> String {
    let text = match error {
        WsError::Protocol(inner) => inner.to_string(),
        WsError::Capacity(inner) => inner.to_string(),
        other => other.to_string(),
    };
    let clause = text.split(':').next().unwrap_or(&text).trim();
    let mut chars = clause.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "error".into(),
    }
}
