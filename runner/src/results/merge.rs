//! `volley merge`: combine the results of several runs of one scenario (shards on several
//! machines) into one result. Counts add up and histograms are merged from their encoded form, so
//! every percentile is exactly what one run holding all the populations would report (and the exact
//! count, sum, min and max beside each histogram add up too); thresholds
//! are evaluated again on the merged figures. The time series is aligned by interval: counts add,
//! per-interval percentiles take the worst shard's (an upper bound, not exact).

use crate::config::threshold::Threshold;
use crate::measure::series::Point;
use crate::measure::stats::METRIC_SCALE;
use crate::results::report::{Distribution, Report};
use std::collections::BTreeMap;

fn add_maps(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (key, count) in from {
        *into.entry(key.clone()).or_default() += count;
    }
}

fn merge_distribution(
    a: &Distribution,
    b: &Distribution,
    scale: f64,
    what: &str,
) -> Result<Distribution, String> {
    let mut recorded = a.recorded().map_err(|error| format!("{what}: {error}"))?;
    let other = b.recorded().map_err(|error| format!("{what}: {error}"))?;
    recorded.merge(&other);
    Ok(Distribution::of(&recorded, scale))
}

/// Merge distributions by name (`scale` 1 for µs timings, [`METRIC_SCALE`] for metrics).
fn merge_named(
    mine: &mut BTreeMap<String, Distribution>,
    theirs: &BTreeMap<String, Distribution>,
    scale: f64,
) -> Result<(), String> {
    for (name, distribution) in theirs {
        let merged = match mine.get(name) {
            Some(existing) => merge_distribution(existing, distribution, scale, name)?,
            None => distribution.clone(),
        };
        mine.insert(name.clone(), merged);
    }
    Ok(())
}

