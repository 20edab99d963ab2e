//! The README.md `volley import har` writes beside the flow files: what was recorded (sockets,
//! frames, durations), the environment variables to set and where each came from (names only,
//! never values), how to run the files, and for each file what was guessed: the reply conditions,
//! captures, ids, think times, binary frames, pushes and anything skipped. Text only; the facts
//! come from `socket_flow`'s notes and `secrets`' variables.

use super::secrets::Variable;
use super::socket_flow::{SocketNotes, seconds};
use std::fmt::Write as _;

/// What the README is written from.
pub struct ReadmeFacts<'a> {
    /// The HAR's file name as given on the command line.
    pub source: &'a str,
    /// The output folder as given (for the commands to copy).
    pub folder: &'a str,
    pub entries: usize,
    pub title: Option<&'a str>,
    pub sockets: &'a [SocketNotes],
    /// Sockets with no file: (URL as written, why).
    pub skipped: &'a [(String, String)],
    pub variables: &'a [Variable],
}

/// The README text.
pub fn render(facts: &ReadmeFacts<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Flows imported from {}\n", facts.source);
    let socket_count = facts.sockets.len() + facts.skipped.len();
    let page = facts.title.map_or_else(String::new, |title| {
        format!(" (page \u{201c}{title}\u{201d})")
    });
    let _ = writeln!(
        out,
        "`volley import har {}` read {} entries{page}, {} of them WebSockets, and wrote one flow file per socket with frames ({}). Each file is a scenario with `flow:` steps the runner carries out itself: no Rust, no build.\n",
        facts.source,
        facts.entries,
        socket_count,
        facts.sockets.len()
    );
    out.push_str(
        "| file | target | sent | received | pushes | recorded over |\n|---|---|---|---|---|---|\n",
    );
    for socket in facts.sockets {
        let _ = writeln!(
            out,
            "| [{file}]({file}) | `{}` | {} | {} | {} | {} |",
            socket.target,
            with_binary(socket.sent_text, socket.sent_binary),
            with_binary(socket.received_text, socket.received_binary),
            socket.pushes + socket.pushes_expected,
            seconds(socket.duration_ms),
            file = socket.file_name,
        );
    }
    for (url, why) in facts.skipped {
        let _ = writeln!(out, "| none | `{url}` | | | | skipped: {why} |");
    }

    out.push_str("\n## Environment variables to set\n\n");
    if facts.variables.is_empty() {
        out.push_str("None: the recording carried no cookie, authorization header, token-like header or query parameter, or token-like field in a sent message.\n");
    } else {
        out.push_str("The recording's credentials are written in no file: each is a `${NAME}` the runner reads from the environment when it loads the file (a run stops with an error naming the variable when one is unset). Set each to a fresh value (log in again, or copy it from the browser's DevTools) before running:\n\n| variable | where it was found |\n|---|---|\n");
        for variable in facts.variables {
            let _ = writeln!(
                out,
                "| `{}` | {} |",
                variable.name,
                variable.sources.join("; ")
            );
        }
        out.push_str("\nA value found in the URL's query is written there as it was recorded, percent-encoded; set the variable to the encoded form.\n");
    }

    out.push_str("\n## How to run\n\n```sh\n");
    for variable in facts.variables {
        let _ = writeln!(out, "export {}='…'", variable.name);
    }
    if let Some(first) = facts.sockets.first() {
        let path = format!("{}/{}", facts.folder.trim_end_matches('/'), first.file_name);
        let _ = writeln!(
            out,
            "volley check {path}   # loads the file without connecting"
        );
        let _ = writeln!(
            out,
            "volley run {path}     # in a Volley checkout: just run {path}"
        );
    }
    out.push_str("```\n\nEach file starts with one connection running the recording once (`connections: 1`, `iterations: 1`); set the load you want in its `load:` section (docs/scenario-file.md#load). Expects whose name is given are checks with that name, and time the round trip from the send just before them.\n");

    out.push_str("\n## What was guessed, per file\n");
    for socket in facts.sockets {
        file_section(socket, &mut out);
    }

    out.push_str(
        "\n## How the guesses are made, and their limits\n\n\
- **Replies.** A send's reply is the first message received after it, before the next send; it becomes an `expect` right after the send, named (so its round trip is timed) after the reply's type. A JSON object is matched on a discriminating field (`type`, `event`, `op`, `action`, `kind`, `method`, `status`, …), or on the echoed id; short text without digits on `equals`; longer text on `contains` of its start up to the first digit; binary on `binary: true`. An expect matches any message that arrived and was not matched yet, so a push of the same type as a reply can be taken for it.\n\
- **Pushes.** Messages that followed no send, or came after a send's first reply, are not expected: the runtime counts them as unexpected messages. When a push brought a value a later send uses, it is expected (without a name) to capture that value.\n\
- **Ids.** A sent JSON field named like an id (`id`, `requestId`, `correlationId`, `seq`, `ref`, …) whose value the reply carried back under the same key: a number (or a string of digits) is sent as `{{counter}}` and the reply's field checked against `{{counter}}`; any other value is kept and checked as recorded.\n\
- **Captures.** A value the server sent (a string of 6 or more characters with a digit, or 16 or more; an integer of 5 or more digits) that a later send carries verbatim, and that no earlier send carried, is captured by the expect of the message that brought it and sent as `{{name}}`. Values handed from one socket to another, or in a URL, are not followed.\n\
- **Think times.** Before each send, the time since the last frame the flow waited for (the previous send, or the message the previous expect waited for), rounded to milliseconds; gaps under 10 ms are dropped.\n\
- **Credentials.** Cookie, Authorization and headers or query parameters named like a token, key, secret, auth or session become `${VARIABLE}`s; so do string fields of sent messages named like one (8 characters or more), and every occurrence of those values in sent messages.\n\
- **Not followed:** timing between sockets (each file is its own scenario), the HTTP requests around the sockets, and replies that took longer than an expect's default timeout (10 s; add `timeout:` to such an expect).\n",
    );
    out
}

