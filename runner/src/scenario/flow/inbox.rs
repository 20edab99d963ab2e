//! Messages a flow has received and no `expect` has matched yet, oldest first, so an `expect`
//! matches against everything that arrived, not only the next message. Bounded in count and bytes:
//! a server that pushes more than a flow ever expects costs a fixed amount, and what falls out
//! (or is still here when the connection ends) is counted as unexpected, never silently dropped.

use crate::scenario::bindings::Message;
use std::collections::VecDeque;

/// Most messages held.
pub const MAX_HELD: usize = 256;
/// Most payload bytes held.
pub const MAX_HELD_BYTES: usize = 1 << 20;

/// The messages waiting for an `expect`.
#[derive(Debug, Default)]
pub struct Inbox {
    held: VecDeque<Message>,
    bytes: usize,
}

impl Inbox {
    /// Keep `message`; returns how many older messages fell out to make room.
    pub fn push(&mut self, message: Message) -> u64 {
        let size = size_of(&message);
        self.held.push_back(message);
        self.bytes += size;
        let mut dropped = 0;
        while self.held.len() > MAX_HELD || (self.bytes > MAX_HELD_BYTES && self.held.len() > 1) {
            if let Some(old) = self.held.pop_front() {
                self.bytes -= size_of(&old);
                dropped += 1;
            }
        }
        if self.held.is_empty() {
            self.held = VecDeque::new();
        }
        dropped
    }

    /// Remove and return the oldest message `matches` accepts.
    pub fn take_first(&mut self, mut matches: impl FnMut(&Message) -> bool) -> Option<Message> {
        let index = self.held.iter().position(&mut matches)?;
        let message = self.held.remove(index)?;
        self.bytes -= size_of(&message);
        if self.held.is_empty() {
            // An idle connection keeps no buffer.
            self.held = VecDeque::new();
        }
        Some(message)
    }

    /// Empty it; returns how many messages it held.
    pub fn clear(&mut self) -> u64 {
        let count = self.held.len() as u64;
        self.held = VecDeque::new();
        self.bytes = 0;
        count
    }
}

fn size_of(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(data) => data.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Message {
        Message::Text(value.to_owned())
    }

    #[test]
    fn the_oldest_match_is_taken_and_the_rest_stay_in_order() {
        let mut inbox = Inbox::default();
        for value in ["a1", "b1", "a2"] {
            assert_eq!(inbox.push(text(value)), 0);
        }
        let starts_with_a = |m: &Message| matches!(m, Message::Text(t) if t.starts_with('a'));
        assert!(matches!(inbox.take_first(starts_with_a), Some(Message::Text(t)) if t == "a1"));
        assert!(matches!(inbox.take_first(starts_with_a), Some(Message::Text(t)) if t == "a2"));
        assert!(inbox.take_first(starts_with_a).is_none());
        assert_eq!(inbox.clear(), 1);
    }

    #[test]
    fn overflow_drops_the_oldest_and_says_how_many() {
        let mut inbox = Inbox::default();
        let mut dropped = 0;
        for n in 0..MAX_HELD + 10 {
            dropped += inbox.push(text(&n.to_string()));
        }
        assert_eq!(dropped, 10);
        assert!(matches!(inbox.take_first(|_| true), Some(Message::Text(t)) if t == "10"));
        let big = "x".repeat(MAX_HELD_BYTES / 2 + 1);
        let mut inbox = Inbox::default();
        assert_eq!(inbox.push(text(&big)), 0);
        assert_eq!(inbox.push(text(&big)), 1);
    }
}
