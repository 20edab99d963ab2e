//! What a `module:` file is, told from its first bytes: a WebAssembly component (what Volley runs)
//! or something people point `module:` at by mistake — a core WebAssembly module (built for
//! `wasm32-unknown-unknown` or `wasm32-wasip1`), an ar archive (an `.rlib` or `.a`: the crate is
//! not a `cdylib`), a native ELF binary, a text file (the YAML itself, WAT), an empty file. Pure:
//! `Scenario::load` (`config/mod.rs`) calls [`classify`] on the bytes it read and refuses anything
//! but a component with [`ModuleKind::problem`]. Whether a component fits the interface is
//! `scenario::engine`'s to say; where a missing file might be is `module_path`'s.

/// The WebAssembly binary magic, `\0asm`.
const WASM_MAGIC: &[u8; 4] = b"\0asm";
/// `ar`'s global header: Rust's `.rlib` and C's `.a` both start with it.
const AR_MAGIC: &[u8; 8] = b"!<arch>\n";
/// An ELF file (Linux executables, shared objects, object files).
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
/// How many leading bytes decide whether a file is text.
const TEXT_SNIFF: usize = 512;
/// How much of a text file's first line an error quotes.
const QUOTE_CHARS: usize = 40;

/// What a module file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleKind {
    /// A WebAssembly component (binary format, layer 1): what the runner loads.
    Component,
    /// A core WebAssembly module (version 1, layer 0): built for a target without components.
    CoreModule,
    /// WebAssembly with a version or layer this runner does not know.
    OtherWasm {
        /// The version field (bytes 4–5, little-endian).
        version: u16,
        /// The layer field (bytes 6–7, little-endian).
        layer: u16,
    },
    /// An ar archive: a Rust library (`.rlib`) or a static library (`.a`).
    Archive,
    /// A native ELF binary.
    Elf,
    /// A zero-byte file.
    Empty,
    /// Text; its first non-blank line, shortened.
    Text {
        /// The first non-blank line, at most [`QUOTE_CHARS`] characters.
        first_line: String,
    },
    /// None of the above; its first bytes in hex.
    Unknown {
        /// Up to the first 8 bytes, as hex pairs.
        head: String,
    },
}

