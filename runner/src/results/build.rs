//! Building a [`Report`] from what the `measure` stage collected: the counters, the merged
//! histograms and the process figures become the plain report model, with a first verdict (before
//! thresholds, which `verdict` applies). Called by `run` at the end and for provisional results.

use crate::measure::counters::CounterValues;
use crate::measure::process::ProcessStats;
use crate::measure::stats::Totals;
use crate::results::report::{
    CheckStats, CompressionStats, ConnectionStats, Distribution, MessageStats, NetworkStats,
    Report, RunInfo, SCHEMA, ScenarioInfo, Verdict,
};

impl Report {
    /// Assemble the report.
    pub fn build(
        scenario: ScenarioInfo,
        run: RunInfo,
        counters: CounterValues,
        totals: &Totals,
        process: ProcessStats,
    ) -> Report {
        let connections = ConnectionStats {
            attempted: counters.attempted,
            established: counters.established,
            failed: counters.failed,
            failed_by_reason: totals.failures.clone(),
            closed_by_server: counters.closed_by_server,
            peak_open: counters.peak_open,
            dropped_arrivals: counters.dropped_arrivals,
            arrivals: counters.arrivals,
            pending_at_end: counters.pending_at_end,
            expected_rejections: counters.expected_rejections,
            goodbyes: counters.goodbyes,
            goodbye_timeouts: counters.goodbye_timeouts,
            examples: totals
                .examples
                .iter()
                .filter(|(reason, example)| reason != example)
                .map(|(reason, example)| (reason.clone(), example.clone()))
                .collect(),
        };
        let checks: Vec<CheckStats> = totals
            .checks
            .iter()
            .map(|(name, count)| CheckStats {
                name: name.clone(),
                passed: count.passed,
                failed: count.failed,
            })
            .collect();
        let verdict = Verdict::judge(
            &connections,
            &checks,
            counters.reply_timeouts,
            &totals.scenario_errors,
            &[],
        );
        let mut report = Report {
            schema: SCHEMA.to_owned(),
            scenario,
            run,
            connections,
            messages: MessageStats {
                sent: counters.messages_sent,
                received: counters.messages_received,
                bytes_sent: counters.bytes_sent,
                bytes_received: counters.bytes_received,
                wire_bytes_sent: counters.wire_bytes_sent,
                wire_bytes_received: counters.wire_bytes_received,
                compressed_sent: counters.compressed_messages_sent,
                compressed_received: counters.compressed_messages_received,
            },
            // The setting is the scenario's: `run` fills it in.
            compression: CompressionStats {
                setting: String::new(),
                negotiated: totals.negotiated.clone(),
            },
            checks,
            round_trips: Distribution::of(&totals.round_trips, 1.0),
            round_trips_by_name: totals
                .round_trips_by_name
                .iter()
                .map(|(name, histogram)| (name.clone(), Distribution::of(histogram, 1.0)))
                .collect(),
            latency: totals
                .latency
                .iter()
                .map(|(name, histogram)| (name.clone(), Distribution::of(histogram, 1.0)))
                .collect(),
            latency_stamps_in_future: counters.latency_stamps_in_future,
            reply_timeouts: counters.reply_timeouts,
            requests_abandoned: counters.requests_abandoned,
            unexpected_messages: counters.unexpected_messages,
            timer_lag: Distribution::of(&totals.timer_lag, 1.0),
            long_callbacks: crate::results::report::LongCallbacks {
                count: counters.long_callbacks,
                max_us: counters.longest_callback_us,
                threshold_us: crate::measure::counters::LONG_CALLBACK.as_micros() as u64,
                max_cpu_us: counters.longest_callback_cpu_us,
                descheduled: counters.descheduled_callbacks,
            },
            arrival_lag: Distribution::of(&totals.arrival_lag, 1.0),
            warnings: Vec::new(),
            connect_time: Distribution::of(&totals.connect_time, 1.0),
            connect_phases: crate::measure::stats::Phase::ALL
                .iter()
                .map(|phase| {
                    (
                        phase.name().to_owned(),
                        Distribution::of(&totals.phases[*phase as usize], 1.0),
                    )
                })
                .collect(),
            ping_rtt: Distribution::of(&totals.ping_rtt, 1.0),
            network: NetworkStats {
                tls_full_handshakes: counters.tls_full,
                tls_resumed_handshakes: counters.tls_resumed,
                reconnects: counters.reconnects,
                reconnect_give_ups: counters.reconnect_give_ups,
                dns_queries: counters.dns_queries,
                pings_sent: counters.pings_sent,
            },
            data: None,
            metrics: totals
                .metrics
                .iter()
                .map(|(name, recorded)| {
                    let kind = totals.metric_kinds.get(name).copied().unwrap_or_default();
                    (name.clone(), Distribution::of_metric(recorded, kind))
                })
                .collect(),
            scenario_errors: totals.scenario_errors.clone(),
            thresholds: Vec::new(),
            regressions: None,
            series: crate::measure::series::Series::default(),
            process,
            population: None,
            search: None,
            populations: Default::default(),
            verdict,
        };
        report.warnings = crate::results::health::warnings(&report);
        report
    }
}
