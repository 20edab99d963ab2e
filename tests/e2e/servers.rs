//! Servers the network tests run in-process on loopback: a TLS WebSocket echo server with
//! certificates the test generates, a DNS server (hickory-server) serving names with several
//! addresses, and servers that misbehave on purpose (never upgrade, answer 503, reset mid-stream,
//! ignore pings, close every connection after a while, send an oversized frame or invalid UTF-8,
//! break permessage-deflate's negotiation or its framing: [`HostileDeflate`]).

use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// A runtime for servers that must outlive one async block.
pub fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot start a tokio runtime: {error}"),
    }
}

/// Bind a loopback listener on a free port.
pub async fn listener(ip: Ipv4Addr) -> TcpListener {
    match TcpListener::bind(SocketAddr::from((ip, 0))).await {
        Ok(listener) => listener,
        Err(error) => panic!("cannot bind {ip}: {error}"),
    }
}

/// How a misbehaving server misbehaves.
#[derive(Clone, Copy)]
pub enum Misbehaviour {
    /// Accept TCP, never answer the upgrade.
    NeverUpgrade,
    /// Answer the upgrade with this HTTP status.
    Status(u16),
    /// Upgrade, read one message, then reset the connection (RST).
    ResetAfterFirstMessage,
    /// Upgrade, then never read again (so pings go unanswered).
    IgnorePings,
    /// Upgrade, echo, and close every connection (1001) after this long.
    CloseAfter(Duration),
    /// Upgrade and echo; close (1001) only the first `count` connections, each after `after`.
    CloseFirst {
        /// How many connections are closed by the server.
        count: usize,
        /// How long each of them lives.
        after: Duration,
    },
    /// Upgrade, then send one binary message of this many bytes.
    Oversized(usize),
    /// Upgrade, then close at once with this code.
    CloseWith(u16),
    /// Upgrade, send Close 1000, then keep TCP open without reading: the client must close it.
    CloseAndWait,
    /// Upgrade and echo each text or binary message after this delay (one at a time).
    EchoAfter(Duration),
    /// Upgrade and read everything, never answering.
    Swallow,
    /// Wait this long before reading the upgrade request, then upgrade and echo at once.
    SlowUpgrade(Duration),
    /// Upgrade, then send text frames without pause (for at most 20 s) while reading.
    Flood,
    /// Upgrade; answer the first message at once, send a Ping, read nothing for this long, then
    /// echo everything, counting Pongs received in [`PONGS_SEEN`].
    PauseReading(Duration),
    /// Upgrade, then send a text message that is not UTF-8, a different way for each connection
    /// (five ways), and record the Close code the client answers with in [`CLOSE_CODES_SEEN`].
    InvalidUtf8,
    /// Break permessage-deflate (RFC 7692) on purpose, answering the upgrade by hand on raw TCP,
    /// and record the Close code the client answers with in [`DEFLATE_CLOSE_CODES_SEEN`].
    Deflate(HostileDeflate),
}

/// How a [`Misbehaviour::Deflate`] server breaks permessage-deflate: four bad answers to the
/// client's offer (the client must refuse the upgrade), then three bad frames after a good (or no)
/// negotiation (the client must fail the connection and answer Close 1002).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostileDeflate {
    /// Answer `Sec-WebSocket-Extensions: x-unknown`, an extension the client did not offer.
    UnofferedExtension,
    /// Answer `permessage-deflate; server_max_window_bits=7`, outside RFC 7692's 8..15.
    WindowBitsOutOfRange,
    /// Answer `permessage-deflate; foo=1`, a parameter RFC 7692 does not define.
    UnknownParameter,
    /// Answer `permessage-deflate; server_no_context_takeover; server_no_context_takeover`.
    DuplicateParameter,
    /// Accept `permessage-deflate`, then send a Ping with RSV1 set (a compressed control frame).
    CompressedPing,
    /// Accept `permessage-deflate`, then send a compressed text message in two fragments whose
    /// continuation frame has RSV1 set as well (only a message's first frame may).
    Rsv1OnContinuation,
    /// Accept no extension, then send a text frame with RSV1 set.
    Rsv1WithoutExtension,
}

