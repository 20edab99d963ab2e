//! One recorded WebSocket turned into one flow file and the notes the README gives about it.
//! Each frame gets a role (a send; the reply: the first message received after a send, before the
//! next send; or a push: anything else received), then the steps follow the recording: `think`
//! before a send (the time since the last frame the flow waited for, under 10 ms dropped), `send`
//! / `send_binary`, an `expect` named after its reply right after each send that got one, and
//! `close`. Correlation (`correlate`) rewrites sends: an id the reply echoed takes `{{counter}}`
//! (checked in the reply), a value the server handed out takes `{{name}}` captured by the expect
//! of the message that brought it (a push that brought one is expected, unnamed, to capture it),
//! and credentials take `${VARIABLE}`s (`secrets`). The README text is `readme`'s.

use super::correlate::{EchoedId, echoed_id, server_values, value_range};
use super::handshake::handshake;
use super::json_paths::leaves;
use super::names::{self, Unique};
use super::recording::{Direction, Payload, RecordedSocket};
use super::reply_condition::{Echo, choose};
use super::secrets::{Variables, looks_secret};
use crate::import::flow::{Expect, FlowFile, Load, Step, Template};
use base64::Engine as _;
use serde_json::Value;
use std::collections::BTreeMap;

/// Gaps between frames shorter than this are not kept as think times.
const SHORTEST_THINK_MS: u64 = 10;
/// Credentials shorter than this are not searched for in frames (too likely to match by chance).
pub const SHORTEST_SECRET: usize = 6;

/// What a frame is to the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Send,
    /// The first message received after a send, before the next send.
    Reply,
    /// Any other message received.
    Push,
}

/// The role of each frame, in order.
pub fn roles(directions: &[Direction]) -> Vec<Role> {
    let mut awaiting_reply = false;
    directions
        .iter()
        .map(|direction| match direction {
            Direction::Sent => {
                awaiting_reply = true;
                Role::Send
            }
            Direction::Received if awaiting_reply => {
                awaiting_reply = false;
                Role::Reply
            }
            Direction::Received => Role::Push,
        })
        .collect()
}

/// An expect, for the README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectNote {
    /// 1-based step number in `flow:`.
    pub step: usize,
    pub name: Option<String>,
    pub description: String,
}

/// A capture, for the README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureNote {
    pub name: String,
    pub path: String,
    /// The step of the expect that captures it.
    pub step: usize,
    /// Whether that message was a push (expected only to capture).
    pub from_push: bool,
    /// How many later sends use it.
    pub uses: usize,
}

/// An id echoed back, for the README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdNote {
    pub key: String,
    /// Whether the sends count it (`{{counter}}`) rather than keep the recorded value.
    pub counted: bool,
    pub replies: usize,
}

/// What the README says about one socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketNotes {
    pub file_name: String,
    /// The target as written (placeholders, never values).
    pub target: String,
    pub subprotocols: Vec<String>,
    pub headers_kept: Vec<String>,
    pub headers_dropped: Vec<String>,
    /// The `${…}` names the file uses.
    pub variables: Vec<String>,
    pub sent_text: usize,
    pub sent_binary: usize,
    pub received_text: usize,
    pub received_binary: usize,
    pub duration_ms: u64,
    pub expects: Vec<ExpectNote>,
    pub captures: Vec<CaptureNote>,
    pub ids: Vec<IdNote>,
    pub thinks_kept: usize,
    pub thinks_total_ms: u64,
    pub gaps_dropped: usize,
    /// Pushes left unexpected (counted by the runtime).
    pub pushes: usize,
    /// Pushes expected only to capture a value.
    pub pushes_expected: usize,
    pub remarks: Vec<String>,
}

/// One socket's flow file.
#[derive(Debug, Clone)]
pub struct SocketFlow {
    pub file_name: String,
    pub file: FlowFile,
    pub notes: SocketNotes,
}

