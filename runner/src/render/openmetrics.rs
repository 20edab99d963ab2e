//! Live metrics over HTTP in the OpenMetrics text format (`--metrics-addr 127.0.0.1:9464`), so a
//! running soak can sit on a Grafana board. A minimal HTTP/1.1 responder: any GET returns the
//! current counters and histogram summaries, from a [`Source`] given at start (one process's
//! collector, never blocking the connections for long, or the sum over `--workers` processes).
//! Rendering the exposition is a pure function, [`render`].

use crate::measure::collector::Collector;
use crate::measure::counters::CounterValues;
use crate::measure::stats::{Recorded, Totals};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running metrics endpoint.
pub struct MetricsEndpoint {
    address: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Gives the exposition text for one scrape.
pub type Source = Arc<dyn Fn() -> String + Send + Sync>;

/// The [`Source`] of one process: its collector's counters and histograms.
pub fn of_collector(collector: Arc<Collector>) -> Source {
    Arc::new(move || {
        render(
            &CounterValues::read(&collector.counters),
            &collector.snapshot(),
        )
    })
}

impl MetricsEndpoint {
    /// Listen on `address` and serve what `source` renders.
    pub async fn start(address: SocketAddr, source: Source) -> std::io::Result<MetricsEndpoint> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = token.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(answer(stream, source.clone()));
                }
            }
        });
        Ok(MetricsEndpoint {
            address,
            stop,
            task,
        })
    }

    /// Where it listens (the port chosen when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stop listening.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn answer(mut stream: tokio::net::TcpStream, source: Source) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    let read_head = async {
        while !request.windows(4).any(|window| window == b"\r\n\r\n") && request.len() < 16 * 1024 {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
        true
    };
    if !matches!(
        tokio::time::timeout(Duration::from_secs(5), read_head).await,
        Ok(true)
    ) {
        return;
    }
    let body = source();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# TYPE {name} counter\n# HELP {name} {help}\n{name}_total {value}"
    );
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# TYPE {name} gauge\n# HELP {name} {help}\n{name} {value}"
    );
}

fn summary(out: &mut String, name: &str, help: &str, recorded: &Recorded, scale: f64) {
    let _ = writeln!(out, "# TYPE {name} summary\n# HELP {name} {help}");
    summary_samples(out, name, "", recorded, scale);
}

/// One summary family with a series per name (`{name}{{LABEL="…"}}`), e.g. custom metrics or
/// named round trips: names that differ only in characters a metric name cannot hold stay apart.
fn labelled_summaries(
    out: &mut String,
    (family, label): (&str, &str),
    help: &str,
    distributions: &std::collections::BTreeMap<String, Recorded>,
    scale: f64,
) {
    let _ = writeln!(out, "# TYPE {family} summary\n# HELP {family} {help}");
    for (name, recorded) in distributions {
        let labels = format!("{label}=\"{}\"", escape(name));
        summary_samples(out, family, &labels, recorded, scale);
    }
}

