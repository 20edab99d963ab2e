//! `volley_sdk::mqtt` against a real broker: Debian's mosquitto (installed by
//! `scripts/test-setup`), started per test on free loopback ports with a temporary configuration
//! (a TCP listener, which mosquitto needs to start at all, and a WebSocket one) and stopped by its
//! process id when the test ends, also when it fails ([`Mosquitto`]'s `Drop`). The runs use
//! `scenarios/mqtt-fanout.yaml` with `--target`: exact delivery counts at QoS 0, 1 and 2 across
//! 1 publisher and 20 subscribers (each delivery's latency recorded), a retained message seen by a
//! late subscriber, a broker killed mid-run counted under its `io:` reason, and (issue 23) the
//! goodbye: connections the run's end stops send DISCONNECT, so the broker publishes none of their
//! Wills — and does publish them when the goodbye is switched off ([`WillObserver`]).

use std::io::{Read, Write};

use crate::support::{build_scenarios, collect, number, results, volley, wait_for_series_point};
use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A mosquitto process started by this test; dropped means killed and reaped.
struct Mosquitto {
    child: Option<Child>,
    /// The WebSocket listener's port.
    ws_port: u16,
    /// The plain TCP listener's port.
    tcp_port: u16,
    _dir: tempfile::TempDir,
}

/// A port free on loopback right now (the broker binds it a moment later).
fn free_port() -> u16 {
    match TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()) {
        Ok(address) => address.port(),
        Err(error) => panic!("no free loopback port: {error}"),
    }
}

