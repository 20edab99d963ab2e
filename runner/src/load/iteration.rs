//! One iteration of one virtual user: expand the URL and the varying headers from its VU, iteration
//! and data row, wait for a pacing permit, connect (DNS, TCP, TLS, upgrade, under
//! `load.connect_timeout`), record the connect phases, instantiate the scenario and hand both to a
//! [`Connection`] until it ends, with the upgrade's answer (status, headers, subprotocol) for the
//! scenario to read. With `expect_upgrade`, the expected non-101 answer ends the iteration as a
//! pass ([`Outcome::Rejected`]) and a 101 as a failure. A failure here is recorded with its reason
//! and ends this iteration only. The VU loop that repeats iterations lives in `vu`.

use crate::connection::connect::ConnectError;
use crate::connection::event_loop::{Connection, Outcome, Settings};
use crate::connection::keepalive::Keepalive;
use crate::load::plan::Plan;
use crate::measure::counters::{Counters, bump};
use crate::measure::recorder::Recorder;
use crate::measure::stats::Phase;
use crate::scenario::host::ConnState;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Run iteration `iteration` of VU `vu`, which reads data row `row`. For an arrival's first
/// attempt, `due` is when the arrival was scheduled: its lateness (`arrival_lag`) runs from there
/// to the moment it may connect, so time spent queued for a pacing permit is lateness too.
pub async fn run_iteration(
    plan: &Plan,
    vu: u32,
    iteration: u32,
    row: Option<u32>,
    due: Option<Instant>,
    stop: &CancellationToken,
) -> Outcome {
    let counters = &plan.collector.counters;
    let mut recorder = Recorder::new(vu, plan.collector.clone());
    let url = match plan.url(vu, iteration, row) {
        Ok(url) => url,
        Err(reason) => {
            bump(&counters.attempted, 1);
            recorder.failure_with("url: invalid URL", &format!("url: {reason}"));
            return Outcome::ConnectFailed;
        }
    };
    let headers = match plan.headers(vu, iteration, row) {
        Ok(headers) => headers,
        Err(reason) => {
            bump(&counters.attempted, 1);
            recorder.failure_with("url: invalid header value", &format!("url: {reason}"));
            return Outcome::ConnectFailed;
        }
    };
    let queued = Instant::now();
    let permit = tokio::select! {
        biased;
        _ = stop.cancelled() => {
            // Not an attempt, but not lost either: counted as pending at the end, its wait so far
            // recorded (censored, like a reply timeout at its deadline).
            bump(&counters.pending_at_end, 1);
            record_wait(&mut recorder, queued, due);
            return Outcome::Stopped;
        }
        permit = plan.pacing.admit() => permit,
    };
    record_wait(&mut recorder, queued, due);
    // An attempt counts from here.
    bump(&counters.attempted, 1);
    let started = Instant::now();
    let timeout = plan.load.connect_timeout;
    let connected = tokio::select! {
        biased;
        _ = stop.cancelled() => {
            // Abandoned mid-connect because the run ended: not an attempt after all, but counted
            // with the iterations pending at the end, so no arrival vanishes.
            counters.attempted.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            bump(&counters.pending_at_end, 1);
            return Outcome::Stopped;
        }
        // Boxed: the connect future (DNS, TLS, upgrade) is ~17 KiB, needed only while connecting;
        // inline it would stay in every VU task for the connection's whole life (W1 in
        // docs/benchmarks.md: 63 → 49 KiB per connection).
        result = tokio::time::timeout(timeout, Box::pin(plan.connector.connect(&url, &headers))) => match result {
            Ok(Ok(connected)) => connected,
            Ok(Err(ConnectError::Status(status))) if status == plan.expect_upgrade => {
                bump(&counters.expected_rejections, 1);
                return Outcome::Rejected;
            }
            Ok(Err(error)) => {
                recorder.failure_with(&error.to_string(), &error.example());
                return Outcome::ConnectFailed;
            }
            Err(_) => {
                recorder.failure(&format!("connect: timed out after {}", crate::config::units::human_duration(timeout)));
                return Outcome::ConnectFailed;
            }
        },
    };
    drop(permit);
    recorder.connect_time(started.elapsed());
    let phases = connected.phases;
    for (phase, took) in [
        (Phase::Dns, phases.dns),
        (Phase::Tcp, phases.tcp),
        (Phase::Tls, phases.tls),
        (Phase::Upgrade, phases.upgrade),
    ] {
        if let Some(took) = took {
            recorder.phase(phase, took);
        }
    }
    match connected.resumed {
        Some(true) => bump(&counters.tls_resumed, 1),
        Some(false) => bump(&counters.tls_full, 1),
        None => {}
    }
    if plan.expect_upgrade != 101 {
        // Rare (a run that expects a rejection got a 101): its own box keeps the close future's
        // state out of every VU task.
        return Box::pin(unexpected_upgrade(plan, connected, recorder)).await;
    }
    let (mut connection, open) =
        match start_session(plan, vu, iteration, row, connected, recorder, stop) {
            Ok(started) => started,
            Err(outcome) => return outcome,
        };
    // The session is its own boxed future holding only the connection and its event loop's state
    // (~1.3 KiB). Everything that builds them stays in `start_session`, a plain function: as part of
    // an `async fn` those locals kept ~2.4 KiB more per connection for its whole life.
    Box::pin(async move {
        let _open = open;
        connection.run().await
    })
    .await
}

