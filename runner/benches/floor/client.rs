//! The bare clients (`floor-client LIBRARY WORKLOAD ADDR [OFFER]`, a child of the bench): the same
//! work as Volley's side of each workload with nothing between the program and a WebSocket library
//! (`tungstenite` and `tws`, the two floors of W1–W3; `deflate`, W4's bare client on Volley's own
//! codec) — a `current_thread` runtime, one task per connection, Nagle off, the same texts as
//! the scenario module (`payload`, like `scenarios/pingpong`; W4's from `scenarios/jsonecho`'s
//! `text.rs`, included here), every echo compared byte for byte, round trips and connect times in
//! HDR histograms, wire bytes counted on the socket (`wire`). It is the bar Volley is measured
//! against, so it is not handicapped; it also does nothing Volley's run does not. Prints one JSON
//! line of counts and percentiles; the parent measures CPU and memory from outside.

use crate::client_deflate::VolleyCodec;
use crate::client_tungstenite::Tungstenite;
use crate::client_tws::TokioWebsockets;
use crate::socket::{FloorSocket, Offer};
use crate::wire::{Counted, WireCount};
use hdrhistogram::Histogram;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{sleep_until, timeout};

/// W4's texts: the `jsonecho` scenario's own generator, so both sides send the same bytes.
#[path = "../../../scenarios/jsonecho/src/text.rs"]
#[allow(dead_code)] // MIN_SIZE and the generator's tests are the scenario's
mod json_text;

/// Size of every W1–W3 text message, bytes (both clients).
pub const MESSAGE_BYTES: usize = 32;
/// W1: connections, opened evenly over `W1_RAMP`, each sending `W1_MESSAGES` 1 s apart.
pub const W1_CONNECTIONS: u32 = 10_000;
const W1_RAMP: Duration = Duration::from_secs(5);
pub const W1_MESSAGES: u32 = 30;
const W1_INTERVAL: Duration = Duration::from_secs(1);
/// W2: connections playing ping-pong for `W2_DURATION`.
pub const W2_CONNECTIONS: u32 = 100;
pub const W2_DURATION: Duration = Duration::from_secs(20);
/// W3: connections opened at once, at most `W3_IN_FLIGHT` handshakes at a time.
pub const W3_CONNECTIONS: u32 = 5_000;
pub const W3_IN_FLIGHT: usize = 64;
/// W4: connections, opened evenly over `W4_RAMP`, each sending `W4_MESSAGES` JSON-like texts of
/// `W4_MESSAGE_BYTES`, `W4_INTERVAL` apart (4 a second for 20 s: with context takeover both the
/// client and the server spend ~120 µs of CPU per message, so 1,000 connections at 10 a second
/// saturated both cores and measured the machine, not the client).
pub const W4_CONNECTIONS: u32 = 1_000;
const W4_RAMP: Duration = Duration::from_secs(2);
pub const W4_MESSAGES: u32 = 80;
pub const W4_INTERVAL: Duration = Duration::from_millis(250);
pub const W4_MESSAGE_BYTES: usize = 1024;
/// Limits on one connection attempt and one reply (as in the Volley scenario files).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The text for sequence number `seq`, zero-padded to `MESSAGE_BYTES`, built as
/// `scenarios/pingpong` builds it (its digits after a run of zeros, no `fmt` padding), so both
/// clients spend the same on it.
fn payload(seq: u32) -> String {
    const ZEROS: &str = "00000000000000000000000000000000";
    let mut digits = [b'0'; 10];
    let mut start = digits.len();
    let mut rest = seq;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let digits = std::str::from_utf8(&digits[start..]).unwrap_or_default();
    let mut text = String::with_capacity(MESSAGE_BYTES.max(digits.len()));
    text.push_str(&ZEROS[..MESSAGE_BYTES.saturating_sub(digits.len()).min(ZEROS.len())]);
    text.push_str(digits);
    text
}

/// W4's text for connection `connection`'s message `seq`.
fn json_text(connection: u32, seq: u32) -> String {
    let mut text = String::with_capacity(W4_MESSAGE_BYTES);
    json_text::write_json_text(&mut text, connection, seq, W4_MESSAGE_BYTES);
    text
}

/// What one run counted, shared by its tasks (one thread, so `Rc<RefCell>`).
struct Stats {
    opened: u64,
    failed: u64,
    /// Texts sent.
    sent: u64,
    round_trips: u64,
    mismatches: u64,
    timeouts: u64,
    /// Connections that agreed permessage-deflate.
    deflate: u64,
    /// Wire bytes after the upgrade, of connections that ended.
    wire_sent: u64,
    wire_received: u64,
    /// Round trips, µs.
    rtt: Histogram<u64>,
    /// TCP connect + WebSocket upgrade, µs.
    connect: Histogram<u64>,
}

type Shared = Rc<RefCell<Stats>>;

/// One open connection: the library's socket and its wire counts at the end of the upgrade.
struct Connection<S> {
    socket: S,
    wire: Rc<WireCount>,
    upgrade_sent: u64,
    upgrade_received: u64,
}

