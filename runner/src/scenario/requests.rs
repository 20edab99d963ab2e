//! [`Requests`]: one connection's requests waiting for their replies — found by the scenario's key
//! (`complete`, a reused key) and ordered by deadline (`schedule::Schedule` asks for the earliest).
//! Part of the per-message path, so it is built to do little per request: each request sits in a
//! slot of a slab, the key index holds slot numbers (the key is stored once, in its slot, and
//! hashed with foldhash), and the deadline heap holds `(deadline, slot, generation)`. A completed
//! or restarted request leaves its heap entry behind; the generation tells a stale entry from a
//! live one without hashing, and the heap is rebuilt when stale entries outnumber live ones, so
//! memory stays bounded by the live requests.

use crate::scenario::schedule::Pending;
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::time::Instant;

/// One slab slot: its generation (bumped whenever the slot's request ends or restarts) and the
/// request in it, if any.
#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    request: Option<(String, Pending)>,
}

/// Requests waiting for replies, by key and by deadline.
#[derive(Debug, Default)]
pub struct Requests {
    hasher: RandomState,
    /// Slot numbers, found by the key in their slot.
    by_key: HashTable<u32>,
    slots: Vec<Slot>,
    /// Slots free for the next request.
    free: Vec<u32>,
    /// Deadline, slot, and the slot's generation when the entry was pushed.
    deadlines: BinaryHeap<Reverse<(Instant, u32, u32)>>,
}

impl Requests {
    /// Requests waiting.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether `key` is waiting.
    pub fn contains(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// Wait for the reply to `key`; a key already waiting restarts with `pending`.
    pub fn insert(&mut self, key: String, pending: Pending) {
        let deadline = pending.deadline;
        let hash = self.hasher.hash_one(key.as_str());
        let slot = match self.find_hashed(hash, &key) {
            Some(slot) => {
                let entry = &mut self.slots[slot as usize];
                entry.generation = entry.generation.wrapping_add(1);
                entry.request = Some((key, pending));
                slot
            }
            None => {
                let slot = match self.free.pop() {
                    Some(slot) => slot,
                    None => {
                        self.slots.push(Slot::default());
                        (self.slots.len() - 1) as u32
                    }
                };
                self.slots[slot as usize].request = Some((key, pending));
                let (slots, hasher) = (&self.slots, &self.hasher);
                self.by_key
                    .insert_unique(hash, slot, |slot| hash_slot(hasher, slots, *slot));
                slot
            }
        };
        if self.deadlines.len() > 2 * self.len() + 1024 {
            self.rebuild_deadlines();
        }
        let generation = self.slots[slot as usize].generation;
        self.deadlines.push(Reverse((deadline, slot, generation)));
    }

    /// The reply to `key` arrived: the request, if it was waiting.
    pub fn remove(&mut self, key: &str) -> Option<Pending> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let (slot, _) = self
            .by_key
            .find_entry(hash, |slot| key_of(slots, *slot) == Some(key))
            .ok()?
            .remove();
        self.release(slot).map(|(_, pending)| pending)
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
        let key = key_of(&self.slots, slot)?;
        let hash = self.hasher.hash_one(key);
        if let Ok(entry) = self.by_key.find_entry(hash, |other| *other == slot) {
            entry.remove();
        }
        self.release(slot)
    }

    /// Forget every waiting request; how many there were.
    pub fn clear(&mut self) -> usize {
        let count = self.len();
        self.by_key.clear();
        self.slots.clear();
        self.free.clear();
        self.deadlines.clear();
        count
    }

    /// Entries in the deadline heap, stale ones included.
    #[cfg(test)]
    pub fn heap_len(&self) -> usize {
        self.deadlines.len()
    }

    fn find(&self, key: &str) -> Option<u32> {
        self.find_hashed(self.hasher.hash_one(key), key)
    }

    fn find_hashed(&self, hash: u64, key: &str) -> Option<u32> {
        self.by_key
            .find(hash, |slot| key_of(&self.slots, *slot) == Some(key))
            .copied()
    }

    fn is_live(&self, slot: u32, generation: u32) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|entry| entry.generation == generation && entry.request.is_some())
    }

    /// Empty `slot` (already out of the key index) and make it free.
    fn release(&mut self, slot: u32) -> Option<(String, Pending)> {
        let entry = self.slots.get_mut(slot as usize)?;
        entry.generation = entry.generation.wrapping_add(1);
        let request = entry.request.take();
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
        assert!(!requests.contains("b"));
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
}