/// Record the wait for a pacing permit that began at `queued` (the `queue` phase) and, for an
/// arrival due at `due`, its lateness up to now.
fn record_wait(recorder: &mut Recorder, queued: Instant, due: Option<Instant>) {
    let now = Instant::now();
    recorder.phase(Phase::Queue, now.saturating_duration_since(queued));
    if let Some(due) = due {
        recorder.arrival_lag(now.saturating_duration_since(due));
    }
}

/// A 101 where the run expects `expect_upgrade`: a failure; close the connection politely.
async fn unexpected_upgrade(
    plan: &Plan,
    connected: crate::connection::connect::Connected,
    mut recorder: Recorder,
) -> Outcome {
    recorder.failure(&format!(
        "upgrade: expected HTTP {} (expect_upgrade.status), got 101 Switching Protocols",
        plan.expect_upgrade
    ));
    let mut socket = connected.socket;
    let _ = tokio::time::timeout(plan.load.close_timeout, socket.close(1000, "")).await;
    Outcome::ConnectFailed
}

/// The connection's life after a 101 starts here: count it open, instantiate the scenario and
/// build the [`Connection`] that runs it. An instance that cannot be created fails this iteration.
fn start_session<'a>(
    plan: &'a Plan,
    vu: u32,
    iteration: u32,
    row: Option<u32>,
    connected: crate::connection::connect::Connected,
    recorder: Recorder,
    stop: &CancellationToken,
) -> Result<(Connection, OpenConnection<'a>), Outcome> {
    let counters = &plan.collector.counters;
    bump(&counters.established, 1);
    let mut recorder = recorder;
    match &connected.negotiated {
        Some(agreed) => recorder.negotiated(&agreed.describe()),
        None => recorder.negotiated(crate::measure::stats::NO_EXTENSION),
    }
    let open = OpenConnection::new(counters);
    let memory = plan.engine.limits().memory;
    let mut state =
        ConnState::new(plan.facts.clone(), vu, iteration, memory, recorder).with_row(row);
    state.handshake = connected.handshake;
    match plan.engine.instantiate(state) {
        Ok((store, scenario)) => {
            let settings = Settings {
                limits: plan.engine.limits(),
                close_timeout: plan.load.close_timeout,
                goodbye_timeout: plan.load.goodbye_timeout,
                write_timeout: plan.net.timeouts.write,
                keepalive: Keepalive::new(plan.net.heartbeat, plan.net.idle_timeout),
                iteration_timeout: plan.load.iteration_timeout,
            };
            let connection = Connection::new(connected.socket, store, scenario, stop, settings);
            Ok((connection, open))
        }
        Err(error) => {
            let mut recorder = Recorder::new(vu, plan.collector.clone());
            let message = format!("scenario: could not instantiate: {error:#}");
            recorder.scenario_error(&message);
            recorder.failure(&message);
            Err(Outcome::Failed)
        }
    }
}

/// Counts a connection as open for as long as it lives, even if its task is aborted.
struct OpenConnection<'a>(&'a Counters);

impl<'a> OpenConnection<'a> {
    fn new(counters: &'a Counters) -> Self {
        counters.opened();
        OpenConnection(counters)
    }
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.closed();
    }
}
