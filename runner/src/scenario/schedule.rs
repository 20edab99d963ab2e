//! [`Schedule`]: what a scenario instance is waiting for in time — its timers (`set-timer`) and the
//! reply deadlines of its requests — as one pure type with no I/O and no clock of its own. The host
//! imports (`host`) add and remove entries; the connection loop (`connection::event_loop`) asks for
//! the earliest wake-up and takes what is due, in due-time order: after a stall, timers and reply
//! deadlines come back interleaved chronologically, never grouped by kind.
//!
//! Two rules make the figures honest. A reply deadline is due only once the clock has reached it
//! (never early), while a timer may be taken up to a small slack before its due time (tokio's timers
//! have 1 ms granularity and fire late; firing slightly early keeps scheduled sends on time, and the
//! send is then counted from its actual time). The connection-level deadlines (heartbeat, idle,
//! iteration, close, write) live in `connection::event_loop`, not here.
//!
//! The requests themselves are kept by `scenario::requests`. The timers' map hashes with foldhash
//! (seeded per process) instead of SipHash: it is looked up several times per timer.

use crate::scenario::requests::Requests;
use foldhash::HashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Timers one connection may have set at once.
pub const MAX_TIMERS: usize = 10_000;
/// Requests one connection may have waiting at once.
pub const MAX_PENDING: usize = 100_000;
/// Bytes one set timer holds in the runner: its map entry and its heap entries (the heap may hold
/// a stale entry per live one).
pub const TIMER_OVERHEAD_BYTES: usize =
    std::mem::size_of::<(u32, Instant)>() + 2 * std::mem::size_of::<Reverse<(Instant, u32)>>() + 8;

/// A request waiting for its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// When it counts as sent (round trips are measured from here).
    pub sent: Instant,
    /// When it times out.
    pub deadline: Instant,
    /// The request's name (empty: counted in the total round trips only).
    pub name: Box<str>,
}

/// Something that became due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Timer `id`, due at `due`.
    Timer {
        /// The scenario's timer id.
        id: u32,
        /// When it was due.
        due: Instant,
    },
    /// The request `key` got no reply by its deadline.
    Expired {
        /// The scenario's request key.
        key: String,
        /// When and until when it waited.
        pending: Pending,
    },
}

impl Due {
    /// When this was due.
    pub fn at(&self) -> Instant {
        match self {
            Due::Timer { due, .. } => *due,
            Due::Expired { pending, .. } => pending.deadline,
        }
    }
}

/// A limit the scenario ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// More than [`MAX_TIMERS`] timers.
    Timers,
    /// More than [`MAX_PENDING`] requests.
    Requests,
}

/// One connection's timers and reply deadlines.
///
/// Re-arming a timer or re-using a request key leaves a stale heap entry behind; stale entries are
/// skipped when met and the heaps are rebuilt when stale entries outnumber live ones, so memory stays
/// bounded by the live entries.
#[derive(Debug, Default)]
pub struct Schedule {
    timers: HashMap<u32, Instant>,
    timer_queue: BinaryHeap<Reverse<(Instant, u32)>>,
    requests: Requests,
}

impl Schedule {
    /// Set (or re-arm) timer `id` to fire at `due`.
    pub fn set_timer(&mut self, id: u32, due: Instant) -> Result<(), Full> {
        if self.timers.len() >= MAX_TIMERS && !self.timers.contains_key(&id) {
            return Err(Full::Timers);
        }
        if self.timer_queue.len() > 2 * self.timers.len() + 1024 {
            self.timer_queue = self
                .timers
                .iter()
                .map(|(id, due)| Reverse((*due, *id)))
                .collect();
        }
        self.timers.insert(id, due);
        self.timer_queue.push(Reverse((due, id)));
        Ok(())
    }

    /// Cancel timer `id` (nothing happens if it is not set).
    pub fn cancel_timer(&mut self, id: u32) {
        self.timers.remove(&id);
    }

    /// Wait for a reply to `key` (a request named `name`) sent at `sent` until `deadline`
    /// (a key still waiting gets a queue: each request is completed oldest first, or times out).
    pub fn wait_for_reply(
        &mut self,
        key: String,
        name: Box<str>,
        sent: Instant,
        deadline: Instant,
    ) -> Result<(), Full> {
        if self.requests.len() >= MAX_PENDING {
            return Err(Full::Requests);
        }
        self.requests.insert(
            key,
            Pending {
                sent,
                deadline,
                name,
            },
        );
        Ok(())
    }

    /// The reply to `key` arrived: the oldest request waiting with that key, if any.
    pub fn complete(&mut self, key: &str) -> Option<Pending> {
        self.requests.remove(key)
    }

