//! `volley import har` (issue 26): HAR files the tests write themselves become flow files and a
//! README. One recording has two sockets (a chat with text and binary frames, a welcome push
//! whose session is captured and reused, an id echoed back, a pushed message, Cookie and
//! Authorization headers and a token in the query; and a plain-text ping socket recorded as an
//! `https://` upgrade); the secrets appear in no output file. A HAR without a WebSocket, a file that
//! is not JSON and an existing output folder are refused with exit 2.

use crate::support::{Ran, collect, volley};
use serde_json::{Value as Json, json};
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

const COOKIE: &str = "sid=cookie-secret-4711";
const BEARER: &str = "Bearer eyJhbGciOi.secret-bearer";
const QUERY_TOKEN: &str = "query-token-0815";
/// The recording's first second (epoch seconds, as Chrome writes frame times).
const T0: f64 = 1_700_000_000.0;

fn temp(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("volley-har-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let _ = std::fs::create_dir_all(&folder);
    folder
}

fn frame(kind: &str, time: f64, opcode: u8, data: &str) -> Json {
    json!({"type": kind, "time": time, "opcode": opcode, "data": data})
}

/// A recorded chat session: two sockets on one page, and an HTTP request around them.
fn chat_har() -> Json {
    let chat = json!({
        "pageref": "page_1",
        "_resourceType": "websocket",
        "request": {
            "method": "GET",
            "url": format!("wss://chat.example.com/ws?room=lobby&token={QUERY_TOKEN}"),
            "headers": [
                {"name": "Host", "value": "chat.example.com"},
                {"name": "Connection", "value": "Upgrade"},
                {"name": "Upgrade", "value": "websocket"},
                {"name": "Sec-WebSocket-Key", "value": "dGhlIHNhbXBsZSBub25jZQ=="},
                {"name": "Sec-WebSocket-Version", "value": "13"},
                {"name": "Sec-WebSocket-Protocol", "value": "chat.v1"},
                {"name": "Cookie", "value": COOKIE},
                {"name": "Authorization", "value": BEARER},
                {"name": "Origin", "value": "https://chat.example.com"}
            ]
        },
        "response": {"status": 101, "headers": []},
        "_webSocketMessages": [
            frame("receive", T0 + 0.0001, 1, r#"{"type":"welcome","session":"sess-8c1f2b9d","motd":"hi"}"#),
            frame("send", T0 + 0.2503, 1, r#"{"type":"join","id":1,"session":"sess-8c1f2b9d","user":"ann"}"#),
            frame("receive", T0 + 0.301, 1, r#"{"type":"joined","id":1,"users":3}"#),
            frame("receive", T0 + 0.302, 1, r#"{"type":"presence","user":"bob","online":true}"#),
            frame("send", T0 + 1.5, 1, r#"{"type":"say","id":2,"session":"sess-8c1f2b9d","text":"it's $5"}"#),
            frame("receive", T0 + 1.54, 1, r#"{"type":"said","id":2}"#),
            frame("send", T0 + 1.545, 2, "AAECAw=="),
            frame("receive", T0 + 1.6, 2, "BAUG"),
            frame("receive", T0 + 2.0, 1, r#"{"type":"message","from":"bob","text":"hello"}"#)
        ]
    });
    let ping = json!({
        "pageref": "page_1",
        "request": {
            "url": "https://live.example.com/ping",
            "headers": [{"name": "Upgrade", "value": "websocket"}]
        },
        "response": {"status": 101},
        "_webSocketMessages": [
            frame("send", T0 + 3.0, 1, "ping"),
            frame("receive", T0 + 3.02, 1, "pong"),
            frame("send", T0 + 4.0, 1, "ping"),
            frame("receive", T0 + 4.03, 1, "pong")
        ]
    });
    json!({"log": {
        "version": "1.2",
        "creator": {"name": "WebInspector", "version": "537.36"},
        "pages": [{"id": "page_1", "title": "Volley Chat", "startedDateTime": "2023-11-14T22:13:20.000Z"}],
        "entries": [
            {"request": {"url": "https://chat.example.com/", "headers": []}, "response": {"status": 200}},
            chat,
            ping
        ]
    }})
}

fn write_har(folder: &Path, name: &str, har: &Json) -> PathBuf {
    let path = folder.join(name);
    if let Err(error) = std::fs::write(&path, har.to_string()) {
        panic!("cannot write {}: {error}", path.display());
    }
    path
}

fn import(args: &[&Path], extra: &[&str], cwd: Option<&Path>) -> Ran {
    let mut command = volley();
    command.args(["import", "har"]).args(args).args(extra);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    match command.output() {
        Ok(output) => collect(output, None),
        Err(error) => panic!("cannot start volley: {error}"),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn yaml(path: &Path) -> Value {
    let text = read(path);
    serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}\n{text}", path.display()))
}

/// The steps of a flow file as (key, value) pairs (`close` has a null value).
fn steps(file: &Value) -> Vec<(String, Value)> {
    let Some(flow) = file["flow"].as_sequence() else {
        panic!("no flow: list in {file:?}");
    };
    flow.iter()
        .map(|step| match step {
            Value::String(word) => (word.clone(), Value::Null),
            Value::Mapping(mapping) if mapping.len() == 1 => {
                let (key, value) = mapping
                    .iter()
                    .next()
                    .map_or((Value::Null, Value::Null), |(k, v)| (k.clone(), v.clone()));
                (key.as_str().unwrap_or_default().to_owned(), value)
            }
            other => panic!("a step is one key: {other:?}"),
        })
        .collect()
}

/// Every generated flow file has the shape the flow spec describes, whatever its contents.
fn assert_flow_shape(path: &Path) {
    let file = yaml(path);
    assert_eq!(file["version"], 1, "{}", path.display());
    for key in ["name", "target"] {
        assert!(
            file[key].as_str().is_some_and(|text| !text.is_empty()),
            "{key} in {}",
            path.display()
        );
    }
    assert!(file.get("module").is_none());
    assert_eq!(file["load"]["connections"], 1);
    assert_eq!(file["load"]["iterations"], 1);
    let steps = steps(&file);
    assert_eq!(steps.last().map(|(key, _)| key.as_str()), Some("close"));
    let mut previous = "";
    for (key, value) in &steps {
        assert!(
            ["send", "send_binary", "expect", "think", "close"].contains(&key.as_str()),
            "{key}"
        );
        if key == "expect" && value.get("name").is_some() {
            assert!(
                ["send", "send_binary"].contains(&previous),
                "a named expect directly follows a send: {steps:?}"
            );
        }
        if key == "think" {
            let text = value.as_str().unwrap_or_default();
            assert!(
                text.ends_with("ms")
                    && text
                        .trim_end_matches("ms")
                        .parse::<u64>()
                        .is_ok_and(|ms| ms >= 10),
                "{text}"
            );
        }
        previous = key;
    }
}

#[test]
fn a_chat_recording_becomes_one_flow_per_socket_with_correlation_and_no_secret() {
    let folder = temp("chat");
    let har = write_har(&folder, "chat.har", &chat_har());
    let out = folder.join("flows");
    let ran = import(&[&har, Path::new("--out"), &out], &[], None);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("2 WebSockets in chat.har"), "{ran:?}");
    assert!(ran.stdout.contains("CHAT_COOKIE"), "{ran:?}");

    let mut names: Vec<String> = std::fs::read_dir(&out)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    assert_eq!(
        names,
        vec![
            "README.md",
            "chat-example-com-ws-1.yaml",
            "live-example-com-ping-2.yaml"
        ]
    );

    // The secrets are nowhere, in no form the runner or a reader would see.
    for name in &names {
        let text = read(&out.join(name));
        for secret in [
            COOKIE,
            BEARER,
            QUERY_TOKEN,
            "cookie-secret-4711",
            "secret-bearer",
        ] {
            assert!(
                !text.contains(secret),
                "{secret} written into {name}:\n{text}"
            );
        }
    }
    for secret in [COOKIE, BEARER, QUERY_TOKEN] {
        assert!(
            !ran.stdout.contains(secret) && !ran.stderr.contains(secret),
            "{ran:?}"
        );
    }

    let chat_path = out.join("chat-example-com-ws-1.yaml");
    assert_flow_shape(&chat_path);
    let chat = yaml(&chat_path);
    assert_eq!(
        chat["target"],
        "wss://chat.example.com/ws?room=lobby&token=${CHAT_TOKEN}"
    );
    assert_eq!(chat["headers"]["Cookie"], "${CHAT_COOKIE}");
    assert_eq!(chat["headers"]["Authorization"], "${CHAT_AUTHORIZATION}");
    assert_eq!(chat["headers"]["Origin"], "https://chat.example.com");
    for dropped in [
        "Host",
        "Connection",
        "Upgrade",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
    ] {
        assert!(chat["headers"].get(dropped).is_none(), "{dropped} kept");
    }
    assert_eq!(chat["subprotocols"][0], "chat.v1");
    assert_eq!(chat["name"], "volley-chat-1");

    let steps = steps(&chat);
    let keys: Vec<&str> = steps.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "expect",
            "think",
            "send",
            "expect",
            "think",
            "send",
            "expect",
            "send_binary",
            "expect",
            "close"
        ],
        "{steps:?}"
    );
    // The welcome push brought the session a later send uses: expected, unnamed, captured.
    let welcome = &steps[0].1;
    assert!(welcome.get("name").is_none());
    assert_eq!(welcome["json"]["path"], "$.type");
    assert_eq!(welcome["json"]["equals"], "welcome");
    assert_eq!(welcome["capture"]["session"], "$.session");
    assert_eq!(steps[1].1, "250ms");
    // The join: its id counted, its session the capture; the reply checks the echo.
    assert_eq!(
        steps[2].1,
        r#"{"type":"join","id":{{counter}},"session":"{{session}}","user":"ann"}"#
    );
    let joined = &steps[3].1;
    assert_eq!(joined["name"], "joined");
    assert_eq!(joined["json"]["path"], "$.id");
    assert_eq!(joined["json"]["equals"], "{{counter}}");
    assert_eq!(joined["contains"], r#""type":"joined""#);
    // The presence push right after is not expected; the think counts from the joined reply.
    assert_eq!(steps[4].1, "1199ms");
    // A recorded `$` is written `$$` (the file's `${…}` substitution turns it back into `$`).
    assert_eq!(
        steps[5].1,
        r#"{"type":"say","id":{{counter}},"session":"{{session}}","text":"it's $$5"}"#
    );
    assert_eq!(steps[6].1["name"], "said");
    assert_eq!(steps[7].1, "AAECAw==");
    assert_eq!(steps[8].1["binary"], true);
    assert_eq!(steps[8].1["name"], "binary_reply");

    let ping_path = out.join("live-example-com-ping-2.yaml");
    assert_flow_shape(&ping_path);
    let ping = yaml(&ping_path);
    assert_eq!(ping["target"], "wss://live.example.com/ping");
    let steps = self::steps(&ping);
    assert_eq!(steps[0], ("send".to_owned(), Value::from("ping")));
    assert_eq!(steps[1].1["equals"], "pong");
    assert_eq!(steps[1].1["name"], "pong");
    assert_eq!(steps[2].1, "980ms");
    assert_eq!(steps[4].1["name"], "pong_2");

    let readme = read(&out.join("README.md"));
    for expected in [
        "| `CHAT_COOKIE` | the Cookie header of chat-example-com-ws-1.yaml |",
        "| `CHAT_AUTHORIZATION` | the Authorization header of chat-example-com-ws-1.yaml |",
        "| `CHAT_TOKEN` | the `token` query parameter of chat-example-com-ws-1.yaml's target |",
        "Capture `session` from `$.session` of the push expected at step 1, sent back as `{{session}}` by 2 later sends",
        "Id `id` echoed in 2 replies: sent as `{{counter}}`",
        "Server pushes: 2 not expected (counted by the runtime as unexpected messages); 1 expected only to capture a value",
        "Binary frames: 1 sent",
        "volley run ",
        "read 3 entries (page \u{201c}Volley Chat\u{201d}), 2 of them WebSockets",
    ] {
        assert!(
            readme.contains(expected),
            "README lacks {expected:?}:\n{readme}"
        );
    }
}

#[test]
fn existing_files_are_kept_unless_forced_and_the_folder_defaults_to_the_stem() {
    let folder = temp("force");
    let har = write_har(&folder, "session.har", &chat_har());
    let first = import(&[Path::new("session.har")], &[], Some(&folder));
    assert_eq!(first.code, 0, "{first:?}");
    let out = folder.join("session-flows");
    assert!(out.join("README.md").is_file(), "{first:?}");
    std::fs::write(out.join("README.md"), "mine").unwrap_or_else(|error| panic!("{error}"));
    let again = import(&[&har, Path::new("--out"), &out], &[], None);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(
        again.stderr.contains("already has") && again.stderr.contains("--force"),
        "{again:?}"
    );
    assert_eq!(read(&out.join("README.md")), "mine");
    let forced = import(&[&har, Path::new("--out"), &out], &["--force"], None);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert_ne!(read(&out.join("README.md")), "mine");
}

#[test]
fn a_har_without_websockets_and_a_file_that_is_not_json_are_refused() {
    let folder = temp("errors");
    let plain = write_har(
        &folder,
        "plain.har",
        &json!({"log": {"version": "1.2", "entries": [
            {"request": {"url": "https://example.com/", "headers": []}, "response": {"status": 200}},
            {"request": {"url": "https://example.com/app.js", "headers": []}, "response": {"status": 200}}
        ]}}),
    );
    let ran = import(&[&plain], &[], Some(&folder));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("2 entries, none a WebSocket; record with the DevTools Network panel open before the socket opens, and export with content"),
        "{ran:?}"
    );
    assert!(!folder.join("plain-flows").exists());

    let broken = folder.join("broken.har");
    std::fs::write(&broken, "<html>not a har</html>").unwrap_or_else(|error| panic!("{error}"));
    let ran = import(&[&broken], &[], Some(&folder));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("not JSON"), "{ran:?}");

    let empty_socket = write_har(
        &folder,
        "empty.har",
        &json!({"log": {"entries": [{"request": {"url": "wss://x.example.com/"}, "_webSocketMessages": []}]}}),
    );
    let ran = import(&[&empty_socket], &[], Some(&folder));
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("none with frames"), "{ran:?}");
}

#[test]
fn every_imported_file_loads_with_volley_check() {
    let folder = temp("check");
    let har = write_har(&folder, "chat.har", &chat_har());
    let out = folder.join("flows");
    let ran = import(&[&har, Path::new("--out"), &out], &[], None);
    assert_eq!(ran.code, 0, "{ran:?}");
    for name in ["chat-example-com-ws-1.yaml", "live-example-com-ping-2.yaml"] {
        let mut command = volley();
        command
            .arg("check")
            .arg(out.join(name))
            .env("CHAT_COOKIE", "sid=1")
            .env("CHAT_AUTHORIZATION", "Bearer 1")
            .env("CHAT_TOKEN", "1");
        let checked = match command.output() {
            Ok(output) => collect(output, None),
            Err(error) => panic!("cannot start volley: {error}"),
        };
        assert_eq!(checked.code, 0, "{name}: {checked:?}");
        assert!(
            checked.stdout.contains("run by the runner itself"),
            "{checked:?}"
        );
    }
}

/// An echo session recorded in a browser: JSON with an id, a `$`, and a binary frame.
fn echo_har() -> Json {
    let mut frames = Vec::new();
    let mut time = T0;
    for id in 1..=3 {
        let text = json!({"type": "ping", "id": id, "text": "costs $5"}).to_string();
        frames.push(frame("send", time, 1, &text));
        frames.push(frame("receive", time + 0.002, 1, &text));
        time += 0.05;
    }
    frames.push(frame("send", time, 2, "AAECAw=="));
    frames.push(frame("receive", time + 0.002, 2, "AAECAw=="));
    json!({"log": {"entries": [{
        "request": {"url": "ws://127.0.0.1:9001/", "headers": [{"name": "Cookie", "value": "sid=echo-cookie-1"}]},
        "_webSocketMessages": frames
    }]}})
}

#[test]
fn an_imported_echo_session_runs_and_passes_against_the_echo_server() {
    let folder = temp("echo");
    let har = write_har(&folder, "echo.har", &echo_har());
    let out = folder.join("flows");
    let ran = import(&[&har, Path::new("--out"), &out], &[], None);
    assert_eq!(ran.code, 0, "{ran:?}");
    let file = out.join("127-0-0-1-9001-1.yaml");
    let text = read(&file);
    assert!(
        text.contains(r#"'{"id":{{counter}},"text":"costs $$5","type":"ping"}'"#),
        "{text}"
    );
    let results = folder.join("results.json");
    let mut command = volley();
    command
        .arg("run")
        .arg(&file)
        .args(["--target", "embedded://echo", "--no-progress", "--out"])
        .arg(&results)
        .env("WS_COOKIE", "sid=1");
    let run = match command.output() {
        Ok(output) => collect(output, Some(&results)),
        Err(error) => panic!("cannot start volley: {error}"),
    };
    // Every expect passed: the echoed ids matched their `{{counter}}`, the binary reply came back.
    assert_eq!(run.code, 0, "{run:?}");
    let results = crate::support::results(&run);
    let checks = results["checks"].as_array().cloned().unwrap_or_default();
    let mut names: Vec<&str> = checks
        .iter()
        .filter_map(|check| check["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec!["binary_reply", "ping", "ping_2", "ping_3"],
        "{results:#}"
    );
    for check in &checks {
        assert_eq!(check["failed"], 0, "{check}");
        assert_eq!(check["passed"], 1, "{check}");
    }
    assert_eq!(crate::support::number(results, "/messages/sent"), 4);
    assert_eq!(crate::support::number(results, "/round_trips/count"), 4);
}
