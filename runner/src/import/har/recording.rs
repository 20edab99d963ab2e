//! A HAR file (the JSON Chrome's and Firefox's DevTools export) read down to what an import needs:
//! the WebSocket entries, each with its URL, request headers, page title and frames in time
//! order (`_webSocketMessages`: `type` send/receive, `time` in epoch seconds, `opcode` 1 text or
//! 2 binary in base64, `data`). An entry is a WebSocket when its URL is `ws://`/`wss://`, or it
//! carries frames, or it was an upgrade (`Upgrade: websocket`, status 101, `_resourceType`
//! websocket). What cannot be read in a frame is skipped with a remark for the README; what is
//! not a HAR at all is a [`HarError`]. Turning frames into steps is `conversation` and
//! `socket_flow`'s.

use super::HarError;
use base64::Engine as _;
use serde_json::Value;

/// Who sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Sent,
    Received,
}

/// A frame's payload, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

/// One recorded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub direction: Direction,
    /// Epoch seconds (µs fraction).
    pub at: f64,
    pub payload: Payload,
}

/// One WebSocket of the recording.
#[derive(Debug, Clone)]
pub struct RecordedSocket {
    /// The request URL as recorded (`wss://…`, or `https://…` for an upgrade recorded as HTTP).
    pub url: String,
    /// The request headers, in the recorded order.
    pub headers: Vec<(String, String)>,
    /// The title of the page the socket belongs to, if the HAR names one.
    pub page_title: Option<String>,
    /// In time order.
    pub frames: Vec<Frame>,
    /// What could not be read (frames skipped, frames missing), for the README.
    pub remarks: Vec<String>,
}

/// The WebSockets of a HAR file.
#[derive(Debug, Clone)]
pub struct Recording {
    /// How many entries the HAR has (WebSocket or not).
    pub entries: usize,
    /// The title of the first page, if any.
    pub title: Option<String>,
    pub sockets: Vec<RecordedSocket>,
}