/// A capture to make: its name and path in the message at a frame index.
struct PlannedCapture {
    name: String,
    value: String,
    path: String,
    frame: usize,
    uses: usize,
}

/// Turn `socket` (number `index` of `count`, 1-based) into a flow file; `source` is the HAR's file
/// name (for the comments). An error (a sentence for the README) when it cannot be one.
pub fn build(
    socket: &RecordedSocket,
    index: usize,
    count: usize,
    source: &str,
    title: Option<&str>,
    variables: &mut Variables,
) -> Result<SocketFlow, String> {
    let frames = &socket.frames;
    if frames.is_empty() {
        return Err("no frames were recorded for it".to_owned());
    }
    let url_host = url::Url::parse(&socket.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    let url_port = url::Url::parse(&socket.url).ok().and_then(|url| url.port());
    let url_path = url::Url::parse(&socket.url)
        .map(|url| url.path().to_owned())
        .unwrap_or_default();
    let file_name = format!(
        "{}.yaml",
        names::file_stem(&url_host, url_port, &url_path, index)
    );
    let handshake = handshake(&socket.url, &socket.headers, &file_name, variables)?;
    let prefix = names::env_prefix(&handshake.host);

    let directions: Vec<Direction> = frames.iter().map(|frame| frame.direction).collect();
    let roles = roles(&directions);
    let texts: Vec<Option<&str>> = frames
        .iter()
        .map(|frame| match &frame.payload {
            Payload::Text(text) => Some(text.as_str()),
            Payload::Binary(_) => None,
        })
        .collect();
    let jsons: Vec<Option<Value>> = texts
        .iter()
        .map(|text| {
            text.and_then(|text| serde_json::from_str::<Value>(text).ok())
                .filter(|value| value.is_object() || value.is_array())
        })
        .collect();

    // Ids the replies echoed, by the index of the send.
    let echoes: BTreeMap<usize, EchoedId> = (0..frames.len())
        .filter(|&at| roles[at] == Role::Send && roles.get(at + 1) == Some(&Role::Reply))
        .filter_map(|at| {
            let (Some(text), Some(sent), Some(reply)) =
                (texts[at], jsons[at].as_ref(), jsons[at + 1].as_ref())
            else {
                return None;
            };
            echoed_id(text, sent, reply).map(|echo| (at, echo))
        })
        .collect();

    // Where each send counts (`{{counter}}`): the id its reply echoed, or, in a send whose reply
    // echoed nothing, a number at a key whose echo was counted elsewhere (ids stay unique).
    let counted_keys: Vec<&str> = echoes
        .values()
        .filter(|echo| counted(echo))
        .map(|echo| echo.key.as_str())
        .collect();
    let holes: BTreeMap<usize, std::ops::Range<usize>> = (0..frames.len())
        .filter_map(|at| {
            if let Some(echo) = echoes.get(&at) {
                return counted(echo)
                    .then(|| echo.send_range.clone())
                    .flatten()
                    .map(|range| (at, range));
            }
            let (Some(text), Some(json)) = (texts[at], jsons[at].as_ref()) else {
                return None;
            };
            if roles[at] != Role::Send {
                return None;
            }
            leaves(json).into_iter().find_map(|leaf| {
                let key = leaf.key.filter(|key| counted_keys.contains(key))?;
                leaf.value.as_u64()?;
                value_range(text, key, leaf.value).map(|range| (at, range))
            })
        })
        .collect();

    // Values the server handed out before any send carried them, then the sends that use them.
    let mut candidates: Vec<(usize, super::correlate::ServerValue)> = Vec::new();
    let mut sent_so_far: Vec<&str> = Vec::new();
    for (at, frame) in frames.iter().enumerate() {
        match (frame.direction, texts[at], jsons[at].as_ref()) {
            (Direction::Sent, Some(text), _) => sent_so_far.push(text),
            (Direction::Received, _, Some(json)) => {
                for value in server_values(json) {
                    let known = candidates
                        .iter()
                        .any(|(_, known)| known.value == value.value);
                    let from_client = sent_so_far.iter().any(|sent| sent.contains(&value.value));
                    if !known && !from_client {
                        candidates.push((at, value));
                    }
                }
            }
            _ => {}
        }
    }
    // A capture may not take a template's own name, nor `var` (their prefix).
    let reserved: Vec<&str> = crate::config::flow::template::BUILT_IN
        .iter()
        .copied()
        .chain(["var"])
        .collect();
    let mut capture_names = Unique::reserving(&reserved);
    let mut planned: Vec<PlannedCapture> = Vec::new();
    for (at, text) in texts.iter().enumerate() {
        let (Role::Send, Some(text)) = (roles[at], text) else {
            continue;
        };
        for (frame, candidate) in candidates.iter().filter(|(frame, _)| *frame < at) {
            if Template::literal(text).replace_word(&candidate.value, "") == 0 {
                continue;
            }
            match planned
                .iter_mut()
                .find(|plan| plan.value == candidate.value)
            {
                Some(plan) => plan.uses += 1,
                None => planned.push(PlannedCapture {
                    name: capture_names.take(&names::identifier(&candidate.key)),
                    value: candidate.value.clone(),
                    path: candidate.path.clone(),
                    frame: *frame,
                    uses: 1,
                }),
            }
        }
    }
    // Longest first, so a value inside another is not replaced in its middle.
    let mut replacements: Vec<(&str, &str)> = planned
        .iter()
        .map(|plan| (plan.value.as_str(), plan.name.as_str()))
        .collect();
    replacements.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));

    let mut notes = SocketNotes {
        file_name: file_name.clone(),
        target: handshake.target.plain(),
        subprotocols: handshake.subprotocols.clone(),
        headers_kept: handshake
            .headers
            .iter()
            .map(|(name, _)| name.clone())
            .collect(),
        headers_dropped: handshake.dropped.clone(),
        remarks: socket.remarks.clone(),
        duration_ms: frames
            .last()
            .zip(frames.first())
            .map_or(0, |(last, first)| millis(last.at - first.at)),
        ..SocketNotes::default()
    };
    let mut steps = Vec::new();
    let mut expect_names = Unique::default();
    let mut last_waited: Option<f64> = None;
    for (at, frame) in frames.iter().enumerate() {
        match (&frame.payload, frame.direction) {
            (Payload::Text(_), Direction::Sent) => notes.sent_text += 1,
            (Payload::Binary(_), Direction::Sent) => notes.sent_binary += 1,
            (Payload::Text(_), Direction::Received) => notes.received_text += 1,
            (Payload::Binary(_), Direction::Received) => notes.received_binary += 1,
        }
        let captures: Vec<&PlannedCapture> =
            planned.iter().filter(|plan| plan.frame == at).collect();
        match roles[at] {
            Role::Send => {
                if let Some(last) = last_waited {
                    let gap = millis(frame.at - last);
                    if gap >= SHORTEST_THINK_MS {
                        steps.push(Step::Think(gap));
                        notes.thinks_kept += 1;
                        notes.thinks_total_ms += gap;
                    } else {
                        notes.gaps_dropped += 1;
                    }
                }
                last_waited = Some(frame.at);
                match &frame.payload {
                    Payload::Binary(bytes) => steps.push(Step::SendBinary(
                        base64::engine::general_purpose::STANDARD.encode(bytes),
                    )),
                    Payload::Text(text) => {
                        let send = send_template(
                            text,
                            holes.get(&at),
                            &replacements,
                            jsons[at].as_ref(),
                            &prefix,
                            &file_name,
                            variables,
                        );
                        if text.contains("{{") {
                            notes.remarks.push(format!(
                                "the send at step {} has `{{{{` in its text, which the runtime reads as a template: edit it by hand",
                                steps.len() + 1
                            ));
                        }
                        steps.push(Step::Send(send));
                    }
                }
            }
            Role::Push if captures.is_empty() => notes.pushes += 1,
            role => {
                let echo = (role == Role::Reply)
                    .then(|| at.checked_sub(1).and_then(|send| echoes.get(&send)))
                    .flatten();
                let secrets: Vec<&str> = variables
                    .values(SHORTEST_SECRET)
                    .into_iter()
                    .map(|(value, _)| value)
                    .collect();
                let chosen = choose(
                    &frame.payload,
                    jsons[at].as_ref(),
                    echo.map(|echo| Echo {
                        path: &echo.reply_path,
                        value: echo_value(echo),
                    }),
                    &secrets,
                );
                if let Some(echo) = echo {
                    let counted = counted(echo);
                    match notes
                        .ids
                        .iter_mut()
                        .find(|id| id.key == echo.key && id.counted == counted)
                    {
                        Some(id) => id.replies += 1,
                        None => notes.ids.push(IdNote {
                            key: echo.key.clone(),
                            counted,
                            replies: 1,
                        }),
                    }
                }
                let name = (role == Role::Reply).then(|| expect_names.take(&chosen.name));
                if role == Role::Push {
                    notes.pushes_expected += 1;
                }
                for capture in &captures {
                    notes.captures.push(CaptureNote {
                        name: capture.name.clone(),
                        path: capture.path.clone(),
                        step: steps.len() + 1,
                        from_push: role == Role::Push,
                        uses: capture.uses,
                    });
                }
                notes.expects.push(ExpectNote {
                    step: steps.len() + 1,
                    name: name.clone(),
                    description: chosen.description,
                });
                steps.push(Step::Expect(Expect {
                    name,
                    conditions: chosen.conditions,
                    captures: captures
                        .iter()
                        .map(|capture| (capture.name.clone(), capture.path.clone()))
                        .collect(),
                }));
                last_waited = Some(frame.at);
            }
        }
    }
    steps.push(Step::Close);
    let mut target = handshake.target;
    hide_secrets(&mut target, variables);
    let mut headers = handshake.headers;
    for (_, value) in &mut headers {
        hide_secrets(value, variables);
    }
    notes.target = target.plain();

    notes.variables = headers
        .iter()
        .map(|(_, value)| value)
        .chain(std::iter::once(&target))
        .chain(steps.iter().filter_map(|step| match step {
            Step::Send(text) => Some(text),
            _ => None,
        }))
        .flat_map(|template| template.pieces.iter())
        .filter_map(|piece| match piece {
            crate::import::flow::Piece::Placeholder(text) => text
                .strip_prefix("${")
                .and_then(|rest| rest.strip_suffix('}'))
                .map(str::to_owned),
            crate::import::flow::Piece::Literal(_) => None,
        })
        .fold(Vec::new(), |mut names, name| {
            if !names.contains(&name) {
                names.push(name);
            }
            names
        });

    let page = socket.page_title.as_deref().or(title);
    let name = format!(
        "{}-{index}",
        Some(names::slug(page.unwrap_or_default()))
            .filter(|slug| !slug.is_empty())
            .unwrap_or_else(|| names::slug(&handshake.host))
    );
    let page_words = page.map_or_else(String::new, |page| {
        format!(" on the page \u{201c}{page}\u{201d}")
    });
    let comments = vec![
        format!("Imported by `volley import har {source}`: socket {index} of {count}{page_words}."),
        format!(
            "Recorded: {} frames sent, {} received over {}; {} server pushes are not expected",
            notes.sent_text + notes.sent_binary,
            notes.received_text + notes.received_binary,
            seconds(notes.duration_ms),
            notes.pushes
        ),
        "(the runtime counts them as unexpected messages).".to_owned(),
        "What was guessed and the environment variables to set: README.md beside this file."
            .to_owned(),
    ];
    Ok(SocketFlow {
        file_name,
        file: FlowFile {
            comments,
            name,
            target,
            headers,
            subprotocols: handshake.subprotocols,
            load: Load {
                connections: 1,
                iterations: 1,
            },
            steps,
        },
        notes,
    })
}