impl HostileDeflate {
    /// The `Sec-WebSocket-Extensions` value of the 101 answer, if any.
    fn answer(self) -> Option<&'static str> {
        match self {
            HostileDeflate::UnofferedExtension => Some("x-unknown"),
            HostileDeflate::WindowBitsOutOfRange => {
                Some("permessage-deflate; server_max_window_bits=7")
            }
            HostileDeflate::UnknownParameter => Some("permessage-deflate; foo=1"),
            HostileDeflate::DuplicateParameter => {
                Some("permessage-deflate; server_no_context_takeover; server_no_context_takeover")
            }
            HostileDeflate::CompressedPing | HostileDeflate::Rsv1OnContinuation => {
                Some("permessage-deflate")
            }
            HostileDeflate::Rsv1WithoutExtension => None,
        }
    }

    /// The raw frames sent after the 101 answer (none for a bad answer: the client must stop).
    fn frames(self) -> Vec<u8> {
        // "Hello" compressed (RFC 7692 section 7.2.3.1), whole and split in two.
        const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        match self {
            // FIN + RSV1 + Ping, 4 bytes.
            HostileDeflate::CompressedPing => vec![0xc9, 0x04, b'p', b'i', b'n', b'g'],
            // RSV1 + Text (not FIN), then FIN + RSV1 + Continuation.
            HostileDeflate::Rsv1OnContinuation => {
                let mut frames = vec![0x41, 0x03];
                frames.extend_from_slice(&HELLO[..3]);
                frames.extend_from_slice(&[0xc0, 0x04]);
                frames.extend_from_slice(&HELLO[3..]);
                frames
            }
            // FIN + RSV1 + Text.
            HostileDeflate::Rsv1WithoutExtension => {
                let mut frames = vec![0xc1, 0x07];
                frames.extend_from_slice(&HELLO);
                frames
            }
            _ => Vec::new(),
        }
    }
}

/// Close codes clients answered each [`HostileDeflate`] server with (1005: a Close without a
/// code; nothing recorded: no Close at all before TCP ended).
pub static DEFLATE_CLOSE_CODES_SEEN: Mutex<BTreeMap<HostileDeflate, Vec<u16>>> =
    Mutex::new(BTreeMap::new());

/// Text payloads that are not UTF-8, five ways: a lone continuation byte, an overlong encoding, a
/// truncated sequence, an encoded surrogate, and a byte that never occurs in UTF-8.
pub const INVALID_UTF8: [&[u8]; 5] = [
    b"ok \x80 then",
    b"\xc0\xaf overlong",
    b"cut short \xe2\x82",
    b"\xed\xa0\x80 surrogate",
    b"bad \xff byte",
];

/// Pongs [`Misbehaviour::PauseReading`] servers received.
pub static PONGS_SEEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Connections [`Misbehaviour::CloseFirst`] has accepted so far.
static CLOSE_FIRST_SERVED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Close codes clients answered [`Misbehaviour::InvalidUtf8`] with.
pub static CLOSE_CODES_SEEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
static INVALID_UTF8_SERVED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Serve `behaviour` on a fresh loopback port on `runtime`; the `ws://` URL to point a run at.
pub fn misbehaving(runtime: &tokio::runtime::Runtime, behaviour: Misbehaviour) -> String {
    let port = runtime.block_on(async {
        let listener = listener(Ipv4Addr::LOCALHOST).await;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        tokio::spawn(misbehave(listener, behaviour));
        port
    });
    format!("ws://127.0.0.1:{port}/")
}

/// Serve `behaviour` on `listener` until the runtime ends.
pub async fn misbehave(listener: TcpListener, behaviour: Misbehaviour) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(misbehave_once(stream, behaviour));
    }
}

async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
}

/// The request head up to its blank line (empty if the client went away first).
async fn read_head_text(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return String::new(),
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Answer the upgrade by hand with `extensions`, send `frames`, then read the client's frames
/// (masked, as a client's are) until its Close, whose code is recorded for `hostility`, or the end
/// of TCP (at most 30 s).
async fn hostile_deflate(mut stream: TcpStream, hostility: HostileDeflate) {
    let head = read_head_text(&mut stream).await;
    let Some(key) = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    }) else {
        return;
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
    );
    if let Some(extensions) = hostility.answer() {
        answer.push_str(&format!("Sec-WebSocket-Extensions: {extensions}\r\n"));
    }
    answer.push_str("\r\n");
    let mut out = answer.into_bytes();
    out.extend_from_slice(&hostility.frames());
    if stream.write_all(&out).await.is_err() {
        return;
    }
    let close = tokio::time::timeout(Duration::from_secs(30), read_close_code(&mut stream)).await;
    if let Ok(Some(code)) = close {
        if let Ok(mut seen) = DEFLATE_CLOSE_CODES_SEEN.lock() {
            seen.entry(hostility).or_default().push(code);
        }
        // Answer the Close with the same code (none for 1005), as RFC 6455 section 5.5.1 says.
        let [high, low] = code.to_be_bytes();
        let answer: &[u8] = if code == 1005 {
            &[0x88, 0x00]
        } else {
            &[0x88, 0x02, high, low]
        };
        let _ = stream.write_all(answer).await;
    }
}

