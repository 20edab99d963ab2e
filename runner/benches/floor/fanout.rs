//! The fan-out figure (issue 23; `cargo bench -p volley --bench floor -- fanout`, and `just bench`
//! after the flow table): `scenarios/mqtt-fanout.yaml` against Debian's mosquitto — 1 publisher at
//! 100 messages/s for 30 s (3,000 messages) to 2,000 QoS 0 subscribers, 6,000,000 deliveries. The
//! broker is started here with a temporary configuration (a TCP listener, which it needs to start,
//! and a `protocol websockets` one on free loopback ports, no connection cap, no queue cap, no log
//! file), pinned to the server CPU; `volley run` is pinned to the client CPU and measured by
//! `child::run` (wait4). Printed: delivery latency p50/p99 (`latency.deliver`), deliveries against
//! the expected count and the `lost_messages` counter, the runner's CPU µs per delivery, its KiB of
//! RSS per subscriber (peak RSS minus a 1-subscriber baseline run's, over 1,999), and the CPU time
//! of both processes over the run as % of one core, so a reader sees which side saturated first.
//! Without mosquitto it prints a skip line and succeeds. Table layout and the other workloads are
//! in `compare`; docs/benchmarks.md, "Fan-out against mosquitto", explains the figures.

use crate::child::{self, SERVER_CPU};
use crate::compare::show;
use crate::volley_cli::{self, Ran, number, repo};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const FILE: &str = "scenarios/mqtt-fanout.yaml";
const SUBSCRIBERS: u32 = 2_000;
const MESSAGES: u32 = 3_000;
const INTERVAL_MS: u32 = 10;
/// The baseline run's subscribers and messages: the runner, the module and one connection.
const BASELINE_SUBSCRIBERS: u32 = 1;
const BASELINE_MESSAGES: u32 = 100;
/// Past the scenario's own 3-minute `max_duration`.
const LIMIT: Duration = Duration::from_secs(240);
/// How long the broker may take to accept on its WebSocket port.
const BROKER_START: Duration = Duration::from_secs(20);

