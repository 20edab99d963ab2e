//! Shard arithmetic: which part of a run shard `I` of `N` carries, so that N processes (workers on
//! one machine, pods of a Kubernetes Indexed Job) add up to exactly the one-process run. Shard `I`
//! owns the global VU indexes `I, I+N, I+2N, …` (so `{vu}`, data rows and random seeds are those of
//! a one-process run), the same share of every stage target at every moment, every N-th arrival,
//! its share of `max_connections` and of `net.source_addresses`, and its part of the connection
//! pacing (`net.max_handshakes_in_flight`, `net.max_connect_rate`: limits for the whole run, so
//! N shards together open no faster than one process). Also the `--start-at` time and the
//! `--run-id` every shard of one run carries.
//! Pure functions; `run` builds the [`Shard`], `drive` asks it. Supervising worker processes lives
//! in `workers/`, not here.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Shard `index` of `count` (`0 ≤ index < count`); `Shard::WHOLE` is a one-process run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// From 0, like Kubernetes' `JOB_COMPLETION_INDEX`.
    pub index: u32,
    /// How many shards the run is split into (at least 1).
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The whole run in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parse `I/N` or `auto/N` (`I` read from `job_index`, the value of `JOB_COMPLETION_INDEX`).
    pub fn parse(text: &str, job_index: Option<&str>) -> Result<Shard, String> {
        let Some((index, count)) = text.split_once('/') else {
            return Err(format!(
                "`{text}` is not I/N: write e.g. --shard 0/4 (the first of 4) or --shard auto/4"
            ));
        };
        let count: u32 = match count.trim().parse() {
            Ok(count) if count >= 1 => count,
            _ => {
                return Err(format!(
                    "`{text}`: the shard count `{count}` must be a whole number ≥ 1, e.g. --shard 0/4"
                ));
            }
        };
        let index_text = if index.trim() == "auto" {
            match job_index {
                Some(value) => value.trim(),
                None => {
                    return Err(format!(
                        "--shard {text} reads JOB_COMPLETION_INDEX, which is not set; set it or give the index, e.g. --shard 0/{count}"
                    ));
                }
            }
        } else {
            index.trim()
        };
        match index_text.parse::<u32>() {
            Ok(index) if index < count => Ok(Shard { index, count }),
            _ => Err(format!(
                "`{text}`: the shard index `{index_text}` must be a whole number from 0 to {}",
                count - 1
            )),
        }
    }

    /// Whether global VU index `vu` belongs to this shard.
    pub fn owns(&self, vu: u32) -> bool {
        vu % self.count == self.index
    }

    /// This shard's part of `total` (connections, a stage target, `max_connections`): how many of
    /// the global indexes `0..total` it owns. The parts of all shards add up to `total`.
    pub fn share(&self, total: u32) -> u32 {
        if total > self.index {
            (total - self.index - 1) / self.count + 1
        } else {
            0
        }
    }

    /// The global VU indexes this shard owns, lowest first.
    pub fn indexes(&self) -> impl Iterator<Item = u32> + use<> {
        (self.index..).step_by(self.count as usize)
    }

    /// The global index of this shard's `nth` owned item (VU, arrival, slot), from 0.
    pub fn nth(&self, nth: u32) -> u32 {
        self.index.saturating_add(nth.saturating_mul(self.count))
    }

    /// This shard's part of the run's connection pacing. `in_flight` handshakes are split like
    /// `max_connections` (but at least 1, so a shard can connect at all: with fewer handshakes
    /// than shards the run as a whole has one per shard); `per_second` is divided by N, and this
    /// shard's first start slot comes `index / per_second` after its start, so the shards' slots
    /// interleave into the one-process sequence `0, 1/rate, 2/rate, …` (shard I takes slots
    /// `I, I+N, …`, as with arrivals).
    pub fn pacing(&self, in_flight: u32, per_second: Option<f64>) -> ShardPacing {
        let count = f64::from(self.count);
        ShardPacing {
            in_flight: self.share(in_flight).max(1),
            per_second: per_second.map(|rate| rate / count),
            first_slot: per_second
                .filter(|rate| rate.is_finite() && *rate > 0.0)
                .map_or(Duration::ZERO, |rate| {
                    Duration::from_secs_f64(f64::from(self.index) / rate)
                }),
        }
    }

    /// This shard's source addresses: every N-th from its index when there are at least N, else
    /// the one at `index mod len` (shards then share addresses, and their ephemeral ports).
    pub fn source_addresses(&self, all: &[IpAddr]) -> Vec<IpAddr> {
        if all.is_empty() || self.count == 1 {
            return all.to_vec();
        }
        if all.len() >= self.count as usize {
            all.iter()
                .enumerate()
                .filter(|(position, _)| *position as u32 % self.count == self.index)
                .map(|(_, address)| *address)
                .collect()
        } else {
            vec![all[self.index as usize % all.len()]]
        }
    }
}

