//! The texts of bench W4 (`runner/benches/floor/`, issue 22): JSON-like events of an exact size,
//! each different, built from a seeded generator (splitmix64) from the connection's index and the
//! message's sequence number, so they compress the way a real feed does (repeated keys, words from a
//! small vocabulary, numbers that vary) and never repeat. Pure and dependency-free: the `jsonecho`
//! scenario compiles it into its module, and the bench's bare client includes this very file
//! (`#[path]`), so both clients send the same bytes for the same connection and sequence number.
//! What the scenario does per message lives in `lib.rs`; what the bench measures, in the bench.

/// Keys of the event's fields, in the order they are written.
const KEYS: [&str; 8] = [
    "user", "action", "item", "price", "quantity", "region", "status", "note",
];

/// The vocabulary the string fields and the note draw from.
const WORDS: [&str; 32] = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "order",
    "update",
    "created",
    "shipped",
    "pending",
    "cancelled",
];

/// A splitmix64 generator: small, fast, the same on every platform and in WebAssembly.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn word(&mut self) -> &'static str {
        WORDS
            .get(self.below(WORDS.len() as u64) as usize)
            .copied()
            .unwrap_or("alpha")
    }
}

/// Append `value`'s decimal digits (no `fmt`: it would pull its tables into the module).
fn push_number(out: &mut String, value: u64) {
    let mut digits = [0u8; 20];
    let mut count = 0;
    let mut rest = value;
    for digit in digits.iter_mut() {
        *digit = (rest % 10) as u8;
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for digit in digits.iter().take(count).rev() {
        out.push(char::from(b'0' + digit));
    }
}

/// Replace `out` with the text for connection `connection`'s message `seq`: a JSON object of
/// exactly `size` bytes (at least [`MIN_SIZE`]; smaller sizes give `MIN_SIZE`), events appended
/// to an `events` array until the next would not fit, then a `pad` string of words cut to fit.
pub fn write_json_text(out: &mut String, connection: u32, seq: u32, size: usize) {
    let size = size.max(MIN_SIZE);
    let mut generator = Generator((u64::from(connection) << 32) | u64::from(seq));
    out.clear();
    out.push_str("{\"seq\":");
    push_number(out, u64::from(seq));
    out.push_str(",\"connection\":");
    push_number(out, u64::from(connection));
    out.push_str(",\"events\":[");
    let mut event = String::with_capacity(160);
    let mut first = true;
    loop {
        event.clear();
        if !first {
            event.push(',');
        }
        event.push('{');
        for (index, key) in KEYS.iter().enumerate() {
            if index > 0 {
                event.push(',');
            }
            event.push('"');
            event.push_str(key);
            event.push_str("\":");
            match *key {
                "price" => {
                    push_number(&mut event, generator.below(100_000));
                    event.push('.');
                    let cents = generator.below(100);
                    if cents < 10 {
                        event.push('0');
                    }
                    push_number(&mut event, cents);
                }
                "quantity" => push_number(&mut event, 1 + generator.below(50)),
                "user" => {
                    event.push_str("\"u");
                    push_number(&mut event, generator.below(1_000_000));
                    event.push('"');
                }
                _ => {
                    event.push('"');
                    event.push_str(generator.word());
                    if *key == "note" {
                        for _ in 0..generator.below(4) {
                            event.push(' ');
                            event.push_str(generator.word());
                        }
                    }
                    event.push('"');
                }
            }
        }
        event.push('}');
        // Room left for `],"pad":""}` (11 bytes) after this event.
        if out.len() + event.len() + CLOSING.len() > size {
            break;
        }
        out.push_str(&event);
        first = false;
    }
    out.push_str("],\"pad\":\"");
    let room = size.saturating_sub(out.len() + 2);
    let mut pad = 0;
    while pad < room {
        let word = generator.word();
        let take = word.len().min(room - pad - usize::from(pad > 0));
        if pad > 0 && take > 0 {
            out.push(' ');
            pad += 1;
        }
        out.push_str(word.get(..take).unwrap_or_default());
        pad += take;
        if take == 0 {
            // Only the separator fitted: a space keeps the size exact.
            out.push(' ');
            pad += 1;
        }
    }
    out.push_str("\"}");
}

/// What follows the last event: the end of the array, an empty `pad` string, the end of the object.
const CLOSING: &str = "],\"pad\":\"\"}";

/// The smallest text [`write_json_text`] writes: the fixed fields with the largest numbers, an
/// empty events array and an empty pad.
pub const MIN_SIZE: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    fn text(connection: u32, seq: u32, size: usize) -> String {
        let mut out = String::new();
        write_json_text(&mut out, connection, seq, size);
        out
    }

    #[test]
    fn every_text_is_exactly_the_size_asked() {
        for size in [MIN_SIZE, 100, 257, 1024, 4096] {
            for seq in [0, 1, 2, 99, u32::MAX] {
                for connection in [0, 7, u32::MAX] {
                    assert_eq!(
                        text(connection, seq, size).len(),
                        size,
                        "{connection} {seq} {size}"
                    );
                }
            }
        }
        assert_eq!(text(u32::MAX, u32::MAX, 10).len(), MIN_SIZE);
    }

    #[test]
    fn texts_are_json_shaped_and_carry_their_numbers() {
        let t = text(3, 42, 1024);
        assert!(
            t.starts_with("{\"seq\":42,\"connection\":3,\"events\":[{\"user\":\"u"),
            "{t}"
        );
        assert!(t.ends_with("\"}"), "{t}");
        assert!(t.contains("],\"pad\":\""), "{t}");
        assert!(t.matches("\"price\":").count() >= 4, "{t}");
        assert_eq!(t.matches('{').count(), t.matches('}').count(), "{t}");
    }

    #[test]
    fn texts_are_the_same_for_the_same_inputs_and_differ_otherwise() {
        assert_eq!(text(1, 2, 1024), text(1, 2, 1024));
        assert_ne!(text(1, 2, 1024), text(1, 3, 1024));
        assert_ne!(text(1, 2, 1024), text(2, 2, 1024));
        // The events themselves vary, not only the leading numbers.
        let events = |t: String| t.split_once("\"events\"").map(|(_, rest)| rest.to_owned());
        assert_ne!(events(text(1, 2, 1024)), events(text(1, 3, 1024)));
    }
}
