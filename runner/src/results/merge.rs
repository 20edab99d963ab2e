//! `volley merge`: combine the results of the shards of one run (`--shard I/N` on several
//! machines, the workers of `--workers`) into one result. It first checks what it merges: every
//! file must carry the same run id and shard count, no shard may come twice, and every shard of
//! the run must be there unless the caller allows a partial result (`--partial`), which is then
//! marked partial (`run.partial`, `run.missing_shards`, a warning). Counts add up and histograms
//! are merged from their encoded form, so every percentile is exactly what one run holding all
//! the populations would report (and the exact count, sum, min and max beside each histogram add
//! up too); thresholds are evaluated again on the merged figures. The time
//! series is lined up by wall-clock time (`timeline`), and `elapsed_s` spans the first shard's
//! start to the last one's end.

use crate::config::threshold::Threshold;
use crate::measure::stats::METRIC_SCALE;
use crate::results::report::{Distribution, Report};
use crate::results::timeline::Timeline;
use std::collections::BTreeMap;

/// Why results could not be merged (`volley merge` exits 2).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No file was given.
    #[error("nothing to merge")]
    Nothing,
    /// A file does not say which run and shard it holds.
    #[error(
        "{0} does not say which run and shard it holds (no run.id: written by an older volley); rerun it with this volley"
    )]
    NoIdentity(String),
    /// Two files are of different runs.
    #[error(
        "{first} is of run `{first_id}` but {other} is of run `{other_id}`: merge the shards of one run (every shard of a run carries the same --run-id)"
    )]
    DifferentRuns {
        /// The first file.
        first: String,
        /// Its run id.
        first_id: String,
        /// The file of another run.
        other: String,
        /// Its run id.
        other_id: String,
    },
    /// Two files split the run into different numbers of shards.
    #[error(
        "{first} is a shard of {first_count} but {other} is a shard of {other_count}: mixed shard counts"
    )]
    MixedCounts {
        /// The first file.
        first: String,
        /// Its shard count.
        first_count: u32,
        /// The other file.
        other: String,
        /// Its shard count.
        other_count: u32,
    },
    /// A shard is in two files (or one file given twice).
    #[error(
        "shard {shard}/{count} is in both {first} and {other}: merging it twice would count it twice"
    )]
    Duplicate {
        /// The shard index.
        shard: u32,
        /// The shard count.
        count: u32,
        /// The file that has it first.
        first: String,
        /// The other file that has it.
        other: String,
    },
    /// Shards of the run are missing and a partial result was not asked for.
    #[error("{}", missing_shards(.id, .count, .missing))]
    Missing {
        /// The run id.
        id: String,
        /// The shard count.
        count: u32,
        /// The missing shard indexes.
        missing: Vec<u32>,
    },
    /// The figures themselves could not be merged.
    #[error("{0}")]
    Figures(String),
}

/// What [`MergeError::Missing`] says.
fn missing_shards(id: &str, count: &u32, missing: &[u32]) -> String {
    let list: Vec<String> = missing.iter().map(u32::to_string).collect();
    let (shards, files) = if missing.len() == 1 {
        ("shard", "its file")
    } else {
        ("shards", "their files")
    };
    let are = if missing.len() == 1 { "is" } else { "are" };
    format!(
        "{shards} {} of {count} of run `{id}` {are} missing: merge {files} too, or pass --partial to merge what is here and mark the result partial",
        list.join(", ")
    )
}

/// What the merged files hold together: the run, its shard count, the shards present and missing.
#[derive(Debug, PartialEq)]
struct Identity {
    id: String,
    count: u32,
    present: Vec<u32>,
    missing: Vec<u32>,
}