/// One shard's connection pacing ([`Shard::pacing`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardPacing {
    /// Handshakes this shard may have in flight at once.
    pub in_flight: u32,
    /// New connections per second this shard may start (none: no limit).
    pub per_second: Option<f64>,
    /// How long after its start this shard's first start slot comes.
    pub first_slot: Duration,
}

/// Check a run id (`--run-id`): 1 to 128 letters, digits, `.`, `_`, `-` or `:` (a Kubernetes
/// Job's uid, a date, a CI build number), so it can be shown and compared as it is.
pub fn parse_run_id(text: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
    if text.is_empty() || text.len() > 128 || !text.chars().all(allowed) {
        return Err(format!(
            "`{text}` is not a run id: write 1 to 128 letters, digits, `.`, `_`, `-` or `:` (e.g. --run-id nightly-2026-12-07), the same for every shard of the run"
        ));
    }
    Ok(text.to_owned())
}

/// A fresh run id: 16 hex digits from the OS's random source (time and process id if it fails).
pub fn new_run_id() -> String {
    use rand::{Rng, SeedableRng};
    let mut random = rand::rngs::StdRng::try_from_os_rng().unwrap_or_else(|_| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        rand::rngs::StdRng::seed_from_u64((now as u64) ^ (u64::from(std::process::id()) << 32))
    });
    format!("{:016x}", random.random::<u64>())
}

/// Parse `--start-at`: RFC 3339 (`2026-12-01T23:00:00Z`, `…+01:00`, fractions allowed) or Unix
/// seconds (`1796166000`, `1796166000.5`).
pub fn parse_start_at(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    let unix = if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        text.parse::<f64>().ok()
    } else {
        rfc3339_seconds(text)
    };
    match unix {
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Ok(UNIX_EPOCH + Duration::from_secs_f64(seconds))
        }
        _ => Err(format!(
            "`{text}` is not a time: write RFC 3339 (e.g. 2026-12-01T23:00:00Z) or Unix seconds (e.g. `date -d '+1 min' +%s`)"
        )),
    }
}

