//! Threshold rules as written in a scenario file — `round_trip p99 < 50ms`, `round_trip{echo} p99 <
//! 20ms` (the requests named `echo`), `latency{deliver} p99 < 50ms` (the delivery latencies named
//! `deliver`), `checks pass_rate > 99.9%`, `connections failure_rate <
//! 0.1%`, `reply_timeouts == 0`, `metric payload_bytes p95 < 5000`, `round_trip avg < 20ms` (`avg`
//! is k6's word for `mean`) — parsed once at load into
//! [`Threshold`] (a mistake is a config error naming the rule). Judging a rule against measured
//! figures lives in `results::thresholds`, not here.

use super::rule_words::{suggest, words as split_words};

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A timing histogram (µs): `round_trip`, `round_trip{NAME}`, `connect_time`, `timer_lag`…
    Timing(Timing),
    /// A custom metric by name, in its own unit.
    Metric(String),
    /// All checks together.
    Checks,
    /// One check by name.
    Check(String),
    /// Connection outcomes.
    Connections,
    /// Replies that missed their deadline (a count).
    ReplyTimeouts,
    /// Connections that failed in the scenario (a count).
    ScenarioErrors,
    /// Message counts.
    Messages,
}

/// The built-in timing histograms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timing {
    /// `round_trip`.
    RoundTrip,
    /// `round_trip{NAME}`: the round trips of the requests named NAME (names are only known at
    /// run time: a name no request carried judges as "no data", a failure).
    NamedRoundTrip(String),
    /// `latency{NAME}`: the delivery latencies recorded under NAME (`record-latency`); a name
    /// never recorded judges as "no data", a failure.
    Latency(String),
    /// `connect_time`.
    ConnectTime,
    /// `timer_lag`.
    TimerLag,
    /// `ping_rtt`.
    PingRtt,
    /// A connect phase by its name in results (`dns`, `tcp`, `tls`, `upgrade`), written
    /// `dns_time`, `tcp_time`, `tls_time`, `upgrade_time`, `queue_time` (the wait for a pacing
    /// permit before connecting).
    Phase(&'static str),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
}

impl Op {
    pub(crate) fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "<" => Op::Less,
            "<=" => Op::LessOrEqual,
            ">" => Op::Greater,
            ">=" => Op::GreaterOrEqual,
            "==" | "=" => Op::Equal,
            "!=" => Op::NotEqual,
            _ => return None,
        })
    }

    /// Whether `actual OP limit` holds (with a tiny tolerance for equality).
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        const EPSILON: f64 = 1e-9;
        match self {
            Op::Less => actual < limit,
            Op::LessOrEqual => actual <= limit + EPSILON,
            Op::Greater => actual > limit,
            Op::GreaterOrEqual => actual + EPSILON >= limit,
            Op::Equal => (actual - limit).abs() <= EPSILON,
            Op::NotEqual => (actual - limit).abs() > EPSILON,
        }
    }
}

/// How a rule's limit was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitUnit {
    /// A plain number.
    Number,
    /// A duration with its unit (`50ms`).
    Time,
    /// A percentage (`99%`), or a rate's fraction.
    Fraction,
}

/// One parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The rule as written.
    pub expression: String,
    /// What it measures.
    pub subject: Subject,
    /// Which statistic (`p99`, `pass_rate`, `count`…).
    pub stat: String,
    /// How it compares.
    pub op: Op,
    /// The limit, normalised: µs for timings, ms for a custom metric written with a time unit
    /// (durations are kept in ms), a fraction for rates.
    pub limit: f64,
    /// How the limit was written (a custom metric's is checked against its kind at load, in
    /// `config::metrics`).
    pub unit: LimitUnit,
    /// Stop the run as soon as the rule is crossed.
    pub abort: bool,
    /// `{population=NAME}`: judged on that population's figures (`populations:`), not the run's.
    pub population: Option<String>,
}