/// Run the fan-out once and print its table; a skip line (and success) without mosquitto.
pub fn run() -> ExitCode {
    let Some(binary) = mosquitto_binary() else {
        println!();
        println!(
            "fan-out against mosquitto: skipped, no mosquitto binary (/usr/sbin/mosquitto, /usr/bin/mosquitto or on PATH); apt-get install mosquitto"
        );
        return ExitCode::SUCCESS;
    };
    let version = mosquitto_version(&binary);
    println!();
    println!(
        "Fan-out against {version} (issue 23): 1 publisher at {} messages/s for {} s, {SUBSCRIBERS} QoS 0 subscribers, over WebSocket",
        1000 / INTERVAL_MS,
        MESSAGES * INTERVAL_MS / 1000,
    );
    println!(
        "  broker pinned to CPU {SERVER_CPU}, volley to CPU {} (when pinning: {}); a 1-subscriber run first for the RSS baseline",
        child::CLIENT_CPU,
        child::pinning()
    );
    let baseline = match measured(&binary, BASELINE_SUBSCRIBERS, BASELINE_MESSAGES) {
        Ok((ran, _)) => ran.finished.max_rss_kib,
        Err(error) => {
            eprintln!("fan-out bench: baseline run: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (ran, broker_cpu_s) = match measured(&binary, SUBSCRIBERS, MESSAGES) {
        Ok(done) => done,
        Err(error) => {
            eprintln!("fan-out bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    print_table(&ran, broker_cpu_s, baseline);
    ExitCode::SUCCESS
}

/// One `volley run` of the fan-out with `subscribers` and `messages` against a fresh broker: the
/// run and the broker's CPU seconds over it.
fn measured(binary: &Path, subscribers: u32, messages: u32) -> Result<(Ran, f64), String> {
    let broker = Broker::start(binary)?;
    let before = broker
        .cpu_s()
        .ok_or("cannot read the broker's /proc/PID/stat")?;
    let ran = volley_cli::run(
        FILE,
        &format!("127.0.0.1:{}", broker.ws_port),
        &sets(subscribers, messages),
        &[],
        LIMIT,
        |_, _| {},
    )?;
    let after = broker.cpu_s().ok_or("the broker exited during the run")?;
    Ok((ran, after - before))
}

/// The `--set`s: `subscribers` in the first population (and in `vars.subscribers`, which the
/// publisher waits for), `messages` every `INTERVAL_MS` at QoS 0, the file's thresholds kept.
fn sets(subscribers: u32, messages: u32) -> Vec<String> {
    vec![
        format!("populations.subscribers.load.connections={subscribers}"),
        format!("vars.subscribers={subscribers}"),
        format!("vars.messages={messages}"),
        format!("vars.interval_ms={INTERVAL_MS}"),
        "vars.qos=0".to_owned(),
        "populations.subscribers.load.ramp_up=5s".to_owned(),
        "populations.subscribers.load.max_duration=3m".to_owned(),
        "populations.publishers.load.max_duration=3m".to_owned(),
    ]
}

fn print_table(ran: &Ran, broker_cpu_s: f64, baseline_kib: f64) {
    let r = &ran.results;
    let f = &ran.finished;
    let wall = f.wall.as_secs_f64();
    let expected = f64::from(SUBSCRIBERS) * f64::from(MESSAGES);
    let delivered = number(r, "/latency/deliver/count");
    let lost = number(r, "/metrics/lost_messages/sum");
    let established = number(r, "/populations/subscribers/connections/established");
    let rows: [(&str, String); 10] = [
        (
            "subscribers established",
            format!("{} of {SUBSCRIBERS}", show(established)),
        ),
        (
            "deliveries",
            format!(
                "{} of {} expected (lost_messages {})",
                show(delivered),
                show(expected),
                show(lost)
            ),
        ),
        (
            "delivery latency p50 ms",
            show(number(r, "/latency/deliver/p50") / 1000.0),
        ),
        (
            "delivery latency p99 ms",
            show(number(r, "/latency/deliver/p99") / 1000.0),
        ),
        (
            "runner CPU µs per delivery",
            show(f.cpu_s * 1e6 / delivered),
        ),
        (
            "runner KiB RSS per subscriber",
            format!(
                "{} (peak {} KiB − baseline {} KiB, over {})",
                show(per_subscriber(f.max_rss_kib, baseline_kib)),
                show(f.max_rss_kib),
                show(baseline_kib),
                SUBSCRIBERS - BASELINE_SUBSCRIBERS
            ),
        ),
        (
            "runner CPU s (% of one core)",
            format!("{} ({}%)", show(f.cpu_s), show(100.0 * f.cpu_s / wall)),
        ),
        (
            "broker CPU s (% of one core)",
            format!(
                "{} ({}%)",
                show(broker_cpu_s),
                show(100.0 * broker_cpu_s / wall)
            ),
        ),
        ("run wall s", show(wall)),
        ("verdict", verdict(ran)),
    ];
    println!("  {:<32} value", "figure");
    for (figure, value) in rows {
        println!("  {figure:<32} {value}");
    }
}

/// Peak RSS above the baseline, per subscriber beyond the baseline's one.
fn per_subscriber(peak_kib: f64, baseline_kib: f64) -> f64 {
    (peak_kib - baseline_kib) / f64::from(SUBSCRIBERS - BASELINE_SUBSCRIBERS)
}

/// `passed`, or `failed:` and the run's reasons (a time-out or signal said as such).
fn verdict(ran: &Ran) -> String {
    let verdict = &ran.results["verdict"];
    let mut text = match verdict["passed"].as_bool() {
        Some(true) => "passed (the file's thresholds)".to_owned(),
        Some(false) => {
            let reasons: Vec<&str> = verdict["reasons"]
                .as_array()
                .map(|reasons| reasons.iter().filter_map(|r| r.as_str()).collect())
                .unwrap_or_default();
            format!("failed: {}", reasons.join("; "))
        }
        None => "— (no verdict in the results)".to_owned(),
    };
    if ran.finished.timed_out {
        text.push_str(" (killed at the bench's time limit)");
    }
    text
}

/// mosquitto where Debian installs it, else on PATH; `None` when absent.
fn mosquitto_binary() -> Option<PathBuf> {
    let installed = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file());
    installed.or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join("mosquitto"))
            .find(|candidate| candidate.is_file())
    })
}

/// The first line of `mosquitto -h` ("mosquitto version 2.0.11"), or "mosquitto".
fn mosquitto_version(binary: &Path) -> String {
    Command::new(binary)
        .arg("-h")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|output| {
            let text = String::from_utf8_lossy(&output.stdout);
            text.lines().next().map(|line| line.trim().to_owned())
        })
        .filter(|line| !line.is_empty())
        .unwrap_or_else(|| "mosquitto".to_owned())
}

/// A mosquitto started here, pinned to the server CPU; killed by its pid and reaped on drop.
struct Broker {
    child: Child,
    ws_port: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// Write the configuration, start the broker and wait (at most `BROKER_START`) until its
    /// WebSocket port accepts.
    fn start(binary: &Path) -> Result<Broker, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
        let (tcp_port, ws_port) = (free_port()?, free_port()?);
        let config = dir.path().join("mosquitto.conf");
        // No log file: as root the broker drops to user `mosquitto`, which could not write one
        // here. No connection cap (`-1`) and no queue cap (`0`): the publisher's subscription to
        // the 2,000 retained "ready" messages would otherwise stop at the default 1,000.
        let text = format!(
            "listener {tcp_port} 127.0.0.1\nlistener {ws_port} 127.0.0.1\nprotocol websockets\n\
             allow_anonymous true\npersistence false\nmax_connections -1\nmax_queued_messages 0\n"
        );
        std::fs::write(&config, text)
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let mut command = child::command(binary, SERVER_CPU);
        command
            .arg("-c")
            .arg(&config)
            .current_dir(repo())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut broker = Broker {
            child,
            ws_port,
            _dir: dir,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", ws_port)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                return Err(format!("mosquitto exited at start ({status})"));
            }
            if started.elapsed() > BROKER_START {
                return Err(format!(
                    "mosquitto's WebSocket port {ws_port} did not accept within {} s",
                    BROKER_START.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(broker)
    }

    /// The broker's own CPU time so far (user + system, s), from /proc/PID/stat (`taskset`
    /// execs it, so the pid is the broker's).
    fn cpu_s(&self) -> Option<f64> {
        volley_cli::process_cpu_s(self.child.id())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on loopback right now (the broker binds it a moment later).
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}