/// The scenario's custom metrics by kind: `value` metrics (and undeclared ones) in the
/// `volley_metric` summary, `duration` metrics in seconds in `volley_metric_duration_seconds`,
/// counters as the counter `volley_metric_counter` (`_total`: the sum of their values), rates as
/// the gauge `volley_metric_rate` (the fraction of true values) beside their `_count`.
fn custom_metrics(out: &mut String, totals: &Totals) {
    use crate::config::metrics::MetricKind;
    use crate::measure::stats::METRIC_SCALE;
    let of_kind = |kind: MetricKind| {
        totals
            .metrics
            .iter()
            .filter(move |(name, _)| {
                totals.metric_kinds.get(*name).copied().unwrap_or_default() == kind
            })
            .collect::<Vec<_>>()
    };
    labelled_summaries(
        out,
        ("volley_metric", "name"),
        "Custom metrics recorded by the scenario, by name.",
        &of_kind(MetricKind::Value)
            .into_iter()
            .map(|(name, recorded)| (name.clone(), recorded.clone()))
            .collect(),
        METRIC_SCALE,
    );
    let durations = of_kind(MetricKind::Duration);
    if !durations.is_empty() {
        let family = "volley_metric_duration_seconds";
        let _ = writeln!(
            out,
            "# TYPE {family} summary\n# HELP {family} Custom duration metrics, by name."
        );
        for (name, recorded) in durations {
            let labels = format!("name=\"{}\"", escape(name));
            // Recorded in ms: the histogram holds 1024ths of a ms.
            summary_samples_scaled(
                out,
                family,
                &labels,
                recorded,
                METRIC_SCALE * 1000.0,
                1000.0,
            );
        }
    }
    let counters = of_kind(MetricKind::Counter);
    if !counters.is_empty() {
        let family = "volley_metric_counter";
        let _ = writeln!(
            out,
            "# TYPE {family} counter\n# HELP {family} Custom counters: the sum of the values recorded, by name."
        );
        for (name, recorded) in counters {
            let _ = writeln!(
                out,
                "{family}_total{{name=\"{}\"}} {}",
                escape(name),
                recorded.exact.sum
            );
        }
    }
    let rates = of_kind(MetricKind::Rate);
    if !rates.is_empty() {
        let family = "volley_metric_rate";
        let _ = writeln!(
            out,
            "# TYPE {family} gauge\n# HELP {family} Custom rates: the fraction of values that were true (not 0), by name."
        );
        for (name, recorded) in &rates {
            let exact = &recorded.exact;
            let fraction = if exact.count == 0 {
                0.0
            } else {
                exact.sum / exact.count as f64
            };
            let _ = writeln!(out, "{family}{{name=\"{}\"}} {fraction}", escape(name));
        }
    }
}

/// The quantile, `_sum` and `_count` samples of one summary series with `labels` (may be empty):
/// quantiles from the histogram (values divided by `scale`), sum and count exact.
fn summary_samples(out: &mut String, family: &str, labels: &str, recorded: &Recorded, scale: f64) {
    // The exact figures are in the recorded unit: µs like the timings' histograms (exposed in
    // seconds: `scale` 1e6), the metric's own unit for metrics (whose histograms hold 1024ths).
    let exact_scale = if scale == crate::measure::stats::METRIC_SCALE {
        1.0
    } else {
        scale
    };
    summary_samples_scaled(out, family, labels, recorded, scale, exact_scale);
}

/// [`summary_samples`] with the histogram's values divided by `scale` and the exact sum by
/// `exact_scale`.
fn summary_samples_scaled(
    out: &mut String,
    family: &str,
    labels: &str,
    recorded: &Recorded,
    scale: f64,
    exact_scale: f64,
) {
    let histogram = &recorded.histogram;
    let comma = if labels.is_empty() { "" } else { "," };
    if !histogram.is_empty() {
        for quantile in [0.5, 0.9, 0.99, 0.999] {
            let raw = histogram.value_at_quantile(quantile);
            // A custom metric (its histogram in another unit than its exact figures) reports the
            // bucket's lower bound within the exact min and max, as the results do: a metric
            // recorded as 200 shows 200, not 200.12.
            let (min, max) = (
                recorded.exact.min / exact_scale,
                recorded.exact.max / exact_scale,
            );
            let value = if scale != exact_scale {
                let bound = histogram.lowest_equivalent(raw) as f64 / scale;
                if min <= max {
                    bound.clamp(min, max)
                } else {
                    bound
                }
            } else {
                raw as f64 / scale
            };
            let _ = writeln!(
                out,
                "{family}{{{labels}{comma}quantile=\"{quantile}\"}} {value}"
            );
        }
    }
    let sum = recorded.exact.sum / exact_scale;
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(
        out,
        "{family}_sum{braces} {sum}\n{family}_count{braces} {}",
        recorded.exact.count
    );
}

