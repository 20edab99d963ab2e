//! STOMP 1.2 frames as bytes: the [`Command`]s, a [`Frame`] (command, headers, body) and its
//! encoding, the decoding of one complete frame ([`Frame::decode`]) and a bounded
//! [`FrameReader`] that takes WebSocket messages as they come (several frames in one message, a
//! frame split across messages, heart-beat EOLs between frames). Header values are escaped as
//! STOMP 1.2 says (`\r` `\n` `\c` `\\`), except in CONNECT and CONNECTED frames.
//!
//! Pure code, no [`crate::Context`]: the client layer ([`super::Stomp`]) decides what a frame
//! means; malformed input here is a [`FrameError`], never a panic.

use std::fmt;

/// A STOMP 1.2 command: the client's frames and the server's (CONNECTED, MESSAGE, RECEIPT, ERROR).
///
/// ```
/// use volley_sdk::stomp::Command;
/// assert_eq!(Command::parse("MESSAGE"), Some(Command::Message));
/// assert_eq!(Command::Subscribe.as_str(), "SUBSCRIBE");
/// assert!(Command::Error.is_from_server());
/// assert_eq!(Command::parse("HELLO"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the STOMP command of the same name
pub enum Command {
    Connect,
    Stomp,
    Connected,
    Send,
    Subscribe,
    Unsubscribe,
    Ack,
    Nack,
    Begin,
    Commit,
    Abort,
    Disconnect,
    Message,
    Receipt,
    Error,
}

const COMMANDS: [Command; 15] = [
    Command::Connect,
    Command::Stomp,
    Command::Connected,
    Command::Send,
    Command::Subscribe,
    Command::Unsubscribe,
    Command::Ack,
    Command::Nack,
    Command::Begin,
    Command::Commit,
    Command::Abort,
    Command::Disconnect,
    Command::Message,
    Command::Receipt,
    Command::Error,
];

impl Command {
    /// The command as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Connect => "CONNECT",
            Command::Stomp => "STOMP",
            Command::Connected => "CONNECTED",
            Command::Send => "SEND",
            Command::Subscribe => "SUBSCRIBE",
            Command::Unsubscribe => "UNSUBSCRIBE",
            Command::Ack => "ACK",
            Command::Nack => "NACK",
            Command::Begin => "BEGIN",
            Command::Commit => "COMMIT",
            Command::Abort => "ABORT",
            Command::Disconnect => "DISCONNECT",
            Command::Message => "MESSAGE",
            Command::Receipt => "RECEIPT",
            Command::Error => "ERROR",
        }
    }

    /// The command written `text` (case-sensitive, as the specification says), if any.
    pub fn parse(text: &str) -> Option<Command> {
        COMMANDS
            .into_iter()
            .find(|command| command.as_str() == text)
    }

    /// True for the frames a server sends: CONNECTED, MESSAGE, RECEIPT and ERROR.
    pub fn is_from_server(self) -> bool {
        matches!(
            self,
            Command::Connected | Command::Message | Command::Receipt | Command::Error
        )
    }

    /// STOMP 1.2 escapes header values in every frame but CONNECT and CONNECTED (for 1.0
    /// compatibility; STOMP, the 1.2 alias of CONNECT, is escaped like the others).
    fn escapes_headers(self) -> bool {
        !matches!(self, Command::Connect | Command::Connected)
    }
}

