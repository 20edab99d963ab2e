//! The `metrics:` section: custom metrics declared with their kind (k6's four), e.g.
//! `delivery_ms: duration`, `messages_seen: counter`, `accepted: rate`, `payload_bytes: value`,
//! and the load-time checks that tie a threshold on a custom metric to its declaration: the
//! metric is declared (when the file declares any), the statistic fits the kind (`p99` of a
//! counter is refused), the limit has the kind's unit (`50ms` for a duration, `99%` for a rate).
//! Pure: read from `raw`, called by `validate`; recording by kind lives in `measure`, judging in
//! `results::thresholds`.

use super::rule_words::suggest;
use super::threshold::{LimitUnit, Subject, Threshold};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a custom metric's values mean, and so how they are kept, merged, judged and printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Milliseconds: a distribution printed as durations (`p50=1.30ms`), judged with time units.
    Duration,
    /// Each value is added to a total (summed across connections, workers and shards).
    Counter,
    /// Each value counts as true (≠ 0) or false (0); reported as the fraction of true values.
    Rate,
    /// A distribution of plain numbers (what an undeclared metric is).
    #[default]
    Value,
}

impl MetricKind {
    /// The kind as written in a file (`duration`, `counter`, `rate`, `value`).
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Duration => "duration",
            MetricKind::Counter => "counter",
            MetricKind::Rate => "rate",
            MetricKind::Value => "value",
        }
    }

    /// The statistics a threshold may judge on a metric of this kind.
    pub fn stats(self) -> &'static [&'static str] {
        match self {
            MetricKind::Duration | MetricKind::Value => &[
                "min", "mean", "p50", "p75", "p90", "p95", "p99", "p99.9", "p999", "max", "count",
            ],
            // `count` is the total (k6's word), `rate` the total per second of the run.
            MetricKind::Counter => &["count", "rate"],
            // `rate` is the fraction of true values, `count` how many values were recorded.
            MetricKind::Rate => &["rate", "count"],
        }
    }

    /// Whether `value` counts as true in a rate (any value but 0; NaN is refused before this).
    pub fn truth(value: f64) -> f64 {
        if value != 0.0 { 1.0 } else { 0.0 }
    }
}

/// The file's `metrics:` section, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeclaredMetrics {
    /// Whether the file has a `metrics:` section (then every metric a threshold names must be
    /// declared in it).
    pub section: bool,
    /// Each declared metric's kind, by name.
    pub kinds: BTreeMap<String, MetricKind>,
}

impl DeclaredMetrics {
    /// The kind of `name`: as declared, else [`MetricKind::Value`].
    pub fn kind(&self, name: &str) -> MetricKind {
        self.kinds.get(name).copied().unwrap_or_default()
    }

