//! [`SendQueue`]: what a scenario asked to send and the socket has not encoded yet, oldest first,
//! with its payload bytes (bounded by `limits.memory` in the event loop) and since when the
//! server has taken nothing (the write-stall deadline, `net.timeouts.write`). Pure.

use crate::websocket::socket::Outgoing;
use std::collections::VecDeque;
use std::time::Instant;

/// Messages waiting for the socket.
#[derive(Default)]
pub struct SendQueue {
    messages: VecDeque<Outgoing>,
    bytes: usize,
    /// Since when the stream has taken nothing of what waits (set only while something waits).
    stalled_since: Option<Instant>,
}

impl SendQueue {
    /// Queue `message` last.
    pub fn push(&mut self, message: Outgoing) {
        self.bytes += message.len();
        self.messages.push_back(message);
    }

    /// The oldest message.
    pub fn pop(&mut self) -> Option<Outgoing> {
        let message = self.messages.pop_front()?;
        self.bytes = self.bytes.saturating_sub(message.len());
        Some(message)
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Payload bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Since when nothing moved while something waited.
    pub fn stalled_since(&self) -> Option<Instant> {
        self.stalled_since
    }

    /// After a turn of writing: `progressed` when the stream took bytes, `waiting` when
    /// something still waits (here or in the socket). Returns whether the stall start moved.
    pub fn after_write(&mut self, progressed: bool, waiting: bool, now: Instant) -> bool {
        let before = self.stalled_since;
        if !waiting || progressed {
            self.stalled_since = None;
        }
        if waiting && self.stalled_since.is_none() {
            self.stalled_since = Some(now);
        }
        before != self.stalled_since
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bytes_follow_the_messages() {
        let mut queue = SendQueue::default();
        queue.push(Outgoing::Text("hello".into()));
        queue.push(Outgoing::Binary(vec![0; 10]));
        assert_eq!(queue.bytes(), 15);
        assert_eq!(queue.pop(), Some(Outgoing::Text("hello".into())));
        assert_eq!(queue.bytes(), 10);
        assert!(!queue.is_empty());
    }

    #[test]
    fn a_stall_starts_when_nothing_moves_and_ends_with_progress() {
        let mut queue = SendQueue::default();
        let start = Instant::now();
        assert!(queue.after_write(false, true, start));
        assert_eq!(queue.stalled_since(), Some(start));
        // Still stuck later: the stall keeps its start.
        let later = start + Duration::from_secs(1);
        assert!(!queue.after_write(false, true, later));
        assert_eq!(queue.stalled_since(), Some(start));
        // Progress with more waiting restarts the clock; nothing waiting ends it.
        assert!(queue.after_write(true, true, later));
        assert_eq!(queue.stalled_since(), Some(later));
        assert!(queue.after_write(true, false, later));
        assert_eq!(queue.stalled_since(), None);
    }
}