    /// Whether a request with `key` is still waiting.
    pub fn is_waiting(&self, key: &str) -> bool {
        self.requests.contains(key)
    }

    /// Requests still waiting.
    pub fn pending(&self) -> usize {
        self.requests.len()
    }

    /// Timers set.
    pub fn timers(&self) -> usize {
        self.timers.len()
    }

    /// What the waiting requests and set timers hold in the runner, in bytes: counted against the
    /// scenario's memory cap (`limits.memory`) with its linear memory.
    pub fn held_bytes(&self) -> usize {
        self.requests.held_bytes() + self.timers.len() * TIMER_OVERHEAD_BYTES
    }

    /// Forget every waiting request (the connection ended); how many there were.
    pub fn abandon(&mut self) -> usize {
        self.requests.clear()
    }

    /// When the connection must wake next: the earliest reply deadline, or the earliest timer less
    /// `timer_slack` when it is due before that deadline.
    pub fn next_wake(&mut self, timer_slack: Duration) -> Option<Instant> {
        let timer = self.peek_timer();
        match (timer, self.requests.earliest()) {
            (Some(timer), Some(deadline)) if deadline <= timer => Some(deadline),
            (Some(timer), Some(_)) => Some(timer - timer_slack),
            (Some(timer), None) => Some(timer - timer_slack),
            (None, deadline) => deadline,
        }
    }

    /// The earliest entry due at `now`: a timer due by `now + timer_slack`, or a request whose
    /// deadline is at or before `now`; whichever was due first. A deadline at or before a timer's
    /// due time goes first, even while the timer could be taken early: a timer that re-sends a
    /// request never runs before the previous request's deadline of the same instant.
    pub fn take_due(&mut self, now: Instant, timer_slack: Duration) -> Option<Due> {
        let deadline = self.requests.earliest();
        let timer = self.peek_timer().filter(|due| *due <= now + timer_slack);
        match (timer, deadline) {
            (_, Some(deadline)) if deadline <= now => match timer {
                Some(timer) if timer < deadline => self.pop_timer(),
                _ => self.pop_deadline(),
            },
            (Some(timer), Some(deadline)) if deadline <= timer => None,
            (Some(_), _) => self.pop_timer(),
            (None, _) => None,
        }
    }

    fn pop_timer(&mut self) -> Option<Due> {
        let Reverse((due, id)) = self.timer_queue.pop()?;
        self.timers.remove(&id);
        Some(Due::Timer { id, due })
    }

    fn pop_deadline(&mut self) -> Option<Due> {
        let (key, pending) = self.requests.pop_earliest()?;
        Some(Due::Expired { key, pending })
    }

    fn peek_timer(&mut self) -> Option<Instant> {
        while let Some(Reverse((due, id))) = self.timer_queue.peek() {
            if self.timers.get(id) == Some(due) {
                return Some(*due);
            }
            self.timer_queue.pop();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn drain(schedule: &mut Schedule, now: Instant) -> Vec<Due> {
        std::iter::from_fn(|| schedule.take_due(now, SLACK)).collect()
    }

    #[test]
    fn after_a_stall_timers_and_deadlines_come_back_in_due_time_order() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.set_timer(1, t0 + ms(30)).ok();
        schedule
            .wait_for_reply("a".into(), "".into(), t0, t0 + ms(10))
            .ok();
        schedule.set_timer(2, t0 + ms(20)).ok();
        schedule
            .wait_for_reply("b".into(), "".into(), t0, t0 + ms(40))
            .ok();
        let order: Vec<Instant> = drain(&mut schedule, t0 + ms(100))
            .iter()
            .map(Due::at)
            .collect();
        assert_eq!(order, [t0 + ms(10), t0 + ms(20), t0 + ms(30), t0 + ms(40)]);
        assert_eq!(schedule.next_wake(SLACK), None);
    }

    #[test]
    fn a_reply_deadline_is_never_due_before_it_passes() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule
            .wait_for_reply("k".into(), "".into(), t0, t0 + ms(50))
            .ok();
        assert_eq!(
            schedule.take_due(t0 + ms(50) - Duration::from_nanos(1), SLACK),
            None
        );
        assert_eq!(schedule.next_wake(SLACK), Some(t0 + ms(50)));
        let due = schedule.take_due(t0 + ms(50), SLACK);
        assert!(matches!(due, Some(Due::Expired { ref key, .. }) if key == "k"));
    }