    /// Check `rule` against the declarations. `Ok(Some(warning))` when the file declares no
    /// metrics and the rule names one (it runs as a `value`, and a misspelt name is only noticed
    /// at the end of the run); `Err` with the fix when the rule cannot be judged as written.
    pub fn check(&self, rule: &Threshold) -> Result<Option<String>, String> {
        let Subject::Metric(name) = &rule.subject else {
            return Ok(None);
        };
        let mut warning = None;
        let kind = match self.kinds.get(name) {
            Some(kind) => *kind,
            None if self.section => {
                let names: Vec<&str> = self.kinds.keys().map(String::as_str).collect();
                let hint = match super::closest(name, names.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`? "),
                    None => String::new(),
                };
                return Err(format!(
                    "metric `{name}` is not declared under `metrics:`; {hint}declare it under metrics: (`{name}: duration`, `counter`, `rate` or `value`) or fix the name"
                ));
            }
            None => {
                warning = Some(format!(
                    "threshold `{}` names metric `{name}`, which the file does not declare: it is judged as a `value`, and a misspelt name only shows as `no data` after the run; declare it, e.g. `metrics: {{ {name}: value }}` (or duration, counter, rate)",
                    rule.expression
                ));
                MetricKind::Value
            }
        };
        let stats = kind.stats();
        if !stats.contains(&rule.stat.as_str()) {
            return Err(format!(
                "`{}` is not a statistic of a {} metric (`{name}`); {}",
                rule.stat,
                kind.name(),
                suggest(&rule.stat, stats)
            ));
        }
        let wanted = match (kind, rule.stat.as_str()) {
            (_, "count") => LimitUnit::Number,
            (MetricKind::Duration, _) => LimitUnit::Time,
            (MetricKind::Rate, "rate") => LimitUnit::Fraction,
            _ => LimitUnit::Number,
        };
        match (wanted, rule.unit) {
            (wanted, unit) if wanted == unit => Ok(warning),
            // A fraction may be written as a plain number from 0 to 1.
            (LimitUnit::Fraction, LimitUnit::Number) if (0.0..=1.0).contains(&rule.limit) => {
                Ok(warning)
            }
            (LimitUnit::Time, _) => Err(format!(
                "`{name}` is a duration metric: write its limit with a unit, e.g. `50ms`, `2s` or `500us`"
            )),
            (LimitUnit::Fraction, _) => Err(format!(
                "`{name}` is a rate metric: write its limit as a percentage such as `99%` (or a fraction 0–1)"
            )),
            (LimitUnit::Number, LimitUnit::Time) if kind == MetricKind::Value => Err(format!(
                "the limit is a duration but `{name}` is a value metric: declare it under metrics: as `{name}: duration` to judge it in time units, or write a plain number"
            )),
            (LimitUnit::Number, LimitUnit::Time) => Err(format!(
                "`{}` of `{name}` is a plain number: write the limit without a time unit",
                rule.stat
            )),
            (LimitUnit::Number, _) => Err(format!(
                "`{}` of `{name}` is a plain number: write the limit without `%`",
                rule.stat
            )),
        }
    }

    /// Check a regression rule's figure (`metric NAME STAT`) against the declarations: a rate is
    /// compared on its `rate`, a duration or value on its percentiles; a counter's total is not
    /// tested for significance, so a rule on it could never fail.
    pub fn check_regression(&self, figure: &str) -> Result<(), String> {
        let Some((name, stat)) = figure
            .strip_prefix("metric ")
            .and_then(|rest| rest.rsplit_once(' '))
        else {
            return Ok(());
        };
        if self.section && !self.kinds.contains_key(name) {
            self.check_recorded(name)?;
        }
        match (self.kind(name), stat) {
            (MetricKind::Counter, _) => Err(format!(
                "`{name}` is a counter: `volley compare` shows its total without a significance test, so a regression rule on it could never fail; use a threshold such as `metric {name} count >= 1000`"
            )),
            (MetricKind::Rate, "rate") => Ok(()),
            (MetricKind::Rate, _) => Err(format!(
                "`{name}` is a rate metric: write `metric {name} rate > -1pp`"
            )),
            (kind, "rate") => Err(format!(
                "`rate` is a statistic of rate metrics, and `{name}` is a {} metric; use a percentile such as `p99`",
                kind.name()
            )),
            _ => Ok(()),
        }
    }

    /// Check `name` recorded by a flow step: with a `metrics:` section it must be declared.
    pub fn check_recorded(&self, name: &str) -> Result<(), String> {
        if !self.section || self.kinds.contains_key(name) {
            return Ok(());
        }
        let names: Vec<&str> = self.kinds.keys().map(String::as_str).collect();
        let hint = match super::closest(name, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`? "),
            None => String::new(),
        };
        Err(format!(
            "metric `{name}` is not declared under `metrics:`; {hint}declare it there (`{name}: value`, `duration`, `counter` or `rate`) or fix the name"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> DeclaredMetrics {
        DeclaredMetrics {
            section: true,
            kinds: [
                ("delivery_ms", MetricKind::Duration),
                ("messages_seen", MetricKind::Counter),
                ("accepted", MetricKind::Rate),
                ("payload_bytes", MetricKind::Value),
            ]
            .into_iter()
            .map(|(name, kind)| (name.to_owned(), kind))
            .collect(),
        }
    }

    fn check(metrics: &DeclaredMetrics, rule: &str) -> Result<Option<String>, String> {
        metrics.check(&Threshold::parse(rule, false)?)
    }

    #[test]
    fn each_kind_takes_its_statistics_and_units() {
        let metrics = declared();
        for rule in [
            "metric delivery_ms p99 < 50ms",
            "metric delivery_ms avg < 1s",
            "metric delivery_ms count >= 10",
            "metric messages_seen count >= 1000",
            "metric messages_seen rate > 10",
            "metric accepted rate > 99%",
            "metric accepted rate > 0.99",
            "metric payload_bytes p95 < 5000",
            "checks pass_rate > 99%",
        ] {
            assert_eq!(check(&metrics, rule), Ok(None), "{rule}");
        }
    }

    #[test]
    fn a_statistic_or_unit_that_does_not_fit_the_kind_is_refused() {
        let metrics = declared();
        let error = check(&metrics, "metric messages_seen p99 < 5").unwrap_err();
        assert!(
            error.contains("not a statistic of a counter metric"),
            "{error}"
        );
        let error = check(&metrics, "metric delivery_ms p99 < 50").unwrap_err();
        assert!(error.contains("`50ms`"), "{error}");
        let error = check(&metrics, "metric payload_bytes p99 < 50ms").unwrap_err();
        assert!(error.contains("payload_bytes: duration"), "{error}");
        let error = check(&metrics, "metric accepted rate > 99").unwrap_err();
        assert!(error.contains("percentage"), "{error}");
        let error = check(&metrics, "metric messages_seen count > 5%").unwrap_err();
        assert!(error.contains("without `%`"), "{error}");
    }

    #[test]
    fn an_undeclared_name_is_refused_with_a_section_and_warned_about_without() {
        let error = check(&declared(), "metric delivery_sm p99 < 50ms").unwrap_err();
        assert!(
            error.contains("did you mean `delivery_ms`?")
                && error.contains("declare it under metrics:"),
            "{error}"
        );
        let none = DeclaredMetrics::default();
        let warning = check(&none, "metric payload_bytes p95 < 5000");
        assert!(
            matches!(&warning, Ok(Some(text)) if text.contains("declare it")),
            "{warning:?}"
        );
        // Without a declaration a metric is a value: time units need one.
        assert!(check(&none, "metric delivery_ms p99 < 50ms").is_err());
        assert!(declared().check_recorded("accepted").is_ok());
        assert!(
            declared()
                .check_recorded("acepted")
                .is_err_and(|error| error.contains("did you mean `accepted`?"))
        );
        assert!(none.check_recorded("anything").is_ok());
    }

    #[test]
    fn rates_count_any_nonzero_value_as_true() {
        assert_eq!(MetricKind::truth(0.0), 0.0);
        assert_eq!(MetricKind::truth(-0.0), 0.0);
        assert_eq!(MetricKind::truth(3.5), 1.0);
        assert_eq!(MetricKind::truth(-1.0), 1.0);
    }
}
