//! [`WebSocket`]: one open WebSocket over a byte stream (plain TCP or TLS), for either side.
//! Reading goes through a buffer per worker thread: only the unparsed rest of a frame stays with
//! the connection (`pending`, empty and unallocated between frames), so an idle connection
//! holds no read buffer. Writing encodes each message (compressed when permessage-deflate was
//! agreed, masked by a client) into the connection's `unwritten` bytes, which `poll_flush` hands
//! to the stream; the caller decides how much may wait. Pings are answered (the latest one, as
//! RFC 6455 §5.5.3 allows) and a peer's Close is echoed. The frame format, message assembly,
//! Close payloads and compression are the pure modules beside this one.

use crate::websocket::close;
use crate::websocket::compression::Deflation;
use crate::websocket::error::ProtocolError;
use crate::websocket::frame::{self, Opcode};
use crate::websocket::message::{Assembler, Incoming, Role};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read from the stream at once into the per-thread buffer.
const READ_CHUNK: usize = 16 * 1024;

/// Largest read straight into a connection's own buffer while a long frame arrives.
const LONG_READ: usize = 256 * 1024;

/// A write buffer larger than this is released once empty (a small one is kept for the next
/// message).
const KEEP_WRITE_CAPACITY: usize = 1024;

thread_local! {
    /// Where every connection on this thread reads into.
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
    /// Masking keys: unpredictable to the server's side, as RFC 6455 §5.3 asks.
    static MASKS: RefCell<SmallRng> = RefCell::new(SmallRng::from_os_rng());
}

/// 16 unpredictable bytes for a `Sec-WebSocket-Key`.
pub fn random_key() -> [u8; 16] {
    MASKS.with(|masks| masks.borrow_mut().random::<[u8; 16]>())
}

/// A message or control frame to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A Ping.
    Ping(Vec<u8>),
    /// A Close frame with a code and reason (the reason is cut to fit 123 bytes).
    Close(u16, String),
}

impl Outgoing {
    /// Payload bytes.
    pub fn len(&self) -> usize {
        match self {
            Outgoing::Text(text) => text.len(),
            Outgoing::Binary(data) | Outgoing::Ping(data) => data.len(),
            Outgoing::Close(_, reason) => 2 + reason.len().min(123),
        }
    }

    /// Whether it has no payload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A text or binary message (not a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, Outgoing::Text(_) | Outgoing::Binary(_))
    }
}

/// Why reading or writing failed.
#[derive(Debug)]
pub enum SocketError {
    /// The stream failed.
    Io(std::io::Error),
    /// The peer broke the protocol.
    Protocol(ProtocolError),
}

/// One open WebSocket.
pub struct WebSocket<S> {
    stream: S,
    role: Role,
    assembler: Assembler,
    deflation: Option<Deflation>,
    /// Read and not yet parsed: the start of a frame.
    pending: Vec<u8>,
    /// Of a partly received text frame in `pending`: payload bytes known to be valid UTF-8.
    partial_text_checked: usize,
    /// Encoded and not yet taken by the stream.
    unwritten: Vec<u8>,
    /// Written to the stream and not yet flushed through it.
    unflushed: bool,
    /// The latest Ping's payload, still to be answered.
    pong_due: Option<Vec<u8>>,
    close_sent: bool,
    close_received: bool,
    ended: bool,
    wire_received: u64,
    wire_sent: u64,
    compressed_sent: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// A WebSocket over `stream` once the handshake is done; `already_read` are bytes read with
    /// the handshake that belong to the first frames.
    pub fn new(
        stream: S,
        role: Role,
        assembler: Assembler,
        deflation: Option<Deflation>,
        already_read: Vec<u8>,
    ) -> WebSocket<S> {
        WebSocket {
            stream,
            role,
            assembler,
            deflation,
            wire_received: already_read.len() as u64,
            pending: already_read,
            partial_text_checked: 0,
            unwritten: Vec::new(),
            unflushed: false,
            pong_due: None,
            close_sent: false,
            close_received: false,
            ended: false,
            wire_sent: 0,
            compressed_sent: 0,
        }
    }

