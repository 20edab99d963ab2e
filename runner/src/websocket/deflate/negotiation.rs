//! Negotiating permessage-deflate (RFC 7692 §7.1) in the opening handshake: what the client offers
//! in `Sec-WebSocket-Extensions` ([`DeflateOffer`]), checking the server's answer against it
//! ([`accept_response`], or [`refuse_any`] when compression is off), and the server's side for the
//! development server ([`answer_offers`]). The result is the [`Agreed`] parameters that size the
//! [`Deflater`](super::deflater::Deflater) and [`Inflater`](super::inflater::Inflater).
//!
//! The header grammar is RFC 6455 §9.1 (`extension *( ";" param [ "=" (token / quoted-string) ] )`,
//! comma-separated, possibly over several header lines), read strictly: anything malformed, unknown,
//! duplicated or out of range in a response fails the handshake under one stable reason, since a
//! client that guesses what a confused server meant would inflate garbage later. Pure code: the
//! handshake (`super::handshake`) calls it with the header values; nothing here touches a socket.

use std::borrow::Cow;
use std::fmt;

/// The extension's registered name.
pub const EXTENSION_NAME: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// The largest LZ77 window (2^15 bytes), which both ends use when nothing smaller was agreed.
pub const MAX_WINDOW_BITS: u8 = 15;
/// The smallest window RFC 7692 allows in a negotiation (2^8 bytes).
pub const MIN_WINDOW_BITS: u8 = 8;
/// zlib's default compression level, which browsers, Node's `ws` and Python's `websockets` use.
pub const DEFAULT_LEVEL: u32 = 6;

/// What the client offers: one permessage-deflate element in `Sec-WebSocket-Extensions`, built from
/// the scenario's `net.compression`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateOffer {
    /// `Some(n)`: the client will not use a window larger than 2^n. `None`: the bare
    /// `client_max_window_bits` ("you may limit my window"), as browsers send it.
    pub client_max_window_bits: Option<u8>,
    /// `Some(n)`: the server must not use a window larger than 2^n. `None`: not offered.
    pub server_max_window_bits: Option<u8>,
    /// The client announces it compresses each message with an empty window.
    pub client_no_context_takeover: bool,
    /// The client asks the server to compress each message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client's compression level, 0 (stored) to 9 (best); not part of the header.
    pub level: u32,
}

impl Default for DeflateOffer {
    /// What a browser offers (`permessage-deflate; client_max_window_bits`) at zlib's default level.
    fn default() -> Self {
        DeflateOffer {
            client_max_window_bits: None,
            server_max_window_bits: None,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            level: DEFAULT_LEVEL,
        }
    }
}

impl DeflateOffer {
    /// The `Sec-WebSocket-Extensions` request header value, e.g.
    /// `permessage-deflate; client_max_window_bits` for the default offer.
    pub fn header_value(&self) -> String {
        let mut value = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            value.push_str("; ");
            value.push_str(SERVER_NO_CONTEXT_TAKEOVER);
        }
        if self.client_no_context_takeover {
            value.push_str("; ");
            value.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
        }
        if let Some(bits) = self.server_max_window_bits {
            value.push_str(&format!("; {SERVER_MAX_WINDOW_BITS}={bits}"));
        }
        match self.client_max_window_bits {
            Some(bits) => value.push_str(&format!("; {CLIENT_MAX_WINDOW_BITS}={bits}")),
            None => {
                value.push_str("; ");
                value.push_str(CLIENT_MAX_WINDOW_BITS);
            }
        }
        value
    }
}

/// The parameters both ends use after the handshake: window sizes (log2, 8..=15) and whether each
/// side starts every message from an empty window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The window the client compresses with (and the server inflates with).
    pub client_max_window_bits: u8,
    /// The window the server compresses with (and the client inflates with).
    pub server_max_window_bits: u8,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
}

impl Agreed {
    /// A stable one-line text for the report's "negotiated" distribution, e.g.
    /// `permessage-deflate client_max_window_bits=15 server_max_window_bits=15`, followed by
    /// `client_no_context_takeover` and `server_no_context_takeover` when they hold.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{EXTENSION_NAME} {CLIENT_MAX_WINDOW_BITS}={} {SERVER_MAX_WINDOW_BITS}={}",
            self.client_max_window_bits, self.server_max_window_bits
        );
        if self.client_no_context_takeover {
            text.push(' ');
            text.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
        }
        if self.server_no_context_takeover {
            text.push(' ');
            text.push_str(SERVER_NO_CONTEXT_TAKEOVER);
        }
        text
    }
}