/// Check that `inputs` (name, report) are distinct shards of one run; all of it unless `partial`.
fn identity(inputs: &[(String, Report)], partial: bool) -> Result<Identity, MergeError> {
    let Some((first, first_report)) = inputs.first() else {
        return Err(MergeError::Nothing);
    };
    let (id, count) = (&first_report.run.id, first_report.run.shard_count.max(1));
    let mut owner: BTreeMap<u32, &str> = BTreeMap::new();
    for (name, report) in inputs {
        let run = &report.run;
        if run.id.is_empty() || run.shards.is_empty() {
            return Err(MergeError::NoIdentity(name.clone()));
        }
        if &run.id != id {
            return Err(MergeError::DifferentRuns {
                first: first.clone(),
                first_id: id.clone(),
                other: name.clone(),
                other_id: run.id.clone(),
            });
        }
        if run.shard_count.max(1) != count || run.shards.iter().any(|shard| *shard >= count) {
            return Err(MergeError::MixedCounts {
                first: first.clone(),
                first_count: count,
                other: name.clone(),
                other_count: run.shard_count,
            });
        }
        for shard in &run.shards {
            if let Some(before) = owner.insert(*shard, name.as_str()) {
                return Err(MergeError::Duplicate {
                    shard: *shard,
                    count,
                    first: before.to_owned(),
                    other: name.clone(),
                });
            }
        }
    }
    let present: Vec<u32> = owner.keys().copied().collect();
    let missing: Vec<u32> = (0..count)
        .filter(|shard| !owner.contains_key(shard))
        .collect();
    if !missing.is_empty() && !partial {
        return Err(MergeError::Missing {
            id: id.clone(),
            count,
            missing,
        });
    }
    Ok(Identity {
        id: id.clone(),
        count,
        present,
        missing,
    })
}

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
    // A custom metric keeps its kind: a counter's sums and a rate's true values add exactly.
    Ok(Distribution {
        kind: a.kind.or(b.kind),
        ..Distribution::of(&recorded, scale)
    })
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
    c.arrivals += b.connections.arrivals;
    c.pending_at_end += b.connections.pending_at_end;
    c.expected_rejections += b.connections.expected_rejections;
    c.goodbyes += b.connections.goodbyes;
    c.goodbye_timeouts += b.connections.goodbye_timeouts;
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
    a.messages.wire_bytes_sent += b.messages.wire_bytes_sent;
    a.messages.wire_bytes_received += b.messages.wire_bytes_received;
    a.messages.compressed_sent += b.messages.compressed_sent;
    a.messages.compressed_received += b.messages.compressed_received;
    // Shards of one run share the file, but `--set` may differ between them: keep every setting.
    let (mine, theirs) = (&mut a.compression.setting, &b.compression.setting);
    if mine.is_empty() {
        mine.clone_from(theirs);
    } else if !theirs.is_empty() && !mine.split("; ").any(|setting| setting == theirs) {
        mine.push_str("; ");
        mine.push_str(theirs);
    }
    add_maps(&mut a.compression.negotiated, &b.compression.negotiated);
    a.reply_timeouts += b.reply_timeouts;
    a.requests_abandoned += b.requests_abandoned;
    a.unexpected_messages += b.unexpected_messages;
    a.long_callbacks.count += b.long_callbacks.count;
    a.long_callbacks.max_us = a.long_callbacks.max_us.max(b.long_callbacks.max_us);
    a.long_callbacks.threshold_us = a
        .long_callbacks
        .threshold_us
        .max(b.long_callbacks.threshold_us);
    a.long_callbacks.max_cpu_us = a.long_callbacks.max_cpu_us.max(b.long_callbacks.max_cpu_us);
    a.long_callbacks.descheduled += b.long_callbacks.descheduled;
    a.population = match (a.population, b.population) {
        (Some(x), Some(y)) => Some(crate::results::report::Population {
            target: x.target + y.target,
            reached: x.reached + y.reached,
        }),
        (x, y) => x.or(y),
    };
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
    merge_named(&mut a.latency, &b.latency, 1.0)?;
    a.latency_stamps_in_future += b.latency_stamps_in_future;
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
    let run = &mut a.run;
    run.started_at_unix_s = run.started_at_unix_s.min(b.run.started_at_unix_s);
    run.started_at_unix_ms = run.started_at_unix_ms.min(b.run.started_at_unix_ms);
    run.ended_at_unix_ms = run.ended_at_unix_ms.max(b.run.ended_at_unix_ms);
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
    // Waiting for a CPU adds up over processes; the machine's pressure is each process's own
    // window of one figure (the largest stands for all, shards may run on several machines).
    a.process.cpu_wait_s = match (a.process.cpu_wait_s, b.process.cpu_wait_s) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    };
    a.process.cpu_pressure_s =
        crate::results::timeline::max_option(a.process.cpu_pressure_s, b.process.cpu_pressure_s);
    a.process.embedded_server = match (a.process.embedded_server, b.process.embedded_server) {
        (Some(x), Some(y)) => Some(crate::measure::process::CpuTime {
            cpu_user_s: x.cpu_user_s + y.cpu_user_s,
            cpu_system_s: x.cpu_system_s + y.cpu_system_s,
        }),
        (x, y) => x.or(y),
    };
    // The shards of a run with populations each hold every population's share.
    for (name, theirs) in &b.populations {
        let merged = match a.populations.remove(name) {
            Some(mine) => merge_two(mine, theirs)?,
            None => theirs.clone(),
        };
        a.populations.insert(name.clone(), merged);
    }
    Ok(a)
}

