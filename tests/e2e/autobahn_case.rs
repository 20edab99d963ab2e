//! The scenario `just autobahn` runs for every Autobahn|Testsuite case
//! (`scripts/autobahn/autobahn.yaml`, module `scenarios/mirror`), against a small server here that
//! plays a case the way the fuzzing server does: it sends, expects each message back exactly, and
//! closes. The suite itself needs Python 2 and minutes (`just autobahn`, docs/conformance.md); this
//! keeps its client side honest in `just test`: the target's query reaches the server unchanged,
//! 16 MiB messages (the largest of cases 9.*) fit the file's limits, text comes back as text and
//! binary as binary, pings are answered, and the run ends when the server closes.

use crate::servers::{listener, runtime};
use crate::support::{build_scenarios, collect, number, volley};
use futures_util::{SinkExt, StreamExt};
use std::net::Ipv4Addr;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig, frame::coding};

const SIXTEEN_MIB: usize = 16 * 1024 * 1024;

/// What the case server saw: the request's path and query, and per message sent whether its echo
/// came back identical (same kind, same bytes).
#[derive(Debug)]
struct Seen {
    path_and_query: String,
    echoes_exact: Vec<bool>,
    pong: bool,
}

/// The messages a case sends: small and 16 MiB, text and binary, multi-byte UTF-8 among them.
fn case_messages() -> Vec<Message> {
    let big_text: String = "aé€𝄞".repeat(SIXTEEN_MIB / 10);
    let big_binary: Vec<u8> = (0..SIXTEEN_MIB).map(|i| (i % 251) as u8).collect();
    vec![
        Message::text("héllo"),
        Message::binary(vec![0u8, 255, 7]),
        Message::text(""),
        Message::text(big_text),
        Message::binary(big_binary),
    ]
}

/// Accept one connection on a free port, play the case, close with 1000; the `ws://` address and
/// what it saw.
fn case_server(runtime: &tokio::runtime::Runtime) -> (String, oneshot::Receiver<Seen>) {
    let listener = runtime.block_on(listener(Ipv4Addr::LOCALHOST));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let (report, seen) = oneshot::channel();
    runtime.spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (path_tx, path_rx) = std::sync::mpsc::channel();
        // The error type is tungstenite's (an HTTP response); this callback never fails.
        #[allow(clippy::result_large_err)]
        let answer = move |request: &Request, response: Response| {
            let _ = path_tx.send(request.uri().to_string());
            Ok(response)
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(2 * SIXTEEN_MIB))
            .max_frame_size(Some(2 * SIXTEEN_MIB));
        let Ok(mut socket) =
            tokio_tungstenite::accept_hdr_async_with_config(stream, answer, Some(config)).await
        else {
            return;
        };
        let mut echoes_exact = Vec::new();
        for message in case_messages() {
            if socket.send(message.clone()).await.is_err() {
                break;
            }
            let echo = loop {
                match socket.next().await {
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(echo)) => break Some(echo),
                    _ => break None,
                }
            };
            echoes_exact.push(echo.as_ref() == Some(&message));
        }
        let pong = socket.send(Message::Ping("p".into())).await.is_ok()
            && matches!(socket.next().await, Some(Ok(Message::Pong(payload))) if payload == "p");
        let _ = socket
            .close(Some(CloseFrame {
                code: coding::CloseCode::Normal,
                reason: "case done".into(),
            }))
            .await;
        while let Some(Ok(_)) = socket.next().await {}
        let _ = report.send(Seen {
            path_and_query: path_rx.try_recv().unwrap_or_default(),
            echoes_exact,
            pong,
        });
    });
    (format!("ws://127.0.0.1:{port}"), seen)
}

#[test]
fn the_autobahn_case_scenario_echoes_16_mib_text_and_binary_exactly_until_the_server_closes() {
    build_scenarios();
    let runtime = runtime();
    let (address, seen) = case_server(&runtime);
    let out = tempfile::NamedTempFile::new()
        .map(|file| file.into_temp_path())
        .unwrap_or_else(|error| panic!("cannot make a temporary file: {error}"));
    let target = format!("{address}/runCase?case=7&agent=volley");
    let output = volley()
        .args([
            "run",
            "scripts/autobahn/autobahn.yaml",
            "--no-progress",
            "--target",
            &target,
            "--out",
        ])
        .arg(&*out)
        .output()
        .unwrap_or_else(|error| panic!("cannot start volley: {error}"));
    let ran = collect(output, Some(&out));
    let seen = runtime
        .block_on(seen)
        .unwrap_or_else(|_| panic!("the case server ended without a report; {ran:?}"));

    assert_eq!(
        seen.path_and_query, "/runCase?case=7&agent=volley",
        "{ran:?}"
    );
    let sent = case_messages().len();
    assert_eq!(seen.echoes_exact, vec![true; sent], "{ran:?}");
    assert!(seen.pong, "the runner answered the ping; {ran:?}");
    assert_eq!(ran.code, 0, "{ran:?}");
    let Some(r) = ran.results.as_ref() else {
        panic!("no results file; {ran:?}");
    };
    assert_eq!(number(r, "/connections/closed_by_server"), 1, "{r:#}");
    assert_eq!(number(r, "/connections/failed"), 0, "{r:#}");
    assert_eq!(number(r, "/messages/received"), sent as u64, "{r:#}");
    assert_eq!(number(r, "/messages/sent"), sent as u64, "{r:#}");
    assert_eq!(
        number(r, "/messages/bytes_sent"),
        number(r, "/messages/bytes_received"),
        "{r:#}"
    );
    let bytes: usize = case_messages().iter().map(Message::len).sum();
    assert_eq!(number(r, "/messages/bytes_received"), bytes as u64, "{r:#}");
}
