//! Regression rules as written in a scenario file's `regressions:` — `round_trip p99 < +10%`,
//! `connect_time p99 < +25%`, `checks pass_rate > -0.1pp`, `throughput > -5%`,
//! `round_trip{login} p99 < +2ms` — parsed once at load into [`Regression`] (a mistake is a config
//! error naming the rule and its `file:line:column`). A rule limits the change of one figure of
//! `volley compare` (named as its table names it) against a baseline run. Only figures compare
//! tests for significance are accepted: a rule fails when the change is beyond its limit *and*
//! significant, so a rule on an untested figure (a maximum, bytes) could never fail. Judging a rule
//! on a comparison lives in `results::regressions`, not here.

use super::rule_words::{suggest, words};

/// What kind of figure a rule limits: which limits make sense for it and how its values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureKind {
    /// A percentile of a timing, µs: limits in `%` or a time (`+2ms`).
    Timing,
    /// A percentile of a custom metric, in its own unit: `%` or a plain number.
    Metric,
    /// A count of events: `%` or a plain number.
    Count,
    /// Messages per second: `%` or a plain number.
    PerSecond,
    /// A fraction 0–1 (a pass or failure rate): `%` (relative) or `pp` (percentage points).
    Fraction,
}

/// How a rule's limit measures the change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Relative to the baseline's value: `+10%` is 0.10.
    Relative(f64),
    /// In the figure's own unit (µs for timings; percentage points as a fraction for rates, so
    /// `-0.1pp` is -0.001).
    Absolute(f64),
}

/// Which side of its limit the change must stay on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `<`: below.
    Below,
    /// `<=`: at most.
    AtMost,
    /// `>`: above.
    Above,
    /// `>=`: at least.
    AtLeast,
}

impl Bound {
    /// Whether `change BOUND limit` holds.
    pub fn holds(self, change: f64, limit: f64) -> bool {
        const EPSILON: f64 = 1e-9;
        match self {
            Bound::Below => change < limit,
            Bound::AtMost => change <= limit + EPSILON,
            Bound::Above => change > limit,
            Bound::AtLeast => change + EPSILON >= limit,
        }
    }
}

/// One parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// The rule as written (trimmed).
    pub expression: String,
    /// The figure as `volley compare` names its row: `round_trip p99`, `connect_time p99` (for
    /// `connect p99`), `check "NAME" pass_rate`, `failures "REASON"`.
    pub figure: String,
    /// What the figure is.
    pub kind: FigureKind,
    /// The comparison.
    pub bound: Bound,
    /// The limit of the change.
    pub limit: Limit,
    /// 1-based line and column of the rule in its file, when known (for errors found once the
    /// baseline is read).
    pub position: Option<(usize, usize)>,
}

impl Regression {
    /// Whether the figure is left out of a comparison when it is 0 in both runs (the rarer
    /// counts), so that a missing row means "no change" rather than "no data".
    pub fn absent_when_zero(&self) -> bool {
        self.figure.starts_with("failures \"")
            || matches!(
                self.figure.as_str(),
                "connections closed_by_server"
                    | "connections dropped_arrivals"
                    | "connections reconnects"
                    | "requests_abandoned"
                    | "scenario_errors"
            )
    }
}

const USAGE: &str =
    "write `FIGURE OP CHANGE`, e.g. `round_trip p99 < +10%` or `checks pass_rate > -0.1pp`";

/// The timing distributions, as compare names them (`connect` is short for `connect_time`).
const TIMINGS: &[&str] = &[
    "round_trip",
    "connect_time",
    "connect",
    "dns_time",
    "tcp_time",
    "tls_time",
    "upgrade_time",
    "queue_time",
    "timer_lag",
    "arrival_lag",
    "ping_rtt",
];
const PERCENTILES: &[&str] = &["p50", "p90", "p99", "p99.9"];
/// The figures that are not timings; with `TIMINGS`, every subject a rule may name.
const OTHER_SUBJECTS: &[&str] = &[
    "metric",
    "connections",
    "messages",
    "throughput",
    "reply_timeouts",
    "requests_abandoned",
    "scenario_errors",
    "checks",
    "check",
    "failures",
    "compression",
];
const CONNECTION_STATS: &[&str] = &[
    "attempted",
    "established",
    "failure_rate",
    "closed_by_server",
    "dropped_arrivals",
    "reconnects",
];
const MESSAGE_STATS: &[&str] = &["sent", "received", "compressed_sent", "compressed_received"];