impl Mosquitto {
    /// Start mosquitto and wait until its WebSocket port accepts connections.
    fn start() -> Mosquitto {
        let binary = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|path| std::path::Path::new(path).exists())
            .unwrap_or("mosquitto");
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(error) => panic!("cannot make a temporary folder: {error}"),
        };
        let (tcp_port, ws_port) = (free_port(), free_port());
        let config = dir.path().join("mosquitto.conf");
        let text = format!(
            "listener {tcp_port} 127.0.0.1\nlistener {ws_port} 127.0.0.1\nprotocol websockets\n\
             allow_anonymous true\npersistence false\nlog_dest stderr\n"
        );
        if let Err(error) = std::fs::write(&config, text) {
            panic!("cannot write {}: {error}", config.display());
        }
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut broker = match child {
            Ok(child) => Mosquitto {
                child: Some(child),
                ws_port,
                tcp_port,
                _dir: dir,
            },
            Err(error) => panic!(
                "cannot start {binary} (run scripts/test-setup, or apt-get install mosquitto): {error}"
            ),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", ws_port)).is_err() {
            let exited = broker
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            assert!(exited.is_none(), "mosquitto exited at start: {exited:?}");
            assert!(
                Instant::now() < deadline,
                "mosquitto's WebSocket port {ws_port} did not accept within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    fn target(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port)
    }

    /// Kill the broker now (SIGKILL: no goodbye to its clients) and reap it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `--set`s for the file's two populations: `load.connections=N` is N − 1 subscribers and
/// the one publisher; another `load.KEY=VALUE` applies to both populations.
fn population_sets(sets: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for set in sets {
        match set.strip_prefix("load.") {
            Some(rest) => match rest.strip_prefix("connections=") {
                Some(count) => {
                    let all: u32 = count.parse().unwrap_or(2);
                    out.push(format!(
                        "populations.subscribers.load.connections={}",
                        all.saturating_sub(1)
                    ));
                }
                None => {
                    out.push(format!("populations.subscribers.load.{rest}"));
                    out.push(format!("populations.publishers.load.{rest}"));
                }
            },
            None => out.push((*set).to_owned()),
        }
    }
    out
}

/// Run `scenarios/mqtt-fanout.yaml` (subscribers and one publisher, two populations) against
/// `broker` with `--set` overrides (`load.connections` counting both, see [`population_sets`]).
fn fanout(broker: &Mosquitto, sets: &[&str]) -> crate::support::Ran {
    build_scenarios();
    let out = tempfile::NamedTempFile::new().map_or_else(
        |error| panic!("no temporary file: {error}"),
        |file| file.into_temp_path().to_path_buf(),
    );
    let mut command = volley();
    command
        .args(["run", "scenarios/mqtt-fanout.yaml", "--no-progress"])
        .args(["--target", &broker.target(), "--out"])
        .arg(&out);
    for set in population_sets(sets) {
        command.args(["--set", &set]);
    }
    let ran = match command.output() {
        Ok(output) => collect(output, Some(&out)),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    let _ = std::fs::remove_file(&out);
    ran
}

/// `(passed, failed)` of the check `name`, `(0, 0)` when it was never recorded.
fn check(results: &Value, name: &str) -> (u64, u64) {
    let checks = results["checks"].as_array().cloned().unwrap_or_default();
    checks
        .iter()
        .find(|check| check["name"] == name)
        .map_or((0, 0), |check| {
            (
                check["passed"].as_u64().unwrap_or(0),
                check["failed"].as_u64().unwrap_or(0),
            )
        })
}

fn exact_fanout_at(qos: u8) {
    let broker = Mosquitto::start();
    let qos_set = format!("vars.qos={qos}");
    let ran = fanout(
        &broker,
        &[
            "load.connections=21",
            "vars.subscribers=20",
            "vars.messages=20",
            "vars.interval_ms=5",
            &qos_set,
        ],
    );
    drop(broker);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/established"), 21);
    assert_eq!(number(r, "/connections/failed"), 0, "{ran:?}");
    // Every subscriber got each of the 20 messages exactly once: 400 deliveries.
    assert_eq!(check(r, "every message delivered exactly once"), (20, 0));
    // Every delivery's latency, from the publisher's wall-clock stamp: one per delivery.
    assert_eq!(number(r, "/latency/deliver/count"), 400, "{r:#}");
    assert_eq!(number(r, "/latency_stamps_in_future"), 0, "{r:#}");
    assert_eq!(check(r, "subscription granted"), (21, 0));
    assert_eq!(check(r, "mqtt packet is valid"), (0, 0));
    // CONNECT and SUBSCRIBE of every connection are timed under their names.
    assert_eq!(number(r, "/round_trips_by_name/mqtt connect/count"), 21);
    assert_eq!(number(r, "/round_trips_by_name/mqtt subscribe/count"), 21);
    assert_eq!(number(r, "/reply_timeouts"), 0);
    let named = format!("/round_trips_by_name/mqtt publish qos{qos}/count");
    if qos == 0 {
        assert!(r.pointer(&named).is_none(), "{r:#}");
        assert_eq!(check(r, "every publish acknowledged"), (0, 0));
    } else {
        assert_eq!(number(r, &named), 20, "{r:#}");
        assert_eq!(check(r, "every publish acknowledged"), (1, 0));
    }
}

#[test]
fn mqtt_qos0_fanout_delivers_every_message_to_each_of_20_subscribers() {
    exact_fanout_at(0);
}

#[test]
fn mqtt_qos1_fanout_delivers_every_message_and_times_each_puback() {
    exact_fanout_at(1);
}

#[test]
fn mqtt_qos2_fanout_delivers_every_message_once_and_times_each_pubcomp() {
    exact_fanout_at(2);
}

#[test]
fn mqtt_retained_message_is_seen_by_a_late_subscriber() {
    let broker = Mosquitto::start();
    let first = fanout(
        &broker,
        &[
            "load.connections=2",
            "vars.subscribers=1",
            "vars.messages=3",
            "vars.retain=true",
        ],
    );
    assert_eq!(first.code, 0, "{first:?}");
    // Later subscribers, and nothing new published: only the retained message arrives.
    let late = fanout(
        &broker,
        &[
            "load.connections=3",
            "vars.subscribers=2",
            "vars.messages=0",
            "vars.expect_retained=true",
            // Nothing is published, so no delivery latency: the file's `latency{deliver}` rule
            // would judge as no data.
            r#"thresholds=["checks pass_rate == 100%"]"#,
        ],
    );
    drop(broker);
    assert_eq!(late.code, 0, "{late:?}");
    let r = results(&late);
    assert_eq!(
        check(r, "late subscriber sees the retained message"),
        (2, 0)
    );
    assert_eq!(check(r, "every message delivered exactly once"), (2, 0));
}

#[test]
fn mqtt_broker_killed_mid_run_is_counted_under_its_io_reason() {
    let mut broker = Mosquitto::start();
    build_scenarios();
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => panic!("cannot make a temporary folder: {error}"),
    };
    let (out, series) = (dir.path().join("out.json"), dir.path().join("series.jsonl"));
    // Far more messages than can be sent before the kill: the run is mid-way when it happens.
    let child = volley()
        .args(["run", "scenarios/mqtt-fanout.yaml", "--no-progress"])
        .args(["--target", &broker.target()])
        .args([
            "--set",
            "populations.subscribers.load.connections=4",
            "--set",
            "vars.subscribers=4",
        ])
        .args([
            "--set",
            "vars.messages=100000",
            "--set",
            "vars.interval_ms=20",
        ])
        .args(["--interval", "200ms", "--series"])
        .arg(&series)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => panic!("cannot start volley: {error}"),
    };
    // Every connection open and messages flowing (a condition, not a time).
    wait_for_series_point(
        &series,
        |point| point["open"].as_u64() == Some(5) && point["received"].as_u64() > Some(20),
        Duration::from_secs(60),
    );
    broker.kill();
    crate::interrupt::wait_exit(&mut child, Duration::from_secs(60), "the broker's death");
    let ran = match child.wait_with_output() {
        Ok(output) => collect(output, Some(&out)),
        Err(error) => panic!("cannot collect volley: {error}"),
    };
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/established"), 5);
    assert_eq!(number(r, "/connections/failed"), 5, "{r:#}");
    let reasons = r["connections"]["failed_by_reason"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let io: u64 = reasons
        .iter()
        .filter(|(reason, _)| reason.starts_with("io: "))
        .map(|(_, count)| count.as_u64().unwrap_or(0))
        .sum();
    assert_eq!(io, 5, "{reasons:#?}");
    // No subscriber finished: none passed its delivery check. (A failed connection gets no
    // on_close, so its verdict is the failure reason above, not a failed check.)
    assert_eq!(
        check(r, "every message delivered exactly once").0,
        0,
        "{r:#}"
    );
}

/// An MQTT 3.1.1 client on the broker's plain TCP listener, subscribed to one topic, written out
/// by hand (the test crate has no MQTT client): it sees the Wills the broker publishes.
struct WillObserver {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl WillObserver {
    /// Connect as `volley-will-observer`, subscribe to `topic` at QoS 0 and wait for the SUBACK.
    fn subscribe(broker: &Mosquitto, topic: &str) -> WillObserver {
        let stream = match TcpStream::connect(("127.0.0.1", broker.tcp_port)) {
            Ok(stream) => stream,
            Err(error) => panic!("cannot reach mosquitto's TCP listener: {error}"),
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
        let mut observer = WillObserver {
            stream,
            buffer: Vec::new(),
        };
        let id = b"volley-will-observer";
        // CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s.
        let mut connect = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C];
        connect.extend_from_slice(&(id.len() as u16).to_be_bytes());
        connect.extend_from_slice(id);
        observer.send(0x10, &connect);
        assert_eq!(
            observer.next_packet(Duration::from_secs(5)).map(|(t, _)| t),
            Some(0x20)
        );
        // SUBSCRIBE, packet id 1.
        let mut subscribe = vec![0x00, 0x01];
        subscribe.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        subscribe.extend_from_slice(topic.as_bytes());
        subscribe.push(0x00);
        observer.send(0x82, &subscribe);
        assert_eq!(
            observer.next_packet(Duration::from_secs(5)).map(|(t, _)| t),
            Some(0x90)
        );
        observer
    }

    fn send(&mut self, header: u8, body: &[u8]) {
        let mut packet = vec![header, body.len() as u8];
        packet.extend_from_slice(body);
        if let Err(error) = self.stream.write_all(&packet) {
            panic!("cannot write to mosquitto: {error}");
        }
    }

    /// The next packet's type nibble (with flags) and body, or `None` when none came within
    /// `limit`.
    fn next_packet(&mut self, limit: Duration) -> Option<(u8, Vec<u8>)> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((header, length, start)) = frame(&self.buffer)
                && self.buffer.len() >= start + length
            {
                let body = self.buffer[start..start + length].to_vec();
                self.buffer.drain(..start + length);
                return Some((header & 0xF0, body));
            }
            if Instant::now() >= deadline {
                return None;
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(_) => {} // the read timeout: look at the deadline again
            }
        }
    }

    /// The payloads of the PUBLISH packets that arrive within `limit`.
    fn wills_within(&mut self, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut wills = Vec::new();
        while let Some((kind, body)) =
            self.next_packet(deadline.saturating_duration_since(Instant::now()))
        {
            if kind == 0x30 && body.len() >= 2 {
                let topic_length = usize::from(u16::from_be_bytes([body[0], body[1]]));
                let payload = body.get(2 + topic_length..).unwrap_or_default();
                wills.push(String::from_utf8_lossy(payload).into_owned());
            }
        }
        wills
    }
}