/// Read a client's frames until its Close frame: its code (1005 when it carries none), or `None`
/// if TCP ends first.
async fn read_close_code(stream: &mut TcpStream) -> Option<u16> {
    loop {
        let mut header = [0u8; 2];
        stream.read_exact(&mut header).await.ok()?;
        let opcode = header[0] & 0x0f;
        let masked = header[1] & 0x80 != 0;
        let length = match header[1] & 0x7f {
            126 => u64::from(stream.read_u16().await.ok()?),
            127 => stream.read_u64().await.ok()?,
            short => u64::from(short),
        };
        let mut mask = [0u8; 4];
        if masked {
            stream.read_exact(&mut mask).await.ok()?;
        }
        // A client's frames here are a Close or a few small messages; refuse anything huge.
        let length = usize::try_from(length)
            .ok()
            .filter(|length| *length <= 1 << 20)?;
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await.ok()?;
        if masked {
            for (index, byte) in payload.iter_mut().enumerate() {
                *byte ^= mask[index % 4];
            }
        }
        if opcode == 0x8 {
            return Some(match payload.get(..2) {
                Some(code) => u16::from_be_bytes([code[0], code[1]]),
                None => 1005,
            });
        }
    }
}

async fn misbehave_once(mut stream: TcpStream, behaviour: Misbehaviour) {
    match behaviour {
        Misbehaviour::Deflate(hostility) => hostile_deflate(stream, hostility).await,
        Misbehaviour::NeverUpgrade => {
            read_head(&mut stream).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Misbehaviour::Status(code) => {
            read_head(&mut stream).await;
            let response =
                format!("HTTP/1.1 {code} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Misbehaviour::ResetAfterFirstMessage => {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let _ = socket.next().await;
            let stream = socket.into_inner();
            // A zero linger makes close send RST; with a zero timeout it cannot block.
            #[allow(deprecated)]
            // set_linger is deprecated for blocking drops; a zero linger does not block
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        Misbehaviour::IgnorePings => {
            let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(socket);
        }
        Misbehaviour::CloseFirst { count, after } => {
            let nth = CLOSE_FIRST_SERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let after = if nth < count {
                after
            } else {
                Duration::from_secs(3600)
            };
            Box::pin(misbehave_once(stream, Misbehaviour::CloseAfter(after))).await;
        }
        Misbehaviour::CloseAfter(after) => {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let deadline = tokio::time::sleep(after);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => {
                        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                            code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Away,
                            reason: "maintenance".into(),
                        };
                        let _ = socket.close(Some(frame)).await;
                        while let Some(Ok(_)) = socket.next().await {}
                        return;
                    }
                    message = socket.next() => match message {
                        Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                            if socket.send(message).await.is_err() { return; }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    }
                }
            }
        }
        Misbehaviour::CloseWith(code) => {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: code.into(),
                reason: "go away".into(),
            };
            let _ = socket.close(Some(frame)).await;
            while let Some(Ok(_)) = socket.next().await {}
        }
        Misbehaviour::CloseAndWait => {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: 1000.into(),
                reason: "bye".into(),
            };
            let _ = socket.send(Message::Close(Some(frame))).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Misbehaviour::InvalidUtf8 => {
            use tokio_tungstenite::tungstenite::protocol::frame::Frame;
            use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let way = INVALID_UTF8_SERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let payload = INVALID_UTF8[way % INVALID_UTF8.len()].to_vec();
            let frame = Frame::message(payload, OpCode::Data(Data::Text), true);
            let _ = socket.send(Message::Frame(frame)).await;
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Close(frame) = message {
                    let code = frame.map_or(1005, |frame| u16::from(frame.code));
                    if let Ok(mut seen) = CLOSE_CODES_SEEN.lock() {
                        seen.push(code);
                    }
                    break;
                }
            }
        }
        Misbehaviour::EchoAfter(delay) => {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            while let Some(Ok(message)) = socket.next().await {
                if matches!(message, Message::Text(_) | Message::Binary(_)) {
                    tokio::time::sleep(delay).await;
                    if socket.send(message).await.is_err() {
                        return;
                    }
                }
            }
        }
        Misbehaviour::SlowUpgrade(delay) => {
            tokio::time::sleep(delay).await;
            Box::pin(misbehave_once(
                stream,
                Misbehaviour::EchoAfter(Duration::ZERO),
            ))
            .await;
        }
        Misbehaviour::Swallow => {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            while let Some(Ok(_)) = socket.next().await {}
        }
        Misbehaviour::Flood => {
            let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let (mut sink, mut source) = socket.split();
            let flood = tokio::spawn(async move {
                let until = tokio::time::Instant::now() + Duration::from_secs(20);
                let mut sent: u64 = 0;
                while tokio::time::Instant::now() < until {
                    if sink
                        .send(Message::text(format!("flood {sent}")))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    sent += 1;
                }
            });
            while let Some(Ok(message)) = source.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
            flood.abort();
        }
        Misbehaviour::PauseReading(pause) => {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let Some(Ok(first)) = socket.next().await else {
                return;
            };
            if socket.send(first).await.is_err() {
                return;
            }
            if socket
                .send(Message::Ping(b"are you there".to_vec().into()))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(pause).await;
            while let Some(Ok(message)) = socket.next().await {
                if matches!(message, Message::Pong(_)) {
                    PONGS_SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else if matches!(message, Message::Text(_) | Message::Binary(_))
                    && socket.send(message).await.is_err()
                {
                    return;
                }
            }
        }
        Misbehaviour::Oversized(bytes) => {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let _ = socket.send(Message::binary(vec![7u8; bytes])).await;
            while let Some(Ok(_)) = socket.next().await {}
        }
    }
}