impl<S> Connection<S> {
    /// Add this connection's wire bytes since the upgrade to the totals.
    fn count_wire(&self, stats: &Shared) {
        let mut s = stats.borrow_mut();
        s.wire_sent += self.wire.sent.get().saturating_sub(self.upgrade_sent);
        s.wire_received += self
            .wire
            .received
            .get()
            .saturating_sub(self.upgrade_received);
    }
}

/// Entry point of the child: `LIBRARY WORKLOAD ADDR [OFFER]`.
pub fn main(args: &[String]) -> ExitCode {
    const USAGE: &str = "floor-client: usage: floor-client tungstenite|tws|deflate w1|w2|w3|w4 HOST:PORT [plain|deflate|deflate-no-takeover]";
    let (Some(library), Some(workload), Some(address)) = (args.first(), args.get(1), args.get(2))
    else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let address: SocketAddr = match address.parse() {
        Ok(address) => address,
        Err(error) => {
            eprintln!("floor-client: bad address {address:?}: {error}");
            return ExitCode::from(2);
        }
    };
    let Some(offer) = Offer::parse(args.get(3).map_or("plain", String::as_str)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if !["w1", "w2", "w3", "w4"].contains(&workload.as_str()) {
        eprintln!("floor-client: unknown workload {workload:?} (w1, w2, w3 or w4)");
        return ExitCode::from(2);
    }
    match library.as_str() {
        "tungstenite" => run::<Tungstenite>(workload, address, offer),
        "tws" => run::<TokioWebsockets>(workload, address, offer),
        "deflate" => match VolleyCodec::missing() {
            Some(why) => {
                eprintln!("floor-client: {why}");
                ExitCode::from(2)
            }
            None => run::<VolleyCodec>(workload, address, offer),
        },
        other => {
            eprintln!("floor-client: unknown library {other:?} (tungstenite, tws or deflate)");
            ExitCode::from(2)
        }
    }
}

/// Run `workload` with library `S` and print the figures.
fn run<S: FloorSocket + 'static>(workload: &str, address: SocketAddr, offer: Offer) -> ExitCode {
    // 10,000 sockets need more than the usual soft limit of 1,024 (volley raises its own too).
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("floor-client: cannot raise the open-file limit: {error}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("floor-client: cannot start tokio: {error}");
            return ExitCode::from(2);
        }
    };
    let histogram = || Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3);
    let (Ok(rtt), Ok(connect)) = (histogram(), histogram()) else {
        eprintln!("floor-client: cannot create histograms");
        return ExitCode::from(2);
    };
    let stats: Shared = Rc::new(RefCell::new(Stats {
        opened: 0,
        failed: 0,
        sent: 0,
        round_trips: 0,
        mismatches: 0,
        timeouts: 0,
        deflate: 0,
        wire_sent: 0,
        wire_received: 0,
        rtt,
        connect,
    }));
    let started = Instant::now();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let at = Target { address, offer };
        match workload {
            "w1" => paced::<S>(at, W1, stats.clone()).await,
            "w2" => w2::<S>(at, stats.clone()).await,
            "w3" => w3::<S>(at, stats.clone()).await,
            _ => paced::<S>(at, W4, stats.clone()).await,
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let s = stats.borrow();
    let line = serde_json::json!({
        "workload": workload,
        "offer": offer.word(),
        "opened": s.opened,
        "failed": s.failed,
        "sent": s.sent,
        "round_trips": s.round_trips,
        "mismatches": s.mismatches,
        "timeouts": s.timeouts,
        "deflate": s.deflate,
        "wire_sent": s.wire_sent,
        "wire_received": s.wire_received,
        "elapsed_s": elapsed,
        "rtt_p50_us": s.rtt.value_at_quantile(0.5),
        "rtt_p99_us": s.rtt.value_at_quantile(0.99),
        "connect_p50_us": s.connect.value_at_quantile(0.5),
        "connect_p99_us": s.connect.value_at_quantile(0.99),
    });
    println!("{line}");
    ExitCode::SUCCESS
}

/// Where and how every connection of a run connects.
#[derive(Clone, Copy)]
struct Target {
    address: SocketAddr,
    offer: Offer,
}

/// TCP connect and WebSocket upgrade, timed into `connect`; counts the connection as opened or failed.
async fn open<S: FloorSocket>(at: Target, stats: &Shared) -> Option<Connection<S>> {
    let started = Instant::now();
    let wire = Rc::new(WireCount::default());
    let attempt = async {
        let stream = TcpStream::connect(at.address).await.ok()?;
        let _ = stream.set_nodelay(true);
        S::upgrade(Counted::new(stream, wire.clone()), at.address, at.offer).await
    };
    let upgraded = timeout(CONNECT_TIMEOUT, attempt).await.ok().flatten();
    let mut s = stats.borrow_mut();
    match upgraded {
        Some((socket, deflate)) => {
            s.opened += 1;
            s.deflate += u64::from(deflate);
            let _ = s.connect.record(started.elapsed().as_micros() as u64);
            Some(Connection {
                socket,
                upgrade_sent: wire.sent.get(),
                upgrade_received: wire.received.get(),
                wire,
            })
        }
        None => {
            s.failed += 1;
            None
        }
    }
}