/// Figures compare shows but does not test: a rule on one could never fail.
fn untested(subject: &str, stat: &str) -> Option<&'static str> {
    match (subject, stat) {
        (_, "max") => Some("a maximum has no sampling distribution, so compare does not test it"),
        ("connections", "peak_open") | ("population", "reached") => {
            Some("compare shows it without a test (it is decided by the load shape)")
        }
        ("messages", stat) if stat.contains("bytes") => {
            Some("compare shows byte counts without a test")
        }
        ("compression", "ratio_sent" | "ratio_received") => {
            Some("compare shows compression ratios without a test")
        }
        _ => None,
    }
}

/// The last whitespace-separated word of `text` and what precedes it (trimmed).
fn split_last(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_end();
    let start = text.rfind(char::is_whitespace)? + 1;
    Some((text[..start].trim_end(), &text[start..]))
}

/// The figure part of a rule: its compare name and kind.
fn figure(text: &str) -> Result<(String, FigureKind), String> {
    let braced = [
        ("round_trip", "request", "login"),
        ("latency", "latency", "deliver"),
    ]
    .into_iter()
    .find_map(|(subject, what, example)| {
        let after = text.strip_prefix(subject)?.strip_prefix('{')?;
        Some((subject, what, example, after))
    });
    let (subject, rest) = match braced {
        Some((subject, what, example, after)) => {
            let end = after.find('}').ok_or_else(|| {
                format!(
                    "unclosed `{subject}{{`; write `{subject}{{NAME}} p99 < +10%` with the {what}'s name"
                )
            })?;
            let name = after[..end].trim().trim_matches('"');
            if name.is_empty() {
                return Err(format!(
                    "`{subject}{{}}` needs a {what} name, e.g. `{subject}{{{example}}} p99 < +10%`"
                ));
            }
            (format!("{subject}{{{name}}}"), words(&after[end + 1..])?)
        }
        None => {
            let mut all = words(text)?;
            if all.is_empty() {
                return Err(format!("no figure; {USAGE}"));
            }
            let first = all.remove(0);
            (first, all)
        }
    };
    let stat = |rest: &[String], at: usize| rest.get(at).cloned().unwrap_or_default();
    let one_stat = |rest: &[String], at: usize, subject: &str| -> Result<String, String> {
        match rest.len() {
            n if n == at + 1 => Ok(stat(rest, at)),
            n if n <= at => Err(format!("`{subject}` needs a statistic; {USAGE}")),
            _ => Err(format!(
                "`{}` has words after the statistic; {USAGE}",
                rest.join(" ")
            )),
        }
    };
    let no_stat = |rest: &[String], name: &str| -> Result<(), String> {
        match rest.first() {
            None => Ok(()),
            Some(word) => Err(format!(
                "`{name}` takes no statistic (`{word}`); write e.g. `{name} < +10%`"
            )),
        }
    };
    let percentile = |name: String, stat: String, kind: FigureKind| {
        let stat = if stat == "p999" { "p99.9".into() } else { stat };
        if let Some(why) = untested("", &stat) {
            return Err(format!(
                "`{name} {stat}` cannot be a regression rule: {why}; use `p99.9` or a threshold"
            ));
        }
        if !PERCENTILES.contains(&stat.as_str()) {
            return Err(format!(
                "unknown statistic `{stat}` for `{name}`; {}",
                suggest(&stat, PERCENTILES)
            ));
        }
        Ok((format!("{name} {stat}"), kind))
    };
    if subject.starts_with("round_trip{")
        || subject.starts_with("latency{")
        || TIMINGS.contains(&subject.as_str())
    {
        let name = if subject == "connect" {
            "connect_time".to_owned()
        } else {
            subject.clone()
        };
        return percentile(name, one_stat(&rest, 0, &subject)?, FigureKind::Timing);
    }
    match subject.as_str() {
        "metric" => {
            let name = rest
                .first()
                .ok_or("`metric` needs a name: `metric NAME p99 < +10%`")?;
            let stat = one_stat(&rest, 1, "metric NAME")?;
            // A `rate` metric's fraction of true values (checked against the kind at load).
            if stat == "rate" {
                return Ok((format!("metric {name} rate"), FigureKind::Fraction));
            }
            percentile(format!("metric {name}"), stat, FigureKind::Metric)
        }
        "connections" | "messages" | "compression" | "population" | "checks" => {
            let stat = one_stat(&rest, 0, &subject)?;
            if let Some(why) = untested(&subject, &stat) {
                return Err(format!(
                    "`{subject} {stat}` cannot be a regression rule: {why}, so the rule could never fail"
                ));
            }
            let allowed: &[&str] = match subject.as_str() {
                "connections" => CONNECTION_STATS,
                "messages" => MESSAGE_STATS,
                "compression" => &["negotiated"],
                "checks" => &["pass_rate"],
                _ => &[],
            };
            if !allowed.contains(&stat.as_str()) {
                return Err(format!(
                    "unknown statistic `{stat}` for `{subject}`; {}",
                    suggest(&stat, allowed)
                ));
            }
            let kind = match stat.as_str() {
                "failure_rate" | "negotiated" | "pass_rate" => FigureKind::Fraction,
                _ => FigureKind::Count,
            };
            Ok((format!("{subject} {stat}"), kind))
        }
        "check" => {
            let name = rest
                .first()
                .ok_or("`check` needs a name: `check \"NAME\" pass_rate > -1pp`")?;
            let stat = one_stat(&rest, 1, "check NAME")?;
            if stat != "pass_rate" {
                return Err(format!(
                    "unknown statistic `{stat}` for `check`; use `pass_rate`"
                ));
            }
            Ok((format!("check \"{name}\" pass_rate"), FigureKind::Fraction))
        }
        "failures" => match rest.as_slice() {
            [reason] => Ok((format!("failures \"{reason}\""), FigureKind::Count)),
            _ => Err(
                "`failures` needs one reason, quoted: `failures \"connect: connection refused\" < +10%`"
                    .into(),
            ),
        },
        "throughput" => {
            no_stat(&rest, &subject)?;
            Ok((subject, FigureKind::PerSecond))
        }
        "reply_timeouts" | "requests_abandoned" | "scenario_errors" => {
            no_stat(&rest, &subject)?;
            Ok((subject, FigureKind::Count))
        }
        other => Err(format!(
            "unknown figure `{other}`; {}",
            suggest(other, &[TIMINGS, OTHER_SUBJECTS].concat())
        )),
    }
}

