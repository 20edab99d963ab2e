//! Compiled modules kept between runs: compiling a scenario with Cranelift takes ~0.15 s of CPU
//! at every start (and in every `--workers` process), more than a short run's connections cost.
//! The machine code wasmtime makes is stored in a cache folder, named by the module's SHA-256 and
//! a hash of everything in the engine that the code depends on (wasmtime version, settings, CPU
//! features), so a changed module, runner or machine never reads another's code.
//!
//! The folder is `$VOLLEY_MODULE_CACHE`, else `$XDG_CACHE_HOME/volley/modules`, else
//! `~/.cache/volley/modules`; `VOLLEY_MODULE_CACHE=off` turns the cache off. Trust: an entry is
//! native code, loaded as is, so the folder is created private (mode 700) and a folder another
//! user owns or may write is not used at all (the module is compiled, with a warning). Beside each
//! entry `NAME.cwasm` a seal `NAME.cwasm.sha256` names the module's SHA-256 and the entry's; an
//! entry is read once, checked against its seal and loaded from that same buffer, so a damaged,
//! truncated or swapped entry (another module's code under this name) is compiled again and
//! replaced, never run. Files are written to fresh temporary names (never through an existing
//! file or symlink) and renamed, so a reader sees whole files or none. A cache that cannot be
//! written only costs the compile.

use crate::config::pin::{Sha256Hex, digest_of};
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The environment variable naming the cache folder (or `off`).
pub const CACHE_VARIABLE: &str = "VOLLEY_MODULE_CACHE";