/// The whole run's report from its populations' (`parts`, in file order, each run in this
/// process side by side): counts add up, histograms merge exactly, the time series line up by
/// wall-clock time, and `scenario` and `process` are the run's (the populations shared the
/// process: its figures are measured once, not summed). Each part is kept under its name in
/// `populations`, its `process` emptied. Thresholds are not judged here.
pub fn combine_populations(
    scenario: crate::results::report::ScenarioInfo,
    process: crate::measure::process::ProcessStats,
    parts: Vec<(String, Report)>,
) -> Result<Report, String> {
    let origin_ms = parts
        .iter()
        .map(|(_, report)| report.run.started_at_unix_ms)
        .min()
        .unwrap_or(0);
    let interval_s = parts
        .iter()
        .map(|(_, report)| report.series.interval_s)
        .find(|interval| *interval > 0.0)
        .unwrap_or(1.0);
    let mut timeline = Timeline::new(origin_ms, interval_s);
    for (source, (_, report)) in parts.iter().enumerate() {
        for point in &report.series.points {
            timeline.add(source, report.run.started_at_unix_ms, point);
        }
    }
    let mut whole: Option<Report> = None;
    let mut populations = BTreeMap::new();
    let mut shapes = Vec::new();
    for (name, mut part) in parts {
        part.process = Default::default();
        part.scenario.name.clone_from(&scenario.name);
        shapes.push(format!("{name}: {}", part.run.shape));
        let mut as_whole = part.clone();
        as_whole.scenario = scenario.clone();
        whole = Some(match whole {
            None => as_whole,
            Some(so_far) => merge_two(so_far, &as_whole)?,
        });
        populations.insert(name, part);
    }
    let mut whole = whole.ok_or("a run with populations had none")?;
    whole.scenario = scenario;
    whole.process = process;
    whole.series.points = timeline.points();
    whole.series.interval_s = interval_s;
    whole.run.merged_runs = 1;
    whole.run.shape = shapes.join("; ");
    whole.run.elapsed_s = (whole
        .run
        .ended_at_unix_ms
        .saturating_sub(whole.run.started_at_unix_ms) as f64)
        / 1000.0;
    whole.populations = populations;
    whole.warnings = crate::results::health::warnings(&whole);
    Ok(whole)
}

