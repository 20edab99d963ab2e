//! [`Requests`]: one connection's requests waiting for their replies — found by the scenario's key
//! (`complete`) and ordered by deadline (`schedule::Schedule` asks for the earliest).
//!
//! Requests sent with a key that is still waiting queue behind it, in the order they were sent:
//! `complete(key)` ends the oldest, and each one is timed and can time out on its own, so no
//! request vanishes because its key was reused (a scenario that sends "ping" every second with a
//! one-second timeout to a server that never answers counts every request as a timeout).
//!
//! Part of the per-message path, so it is built to do little per request: each request sits in a
//! slot of a slab, linked to the requests before and after it with the same key; the key index
//! holds the first and last slot of each key's queue (the key is stored in each slot and hashed
//! with foldhash); the deadline heap holds `(deadline, slot, generation)`. A completed request
//! leaves its heap entry behind; the generation tells a stale entry from a live one without
//! hashing, and the heap is rebuilt when stale entries outnumber live ones, so memory stays bounded
//! by the live requests. [`Requests::held_bytes`] is what the live requests hold, counted against
//! the scenario's memory cap (`limits.memory`).

use crate::scenario::schedule::Pending;
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::time::Instant;

/// Bytes one waiting request holds in the runner beside its key and name: its slot, its entry in
/// the key index and its deadline heap entries (the heap may hold a stale entry per live one).
pub const REQUEST_OVERHEAD_BYTES: usize = std::mem::size_of::<Slot>()
    + std::mem::size_of::<Queue>()
    + 2 * std::mem::size_of::<Reverse<(Instant, u32, u32)>>()
    + std::mem::size_of::<u32>();

/// One slab slot: its generation (bumped whenever the slot's request ends) and the request in it,
/// if any, with its neighbours in its key's queue.
#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    request: Option<(String, Pending)>,
    /// The request sent before this one with the same key, still waiting.
    older: Option<u32>,
    /// The request sent after this one with the same key.
    newer: Option<u32>,
}

/// The requests waiting with one key: the oldest and the newest slot of its queue.
#[derive(Debug, Clone, Copy)]
struct Queue {
    oldest: u32,
    newest: u32,
}

/// Requests waiting for replies, by key (oldest first) and by deadline.
#[derive(Debug, Default)]
pub struct Requests {
    hasher: RandomState,
    /// Each key's queue, found by the key in its oldest slot.
    by_key: HashTable<Queue>,
    slots: Vec<Slot>,
    /// Slots free for the next request.
    free: Vec<u32>,
    /// Deadline, slot, and the slot's generation when the entry was pushed.
    deadlines: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// Requests waiting.
    live: usize,
    /// Bytes of the waiting requests' keys and names.
    text_bytes: usize,
}

impl Requests {
    /// Requests waiting.
    pub fn len(&self) -> usize {
        self.live
    }

    /// What the waiting requests hold in the runner, in bytes (keys, names and bookkeeping).
    pub fn held_bytes(&self) -> usize {
        self.text_bytes + self.live * REQUEST_OVERHEAD_BYTES
    }

    /// Wait for the reply to `key`; when `key` is already waiting, this request queues behind it.
    pub fn insert(&mut self, key: String, pending: Pending) {
        let deadline = pending.deadline;
        self.text_bytes += key.len() + pending.name.len();
        let hash = self.hasher.hash_one(key.as_str());
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let (slots, hasher) = (&mut self.slots, &self.hasher);
        match self.by_key.find_mut(hash, |queue| {
            key_of(slots, queue.oldest) == Some(key.as_str())
        }) {
            Some(queue) => {
                let newest = queue.newest;
                queue.newest = slot;
                slots[newest as usize].newer = Some(slot);
                let entry = &mut slots[slot as usize];
                entry.older = Some(newest);
                entry.newer = None;
                entry.request = Some((key, pending));
            }
            None => {
                let entry = &mut slots[slot as usize];
                entry.older = None;
                entry.newer = None;
                entry.request = Some((key, pending));
                self.by_key.insert_unique(
                    hash,
                    Queue {
                        oldest: slot,
                        newest: slot,
                    },
                    |queue| hash_slot(hasher, slots, queue.oldest),
                );
            }
        }
        self.live += 1;
        if self.deadlines.len() > 2 * self.live + 1024 {
            self.rebuild_deadlines();
        }
        let generation = self.slots[slot as usize].generation;
        self.deadlines.push(Reverse((deadline, slot, generation)));
    }

    /// Whether a request with `key` is waiting.
    pub fn contains(&self, key: &str) -> bool {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        self.by_key
            .find(hash, |queue| key_of(slots, queue.oldest) == Some(key))
            .is_some()
    }

