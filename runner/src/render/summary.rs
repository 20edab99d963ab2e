//! The end-of-run summary for a terminal or a CI log: plain aligned text, no control characters.
//! Reads a [`Report`] only (its regression outcomes and a capacity search's steps included); JSON lives in `results::report`.

use crate::config::metrics::MetricKind;
use crate::config::units::{human_bytes, human_micros as micros, human_number};
use crate::results::regressions::{Regressions, Status};
use crate::results::report::{CompressionStats, Distribution, MessageStats, Report};
use crate::results::search::SearchReport;
use std::fmt::Write;

/// One custom metric, by its kind: a duration's figures with units, a counter's total and rate
/// per second, a rate's percentage of true values, a value's figures as plain numbers (each
/// without the trailing newline: the caller adds notes).
fn metric_line(out: &mut String, name: &str, d: &Distribution, elapsed_s: f64) {
    let _ = write!(out, "  {name:<24} ");
    match d.metric_kind() {
        MetricKind::Counter => {
            let total = d.total();
            let _ = write!(out, "total={}", human_number(total));
            if elapsed_s > 0.0 {
                let _ = write!(out, " rate={}/s", human_number(total / elapsed_s));
            }
            let _ = write!(out, " (counter, {} values)", d.count);
        }
        MetricKind::Rate => {
            let trues = d.total().round() as u64;
            let _ = write!(
                out,
                "rate={:.2}% ({trues} true of {}, rate)",
                d.true_fraction().unwrap_or(0.0) * 100.0,
                d.count
            );
        }
        MetricKind::Duration => {
            let ms = |value: f64| micros(value * 1000.0);
            let _ = write!(
                out,
                "n={} min={} p50={} p90={} p99={} max={} mean={}",
                d.count,
                ms(d.min),
                ms(d.p50),
                ms(d.p90),
                ms(d.p99),
                ms(d.max),
                ms(d.mean)
            );
        }
        MetricKind::Value => {
            let _ = write!(
                out,
                "n={} min={} p50={} p90={} p99={} max={} mean={}",
                d.count,
                human_number(d.min),
                human_number(d.p50),
                human_number(d.p90),
                human_number(d.p99),
                human_number(d.max),
                human_number(d.mean)
            );
        }
    }
}

fn timing_line(out: &mut String, label: &str, distribution: &Distribution) {
    if distribution.count == 0 {
        let _ = writeln!(out, "  {label:<16} none");
        return;
    }
    let _ = writeln!(
        out,
        "  {label:<16} n={} min={} p50={} p90={} p99={} p99.9={} max={}",
        distribution.count,
        micros(distribution.min),
        micros(distribution.p50),
        micros(distribution.p90),
        micros(distribution.p99),
        micros(distribution.p999),
        micros(distribution.max),
    );
}

/// `text` with control characters (but newlines) written as visible `\u{…}`, so a check name,
/// failure reason or panic message cannot move the cursor or recolour a terminal.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// `payload / wire` as `4.7×`, or nothing without wire bytes.
fn ratio(payload: u64, wire: u64) -> String {
    if wire == 0 {
        String::new()
    } else {
        format!(" ({:.1}×)", payload as f64 / wire as f64)
    }
}