/// The threshold rules a report was judged by.
fn rules_of(report: &Report) -> Result<Vec<Threshold>, String> {
    report
        .thresholds
        .iter()
        .map(|outcome| Threshold::parse(&outcome.expression, outcome.abort))
        .collect()
}

/// Count shard `shard`, which left no results (a worker killed or crashed), into `report`: its
/// `connections` are planned, attempted and failed with `reason`, it is listed as missing (the
/// result is partial), and the verdict is judged again.
pub fn count_lost_shard(
    report: &mut Report,
    shard: u32,
    connections: u32,
    reason: &str,
) -> Result<(), String> {
    let rules = rules_of(report)?;
    let lost = u64::from(connections);
    report.run.connections += connections;
    report.run.merged_runs += 1;
    if let Some(population) = &mut report.population {
        population.target += lost;
    }
    report.connections.attempted += lost;
    report.connections.failed += lost;
    *report
        .connections
        .failed_by_reason
        .entry(reason.to_owned())
        .or_default() += lost;
    if !report.run.missing_shards.contains(&shard) {
        report.run.missing_shards.push(shard);
        report.run.missing_shards.sort_unstable();
    }
    mark_partial(report);
    report.apply_thresholds(&rules);
    Ok(())
}

/// Set `run.partial` from `run.missing_shards` and say so in the warnings.
fn mark_partial(report: &mut Report) {
    report.run.partial = !report.run.missing_shards.is_empty();
    report
        .warnings
        .retain(|warning| !warning.starts_with(PARTIAL_WARNING));
    if let Some(note) = report.partial_note() {
        report.warnings.push(format!(
            "{PARTIAL_WARNING}{note}: every figure covers only the shards present"
        ));
    }
}

/// How the partial-result warning starts.
const PARTIAL_WARNING: &str = "partial result: ";

