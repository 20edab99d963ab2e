//! Per-thread pools of compressors and decompressors for connections that agreed no context
//! takeover, so compression memory follows messages in flight rather than connections (k6 pools its
//! compressors for the same reason). A pooled [`Deflater`] or [`Inflater`] carries nothing from one
//! message to the next: it is reset before it goes back on the shelf.
//!
//! Compressing is synchronous, so [`with_deflater`] lends one for the length of a call and a worker
//! thread rarely holds more than one. Inflating spans frames that arrive across awaits, so
//! [`take_inflater`] hands one out for a whole message and [`return_inflater`] shelves it again;
//! a connection that ends mid-message just drops it. Each thread keeps at most
//! [`MAX_IDLE_PER_KEY`] idle ones per window size (and level); the rest are freed. Connections
//! with context takeover own their state instead (`Option<Box<…>>`, created at the first message).

use std::cell::RefCell;

use super::deflater::Deflater;
use super::inflater::Inflater;

/// The most idle Deflaters per (window, level), and idle Inflaters per window, kept by one thread.
pub const MAX_IDLE_PER_KEY: usize = 64;

/// Idle items by key. A thread sees few distinct keys (one per negotiated combination), so a short
/// list beats a map.
struct Shelf<K, T> {
    rows: Vec<(K, Vec<Box<T>>)>,
}

impl<K: PartialEq + Copy, T> Shelf<K, T> {
    const fn new() -> Self {
        Shelf { rows: Vec::new() }
    }

    fn take(&mut self, key: K) -> Option<Box<T>> {
        self.rows
            .iter_mut()
            .find(|(row_key, _)| *row_key == key)
            .and_then(|(_, idle)| idle.pop())
    }

    fn put(&mut self, key: K, item: Box<T>) {
        match self.rows.iter_mut().find(|(row_key, _)| *row_key == key) {
            Some((_, idle)) if idle.len() < MAX_IDLE_PER_KEY => idle.push(item),
            Some(_) => {}
            None => self.rows.push((key, vec![item])),
        }
    }

    #[cfg(test)]
    fn idle(&self, key: K) -> usize {
        self.rows
            .iter()
            .find(|(row_key, _)| *row_key == key)
            .map_or(0, |(_, idle)| idle.len())
    }
}

thread_local! {
    static DEFLATERS: RefCell<Shelf<(u8, u32), Deflater>> = const { RefCell::new(Shelf::new()) };
    static INFLATERS: RefCell<Shelf<u8, Inflater>> = const { RefCell::new(Shelf::new()) };
}

/// Lends this thread's idle Deflater for (`window_bits`, `level`) (creating one if none is idle)
/// to `use_it`, then resets it and shelves it again. The Deflater never carries context between
/// calls, as `client_no_context_takeover` (or `server_no_context_takeover` on the server) requires.
pub fn with_deflater<R>(window_bits: u8, level: u32, use_it: impl FnOnce(&mut Deflater) -> R) -> R {
    let key = (window_bits, level);
    let shelved = DEFLATERS
        .try_with(|shelf| {
            shelf
                .try_borrow_mut()
                .ok()
                .and_then(|mut shelf| shelf.take(key))
        })
        .ok()
        .flatten();
    let mut deflater = shelved.unwrap_or_else(|| Box::new(Deflater::new(window_bits, level, true)));
    let result = use_it(&mut deflater);
    deflater.reset();
    // During thread teardown the shelf may be gone: the Deflater is then simply dropped.
    let _ = DEFLATERS.try_with(|shelf| {
        if let Ok(mut shelf) = shelf.try_borrow_mut() {
            shelf.put(key, deflater);
        }
    });
    result
}