    /// Frame bytes received and written so far (headers included, after compression).
    pub fn wire_totals(&self) -> (u64, u64) {
        (self.wire_received, self.wire_sent)
    }

    /// Messages sent compressed so far.
    pub fn compressed_sent(&self) -> u64 {
        self.compressed_sent
    }

    /// Whether the last message received arrived compressed.
    pub fn last_compressed(&self) -> bool {
        self.assembler.last_compressed()
    }

    /// Encoded bytes the stream has not taken yet.
    pub fn unwritten(&self) -> usize {
        self.unwritten.len()
    }

    /// Whether anything waits to be written or flushed (a Pong or Close answer included).
    pub fn wants_write(&self) -> bool {
        !self.unwritten.is_empty() || self.unflushed || self.pong_due.is_some()
    }

    /// A Close frame was sent (or queued) by this side.
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// Encode `message` to be written by [`WebSocket::poll_flush`]. Nothing is sent after a
    /// Close: such a message is dropped and `false` returned.
    pub fn send(&mut self, message: Outgoing) -> bool {
        if self.close_sent {
            return false;
        }
        let (opcode, payload): (Opcode, &[u8]) = match &message {
            Outgoing::Text(text) => (Opcode::Text, text.as_bytes()),
            Outgoing::Binary(data) => (Opcode::Binary, data),
            Outgoing::Ping(data) => (Opcode::Ping, &data[..data.len().min(125)]),
            Outgoing::Close(code, reason) => {
                self.close_sent = true;
                let payload = close::payload(*code, reason);
                self.encode(Opcode::Close, false, &payload);
                return true;
            }
        };
        if message.is_data()
            && let Some(deflation) = self.deflation.as_mut()
        {
            let mut compressed = Vec::new();
            if deflation.compress(payload, &mut compressed) {
                self.compressed_sent += 1;
                self.encode(opcode, true, &compressed);
                return true;
            }
        }
        self.encode(opcode, false, payload);
        true
    }

    fn encode(&mut self, opcode: Opcode, rsv1: bool, payload: &[u8]) {
        let mask = match self.role {
            Role::Client => Some(MASKS.with(|masks| masks.borrow_mut().random::<[u8; 4]>())),
            Role::Server => None,
        };
        frame::write_header(&mut self.unwritten, true, rsv1, opcode, mask, payload.len());
        let start = self.unwritten.len();
        self.unwritten.extend_from_slice(payload);
        if let Some(key) = mask {
            frame::apply_mask(&mut self.unwritten[start..], key, 0);
        }
    }

