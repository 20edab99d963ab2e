//! Pinned modules: `module_sha256:` in a scenario file says exactly which module the file was
//! written for. Here: parsing the pin (64 hex digits, an optional `sha256:` prefix), hashing
//! bytes (SHA-256, printed as `sha256:<hex>` by `volley check`), and the mismatch message.
//! Called by `Scenario::load` (so `run` and `check` both refuse a mismatch) and by
//! `scenario::engine`. Does not live here: reading the module once (`module_file`), compiling it
//! (`scenario::engine`).

use sha2::{Digest, Sha256};
use std::path::Path;

/// A SHA-256 digest as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// Parse a pin as written: 64 hex digits, either case, optionally prefixed `sha256:`.
    pub fn parse(text: &str) -> Result<Sha256Hex, String> {
        let trimmed = text.trim();
        let hex = trimmed.strip_prefix("sha256:").unwrap_or(trimmed);
        if hex.len() == 64 && hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            Ok(Sha256Hex(hex.to_ascii_lowercase()))
        } else {
            Err(format!(
                "module_sha256: `{text}` is not a SHA-256 digest (64 hex digits, {} given); `volley check FILE` prints the module's digest",
                hex.len()
            ))
        }
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

/// The SHA-256 of `bytes`.
pub fn digest_of(bytes: &[u8]) -> Sha256Hex {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    Sha256Hex(hex)
}

/// What `run` and `check` say when the module is not the pinned one.
pub fn mismatch(module: &Path, actual: &Sha256Hex, pinned: &Sha256Hex) -> String {
    format!(
        "module `{}` is {actual}, but module_sha256 pins {pinned}; build or fetch the module this file was written for, or, if the new module is intended, set `module_sha256: {}`",
        module.display(),
        actual.hex()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_with_or_without_prefix_in_either_case() {
        let hex = "ab".repeat(32);
        let expected = Sha256Hex(hex.clone());
        assert_eq!(Sha256Hex::parse(&hex), Ok(expected.clone()));
        assert_eq!(
            Sha256Hex::parse(&format!("sha256:{hex}")),
            Ok(expected.clone())
        );
        assert_eq!(Sha256Hex::parse(&hex.to_uppercase()), Ok(expected.clone()));
        assert_eq!(expected.to_string(), format!("sha256:{hex}"));
    }

    #[test]
    fn bad_pins_say_what_is_wrong() {
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            let error = Sha256Hex::parse(bad).err().unwrap_or_default();
            assert!(error.contains("is not a SHA-256 digest"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_digest_of_known_bytes() {
        assert_eq!(
            digest_of(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