    /// The reply to `key` arrived: the oldest request waiting with that key, if any.
    pub fn remove(&mut self, key: &str) -> Option<Pending> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let oldest = self
            .by_key
            .find(hash, |queue| key_of(slots, queue.oldest) == Some(key))?
            .oldest;
        self.unlink(hash, oldest);
        self.release(oldest).map(|(_, pending)| pending)
    }

    /// The earliest deadline of a waiting request.
    pub fn earliest(&mut self) -> Option<Instant> {
        while let Some(Reverse((deadline, slot, generation))) = self.deadlines.peek() {
            if self.is_live(*slot, *generation) {
                return Some(*deadline);
            }
            self.deadlines.pop();
        }
        None
    }

    /// Take the request with the earliest deadline: its key and what it waited for.
    pub fn pop_earliest(&mut self) -> Option<(String, Pending)> {
        self.earliest()?;
        let Reverse((_, slot, _)) = self.deadlines.pop()?;
        let hash = self.hasher.hash_one(key_of(&self.slots, slot)?);
        self.unlink(hash, slot);
        self.release(slot)
    }

    /// Forget every waiting request; how many there were.
    pub fn clear(&mut self) -> usize {
        let count = self.live;
        self.by_key.clear();
        self.slots.clear();
        self.free.clear();
        self.deadlines.clear();
        self.live = 0;
        self.text_bytes = 0;
        count
    }

    /// Entries in the deadline heap, stale ones included.
    #[cfg(test)]
    pub fn heap_len(&self) -> usize {
        self.deadlines.len()
    }

    fn is_live(&self, slot: u32, generation: u32) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|entry| entry.generation == generation && entry.request.is_some())
    }

    /// Take `slot` (a live request whose key hashes to `hash`) out of its key's queue.
    fn unlink(&mut self, hash: u64, slot: u32) {
        let Some(entry) = self.slots.get(slot as usize) else {
            return;
        };
        let (older, newer) = (entry.older, entry.newer);
        if let Some(older) = older {
            self.slots[older as usize].newer = newer;
        }
        if let Some(newer) = newer {
            self.slots[newer as usize].older = older;
        }
        let slots = &self.slots;
        let key = key_of(slots, slot);
        // The queue is found through its oldest slot, whose key equals this slot's.
        let Ok(mut found) = self
            .by_key
            .find_entry(hash, |queue| key_of(slots, queue.oldest) == key)
        else {
            return;
        };
        let queue = found.get_mut();
        match (older, newer) {
            (None, None) => {
                found.remove();
            }
            (None, Some(newer)) => queue.oldest = newer,
            (Some(older), None) => queue.newest = older,
            (Some(_), Some(_)) => {}
        }
    }

    /// Empty `slot` (already out of its key's queue) and make it free.
    fn release(&mut self, slot: u32) -> Option<(String, Pending)> {
        let entry = self.slots.get_mut(slot as usize)?;
        entry.generation = entry.generation.wrapping_add(1);
        entry.older = None;
        entry.newer = None;
        let request = entry.request.take();
        if let Some((key, pending)) = &request {
            self.live -= 1;
            self.text_bytes -= key.len() + pending.name.len();
        }
        self.free.push(slot);
        request
    }

    fn rebuild_deadlines(&mut self) {
        self.deadlines = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, entry)| {
                let (_, pending) = entry.request.as_ref()?;
                Some(Reverse((pending.deadline, slot as u32, entry.generation)))
            })
            .collect();
    }
}

fn key_of(slots: &[Slot], slot: u32) -> Option<&str> {
    slots
        .get(slot as usize)?
        .request
        .as_ref()
        .map(|(key, _)| key.as_str())
}