/// A signed number at the start of `text` and the unit after it.
fn signed(text: &str) -> Result<(f64, &str), String> {
    let sign = match text.chars().next() {
        Some('+') => 1.0,
        Some('-' | '−') => -1.0,
        _ => {
            return Err(format!(
                "`{text}` needs a sign: a rule limits a change, e.g. `+{text}` (an increase) or `-{text}` (a decrease)"
            ));
        }
    };
    let digits = text
        .chars()
        .next()
        .map_or("", |first| &text[first.len_utf8()..]);
    let split = digits
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(digits.len());
    let number: f64 = digits[..split]
        .parse()
        .map_err(|_| format!("`{text}` is not a change; write e.g. `+10%`"))?;
    Ok((sign * number, &digits[split..]))
}

/// The change part of a rule, for a figure of `kind`.
fn limit(text: &str, kind: FigureKind) -> Result<Limit, String> {
    let (number, unit) = signed(text)?;
    let micros = |scale: f64| match kind {
        FigureKind::Timing => Ok(Limit::Absolute(number * scale)),
        _ => Err(format!(
            "`{text}`: a time limits only a timing; write the change in `%`"
        )),
    };
    match unit {
        "%" => Ok(Limit::Relative(number / 100.0)),
        "pp" => match kind {
            FigureKind::Fraction => Ok(Limit::Absolute(number / 100.0)),
            _ => Err(format!(
                "`{text}`: percentage points (`pp`) limit only a rate (`pass_rate`, `failure_rate`); write `%` here"
            )),
        },
        "us" | "µs" => micros(1.0),
        "ms" => micros(1e3),
        "s" => micros(1e6),
        "" => match kind {
            FigureKind::Timing => Err(format!(
                "`{text}` needs a unit: `{text}%`, `{text}ms` or `{text}us`"
            )),
            FigureKind::Fraction => Err(format!(
                "`{text}` needs a unit: `{text}pp` (percentage points) or `{text}%` (relative)"
            )),
            _ => Ok(Limit::Absolute(number)),
        },
        "/s" if kind == FigureKind::PerSecond => Ok(Limit::Absolute(number)),
        other => Err(format!(
            "unknown unit `{other}` in `{text}`; write the change as `+10%`{}",
            match kind {
                FigureKind::Timing => ", `+2ms`",
                FigureKind::Fraction => ", `-0.1pp`",
                _ => " or a plain number",
            }
        )),
    }
}