/// The server's side (`volley serve`): how it answers a client's permessage-deflate offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerDeflate {
    /// Reset the server's compressor after every message even when the client did not ask.
    pub server_no_context_takeover: bool,
    /// The largest window the server compresses with (8..=15); a client's smaller limit wins.
    pub server_max_window_bits: u8,
    /// The server's compression level, 0..=9.
    pub level: u32,
}

impl Default for ServerDeflate {
    /// What Node's `ws` and Python's `websockets` servers do by default: full window, context
    /// takeover, zlib's default level.
    fn default() -> Self {
        ServerDeflate {
            server_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            level: DEFAULT_LEVEL,
        }
    }
}

/// Why a handshake response's `Sec-WebSocket-Extensions` cannot be accepted. The display is the
/// stable reason without a prefix; names and values taken from the response are shortened and
/// stripped of control characters so a hostile server cannot flood the report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The header does not follow RFC 6455 §9.1's grammar.
    #[error("malformed Sec-WebSocket-Extensions header ({0})")]
    Malformed(&'static str),
    /// The server named an extension the client did not offer (any extension when compression is
    /// off).
    #[error("server accepted an extension that was not offered ({})", Shown(.0))]
    NotOffered(String),
    /// Two permessage-deflate elements in one response.
    #[error("server accepted permessage-deflate twice")]
    DuplicateExtension,
    /// A parameter RFC 7692 does not define.
    #[error("permessage-deflate: unknown parameter ({})", Shown(.0))]
    UnknownParameter(String),
    /// The same parameter twice in one element.
    #[error("permessage-deflate: duplicate parameter {0}")]
    DuplicateParameter(&'static str),
    /// A `*_no_context_takeover` parameter with a value.
    #[error("permessage-deflate: {0} must not have a value")]
    UnexpectedValue(&'static str),
    /// A window-bits parameter without a value in a response.
    #[error("permessage-deflate: {0} needs a value")]
    MissingValue(&'static str),
    /// A window-bits value that is not one of `8`..`15` (no sign, no leading zero).
    #[error("permessage-deflate: {param}={} is not a window size in 8..15", Shown(.value))]
    InvalidWindowBits {
        /// The parameter's name.
        param: &'static str,
        /// The value as received (after unquoting).
        value: String,
    },
    /// The server chose a larger window than the client allowed.
    #[error(
        "permessage-deflate: server_max_window_bits={answered} is larger than offered ({offered})"
    )]
    ServerWindowTooLarge {
        /// What the client offered.
        offered: u8,
        /// What the server answered.
        answered: u8,
    },
    /// The client offered `server_max_window_bits` and the server left it out (RFC 7692 §7.1.2.1:
    /// accepting the offer means answering it).
    #[error("permessage-deflate: server did not answer server_max_window_bits={0}")]
    ServerWindowIgnored(u8),
    /// The client offered `server_no_context_takeover` and the server left it out (RFC 7692
    /// §7.1.1.1: a server accepting the offer MUST include it).
    #[error("permessage-deflate: server did not answer server_no_context_takeover")]
    ServerNoContextTakeoverIgnored,
}

/// Shows a name or value from the peer in an error: printable ASCII only, at most 40 characters.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 40;
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(MAX_CHARS) {
            let shown = if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            };
            write!(f, "{shown}")?;
        }
        if chars.next().is_some() {
            write!(f, "…")?;
        }
        Ok(())
    }
}

/// Checks the server's `Sec-WebSocket-Extensions` values (all of them, in order) against the
/// client's offer. `Ok(None)`: the server accepted no extension, the connection runs uncompressed.
pub fn accept_response(
    offer: &DeflateOffer,
    values: &[&str],
) -> Result<Option<Agreed>, NegotiationError> {
    let mut agreed = None;
    for element in parse_all(values)? {
        if element.name != EXTENSION_NAME {
            return Err(NegotiationError::NotOffered(element.name.to_owned()));
        }
        if agreed.is_some() {
            return Err(NegotiationError::DuplicateExtension);
        }
        let params = DeflateParams::read(&element, Side::Response)?;
        agreed = Some(agree_as_client(offer, &params)?);
    }
    Ok(agreed)
}

/// With compression off the client offers nothing, so any extension in the response is an error.
pub fn refuse_any(values: &[&str]) -> Result<(), NegotiationError> {
    match parse_all(values)?.into_iter().next() {
        Some(element) => Err(NegotiationError::NotOffered(element.name.to_owned())),
        None => Ok(()),
    }
}