/// Why bytes are not a STOMP frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The command line is not a STOMP 1.2 command.
    UnknownCommand(String),
    /// A header line has no `:`.
    HeaderWithoutColon(String),
    /// A header value has a backslash followed by something other than `r`, `n`, `c` or `\`.
    UndefinedEscape(String),
    /// The command or the headers are not UTF-8.
    NotUtf8,
    /// The `content-length` header is not a number.
    BadContentLength(String),
    /// The frame ended before its headers ended, or before `content-length` bytes of body.
    Truncated(&'static str),
    /// The byte after a `content-length` body is not the NUL that ends every frame.
    NoNulAfterBody,
    /// The frame has no NUL at its end.
    NoNul,
    /// A frame (or what has come of it) is larger than the reader's limit.
    TooLarge {
        /// The reader's limit, in bytes.
        limit: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::UnknownCommand(command) => write!(f, "unknown command `{command}`"),
            FrameError::HeaderWithoutColon(line) => write!(f, "header line `{line}` has no `:`"),
            FrameError::UndefinedEscape(value) => {
                write!(f, "undefined escape sequence in header `{value}`")
            }
            FrameError::NotUtf8 => write!(f, "command or headers are not UTF-8"),
            FrameError::BadContentLength(value) => {
                write!(f, "content-length `{value}` is not a number")
            }
            FrameError::Truncated(what) => write!(f, "frame ends {what}"),
            FrameError::NoNulAfterBody => {
                write!(f, "no NUL after the content-length bytes of the body")
            }
            FrameError::NoNul => write!(f, "frame has no NUL at its end"),
            FrameError::TooLarge { limit } => {
                write!(f, "frame is larger than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// One STOMP frame: a command, headers in order (a repeated header keeps its first value, as the
/// specification says, when read with [`Frame::header`]) and a body.
///
/// ```
/// use volley_sdk::stomp::{Command, Frame};
/// let frame = Frame::new(Command::Send)
///     .with_header("destination", "/topic/a:b")
///     .with_body("hi");
/// assert_eq!(frame.encode(), b"SEND\ndestination:/topic/a\\cb\ncontent-length:2\n\nhi\0".to_vec());
/// let decoded = Frame::decode(&frame.encode()).unwrap();
/// assert_eq!(decoded.header("destination"), Some("/topic/a:b"));
/// assert_eq!(decoded, frame.with_header("content-length", "2")); // the header encode added
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The command.
    pub command: Command,
    /// Headers in wire order, unescaped.
    pub headers: Vec<(String, String)>,
    /// The body, possibly empty.
    pub body: Vec<u8>,
}

impl Frame {
    /// A frame with no headers and no body.
    pub fn new(command: Command) -> Self {
        Frame {
            command,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Add a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Set the body (builder style); [`Frame::encode`] adds its `content-length`.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of header `name`.
    ///
    /// ```
    /// use volley_sdk::stomp::{Command, Frame};
    /// let frame = Frame::new(Command::Message).with_header("a", "1").with_header("a", "2");
    /// assert_eq!(frame.header("a"), Some("1"));
    /// assert_eq!(frame.header("b"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, when it is UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The frame on the wire: a `content-length` header is added when the body is not empty and
    /// the frame has none, so a body may hold NUL bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.body.len());
        out.extend_from_slice(self.command.as_str().as_bytes());
        out.push(b'\n');
        let escape = self.command.escapes_headers();
        for (name, value) in &self.headers {
            push_header_text(&mut out, name, escape);
            out.push(b':');
            push_header_text(&mut out, value, escape);
            out.push(b'\n');
        }
        if !self.body.is_empty() && self.header("content-length").is_none() {
            out.extend_from_slice(format!("content-length:{}\n", self.body.len()).as_bytes());
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out.push(0);
        out
    }

    /// Decode exactly one frame from `bytes` (heart-beat EOLs before it and after its NUL are
    /// allowed). Anything else — a missing NUL, a body shorter than its `content-length`, a
    /// second frame — is an error.
    ///
    /// ```
    /// use volley_sdk::stomp::{Frame, FrameError};
    /// assert_eq!(Frame::decode(b"RECEIPT\nreceipt-id:7\n\n"), Err(FrameError::NoNul));
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        let start = skip_heart_beats(bytes);
        match parse(&bytes[start..])? {
            Parsed::Frame(frame, used) => {
                let rest = &bytes[start + used..];
                if skip_heart_beats(rest) == rest.len() {
                    Ok(frame)
                } else {
                    Err(FrameError::Truncated("with bytes after its NUL"))
                }
            }
            Parsed::Incomplete(needs) => Err(needs.into_error()),
        }
    }
}

/// Reassembles frames from WebSocket messages: each [`FrameReader::push`] appends a message's
/// bytes and returns every frame it completed. At most `limit` bytes of an unfinished frame are
/// kept; more is [`FrameError::TooLarge`]. After an error the reader is empty again.
///
/// ```
/// use volley_sdk::stomp::{Command, FrameReader};
/// let mut reader = FrameReader::new(1024);
/// assert_eq!(reader.push(b"\nMESSAGE\ndestination:/topic/x\n\nhel"), Ok(vec![]));
/// let frames = reader.push(b"lo\0\nRECEIPT\nreceipt-id:1\n\n\0").unwrap();
/// assert_eq!(frames.len(), 2);
/// assert_eq!(frames[0].body_text(), Some("hello"));
/// assert_eq!(frames[1].command, Command::Receipt);
/// assert_eq!(reader.buffered(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct FrameReader {
    pending: Vec<u8>,
    limit: usize,
}

impl FrameReader {
    /// A reader that keeps at most `limit` bytes of an unfinished frame.
    pub fn new(limit: usize) -> Self {
        FrameReader {
            pending: Vec::new(),
            limit,
        }
    }

    /// Bytes of an unfinished frame held since the last complete one.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Append `bytes` (one WebSocket message) and return the frames now complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
        let result = self.take_frames(bytes);
        if result.is_err() {
            self.pending = Vec::new();
        }
        result
    }

    fn take_frames(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
        let mut frames = Vec::new();
        let joined;
        let mut data: &[u8] = if self.pending.is_empty() {
            bytes
        } else {
            self.pending.extend_from_slice(bytes);
            joined = std::mem::take(&mut self.pending);
            &joined
        };
        loop {
            data = &data[skip_heart_beats(data)..];
            if data.is_empty() {
                return Ok(frames);
            }
            match parse(data)? {
                Parsed::Frame(frame, used) => {
                    frames.push(frame);
                    data = &data[used..];
                }
                Parsed::Incomplete(needs) => {
                    if data.len() > self.limit || needs.total().is_some_and(|n| n > self.limit) {
                        return Err(FrameError::TooLarge { limit: self.limit });
                    }
                    self.pending = data.to_vec();
                    return Ok(frames);
                }
            }
        }
    }
}

/// What [`parse`] still waits for in a frame that has not ended yet.
#[derive(Debug, Clone, Copy)]
enum Needs {
    /// The blank line after the headers.
    HeaderEnd,
    /// The NUL of a body without `content-length`.
    Nul,
    /// `total` bytes in all (headers, `content-length` body and its NUL).
    Bytes { total: usize },
}

impl Needs {
    fn total(self) -> Option<usize> {
        match self {
            Needs::Bytes { total } => Some(total),
            Needs::HeaderEnd | Needs::Nul => None,
        }
    }

    fn into_error(self) -> FrameError {
        match self {
            Needs::HeaderEnd => FrameError::Truncated("before the blank line after its headers"),
            Needs::Nul => FrameError::NoNul,
            Needs::Bytes { .. } => FrameError::Truncated("before content-length bytes of body"),
        }
    }
}

enum Parsed {
    /// A frame and the bytes it used, its NUL included.
    Frame(Frame, usize),
    Incomplete(Needs),
}

/// The length of the heart-beat EOLs (`\n` or `\r\n`) at the start of `bytes`.
fn skip_heart_beats(bytes: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match bytes.get(at..) {
            Some([b'\n', ..]) => at += 1,
            Some([b'\r', b'\n', ..]) => at += 2,
            _ => return at,
        }
    }
}

/// Parse the frame at the start of `bytes` (no heart-beats before it).
fn parse(bytes: &[u8]) -> Result<Parsed, FrameError> {
    let Some(head_end) = find_blank_line(bytes) else {
        return Ok(Parsed::Incomplete(Needs::HeaderEnd));
    };
    let head = std::str::from_utf8(&bytes[..head_end.lines]).map_err(|_| FrameError::NotUtf8)?;
    let mut lines = head
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let command_line = lines.next().unwrap_or_default();
    let command = Command::parse(command_line)
        .ok_or_else(|| FrameError::UnknownCommand(shorten(command_line)))?;
    let escaped = command.escapes_headers();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| FrameError::HeaderWithoutColon(shorten(line)))?;
        if escaped {
            headers.push((unescape(name)?, unescape(value)?));
        } else {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    let body_start = head_end.body;
    let content_length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map(|(_, value)| {
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| FrameError::BadContentLength(shorten(value)))
        })
        .transpose()?;
    let (body, used) = match content_length {
        Some(length) => {
            let Some(total) = body_start
                .checked_add(length)
                .and_then(|n| n.checked_add(1))
            else {
                return Err(FrameError::BadContentLength(length.to_string()));
            };
            if bytes.len() < total {
                return Ok(Parsed::Incomplete(Needs::Bytes { total }));
            }
            if bytes[total - 1] != 0 {
                return Err(FrameError::NoNulAfterBody);
            }
            (bytes[body_start..total - 1].to_vec(), total)
        }
        None => match bytes[body_start..].iter().position(|&byte| byte == 0) {
            Some(nul) => (
                bytes[body_start..body_start + nul].to_vec(),
                body_start + nul + 1,
            ),
            None => return Ok(Parsed::Incomplete(Needs::Nul)),
        },
    };
    Ok(Parsed::Frame(
        Frame {
            command,
            headers,
            body,
        },
        used,
    ))
}