fn hash_slot(hasher: &RandomState, slots: &[Slot], slot: u32) -> u64 {
    hasher.hash_one(key_of(slots, slot).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pending(t0: Instant, deadline_ms: u64) -> Pending {
        Pending {
            sent: t0,
            deadline: t0 + Duration::from_millis(deadline_ms),
            name: "".into(),
        }
    }

    fn sent_at(t0: Instant, sent_ms: u64, deadline_ms: u64) -> Pending {
        Pending {
            sent: t0 + Duration::from_millis(sent_ms),
            deadline: t0 + Duration::from_millis(deadline_ms),
            name: "n".into(),
        }
    }

    #[test]
    fn slots_are_reused_and_a_stale_heap_entry_never_names_the_slots_next_request() {
        let t0 = Instant::now();
        let mut requests = Requests::default();
        requests.insert("a".into(), pending(t0, 10));
        assert_eq!(
            requests.remove("a").map(|p| p.deadline),
            Some(t0 + Duration::from_millis(10))
        );
        // "b" takes a's slot; a's heap entry (10 ms) must not surface as b's.
        requests.insert("b".into(), pending(t0, 50));
        assert_eq!(requests.slots.len(), 1);
        assert_eq!(requests.earliest(), Some(t0 + Duration::from_millis(50)));
        let Some((key, taken)) = requests.pop_earliest() else {
            panic!("b is waiting");
        };
        assert_eq!(
            (key.as_str(), taken.deadline),
            ("b", t0 + Duration::from_millis(50))
        );
        assert_eq!(requests.len(), 0);
        assert_eq!(requests.earliest(), None);
        assert!(requests.remove("b").is_none());
    }

    #[test]
    fn a_key_is_waiting_while_any_request_with_it_is() {
        let t0 = Instant::now();
        let mut requests = Requests::default();
        assert!(!requests.contains("bye"));
        requests.insert("bye".into(), pending(t0, 10));
        requests.insert("bye".into(), pending(t0, 20));
        requests.insert("other".into(), pending(t0, 30));
        assert!(requests.contains("bye"));
        assert!(requests.remove("bye").is_some());
        assert!(requests.contains("bye"));
        assert!(requests.remove("bye").is_some());
        assert!(!requests.contains("bye"));
        assert!(requests.contains("other"));
    }

    #[test]
    fn many_keys_are_each_found_and_removed_once() {
        let t0 = Instant::now();
        let mut requests = Requests::default();
        for n in 0..5_000u64 {
            requests.insert(n.to_string(), pending(t0, n));
        }
        assert_eq!(requests.len(), 5_000);
        for n in (0..5_000u64).step_by(2) {
            assert!(requests.remove(&n.to_string()).is_some());
            assert!(requests.remove(&n.to_string()).is_none());
        }
        assert_eq!(requests.len(), 2_500);
        let order: Vec<String> = std::iter::from_fn(|| requests.pop_earliest())
            .map(|(key, _)| key)
            .take(3)
            .collect();
        assert_eq!(order, ["1", "3", "5"]);
        assert_eq!(requests.len(), 2_497);
    }

    #[test]
    fn a_reused_key_queues_and_complete_ends_the_oldest_first() {
        let t0 = Instant::now();
        let mut requests = Requests::default();
        for sent in [0, 10, 20] {
            requests.insert("ping".into(), sent_at(t0, sent, sent + 1_000));
        }
        assert_eq!(requests.len(), 3);
        let sent: Vec<Instant> = std::iter::from_fn(|| requests.remove("ping"))
            .map(|pending| pending.sent)
            .collect();
        let ms = Duration::from_millis;
        assert_eq!(sent, [t0, t0 + ms(10), t0 + ms(20)]);
        assert_eq!(requests.len(), 0);
        assert_eq!(requests.held_bytes(), 0);
    }

    #[test]
    fn each_request_of_a_reused_key_times_out_on_its_own_even_from_the_middle_of_its_queue() {
        let t0 = Instant::now();
        let mut requests = Requests::default();
        // The middle request has the shortest timeout: it expires first and leaves the others
        // queued in order.
        requests.insert("k".into(), sent_at(t0, 0, 100));
        requests.insert("k".into(), sent_at(t0, 1, 50));
        requests.insert("k".into(), sent_at(t0, 2, 200));
        let Some((key, expired)) = requests.pop_earliest() else {
            panic!("three requests wait");
        };
        assert_eq!(
            (key.as_str(), expired.deadline),
            ("k", t0 + Duration::from_millis(50))
        );
        assert_eq!(requests.remove("k").map(|p| p.sent), Some(t0));
        assert_eq!(
            requests.remove("k").map(|p| p.sent),
            Some(t0 + Duration::from_millis(2))
        );
        assert!(requests.remove("k").is_none());
        assert_eq!(requests.earliest(), None);
    }

    #[test]
    fn held_bytes_follow_the_waiting_requests_keys_and_names() {
        let t0 = Instant::now();
        let mut requests = Requests::default();
        requests.insert("abc".into(), sent_at(t0, 0, 10));
        requests.insert("abc".into(), sent_at(t0, 0, 20));
        assert_eq!(requests.held_bytes(), 2 * (3 + 1 + REQUEST_OVERHEAD_BYTES));
        requests.pop_earliest();
        assert_eq!(requests.held_bytes(), 3 + 1 + REQUEST_OVERHEAD_BYTES);
        requests.clear();
        assert_eq!(requests.held_bytes(), 0);
    }
}