    #[test]
    fn a_timer_may_fire_within_the_slack_before_it_is_due() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.set_timer(7, t0 + ms(10)).ok();
        assert_eq!(schedule.next_wake(SLACK), Some(t0 + ms(9)));
        assert_eq!(schedule.take_due(t0 + ms(8), SLACK), None);
        assert_eq!(
            schedule.take_due(t0 + ms(9), SLACK),
            Some(Due::Timer {
                id: 7,
                due: t0 + ms(10)
            })
        );
    }

    #[test]
    fn a_completed_request_never_expires_and_a_cancelled_timer_never_fires() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule
            .wait_for_reply("k".into(), "".into(), t0, t0 + ms(10))
            .ok();
        schedule.set_timer(1, t0 + ms(5)).ok();
        assert_eq!(schedule.complete("k").map(|pending| pending.sent), Some(t0));
        assert_eq!(schedule.complete("k"), None);
        schedule.cancel_timer(1);
        assert!(drain(&mut schedule, t0 + ms(100)).is_empty());
    }

    #[test]
    fn re_arming_moves_the_timer_and_re_using_a_key_queues_a_second_request() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule.set_timer(1, t0 + ms(10)).ok();
        schedule.set_timer(1, t0 + ms(50)).ok();
        schedule
            .wait_for_reply("k".into(), "".into(), t0, t0 + ms(10))
            .ok();
        schedule
            .wait_for_reply("k".into(), "".into(), t0 + ms(5), t0 + ms(60))
            .ok();
        assert_eq!(schedule.pending(), 2);
        let due = drain(&mut schedule, t0 + ms(40));
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(due[0].at(), t0 + ms(10));
        let due = drain(&mut schedule, t0 + ms(100));
        assert_eq!(due.len(), 2, "{due:?}");
        assert_eq!(due[0].at(), t0 + ms(50));
        assert_eq!(due[1].at(), t0 + ms(60));
    }

    #[test]
    fn a_deadline_due_with_a_timer_is_handled_first_even_within_the_timers_slack() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        // The front-page pattern: a request with a 1 s timeout and a timer that sends the next one
        // 1 s later, both due at the same instant.
        schedule
            .wait_for_reply("ping".into(), "".into(), t0, t0 + ms(1000))
            .ok();
        schedule.set_timer(0, t0 + ms(1000)).ok();
        // Within the timer's slack but before the deadline: nothing may run yet.
        assert_eq!(schedule.next_wake(SLACK), Some(t0 + ms(1000)));
        assert_eq!(schedule.take_due(t0 + ms(1000) - SLACK, SLACK), None);
        let due = drain(&mut schedule, t0 + ms(1000));
        assert!(matches!(due[0], Due::Expired { .. }), "{due:?}");
        assert!(matches!(due[1], Due::Timer { id: 0, .. }), "{due:?}");
    }

    #[test]
    fn held_bytes_count_requests_and_timers() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        assert_eq!(schedule.held_bytes(), 0);
        schedule.set_timer(1, t0).ok();
        schedule
            .wait_for_reply("key".into(), "name".into(), t0, t0 + ms(5))
            .ok();
        assert_eq!(
            schedule.held_bytes(),
            TIMER_OVERHEAD_BYTES + 7 + crate::scenario::requests::REQUEST_OVERHEAD_BYTES
        );
        schedule.abandon();
        schedule.cancel_timer(1);
        assert_eq!(schedule.held_bytes(), 0);
    }

    #[test]
    fn stale_entries_do_not_accumulate() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        for round in 0..100_000u64 {
            schedule.set_timer(1, t0 + ms(round)).ok();
            if round > 0 {
                schedule.complete("k");
            }
            schedule
                .wait_for_reply("k".into(), "".into(), t0, t0 + ms(round))
                .ok();
        }
        assert!(schedule.timer_queue.len() <= 1026);
        assert!(schedule.requests.heap_len() <= 1026);
        assert_eq!(drain(&mut schedule, t0 + ms(200_000)).len(), 2);
    }

    #[test]
    fn limits_refuse_new_entries_but_allow_re_arming() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        for id in 0..MAX_TIMERS as u32 {
            assert_eq!(schedule.set_timer(id, t0), Ok(()));
        }
        assert_eq!(schedule.set_timer(MAX_TIMERS as u32, t0), Err(Full::Timers));
        assert_eq!(schedule.set_timer(0, t0 + ms(1)), Ok(()));
    }

    #[test]
    fn abandon_counts_and_forgets_waiting_requests() {
        let t0 = Instant::now();
        let mut schedule = Schedule::default();
        schedule
            .wait_for_reply("a".into(), "".into(), t0, t0 + ms(10))
            .ok();
        schedule
            .wait_for_reply("b".into(), "".into(), t0, t0 + ms(10))
            .ok();
        schedule.complete("a");
        assert_eq!(schedule.abandon(), 1);
        assert_eq!(schedule.pending(), 0);
        assert!(drain(&mut schedule, t0 + ms(100)).is_empty());
    }
}