/// The OpenMetrics exposition of the live figures.
pub fn render(counters: &CounterValues, totals: &Totals) -> String {
    let mut out = String::new();
    gauge(
        &mut out,
        "volley_connections_open",
        "Connections open now.",
        counters.open,
    );
    counter(
        &mut out,
        "volley_connections_attempted",
        "Connection attempts started.",
        counters.attempted,
    );
    counter(
        &mut out,
        "volley_connections_established",
        "Handshakes completed.",
        counters.established,
    );
    counter(
        &mut out,
        "volley_connections_failed",
        "Connections that failed, any reason.",
        counters.failed,
    );
    counter(
        &mut out,
        "volley_messages_sent",
        "Data messages sent.",
        counters.messages_sent,
    );
    counter(
        &mut out,
        "volley_messages_received",
        "Data messages received.",
        counters.messages_received,
    );
    counter(
        &mut out,
        "volley_sent_bytes",
        "Payload bytes sent.",
        counters.bytes_sent,
    );
    counter(
        &mut out,
        "volley_received_bytes",
        "Payload bytes received.",
        counters.bytes_received,
    );
    counter(
        &mut out,
        "volley_wire_sent_bytes",
        "Bytes of WebSocket frames sent as on the wire: headers and compressed payloads, control frames included.",
        counters.wire_bytes_sent,
    );
    counter(
        &mut out,
        "volley_wire_received_bytes",
        "Bytes of WebSocket frames received as on the wire: headers and compressed payloads, control frames included.",
        counters.wire_bytes_received,
    );
    counter(
        &mut out,
        "volley_compressed_messages_sent",
        "Data messages sent compressed (permessage-deflate).",
        counters.compressed_messages_sent,
    );
    counter(
        &mut out,
        "volley_compressed_messages_received",
        "Data messages received compressed (permessage-deflate).",
        counters.compressed_messages_received,
    );
    let _ = writeln!(
        out,
        "# TYPE volley_connections_negotiated counter\n# HELP volley_connections_negotiated Opened connections by the extension they negotiated (none: no extension)."
    );
    for (extension, count) in &totals.negotiated {
        let _ = writeln!(
            out,
            "volley_connections_negotiated_total{{extension=\"{}\"}} {count}",
            escape(extension)
        );
    }
    counter(
        &mut out,
        "volley_reply_timeouts",
        "Requests whose reply missed its deadline.",
        counters.reply_timeouts,
    );
    counter(
        &mut out,
        "volley_requests_abandoned",
        "Requests still waiting for a reply when their connection ended.",
        counters.requests_abandoned,
    );
    counter(
        &mut out,
        "volley_goodbyes",
        "Connections the run's end said goodbye on (on-goodbye called).",
        counters.goodbyes,
    );
    counter(
        &mut out,
        "volley_goodbye_timeouts",
        "Goodbyes cut at load.goodbye_timeout with requests still pending.",
        counters.goodbye_timeouts,
    );
    counter(
        &mut out,
        "volley_unexpected_messages",
        "Messages a flow received that no expect matched.",
        counters.unexpected_messages,
    );
    counter(
        &mut out,
        "volley_long_callbacks",
        &format!(
            "Scenario callbacks that took {} ms or longer of CPU time.",
            crate::measure::counters::LONG_CALLBACK.as_millis()
        ),
        counters.long_callbacks,
    );
    counter(
        &mut out,
        "volley_dropped_arrivals",
        "Arrivals not started because max_connections were open.",
        counters.dropped_arrivals,
    );
    counter(
        &mut out,
        "volley_data_exhausted",
        "Virtual users stopped because data_order: unique had used every row.",
        counters.data_exhausted,
    );
    let _ = writeln!(
        out,
        "# TYPE volley_connection_failures counter\n# HELP volley_connection_failures Failed connections by reason."
    );
    for (reason, count) in &totals.failures {
        let _ = writeln!(
            out,
            "volley_connection_failures_total{{reason=\"{}\"}} {count}",
            escape(reason)
        );
    }
    let _ = writeln!(
        out,
        "# TYPE volley_checks counter\n# HELP volley_checks Check outcomes by name."
    );
    for (name, count) in &totals.checks {
        let name = escape(name);
        let _ = writeln!(
            out,
            "volley_checks_total{{check=\"{name}\",result=\"pass\"}} {}",
            count.passed
        );
        let _ = writeln!(
            out,
            "volley_checks_total{{check=\"{name}\",result=\"fail\"}} {}",
            count.failed
        );
    }
    summary(
        &mut out,
        "volley_round_trip_seconds",
        "Request/reply round trips from when the send was due.",
        &totals.round_trips,
        1e6,
    );
    labelled_summaries(
        &mut out,
        ("volley_named_round_trip_seconds", "name"),
        "Round trips of named requests, by name (each also in volley_round_trip_seconds).",
        &totals.round_trips_by_name,
        1e6,
    );
    labelled_summaries(
        &mut out,
        ("volley_latency_seconds", "name"),
        "Delivery latencies by name: wall clock at receipt minus the sender's stamp (record_latency).",
        &totals.latency,
        1e6,
    );
    counter(
        &mut out,
        "volley_latency_stamps_in_future",
        "Latency stamps later than the receiver's clock (clock skew): recorded as 0.",
        counters.latency_stamps_in_future,
    );
    summary(
        &mut out,
        "volley_connect_seconds",
        "Whole connect: DNS + TCP + TLS + WebSocket upgrade.",
        &totals.connect_time,
        1e6,
    );
    summary(
        &mut out,
        "volley_timer_lag_seconds",
        "How late scenario timers ran.",
        &totals.timer_lag,
        1e6,
    );
    summary(
        &mut out,
        "volley_ping_seconds",
        "Client ping to pong.",
        &totals.ping_rtt,
        1e6,
    );
    for phase in crate::measure::stats::Phase::ALL {
        let name = phase.name();
        summary(
            &mut out,
            &format!("volley_{name}_seconds"),
            &format!("Connect phase: {name}."),
            &totals.phases[phase as usize],
            1e6,
        );
    }
    counter(
        &mut out,
        "volley_reconnects",
        "Connections re-opened after a drop.",
        counters.reconnects,
    );
    counter(
        &mut out,
        "volley_tls_resumed_handshakes",
        "TLS handshakes that resumed a session.",
        counters.tls_resumed,
    );
    counter(
        &mut out,
        "volley_tls_full_handshakes",
        "Full TLS handshakes.",
        counters.tls_full,
    );
    custom_metrics(&mut out, totals);
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_23_custom_metrics_are_exposed_by_kind() {
        use crate::config::metrics::MetricKind;
        let kinds = [
            ("seen", MetricKind::Counter),
            ("ok", MetricKind::Rate),
            ("wait_ms", MetricKind::Duration),
        ]
        .into_iter()
        .map(|(name, kind)| (name.to_owned(), kind))
        .collect();
        let collector = crate::measure::collector::Collector::with_metric_kinds(kinds);
        let mut samples = crate::measure::stats::Samples::default();
        samples.metrics.insert("seen".into(), vec![2.0, 3.0]);
        samples
            .metrics
            .insert("ok".into(), vec![1.0, 0.0, 1.0, 1.0]);
        samples.metrics.insert("wait_ms".into(), vec![200.0; 4]);
        samples.metrics.insert("bytes".into(), vec![200.0; 4]);
        collector.absorb(0, &mut samples);
        let text = render(&CounterValues::default(), &collector.snapshot());
        for line in [
            "# TYPE volley_metric_counter counter",
            "volley_metric_counter_total{name=\"seen\"} 5",
            "# TYPE volley_metric_rate gauge",
            "volley_metric_rate{name=\"ok\"} 0.75",
            "volley_metric_duration_seconds{name=\"wait_ms\",quantile=\"0.99\"} 0.2",
            "volley_metric_duration_seconds_sum{name=\"wait_ms\"} 0.8",
            "volley_metric{name=\"bytes\",quantile=\"0.5\"} 200",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(!text.contains("volley_metric{name=\"seen\""), "{text}");
    }

    #[test]
    fn exposition_ends_with_eof_and_names_counters_total() {
        let counters = CounterValues {
            attempted: 3,
            ..Default::default()
        };
        let mut totals = Totals::default();
        totals.checks.insert(
            "say \"hi\"".into(),
            crate::measure::stats::CheckCount {
                passed: 2,
                failed: 1,
            },
        );
        let mut named = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
            .unwrap_or_else(|e| panic!("{e}"));
        for micros in [1_000, 2_000, 3_000] {
            named.saturating_record(micros);
        }
        totals
            .round_trips_by_name
            .insert("join \"a\"".into(), Recorded::estimated(named.clone(), 1.0));
        totals
            .latency
            .insert("deliver".into(), Recorded::estimated(named.clone(), 1.0));
        totals
            .metrics
            .insert("queue depth".into(), Recorded::estimated(named, 1.0));
        let text = render(&counters, &totals);
        assert!(text.contains("volley_latency_seconds_count{name=\"deliver\"} 3\n"));
        assert!(text.contains("volley_latency_stamps_in_future_total 0\n"));
        assert!(text.contains("volley_goodbye_timeouts_total 0\n"));
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE volley_named_round_trip_seconds summary\n"));
        assert!(
            text.contains(
                "volley_named_round_trip_seconds{name=\"join \\\"a\\\"\",quantile=\"0.99\"} 0.003"
            ),
            "{text}"
        );
        assert!(
            text.contains("volley_named_round_trip_seconds_count{name=\"join \\\"a\\\"\"} 3\n")
        );
        assert!(
            text.contains("volley_named_round_trip_seconds_sum{name=\"join \\\"a\\\"\"} 0.006")
        );
        assert!(text.contains("volley_metric_count{name=\"queue depth\"} 3\n"));
        assert!(text.contains("volley_data_exhausted_total 0\n"));
        // The unlabelled summaries keep their plain sample names.
        assert!(text.contains("volley_round_trip_seconds_count 0\n"));
        assert!(text.contains("volley_connections_attempted_total 3\n"));
        assert!(text.contains(r#"volley_checks_total{check="say \"hi\"",result="fail"} 1"#));
    }

    #[test]
    fn issue_22_wire_bytes_compressed_messages_and_negotiations_are_exposed() {
        let counters = CounterValues {
            bytes_sent: 4096,
            wire_bytes_sent: 1234,
            wire_bytes_received: 2345,
            compressed_messages_sent: 12,
            compressed_messages_received: 11,
            ..Default::default()
        };
        let mut totals = Totals::default();
        let deflate = "permessage-deflate client_max_window_bits=15 server_max_window_bits=15";
        totals.negotiated.insert(deflate.into(), 7);
        totals.negotiated.insert("none".into(), 2);
        let text = render(&counters, &totals);
        for line in [
            "volley_sent_bytes_total 4096\n",
            "# TYPE volley_wire_sent_bytes counter\n",
            "volley_wire_sent_bytes_total 1234\n",
            "volley_wire_received_bytes_total 2345\n",
            "volley_compressed_messages_sent_total 12\n",
            "volley_compressed_messages_received_total 11\n",
            "# TYPE volley_connections_negotiated counter\n",
            "volley_connections_negotiated_total{extension=\"permessage-deflate client_max_window_bits=15 server_max_window_bits=15\"} 7\n",
            "volley_connections_negotiated_total{extension=\"none\"} 2\n",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
    }
}