/// The compression lines, when the file asked for compression or a connection negotiated it:
/// the setting, on how many connections it was negotiated (what, or each negotiation with its
/// count when they differ), payload against wire bytes each way, and compressed messages.
fn compression_lines(out: &mut String, compression: &CompressionStats, m: &MessageStats) {
    let (negotiated, counted) = compression.negotiated_of();
    if !compression.asked() && negotiated == 0 {
        return;
    }
    let setting = if compression.setting.is_empty() {
        "(setting unknown)"
    } else {
        &compression.setting
    };
    let mut by_count: Vec<(&String, &u64)> = compression.negotiated.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let single = match by_count.as_slice() {
        [(text, _)] if negotiated == 0 => format!(" ({text}: the server accepted no extension)"),
        [(text, _)] => format!(" ({text})"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "  {:<16} {setting}, negotiated on {negotiated} of {counted} connections{single}",
        "compression"
    );
    let _ = writeln!(
        out,
        "  {:<16} payload sent {} → wire {}{}, received {} ← {}{}; compressed messages sent {}, received {}",
        "",
        human_bytes(m.bytes_sent),
        human_bytes(m.wire_bytes_sent),
        ratio(m.bytes_sent, m.wire_bytes_sent),
        human_bytes(m.bytes_received),
        human_bytes(m.wire_bytes_received),
        ratio(m.bytes_received, m.wire_bytes_received),
        m.compressed_sent,
        m.compressed_received
    );
    if by_count.len() > 1 {
        for (text, count) in by_count {
            let _ = writeln!(out, "    {count:>6}  {text}");
        }
    }
}

/// Render the summary.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let run = &report.run;
    let _ = writeln!(
        out,
        "volley: {} → {} ({} connections, {:.1}s{})",
        report.scenario.name,
        report.scenario.target,
        run.connections,
        run.elapsed_s,
        if run.interrupted { ", interrupted" } else { "" }
    );
    if !run.shape.is_empty() {
        let _ = writeln!(out, "load: {}", run.shape);
    }
    let scenario = &report.scenario;
    if !scenario.module_sha256.is_empty() {
        let short = scenario
            .module_sha256
            .get(..16)
            .unwrap_or(&scenario.module_sha256);
        // A flow is named by its scenario file's digest (it is part of the file).
        let what = scenario.digest_of();
        let _ = writeln!(
            out,
            "{what}: sha256:{short}… {}",
            printable(&scenario.interface)
        );
    }
    if run.merged_runs > 1 {
        let _ = writeln!(out, "merged from {} runs", run.merged_runs);
    }
    if let Some(note) = report.partial_note() {
        let _ = writeln!(out, "PARTIAL: {note}");
    }
    if let Some(limit) = &run.max_duration_reached {
        let _ = writeln!(
            out,
            "stopped at load.max_duration ({limit}) with iterations left; raise it or set load.duration"
        );
    }
    if let Some(rule) = &run.aborted_by {
        let _ = writeln!(out, "aborted early: threshold `{rule}` was crossed");
    }
    let c = &report.connections;
    let _ = writeln!(out, "connections");
    let _ = writeln!(
        out,
        "  attempted {}  established {}  failed {}  closed by server {}  peak open {}",
        c.attempted, c.established, c.failed, c.closed_by_server, c.peak_open
    );
    if let Some(population) = &report.population {
        let short = population.target.saturating_sub(population.reached);
        let _ = writeln!(
            out,
            "  target {}  reached {} (most open at once){}",
            population.target,
            population.reached,
            if short > 0 {
                format!("  ✗ {short} short")
            } else {
                String::new()
            }
        );
    }
    if c.arrivals > 0 {
        let exhausted = report.data.as_ref().map_or(0, |data| data.exhausted);
        let started = c
            .arrivals
            .saturating_sub(c.dropped_arrivals + c.pending_at_end + exhausted);
        let _ = writeln!(
            out,
            "  arrivals {}: started {started}  dropped {}  pending at the end {}  out of data {exhausted}",
            c.arrivals, c.dropped_arrivals, c.pending_at_end
        );
    }
    if c.pending_at_end > 0 {
        let _ = writeln!(
            out,
            "  pending at the end {} (waiting for a pacing permit or still connecting when the run ended; not attempts)",
            c.pending_at_end
        );
    }
    if c.expected_rejections > 0 {
        let _ = writeln!(
            out,
            "  expected rejections {} (upgrade answered as expect_upgrade asked)",
            c.expected_rejections
        );
    }
    if c.goodbyes > 0 {
        let _ = writeln!(
            out,
            "  goodbyes {} (said at the run's end){}",
            c.goodbyes,
            if c.goodbye_timeouts > 0 {
                format!(
                    "  {} cut at load.goodbye_timeout with requests pending",
                    c.goodbye_timeouts
                )
            } else {
                String::new()
            }
        );
    }
    if c.dropped_arrivals > 0 {
        let _ = writeln!(
            out,
            "  dropped arrivals {} (max_connections were open)",
            c.dropped_arrivals
        );
    }
    if let Some(data) = report.data.as_ref().filter(|data| data.exhausted > 0) {
        let _ = writeln!(
            out,
            "  data exhausted {} (data_order: {} used all {} rows of {}; those VUs stopped)",
            data.exhausted, data.order, data.rows, data.source
        );
    }
    for (reason, count) in &c.failed_by_reason {
        let _ = writeln!(out, "  ✗ {count:>6}  {reason}");
        if let Some(example) = c.examples.get(reason) {
            let _ = writeln!(out, "             e.g. {example}");
        }
    }
    let m = &report.messages;
    let _ = writeln!(out, "messages");
    let _ = writeln!(
        out,
        "  sent {} ({})  received {} ({})",
        m.sent,
        human_bytes(m.bytes_sent),
        m.received,
        human_bytes(m.bytes_received)
    );
    compression_lines(&mut out, &report.compression, m);
    if !report.checks.is_empty() {
        let _ = writeln!(out, "checks");
        for check in &report.checks {
            let mark = if check.failed == 0 { "✓" } else { "✗" };
            let _ = writeln!(
                out,
                "  {mark} {:<40} passed {:>8}  failed {:>8}",
                check.name, check.passed, check.failed
            );
        }
    }
    let _ = writeln!(out, "timings");
    timing_line(&mut out, "round trip", &report.round_trips);
    for (name, distribution) in &report.round_trips_by_name {
        timing_line(&mut out, &format!("  {name}"), distribution);
    }
    if !report.latency.is_empty() {
        let _ = writeln!(out, "  latency (wall clock, sender's stamp to receipt)");
        for (name, distribution) in &report.latency {
            timing_line(&mut out, &format!("  {name}"), distribution);
        }
    }
    if report.latency_stamps_in_future > 0 {
        let _ = writeln!(
            out,
            "  {:<16} {} latency stamps in the future, recorded as 0 (clocks out of sync?)",
            "clock skew", report.latency_stamps_in_future
        );
    }
    let _ = writeln!(out, "  {:<16} {}", "reply timeouts", report.reply_timeouts);
    if report.requests_abandoned > 0 {
        let _ = writeln!(
            out,
            "  {:<16} {} (still waiting for a reply when their connection ended)",
            "abandoned", report.requests_abandoned
        );
    }
    if report.unexpected_messages > 0 {
        let _ = writeln!(
            out,
            "  {:<16} {} (received by the flow, matched by no expect)",
            "unexpected", report.unexpected_messages
        );
    }
    let long = &report.long_callbacks;
    if long.count > 0 {
        let _ = writeln!(
            out,
            "  {:<16} {} took {} ms or longer of CPU time (longest {:.1} ms)",
            "long callbacks",
            long.count,
            long.threshold_us / 1000,
            long.max_cpu_us.max(long.threshold_us) as f64 / 1000.0
        );
    }
    if long.descheduled > 0 {
        let _ = writeln!(
            out,
            "  {:<16} {} took {} ms or longer of wall-clock time only (thread descheduled)",
            "descheduled",
            long.descheduled,
            long.threshold_us / 1000,
        );
    }
    timing_line(&mut out, "connect", &report.connect_time);
    for (phase, distribution) in &report.connect_phases {
        // The queue phase is recorded for every connect, paced or not: shown when some connection
        // waited a millisecond or more for a pacing permit.
        let waited = phase != "queue" || distribution.max >= 1000.0;
        if distribution.count > 0 && waited {
            timing_line(&mut out, &format!("  {phase}"), distribution);
        }
    }
    timing_line(&mut out, "timer lag", &report.timer_lag);
    if report.arrival_lag.count > 0 {
        timing_line(&mut out, "arrival lag", &report.arrival_lag);
    }
    if report.ping_rtt.count > 0 {
        timing_line(&mut out, "ping", &report.ping_rtt);
    }
    let n = &report.network;
    if n.tls_full_handshakes + n.tls_resumed_handshakes > 0 {
        let _ = writeln!(
            out,
            "  {:<16} {} full, {} resumed",
            "tls handshakes", n.tls_full_handshakes, n.tls_resumed_handshakes
        );
    }
    if n.reconnects > 0 {
        let _ = writeln!(out, "  {:<16} {}", "reconnects", n.reconnects);
    }
    if n.reconnect_give_ups > 0 {
        let _ = writeln!(
            out,
            "  {:<16} {} (net.reconnect.max_attempts reached)",
            "gave up", n.reconnect_give_ups
        );
    }
    if n.dns_queries > 0 {
        let _ = writeln!(out, "  {:<16} {}", "dns queries", n.dns_queries);
    }
    if !report.metrics.is_empty() {
        let _ = writeln!(out, "metrics");
        for (name, d) in &report.metrics {
            metric_line(&mut out, name, d, report.run.elapsed_s);
            if d.clamped > 0 {
                let _ = write!(
                    out,
                    " ({} outside the histogram's 0..2^52: percentiles near them are bounds)",
                    d.clamped
                );
            }
            if d.not_finite > 0 {
                let _ = write!(out, " ({} NaN or infinite: not recorded)", d.not_finite);
            }
            let _ = writeln!(out);
        }
    }
    if !report.scenario_errors.is_empty() {
        let _ = writeln!(out, "scenario errors");
        for (message, count) in &report.scenario_errors {
            let _ = writeln!(out, "  ✗ {count:>6}  {message}");
            if let Some(example) = c.examples.get(message) {
                let _ = writeln!(out, "             e.g. {example}");
            }
        }
    }
    if !report.populations.is_empty() {
        render_populations(&mut out, report);
    }
    if !report.thresholds.is_empty() {
        let _ = writeln!(out, "thresholds");
        for outcome in &report.thresholds {
            let mark = if outcome.passed { "✓" } else { "✗" };
            let _ = writeln!(
                out,
                "  {mark} {:<40} actual {}",
                outcome.expression, outcome.actual
            );
        }
    }
    if let Some(regressions) = &report.regressions {
        render_regressions(&mut out, regressions);
    }
    if let Some(search) = &report.search {
        render_search(&mut out, search);
    }
    let p = &report.process;
    let _ = writeln!(
        out,
        "runner: peak RSS {} ({} at start), CPU user {:.2}s system {:.2}s",
        human_bytes(p.peak_rss_kib * 1024),
        human_bytes(p.start_rss_kib * 1024),
        p.cpu_user_s,
        p.cpu_system_s
    );
    if p.cpu_wait_s.is_some() || p.cpu_pressure_s.is_some() {
        let seconds = |figure: Option<f64>| figure.map_or("?".to_owned(), |s| format!("{s:.2}s"));
        let _ = writeln!(
            out,
            "runner waited for a CPU {} (its threads); machine CPU pressure {} (/proc/pressure/cpu)",
            seconds(p.cpu_wait_s),
            seconds(p.cpu_pressure_s)
        );
    }
    if let Some(server) = &p.embedded_server {
        let _ = writeln!(
            out,
            "embedded server: CPU user {:.2}s system {:.2}s (not in the runner's figures; its memory is)",
            server.cpu_user_s, server.cpu_system_s
        );
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    if !report.verdict.rules.is_empty() {
        let _ = writeln!(out, "failures judged by");
        for rule in &report.verdict.rules {
            let _ = writeln!(out, "  {rule}");
        }
    }
    if report.verdict.passed {
        let _ = writeln!(out, "PASSED");
    } else {
        let _ = writeln!(out, "FAILED");
        for reason in &report.verdict.reasons {
            let _ = writeln!(out, "  - {reason}");
        }
    }
    printable(&out)
}

/// The `search` section: the result in one line, the rules, then one line per step (load,
/// held or broke, round-trip p50/p99, connect p99, connections established and failed, and what
/// broke it).
/// One block per population: its connections, messages, checks and round trips, and when it
/// started against the run's start.
fn render_populations(out: &mut String, report: &Report) {
    let _ = writeln!(out, "populations");
    let start_ms = report.run.started_at_unix_ms;
    for (name, part) in &report.populations {
        let c = &part.connections;
        let started = part.run.started_at_unix_ms.saturating_sub(start_ms) as f64 / 1000.0;
        let _ = writeln!(
            out,
            "  {}  started +{started:.1}s, {} ({}: {})",
            printable(name),
            printable(&part.run.shape),
            part.scenario.digest_of(),
            if part.scenario.module.is_empty() {
                "steps in the file".to_owned()
            } else {
                printable(&part.scenario.module)
            }
        );
        let _ = writeln!(
            out,
            "    connections attempted {}  established {}  failed {}  peak open {}",
            c.attempted, c.established, c.failed, c.peak_open
        );
        let passed: u64 = part.checks.iter().map(|check| check.passed).sum();
        let failed: u64 = part.checks.iter().map(|check| check.failed).sum();
        let _ = writeln!(
            out,
            "    messages sent {}  received {}  checks passed {passed} failed {failed}  reply timeouts {}",
            part.messages.sent, part.messages.received, part.reply_timeouts
        );
        if part.round_trips.count > 0 {
            timing_line(out, "  round trip", &part.round_trips);
        }
        for (request, distribution) in &part.round_trips_by_name {
            timing_line(out, &format!("    {}", printable(request)), distribution);
        }
    }
}

fn render_search(out: &mut String, search: &SearchReport) {
    let _ = writeln!(out, "search: {}", search.sentence());
    let _ = writeln!(
        out,
        "  rules ({}): {}",
        search.rules_from,
        search.rules.join(", ")
    );
    let _ = writeln!(
        out,
        "  {:>4}  {:<18} {:<6} {:<21} {:<11} {:>11} {:>7}",
        "step", "load", "result", "round_trip p50/p99", "connect p99", "established", "failed"
    );
    for (index, step) in search.steps.iter().enumerate() {
        let result = match (step.interrupted, step.passed) {
            (true, _) => "cut",
            (false, true) => "held",
            (false, false) => "broke",
        };
        let round_trips = if step.round_trips == 0 {
            "none".to_owned()
        } else {
            format!(
                "{}/{}",
                micros(step.round_trip_p50_us),
                micros(step.round_trip_p99_us)
            )
        };
        let _ = write!(
            out,
            "  {:>4}  {:<18} {result:<6} {round_trips:<21} {:<11} {:>11} {:>7}",
            index + 1,
            search.load_text(step.load),
            micros(step.connect_p99_us),
            step.established,
            step.failures,
        );
        if let Some((because, observed)) = step.because().filter(|_| !step.passed) {
            let _ = write!(out, "  {because}");
            if let Some(observed) = observed {
                let _ = write!(out, " (observed {observed})");
            }
        }
        if step.generator_limited.is_some() {
            let _ = write!(out, "  (generator limited)");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "  the figures above are the step at {}",
        search.load_text(search.figures_of)
    );
}

/// The `regressions` section: the baseline, what differs from it, one line per rule.
fn render_regressions(out: &mut String, regressions: &Regressions) {
    match &regressions.baseline {
        Some(file) => {
            let _ = writeln!(
                out,
                "regressions (against the baseline {})",
                printable(file)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "regressions: not evaluated (no baseline; give `--baseline RESULTS.json` or `baseline:` in the file)"
            );
        }
    }
    for note in &regressions.notes {
        let _ = writeln!(out, "  warning: {}", printable(note));
    }
    for rule in &regressions.rules {
        let mark = match rule.status {
            Status::Passed => "✓",
            Status::Failed => "✗",
            Status::NotEvaluated => "–",
        };
        let _ = writeln!(out, "  {mark} {:<40} {}", rule.expression, rule.detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(printable("ok\n\u{1b}[2Jx\r"), "ok\n\\u{1b}[2Jx\\u{d}");
    }

    #[test]
    fn issue_23_each_metric_kind_prints_in_its_own_way() {
        use crate::config::metrics::MetricKind;
        let collector = crate::measure::collector::Collector::with_metric_kinds(
            [
                ("delivery_ms", MetricKind::Duration),
                ("seen", MetricKind::Counter),
                ("ok", MetricKind::Rate),
            ]
            .into_iter()
            .map(|(name, kind)| (name.to_owned(), kind))
            .collect(),
        );
        let mut samples = crate::measure::stats::Samples::default();
        samples
            .metrics
            .insert("delivery_ms".into(), vec![1.2958984375, 1.3, 2.5]);
        samples.metrics.insert("seen".into(), vec![3.0; 100]);
        samples
            .metrics
            .insert("ok".into(), vec![1.0, 1.0, 1.0, 0.0]);
        samples.metrics.insert("bytes".into(), vec![200.0; 7]);
        collector.absorb(0, &mut samples);
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
        let text = render(&report);
        let line = |name: &str| {
            text.lines()
                .find(|line| line.trim_start().starts_with(&format!("{name} ")))
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            line("delivery_ms").ends_with(
                "n=3 min=1.30ms p50=1.30ms p90=2.50ms p99=2.50ms max=2.50ms mean=1.70ms"
            ),
            "{text}"
        );
        assert!(
            line("seen").ends_with("total=300 rate=150/s (counter, 100 values)"),
            "{text}"
        );
        assert!(
            line("ok").ends_with("rate=75.00% (3 true of 4, rate)"),
            "{text}"
        );
        assert!(
            line("bytes").ends_with("n=7 min=200 p50=200 p90=200 p99=200 max=200 mean=200"),
            "{text}"
        );
    }

    const DEFLATE: &str = "permessage-deflate client_max_window_bits=15 server_max_window_bits=15";

    /// A report with these messages figures and negotiations, the file's setting `setting`.
    fn report(setting: &str, negotiated: &[(&str, u64)], messages: MessageStats) -> Report {
        let mut report = Report::build(
            Default::default(),
            Default::default(),
            Default::default(),
            &Default::default(),
            Default::default(),
        );
        report.messages = messages;
        report.compression = CompressionStats {
            setting: setting.to_owned(),
            negotiated: negotiated
                .iter()
                .map(|(text, count)| ((*text).to_owned(), *count))
                .collect(),
        };
        report
    }

    fn compressed_messages() -> MessageStats {
        MessageStats {
            sent: 10_000,
            received: 10_000,
            bytes_sent: 10_240_000,
            bytes_received: 10_250_000,
            wire_bytes_sent: 2_201_600,
            wire_bytes_received: 2_306_867,
            compressed_sent: 10_000,
            compressed_received: 9_990,
        }
    }

    /// The summary's lines from `compression` up to the next section.
    fn compression_part(text: &str) -> Vec<&str> {
        text.lines()
            .skip_while(|line| !line.starts_with("  compression"))
            .take_while(|line| line.starts_with("  "))
            .collect()
    }

    #[test]
    fn issue_22_one_negotiation_shows_on_one_line_with_both_ratios() {
        let text = render(&report(
            "deflate",
            &[(DEFLATE, 1000)],
            compressed_messages(),
        ));
        assert_eq!(
            compression_part(&text),
            [
                "  compression      deflate, negotiated on 1000 of 1000 connections (permessage-deflate client_max_window_bits=15 server_max_window_bits=15)",
                "                   payload sent 9.8 MiB → wire 2.1 MiB (4.7×), received 9.8 MiB ← 2.2 MiB (4.4×); compressed messages sent 10000, received 9990",
            ]
        );
    }

    #[test]
    fn issue_22_connections_that_differ_show_each_negotiation_with_its_count() {
        let text = render(&report(
            "deflate client_max_window_bits=12",
            &[
                ("none", 400),
                (DEFLATE, 550),
                ("permessage-deflate client_max_window_bits=12", 50),
            ],
            compressed_messages(),
        ));
        let part = compression_part(&text);
        assert_eq!(
            part[0],
            "  compression      deflate client_max_window_bits=12, negotiated on 600 of 1000 connections"
        );
        assert_eq!(
            &part[2..],
            [
                "       550  permessage-deflate client_max_window_bits=15 server_max_window_bits=15",
                "       400  none",
                "        50  permessage-deflate client_max_window_bits=12",
            ]
        );
    }

    #[test]
    fn issue_22_a_server_that_declines_is_said_and_no_ratio_without_wire_bytes() {
        let declined = MessageStats {
            wire_bytes_sent: 0,
            wire_bytes_received: 0,
            compressed_sent: 0,
            compressed_received: 0,
            ..compressed_messages()
        };
        let text = render(&report("deflate required", &[("none", 20)], declined));
        assert_eq!(
            compression_part(&text),
            [
                "  compression      deflate required, negotiated on 0 of 20 connections (none: the server accepted no extension)",
                "                   payload sent 9.8 MiB → wire 0 B, received 9.8 MiB ← 0 B; compressed messages sent 0, received 0",
            ]
        );
    }

    #[test]
    fn issue_22_no_compression_line_unless_asked_for_or_negotiated() {
        for setting in ["off", ""] {
            let text = render(&report(setting, &[("none", 5)], compressed_messages()));
            assert!(!text.contains("compression"), "{text}");
        }
        // Results written before the setting was kept, with connections that negotiated.
        let text = render(&report("", &[(DEFLATE, 5)], compressed_messages()));
        assert!(
            text.contains("  compression      (setting unknown), negotiated on 5 of 5 connections"),
            "{text}"
        );
    }
}