/// Whether the sends count an echoed id rather than repeat it.
fn counted(echo: &EchoedId) -> bool {
    echo.numeric && echo.send_range.is_some()
}

/// What the expect compares an echoed id with.
fn echo_value(echo: &EchoedId) -> Template {
    if counted(echo) {
        Template::placeholder("{{counter}}")
    } else {
        Template::literal(&echo.value)
    }
}

/// A sent text as a template: the id at `counter_at` counted, captured values by name, credentials by
/// variable (a JSON field that looks like one becomes a variable too).
fn send_template(
    text: &str,
    counter_at: Option<&std::ops::Range<usize>>,
    captures: &[(&str, &str)],
    json: Option<&Value>,
    prefix: &str,
    file: &str,
    variables: &mut Variables,
) -> Template {
    let mut template = match counter_at {
        Some(range) => Template::with_hole(text, range.clone(), "{{counter}}"),
        None => Template::literal(text),
    };
    for (value, name) in captures {
        template.replace_word(value, &format!("{{{{{name}}}}}"));
    }
    if let Some(json) = json {
        for leaf in leaves(json) {
            let (Some(key), Value::String(value)) = (leaf.key, leaf.value) else {
                continue;
            };
            let captured = captures.iter().any(|(captured, _)| captured == value);
            if looks_secret(key) && value.chars().count() >= 8 && !captured {
                variables.variable_for(
                    &names::env_name(prefix, key),
                    value,
                    format!("the `{key}` field of a message {file} sends"),
                );
            }
        }
    }
    hide_secrets(&mut template, variables);
    template
}