/// Merge the results `inputs` (each with the name errors use for it, its path) of the shards of
/// one run into one, re-evaluating the first one's thresholds. Refused: files of different runs
/// or shard counts, a shard twice, and (unless `partial`) a missing shard.
pub fn merge(inputs: Vec<(String, Report)>, partial: bool) -> Result<Report, MergeError> {
    let identity = identity(&inputs, partial)?;
    let origin_ms = inputs
        .iter()
        .map(|(_, report)| report.run.started_at_unix_ms)
        .min()
        .unwrap_or(0);
    let interval_s = inputs
        .iter()
        .map(|(_, report)| report.series.interval_s)
        .find(|interval| *interval > 0.0)
        .unwrap_or(1.0);
    let mut timeline = Timeline::new(origin_ms, interval_s);
    for (source, (_, report)) in inputs.iter().enumerate() {
        for point in &report.series.points {
            timeline.add(source, report.run.started_at_unix_ms, point);
        }
    }
    let mut reports = inputs.into_iter().map(|(_, report)| report);
    let first = reports.next().ok_or(MergeError::Nothing)?;
    let rules = rules_of(&first).map_err(MergeError::Figures)?;
    let mut merged = first;
    for report in reports {
        merged = merge_two(merged, &report).map_err(MergeError::Figures)?;
    }
    merged.series.points = timeline.points();
    merged.series.interval_s = interval_s;
    let run = &mut merged.run;
    run.id = identity.id;
    run.shard_count = identity.count;
    run.shards = identity.present;
    run.missing_shards = identity.missing;
    run.elapsed_s = (run.ended_at_unix_ms.saturating_sub(run.started_at_unix_ms) as f64) / 1000.0;
    merged.warnings = crate::results::health::warnings(&merged);
    mark_partial(&mut merged);
    // A judgement made on one file's figures does not hold for the merged ones.
    if let Some(regressions) = &mut merged.regressions {
        regressions.not_evaluated(
            "merged results: `volley merge` reads no baseline; compare them with `volley compare BASE MERGED`",
        );
    }
    merged.apply_thresholds(&rules);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::series::Point;
    use crate::measure::stats::{Samples, Totals};
    use crate::results::report::RunInfo;

    /// An empty report of shard `index` of `count` of run `id`, started at `started_ms` and
    /// ending 2 s later, with points at 1 s and 2 s (`sent` 1 each).
    fn shard(id: &str, index: u32, count: u32, started_ms: u64) -> Report {
        let mut report = Report::build(
            Default::default(),
            RunInfo {
                id: id.into(),
                shard_count: count,
                shards: vec![index],
                started_at_unix_ms: started_ms,
                ended_at_unix_ms: started_ms + 2000,
                elapsed_s: 2.0,
                connections: 1,
                ..RunInfo::default()
            },
            Default::default(),
            &Default::default(),
            Default::default(),
        );
        report.series.interval_s = 1.0;
        report.series.points = (1..=2)
            .map(|second| Point {
                t: f64::from(second),
                open: 1,
                sent: 1,
                ..Point::default()
            })
            .collect();
        report
    }

    fn named(reports: Vec<Report>) -> Vec<(String, Report)> {
        reports
            .into_iter()
            .enumerate()
            .map(|(position, report)| (format!("file-{position}.json"), report))
            .collect()
    }

    fn refusal(reports: Vec<Report>, partial: bool) -> String {
        match merge(named(reports), partial) {
            Ok(report) => panic!("merged: {:?}", report.run),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn every_shard_once_merges_and_spans_first_start_to_last_end() -> Result<(), MergeError> {
        let merged = merge(
            named(vec![shard("r1", 1, 2, 10_300), shard("r1", 0, 2, 10_000)]),
            false,
        )?;
        assert_eq!(merged.run.id, "r1");
        assert_eq!(merged.run.shards, vec![0, 1]);
        assert!(merged.run.missing_shards.is_empty() && !merged.run.partial);
        assert_eq!(merged.run.started_at_unix_ms, 10_000);
        assert_eq!(merged.run.ended_at_unix_ms, 12_300);
        assert_eq!(merged.run.elapsed_s, 2.3);
        assert_eq!(merged.run.connections, 2);
        // By time: shard 1's points (0.3 s later) in the same intervals as shard 0's.
        let sent: Vec<u64> = merged.series.points.iter().map(|p| p.sent).collect();
        assert_eq!(sent, vec![2, 2]);
        assert!(merged.warnings.iter().all(|w| !w.contains("partial")));
        Ok(())
    }

    #[test]
    fn regression_rules_judged_on_one_shard_are_not_evaluated_after_a_merge() -> Result<(), String>
    {
        let rules = [crate::config::regression::Regression::parse(
            "round_trip p99 < +10%",
        )?];
        let baseline = crate::results::regressions::Baseline {
            file: "base.json".into(),
            report: shard("r0", 0, 1, 0),
        };
        let mut first = shard("r1", 0, 2, 10_000);
        first.apply_regressions(&rules, Some(&baseline));
        let merged = merge(named(vec![first, shard("r1", 1, 2, 10_000)]), false)
            .map_err(|error| error.to_string())?;
        let judged = merged.regressions.ok_or("no regressions")?;
        assert_eq!(
            judged.rules[0].status,
            crate::results::regressions::Status::NotEvaluated,
            "{judged:?}"
        );
        assert!(
            judged.rules[0]
                .detail
                .starts_with("not evaluated (merged results"),
            "{judged:?}"
        );
        Ok(())
    }

    #[test]
    fn a_retried_shard_lands_where_it_ran() -> Result<(), MergeError> {
        // Shard 1 ran again 10 minutes later (a Kubernetes index retried).
        let merged = merge(
            named(vec![shard("r1", 0, 2, 0), shard("r1", 1, 2, 600_000)]),
            false,
        )?;
        assert_eq!(merged.run.elapsed_s, 602.0);
        let times: Vec<f64> = merged.series.points.iter().map(|p| p.t).collect();
        assert_eq!(times, vec![1.0, 2.0, 601.0, 602.0]);
        Ok(())
    }

    #[test]
    fn duplicates_other_runs_mixed_counts_and_missing_shards_are_refused() {
        let duplicate = refusal(vec![shard("r1", 0, 2, 0), shard("r1", 0, 2, 0)], true);
        assert_eq!(
            duplicate,
            "shard 0/2 is in both file-0.json and file-1.json: merging it twice would count it twice"
        );
        let other_run = refusal(vec![shard("r1", 0, 2, 0), shard("r2", 1, 2, 0)], true);
        assert!(
            other_run.contains("file-0.json is of run `r1` but file-1.json is of run `r2`"),
            "{other_run}"
        );
        let mixed = refusal(vec![shard("r1", 0, 2, 0), shard("r1", 1, 3, 0)], true);
        assert!(mixed.contains("mixed shard counts"), "{mixed}");
        let missing = refusal(vec![shard("r1", 0, 4, 0), shard("r1", 2, 4, 0)], false);
        assert_eq!(
            missing,
            "shards 1, 3 of 4 of run `r1` are missing: merge their files too, or pass --partial to merge what is here and mark the result partial"
        );
        let mut old = shard("r1", 1, 2, 0);
        old.run.id.clear();
        let unknown = refusal(vec![shard("r1", 0, 2, 0), old], true);
        assert!(unknown.contains("file-1.json does not say"), "{unknown}");
    }

    #[test]
    fn partial_merges_what_is_there_and_says_so() -> Result<(), MergeError> {
        let merged = merge(
            named(vec![shard("r1", 0, 4, 0), shard("r1", 2, 4, 0)]),
            true,
        )?;
        assert!(merged.run.partial);
        assert_eq!(merged.run.missing_shards, vec![1, 3]);
        assert!(
            merged
                .warnings
                .iter()
                .any(|w| w.starts_with("partial result: shards 1, 3 of 4 missing")),
            "{:?}",
            merged.warnings
        );
        // A partial merge merged again with the missing shards is whole.
        let whole = merge(
            named(vec![merged, shard("r1", 1, 4, 0), shard("r1", 3, 4, 0)]),
            false,
        )?;
        assert!(!whole.run.partial, "{:?}", whole.warnings);
        assert_eq!(whole.run.shards, vec![0, 1, 2, 3]);
        assert!(whole.warnings.iter().all(|w| !w.contains("partial")));
        Ok(())
    }

    /// Merge `reports` as the shards of one run, in order.
    fn merge_metric_shards(reports: Vec<Report>) -> Result<Report, String> {
        let count = reports.len() as u32;
        let inputs = reports
            .into_iter()
            .enumerate()
            .map(|(index, mut report)| {
                report.run.id = "metrics".into();
                report.run.shard_count = count;
                report.run.shards = vec![index as u32];
                (format!("shard-{index}.json"), report)
            })
            .collect();
        merge(inputs, false).map_err(|error| error.to_string())
    }

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
        let merged = merge_metric_shards(vec![
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
        let hundred = merge_metric_shards(vec![shard_with_metric(&[1980.0; 100])?])?;
        assert_eq!(hundred.metrics["m"].mean, 1980.0);
        Ok(())
    }

    /// A shard's results file of metrics recorded through a recorder of a collector that knows
    /// `kinds`: `per_connection` values of each metric from each of `connections` connections.
    fn shard_with_kinds(
        connections: u32,
        per_connection: &[(&str, f64)],
    ) -> Result<Report, String> {
        use crate::config::metrics::MetricKind;
        let kinds = [
            ("seen", MetricKind::Counter),
            ("ok", MetricKind::Rate),
            ("delivery_ms", MetricKind::Duration),
        ]
        .into_iter()
        .map(|(name, kind)| (name.to_owned(), kind))
        .collect();
        let collector = std::sync::Arc::new(
            crate::measure::collector::Collector::with_metric_kinds(kinds),
        );
        for vu in 0..connections {
            let mut recorder = crate::measure::recorder::Recorder::new(vu, collector.clone());
            for (name, value) in per_connection {
                recorder.metric(name, *value);
            }
        }
        let run = crate::results::report::RunInfo {
            elapsed_s: 2.0,
            ..Default::default()
        };
        let report = Report::build(
            Default::default(),
            run,
            Default::default(),
            &collector.snapshot(),
            Default::default(),
        );
        serde_json::from_str(&report.to_json()).map_err(|error| error.to_string())
    }

    #[test]
    fn issue_23_counters_sum_rates_add_and_kinds_survive_a_merge() -> Result<(), String> {
        use crate::config::metrics::MetricKind;
        let values = [
            ("seen", 3.0),
            ("seen", 4.0),
            ("ok", 1.0),
            ("ok", 0.0),
            ("ok", 7.0),
            ("delivery_ms", 200.0),
        ];
        let merged = merge_metric_shards(vec![
            shard_with_kinds(10, &values)?,
            shard_with_kinds(5, &values)?,
        ])?;
        let seen = &merged.metrics["seen"];
        assert_eq!(seen.kind, Some(MetricKind::Counter));
        assert_eq!((seen.total(), seen.count), (15.0 * 7.0, 30));
        let ok = &merged.metrics["ok"];
        assert_eq!(ok.kind, Some(MetricKind::Rate));
        assert_eq!((ok.total(), ok.count), (30.0, 45), "7 counts as true");
        let delivery = &merged.metrics["delivery_ms"];
        assert_eq!(delivery.kind, Some(MetricKind::Duration));
        assert_eq!(
            (delivery.mean, delivery.p99, delivery.max),
            (200.0, 200.0, 200.0)
        );
        let mut merged = merged;
        merged.run.elapsed_s = 3.0;
        let judged = |rule: &str| -> Result<(bool, String), String> {
            let outcome = crate::results::thresholds::evaluate(
                &Threshold::parse(rule, false)?,
                &merged.figures(),
            );
            Ok((outcome.passed, outcome.actual))
        };
        assert_eq!(judged("metric seen count == 105")?, (true, "105".into()));
        assert_eq!(judged("metric seen rate >= 35")?, (true, "35.000/s".into()));
        assert_eq!(judged("metric ok rate > 66%")?, (true, "66.667%".into()));
        assert_eq!(judged("metric ok count == 45")?, (true, "45".into()));
        assert_eq!(
            judged("metric delivery_ms p99 < 200ms")?,
            (false, "200.00ms".into())
        );
        assert!(judged("metric delivery_ms mean <= 0.2s")?.0);
        // An older results file (no kinds) reads its metrics as values.
        let mut old = serde_json::to_value(&merged).map_err(|error| error.to_string())?;
        if let Some(metric) = old
            .pointer_mut("/metrics/seen")
            .and_then(|v| v.as_object_mut())
        {
            metric.remove("kind");
        }
        let old: Report = serde_json::from_value(old).map_err(|error| error.to_string())?;
        assert_eq!(old.metrics["seen"].metric_kind(), MetricKind::Value);
        Ok(())
    }

    #[test]
    fn issue_21_any_finite_metric_value_merges() -> Result<(), String> {
        let merged = merge_metric_shards(vec![
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

    /// Shard `index` of 2 of run `c`, as written and read back: `connections` opened, `negotiated`
    /// by them, wire and payload bytes and compressed messages from `scale`.
    fn compressed_shard(
        index: u32,
        setting: &str,
        negotiated: &[(&str, u64)],
        scale: u64,
    ) -> Result<Report, String> {
        use crate::measure::counters::CounterValues;
        let mut samples = Samples::default();
        for (extension, count) in negotiated {
            samples.negotiated.insert((*extension).to_owned(), *count);
        }
        let mut totals = Totals::default();
        samples.drain_into(&mut totals);
        let counters = CounterValues {
            bytes_sent: 1000 * scale,
            bytes_received: 1001 * scale,
            wire_bytes_sent: 210 * scale,
            wire_bytes_received: 230 * scale + 1,
            compressed_messages_sent: 10 * scale,
            compressed_messages_received: 9 * scale,
            ..CounterValues::default()
        };
        let run = RunInfo {
            id: "c".into(),
            shard_count: 2,
            shards: vec![index],
            ..RunInfo::default()
        };
        let mut report = Report::build(
            Default::default(),
            run,
            counters,
            &totals,
            Default::default(),
        );
        report.compression.setting = setting.to_owned();
        serde_json::from_str(&report.to_json()).map_err(|error| error.to_string())
    }

    #[test]
    fn issue_22_wire_bytes_compressed_messages_and_negotiations_add_up_exactly()
    -> Result<(), String> {
        let deflate = "permessage-deflate client_max_window_bits=15 server_max_window_bits=15";
        let narrow = "permessage-deflate client_max_window_bits=10 server_max_window_bits=10";
        let merged = merge(
            named(vec![
                compressed_shard(0, "deflate", &[(deflate, 7), ("none", 1)], 1)?,
                compressed_shard(1, "deflate", &[(deflate, 2), (narrow, 3)], 3)?,
            ]),
            false,
        )
        .map_err(|error| error.to_string())?;
        let m = &merged.messages;
        assert_eq!((m.bytes_sent, m.bytes_received), (4000, 4004));
        assert_eq!((m.wire_bytes_sent, m.wire_bytes_received), (840, 922));
        assert_eq!((m.compressed_sent, m.compressed_received), (40, 36));
        assert_eq!(merged.compression.setting, "deflate");
        let negotiated: Vec<(&str, u64)> = merged
            .compression
            .negotiated
            .iter()
            .map(|(text, count)| (text.as_str(), *count))
            .collect();
        assert_eq!(negotiated, [("none", 1), (narrow, 3), (deflate, 9)]);
        assert_eq!(merged.compression.negotiated_of(), (12, 13));
        // Shards run with different settings (`--set`) keep both.
        let mixed = merge(
            named(vec![
                compressed_shard(0, "off", &[("none", 4)], 1)?,
                compressed_shard(1, "deflate level=1", &[(deflate, 4)], 1)?,
            ]),
            false,
        )
        .map_err(|error| error.to_string())?;
        assert_eq!(mixed.compression.setting, "off; deflate level=1");
        assert_eq!(mixed.compression.negotiated_of(), (4, 8));
        Ok(())
    }

    #[test]
    fn issue_22_results_written_before_compression_read_as_none() -> Result<(), String> {
        let report = compressed_shard(0, "deflate", &[("none", 2)], 1)?;
        let mut json: serde_json::Value =
            serde_json::from_str(&report.to_json()).map_err(|error| error.to_string())?;
        if let Some(all) = json.as_object_mut() {
            all.remove("compression");
        }
        if let Some(messages) = json
            .pointer_mut("/messages")
            .and_then(|m| m.as_object_mut())
        {
            for key in [
                "wire_bytes_sent",
                "wire_bytes_received",
                "compressed_sent",
                "compressed_received",
            ] {
                messages.remove(key);
            }
        }
        let old: Report = serde_json::from_value(json).map_err(|error| error.to_string())?;
        assert_eq!(old.compression, Default::default());
        assert!(!old.compression.asked());
        assert_eq!(
            (old.messages.bytes_sent, old.messages.wire_bytes_sent),
            (1000, 0)
        );
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
        let merged = merge_metric_shards(vec![old, shard_with_metric(&[50.0])?])?;
        let m = &merged.metrics["m"];
        assert_eq!((m.count, m.sum, m.mean), (3, Some(90.0), 30.0));
        Ok(())
    }
}
