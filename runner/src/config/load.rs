//! The `load:` section validated: the shape of the load ([`Shape`]: constant, stages or arrival
//! rate, itself constant or ramping through [`ArrivalStage`]s), how many connections, for how long,
//! and the per-connection timeouts. How the load is carried out over time lives in the `load`
//! stage, not here.

use crate::config::rate::human_rate;
use crate::config::units::human_duration;
use std::num::NonZeroU32;
use std::time::Duration;

/// `load:` validated.
#[derive(Debug, Clone)]
pub struct Load {
    /// Constant, stages or arrival rate.
    pub shape: Shape,
    /// Most connections open at once: `connections`, the highest stage target, or
    /// `max_connections`.
    pub connections: NonZeroU32,
    /// Time over which connections are opened, evenly spaced.
    pub ramp_up: Duration,
    /// Time to hold after the ramp; `None` runs until every VU finished its iterations.
    pub duration: Option<Duration>,
    /// Iterations per VU; `None` repeats until the duration ends.
    pub iterations: Option<NonZeroU32>,
    /// Limit on the whole connect: DNS + TCP + TLS + WebSocket upgrade.
    pub connect_timeout: Duration,
    /// Time to wait for the server's Close frame after ours.
    pub close_timeout: Duration,
    /// At the run's end, longest a connection's goodbye (`on-goodbye`) may keep it open while
    /// requests it sent are pending, before the runner sends its Close. With `close_timeout` it
    /// fits in the polite-close bound ([`MAX_POLITE_CLOSE`]).
    pub goodbye_timeout: Duration,
    /// Pause before a VU retries after its connection failed.
    pub retry_pause: Duration,
    /// Longest one iteration (connection) may stay open before it is closed as a failure.
    pub iteration_timeout: Option<Duration>,
    /// With no `duration`: the run stops here (after the ramp) even if VUs have iterations left,
    /// so a scenario that never closes cannot run forever in CI. The run then fails.
    pub max_duration: Duration,
    /// `load.search`: a capacity search; the fields above are then its first step's load.
    pub search: Option<crate::config::search::Search>,
}

/// `load.goodbye_timeout` when the file does not say.
pub const DEFAULT_GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest the polite close at the end of a run may take (goodbye, Close frames and the 1 s for
/// the server to close TCP), whatever the timeouts say: `goodbye_timeout + close_timeout + 1s`
/// must fit, so that a grace period sized for it (Kubernetes' 60 s) holds.
pub const MAX_POLITE_CLOSE: Duration = Duration::from_secs(30);

/// `load.max_duration` when the file does not say.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(10 * 60);

impl Load {
    /// How long the VUs get, after the stop, to say goodbye and close politely before whatever is
    /// left is aborted: `goodbye_timeout + close_timeout + 1s`, at most [`MAX_POLITE_CLOSE`].
    pub fn drain(&self) -> Duration {
        (self.goodbye_timeout + self.close_timeout + Duration::from_secs(1)).min(MAX_POLITE_CLOSE)
    }

    /// When the load ends, counted from the start of the run: the ramp plus `duration`, or plus
    /// `max_duration` when the run is bounded by iterations only. Returns the end and whether it is
    /// the safety limit (reaching it fails the run).
    pub fn end(&self) -> (Duration, bool) {
        match self.duration {
            Some(duration) => (self.ramp_up + duration, false),
            None => (self.ramp_up + self.max_duration, true),
        }
    }
}

/// One stage: reach `target` connections, linearly, over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// Connections open at its end.
    pub target: u32,
}

/// The shape of a run's load.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// `load.connections` VUs started evenly over `ramp_up`, then held.
    Constant,
    /// `load.stages`.
    Stages(Vec<Stage>),
    /// `load.arrival_rate` new connections per second, at most `max` open.
    ArrivalRate {
        /// Arrivals per second: constant or ramping.
        rate: ArrivalRate,
        /// Cap on open connections; arrivals beyond it are dropped and counted.
        max: NonZeroU32,
    },
}

/// `load.arrival_rate`: a number of arrivals per second, or stages the rate ramps through.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrivalRate {
    /// The same rate for the whole `load.duration`.
    Constant(f64),
    /// `{start, stages}`.
    Ramp(ArrivalRamp),
}

/// A ramping arrival rate: from `start`, linearly to each stage's target over its duration.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalRamp {
    /// Arrivals per second at the start of the run.
    pub start: f64,
    /// At least one, each longer than 0.
    pub stages: Vec<ArrivalStage>,
}

/// One stage of a ramping arrival rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrivalStage {
    /// Arrivals per second at the end of the stage.
    pub target: f64,
    /// How long the stage lasts.
    pub duration: Duration,
}

impl ArrivalRate {
    /// The highest rate the run reaches, per second.
    pub fn peak(&self) -> f64 {
        match self {
            ArrivalRate::Constant(per_second) => *per_second,
            ArrivalRate::Ramp(ramp) => ramp
                .stages
                .iter()
                .map(|stage| stage.target)
                .fold(ramp.start, f64::max),
        }
    }
}

impl ArrivalRamp {
    /// Total length of the stages.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|stage| stage.duration).sum()
    }
}

/// Total length of the stages.
pub fn stages_duration(stages: &[Stage]) -> Duration {
    stages.iter().map(|stage| stage.duration).sum()
}

impl Load {
    /// The load shape in words, for the summary.
    pub fn describe(&self) -> String {
        let load = self;
        match &load.shape {
            Shape::Constant => {
                let hold = match (load.duration, load.iterations) {
                    (Some(duration), Some(iterations)) => format!(
                        "hold {} or {iterations} iterations",
                        human_duration(duration)
                    ),
                    (Some(duration), None) => format!("hold {}", human_duration(duration)),
                    (None, Some(iterations)) => format!("{iterations} iterations each"),
                    (None, None) => String::new(),
                };
                format!(
                    "constant {} connections, ramp {}, {hold}",
                    load.connections,
                    human_duration(load.ramp_up)
                )
            }
            Shape::Stages(stages) => {
                let mut from = 0;
                let steps: Vec<String> = stages
                    .iter()
                    .map(|stage| {
                        let step = format!(
                            "{from}→{} over {}",
                            stage.target,
                            human_duration(stage.duration)
                        );
                        from = stage.target;
                        step
                    })
                    .collect();
                format!("stages {}", steps.join(", "))
            }
            Shape::ArrivalRate {
                rate: ArrivalRate::Constant(per_second),
                max,
            } => format!(
                "arrival rate {per_second}/s for {}, at most {max} open",
                human_duration(load.duration.unwrap_or_default())
            ),
            Shape::ArrivalRate {
                rate: ArrivalRate::Ramp(ramp),
                max,
            } => {
                let mut from = ramp.start;
                let steps: Vec<String> = ramp
                    .stages
                    .iter()
                    .map(|stage| {
                        let step = if stage.target == from {
                            format!(
                                "hold {} for {}",
                                human_rate(from),
                                human_duration(stage.duration)
                            )
                        } else {
                            format!(
                                "{}→{} over {}",
                                human_rate(from),
                                human_rate(stage.target),
                                human_duration(stage.duration)
                            )
                        };
                        from = stage.target;
                        step
                    })
                    .collect();
                format!(
                    "ramping arrival rate {}, at most {max} open",
                    steps.join(", ")
                )
            }
        }
    }
}