    /// Write everything waiting (a due Pong first) and flush the stream.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(payload) = self.pong_due.take()
            && !self.close_sent
        {
            self.encode(Opcode::Pong, false, &payload);
        }
        let mut written = 0;
        while written < self.unwritten.len() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.unwritten[written..]) {
                Poll::Ready(Ok(0)) => {
                    self.unwritten.drain(..written);
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    written += n;
                    self.wire_sent += n as u64;
                    self.unflushed = true;
                }
                Poll::Ready(Err(error)) => {
                    self.unwritten.drain(..written);
                    return Poll::Ready(Err(error));
                }
                Poll::Pending => {
                    self.unwritten.drain(..written);
                    return Poll::Pending;
                }
            }
        }
        if self.unwritten.capacity() > KEEP_WRITE_CAPACITY {
            self.unwritten = Vec::new();
        } else {
            self.unwritten.clear();
        }
        if self.unflushed {
            match Pin::new(&mut self.stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Write and flush everything waiting.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Send a Close frame (unless one was sent) and flush it.
    pub async fn close(&mut self, code: u16, reason: &str) -> std::io::Result<()> {
        self.send(Outgoing::Close(code, reason.to_owned()));
        self.flush().await
    }

    /// The next message or control frame; `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Result<Incoming, SocketError>> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Poll for the next message or control frame; `Ready(None)` at the end of the stream.
    pub fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Incoming, SocketError>>> {
        loop {
            if !self.close_received && !self.pending.is_empty() {
                match self.take_pending() {
                    Err(error) => return Poll::Ready(Some(Err(SocketError::Protocol(error)))),
                    Ok(Some(Some(incoming))) => return Poll::Ready(Some(Ok(incoming))),
                    // A frame that completed no message: look for the next one.
                    Ok(Some(None)) => continue,
                    Ok(None) => {
                        if let Err(error) = self.check_partial_text() {
                            return Poll::Ready(Some(Err(SocketError::Protocol(error))));
                        }
                    }
                }
            }
            if self.ended {
                return Poll::Ready(None);
            }
            let read = if self.pending.is_empty() || self.close_received {
                self.read_shared(cx)
            } else {
                self.read_into_pending(cx)
            };
            match read {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(Ok(Some(incoming))) => return Poll::Ready(Some(Ok(incoming))),
                Poll::Ready(Ok(None)) => {}
            }
        }
    }

    /// Read into the thread's buffer; decode a frame from it when one is whole, keep the rest.
    fn read_shared(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Incoming>, SocketError>> {
        READ_BUFFER.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            let mut read_buf = ReadBuf::new(&mut buffer[..]);
            match Pin::new(&mut self.stream).poll_read(cx, &mut read_buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(SocketError::Io(error))),
                Poll::Ready(Ok(())) => {}
            }
            let read = read_buf.filled().len();
            if read == 0 {
                self.ended = true;
                return Poll::Ready(Ok(None));
            }
            self.wire_received += read as u64;
            if self.close_received {
                // After the peer's Close nothing it sends means anything: read on to its end.
                return Poll::Ready(Ok(None));
            }
            let bytes = &mut buffer[..read];
            match self.decode(bytes) {
                Err(error) => Poll::Ready(Err(SocketError::Protocol(error))),
                Ok(Some((used, incoming))) => {
                    self.pending.extend_from_slice(&bytes[used..]);
                    Poll::Ready(Ok(incoming))
                }
                Ok(None) => {
                    self.pending.extend_from_slice(bytes);
                    Poll::Ready(Ok(None))
                }
            }
        })
    }

    /// A frame is partly here: read the rest of it straight into the connection's buffer.
    fn read_into_pending(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Incoming>, SocketError>> {
        let missing = match frame::parse(&self.pending) {
            Ok(Some(header)) => (header.header_length as u64 + header.length)
                .saturating_sub(self.pending.len() as u64) as usize,
            _ => frame::MAX_HEADER,
        };
        let want = missing.clamp(1, LONG_READ).max(READ_CHUNK.min(LONG_READ));
        let start = self.pending.len();
        self.pending.resize(start + want, 0);
        let mut read_buf = ReadBuf::new(&mut self.pending[start..]);
        let polled = Pin::new(&mut self.stream).poll_read(cx, &mut read_buf);
        let read = read_buf.filled().len();
        self.pending.truncate(start + read);
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(error)) => Poll::Ready(Err(SocketError::Io(error))),
            Poll::Ready(Ok(())) if read == 0 => {
                self.ended = true;
                Poll::Ready(Ok(None))
            }
            Poll::Ready(Ok(())) => {
                self.wire_received += read as u64;
                Poll::Ready(Ok(None))
            }
        }
    }

    /// A text frame arriving in pieces fails at the piece that makes it invalid UTF-8, not when
    /// it is whole (checked incrementally; a character cut by the piece's end waits).
    fn check_partial_text(&mut self) -> Result<(), ProtocolError> {
        let Ok(Some(header)) = frame::parse(&self.pending) else {
            return Ok(());
        };
        if header.opcode != Opcode::Text || header.rsv1 || header.mask.is_some() {
            return Ok(());
        }
        let payload = &self.pending[header.header_length.min(self.pending.len())..];
        let unchecked = &payload[self.partial_text_checked.min(payload.len())..];
        match std::str::from_utf8(unchecked) {
            Ok(_) => self.partial_text_checked = payload.len(),
            Err(error) if error.error_len().is_none() => {
                self.partial_text_checked += error.valid_up_to();
            }
            Err(error) => {
                return Err(ProtocolError::InvalidUtf8 {
                    valid_up_to: self.partial_text_checked + error.valid_up_to(),
                });
            }
        }
        Ok(())
    }

    /// Decode the frame at the start of `pending`: `None` when it is not whole yet.
    fn take_pending(&mut self) -> Result<Option<Option<Incoming>>, ProtocolError> {
        let mut pending = std::mem::take(&mut self.pending);
        let decoded = self.decode(&mut pending);
        match decoded {
            Ok(Some((used, incoming))) => {
                self.partial_text_checked = 0;
                pending.drain(..used);
                if pending.is_empty() && pending.capacity() > READ_CHUNK {
                    pending = Vec::new();
                }
                self.pending = pending;
                Ok(Some(incoming))
            }
            Ok(None) => {
                self.pending = pending;
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Decode one frame from the start of `bytes` (unmasking it in place): the bytes it took
    /// and the message it completed, or `None` when the frame is not whole yet.
    fn decode(
        &mut self,
        bytes: &mut [u8],
    ) -> Result<Option<(usize, Option<Incoming>)>, ProtocolError> {
        let Some(header) = frame::parse(bytes)? else {
            return Ok(None);
        };
        self.assembler.admit(&header)?;
        let end = header.header_length as u64 + header.length;
        if (bytes.len() as u64) < end {
            return Ok(None);
        }
        let end = end as usize;
        let payload = &mut bytes[header.header_length..end];
        if let Some(key) = header.mask {
            frame::apply_mask(payload, key, 0);
        }
        let incoming = self.assembler.frame(&header, payload)?;
        match &incoming {
            Some(Incoming::Ping(payload)) => self.pong_due = Some(payload.clone()),
            Some(Incoming::Close(frame)) => {
                self.close_received = true;
                if !self.close_sent {
                    self.close_sent = true;
                    let payload = match frame {
                        Some((code, _)) => close::payload(*code, ""),
                        None => Vec::new(),
                    };
                    self.encode(Opcode::Close, false, &payload);
                }
            }
            _ => {}
        }
        Ok(Some((end, incoming)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    fn pair(max: usize) -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let client = WebSocket::new(
            a,
            Role::Client,
            Assembler::new(Role::Client, max, None),
            None,
            Vec::new(),
        );
        let server = WebSocket::new(
            b,
            Role::Server,
            Assembler::new(Role::Server, max, None),
            None,
            Vec::new(),
        );
        (client, server)
    }

    async fn next(socket: &mut WebSocket<DuplexStream>) -> Incoming {
        match socket.next().await {
            Some(Ok(incoming)) => incoming,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn messages_cross_both_ways_masked_one_way() {
        let (mut client, mut server) = pair(1 << 20);
        let big = "x".repeat(200_000);
        client.send(Outgoing::Text("hello".into()));
        client.send(Outgoing::Binary(vec![1, 2, 3]));
        client.send(Outgoing::Text(big.clone()));
        let flushing = tokio::spawn(async move {
            let flushed = client.flush().await;
            (client, flushed)
        });
        assert_eq!(next(&mut server).await, Incoming::Text("hello".into()));
        assert_eq!(next(&mut server).await, Incoming::Binary(vec![1, 2, 3]));
        assert_eq!(next(&mut server).await, Incoming::Text(big));
        let Ok((mut client, Ok(()))) = flushing.await else {
            panic!("flush failed");
        };
        server.send(Outgoing::Text("back".into()));
        assert!(server.flush().await.is_ok());
        assert_eq!(next(&mut client).await, Incoming::Text("back".into()));
        let (received, sent) = client.wire_totals();
        assert_eq!(received, 2 + 4);
        // Client frames carry a 4-byte mask: 5+6, 3+6, 200,000+4+10.
        assert_eq!(sent, 11 + 9 + 200_014);
    }

    #[tokio::test]
    async fn a_ping_is_answered_and_a_close_echoed() {
        let (mut client, mut server) = pair(1024);
        server.send(Outgoing::Ping(b"are you there".to_vec()));
        server.send(Outgoing::Close(4000, "bye".into()));
        assert!(server.flush().await.is_ok());
        assert_eq!(
            next(&mut client).await,
            Incoming::Ping(b"are you there".to_vec())
        );
        assert_eq!(
            next(&mut client).await,
            Incoming::Close(Some((4000, "bye".into())))
        );
        // The Close came after the Ping: the answer to both leaves together, Pong dropped
        // only if the Close went first.
        assert!(client.close_sent());
        assert!(client.flush().await.is_ok());
        assert_eq!(
            next(&mut server).await,
            Incoming::Close(Some((4000, String::new())))
        );
        // Nothing is sent after a Close.
        assert!(!client.send(Outgoing::Text("late".into())));
    }

    #[tokio::test]
    async fn frames_split_anywhere_and_fragments_join() {
        let (raw, b) = tokio::io::duplex(1024);
        let mut client = WebSocket::new(
            b,
            Role::Client,
            Assembler::new(Role::Client, 1024, None),
            None,
            vec![0x01],
        );
        // "Hel" (fragment, its first byte already read with the handshake), a Ping between
        // fragments, "lo", then a binary frame: written one byte at a time.
        let mut bytes = vec![0x03, b'H', b'e', b'l', 0x89, 0x00, 0x80, 0x02, b'l', b'o'];
        bytes.extend_from_slice(&[0x82, 0x01, 0xFF]);
        let writer = tokio::spawn(async move {
            let mut raw = raw;
            for byte in bytes {
                if raw.write_all(&[byte]).await.is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            let mut answer = Vec::new();
            drop(raw.shutdown().await);
            let _ = raw.read_to_end(&mut answer).await;
            answer
        });
        assert_eq!(next(&mut client).await, Incoming::Ping(Vec::new()));
        assert_eq!(next(&mut client).await, Incoming::Text("Hello".into()));
        assert_eq!(next(&mut client).await, Incoming::Binary(vec![0xFF]));
        assert!(client.flush().await.is_ok());
        drop(client);
        let Ok(answer) = writer.await else {
            panic!("writer failed");
        };
        // The Pong: FIN+Pong, masked, empty payload.
        assert_eq!(&answer[..2], &[0x8A, 0x80]);
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_before_its_payload_arrives() {
        let (raw, b) = tokio::io::duplex(1024);
        let mut client = WebSocket::new(
            b,
            Role::Client,
            Assembler::new(Role::Client, 1000, None),
            None,
            Vec::new(),
        );
        let mut raw = raw;
        // A header announcing 1 GiB, and nothing else.
        assert!(
            raw.write_all(&[0x82, 0x7F, 0, 0, 0, 0, 0x40, 0, 0, 0])
                .await
                .is_ok()
        );
        match client.next().await {
            Some(Err(SocketError::Protocol(ProtocolError::TooLong { limit: 1000 }))) => {}
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_text_frame_fails_at_the_piece_that_breaks_its_utf8() {
        let (raw, b) = tokio::io::duplex(1024);
        let mut client = WebSocket::new(
            b,
            Role::Client,
            Assembler::new(Role::Client, 1000, None),
            None,
            Vec::new(),
        );
        let mut raw = raw;
        // A 100-byte text frame: its header, "κ" cut in half, then its second half, then an
        // invalid byte; the other 96 bytes never come.
        assert!(raw.write_all(&[0x81, 100, b'a', 0xCE]).await.is_ok());
        let _ = tokio::time::timeout(std::time::Duration::from_millis(50), client.next()).await;
        assert!(raw.write_all(&[0xBA, 0xFF]).await.is_ok());
        match client.next().await {
            Some(Err(SocketError::Protocol(ProtocolError::InvalidUtf8 { valid_up_to: 3 }))) => {}
            other => panic!("{other:?}"),
        }
    }
}