/// The server's side: picks the first of the client's permessage-deflate offers it can accept and
/// returns the agreed parameters with the response header value, or `None` to decline (no offer,
/// or none acceptable: RFC 7692 §5 lets a server decline, it does not fail the handshake).
pub fn answer_offers(values: &[&str], server: &ServerDeflate) -> Option<(Agreed, String)> {
    let elements = parse_all(values).ok()?;
    elements
        .iter()
        .filter(|element| element.name == EXTENSION_NAME)
        .find_map(|element| {
            let params = DeflateParams::read(element, Side::Offer).ok()?;
            Some(agree_as_server(&params, server))
        })
}

fn agree_as_client(
    offer: &DeflateOffer,
    answer: &DeflateParams,
) -> Result<Agreed, NegotiationError> {
    if offer.server_no_context_takeover && !answer.server_no_context_takeover {
        return Err(NegotiationError::ServerNoContextTakeoverIgnored);
    }
    let server_max_window_bits = match (offer.server_max_window_bits, answer.server_max_window_bits)
    {
        (Some(offered), Some(WindowBits::Bits(answered))) if answered > offered => {
            return Err(NegotiationError::ServerWindowTooLarge { offered, answered });
        }
        (Some(offered), None) => return Err(NegotiationError::ServerWindowIgnored(offered)),
        (_, Some(WindowBits::Bits(answered))) => answered,
        (_, Some(WindowBits::Unlimited)) => {
            // `read` refuses a bare value in a response; kept total for the type's sake.
            return Err(NegotiationError::MissingValue(SERVER_MAX_WINDOW_BITS));
        }
        (None, None) => MAX_WINDOW_BITS,
    };
    // The offer always carries client_max_window_bits (bare or with a value), so the server may
    // answer it (§7.1.2.2). A value larger than the client's own limit does not widen it: the
    // client promised to stay within its offer, and a smaller window is always within the server's.
    let offered_client_bits = offer.client_max_window_bits.unwrap_or(MAX_WINDOW_BITS);
    let client_max_window_bits = match answer.client_max_window_bits {
        Some(WindowBits::Bits(answered)) => answered.min(offered_client_bits),
        Some(WindowBits::Unlimited) => {
            return Err(NegotiationError::MissingValue(CLIENT_MAX_WINDOW_BITS));
        }
        None => offered_client_bits,
    };
    Ok(Agreed {
        client_max_window_bits,
        server_max_window_bits,
        client_no_context_takeover: offer.client_no_context_takeover
            || answer.client_no_context_takeover,
        server_no_context_takeover: answer.server_no_context_takeover,
    })
}

fn agree_as_server(offer: &DeflateParams, server: &ServerDeflate) -> (Agreed, String) {
    let configured_server_bits = server
        .server_max_window_bits
        .clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
    let server_max_window_bits = match offer.server_max_window_bits {
        Some(WindowBits::Bits(offered)) => offered.min(configured_server_bits),
        _ => configured_server_bits,
    };
    let client_max_window_bits = match offer.client_max_window_bits {
        Some(WindowBits::Bits(offered)) => offered,
        _ => MAX_WINDOW_BITS,
    };
    let agreed = Agreed {
        client_max_window_bits,
        server_max_window_bits,
        client_no_context_takeover: offer.client_no_context_takeover,
        server_no_context_takeover: offer.server_no_context_takeover
            || server.server_no_context_takeover,
    };
    let mut response = String::from(EXTENSION_NAME);
    if agreed.server_no_context_takeover {
        response.push_str("; ");
        response.push_str(SERVER_NO_CONTEXT_TAKEOVER);
    }
    if agreed.client_no_context_takeover {
        response.push_str("; ");
        response.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
    }
    // §7.1.2.1: an offered server_max_window_bits is answered; a server limit is announced.
    if offer.server_max_window_bits.is_some() || server_max_window_bits < MAX_WINDOW_BITS {
        response.push_str(&format!(
            "; {SERVER_MAX_WINDOW_BITS}={server_max_window_bits}"
        ));
    }
    // §7.1.2.2: only when offered; a value the client gave is echoed so both sides read it alike.
    if let Some(WindowBits::Bits(bits)) = offer.client_max_window_bits {
        response.push_str(&format!("; {CLIENT_MAX_WINDOW_BITS}={bits}"));
    }
    (agreed, response)
}

/// Which message a parameter list comes from: a bare `client_max_window_bits` is only valid in an
/// offer (§7.1.2.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WindowBits {
    /// The bare `client_max_window_bits` of an offer.
    Unlimited,
    Bits(u8),
}

/// One permessage-deflate element's parameters, each read at most once and validated.
#[derive(Default)]
struct DeflateParams {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<WindowBits>,
    client_max_window_bits: Option<WindowBits>,
}

