//! `volley import har`: a browser recording (a HAR file with Chrome's `_webSocketMessages`) turned
//! into one flow file per WebSocket and a README saying what was guessed. The stages, each pure:
//! `recording` (HAR JSON → sockets and frames), `handshake` (URL and headers → target, headers,
//! subprotocols), `secrets` (credentials → `${VARIABLE}`s, values never written), `correlate` and
//! `json_paths` (ids echoed back, values handed out), `reply_condition` (what an expect checks),
//! `socket_flow` (one socket → steps and notes), `names` (file, variable and check names) and
//! `readme`. Writing the files is the command's (`commands/import.rs`); the YAML text is
//! `import::yaml_out`'s.

mod correlate;
mod handshake;
mod json_paths;
mod names;
mod readme;
mod recording;
mod reply_condition;
mod secrets;
mod socket_flow;

use super::yaml_out;
use secrets::Variables;

/// Why a HAR file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    /// The text does not parse as JSON.
    #[error("not JSON ({0}); a HAR is the JSON file DevTools exports (Network panel, Export HAR)")]
    NotJson(serde_json::Error),
    /// JSON, but not a HAR.
    #[error("not a HAR file: {0}")]
    NotHar(String),
    /// A HAR without a WebSocket.
    #[error(
        "{entries} entries, none a WebSocket; record with the DevTools Network panel open before the socket opens, and export with content"
    )]
    NoWebSocket {
        /// How many entries it had.
        entries: usize,
    },
    /// WebSockets, but none that can become a flow.
    #[error("{sockets} WebSocket entries, none with frames to turn into a flow: {reasons}")]
    NoFlow {
        /// How many WebSocket entries.
        sockets: usize,
        /// Why each was skipped.
        reasons: String,
    },
    /// A safeguard: a recorded credential would have been written out (nothing is written).
    #[error(
        "the value of ${{{variable}}} would be written into {file}, where it could not be replaced; nothing was written (please report this with a sanitised HAR)"
    )]
    SecretWouldBeWritten {
        /// The variable whose value it is.
        variable: String,
        /// The file.
        file: String,
    },
}

/// One file to write into the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFile {
    /// The file name (`chat-example-com-ws-1.yaml`, `README.md`).
    pub name: String,
    /// Its contents.
    pub text: String,
}

/// What an import produced.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The flow files in recording order, then README.md.
    pub files: Vec<ImportedFile>,
    /// WebSocket entries in the HAR.
    pub sockets: usize,
    /// Of those, how many have no file (no frames, a URL that is not a WebSocket's).
    pub skipped: usize,
    /// The environment variables the files need, in the order found.
    pub variables: Vec<String>,
}

/// Import the HAR `text`. `source` is its file name and `folder` the output folder, as the
/// comments and README quote them.
pub fn import(text: &str, source: &str, folder: &str) -> Result<Imported, HarError> {
    let recording = recording::read(text)?;
    let count = recording.sockets.len();
    let mut variables = Variables::default();
    let mut flows = Vec::new();
    let mut skipped = Vec::new();
    for (number, socket) in recording.sockets.iter().enumerate() {
        match socket_flow::build(
            socket,
            number + 1,
            count,
            source,
            recording.title.as_deref(),
            &mut variables,
        ) {
            Ok(flow) => flows.push(flow),
            Err(why) => skipped.push((without_query(&socket.url), why)),
        }
    }
    if flows.is_empty() {
        let reasons = skipped
            .iter()
            .map(|(url, why)| format!("{url}: {why}"))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(HarError::NoFlow {
            sockets: count,
            reasons,
        });
    }
    let notes: Vec<socket_flow::SocketNotes> =
        flows.iter().map(|flow| flow.notes.clone()).collect();
    let mut files: Vec<ImportedFile> = flows
        .iter()
        .map(|flow| ImportedFile {
            name: flow.file_name.clone(),
            text: yaml_out::render(&flow.file),
        })
        .collect();
    files.push(ImportedFile {
        name: "README.md".to_owned(),
        text: readme::render(&readme::ReadmeFacts {
            source,
            folder,
            entries: recording.entries,
            title: recording.title.as_deref(),
            sockets: &notes,
            skipped: &skipped,
            variables: variables.list(),
        }),
    });
    for file in &files {
        for (value, variable) in variables.values(socket_flow::SHORTEST_SECRET) {
            if file.text.contains(value) {
                return Err(HarError::SecretWouldBeWritten {
                    variable: variable.to_owned(),
                    file: file.name.clone(),
                });
            }
        }
    }
    Ok(Imported {
        files,
        sockets: count,
        skipped: skipped.len(),
        variables: variables
            .list()
            .iter()
            .map(|variable| variable.name.clone())
            .collect(),
    })
}

/// A URL for the README without its query (which may carry a credential of a skipped socket).
fn without_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_recording_becomes_flow_files_and_a_readme() {
        let har = json!({"log": {"entries": [
            {"request": {"url": "wss://chat.example.com/ws?token=abcdef123456", "headers": [{"name": "Cookie", "value": "sid=cookie-123"}]},
             "_webSocketMessages": [
                {"type": "send", "time": 1.0, "opcode": 1, "data": "{\"type\":\"hello\"}"},
                {"type": "receive", "time": 1.1, "opcode": 1, "data": "{\"type\":\"hi\"}"}
             ]},
            {"request": {"url": "wss://other.example.com/?key=k"}, "_webSocketMessages": []}
        ]}})
        .to_string();
        let imported =
            import(&har, "chat.har", "chat-flows").unwrap_or_else(|error| panic!("{error}"));
        let names: Vec<&str> = imported
            .files
            .iter()
            .map(|file| file.name.as_str())
            .collect();
        assert_eq!(names, vec!["chat-example-com-ws-1.yaml", "README.md"]);
        assert_eq!((imported.sockets, imported.skipped), (2, 1));
        assert_eq!(imported.variables, vec!["CHAT_TOKEN", "CHAT_COOKIE"]);
        for file in &imported.files {
            assert!(!file.text.contains("abcdef123456") && !file.text.contains("cookie-123"));
        }
        assert!(
            imported.files[1]
                .text
                .contains("`wss://other.example.com/` | | | | skipped")
        );
    }

    #[test]
    fn sockets_without_frames_only_are_an_error() {
        let har =
            json!({"log": {"entries": [{"request": {"url": "wss://x.example.com/"}}]}}).to_string();
        let error = import(&har, "x.har", "x").map(|_| ()).err();
        assert!(
            matches!(&error, Some(HarError::NoFlow { sockets: 1, reasons }) if reasons.contains("no frames")),
            "{error:?}"
        );
    }
}