/// Take the `population=NAME` label out of a rule's subject: `round_trip{echo,population=pubs}
/// p99 < 5ms` → (`round_trip{echo} p99 < 5ms`, `pubs`); `checks{population=subs} …` →
/// (`checks …`, `subs`). A rule with no such label comes back as it was.
pub fn split_population(expression: &str) -> Result<(String, Option<String>), String> {
    let text = expression.trim();
    let subject_end = text.find(char::is_whitespace).unwrap_or(text.len());
    let Some(open) = text[..subject_end].find('{') else {
        return Ok((text.to_owned(), None));
    };
    let Some(close) = text[open..].find('}').map(|at| open + at) else {
        return Ok((text.to_owned(), None));
    };
    let labels = &text[open + 1..close];
    if !labels.contains("population") {
        return Ok((text.to_owned(), None));
    }
    let mut population = None;
    let mut kept = Vec::new();
    for label in labels.split(',') {
        match label.trim().strip_prefix("population") {
            Some(rest) if rest.trim_start().starts_with('=') => {
                let name = rest.trim_start()[1..].trim().trim_matches('"');
                if name.is_empty() {
                    return Err("`population=` needs a population's name, e.g. `round_trip{population=publishers} p99 < 50ms`".into());
                }
                if population.replace(name.to_owned()).is_some() {
                    return Err("a rule names one population".into());
                }
            }
            _ => kept.push(label.trim()),
        }
    }
    let subject = &text[..open];
    let braces = if kept.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", kept.join(","))
    };
    Ok((
        format!("{subject}{braces}{}", &text[close + 1..]),
        population,
    ))
}

const TIMING_STATS: &[&str] = &[
    "min", "mean", "p50", "p75", "p90", "p95", "p99", "p99.9", "p999", "max", "count",
];
/// What a custom metric may be judged on, whatever its kind (`config::metrics` narrows it to the
/// kind's statistics at load).
const METRIC_STATS: &[&str] = &[
    "min", "mean", "p50", "p75", "p90", "p95", "p99", "p99.9", "p999", "max", "count", "rate",
];
const CHECK_STATS: &[&str] = &["pass_rate", "passed", "failed"];
const CONNECTION_STATS: &[&str] = &[
    "failure_rate",
    "failed",
    "established",
    "attempted",
    "peak_open",
    "reconnects",
    "dropped_arrivals",
    "pending_at_end",
];
const MESSAGE_STATS: &[&str] = &["sent", "received"];
const SUBJECTS: &[&str] = &[
    "round_trip",
    "latency{NAME}",
    "connect_time",
    "timer_lag",
    "dns_time",
    "tcp_time",
    "tls_time",
    "upgrade_time",
    "queue_time",
    "ping_rtt",
    "metric",
    "checks",
    "check",
    "connections",
    "reply_timeouts",
    "scenario_errors",
    "messages",
];

fn parse_time_us(text: &str) -> Result<f64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number: f64 = text[..split]
        .parse()
        .map_err(|_| format!("`{text}` is not a duration"))?;
    let scale = match &text[split..] {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "" => {
            return Err(format!(
                "`{text}` needs a unit: `{text}ms`, `{text}s` or `{text}us`"
            ));
        }
        unit => return Err(format!("unknown time unit `{unit}`; use us, ms or s")),
    };
    Ok(number * scale)
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.strip_suffix('%') {
        Some(percent) => percent
            .parse::<f64>()
            .map(|p| p / 100.0)
            .map_err(|_| format!("`{text}` is not a percentage")),
        None => {
            let fraction: f64 = text
                .parse()
                .map_err(|_| format!("`{text}` is not a rate; write e.g. `99.9%`"))?;
            if (0.0..=1.0).contains(&fraction) {
                Ok(fraction)
            } else {
                Err(format!(
                    "`{text}` is not a rate; write a percentage such as `99.9%` or a fraction 0–1"
                ))
            }
        }
    }
}

fn parse_count(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .map_err(|_| format!("`{text}` is not a number"))
}

