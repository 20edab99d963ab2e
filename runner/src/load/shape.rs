//! Load shapes as functions of time: how many connections a staged run wants at each moment (the
//! times of an arrival rate's arrivals are in `arrival_times`). Pure functions of elapsed time;
//! `drive` acts on them. The shapes themselves (`constant`, `stages`, `arrival_rate`) are validated
//! types in `config::load`.

use crate::config::load::Stage;
use std::time::Duration;

/// Connections wanted `elapsed` into a staged run (starting from 0), fractional.
pub fn stage_target(stages: &[Stage], elapsed: Duration) -> f64 {
    let mut from = 0.0;
    let mut start = Duration::ZERO;
    for stage in stages {
        let end = start + stage.duration;
        let to = f64::from(stage.target);
        if elapsed < end {
            if stage.duration.is_zero() {
                return to;
            }
            let progress = (elapsed - start).as_secs_f64() / stage.duration.as_secs_f64();
            return from + (to - from) * progress;
        }
        from = to;
        start = end;
    }
    from
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::stages_duration;

    fn stages() -> Vec<Stage> {
        vec![
            Stage {
                duration: Duration::from_secs(10),
                target: 100,
            },
            Stage {
                duration: Duration::from_secs(20),
                target: 100,
            },
            Stage {
                duration: Duration::from_secs(10),
                target: 0,
            },
        ]
    }

    #[test]
    fn stages_interpolate_linearly() {
        let s = stages();
        assert_eq!(stage_target(&s, Duration::ZERO), 0.0);
        assert_eq!(stage_target(&s, Duration::from_secs(5)), 50.0);
        assert_eq!(stage_target(&s, Duration::from_secs(10)), 100.0);
        assert_eq!(stage_target(&s, Duration::from_secs(25)), 100.0);
        assert_eq!(stage_target(&s, Duration::from_secs(35)), 50.0);
        assert_eq!(stage_target(&s, Duration::from_secs(60)), 0.0);
        assert_eq!(stages_duration(&s), Duration::from_secs(40));
    }

    #[tokio::test(start_paused = true)]
    async fn stage_targets_follow_paused_time() {
        let s = stages();
        let start = tokio::time::Instant::now();
        let mut seen = Vec::new();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(10)).await;
            seen.push(stage_target(&s, start.elapsed()).round() as u32);
        }
        assert_eq!(seen, vec![100, 100, 100, 0]);
    }
}
