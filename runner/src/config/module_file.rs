//! [`ModuleFile`]: the scenario module as `Scenario::load` read it, once: its bytes and their
//! SHA-256. The pin (`module_sha256:`) is checked against this digest, `volley check` prints it,
//! the results record it, and `scenario::engine` compiles this same buffer, so the bytes that run
//! are the bytes pinned even if the file changes after the scenario was loaded. Parsing the pin
//! and the mismatch message live in `pin`; compiling in `scenario::engine`.

use super::pin::{Sha256Hex, digest_of};
use std::path::Path;
use std::sync::Arc;

/// A module's bytes, read once, and their SHA-256 (cheap to clone: the bytes are shared).
#[derive(Clone)]
pub struct ModuleFile {
    bytes: Arc<[u8]>,
    digest: Sha256Hex,
}

impl ModuleFile {
    /// Read the module at `path` and hash what was read.
    pub fn read(path: &Path) -> std::io::Result<ModuleFile> {
        Ok(ModuleFile::from_bytes(std::fs::read(path)?))
    }

    /// `bytes`, hashed.
    pub fn from_bytes(bytes: Vec<u8>) -> ModuleFile {
        let digest = digest_of(&bytes);
        ModuleFile {
            bytes: bytes.into(),
            digest,
        }
    }

    /// The bytes as read.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The SHA-256 of [`Self::bytes`].
    pub fn digest(&self) -> &Sha256Hex {
        &self.digest
    }
}

impl std::fmt::Debug for ModuleFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModuleFile({} bytes, {})", self.bytes.len(), self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_of_the_bytes_read() -> std::io::Result<()> {
        let file = tempfile::NamedTempFile::new()?;
        std::fs::write(file.path(), b"abc")?;
        let module = ModuleFile::read(file.path())?;
        assert_eq!(module.bytes(), b"abc");
        assert_eq!(
            module.digest().hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // What was read stays what it was when the file changes afterwards.
        std::fs::write(file.path(), b"changed")?;
        assert_eq!(module.bytes(), b"abc");
        Ok(())
    }
}
