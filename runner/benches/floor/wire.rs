//! Wire bytes of one bare-client connection: [`Counted`] wraps its TCP stream and adds every byte
//! read and written to a [`WireCount`] the connection's task shares (one thread, so `Cell`s). The
//! clients read it after the upgrade and at the end, so the figure is WebSocket frames only (header
//! and payload after compression, control frames included), as Volley's `wire_bytes_*` counters
//! count. Every bare client wraps its stream the same way, so the floors stay equal to each other.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bytes that crossed one connection's socket so far.
#[derive(Default)]
pub struct WireCount {
    pub sent: Cell<u64>,
    pub received: Cell<u64>,
}

/// A TCP stream that counts what it carries.
pub struct Counted {
    stream: TcpStream,
    count: Rc<WireCount>,
}

impl Counted {
    pub fn new(stream: TcpStream, count: Rc<WireCount>) -> Counted {
        Counted { stream, count }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before) as u64;
        self.count.received.set(self.count.received.get() + read);
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = polled {
            self.count.sent.set(self.count.sent.get() + written as u64);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = polled {
            self.count.sent.set(self.count.sent.get() + written as u64);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