/// A packet's first byte, remaining length and where its body starts, once the fixed header is in.
fn frame(buffer: &[u8]) -> Option<(u8, usize, usize)> {
    let header = *buffer.first()?;
    let mut length = 0usize;
    for (index, byte) in buffer.iter().skip(1).take(4).enumerate() {
        length |= usize::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((header, length, index + 2));
        }
    }
    None
}

/// Two connections with a Will each, both still open (waiting for a thousand messages a second
/// apart) when the run's one-second duration ends them.
fn stopped_with_wills(broker: &Mosquitto, topic: &str, goodbye: bool) -> crate::support::Ran {
    let will = format!("vars.will_topic={topic}");
    let goodbye = format!("vars.goodbye={goodbye}");
    fanout(
        broker,
        &[
            "load.connections=2",
            "load.ramp_up=0s",
            "load.duration=1s",
            "vars.subscribers=1",
            "vars.messages=1000",
            "vars.interval_ms=1000",
            "thresholds=[]",
            &will,
            &goodbye,
        ],
    )
}

#[test]
fn issue_23_the_goodbye_disconnects_so_the_broker_publishes_no_will() {
    let broker = Mosquitto::start();
    let topic = format!("volley/will/{}", std::process::id());
    let mut observer = WillObserver::subscribe(&broker, &topic);

    let ran = stopped_with_wills(&broker, &topic, true);
    // The subscriber stopped long before the thousandth message fails its delivery check, as the
    // scenario means it to: exit 1, no connection failed.
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/established"), 2, "{ran:?}");
    assert_eq!(number(r, "/connections/goodbyes"), 2, "{ran:?}");
    assert_eq!(number(r, "/connections/goodbye_timeouts"), 0, "{ran:?}");
    assert_eq!(number(r, "/connections/failed"), 0, "{ran:?}");
    // mosquitto publishes a Will at once when a client goes without DISCONNECT; a second is ample.
    assert_eq!(
        observer.wills_within(Duration::from_secs(1)),
        Vec::<String>::new()
    );

    // The counter-test: without the goodbye the run's Close ends each connection with no
    // DISCONNECT, an abnormal end to MQTT, and mosquitto publishes both Wills.
    let ran = stopped_with_wills(&broker, &topic, false);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(number(results(&ran), "/connections/goodbyes"), 2, "{ran:?}");
    assert_eq!(number(results(&ran), "/connections/failed"), 0, "{ran:?}");
    let mut wills = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while wills.len() < 2 && Instant::now() < deadline {
        wills.extend(observer.wills_within(Duration::from_millis(200)));
    }
    wills.sort();
    assert_eq!(wills, vec!["gone pub-0", "gone sub-0"]);
}