/// Send `text`, wait for the echo and compare it; `false` if the connection is unusable.
async fn echo<S: FloorSocket>(
    connection: &mut Connection<S>,
    text: String,
    stats: &Shared,
) -> bool {
    let text = S::text(text);
    let sent = Instant::now();
    if !connection.socket.send(text.clone()).await {
        stats.borrow_mut().failed += 1;
        connection.count_wire(stats);
        return false;
    }
    stats.borrow_mut().sent += 1;
    let reply = timeout(REPLY_TIMEOUT, connection.socket.next_is(&text)).await;
    let mut s = stats.borrow_mut();
    match reply {
        Ok(Some(same)) => {
            s.round_trips += 1;
            let _ = s.rtt.record(sent.elapsed().as_micros() as u64);
            if !same {
                s.mismatches += 1;
            }
            true
        }
        Ok(None) => {
            s.failed += 1;
            drop(s);
            connection.count_wire(stats);
            false
        }
        Err(_) => {
            s.timeouts += 1;
            true
        }
    }
}

/// A polite close (bounded), then the connection's wire bytes into the totals.
async fn close<S: FloorSocket>(connection: Connection<S>, stats: &Shared) {
    let Connection {
        socket,
        wire,
        upgrade_sent,
        upgrade_received,
    } = connection;
    let _ = timeout(REPLY_TIMEOUT, socket.close()).await;
    let ended = Connection {
        socket: (),
        wire,
        upgrade_sent,
        upgrade_received,
    };
    ended.count_wire(stats);
}

/// A paced workload: connections opened evenly over `ramp`, each sending `messages` texts
/// `interval` apart (the next is due `interval` after the previous was sent, like a scenario timer
/// set at each send), then closing.
#[derive(Clone, Copy)]
struct Paced {
    connections: u32,
    ramp: Duration,
    messages: u32,
    interval: Duration,
    /// The text of connection `.0`'s message `.1`.
    text: fn(u32, u32) -> String,
}

/// W1: 10,000 connections over 5 s, 30 × 32 bytes 1 s apart.
const W1: Paced = Paced {
    connections: W1_CONNECTIONS,
    ramp: W1_RAMP,
    messages: W1_MESSAGES,
    interval: W1_INTERVAL,
    text: |_, seq| payload(seq),
};

/// W4: 1,000 connections over 2 s, 200 JSON-like texts of 1 KiB 100 ms apart.
const W4: Paced = Paced {
    connections: W4_CONNECTIONS,
    ramp: W4_RAMP,
    messages: W4_MESSAGES,
    interval: W4_INTERVAL,
    text: json_text,
};

async fn paced<S: FloorSocket + 'static>(at: Target, work: Paced, stats: Shared) {
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(work.connections as usize);
    for index in 0..work.connections {
        sleep_until(started + work.ramp * index / work.connections).await;
        let stats = stats.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let Some(mut connection) = open::<S>(at, &stats).await else {
                return;
            };
            for seq in 1..=work.messages {
                let due = tokio::time::Instant::now() + work.interval;
                if !echo(&mut connection, (work.text)(index, seq), &stats).await {
                    return;
                }
                if seq < work.messages {
                    sleep_until(due).await;
                }
            }
            close(connection, &stats).await;
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// W2: 100 connections at once, each sending the next text when the echo arrives, for 20 s.
async fn w2<S: FloorSocket + 'static>(at: Target, stats: Shared) {
    let deadline = Instant::now() + W2_DURATION;
    let tasks: Vec<_> = (0..W2_CONNECTIONS)
        .map(|_| {
            let stats = stats.clone();
            tokio::task::spawn_local(async move {
                let Some(mut connection) = open::<S>(at, &stats).await else {
                    return;
                };
                let mut seq = 0u32;
                while Instant::now() < deadline {
                    seq = seq.wrapping_add(1);
                    if !echo(&mut connection, payload(seq), &stats).await {
                        return;
                    }
                }
                close(connection, &stats).await;
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// W3: 5,000 connections started at once, at most 64 handshakes (connect + upgrade) in flight;
/// each echoes one text and closes.
async fn w3<S: FloorSocket + 'static>(at: Target, stats: Shared) {
    let permits = Rc::new(Semaphore::new(W3_IN_FLIGHT));
    let tasks: Vec<_> = (0..W3_CONNECTIONS)
        .map(|_| {
            let (stats, permits) = (stats.clone(), permits.clone());
            tokio::task::spawn_local(async move {
                let connection = {
                    let Ok(_permit) = permits.acquire().await else {
                        return;
                    };
                    open::<S>(at, &stats).await
                };
                let Some(mut connection) = connection else {
                    return;
                };
                if echo(&mut connection, payload(1), &stats).await {
                    close(connection, &stats).await;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}