/// A plain echo server recording which local address (server side) each connection arrived on
/// and which peer address it came from.
#[derive(Clone, Default)]
pub struct Seen {
    pub by_local: Arc<Mutex<BTreeMap<IpAddr, u32>>>,
    pub by_peer: Arc<Mutex<BTreeMap<IpAddr, u32>>>,
}

/// Echo on `listener`, recording addresses into `seen`.
pub async fn recording_echo(listener: TcpListener, seen: Seen) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let local = stream
            .local_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if let Ok(mut map) = seen.by_local.lock() {
            *map.entry(local).or_default() += 1;
        }
        if let Ok(mut map) = seen.by_peer.lock() {
            *map.entry(peer.ip()).or_default() += 1;
        }
        tokio::spawn(async move {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            while let Some(Ok(message)) = socket.next().await {
                if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err()
                {
                    return;
                }
            }
        });
    }
}

/// Echo on `listener`, answering every upgrade with `headers` added to the 101 response (a
/// `sec-websocket-protocol` among them chooses a subprotocol). Pings are answered by tungstenite.
pub async fn echo_answering_with(
    listener: TcpListener,
    headers: Vec<(&'static str, &'static str)>,
) {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let headers = headers.clone();
        tokio::spawn(async move {
            // The error type is tungstenite's (an HTTP response); this callback never fails.
            #[allow(clippy::result_large_err)]
            let answer = move |_request: &Request, mut response: Response| {
                for (name, value) in &headers {
                    response.headers_mut().append(
                        HeaderName::from_static(name),
                        HeaderValue::from_static(value),
                    );
                }
                Ok(response)
            };
            let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, answer).await else {
                return;
            };
            while let Some(Ok(message)) = socket.next().await {
                if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err()
                {
                    return;
                }
            }
        });
    }
}

/// A real DNS server (hickory-server) on a loopback UDP port, authoritative for `volley.test.`:
/// each `(name, addresses)` gets A records; other names in the zone are NXDOMAIN. Keep the
/// returned server alive for as long as it must answer.
pub async fn dns_server(
    names: &[(&str, &[Ipv4Addr])],
) -> (
    SocketAddr,
    hickory_server::Server<hickory_server::zone_handler::Catalog>,
) {
    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::{LowerName, Name, RData, Record};
    use hickory_server::store::in_memory::InMemoryZoneHandler;
    use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
    let name = |text: &str| match Name::from_ascii(text) {
        Ok(name) => name,
        Err(error) => panic!("bad DNS name {text}: {error}"),
    };
    let origin = name("volley.test.");
    let mut zone: InMemoryZoneHandler =
        InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let soa = SOA::new(
        name("ns.volley.test."),
        name("admin.volley.test."),
        1,
        60,
        60,
        60,
        60,
    );
    zone.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::SOA(soa)), 1);
    for (host, addresses) in names {
        for address in *addresses {
            zone.upsert_mut(Record::from_rdata(name(host), 60, RData::A(A(*address))), 1);
        }
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
    let (socket, address) = udp_socket().await;
    let mut server = hickory_server::Server::new(catalog);
    server.register_socket(socket);
    (address, server)
}