impl Regression {
    /// Parse one rule, e.g. `round_trip p99 < +10%`.
    pub fn parse(expression: &str) -> Result<Regression, String> {
        let expression = expression.trim();
        let (rest, change) =
            split_last(expression).ok_or_else(|| format!("`{expression}`: {USAGE}"))?;
        let (figure_text, op) =
            split_last(rest).ok_or_else(|| format!("`{expression}`: {USAGE}"))?;
        let bound = match op {
            "<" => Bound::Below,
            "<=" => Bound::AtMost,
            ">" => Bound::Above,
            ">=" => Bound::AtLeast,
            "==" | "=" | "!=" => {
                return Err(format!(
                    "`{op}` cannot limit a change (it is never exactly equal); use <, <=, > or >="
                ));
            }
            other => {
                return Err(format!(
                    "unknown comparison `{other}`; {USAGE} (use <, <=, > or >=)"
                ));
            }
        };
        let (figure, kind) = figure(figure_text)?;
        let limit = limit(change, kind)?;
        Ok(Regression {
            expression: expression.to_owned(),
            figure,
            kind,
            bound,
            limit,
            position: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(rule: &str) -> Result<Regression, String> {
        Regression::parse(rule)
    }

    #[test]
    fn parses_the_documented_forms() -> Result<(), String> {
        let rule = parse("round_trip p99 < +10%")?;
        assert_eq!(
            (rule.figure.as_str(), rule.kind, rule.bound, rule.limit),
            (
                "round_trip p99",
                FigureKind::Timing,
                Bound::Below,
                Limit::Relative(0.10)
            )
        );
        let rule = parse("connect p99 < +25%")?;
        assert_eq!(rule.figure, "connect_time p99");
        assert_eq!(rule.expression, "connect p99 < +25%");
        let rule = parse("checks pass_rate > -0.1pp")?;
        assert_eq!(
            (rule.figure.as_str(), rule.kind, rule.bound),
            ("checks pass_rate", FigureKind::Fraction, Bound::Above)
        );
        assert!(matches!(rule.limit, Limit::Absolute(x) if (x + 0.001).abs() < 1e-12));
        let rule = parse("throughput > -5%")?;
        assert_eq!(
            (rule.figure.as_str(), rule.limit),
            ("throughput", Limit::Relative(-0.05))
        );
        let rule = parse("round_trip{login} p99 <= +2ms")?;
        assert_eq!(
            (rule.figure.as_str(), rule.bound, rule.limit),
            (
                "round_trip{login} p99",
                Bound::AtMost,
                Limit::Absolute(2_000.0)
            )
        );
        let rule = parse("latency{deliver} p99 < +20%")?;
        assert_eq!(rule.figure, "latency{deliver} p99");
        let rule = parse(r#"round_trip{"order placed"} p99.9 < +50%"#)?;
        assert_eq!(rule.figure, "round_trip{order placed} p99.9");
        assert_eq!(parse("timer_lag p999 < +1s")?.figure, "timer_lag p99.9");
        let rule = parse(r#"check "echo matches" pass_rate >= -1pp"#)?;
        assert_eq!(rule.figure, r#"check "echo matches" pass_rate"#);
        let rule = parse(r#"failures "connect: connection refused" < +5"#)?;
        assert_eq!(rule.figure, r#"failures "connect: connection refused""#);
        assert_eq!(rule.limit, Limit::Absolute(5.0));
        assert!(rule.absent_when_zero());
        assert_eq!(
            parse("metric reply_bytes p50 < +1%")?.figure,
            "metric reply_bytes p50"
        );
        assert_eq!(
            parse("connections failure_rate < +0.5pp")?.kind,
            FigureKind::Fraction
        );
        assert!(!parse("messages received > -1%")?.absent_when_zero());
        assert!(parse("scenario_errors < +1")?.absent_when_zero());
        Ok(())
    }

    /// The error of `rule`, which must not parse.
    fn error(rule: &str) -> String {
        match parse(rule) {
            Ok(parsed) => panic!("`{rule}` parsed as {parsed:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn malformed_rules_are_explained() {
        for (rule, expected) in [
            ("", "write `FIGURE OP CHANGE`"),
            ("round_trip", "write `FIGURE OP CHANGE`"),
            ("< +10%", "write `FIGURE OP CHANGE`"),
            (
                "round_trips p99 < +10%",
                "unknown figure `round_trips`; did you mean `round_trip`?",
            ),
            ("latency p99 < +10%", "unknown figure `latency`"),
            (
                "round_trip p98 < +10%",
                "unknown statistic `p98` for `round_trip`",
            ),
            ("round_trip < +10%", "`round_trip` needs a statistic"),
            (
                "round_trip p99 extra < +10%",
                "has words after the statistic",
            ),
            (
                "round_trip max < +10%",
                "a maximum has no sampling distribution",
            ),
            ("connections peak_open < +10%", "could never fail"),
            ("messages bytes_sent < +10%", "byte counts"),
            ("round_trip p99 < 10%", "needs a sign"),
            ("round_trip p99 < +ten%", "is not a change"),
            ("round_trip p99 < +10", "needs a unit: `+10%`, `+10ms`"),
            (
                "round_trip p99 < +10pp",
                "percentage points (`pp`) limit only a rate",
            ),
            ("round_trip p99 < +10x", "unknown unit `x`"),
            ("round_trip p99 ~ +10%", "unknown comparison `~`"),
            ("round_trip p99 == +10%", "cannot limit a change"),
            ("checks pass_rate > -0.1", "needs a unit: `-0.1pp`"),
            ("checks pass_rate > -1ms", "a time limits only a timing"),
            (
                "checks passed > -1%",
                "unknown statistic `passed` for `checks`",
            ),
            ("throughput p99 > -5%", "takes no statistic"),
            ("round_trip{login p99 < +10%", "unclosed `round_trip{`"),
            ("round_trip{} p99 < +10%", "needs a request name"),
            ("check \"echo p99 < +10%", "unclosed quote"),
            ("metric < +10%", "`metric` needs a name"),
            ("metric bytes < +10%", "`metric NAME` needs a statistic"),
            ("round_trip p99 < +-10%", "is not a change"),
            ("failures < +10%", "needs one reason"),
        ] {
            let error = error(rule);
            assert!(error.contains(expected), "`{rule}`: {error}");
        }
    }

    #[test]
    fn bounds() {
        assert!(Bound::Below.holds(0.05, 0.10) && !Bound::Below.holds(0.10, 0.10));
        assert!(Bound::AtMost.holds(0.10, 0.10));
        assert!(Bound::Above.holds(-0.01, -0.05) && !Bound::Above.holds(-0.06, -0.05));
        assert!(Bound::AtLeast.holds(-0.05, -0.05));
    }
}