/// Tell what `bytes` (a whole module file, or at least its first 512 bytes) are.
pub fn classify(bytes: &[u8]) -> ModuleKind {
    if bytes.is_empty() {
        return ModuleKind::Empty;
    }
    if let Some(header) = bytes.get(..8)
        && header.starts_with(WASM_MAGIC)
    {
        let version = u16::from_le_bytes([header[4], header[5]]);
        let layer = u16::from_le_bytes([header[6], header[7]]);
        return match (version, layer) {
            (1, 0) => ModuleKind::CoreModule,
            (_, 1) => ModuleKind::Component,
            _ => ModuleKind::OtherWasm { version, layer },
        };
    }
    if bytes.starts_with(AR_MAGIC) {
        return ModuleKind::Archive;
    }
    if bytes.starts_with(ELF_MAGIC) {
        return ModuleKind::Elf;
    }
    let head = &bytes[..bytes.len().min(TEXT_SNIFF)];
    if let Some(text) = as_text(head) {
        let first_line = text
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("");
        let mut quoted: String = first_line.chars().take(QUOTE_CHARS).collect();
        if first_line.chars().count() > QUOTE_CHARS {
            quoted.push('…');
        }
        return ModuleKind::Text { first_line: quoted };
    }
    ModuleKind::Unknown {
        head: bytes
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// `head` as text when it has no NUL and no control character other than whitespace, and is UTF-8
/// (a multi-byte character cut at the end of the sniffed bytes still counts).
fn as_text(head: &[u8]) -> Option<&str> {
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    text.chars()
        .all(|c| !c.is_control() || c.is_whitespace())
        .then_some(text)
}

impl ModuleKind {
    /// What is wrong with the file and how to get a component, or `None` for a component.
    pub fn problem(&self) -> Option<String> {
        let build = "`cargo build --release --target wasm32-wasip2` in the scenario's crate writes the component to `target/wasm32-wasip2/release/NAME.wasm`; point `module:` at it";
        Some(match self {
            ModuleKind::Component => return None,
            ModuleKind::CoreModule => format!(
                "a core WebAssembly module, not a component (built for wasm32-unknown-unknown or wasm32-wasip1?): build for wasm32-wasip2: {build}"
            ),
            ModuleKind::OtherWasm { version, layer } => format!(
                "WebAssembly of version {version}, layer {layer}, which this runner does not read (a component is layer 1): {build}"
            ),
            ModuleKind::Archive => format!(
                "an ar archive (a Rust `.rlib` or a static library `.a`), not a component: the crate needs `crate-type = [\"cdylib\"]` in its Cargo.toml; then {build}"
            ),
            ModuleKind::Elf => {
                format!("a native ELF binary, not a WebAssembly component: {build}")
            }
            ModuleKind::Empty => format!("an empty file, not a WebAssembly component: {build}"),
            ModuleKind::Text { first_line } => format!(
                "a text file (it starts \"{first_line}\"), not a WebAssembly component; `module:` names the compiled `.wasm`: {build}"
            ),
            ModuleKind::Unknown { head } => format!(
                "not a WebAssembly file (it starts with bytes {head}; a component starts 00 61 73 6d): {build}"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest core module: the magic and version 1.
    const CORE: &[u8] = b"\0asm\x01\0\0\0";
    /// The smallest component: the magic, version 0x0d, layer 1.
    const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn a_component_is_a_component_and_has_no_problem() {
        assert_eq!(classify(COMPONENT), ModuleKind::Component);
        assert_eq!(classify(COMPONENT).problem(), None);
    }

    #[test]
    fn a_core_module_says_to_build_for_wasm32_wasip2() {
        assert_eq!(classify(CORE), ModuleKind::CoreModule);
        let problem = classify(CORE).problem().unwrap_or_default();
        assert!(
            problem.starts_with("a core WebAssembly module, not a component"),
            "{problem}"
        );
        assert!(problem.contains("build for wasm32-wasip2"), "{problem}");
    }

    #[test]
    fn unknown_versions_of_webassembly_are_named() {
        assert_eq!(
            classify(b"\0asm\x02\0\0\0"),
            ModuleKind::OtherWasm {
                version: 2,
                layer: 0
            }
        );
        // The magic alone is too short to tell: it is not text (a NUL) and not known.
        assert!(matches!(classify(b"\0asm"), ModuleKind::Unknown { .. }));
    }

    #[test]
    fn an_rlib_is_an_archive() {
        let rlib = b"!<arch>\n/               0           0     0     0       8         `\n";
        assert_eq!(classify(rlib), ModuleKind::Archive);
        let problem = ModuleKind::Archive.problem().unwrap_or_default();
        assert!(
            problem.contains("`.rlib`") && problem.contains("cdylib"),
            "{problem}"
        );
    }

    #[test]
    fn an_elf_binary_is_native_code() {
        assert_eq!(classify(b"\x7fELF\x02\x01\x01\0\0\0"), ModuleKind::Elf);
    }

    #[test]
    fn text_quotes_its_first_line() {
        let yaml = "\n  # `module:` points at this file\nversion: 1\n";
        assert_eq!(
            classify(yaml.as_bytes()),
            ModuleKind::Text {
                first_line: "# `module:` points at this file".to_owned()
            }
        );
        let long = format!("(module {})", "x".repeat(100));
        let ModuleKind::Text { first_line } = classify(long.as_bytes()) else {
            panic!("WAT is text");
        };
        assert_eq!(first_line.chars().count(), QUOTE_CHARS + 1);
        assert!(first_line.starts_with("(module x") && first_line.ends_with('…'));
    }

    #[test]
    fn text_cut_inside_a_character_is_still_text() {
        let mut text = "a".repeat(TEXT_SNIFF - 1).into_bytes();
        text.extend("é and more".as_bytes()); // `é` straddles the sniffed 512 bytes
        assert!(matches!(classify(&text), ModuleKind::Text { .. }));
    }

    #[test]
    fn empty_and_binary_files() {
        assert_eq!(classify(b""), ModuleKind::Empty);
        assert_eq!(
            classify(b"\x89PNG\r\n\x1a\n\0\0"),
            ModuleKind::Unknown {
                head: "89 50 4e 47 0d 0a 1a 0a".to_owned()
            }
        );
    }
}
