//! Keeping a connection honest: optional client pings every `net.heartbeat.interval`, a dead
//! connection declared when no pong arrives within `net.heartbeat.timeout` (reason
//! "heartbeat: no pong in 5s"), ping round trips measured, and `net.idle_timeout` (reason
//! "idle: nothing received for 30s"). Server pings are always answered by the socket (`websocket::socket`). Pure timer
//! logic; `event_loop` sends the pings and reads the frames.

use crate::config::Heartbeat;
use crate::config::units::human_duration;
use std::time::{Duration, Instant};

/// Heartbeat and idle state of one connection.
#[derive(Debug)]
pub struct Keepalive {
    heartbeat: Option<Heartbeat>,
    idle_timeout: Option<Duration>,
    next_ping: Option<Instant>,
    outstanding: Option<(u64, Instant)>,
    sequence: u64,
    last_received: Instant,
}

impl Keepalive {
    /// State for a connection opened now.
    pub fn new(heartbeat: Option<Heartbeat>, idle_timeout: Option<Duration>) -> Keepalive {
        let now = Instant::now();
        Keepalive {
            heartbeat,
            idle_timeout,
            next_ping: heartbeat.map(|heartbeat| now + heartbeat.interval),
            outstanding: None,
            sequence: 0,
            last_received: now,
        }
    }

    /// The next moment something must be checked or sent.
    pub fn next_due(&self) -> Option<Instant> {
        let pong_deadline = match (self.outstanding, self.heartbeat) {
            (Some((_, sent)), Some(heartbeat)) => Some(sent + heartbeat.timeout),
            _ => None,
        };
        let idle = self
            .idle_timeout
            .map(|timeout| self.last_received + timeout);
        [self.next_ping, pong_deadline, idle]
            .into_iter()
            .flatten()
            .min()
    }

    /// Something arrived.
    pub fn received(&mut self, now: Instant) {
        self.last_received = now;
    }

    /// At `now`: `Err(reason)` if the connection is dead, `Ok(Some(payload))` if a ping is due.
    pub fn due(&mut self, now: Instant) -> Result<Option<Vec<u8>>, String> {
        if let Some(timeout) = self.idle_timeout
            && now >= self.last_received + timeout
        {
            return Err(format!(
                "idle: nothing received for {}",
                human_duration(timeout)
            ));
        }
        let Some(heartbeat) = self.heartbeat else {
            return Ok(None);
        };
        if let Some((_, sent)) = self.outstanding
            && now >= sent + heartbeat.timeout
        {
            return Err(format!(
                "heartbeat: no pong in {}",
                human_duration(heartbeat.timeout)
            ));
        }
        match self.next_ping {
            Some(at) if now >= at => {
                self.next_ping = Some(now + heartbeat.interval);
                if self.outstanding.is_none() {
                    self.sequence += 1;
                    self.outstanding = Some((self.sequence, now));
                    return Ok(Some(self.sequence.to_be_bytes().to_vec()));
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// A pong arrived: its round trip if it answers our outstanding ping.
    pub fn pong(&mut self, payload: &[u8], now: Instant) -> Option<Duration> {
        let (sequence, sent) = self.outstanding?;
        if payload == sequence.to_be_bytes() {
            self.outstanding = None;
            Some(now.saturating_duration_since(sent))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_pong_is_a_dead_connection() {
        let heartbeat = Heartbeat {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        };
        let mut keepalive = Keepalive::new(Some(heartbeat), None);
        let start = Instant::now();
        let payload = keepalive.due(start + Duration::from_secs(1)).ok().flatten();
        assert!(payload.is_some());
        assert_eq!(keepalive.due(start + Duration::from_millis(2500)), Ok(None));
        assert_eq!(
            keepalive.due(start + Duration::from_secs(3)),
            Err("heartbeat: no pong in 2s".into())
        );
    }

    #[test]
    fn pongs_are_timed_and_idle_is_detected() {
        let heartbeat = Heartbeat {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        let mut keepalive = Keepalive::new(Some(heartbeat), Some(Duration::from_secs(5)));
        let start = Instant::now();
        let payload = keepalive
            .due(start + Duration::from_secs(1))
            .ok()
            .flatten()
            .unwrap_or_default();
        assert_eq!(
            keepalive.pong(&payload, start + Duration::from_millis(1010)),
            Some(Duration::from_millis(10))
        );
        assert!(
            keepalive
                .due(start + Duration::from_secs(6))
                .is_err_and(|reason| reason == "idle: nothing received for 5s")
        );
    }
}