impl DeflateParams {
    fn read(element: &Element<'_>, side: Side) -> Result<Self, NegotiationError> {
        let mut params = DeflateParams::default();
        for param in &element.params {
            match param.name {
                SERVER_NO_CONTEXT_TAKEOVER => {
                    set_flag(
                        &mut params.server_no_context_takeover,
                        SERVER_NO_CONTEXT_TAKEOVER,
                        param,
                    )?;
                }
                CLIENT_NO_CONTEXT_TAKEOVER => {
                    set_flag(
                        &mut params.client_no_context_takeover,
                        CLIENT_NO_CONTEXT_TAKEOVER,
                        param,
                    )?;
                }
                SERVER_MAX_WINDOW_BITS => {
                    let bits = window_bits(SERVER_MAX_WINDOW_BITS, param, false)?;
                    set_once(
                        &mut params.server_max_window_bits,
                        SERVER_MAX_WINDOW_BITS,
                        bits,
                    )?;
                }
                CLIENT_MAX_WINDOW_BITS => {
                    let bits = window_bits(CLIENT_MAX_WINDOW_BITS, param, side == Side::Offer)?;
                    set_once(
                        &mut params.client_max_window_bits,
                        CLIENT_MAX_WINDOW_BITS,
                        bits,
                    )?;
                }
                unknown => return Err(NegotiationError::UnknownParameter(unknown.to_owned())),
            }
        }
        Ok(params)
    }
}

fn set_flag(
    flag: &mut bool,
    name: &'static str,
    param: &Param<'_>,
) -> Result<(), NegotiationError> {
    if *flag {
        return Err(NegotiationError::DuplicateParameter(name));
    }
    if param.value.is_some() {
        return Err(NegotiationError::UnexpectedValue(name));
    }
    *flag = true;
    Ok(())
}

fn set_once(
    slot: &mut Option<WindowBits>,
    name: &'static str,
    bits: WindowBits,
) -> Result<(), NegotiationError> {
    if slot.is_some() {
        return Err(NegotiationError::DuplicateParameter(name));
    }
    *slot = Some(bits);
    Ok(())
}

/// A window-bits value: exactly one of `8`..`15` (RFC 7692 §7.1.2.1's ABNF: no sign, no leading
/// zero), after quoted-string unescaping (RFC 6455 §9.1 allows `"15"`).
fn window_bits(
    name: &'static str,
    param: &Param<'_>,
    bare_allowed: bool,
) -> Result<WindowBits, NegotiationError> {
    let Some(value) = &param.value else {
        return if bare_allowed {
            Ok(WindowBits::Unlimited)
        } else {
            Err(NegotiationError::MissingValue(name))
        };
    };
    let bits = match value.as_ref() {
        "8" => 8,
        "9" => 9,
        "10" => 10,
        "11" => 11,
        "12" => 12,
        "13" => 13,
        "14" => 14,
        "15" => 15,
        other => {
            return Err(NegotiationError::InvalidWindowBits {
                param: name,
                value: other.to_owned(),
            });
        }
    };
    Ok(WindowBits::Bits(bits))
}

/// One extension element of the header: `name; param; param=value`.
#[derive(Debug, PartialEq, Eq)]
struct Element<'a> {
    name: &'a str,
    params: Vec<Param<'a>>,
}

#[derive(Debug, PartialEq, Eq)]
struct Param<'a> {
    name: &'a str,
    /// After quoted-string unescaping; `None` when the parameter has no `=`.
    value: Option<Cow<'a, str>>,
}

/// Every element of every header value, in order. Empty list elements (`a, , b`, or a blank
/// header) are skipped as RFC 9110 §5.6.1 asks of recipients.
fn parse_all<'a>(values: &[&'a str]) -> Result<Vec<Element<'a>>, NegotiationError> {
    let mut elements = Vec::new();
    for value in values {
        Parser { rest: value }.elements(&mut elements)?;
    }
    Ok(elements)
}

struct Parser<'a> {
    rest: &'a str,
}

impl<'a> Parser<'a> {
    fn elements(&mut self, into: &mut Vec<Element<'a>>) -> Result<(), NegotiationError> {
        loop {
            self.skip_whitespace();
            if self.rest.is_empty() {
                return Ok(());
            }
            if self.eat(',') {
                continue;
            }
            into.push(self.element()?);
            self.skip_whitespace();
            if self.rest.is_empty() {
                return Ok(());
            }
            if !self.eat(',') {
                return Err(NegotiationError::Malformed(
                    "expected `,` between extensions",
                ));
            }
        }
    }