/// Every credential of `variables` in `template` replaced by its variable.
fn hide_secrets(template: &mut Template, variables: &Variables) {
    for (value, name) in variables.values(SHORTEST_SECRET) {
        template.replace_all(value, &format!("${{{name}}}"));
    }
}

/// Seconds between two frame times, in whole milliseconds (0 when out of order).
fn millis(seconds: f64) -> u64 {
    let millis = (seconds * 1000.0).round();
    if millis.is_finite() && millis > 0.0 {
        // Bounded by the check above and by any recording's length.
        millis.min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// `4.2 s`, `350 ms`.
pub fn seconds(millis: u64) -> String {
    if millis >= 1000 {
        format!("{:.1} s", millis as f64 / 1000.0)
    } else {
        format!("{millis} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::har::recording::Frame;
    use crate::import::yaml_out::render;

    fn text(direction: Direction, at: f64, text: &str) -> Frame {
        Frame {
            direction,
            at,
            payload: Payload::Text(text.to_owned()),
        }
    }

    fn socket(frames: Vec<Frame>) -> RecordedSocket {
        RecordedSocket {
            url: "wss://chat.example.com/ws".into(),
            headers: vec![("Authorization".into(), "Bearer tok-123456".into())],
            page_title: None,
            frames,
            remarks: Vec::new(),
        }
    }

    fn built(frames: Vec<Frame>) -> SocketFlow {
        let mut variables = Variables::default();
        build(
            &socket(frames),
            1,
            1,
            "chat.har",
            Some("Chat"),
            &mut variables,
        )
        .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn roles_pair_each_send_with_the_first_message_after_it() {
        use Direction::{Received as R, Sent as S};
        assert_eq!(
            roles(&[R, S, R, R, S, S, R]),
            vec![
                Role::Push,
                Role::Send,
                Role::Reply,
                Role::Push,
                Role::Send,
                Role::Send,
                Role::Reply
            ]
        );
    }

    #[test]
    fn a_welcome_value_is_captured_and_an_echoed_id_counted() {
        use Direction::{Received as R, Sent as S};
        let flow = built(vec![
            text(R, 100.0, r#"{"type":"welcome","session":"s-4f9a2c"}"#),
            text(S, 100.5, r#"{"type":"join","session":"s-4f9a2c","id":1}"#),
            text(R, 100.6, r#"{"type":"joined","id":1}"#),
            text(R, 100.7, r#"{"type":"presence","user":"bob"}"#),
            text(
                S,
                100.705,
                r#"{"type":"say","session":"s-4f9a2c","id":2,"auth":"Bearer tok-123456"}"#,
            ),
            text(R, 101.0, "ok"),
        ]);
        let yaml = render(&flow.file);
        let steps = &flow.file.steps;
        // The welcome push carries the session a send reuses: expected, unnamed, with a capture.
        assert_eq!(
            steps[0],
            Step::Expect(Expect {
                name: None,
                conditions: vec![crate::import::flow::Condition::JsonEquals {
                    path: "$.type".into(),
                    value: Template::literal("welcome")
                }],
                captures: vec![("session".into(), "$.session".into())],
            })
        );
        assert_eq!(steps[1], Step::Think(500));
        let Step::Send(join) = &steps[2] else {
            panic!("{yaml}");
        };
        assert_eq!(
            join.plain(),
            r#"{"type":"join","session":"{{session}}","id":{{counter}}}"#
        );
        let Step::Expect(joined) = &steps[3] else {
            panic!("{yaml}");
        };
        assert_eq!(joined.name.as_deref(), Some("joined"));
        assert!(yaml.contains("equals: '{{counter}}'"), "{yaml}");
        // 5 ms after the presence push: no think (pushes are not waited for, and the gap from the
        // joined reply is kept).
        assert_eq!(steps[4], Step::Think(105));
        let Step::Send(say) = &steps[5] else {
            panic!("{yaml}");
        };
        assert_eq!(
            say.plain(),
            r#"{"type":"say","session":"{{session}}","id":{{counter}},"auth":"${CHAT_AUTHORIZATION}"}"#
        );
        assert!(matches!(&steps[6], Step::Expect(ok) if ok.name.as_deref() == Some("ok")));
        assert_eq!(steps[7], Step::Close);
        assert_eq!(flow.notes.pushes, 1);
        assert_eq!(flow.notes.pushes_expected, 1);
        assert_eq!(flow.notes.captures[0].uses, 2);
        assert_eq!(flow.notes.ids.len(), 1);
        assert!(!yaml.contains("tok-123456"), "{yaml}");
        assert_eq!(flow.file.name, "chat-1");
        assert_eq!(flow.file_name, "chat-example-com-ws-1.yaml");
    }

    #[test]
    fn a_value_the_client_sent_first_is_not_captured() {
        use Direction::{Received as R, Sent as S};
        let flow = built(vec![
            text(S, 1.0, r#"{"type":"join","room":"room-42"}"#),
            text(R, 1.1, r#"{"type":"joined","room":"room-42"}"#),
            text(S, 1.105, r#"{"type":"say","room":"room-42"}"#),
        ]);
        assert!(flow.notes.captures.is_empty());
        assert_eq!(flow.notes.gaps_dropped, 1);
        assert!(matches!(&flow.file.steps[2], Step::Send(say) if say.plain().contains("room-42")));
    }

    #[test]
    fn binary_frames_and_an_empty_socket() {
        let flow = built(vec![
            Frame {
                direction: Direction::Sent,
                at: 1.0,
                payload: Payload::Binary(vec![0, 1, 2, 3]),
            },
            Frame {
                direction: Direction::Received,
                at: 1.2,
                payload: Payload::Binary(vec![9]),
            },
        ]);
        assert_eq!(flow.file.steps[0], Step::SendBinary("AAECAw==".into()));
        assert!(
            matches!(&flow.file.steps[1], Step::Expect(e) if e.name.as_deref() == Some("binary_reply"))
        );
        let mut variables = Variables::default();
        assert!(build(&socket(Vec::new()), 1, 1, "x.har", None, &mut variables).is_err());
    }
}