fn with_binary(total_text: usize, binary: usize) -> String {
    if binary == 0 {
        total_text.to_string()
    } else {
        format!("{} ({binary} binary)", total_text + binary)
    }
}

fn file_section(socket: &SocketNotes, out: &mut String) {
    let _ = writeln!(out, "\n### {}\n", socket.file_name);
    let protocols = if socket.subprotocols.is_empty() {
        "no subprotocol".to_owned()
    } else {
        format!("subprotocols {}", code_list(&socket.subprotocols))
    };
    let _ = writeln!(out, "- Target `{}`, {protocols}.", socket.target);
    let kept = if socket.headers_kept.is_empty() {
        "none".to_owned()
    } else {
        code_list(&socket.headers_kept)
    };
    let dropped = if socket.headers_dropped.is_empty() {
        String::new()
    } else {
        format!(
            "; left out as the runner's own or the browser's: {}",
            code_list(&socket.headers_dropped)
        )
    };
    let _ = writeln!(out, "- Headers sent: {kept}{dropped}.");
    if !socket.variables.is_empty() {
        let names: Vec<String> = socket
            .variables
            .iter()
            .map(|name| format!("${{{name}}}"))
            .collect();
        let _ = writeln!(out, "- Environment variables: {}.", code_list(&names));
    }
    if socket.expects.is_empty() {
        out.push_str("- Expects: none (no message followed a send).\n");
    } else {
        out.push_str("- Expects:\n");
        for expect in &socket.expects {
            let name = expect
                .name
                .as_deref()
                .map_or_else(|| "unnamed".to_owned(), |name| format!("`{name}`"));
            let _ = writeln!(
                out,
                "  - step {} ({name}): {}",
                expect.step, expect.description
            );
        }
    }
    for capture in &socket.captures {
        let source = if capture.from_push {
            "the push"
        } else {
            "the reply"
        };
        let _ = writeln!(
            out,
            "- Capture `{}` from `{}` of {source} expected at step {}, sent back as `{{{{{}}}}}` by {} later send{}.",
            capture.name,
            capture.path,
            capture.step,
            capture.name,
            capture.uses,
            plural(capture.uses)
        );
    }
    for id in &socket.ids {
        if id.counted {
            let _ = writeln!(
                out,
                "- Id `{}` echoed in {} repl{}: sent as `{{{{counter}}}}` and checked in the reply.",
                id.key,
                id.replies,
                if id.replies == 1 { "y" } else { "ies" }
            );
        } else {
            let _ = writeln!(
                out,
                "- Id `{}` echoed in {} repl{}: kept as recorded (not a number, or not found once in the send) and checked in the reply.",
                id.key,
                id.replies,
                if id.replies == 1 { "y" } else { "ies" }
            );
        }
    }
    let _ = writeln!(
        out,
        "- Think times: {} kept ({} in all), {} gap{} under 10 ms dropped.",
        socket.thinks_kept,
        seconds(socket.thinks_total_ms),
        socket.gaps_dropped,
        plural(socket.gaps_dropped)
    );
    if socket.sent_binary + socket.received_binary > 0 {
        let _ = writeln!(
            out,
            "- Binary frames: {} sent (`send_binary`, base64), {} received (`binary: true` when a reply).",
            socket.sent_binary, socket.received_binary
        );
    }
    let _ = writeln!(
        out,
        "- Server pushes: {} not expected (counted by the runtime as unexpected messages){}.",
        socket.pushes,
        if socket.pushes_expected > 0 {
            format!(
                "; {} expected only to capture a value",
                socket.pushes_expected
            )
        } else {
            String::new()
        }
    );
    for remark in &socket.remarks {
        let _ = writeln!(out, "- Remark: {remark}.");
    }
}