    fn element(&mut self) -> Result<Element<'a>, NegotiationError> {
        let name = self.token("expected an extension name")?;
        let mut params = Vec::new();
        loop {
            self.skip_whitespace();
            if !self.eat(';') {
                return Ok(Element { name, params });
            }
            self.skip_whitespace();
            let param_name = self.token("expected a parameter name after `;`")?;
            self.skip_whitespace();
            let value = if self.eat('=') {
                self.skip_whitespace();
                Some(self.value()?)
            } else {
                None
            };
            params.push(Param {
                name: param_name,
                value,
            });
        }
    }

    /// A token, or a quoted-string whose unescaped content must itself be a token (§9.1).
    fn value(&mut self) -> Result<Cow<'a, str>, NegotiationError> {
        if !self.eat('"') {
            return Ok(Cow::Borrowed(
                self.token("expected a parameter value after `=`")?,
            ));
        }
        let mut unescaped = String::new();
        let mut chars = self.rest.char_indices();
        loop {
            match chars.next() {
                None => return Err(NegotiationError::Malformed("unterminated quoted string")),
                Some((index, '"')) => {
                    self.rest = &self.rest[index + 1..];
                    break;
                }
                Some((_, '\\')) => match chars.next() {
                    Some((_, escaped)) => unescaped.push(escaped),
                    None => return Err(NegotiationError::Malformed("unterminated quoted string")),
                },
                Some((_, c)) => unescaped.push(c),
            }
        }
        if unescaped.is_empty() || !unescaped.chars().all(is_token_char) {
            return Err(NegotiationError::Malformed(
                "quoted parameter value is not a token",
            ));
        }
        Ok(Cow::Owned(unescaped))
    }

    fn token(&mut self, missing: &'static str) -> Result<&'a str, NegotiationError> {
        let end = self
            .rest
            .find(|c: char| !is_token_char(c))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return Err(NegotiationError::Malformed(missing));
        }
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(token)
    }

    fn eat(&mut self, expected: char) -> bool {
        match self.rest.strip_prefix(expected) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn skip_whitespace(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn browser() -> DeflateOffer {
        DeflateOffer::default()
    }

    fn agreed(client: u8, server: u8, client_nct: bool, server_nct: bool) -> Agreed {
        Agreed {
            client_max_window_bits: client,
            server_max_window_bits: server,
            client_no_context_takeover: client_nct,
            server_no_context_takeover: server_nct,
        }
    }

    fn reason(offer: &DeflateOffer, values: &[&str]) -> String {
        match accept_response(offer, values) {
            Ok(result) => panic!("expected an error, got {result:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_default_offer_is_what_a_browser_sends() {
        assert_eq!(
            browser().header_value(),
            "permessage-deflate; client_max_window_bits"
        );
    }

    #[test]
    fn a_full_offer_names_every_parameter_with_its_value() {
        let offer = DeflateOffer {
            client_max_window_bits: Some(12),
            server_max_window_bits: Some(10),
            client_no_context_takeover: true,
            server_no_context_takeover: true,
            level: 1,
        };
        assert_eq!(
            offer.header_value(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=12"
        );
    }

    #[test]
    fn describe_is_stable_and_lists_the_flags_that_hold() {
        assert_eq!(
            agreed(15, 15, false, false).describe(),
            "permessage-deflate client_max_window_bits=15 server_max_window_bits=15"
        );
        assert_eq!(
            agreed(9, 12, true, true).describe(),
            "permessage-deflate client_max_window_bits=9 server_max_window_bits=12 \
             client_no_context_takeover server_no_context_takeover"
        );
    }

    #[test]
    fn no_header_or_a_blank_one_means_no_extension() {
        assert_eq!(accept_response(&browser(), &[]), Ok(None));
        assert_eq!(accept_response(&browser(), &["", " , "]), Ok(None));
        assert_eq!(refuse_any(&[]), Ok(()));
        assert_eq!(refuse_any(&["  "]), Ok(()));
    }

    #[test]
    fn a_bare_acceptance_agrees_full_windows_with_context_takeover() {
        assert_eq!(
            accept_response(&browser(), &["permessage-deflate"]),
            Ok(Some(agreed(15, 15, false, false)))
        );
    }

    #[test]
    fn the_server_may_limit_both_windows_and_ask_for_no_context_takeover() {
        let values = [
            "permessage-deflate;client_max_window_bits=9 ; server_max_window_bits = 10;\tserver_no_context_takeover; client_no_context_takeover",
        ];
        assert_eq!(
            accept_response(&browser(), &values),
            Ok(Some(agreed(9, 10, true, true)))
        );
    }

    #[test]
    fn a_quoted_window_value_is_read_after_unescaping() {
        assert_eq!(
            accept_response(
                &browser(),
                &[
                    r#"permessage-deflate; server_max_window_bits="12"; client_max_window_bits="1\1""#
                ]
            ),
            Ok(Some(agreed(11, 12, false, false)))
        );
    }

    #[test]
    fn the_client_keeps_its_own_announcements() {
        let offer = DeflateOffer {
            client_max_window_bits: Some(10),
            client_no_context_takeover: true,
            ..browser()
        };
        assert_eq!(
            accept_response(&offer, &["permessage-deflate"]),
            Ok(Some(agreed(10, 15, true, false)))
        );
        // A larger answer does not widen the window the client promised.
        assert_eq!(
            accept_response(&offer, &["permessage-deflate; client_max_window_bits=13"]),
            Ok(Some(agreed(10, 15, true, false)))
        );
        assert_eq!(
            accept_response(&offer, &["permessage-deflate; client_max_window_bits=8"]),
            Ok(Some(agreed(8, 15, true, false)))
        );
    }

    #[test]
    fn the_server_may_answer_a_smaller_server_window_than_offered() {
        let offer = DeflateOffer {
            server_max_window_bits: Some(12),
            ..browser()
        };
        assert_eq!(
            accept_response(&offer, &["permessage-deflate; server_max_window_bits=8"]),
            Ok(Some(agreed(15, 8, false, false)))
        );
        assert_eq!(
            accept_response(&offer, &["permessage-deflate; server_max_window_bits=12"]),
            Ok(Some(agreed(15, 12, false, false)))
        );
    }

    #[test]
    fn the_server_may_add_server_no_context_takeover_unasked() {
        assert_eq!(
            accept_response(
                &browser(),
                &["permessage-deflate; server_no_context_takeover"]
            ),
            Ok(Some(agreed(15, 15, false, true)))
        );
    }

    #[test]
    fn an_extension_that_was_not_offered_is_refused_by_name() {
        assert_eq!(
            reason(&browser(), &["x-webkit-deflate-frame"]),
            "server accepted an extension that was not offered (x-webkit-deflate-frame)"
        );
        assert_eq!(
            reason(&browser(), &["permessage-deflate", "x-custom; a=1"]),
            "server accepted an extension that was not offered (x-custom)"
        );
    }

    #[test]
    fn with_compression_off_any_extension_is_refused() {
        assert_eq!(
            refuse_any(&["permessage-deflate"]).map_err(|e| e.to_string()),
            Err("server accepted an extension that was not offered (permessage-deflate)".into())
        );
    }

    #[test]
    fn two_permessage_deflate_elements_are_refused() {
        assert_eq!(
            reason(&browser(), &["permessage-deflate, permessage-deflate"]),
            "server accepted permessage-deflate twice"
        );
        assert_eq!(
            reason(&browser(), &["permessage-deflate", "permessage-deflate"]),
            "server accepted permessage-deflate twice"
        );
    }

    #[test]
    fn an_unknown_parameter_is_refused_by_name() {
        assert_eq!(
            reason(&browser(), &["permessage-deflate; mux=1"]),
            "permessage-deflate: unknown parameter (mux)"
        );
    }

    #[test]
    fn a_duplicate_parameter_is_refused() {
        assert_eq!(
            reason(
                &browser(),
                &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"]
            ),
            "permessage-deflate: duplicate parameter server_no_context_takeover"
        );
        assert_eq!(
            reason(
                &browser(),
                &["permessage-deflate; client_max_window_bits=9; client_max_window_bits=9"]
            ),
            "permessage-deflate: duplicate parameter client_max_window_bits"
        );
    }

    #[test]
    fn a_flag_with_a_value_is_refused() {
        assert_eq!(
            reason(
                &browser(),
                &["permessage-deflate; client_no_context_takeover=true"]
            ),
            "permessage-deflate: client_no_context_takeover must not have a value"
        );
        assert_eq!(
            reason(
                &browser(),
                &[r#"permessage-deflate; server_no_context_takeover="x""#]
            ),
            "permessage-deflate: server_no_context_takeover must not have a value"
        );
    }

    #[test]
    fn a_window_parameter_without_a_value_is_refused_in_a_response() {
        assert_eq!(
            reason(&browser(), &["permessage-deflate; client_max_window_bits"]),
            "permessage-deflate: client_max_window_bits needs a value"
        );
        assert_eq!(
            reason(&browser(), &["permessage-deflate; server_max_window_bits"]),
            "permessage-deflate: server_max_window_bits needs a value"
        );
    }

    #[test]
    fn window_bits_outside_the_abnf_are_refused() {
        for bad in [
            "7", "16", "0", "015", "+15", "-9", "9.0", "0x0f", "fifteen", "\"16\"",
        ] {
            let header = format!("permessage-deflate; server_max_window_bits={bad}");
            let shown = bad.trim_matches('"');
            assert_eq!(
                reason(&browser(), &[&header]),
                format!(
                    "permessage-deflate: server_max_window_bits={shown} is not a window size in 8..15"
                ),
                "value {bad}"
            );
        }
        assert_eq!(
            reason(
                &browser(),
                &["permessage-deflate; client_max_window_bits=99999999999999"]
            ),
            "permessage-deflate: client_max_window_bits=99999999999999 is not a window size in 8..15"
        );
    }

    #[test]
    fn a_server_window_larger_than_offered_is_refused() {
        let offer = DeflateOffer {
            server_max_window_bits: Some(10),
            ..browser()
        };
        assert_eq!(
            reason(&offer, &["permessage-deflate; server_max_window_bits=11"]),
            "permessage-deflate: server_max_window_bits=11 is larger than offered (10)"
        );
    }

    #[test]
    fn an_offered_server_window_the_server_ignores_is_refused() {
        let offer = DeflateOffer {
            server_max_window_bits: Some(10),
            ..browser()
        };
        assert_eq!(
            reason(&offer, &["permessage-deflate"]),
            "permessage-deflate: server did not answer server_max_window_bits=10"
        );
    }

    #[test]
    fn an_offered_server_no_context_takeover_the_server_ignores_is_refused() {
        // RFC 7692 §7.1.1.1: "A server accepting an extension negotiation offer with this
        // parameter MUST include the "server_no_context_takeover" extension parameter".
        let offer = DeflateOffer {
            server_no_context_takeover: true,
            ..browser()
        };
        assert_eq!(
            reason(&offer, &["permessage-deflate"]),
            "permessage-deflate: server did not answer server_no_context_takeover"
        );
        assert_eq!(
            accept_response(&offer, &["permessage-deflate; server_no_context_takeover"]),
            Ok(Some(agreed(15, 15, false, true)))
        );
    }

    #[test]
    fn malformed_headers_are_refused_with_what_was_expected() {
        let cases = [
            ("permessage-deflate;", "expected a parameter name after `;`"),
            (
                "permessage-deflate; =15",
                "expected a parameter name after `;`",
            ),
            (
                "permessage-deflate; server_max_window_bits=",
                "expected a parameter value after `=`",
            ),
            ("permessage-deflate; a=\"15", "unterminated quoted string"),
            (
                "permessage-deflate; a=\"1 5\"",
                "quoted parameter value is not a token",
            ),
            (
                "permessage-deflate; a=\"\"",
                "quoted parameter value is not a token",
            ),
            ("permessage-deflate x", "expected `,` between extensions"),
            ("\"permessage-deflate\"", "expected an extension name"),
            (
                "permessage-deflate; server_max_window_bits=1 5",
                "expected `,` between extensions",
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                reason(&browser(), &[header]),
                format!("malformed Sec-WebSocket-Extensions header ({expected})"),
                "header {header}"
            );
        }
    }

    #[test]
    fn names_from_the_server_are_shortened_and_sanitised_in_reasons() {
        let long = "x".repeat(100);
        let text = reason(&browser(), &[&long]);
        assert_eq!(
            text,
            format!(
                "server accepted an extension that was not offered ({}…)",
                "x".repeat(40)
            )
        );
        let text = reason(
            &browser(),
            &["permessage-deflate; server_max_window_bits=\"\u{7f}\""],
        );
        assert!(text.starts_with("malformed"), "{text}");
    }

    #[test]
    fn a_server_answers_a_browser_offer_with_the_bare_extension() {
        let answer = answer_offers(
            &["permessage-deflate; client_max_window_bits"],
            &ServerDeflate::default(),
        );
        assert_eq!(
            answer,
            Some((
                agreed(15, 15, false, false),
                "permessage-deflate".to_owned()
            ))
        );
    }

    #[test]
    fn a_server_honours_the_clients_limits_and_its_own() {
        let server = ServerDeflate {
            server_no_context_takeover: true,
            server_max_window_bits: 12,
            level: 6,
        };
        let (agreed_params, response) = answer_offers(
            &["permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"],
            &server,
        )
        .expect("an acceptable offer");
        assert_eq!(agreed_params, agreed(9, 10, true, true));
        assert_eq!(
            response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=9"
        );
        // The client reading that response agrees on the same parameters.
        let offer = DeflateOffer {
            client_max_window_bits: Some(9),
            server_max_window_bits: Some(10),
            client_no_context_takeover: true,
            server_no_context_takeover: false,
            level: 6,
        };
        assert_eq!(
            accept_response(&offer, &[&response]),
            Ok(Some(agreed_params))
        );
        // A server limit is announced even when the client did not ask for one.
        let (_, response) = answer_offers(&["permessage-deflate"], &server).expect("accepted");
        assert_eq!(
            response,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12"
        );
    }

    #[test]
    fn a_server_skips_unacceptable_offers_and_takes_the_first_good_one() {
        let (agreed_params, _) = answer_offers(
            &[
                "x-webkit-deflate-frame, permessage-deflate; mux",
                "permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=11",
                "permessage-deflate",
            ],
            &ServerDeflate::default(),
        )
        .expect("the third offer is acceptable");
        assert_eq!(agreed_params, agreed(15, 11, false, false));
    }

    #[test]
    fn a_server_declines_when_nothing_is_acceptable() {
        let server = ServerDeflate::default();
        assert_eq!(answer_offers(&[], &server), None);
        assert_eq!(answer_offers(&["x-webkit-deflate-frame"], &server), None);
        assert_eq!(
            answer_offers(
                &["permessage-deflate; client_no_context_takeover=1"],
                &server
            ),
            None
        );
        assert_eq!(answer_offers(&["permessage-deflate;;"], &server), None);
    }

    fn any_offer() -> impl Strategy<Value = DeflateOffer> {
        (
            proptest::option::of(8u8..=15),
            proptest::option::of(8u8..=15),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(client, server, client_nct, server_nct)| DeflateOffer {
                client_max_window_bits: client,
                server_max_window_bits: server,
                client_no_context_takeover: client_nct,
                server_no_context_takeover: server_nct,
                level: DEFAULT_LEVEL,
            })
    }

    /// Header values made of the pieces a hostile or confused server would use.
    fn any_header() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("permessage-deflate".to_owned()),
            Just("x-webkit-deflate-frame".to_owned()),
            Just(SERVER_NO_CONTEXT_TAKEOVER.to_owned()),
            Just(CLIENT_NO_CONTEXT_TAKEOVER.to_owned()),
            Just(SERVER_MAX_WINDOW_BITS.to_owned()),
            Just(CLIENT_MAX_WINDOW_BITS.to_owned()),
            Just(";".to_owned()),
            Just(",".to_owned()),
            Just("=".to_owned()),
            Just(" ".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            (0u32..40).prop_map(|n| n.to_string()),
            "[ -~]{0,4}",
            any::<String>(),
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
    }

    fn consistent_with(offer: &DeflateOffer, agreed: &Agreed) -> bool {
        let windows = MIN_WINDOW_BITS..=MAX_WINDOW_BITS;
        windows.contains(&agreed.client_max_window_bits)
            && windows.contains(&agreed.server_max_window_bits)
            && agreed.client_max_window_bits
                <= offer.client_max_window_bits.unwrap_or(MAX_WINDOW_BITS)
            && agreed.server_max_window_bits
                <= offer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS)
            && (agreed.client_no_context_takeover || !offer.client_no_context_takeover)
            && (agreed.server_no_context_takeover || !offer.server_no_context_takeover)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_response_is_either_refused_or_consistent_with_the_offer(
            offer in any_offer(),
            values in proptest::collection::vec(any_header(), 0..3),
        ) {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            if let Ok(Some(agreed)) = accept_response(&offer, &values) {
                prop_assert!(consistent_with(&offer, &agreed), "{agreed:?} for {offer:?}");
            }
            let _ = refuse_any(&values);
        }

        #[test]
        fn any_offer_list_is_declined_or_answered_with_what_the_client_accepts(
            values in proptest::collection::vec(any_header(), 0..3),
            server_bits in 8u8..=15,
            server_nct in any::<bool>(),
        ) {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let server = ServerDeflate { server_no_context_takeover: server_nct, server_max_window_bits: server_bits, level: 6 };
            if let Some((agreed, response)) = answer_offers(&values, &server) {
                prop_assert!(agreed.server_max_window_bits <= server_bits);
                prop_assert!(agreed.server_no_context_takeover || !server_nct);
                // The response is one a client with the agreed window accepts, to the same result.
                let offer = DeflateOffer { client_max_window_bits: Some(agreed.client_max_window_bits), ..DeflateOffer::default() };
                prop_assert_eq!(accept_response(&offer, &[&response]), Ok(Some(agreed)));
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>(), offer in any_offer()) {
            let _ = accept_response(&offer, &[&text]);
            let _ = refuse_any(&[&text]);
            let _ = answer_offers(&[&text], &ServerDeflate::default());
        }

        #[test]
        fn every_offer_a_client_can_make_is_accepted_by_the_server(offer in any_offer()) {
            let header = offer.header_value();
            let (agreed, response) = answer_offers(&[&header], &ServerDeflate::default())
                .ok_or_else(|| TestCaseError::fail("declined"))?;
            prop_assert!(consistent_with(&offer, &agreed));
            prop_assert_eq!(accept_response(&offer, &[&response]), Ok(Some(agreed)));
        }
    }
}