fn max_option(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Add `theirs`, another run's point number `index`, into `points` (one run's series, or the sum
/// so far): counts and `open` add, `t` is the later one, percentiles the worst run's.
pub fn add_point(points: &mut Vec<Point>, index: usize, theirs: &Point) {
    match points.get_mut(index) {
        Some(mine) => {
            mine.t = mine.t.max(theirs.t);
            mine.open += theirs.open;
            mine.sent += theirs.sent;
            mine.received += theirs.received;
            mine.round_trips += theirs.round_trips;
            mine.failed += theirs.failed;
            mine.rtt_p50 = max_option(mine.rtt_p50, theirs.rtt_p50);
            mine.rtt_p90 = max_option(mine.rtt_p90, theirs.rtt_p90);
            mine.rtt_p99 = max_option(mine.rtt_p99, theirs.rtt_p99);
            mine.rtt_max = max_option(mine.rtt_max, theirs.rtt_max);
            mine.timer_lag_p99 = max_option(mine.timer_lag_p99, theirs.timer_lag_p99);
            add_maps(&mut mine.errors, &theirs.errors);
        }
        None => points.push(theirs.clone()),
    }
}

/// Merge `b` into `a`.
fn merge_two(mut a: Report, b: &Report) -> Result<Report, String> {
    if a.schema != b.schema {
        return Err(format!(
            "cannot merge results of different schemas (`{}` and `{}`)",
            a.schema, b.schema
        ));
    }
    if (a.series.interval_s - b.series.interval_s).abs() > 1e-9
        && !a.series.points.is_empty()
        && !b.series.points.is_empty()
    {
        return Err(format!(
            "cannot merge time series with different intervals ({}s and {}s); rerun with the same --interval",
            a.series.interval_s, b.series.interval_s
        ));
    }
    if a.scenario.name != b.scenario.name {
        return Err(format!(
            "cannot merge results of different scenarios (`{}` and `{}`)",
            a.scenario.name, b.scenario.name
        ));
    }
    let (mine, theirs) = (&a.scenario.module_sha256, &b.scenario.module_sha256);
    if !mine.is_empty() && !theirs.is_empty() && mine != theirs {
        let short = |digest: &str| digest.get(..12).unwrap_or(digest).to_owned();
        return Err(format!(
            "cannot merge results of different modules (sha256 {}… and {}…): every shard must run the same build of `{}`",
            short(mine),
            short(theirs),
            a.scenario.name
        ));
    }
    if mine.is_empty() {
        a.scenario.module_sha256 = b.scenario.module_sha256.clone();
        a.scenario.interface = b.scenario.interface.clone();
    }
    let c = &mut a.connections;
    c.attempted += b.connections.attempted;
    c.established += b.connections.established;
    c.failed += b.connections.failed;
    c.closed_by_server += b.connections.closed_by_server;
    c.peak_open += b.connections.peak_open;
    c.dropped_arrivals += b.connections.dropped_arrivals;
    c.expected_rejections += b.connections.expected_rejections;
    add_maps(&mut c.failed_by_reason, &b.connections.failed_by_reason);
    for (reason, example) in &b.connections.examples {
        c.examples
            .entry(reason.clone())
            .or_insert_with(|| example.clone());
    }
    a.messages.sent += b.messages.sent;
    a.messages.received += b.messages.received;
    a.messages.bytes_sent += b.messages.bytes_sent;
    a.messages.bytes_received += b.messages.bytes_received;
    a.reply_timeouts += b.reply_timeouts;
    a.requests_abandoned += b.requests_abandoned;
    a.long_callbacks.count += b.long_callbacks.count;
    a.long_callbacks.max_us = a.long_callbacks.max_us.max(b.long_callbacks.max_us);
    a.long_callbacks.threshold_us = a
        .long_callbacks
        .threshold_us
        .max(b.long_callbacks.threshold_us);
    add_maps(&mut a.scenario_errors, &b.scenario_errors);
    for check in &b.checks {
        match a.checks.iter_mut().find(|mine| mine.name == check.name) {
            Some(mine) => {
                mine.passed += check.passed;
                mine.failed += check.failed;
            }
            None => a.checks.push(check.clone()),
        }
    }
    a.checks.sort_by(|x, y| x.name.cmp(&y.name));
    a.round_trips = merge_distribution(&a.round_trips, &b.round_trips, 1.0, "round_trips")?;
    merge_named(&mut a.round_trips_by_name, &b.round_trips_by_name, 1.0)?;
    a.timer_lag = merge_distribution(&a.timer_lag, &b.timer_lag, 1.0, "timer_lag")?;
    a.arrival_lag = merge_distribution(&a.arrival_lag, &b.arrival_lag, 1.0, "arrival_lag")?;
    a.connect_time = merge_distribution(&a.connect_time, &b.connect_time, 1.0, "connect_time")?;
    a.ping_rtt = merge_distribution(&a.ping_rtt, &b.ping_rtt, 1.0, "ping_rtt")?;
    merge_named(&mut a.connect_phases, &b.connect_phases, 1.0)?;
    let n = &mut a.network;
    n.tls_full_handshakes += b.network.tls_full_handshakes;
    n.tls_resumed_handshakes += b.network.tls_resumed_handshakes;
    n.reconnects += b.network.reconnects;
    n.reconnect_give_ups += b.network.reconnect_give_ups;
    n.dns_queries += b.network.dns_queries;
    n.pings_sent += b.network.pings_sent;
    match (&mut a.data, &b.data) {
        (Some(mine), Some(theirs)) => mine.exhausted += theirs.exhausted,
        (mine @ None, Some(theirs)) => *mine = Some(theirs.clone()),
        _ => {}
    }
    merge_named(&mut a.metrics, &b.metrics, METRIC_SCALE)?;
    for (index, theirs) in b.series.points.iter().enumerate() {
        add_point(&mut a.series.points, index, theirs);
    }
    let run = &mut a.run;
    run.started_at_unix_s = run.started_at_unix_s.min(b.run.started_at_unix_s);
    run.elapsed_s = run.elapsed_s.max(b.run.elapsed_s);
    run.connections += b.run.connections;
    run.interrupted |= b.run.interrupted;
    run.aborted_by = run.aborted_by.take().or(b.run.aborted_by.clone());
    run.max_duration_reached = run
        .max_duration_reached
        .take()
        .or(b.run.max_duration_reached.clone());
    run.merged_runs += b.run.merged_runs;
    a.process.peak_rss_kib += b.process.peak_rss_kib;
    a.process.cpu_user_s += b.process.cpu_user_s;
    a.process.cpu_system_s += b.process.cpu_system_s;
    a.process.start_rss_kib += b.process.start_rss_kib;
    a.process.embedded_server = match (a.process.embedded_server, b.process.embedded_server) {
        (Some(x), Some(y)) => Some(crate::measure::process::CpuTime {
            cpu_user_s: x.cpu_user_s + y.cpu_user_s,
            cpu_system_s: x.cpu_system_s + y.cpu_system_s,
        }),
        (x, y) => x.or(y),
    };
    Ok(a)
}

/// The threshold rules a report was judged by.
fn rules_of(report: &Report) -> Result<Vec<Threshold>, String> {
    report
        .thresholds
        .iter()
        .map(|outcome| Threshold::parse(&outcome.expression, outcome.abort))
        .collect()
}

/// Count a shard that left no results (a worker killed or crashed) into `report`: its
/// `connections` are planned, attempted and failed with `reason`, and the verdict is judged again.
pub fn count_lost_shard(report: &mut Report, connections: u32, reason: &str) -> Result<(), String> {
    let rules = rules_of(report)?;
    let lost = u64::from(connections);
    report.run.connections += connections;
    report.run.merged_runs += 1;
    report.connections.attempted += lost;
    report.connections.failed += lost;
    *report
        .connections
        .failed_by_reason
        .entry(reason.to_owned())
        .or_default() += lost;
    report.apply_thresholds(&rules);
    Ok(())
}

/// Merge several results into one, re-evaluating the first file's thresholds.
pub fn merge(reports: Vec<Report>) -> Result<Report, String> {
    let mut reports = reports.into_iter();
    let first = reports.next().ok_or("nothing to merge")?;
    let rules = rules_of(&first)?;
    let mut merged = first;
    for report in reports {
        merged = merge_two(merged, &report)?;
    }
    merged.warnings = crate::results::health::warnings(&merged);
    merged.apply_thresholds(&rules);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::stats::{Samples, Totals};

    /// A shard's results file holding the metric `m` with `values`, as written and read back.
    fn shard_with_metric(values: &[f64]) -> Result<Report, String> {
        let mut samples = Samples::default();
        samples.metrics.insert("m".into(), values.to_vec());
        let mut totals = Totals::default();
        samples.drain_into(&mut totals);
        let mut report = Report::build(
            Default::default(),
            Default::default(),
            Default::default(),
            &totals,
            Default::default(),
        );
        report.apply_thresholds(&[Threshold::parse("metric m min >= 2059", false)?]);
        serde_json::from_str(&report.to_json()).map_err(|error| error.to_string())
    }

    #[test]
    fn issue_21_whole_metric_values_stay_whole_across_shards() -> Result<(), String> {
        let merged = merge(vec![
            shard_with_metric(&[2059.0; 3])?,
            shard_with_metric(&[2059.0; 2])?,
        ])?;
        let m = &merged.metrics["m"];
        assert_eq!((m.count, m.min, m.max, m.mean), (5, 2059.0, 2059.0, 2059.0));
        assert_eq!((m.p50, m.p99, m.sum), (2059.0, 2059.0, Some(10_295.0)));
        assert!(
            merged.thresholds.iter().all(|rule| rule.passed),
            "{merged:?}"
        );
        let hundred = merge(vec![shard_with_metric(&[1980.0; 100])?])?;
        assert_eq!(hundred.metrics["m"].mean, 1980.0);
        Ok(())
    }

    #[test]
    fn issue_21_any_finite_metric_value_merges() -> Result<(), String> {
        let merged = merge(vec![
            shard_with_metric(&[1.0, 7e13, 1.7e15])?,
            shard_with_metric(&[9e15, 1e300, -3.0, f64::NAN])?,
        ])?;
        let m = &merged.metrics["m"];
        assert_eq!((m.count, m.min, m.max), (6, -3.0, 1e300));
        assert_eq!((m.clamped, m.not_finite), (3, 1));
        let again: Report =
            serde_json::from_str(&merged.to_json()).map_err(|error| error.to_string())?;
        assert_eq!(again.metrics["m"], *m);
        Ok(())
    }

    #[test]
    fn a_results_file_without_exact_sums_still_merges() -> Result<(), String> {
        let mut old = shard_with_metric(&[10.0, 30.0])?;
        let mut json: serde_json::Value =
            serde_json::from_str(&old.to_json()).map_err(|error| error.to_string())?;
        if let Some(m) = json
            .pointer_mut("/metrics/m")
            .and_then(|m| m.as_object_mut())
        {
            m.remove("sum");
        }
        old = serde_json::from_value(json).map_err(|error| error.to_string())?;
        assert_eq!(old.metrics["m"].sum, None);
        let merged = merge(vec![old, shard_with_metric(&[50.0])?])?;
        let m = &merged.metrics["m"];
        assert_eq!((m.count, m.sum, m.mean), (3, Some(90.0), 30.0));
        Ok(())
    }
}