fn code_list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::har::secrets::Variables;
    use crate::import::har::socket_flow::{CaptureNote, ExpectNote};

    #[test]
    fn names_variables_and_guesses_but_no_values() {
        let mut variables = Variables::default();
        variables.variable_for(
            "CHAT_COOKIE",
            "sid=very-secret",
            "the Cookie header of a.yaml".into(),
        );
        let socket = SocketNotes {
            file_name: "a.yaml".into(),
            target: "wss://chat.example.com/ws".into(),
            sent_text: 2,
            received_text: 3,
            pushes: 1,
            duration_ms: 2500,
            expects: vec![ExpectNote {
                step: 2,
                name: Some("joined".into()),
                description: "`$.type` equals `joined`".into(),
            }],
            captures: vec![CaptureNote {
                name: "session".into(),
                path: "$.session".into(),
                step: 2,
                from_push: false,
                uses: 1,
            }],
            thinks_kept: 1,
            thinks_total_ms: 1200,
            ..SocketNotes::default()
        };
        let text = render(&ReadmeFacts {
            source: "chat.har",
            folder: "chat-flows",
            entries: 9,
            title: Some("Chat"),
            sockets: &[socket],
            skipped: &[("wss://x/".into(), "no frames were recorded for it".into())],
            variables: variables.list(),
        });
        assert!(
            text.contains("| `CHAT_COOKIE` | the Cookie header of a.yaml |"),
            "{text}"
        );
        assert!(text.contains("volley run chat-flows/a.yaml"), "{text}");
        assert!(
            text.contains("step 2 (`joined`): `$.type` equals `joined`"),
            "{text}"
        );
        assert!(
            text.contains("Capture `session` from `$.session`"),
            "{text}"
        );
        assert!(text.contains("1 not expected"), "{text}");
        assert!(text.contains("skipped: no frames"), "{text}");
        assert!(!text.contains("very-secret"));
    }
}