/// Hands out this thread's idle Inflater for `window_bits` (or a new one) for one message.
/// Give it back with [`return_inflater`] after [`Inflater::finish`]; dropping it is fine too.
pub fn take_inflater(window_bits: u8) -> Box<Inflater> {
    INFLATERS
        .try_with(|shelf| {
            shelf
                .try_borrow_mut()
                .ok()
                .and_then(|mut shelf| shelf.take(window_bits))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| Box::new(Inflater::new(window_bits, true)))
}

/// Resets an Inflater from [`take_inflater`] and shelves it for the next message on this thread.
pub fn return_inflater(window_bits: u8, mut inflater: Box<Inflater>) {
    inflater.reset();
    let _ = INFLATERS.try_with(|shelf| {
        if let Ok(mut shelf) = shelf.try_borrow_mut() {
            shelf.put(window_bits, inflater);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    fn idle_deflaters(window_bits: u8, level: u32) -> usize {
        DEFLATERS.with_borrow(|shelf| shelf.idle((window_bits, level)))
    }

    fn idle_inflaters(window_bits: u8) -> usize {
        INFLATERS.with_borrow(|shelf| shelf.idle(window_bits))
    }

    fn inflate_fresh(window_bits: u8, compressed: &[u8]) -> Vec<u8> {
        let mut inflater = Inflater::new(window_bits, true);
        let mut out = Vec::new();
        assert_eq!(inflater.feed(compressed, &mut out, LIMIT), Ok(()));
        assert_eq!(inflater.finish(&mut out, LIMIT), Ok(()));
        out
    }

    #[test]
    fn a_pooled_deflater_carries_no_context_between_messages() {
        let message = br#"{"type":"quote","symbol":"VOLY","bid":101.25,"ask":101.27}"#;
        let mut first = Vec::new();
        let mut second = Vec::new();
        assert_eq!(
            with_deflater(12, 6, |d| d.compress(message, &mut first)),
            Ok(true)
        );
        assert_eq!(idle_deflaters(12, 6), 1, "shelved after use");
        assert_eq!(
            with_deflater(12, 6, |d| d.compress(message, &mut second)),
            Ok(true)
        );
        assert_eq!(idle_deflaters(12, 6), 1, "the same one was reused");
        // Identical output, each readable by an inflater that has seen nothing before.
        assert_eq!(first, second);
        assert_eq!(inflate_fresh(12, &second), message);
    }

    #[test]
    fn a_deflater_is_reset_even_when_the_caller_abandons_its_message() {
        let message = b"abandoned abandoned abandoned";
        with_deflater(10, 1, |d| {
            let mut out = Vec::new();
            let _ = d.compress(message, &mut out);
        });
        let mut out = Vec::new();
        assert_eq!(
            with_deflater(10, 1, |d| d.compress(message, &mut out)),
            Ok(true)
        );
        assert_eq!(inflate_fresh(10, &out), message);
    }

    #[test]
    fn keys_keep_windows_and_levels_apart() {
        let mut out = Vec::new();
        assert_eq!(
            with_deflater(9, 6, |d| d.compress(b"x", &mut out)),
            Ok(true)
        );
        assert_eq!(
            with_deflater(9, 1, |d| d.compress(b"x", &mut out)),
            Ok(true)
        );
        assert_eq!(idle_deflaters(9, 6), 1);
        assert_eq!(idle_deflaters(9, 1), 1);
        assert_eq!(idle_deflaters(11, 6), 0);
    }

    #[test]
    fn pooled_inflaters_are_reset_and_bounded() {
        let window = 13;
        let mut compressed = Vec::new();
        assert_eq!(
            Deflater::new(window, 6, false).compress(b"Hello", &mut compressed),
            Ok(true)
        );
        // More messages in flight than the shelf keeps.
        let in_flight: Vec<_> = (0..MAX_IDLE_PER_KEY + 5)
            .map(|_| take_inflater(window))
            .collect();
        for mut inflater in in_flight {
            let mut out = Vec::new();
            // Half a message: a pooled inflater must not remember it.
            assert_eq!(inflater.feed(&compressed[..2], &mut out, LIMIT), Ok(()));
            return_inflater(window, inflater);
        }
        assert_eq!(idle_inflaters(window), MAX_IDLE_PER_KEY);
        let mut inflater = take_inflater(window);
        assert_eq!(idle_inflaters(window), MAX_IDLE_PER_KEY - 1);
        let mut out = Vec::new();
        assert_eq!(inflater.feed(&compressed, &mut out, LIMIT), Ok(()));
        assert_eq!(inflater.finish(&mut out, LIMIT), Ok(()));
        assert_eq!(out, b"Hello");
    }
}