/// A UDP "name server" that reads queries and never answers.
pub async fn silent_dns() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let (socket, address) = udp_socket().await;
    let task = tokio::spawn(async move {
        let mut buffer = [0u8; 512];
        while socket.recv_from(&mut buffer).await.is_ok() {}
    });
    (address, task)
}

/// A UDP socket on a free loopback port, and its address.
async fn udp_socket() -> (tokio::net::UdpSocket, SocketAddr) {
    let socket = match tokio::net::UdpSocket::bind("127.0.0.1:0").await {
        Ok(socket) => socket,
        Err(error) => panic!("cannot bind a UDP port: {error}"),
    };
    match socket.local_addr() {
        Ok(address) => (socket, address),
        Err(error) => panic!("{error}"),
    }
}

/// What one connection sent to [`recording_headers`]: upgrade headers and its first message.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    /// `Authorization`, when sent.
    pub authorization: Option<String>,
    /// `X-Vu`, when sent.
    pub vu: Option<String>,
    /// The first text message, when one came.
    pub first_message: Option<String>,
}

/// Every connection [`recording_headers`] accepted, in order of arrival.
pub type Upgrades = Arc<Mutex<Vec<Upgrade>>>;

/// Echo on `listener`, recording each connection's `Authorization` and `X-Vu` headers and its first
/// text message into `seen`.
pub async fn recording_headers(listener: TcpListener, seen: Upgrades) {
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let seen = seen.clone();
        tokio::spawn(async move {
            let header = |request: &Request, name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let mut upgrade = Upgrade::default();
            // The signature is tungstenite's handshake callback; its error type is not ours to shrink.
            #[allow(clippy::result_large_err)]
            let record =
                |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
                    upgrade.authorization = header(request, "authorization");
                    upgrade.vu = header(request, "x-vu");
                    Ok(response)
                };
            let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, record).await else {
                return;
            };
            let index = match seen.lock() {
                Ok(mut seen) => {
                    seen.push(upgrade);
                    seen.len() - 1
                }
                Err(_) => return,
            };
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = &message
                    && let Ok(mut seen) = seen.lock()
                    && seen[index].first_message.is_none()
                {
                    seen[index].first_message = Some(text.as_str().to_owned());
                }
                if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err()
                {
                    return;
                }
            }
        });
    }
}

/// An echo server that holds at most `cap` WebSocket connections open at once and answers the
/// upgrade of any more with HTTP 503, like a service at its connection limit (issue 24's capacity
/// search). A connection stops counting when its Close arrives, before the Close is answered, so
/// a client that saw its close complete never finds the slot still taken. `upgraded` counts the
/// upgrades it accepted, for tests that wait for a step to be under way.
pub async fn capped(
    listener: TcpListener,
    cap: usize,
    upgraded: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    use tokio_tungstenite::tungstenite::http::StatusCode;
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (open, upgraded) = (open.clone(), upgraded.clone());
        tokio::spawn(async move {
            let admitted = Arc::new(AtomicBool::new(false));
            let answer = {
                let (open, admitted) = (open.clone(), admitted.clone());
                // The error type is tungstenite's (an HTTP response): the 503 is the point.
                #[allow(clippy::result_large_err)]
                move |_request: &Request, response: Response| {
                    let taken =
                        open.fetch_update(SeqCst, SeqCst, |now| (now < cap).then_some(now + 1));
                    if taken.is_ok() {
                        admitted.store(true, SeqCst);
                        upgraded.fetch_add(1, SeqCst);
                        Ok(response)
                    } else {
                        let mut refusal = ErrorResponse::new(Some("at capacity".into()));
                        *refusal.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                        Err(refusal)
                    }
                }
            };
            let upgraded = tokio_tungstenite::accept_hdr_async(stream, answer).await;
            let mut counted = admitted.load(SeqCst);
            if let Ok(mut socket) = upgraded {
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_close() {
                        if counted {
                            open.fetch_sub(1, SeqCst);
                            counted = false;
                        }
                    } else if (message.is_text() || message.is_binary())
                        && socket.send(message).await.is_err()
                    {
                        break;
                    }
                }
            }
            if counted {
                open.fetch_sub(1, SeqCst);
            }
        });
    }
}
