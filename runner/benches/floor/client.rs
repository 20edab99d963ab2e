//! The floor client (`floor-client w1|w2|w3 ADDR`, a child of the bench): the same work as Volley's
//! side of each workload with nothing between the program and tokio-tungstenite — a
//! `current_thread` runtime, one task per connection, 4 KiB read and write buffers, Nagle off, the
//! same 32-byte texts (`payload`, like `scenarios/pingpong`), every echo compared byte for byte,
//! round trips and connect times in HDR histograms. It is the bar Volley is measured against, so it
//! is not handicapped; it also does nothing Volley's run does not. Prints one JSON line of counts
//! and percentiles; the parent measures CPU and memory from outside.

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Ws = WebSocketStream<TcpStream>;

/// Size of every text message, bytes (both clients).
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
/// Limits on one connection attempt and one reply (as in the Volley scenario files).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The text for sequence number `seq`, zero-padded to `MESSAGE_BYTES`, built as
/// `scenarios/pingpong` builds it (its digits after a run of zeros, no `fmt` padding), so both
/// clients spend the same on it.
fn payload(seq: u32) -> Utf8Bytes {
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
    text.into()
}

/// What one run counted, shared by its tasks (one thread, so `Rc<RefCell>`).
struct Stats {
    opened: u64,
    failed: u64,
    round_trips: u64,
    mismatches: u64,
    timeouts: u64,
    /// Round trips, µs.
    rtt: Histogram<u64>,
    /// TCP connect + WebSocket upgrade, µs.
    connect: Histogram<u64>,
}

type Shared = Rc<RefCell<Stats>>;

/// Entry point of the child: `w1|w2|w3 ADDR`.
pub fn main(args: &[String]) -> ExitCode {
    let (Some(workload), Some(address)) = (args.first(), args.get(1)) else {
        eprintln!("floor-client: usage: floor-client w1|w2|w3 HOST:PORT");
        return ExitCode::from(2);
    };
    let address: SocketAddr = match address.parse() {
        Ok(address) => address,
        Err(error) => {
            eprintln!("floor-client: bad address {address:?}: {error}");
            return ExitCode::from(2);
        }
    };
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
        round_trips: 0,
        mismatches: 0,
        timeouts: 0,
        rtt,
        connect,
    }));
    let started = Instant::now();
    let local = tokio::task::LocalSet::new();
    let known = local.block_on(&runtime, async {
        match workload.as_str() {
            "w1" => w1(address, stats.clone()).await,
            "w2" => w2(address, stats.clone()).await,
            "w3" => w3(address, stats.clone()).await,
            _ => return false,
        }
        true
    });
    if !known {
        eprintln!("floor-client: unknown workload {workload:?} (w1, w2 or w3)");
        return ExitCode::from(2);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let s = stats.borrow();
    let line = serde_json::json!({
        "workload": workload,
        "opened": s.opened,
        "failed": s.failed,
        "round_trips": s.round_trips,
        "mismatches": s.mismatches,
        "timeouts": s.timeouts,
        "elapsed_s": elapsed,
        "rtt_p50_us": s.rtt.value_at_quantile(0.5),
        "rtt_p99_us": s.rtt.value_at_quantile(0.99),
        "connect_p50_us": s.connect.value_at_quantile(0.5),
        "connect_p99_us": s.connect.value_at_quantile(0.99),
    });
    println!("{line}");
    ExitCode::SUCCESS
}

/// TCP connect and WebSocket upgrade, timed into `connect`; counts the connection as opened or failed.
async fn open(address: SocketAddr, stats: &Shared) -> Option<Ws> {
    let started = Instant::now();
    let attempt = async {
        let stream = TcpStream::connect(address).await.ok()?;
        let _ = stream.set_nodelay(true);
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(4096);
        let url = format!("ws://{address}/");
        tokio_tungstenite::client_async_with_config(url, stream, Some(config))
            .await
            .ok()
            .map(|(ws, _)| ws)
    };
    let ws = timeout(CONNECT_TIMEOUT, attempt).await.ok().flatten();
    let mut s = stats.borrow_mut();
    match ws {
        Some(ws) => {
            s.opened += 1;
            let _ = s.connect.record(started.elapsed().as_micros() as u64);
            Some(ws)
        }
        None => {
            s.failed += 1;
            None
        }
    }
}

/// Send `payload(seq)`, wait for the echo and compare it; `false` if the connection is unusable.
async fn echo(ws: &mut Ws, seq: u32, stats: &Shared) -> bool {
    let text = payload(seq);
    let sent = Instant::now();
    if ws.send(Message::Text(text.clone())).await.is_err() {
        stats.borrow_mut().failed += 1;
        return false;
    }
    let reply = timeout(REPLY_TIMEOUT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(reply))) => return Some(reply == text),
                Some(Ok(Message::Binary(_))) => return Some(false),
                // Pings are answered by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            }
        }
    })
    .await;
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
            false
        }
        Err(_) => {
            s.timeouts += 1;
            true
        }
    }
}

/// A polite close: send Close, read until the server's Close (bounded).
async fn close(mut ws: Ws) {
    let _ = timeout(REPLY_TIMEOUT, async {
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// W1: 10,000 connections opened evenly over 5 s; each sends 30 texts 1 s apart (the next is due
/// 1 s after the previous was sent, like a scenario timer set at each send), then closes.
async fn w1(address: SocketAddr, stats: Shared) {
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(W1_CONNECTIONS as usize);
    for index in 0..W1_CONNECTIONS {
        sleep_until(started + W1_RAMP * index / W1_CONNECTIONS).await;
        let stats = stats.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let Some(mut ws) = open(address, &stats).await else {
                return;
            };
            for seq in 1..=W1_MESSAGES {
                let due = tokio::time::Instant::now() + W1_INTERVAL;
                if !echo(&mut ws, seq, &stats).await {
                    return;
                }
                if seq < W1_MESSAGES {
                    sleep_until(due).await;
                }
            }
            close(ws).await;
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// W2: 100 connections at once, each sending the next text when the echo arrives, for 20 s.
async fn w2(address: SocketAddr, stats: Shared) {
    let deadline = Instant::now() + W2_DURATION;
    let tasks: Vec<_> = (0..W2_CONNECTIONS)
        .map(|_| {
            let stats = stats.clone();
            tokio::task::spawn_local(async move {
                let Some(mut ws) = open(address, &stats).await else {
                    return;
                };
                let mut seq = 0u32;
                while Instant::now() < deadline {
                    seq = seq.wrapping_add(1);
                    if !echo(&mut ws, seq, &stats).await {
                        return;
                    }
                }
                close(ws).await;
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// W3: 5,000 connections started at once, at most 64 handshakes (connect + upgrade) in flight;
/// each echoes one text and closes.
async fn w3(address: SocketAddr, stats: Shared) {
    let permits = Rc::new(Semaphore::new(W3_IN_FLIGHT));
    let tasks: Vec<_> = (0..W3_CONNECTIONS)
        .map(|_| {
            let (stats, permits) = (stats.clone(), permits.clone());
            tokio::task::spawn_local(async move {
                let ws = {
                    let Ok(_permit) = permits.acquire().await else {
                        return;
                    };
                    open(address, &stats).await
                };
                let Some(mut ws) = ws else {
                    return;
                };
                if echo(&mut ws, 1, &stats).await {
                    close(ws).await;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}
