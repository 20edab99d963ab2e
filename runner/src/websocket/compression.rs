//! One connection's permessage-deflate state, per direction, once it was agreed: [`Deflation`]
//! for what this side sends and [`Inflation`] for what it receives. Which window and takeover
//! apply follows the side (a client sends with `client_max_window_bits`, a server with
//! `server_max_window_bits`). State is created at the first compressed message, not at connect;
//! without context takeover it is borrowed from the worker thread's pool (`deflate::pool`) for
//! one message, so memory follows messages in flight rather than connections.

use crate::websocket::deflate::deflater::Deflater;
use crate::websocket::deflate::inflater::{InflateError, Inflater};
use crate::websocket::deflate::negotiation::Agreed;
use crate::websocket::deflate::pool;
use crate::websocket::error::ProtocolError;
use crate::websocket::message::Role;

/// Compresses what this side sends.
pub struct Deflation {
    window_bits: u8,
    level: u32,
    no_context_takeover: bool,
    own: Option<Box<Deflater>>,
}

impl Deflation {
    /// For `role` under `agreed`, at `level` (0..=9).
    pub fn new(role: Role, agreed: &Agreed, level: u32) -> Deflation {
        let (window_bits, no_context_takeover) = match role {
            Role::Client => (
                agreed.client_max_window_bits,
                agreed.client_no_context_takeover,
            ),
            Role::Server => (
                agreed.server_max_window_bits,
                agreed.server_no_context_takeover,
            ),
        };
        Deflation {
            window_bits,
            level,
            no_context_takeover,
            own: None,
        }
    }

    /// Compress `payload` into `out` (the tail removed): `false` when the message is to be sent
    /// as it is, without RSV1 (a window the compressor cannot honour, or a compressor error —
    /// after which this connection's state starts afresh).
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        let result = if self.no_context_takeover {
            pool::with_deflater(self.window_bits, self.level, |deflater| {
                deflater.compress(payload, out)
            })
        } else {
            let (window_bits, level) = (self.window_bits, self.level);
            self.own
                .get_or_insert_with(|| Box::new(Deflater::new(window_bits, level, false)))
                .compress(payload, out)
        };
        match result {
            Ok(compressed) => compressed,
            Err(_) => {
                out.clear();
                self.own = None;
                false
            }
        }
    }
}

/// Inflates what this side receives, bounded by the message size limit.
pub struct Inflation {
    window_bits: u8,
    no_context_takeover: bool,
    own: Option<Box<Inflater>>,
}

impl Inflation {
    /// For `role` under `agreed`.
    pub fn new(role: Role, agreed: &Agreed) -> Inflation {
        let (window_bits, no_context_takeover) = match role {
            Role::Client => (
                agreed.server_max_window_bits,
                agreed.server_no_context_takeover,
            ),
            Role::Server => (
                agreed.client_max_window_bits,
                agreed.client_no_context_takeover,
            ),
        };
        Inflation {
            window_bits,
            no_context_takeover,
            own: None,
        }
    }

    /// One frame of a compressed message: inflated bytes appended to `out`, never more than
    /// `limit` in all.
    pub fn feed(
        &mut self,
        compressed: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        let (window_bits, pooled) = (self.window_bits, self.no_context_takeover);
        let inflater = self.own.get_or_insert_with(|| {
            if pooled {
                pool::take_inflater(window_bits)
            } else {
                Box::new(Inflater::new(window_bits, false))
            }
        });
        let result = inflater.feed(compressed, out, limit);
        self.settle(result)
    }

    /// The message's last frame was fed.
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError> {
        let Some(inflater) = self.own.as_mut() else {
            return Err(ProtocolError::InvalidCompressed);
        };
        let result = inflater.finish(out, limit);
        let settled = self.settle(result);
        if self.no_context_takeover
            && let Some(inflater) = self.own.take()
        {
            pool::return_inflater(self.window_bits, inflater);
        }
        settled
    }

    /// Map an inflater error; a failed inflater is not reused.
    fn settle(&mut self, result: Result<(), InflateError>) -> Result<(), ProtocolError> {
        result.map_err(|error| {
            self.own = None;
            match error {
                InflateError::TooLong { limit } => ProtocolError::TooLong { limit },
                InflateError::Corrupt(_) => ProtocolError::InvalidCompressed,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreed(takeover: bool) -> Agreed {
        Agreed {
            client_max_window_bits: 15,
            server_max_window_bits: 12,
            client_no_context_takeover: !takeover,
            server_no_context_takeover: !takeover,
        }
    }

    #[test]
    fn what_one_side_compresses_the_other_inflates() {
        for takeover in [true, false] {
            let agreed = agreed(takeover);
            let mut client = Deflation::new(Role::Client, &agreed, 6);
            let mut server = Inflation::new(Role::Server, &agreed);
            for round in 0..3 {
                let message = format!("{{\"round\":{round},\"text\":\"{}\"}}", "abc".repeat(50));
                let mut wire = Vec::new();
                assert!(client.compress(message.as_bytes(), &mut wire));
                assert!(wire.len() < message.len());
                let mut out = Vec::new();
                assert_eq!(server.feed(&wire, &mut out, 1 << 20), Ok(()));
                assert_eq!(server.finish(&mut out, 1 << 20), Ok(()));
                assert_eq!(out, message.as_bytes());
            }
        }
    }

    #[test]
    fn an_inflated_message_over_the_limit_fails_and_the_next_starts_afresh() {
        let agreed = agreed(false);
        let mut server = Deflation::new(Role::Server, &agreed, 6);
        let mut client = Inflation::new(Role::Client, &agreed);
        let mut wire = Vec::new();
        assert!(server.compress(&vec![0u8; 100_000], &mut wire));
        let mut out = Vec::new();
        let fed = client
            .feed(&wire, &mut out, 1000)
            .and_then(|()| client.finish(&mut out, 1000));
        assert_eq!(fed, Err(ProtocolError::TooLong { limit: 1000 }));
        assert!(out.len() <= 1000);
        assert_eq!(
            client.feed(&[0xFF, 0xFF, 0xFF], &mut Vec::new(), 1000),
            Err(ProtocolError::InvalidCompressed)
        );
    }
}