/// Seconds since the Unix epoch of an RFC 3339 date-time, or `None`.
fn rfc3339_seconds(text: &str) -> Option<f64> {
    let number = |from: usize, to: usize| -> Option<i64> {
        let part = text.get(from..to)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(after) = rest.strip_prefix('.') {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        fraction = format!("0.{}", &after[..digits]).parse().ok()?;
        rest = &after[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = rest.get(1..)?.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(seconds as f64 + fraction)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::Stage;
    use crate::load::shape::stage_target;

    fn shards(count: u32) -> Vec<Shard> {
        (0..count).map(|index| Shard { index, count }).collect()
    }

    #[test]
    fn parse_reads_index_count_and_the_job_index() {
        assert_eq!(Shard::parse("1/4", None), Ok(Shard { index: 1, count: 4 }));
        assert_eq!(
            Shard::parse("auto/3", Some("2")),
            Ok(Shard { index: 2, count: 3 })
        );
        let missing = Shard::parse("auto/3", None).unwrap_err();
        assert!(missing.contains("JOB_COMPLETION_INDEX"), "{missing}");
        let out_of_range = Shard::parse("4/4", None).unwrap_err();
        assert!(out_of_range.contains("from 0 to 3"), "{out_of_range}");
        assert!(Shard::parse("1/0", None).is_err());
        assert!(Shard::parse("1", None).unwrap_err().contains("--shard 0/4"));
    }

    #[test]
    fn vu_indexes_are_split_exactly_and_stay_global() {
        for count in 1..=7 {
            for total in 0..50 {
                let mut seen: Vec<u32> = shards(count)
                    .iter()
                    .flat_map(|shard| shard.indexes().take_while(move |vu| *vu < total))
                    .collect();
                seen.sort_unstable();
                assert_eq!(
                    seen,
                    (0..total).collect::<Vec<_>>(),
                    "{total} VUs over {count}"
                );
                let shares: u32 = shards(count).iter().map(|shard| shard.share(total)).sum();
                assert_eq!(shares, total);
                for shard in shards(count) {
                    assert_eq!(
                        shard.share(total) as usize,
                        shard.indexes().take_while(|vu| *vu < total).count()
                    );
                    assert!(shard.indexes().take(5).all(|vu| shard.owns(vu)));
                }
            }
        }
        assert_eq!(
            Shard { index: 1, count: 3 }
                .indexes()
                .take(3)
                .collect::<Vec<_>>(),
            vec![1, 4, 7]
        );
        assert_eq!(Shard { index: 1, count: 3 }.nth(2), 7);
    }

    #[test]
    fn stage_targets_add_up_to_the_whole_at_every_moment() {
        let stages = vec![
            Stage {
                duration: Duration::from_secs(10),
                target: 101,
            },
            Stage {
                duration: Duration::from_secs(5),
                target: 101,
            },
            Stage {
                duration: Duration::from_secs(7),
                target: 3,
            },
        ];
        for count in [2, 3, 4, 16] {
            for tenth in 0..230 {
                let whole =
                    stage_target(&stages, Duration::from_millis(tenth * 100)).round() as u32;
                let sum: u32 = shards(count).iter().map(|shard| shard.share(whole)).sum();
                assert_eq!(
                    sum,
                    whole,
                    "at {}s over {count} shards",
                    tenth as f64 / 10.0
                );
            }
        }
    }

    #[test]
    fn arrivals_are_dealt_round_robin_so_rates_add_up() {
        // Arrival k (from 0) at k / rate belongs to shard k mod N: in any window, the shards'
        // arrivals add up to the whole's, and each shard's rate is rate / N.
        for count in [2, 3, 5] {
            let mut owners = vec![0u32; count as usize];
            for arrival in 0..1000u32 {
                let owner: Vec<_> = shards(count)
                    .into_iter()
                    .filter(|shard| shard.owns(arrival))
                    .collect();
                assert_eq!(owner.len(), 1);
                owners[owner[0].index as usize] += 1;
                assert_eq!(owner[0].nth(arrival / count), arrival);
            }
            assert!(
                owners.iter().all(|n| n.abs_diff(1000 / count) <= 1),
                "{owners:?}"
            );
        }
    }

    #[test]
    fn issue_24_a_ramps_arrivals_over_shards_are_exactly_the_one_process_arrivals() {
        use crate::config::load::{ArrivalRamp, ArrivalRate, ArrivalStage};
        use crate::load::arrival_times::ArrivalTimes;
        let ramp = ArrivalRate::Ramp(ArrivalRamp {
            start: 5.0,
            stages: vec![
                ArrivalStage {
                    target: 40.0,
                    duration: Duration::from_secs(2),
                },
                ArrivalStage {
                    target: 40.0,
                    duration: Duration::from_secs(1),
                },
                ArrivalStage {
                    target: 0.0,
                    duration: Duration::from_millis(1500),
                },
            ],
        });
        let times = ArrivalTimes::new(&ramp, Duration::ZERO);
        // 45 + 40 + 30 arrivals.
        assert_eq!(times.total(), 115);
        let whole: Vec<Duration> = (0..).map_while(|index| times.at(index)).collect();
        for count in [1, 2, 3, 4, 7, 16] {
            // What `drive::arrivals` does in each shard: its n-th arrival is global `nth(n)`.
            let mut union: Vec<(u32, Duration)> = shards(count)
                .iter()
                .flat_map(|shard| {
                    (0..)
                        .map(|owned| shard.nth(owned))
                        .map_while(|global| times.at(u64::from(global)).map(|at| (global, at)))
                        .collect::<Vec<_>>()
                })
                .collect();
            union.sort_by_key(|(global, _)| *global);
            let indexes: Vec<u32> = union.iter().map(|(global, _)| *global).collect();
            assert_eq!(indexes, (0..115).collect::<Vec<_>>(), "over {count} shards");
            let at: Vec<Duration> = union.into_iter().map(|(_, at)| at).collect();
            assert_eq!(at, whole, "over {count} shards");
        }
    }

    #[test]
    fn pacing_limits_are_split_so_the_shards_add_up_to_the_whole() {
        assert_eq!(
            Shard::WHOLE.pacing(32, Some(10.0)),
            ShardPacing {
                in_flight: 32,
                per_second: Some(10.0),
                first_slot: Duration::ZERO
            }
        );
        for count in [2, 3, 4, 7] {
            let parts: Vec<ShardPacing> = shards(count)
                .iter()
                .map(|shard| shard.pacing(32, Some(10.0)))
                .collect();
            let in_flight: u32 = parts.iter().map(|part| part.in_flight).sum();
            assert_eq!(in_flight, 32, "{count} shards");
            let rate: f64 = parts.iter().filter_map(|part| part.per_second).sum();
            assert!((rate - 10.0).abs() < 1e-9, "{count} shards: {rate}");
            // Every shard's slots (first_slot + k / its rate), together: the whole's k / 10.
            let mut slots: Vec<u64> = parts
                .iter()
                .flat_map(|part| {
                    let gap = 1.0 / part.per_second.unwrap_or(f64::NAN);
                    (0..10).map(move |k| {
                        ((part.first_slot.as_secs_f64() + f64::from(k) * gap) * 1000.0).round()
                            as u64
                    })
                })
                .collect();
            slots.sort_unstable();
            let whole: Vec<u64> = (0..u64::from(10 * count)).map(|k| k * 100).collect();
            assert_eq!(slots, whole, "{count} shards");
        }
        // Fewer handshakes than shards: one each, so every shard can connect.
        let few: Vec<u32> = shards(4)
            .iter()
            .map(|shard| shard.pacing(2, None).in_flight)
            .collect();
        assert_eq!(few, vec![1, 1, 1, 1]);
        assert_eq!(
            Shard { index: 2, count: 4 }.pacing(8, None).first_slot,
            Duration::ZERO
        );
    }

    #[test]
    fn source_addresses_are_split_between_shards() {
        let all: Vec<IpAddr> = (1..=5).map(|n| IpAddr::from([127, 0, 0, n])).collect();
        let parts: Vec<_> = shards(2)
            .iter()
            .map(|shard| shard.source_addresses(&all))
            .collect();
        assert_eq!(parts[0], vec![all[0], all[2], all[4]]);
        assert_eq!(parts[1], vec![all[1], all[3]]);
        let few: Vec<_> = shards(8)
            .iter()
            .map(|shard| shard.source_addresses(&all[..2]))
            .collect();
        assert!(few.iter().all(|part| part.len() == 1));
        assert_eq!(few[3], vec![all[1]]);
        assert!(Shard::WHOLE.source_addresses(&[]).is_empty());
    }

    #[test]
    fn run_ids_are_short_plain_words() {
        assert_eq!(
            parse_run_id("6f1c2a9e-0b1d-4c8e-9a2f-3d4e5f607182").as_deref(),
            Ok("6f1c2a9e-0b1d-4c8e-9a2f-3d4e5f607182")
        );
        assert!(parse_run_id("nightly.2026-12-07_1:2").is_ok());
        for bad in ["", "two words", "a/b", &"x".repeat(129), "é"] {
            assert!(parse_run_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn start_at_reads_rfc3339_and_unix_seconds() {
        let at = |text| {
            parse_start_at(text).map(|time| {
                time.duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64()
            })
        };
        assert_eq!(at("1796166000"), Ok(1_796_166_000.0));
        assert_eq!(at("1796166000.5"), Ok(1_796_166_000.5));
        assert_eq!(at("1970-01-01T00:00:00Z"), Ok(0.0));
        assert_eq!(at("2026-12-01T23:00:00Z"), Ok(1_796_166_000.0));
        assert_eq!(at("2026-12-02T00:30:00+01:30"), Ok(1_796_166_000.0));
        assert_eq!(at("2000-02-29T12:00:00.25Z"), Ok(951_825_600.25));
        for bad in [
            "tomorrow",
            "2026-13-01T00:00:00Z",
            "2026-12-01T23:00:00",
            "-5",
            "",
        ] {
            let error = parse_start_at(bad).unwrap_err();
            assert!(error.contains("RFC 3339"), "{bad}: {error}");
        }
    }
}