/// A custom metric's limit as written: a number, a duration (in ms, the unit durations are kept
/// in) or a percentage; which one its kind wants is checked at load (`config::metrics`).
fn parse_metric_limit(text: &str) -> Result<(f64, LimitUnit), String> {
    if let Ok(number) = text.parse::<f64>() {
        return Ok((number, LimitUnit::Number));
    }
    if text.ends_with('%') {
        return Ok((parse_rate(text)?, LimitUnit::Fraction));
    }
    parse_time_us(text)
        .map(|micros| (micros / 1000.0, LimitUnit::Time))
        .map_err(|_| {
            format!("`{text}` is not a number, a duration (`50ms`) or a percentage (`99%`)")
        })
}

impl Threshold {
    /// Parse one rule, e.g. `round_trip p99 < 50ms`.
    pub fn parse(written: &str, abort: bool) -> Result<Threshold, String> {
        let (expression, population) = split_population(written)?;
        let expression = expression.as_str();
        let usage = "write `SUBJECT [STAT] OP VALUE`, e.g. `round_trip p99 < 50ms`";
        let trimmed = expression.trim();
        let braced = [
            ("round_trip", "request", "echo"),
            ("latency", "latency", "deliver"),
        ]
        .into_iter()
        .find_map(|(subject, what, example)| {
            let rest = trimmed.strip_prefix(subject)?.strip_prefix('{')?;
            Some((subject, what, example, rest))
        });
        let (named, words) = match braced {
            Some((subject, what, example, rest)) => {
                let end = rest.find('}').ok_or_else(|| {
                    format!(
                        "unclosed `{subject}{{`; write `{subject}{{NAME}} p99 < 50ms` with the {what}'s name"
                    )
                })?;
                let name = rest[..end].trim().trim_matches('"');
                if name.is_empty() {
                    return Err(format!(
                        "`{subject}{{}}` needs a {what} name, e.g. `{subject}{{{example}}} p99 < 50ms`"
                    ));
                }
                let mut words = vec![subject.to_owned()];
                words.extend(split_words(&rest[end + 1..])?);
                (Some(name.to_owned()), words)
            }
            None => (None, split_words(expression)?),
        };
        let first = words
            .first()
            .ok_or_else(|| format!("empty threshold; {usage}"))?;
        let (subject, rest) = match first.as_str() {
            "round_trip" if named.is_some() => (
                Subject::Timing(Timing::NamedRoundTrip(named.unwrap_or_default())),
                &words[1..],
            ),
            "round_trip" => (Subject::Timing(Timing::RoundTrip), &words[1..]),
            "latency" => match named {
                Some(name) => (Subject::Timing(Timing::Latency(name)), &words[1..]),
                None => {
                    return Err(
                        "`latency` needs a name: `latency{NAME} p99 < 50ms`, the name given to `record_latency`"
                            .into(),
                    );
                }
            },
            "connect_time" => (Subject::Timing(Timing::ConnectTime), &words[1..]),
            "timer_lag" => (Subject::Timing(Timing::TimerLag), &words[1..]),
            "ping_rtt" => (Subject::Timing(Timing::PingRtt), &words[1..]),
            "dns_time" => (Subject::Timing(Timing::Phase("dns")), &words[1..]),
            "tcp_time" => (Subject::Timing(Timing::Phase("tcp")), &words[1..]),
            "tls_time" => (Subject::Timing(Timing::Phase("tls")), &words[1..]),
            "upgrade_time" => (Subject::Timing(Timing::Phase("upgrade")), &words[1..]),
            "queue_time" => (Subject::Timing(Timing::Phase("queue")), &words[1..]),
            "checks" => (Subject::Checks, &words[1..]),
            "connections" => (Subject::Connections, &words[1..]),
            "reply_timeouts" => (Subject::ReplyTimeouts, &words[1..]),
            "scenario_errors" => (Subject::ScenarioErrors, &words[1..]),
            "messages" => (Subject::Messages, &words[1..]),
            "metric" | "check" => {
                let name = words
                    .get(1)
                    .ok_or_else(|| format!("`{first}` needs a name: `{first} NAME …`"))?;
                let subject = if first == "metric" {
                    Subject::Metric(name.clone())
                } else {
                    Subject::Check(name.clone())
                };
                (subject, &words[2..])
            }
            other => {
                return Err(format!(
                    "unknown metric `{other}`; {}",
                    suggest(other, SUBJECTS)
                ));
            }
        };
        let (stat, op, value) = match rest {
            [op, value] if matches!(subject, Subject::ReplyTimeouts | Subject::ScenarioErrors) => {
                ("count".to_owned(), op, value)
            }
            [stat, op, value] => (stat.clone(), op, value),
            _ => return Err(format!("`{expression}`: {usage}")),
        };
        // `avg` is k6's word for the mean; the rule keeps its wording, the statistic is one.
        let stat = match (&subject, stat.as_str()) {
            (Subject::Timing(_) | Subject::Metric(_), "avg") => "mean".to_owned(),
            _ => stat,
        };
        let op = Op::parse(op)
            .ok_or_else(|| format!("unknown comparison `{op}`; use <, <=, >, >=, == or !="))?;
        let allowed: &[&str] = match &subject {
            Subject::Timing(_) => TIMING_STATS,
            Subject::Metric(_) => METRIC_STATS,
            Subject::Checks | Subject::Check(_) => CHECK_STATS,
            Subject::Connections => CONNECTION_STATS,
            Subject::Messages => MESSAGE_STATS,
            Subject::ReplyTimeouts | Subject::ScenarioErrors => &["count"],
        };
        if !allowed.contains(&stat.as_str()) {
            return Err(format!(
                "unknown statistic `{stat}` for `{first}`; {}",
                suggest(&stat, allowed)
            ));
        }
        let (limit, unit) = match (&subject, stat.as_str()) {
            (Subject::Metric(_), _) => parse_metric_limit(value)?,
            (_, "count") => (parse_count(value)?, LimitUnit::Number),
            (Subject::Timing(_), _) => (parse_time_us(value)?, LimitUnit::Time),
            (_, "pass_rate" | "failure_rate") => (parse_rate(value)?, LimitUnit::Fraction),
            _ => (parse_count(value)?, LimitUnit::Number),
        };
        Ok(Threshold {
            expression: written.trim().to_owned(),
            subject,
            stat,
            op,
            limit,
            unit,
            abort,
            population,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() -> Result<(), String> {
        let t = Threshold::parse("round_trip p99 < 50ms", false)?;
        assert_eq!(
            (t.subject, t.stat.as_str(), t.op, t.limit),
            (
                Subject::Timing(Timing::RoundTrip),
                "p99",
                Op::Less,
                50_000.0
            )
        );
        let t = Threshold::parse("checks pass_rate > 99.9%", false)?;
        assert!((t.limit - 0.999).abs() < 1e-12);
        let t = Threshold::parse("reply_timeouts == 0", true)?;
        assert_eq!(
            (t.subject, t.op, t.limit, t.abort),
            (Subject::ReplyTimeouts, Op::Equal, 0.0, true)
        );
        let t = Threshold::parse(r#"check "echo matches" pass_rate >= 100%"#, false)?;
        assert_eq!(t.subject, Subject::Check("echo matches".into()));
        let t = Threshold::parse("metric payload_bytes p95 <= 4096", false)?;
        assert_eq!(
            (t.subject, t.limit),
            (Subject::Metric("payload_bytes".into()), 4096.0)
        );
        let t = Threshold::parse("round_trip{echo} p99 < 20ms", false)?;
        assert_eq!(
            (t.subject, t.stat.as_str(), t.limit),
            (
                Subject::Timing(Timing::NamedRoundTrip("echo".into())),
                "p99",
                20_000.0
            )
        );
        let t = Threshold::parse("latency{deliver} p99 < 50ms", false)?;
        assert_eq!(
            (t.subject, t.stat.as_str(), t.limit),
            (
                Subject::Timing(Timing::Latency("deliver".into())),
                "p99",
                50_000.0
            )
        );
        assert!(
            Threshold::parse("latency p99 < 50ms", false)
                .unwrap_err()
                .contains("latency{NAME}")
        );
        assert!(
            Threshold::parse("latency{} p99 < 50ms", false)
                .unwrap_err()
                .contains("needs a latency name")
        );
        let t = Threshold::parse(r#"round_trip{"order placed"} max <= 1s"#, false)?;
        assert_eq!(
            t.subject,
            Subject::Timing(Timing::NamedRoundTrip("order placed".into()))
        );
        Ok(())
    }

    #[test]
    fn avg_is_k6s_word_for_the_mean() -> Result<(), String> {
        let t = Threshold::parse("round_trip avg < 20ms", false)?;
        assert_eq!((t.stat.as_str(), t.limit), ("mean", 20_000.0));
        assert_eq!(t.expression, "round_trip avg < 20ms");
        let t = Threshold::parse("metric payload_bytes avg <= 4096", false)?;
        assert_eq!(t.stat, "mean");
        // Only where a mean exists: checks have none.
        assert!(Threshold::parse("checks avg > 1", false).is_err());
        Ok(())
    }

    #[test]
    fn mistakes_are_explained() {
        let error = Threshold::parse("round_trips p99 < 50ms", false).unwrap_err();
        assert!(
            error.contains("unknown metric `round_trips`; did you mean `round_trip`?"),
            "{error}"
        );
        let error = Threshold::parse("round_trip p98 < 50ms", false).unwrap_err();
        assert!(error.contains("unknown statistic `p98`"), "{error}");
        let error = Threshold::parse("round_trip p99 < 50", false).unwrap_err();
        assert!(error.contains("`50ms`"), "{error}");
        let error = Threshold::parse("round_trip p99 ~ 50ms", false).unwrap_err();
        assert!(error.contains("unknown comparison"), "{error}");
        let error = Threshold::parse("round_trip{echo p99 < 50ms", false).unwrap_err();
        assert!(error.contains("unclosed `round_trip{`"), "{error}");
        let error = Threshold::parse("round_trip{} p99 < 50ms", false).unwrap_err();
        assert!(error.contains("needs a request name"), "{error}");
    }

    #[test]
    fn a_population_label_judges_one_population() -> Result<(), String> {
        let t = Threshold::parse("round_trip{population=publishers} p99 < 5ms", false)?;
        assert_eq!(t.subject, Subject::Timing(Timing::RoundTrip));
        assert_eq!(t.population.as_deref(), Some("publishers"));
        assert_eq!(t.expression, "round_trip{population=publishers} p99 < 5ms");
        let t = Threshold::parse("round_trip{echo, population=subs} p99 < 5ms", false)?;
        assert_eq!(
            (t.subject, t.population.as_deref()),
            (
                Subject::Timing(Timing::NamedRoundTrip("echo".into())),
                Some("subs")
            )
        );
        let t = Threshold::parse("checks{population=subs} pass_rate == 100%", false)?;
        assert_eq!(
            (t.subject, t.population.as_deref()),
            (Subject::Checks, Some("subs"))
        );
        let t = Threshold::parse("metric{population=subs} lost max == 0", false)?;
        assert_eq!(t.subject, Subject::Metric("lost".into()));
        let t = Threshold::parse("round_trip{echo} p99 < 5ms", false)?;
        assert_eq!(t.population, None);
        assert!(Threshold::parse("checks{population=} pass_rate == 100%", false).is_err());
        Ok(())
    }

    #[test]
    fn comparisons() {
        assert!(Op::Less.holds(1.0, 2.0) && !Op::Less.holds(2.0, 2.0));
        assert!(Op::LessOrEqual.holds(2.0, 2.0) && Op::GreaterOrEqual.holds(1.0, 1.0));
        assert!(Op::Equal.holds(0.0, 0.0) && Op::NotEqual.holds(1.0, 0.0));
    }
}