/// Read `text` as a HAR; an error unless it is JSON with `log.entries` and at least one entry is
/// a WebSocket.
pub fn read(text: &str) -> Result<Recording, HarError> {
    let document: Value = serde_json::from_str(text).map_err(HarError::NotJson)?;
    let Some(log) = document.get("log") else {
        return Err(HarError::NotHar(what_it_has(&document)));
    };
    let Some(entries) = log.get("entries").and_then(Value::as_array) else {
        return Err(HarError::NotHar("`log` has no `entries` list".to_owned()));
    };
    let pages: Vec<(String, String)> = log
        .get("pages")
        .and_then(Value::as_array)
        .map(|pages| {
            pages
                .iter()
                .filter_map(|page| {
                    Some((
                        page.get("id")?.as_str()?.to_owned(),
                        page.get("title")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let page_title = |entry: &Value| {
        let id = entry.get("pageref").and_then(Value::as_str)?;
        pages
            .iter()
            .find(|(page, _)| page == id)
            .map(|(_, title)| title.clone())
    };
    let sockets: Vec<RecordedSocket> = entries
        .iter()
        .filter(|entry| is_websocket(entry))
        .map(|entry| socket(entry, page_title(entry)))
        .collect();
    if sockets.is_empty() {
        return Err(HarError::NoWebSocket {
            entries: entries.len(),
        });
    }
    Ok(Recording {
        entries: entries.len(),
        title: pages
            .first()
            .map(|(_, title)| title.clone())
            .filter(|title| !title.trim().is_empty()),
        sockets,
    })
}

/// The top-level keys of a JSON document that is not a HAR, for the error.
fn what_it_has(document: &Value) -> String {
    match document.as_object() {
        Some(object) if object.is_empty() => "an empty JSON object, no `log`".to_owned(),
        Some(object) => {
            let keys: Vec<&str> = object.keys().map(String::as_str).take(5).collect();
            format!("no `log` (top-level keys: {})", keys.join(", "))
        }
        None => "not a JSON object with a `log`".to_owned(),
    }
}

fn header_pairs(headers: Option<&Value>) -> Vec<(String, String)> {
    headers
        .and_then(Value::as_array)
        .map(|headers| {
            headers
                .iter()
                .filter_map(|header| {
                    Some((
                        header.get("name")?.as_str()?.to_owned(),
                        header.get("value")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn is_websocket(entry: &Value) -> bool {
    let url = entry
        .pointer("/request/url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let upgrade = header_pairs(entry.pointer("/request/headers"))
        .iter()
        .any(|(name, value)| {
            name.eq_ignore_ascii_case("upgrade") && value.eq_ignore_ascii_case("websocket")
        });
    url.starts_with("ws://")
        || url.starts_with("wss://")
        || entry.get("_webSocketMessages").is_some()
        || entry.get("_resourceType").and_then(Value::as_str) == Some("websocket")
        || upgrade
        || entry.pointer("/response/status").and_then(Value::as_u64) == Some(101)
}

fn socket(entry: &Value, page_title: Option<String>) -> RecordedSocket {
    let mut remarks = Vec::new();
    let mut frames = Vec::new();
    match entry.get("_webSocketMessages").and_then(Value::as_array) {
        None => remarks.push(
            "the entry has no `_webSocketMessages`: the HAR carries no frames for it (export from the DevTools Network panel, which keeps them)".to_owned(),
        ),
        Some(messages) => {
            for (number, message) in messages.iter().enumerate() {
                match frame(message) {
                    Ok(frame) => frames.push(frame),
                    Err(why) => remarks.push(format!("frame {} skipped: {why}", number + 1)),
                }
            }
        }
    }
    // Chrome writes frames in order; a stable sort keeps equal times as recorded.
    frames.sort_by(|a, b| a.at.total_cmp(&b.at));
    RecordedSocket {
        url: entry
            .pointer("/request/url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        headers: header_pairs(entry.pointer("/request/headers")),
        page_title: page_title.filter(|title| !title.trim().is_empty()),
        frames,
        remarks,
    }
}

fn frame(message: &Value) -> Result<Frame, String> {
    let direction = match message.get("type").and_then(Value::as_str) {
        Some("send") => Direction::Sent,
        Some("receive") => Direction::Received,
        Some(other) => return Err(format!("`type` is `{other}`, not send or receive")),
        None => return Err("no `type`".to_owned()),
    };
    let at = message
        .get("time")
        .and_then(Value::as_f64)
        .filter(|time| time.is_finite())
        .ok_or("no `time` in seconds")?;
    let data = message
        .get("data")
        .and_then(Value::as_str)
        .ok_or("no `data` text")?;
    let payload = match message.get("opcode").and_then(Value::as_u64) {
        Some(1) => Payload::Text(data.to_owned()),
        Some(2) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(Payload::Binary)
            .map_err(|error| format!("binary data is not base64 ({error})"))?,
        Some(other) => return Err(format!("opcode {other} is neither text (1) nor binary (2)")),
        None => return Err("no `opcode`".to_owned()),
    };
    Ok(Frame {
        direction,
        at,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn har(entries: Value) -> String {
        json!({"log": {"version": "1.2", "pages": [{"id": "p1", "title": "Chat"}], "entries": entries}})
            .to_string()
    }

    #[test]
    fn reads_frames_in_time_order_with_binary_decoded() {
        let text = har(json!([
            {"request": {"url": "https://example.com/", "headers": []}, "response": {"status": 200}},
            {"pageref": "p1", "request": {"url": "wss://chat.example.com/ws", "headers": [{"name": "Cookie", "value": "a=b"}]},
             "response": {"status": 101},
             "_webSocketMessages": [
                {"type": "receive", "time": 2.5, "opcode": 2, "data": "AAEC"},
                {"type": "send", "time": 1.25, "opcode": 1, "data": "hello"},
                {"type": "send", "time": 3.0, "opcode": 2, "data": "%%%"},
                {"type": "send", "time": 3.5, "opcode": 8, "data": ""}
             ]}
        ]));
        let recording = read(&text).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(recording.entries, 2);
        assert_eq!(recording.title.as_deref(), Some("Chat"));
        let [socket] = recording.sockets.as_slice() else {
            panic!("one socket expected");
        };
        assert_eq!(socket.page_title.as_deref(), Some("Chat"));
        assert_eq!(socket.headers, vec![("Cookie".into(), "a=b".into())]);
        assert_eq!(
            socket.frames,
            vec![
                Frame {
                    direction: Direction::Sent,
                    at: 1.25,
                    payload: Payload::Text("hello".into())
                },
                Frame {
                    direction: Direction::Received,
                    at: 2.5,
                    payload: Payload::Binary(vec![0, 1, 2])
                },
            ]
        );
        assert_eq!(socket.remarks.len(), 2, "{:?}", socket.remarks);
        assert!(socket.remarks[0].starts_with("frame 3 skipped: binary data is not base64"));
        assert!(socket.remarks[1].contains("opcode 8"));
    }

    #[test]
    fn an_upgrade_recorded_as_http_is_a_socket_even_without_frames() {
        let text = har(json!([
            {"request": {"url": "https://chat.example.com/ws", "headers": [{"name": "Upgrade", "value": "websocket"}]},
             "response": {"status": 101}}
        ]));
        let recording = read(&text).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(recording.sockets.len(), 1);
        assert!(recording.sockets[0].frames.is_empty());
        assert!(recording.sockets[0].remarks[0].contains("no `_webSocketMessages`"));
    }

    #[test]
    fn not_json_not_a_har_and_no_socket_are_errors() {
        assert!(matches!(read("{oops"), Err(HarError::NotJson(_))));
        assert!(
            matches!(read(r#"{"nodes": []}"#), Err(HarError::NotHar(why)) if why.contains("nodes"))
        );
        let plain =
            har(json!([{"request": {"url": "https://example.com/"}, "response": {"status": 200}}]));
        assert!(matches!(
            read(&plain),
            Err(HarError::NoWebSocket { entries: 1 })
        ));
    }
}