/// Where the command and header lines end (before the EOL of the last one) and where the body
/// starts (after the blank line).
struct HeadEnd {
    lines: usize,
    body: usize,
}

fn find_blank_line(bytes: &[u8]) -> Option<HeadEnd> {
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&byte| byte == b'\n') {
        let eol = at + offset;
        let line_end = if eol > 0 && bytes[eol - 1] == b'\r' {
            eol - 1
        } else {
            eol
        };
        match bytes.get(eol + 1..) {
            Some([b'\n', ..]) => {
                return Some(HeadEnd {
                    lines: line_end,
                    body: eol + 2,
                });
            }
            Some([b'\r', b'\n', ..]) => {
                return Some(HeadEnd {
                    lines: line_end,
                    body: eol + 3,
                });
            }
            _ => at = eol + 1,
        }
    }
    None
}

fn push_header_text(out: &mut Vec<u8>, text: &str, escape: bool) {
    if !escape {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for byte in text.bytes() {
        match byte {
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b':' => out.extend_from_slice(b"\\c"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            other => out.push(other),
        }
    }
}

fn unescape(text: &str) -> Result<String, FrameError> {
    if !text.contains('\\') {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(char) = chars.next() {
        if char != '\\' {
            out.push(char);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('c') => out.push(':'),
            Some('\\') => out.push('\\'),
            _ => return Err(FrameError::UndefinedEscape(shorten(text))),
        }
    }
    Ok(out)
}

/// At most 60 characters of `text`, for error messages.
fn shorten(text: &str) -> String {
    const SHOWN: usize = 60;
    let mut shown: String = text.chars().take(SHOWN).collect();
    if text.chars().nth(SHOWN).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_escape_header_values_except_in_connect() {
        let send = Frame::new(Command::Send)
            .with_header("destination", "/queue/a")
            .with_header("note", "line1\nline2\r:colon\\slash")
            .with_body(vec![1, 0, 2]);
        let wire = send.encode();
        assert!(
            wire.windows(b"line1\\nline2\\r\\ccolon\\\\slash".len())
                .any(|window| window == b"line1\\nline2\\r\\ccolon\\\\slash")
        );
        assert_eq!(
            Frame::decode(&wire),
            Ok(send.with_header("content-length", "3"))
        );

        let connect = Frame::new(Command::Connect).with_header("login", "a\\c");
        let wire = connect.encode();
        assert_eq!(wire, b"CONNECT\nlogin:a\\c\n\n\0".to_vec());
        assert_eq!(Frame::decode(&wire), Ok(connect));
        // CONNECTED is not unescaped either: `\c` stays two characters.
        let connected = Frame::decode(b"CONNECTED\nserver:x\\c\n\n\0");
        assert_eq!(
            connected.map(|f| f.headers),
            Ok(vec![("server".into(), "x\\c".into())])
        );
    }

    #[test]
    fn crlf_lines_heart_beats_and_repeated_headers() {
        let frame = Frame::decode(b"\r\n\nMESSAGE\r\na:1\r\na:2\r\n\r\nbody\0\n\n")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(frame.command, Command::Message);
        assert_eq!(frame.header("a"), Some("1"));
        assert_eq!(frame.headers.len(), 2);
        assert_eq!(frame.body_text(), Some("body"));
        // A header value may contain a colon after the first (in CONNECTED, unescaped).
        let connected = Frame::decode(b"CONNECTED\nserver:RabbitMQ:3\n\n\0");
        assert_eq!(
            connected.map(|f| f.header("server").map(str::to_owned)),
            Ok(Some("RabbitMQ:3".into()))
        );
    }

    #[test]
    fn a_content_length_body_may_hold_nul() {
        let frame = Frame::decode(b"MESSAGE\ncontent-length:3\n\na\0b\0");
        assert_eq!(frame.map(|f| f.body), Ok(b"a\0b".to_vec()));
    }

    #[test]
    fn malformed_frames_are_errors_never_panics() {
        let cases: &[(&[u8], FrameError)] = &[
            (b"RECEIPT\nreceipt-id:1\n\n", FrameError::NoNul),
            (
                b"RECEIPT\nreceipt-id:1\n",
                FrameError::Truncated("before the blank line after its headers"),
            ),
            (
                b"",
                FrameError::Truncated("before the blank line after its headers"),
            ),
            (
                b"MESSAGE\nx:a\\tb\n\n\0",
                FrameError::UndefinedEscape("a\\tb".into()),
            ),
            (
                b"MESSAGE\nx:trailing\\\n\n\0",
                FrameError::UndefinedEscape("trailing\\".into()),
            ),
            (
                b"MESSAGE\ncontent-length:10\n\nabc\0",
                FrameError::Truncated("before content-length bytes of body"),
            ),
            (
                b"MESSAGE\ncontent-length:2\n\nabc\0",
                FrameError::NoNulAfterBody,
            ),
            (
                b"MESSAGE\ncontent-length:-1\n\n\0",
                FrameError::BadContentLength("-1".into()),
            ),
            (
                b"MESSAGE\ncontent-length:99999999999999999999999\n\n\0",
                FrameError::BadContentLength("99999999999999999999999".into()),
            ),
            (b"HELLO\n\n\0", FrameError::UnknownCommand("HELLO".into())),
            (
                b"message\n\n\0",
                FrameError::UnknownCommand("message".into()),
            ),
            (
                b"MESSAGE\nno colon here\n\n\0",
                FrameError::HeaderWithoutColon("no colon here".into()),
            ),
            (b"MESSAGE\nx:\xff\n\n\0", FrameError::NotUtf8),
            (
                b"RECEIPT\n\n\0RECEIPT\n\n\0",
                FrameError::Truncated("with bytes after its NUL"),
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                Frame::decode(bytes).as_ref(),
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let huge = format!("MESSAGE\ncontent-length:{}\n\n\0", usize::MAX);
        assert!(Frame::decode(huge.as_bytes()).is_err());
    }

    #[test]
    fn the_reader_reassembles_frames_split_anywhere() {
        let first = Frame::new(Command::Message)
            .with_header("destination", "/topic/t")
            .with_body("hello");
        let decoded_first = first.clone().with_header("content-length", "5");
        let second = Frame::new(Command::Receipt).with_header("receipt-id", "r:1");
        let mut wire = first.encode();
        wire.extend_from_slice(b"\n\r\n");
        wire.extend_from_slice(&second.encode());
        for split in 0..=wire.len() {
            let mut reader = FrameReader::new(1024);
            let mut frames = reader
                .push(&wire[..split])
                .unwrap_or_else(|e| panic!("{e}"));
            frames.extend(
                reader
                    .push(&wire[split..])
                    .unwrap_or_else(|e| panic!("{e}")),
            );
            assert_eq!(
                frames,
                vec![decoded_first.clone(), second.clone()],
                "split at {split}"
            );
            assert_eq!(reader.buffered(), 0);
        }
    }

    #[test]
    fn the_reader_is_bounded_and_empty_after_an_error() {
        let mut reader = FrameReader::new(32);
        assert_eq!(
            reader.push(b"MESSAGE\ndestination:/t\n\n0123456"),
            Ok(vec![])
        );
        assert_eq!(
            reader.push(b"789012345678901234567890"),
            Err(FrameError::TooLarge { limit: 32 })
        );
        assert_eq!(reader.buffered(), 0);
        // A content-length past the limit fails at once, before the body arrives.
        assert_eq!(
            reader.push(b"MESSAGE\ncontent-length:1000\n\n"),
            Err(FrameError::TooLarge { limit: 32 })
        );
        // Bad bytes after a good frame: the good frame is lost with the message, never a panic.
        assert!(reader.push(b"RECEIPT\n\n\0BOGUS\n\n\0").is_err());
        assert_eq!(reader.push(b"\n"), Ok(vec![]));
    }
}