/// Where compiled modules are kept, or `None` when the cache is off or there is no home.
pub fn folder() -> Option<PathBuf> {
    folder_from(
        std::env::var_os(CACHE_VARIABLE),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// [`folder`] from the values of `VOLLEY_MODULE_CACHE`, `XDG_CACHE_HOME` and `HOME`.
fn folder_from(
    cache: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let set = |value: Option<OsString>| value.filter(|value| !value.is_empty());
    match set(cache) {
        Some(value) if value == "off" => None,
        Some(value) => Some(PathBuf::from(value)),
        None => set(xdg_cache_home)
            .map(PathBuf::from)
            .or_else(|| set(home).map(|home| Path::new(&home).join(".cache")))
            .map(|base| base.join("volley").join("modules")),
    }
}

/// The file name of the module with SHA-256 `digest` compiled by `engine`.
fn entry_name(engine: &Engine, digest: &Sha256Hex) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{}-{:016x}.cwasm", digest.hex(), hasher.finish())
}

/// The seal kept beside `entry`: the path.
fn seal_path(entry: &Path) -> PathBuf {
    let mut path = entry.as_os_str().to_owned();
    path.push(".sha256");
    PathBuf::from(path)
}

/// The seal's text for `compiled`, the code of the module with SHA-256 `module`.
fn seal(module: &Sha256Hex, compiled: &[u8]) -> String {
    format!("module {module}\ncompiled {}\n", digest_of(compiled))
}

/// `bytes` (whose SHA-256 is `digest`, computed once by the caller) compiled for `engine`: loaded
/// from the cache in `folder` when there and true to its seal, else compiled (and stored for next
/// time). Errors are the compiler's (the module is not a valid component).
pub fn compile(
    engine: &Engine,
    bytes: &[u8],
    digest: &Sha256Hex,
    folder: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(folder) = folder.filter(|folder| private_folder(folder)) else {
        return Component::new(engine, bytes);
    };
    let entry = folder.join(entry_name(engine, digest));
    if let Some(component) = load(engine, digest, &entry) {
        return Ok(component);
    }
    let component = Component::new(engine, bytes)?;
    store(&component, digest, &entry);
    Ok(component)
}

/// The entry at `entry`, if it is there and its bytes are the ones its seal names for the module
/// with SHA-256 `digest`.
fn load(engine: &Engine, digest: &Sha256Hex, entry: &Path) -> Option<Component> {
    let sealed = std::fs::read_to_string(seal_path(entry)).ok()?;
    let compiled = std::fs::read(entry).ok()?;
    if sealed != seal(digest, &compiled) {
        return None;
    }
    // SAFETY: these bytes are the ones the seal beside them names, written by `store` below from
    // wasmtime's own serialisation of this module for an engine with this compatibility hash (in
    // the entry's name; wasmtime checks its header again), in a folder only this user can write.
    #[allow(unsafe_code)] // wasmtime's one way to load precompiled code
    let loaded = unsafe { Component::deserialize(engine, &compiled) };
    loaded.ok()
}

/// Write `component` (the module with SHA-256 `digest`) to `entry` and its seal beside it, each
/// through a fresh temporary file; failures are ignored (the next run compiles again).
fn store(component: &Component, digest: &Sha256Hex, entry: &Path) {
    let Ok(serialized) = component.serialize() else {
        return;
    };
    let sealed = seal(digest, &serialized);
    if write_new(entry, &serialized).is_ok() {
        let _ = write_new(&seal_path(entry), sealed.as_bytes());
    }
}

/// Write `bytes` to `path` whole: into a new file with an unpredictable name beside it (created,
/// never opened if it exists, so never through a symlink; readable by this user only), renamed
/// over `path`.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{:016x}.tmp", rand::random::<u64>()));
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Whether `folder` may hold native code this process will run: it is created private (mode 700)
/// when missing; an existing one must be a folder this user owns that no other user may write.
/// Says why once on stderr when it is not.
fn private_folder(folder: &Path) -> bool {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    if !folder.exists() {
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder);
    }
    let Ok(metadata) = std::fs::metadata(folder) else {
        return false;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)] // the one way to read this process's user id
    let user = unsafe { libc::geteuid() };
    let private = metadata.is_dir() && metadata.uid() == user && metadata.mode() & 0o022 == 0;
    if metadata.is_dir() && !private {
        eprintln!(
            "warning: module cache {} is not private to this user (owned by another or writable by others); not used, the module is compiled instead (chmod 700 it, or set {CACHE_VARIABLE})",
            folder.display()
        );
    }
    private
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component in the binary format: the magic, version 0x0d, layer 1, no sections.
    const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    /// Another component: the empty one with one empty core module (section 1, 8 bytes) in it.
    const ONE_MODULE_COMPONENT: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x01, 0x08, 0x00, 0x61, 0x73, 0x6d, 0x01,
        0x00, 0x00, 0x00,
    ];

    /// The files in `folder`, sorted.
    fn entries(folder: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Whether the empty component compiles (or loads) for `engine` with the cache in `folder`.
    fn compiles_empty(engine: &Engine, folder: &Path) -> bool {
        compile(
            engine,
            EMPTY_COMPONENT,
            &digest_of(EMPTY_COMPONENT),
            Some(folder),
        )
        .is_ok()
    }

    fn modified(path: &Path) -> Option<std::time::SystemTime> {
        std::fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    #[test]
    fn a_module_is_compiled_once_then_loaded_from_the_cache() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let engine = Engine::default();
        assert!(compiles_empty(&engine, folder.path()));
        let written = entries(folder.path());
        assert_eq!(written.len(), 2, "the entry and its seal: {written:?}");
        assert!(
            written[0].to_string_lossy().ends_with(".cwasm")
                && written[1].to_string_lossy().ends_with(".cwasm.sha256"),
            "{written:?}"
        );
        let before = modified(&written[0]);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(compiles_empty(&engine, folder.path()));
        assert_eq!(
            modified(&written[0]),
            before,
            "a hit must not rewrite the entry"
        );
        assert_eq!(entries(folder.path()), written);
    }

    #[test]
    fn a_damaged_entry_is_compiled_again_and_replaced() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let engine = Engine::default();
        let entry = folder
            .path()
            .join(entry_name(&engine, &digest_of(EMPTY_COMPONENT)));
        std::fs::write(&entry, b"not machine code").expect("write");
        assert!(compiles_empty(&engine, folder.path()));
        let replaced = std::fs::read(&entry).expect("entry");
        assert_ne!(replaced, b"not machine code");
        assert_eq!(
            entries(folder.path()),
            vec![entry.clone(), seal_path(&entry)],
            "no temporary file is left"
        );
    }

    #[test]
    fn issue_21_an_entry_that_is_not_the_one_its_seal_names_is_compiled_again() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let engine = Engine::default();
        let entry = folder
            .path()
            .join(entry_name(&engine, &digest_of(EMPTY_COMPONENT)));
        assert!(compiles_empty(&engine, folder.path()));
        let own = std::fs::read(&entry).expect("entry");
        // Another module's code under this module's name: valid machine code for this engine,
        // that wasmtime itself would load.
        let other = Component::new(&engine, ONE_MODULE_COMPONENT)
            .and_then(|component| component.serialize())
            .expect("another component");
        assert_ne!(other, own);
        std::fs::write(&entry, &other).expect("swap the entry");
        assert!(compiles_empty(&engine, folder.path()));
        assert_eq!(std::fs::read(&entry).expect("entry"), own, "compiled again");

        // The other module's entry and its seal both moved in: the seal names the other module.
        let other_entry = folder
            .path()
            .join(entry_name(&engine, &digest_of(ONE_MODULE_COMPONENT)));
        assert!(
            compile(
                &engine,
                ONE_MODULE_COMPONENT,
                &digest_of(ONE_MODULE_COMPONENT),
                Some(folder.path())
            )
            .is_ok()
        );
        std::fs::copy(&other_entry, &entry).expect("swap the entry");
        std::fs::copy(seal_path(&other_entry), seal_path(&entry)).expect("swap the seal");
        assert!(compiles_empty(&engine, folder.path()));
        assert_eq!(std::fs::read(&entry).expect("entry"), own, "compiled again");
    }

    #[test]
    fn issue_21_the_cache_folder_is_created_private_and_a_shared_one_is_not_used() {
        use std::os::unix::fs::PermissionsExt as _;
        let base = tempfile::tempdir().expect("temporary folder");
        let engine = Engine::default();
        let folder = base.path().join("volley").join("modules");
        assert!(compiles_empty(&engine, &folder));
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .map(|metadata| metadata.permissions().mode() & 0o777)
                .unwrap_or(0)
        };
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(entries(&folder).len(), 2);
        for file in entries(&folder) {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }

        // A folder others may write: a swapped entry there is not loaded, and nothing is written.
        let shared = base.path().join("shared");
        std::fs::create_dir(&shared).expect("folder");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(compiles_empty(&engine, &shared));
        assert!(entries(&shared).is_empty(), "{:?}", entries(&shared));
    }

    #[test]
    fn another_module_or_engine_gets_another_entry() {
        let engine = Engine::default();
        let mut other = EMPTY_COMPONENT.to_vec();
        other.push(0);
        assert_ne!(
            entry_name(&engine, &digest_of(EMPTY_COMPONENT)),
            entry_name(&engine, &digest_of(&other))
        );
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let tuned = Engine::new(&config).expect("engine");
        assert_ne!(
            entry_name(&engine, &digest_of(EMPTY_COMPONENT)),
            entry_name(&tuned, &digest_of(EMPTY_COMPONENT))
        );
    }

    #[test]
    fn invalid_bytes_are_the_compiler_s_error_and_write_nothing() {
        let folder = tempfile::tempdir().expect("temporary folder");
        assert!(
            compile(
                &Engine::default(),
                b"not wasm",
                &digest_of(b"not wasm"),
                Some(folder.path())
            )
            .is_err()
        );
        assert!(entries(folder.path()).is_empty());
    }

    #[test]
    fn the_folder_is_the_variable_s_else_the_xdg_cache_else_home_s_and_off_turns_it_off() {
        let some = |text: &str| Some(OsString::from(text));
        assert_eq!(folder_from(some("off"), some("/x"), some("/h")), None);
        assert_eq!(
            folder_from(some("/c"), some("/x"), some("/h")),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(
            folder_from(None, some("/x"), some("/h")),
            Some(PathBuf::from("/x/volley/modules"))
        );
        assert_eq!(
            folder_from(some(""), some(""), some("/h")),
            Some(PathBuf::from("/h/.cache/volley/modules"))
        );
        assert_eq!(folder_from(None, None, None), None);
    }
}
