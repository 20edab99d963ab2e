//! [`Deadlines`]: everything an open connection waits for with a time limit — the server's Close
//! (once closing), the write stall, `load.iteration_timeout`, heartbeat and idle, the scenario's
//! timers and reply deadlines, the goodbye's `load.goodbye_timeout` — and the earliest of them, which the event loop's one timer
//! ([`crate::connection::wake::Wake`]) is set to. Pure.

use std::time::Instant;

/// The deadlines of one connection at one moment.
#[derive(Debug, Default, Clone, Copy)]
pub struct Deadlines {
    /// The server's Close frame must arrive by then (set once closing).
    pub closing: Option<Instant>,
    /// The stream must take something of what waits by then.
    pub write_stall: Option<Instant>,
    /// `load.iteration_timeout`.
    pub give_up: Option<Instant>,
    /// The next heartbeat ping or idle check.
    pub keepalive: Option<Instant>,
    /// The scenario's next timer or reply deadline.
    pub scenario: Option<Instant>,
    /// The end of a goodbye waiting for its pending requests (`load.goodbye_timeout`).
    pub goodbye: Option<Instant>,
}

impl Deadlines {
    /// The earliest deadline that still matters: once closing, only the Close and the write
    /// stall do (the scenario, heartbeat and iteration are over).
    pub fn earliest(&self) -> Option<Instant> {
        let always = [self.closing, self.write_stall];
        let open = [self.give_up, self.keepalive, self.scenario, self.goodbye];
        let open = if self.closing.is_none() {
            &open[..]
        } else {
            &[]
        };
        always.iter().chain(open).flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earliest_deadline_wins_and_closing_silences_the_scenario() {
        let now = Instant::now();
        let at = |ms: u64| Some(now + Duration::from_millis(ms));
        let mut deadlines = Deadlines {
            closing: None,
            write_stall: at(50),
            give_up: at(40),
            keepalive: at(30),
            scenario: at(20),
            goodbye: at(25),
        };
        assert_eq!(deadlines.earliest(), at(20));
        deadlines.scenario = None;
        assert_eq!(deadlines.earliest(), at(25));
        deadlines.closing = at(100);
        assert_eq!(deadlines.earliest(), at(50));
        deadlines.write_stall = None;
        assert_eq!(deadlines.earliest(), at(100));
        assert_eq!(Deadlines::default().earliest(), None);
    }
}
