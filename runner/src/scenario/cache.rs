//! Compiled modules kept between runs: compiling a scenario with Cranelift takes ~0.15 s of CPU
//! at every start (and in every `--workers` process), more than a short run's connections cost.
//! The machine code wasmtime makes is stored in a cache folder, named by the module's SHA-256 and
//! a hash of everything in the engine that the code depends on (wasmtime version, settings, CPU
//! features), so a changed module, runner or machine never reads another's code.
//!
//! The folder is `$VOLLEY_MODULE_CACHE`, else `$XDG_CACHE_HOME/volley/modules`, else
//! `~/.cache/volley/modules`; `VOLLEY_MODULE_CACHE=off` turns the cache off. Entries are written
//! to a temporary name and renamed, so a reader sees a whole entry or none; an entry that does not
//! load (damaged, truncated, from another build) is compiled again and replaced. A cache that
//! cannot be written only costs the compile. Trust: an entry is native code, loaded as is —
//! exactly like wasmtime's own cache, the folder must be writable by the user running volley only.

use crate::config::pin::Sha256Hex;
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

/// `bytes` (whose SHA-256 is `digest`, computed once by the caller) compiled for `engine`: loaded
/// from the cache in `folder` when there, else compiled (and stored for next time). Errors are the
/// compiler's (the module is not a valid component).
pub fn compile(
    engine: &Engine,
    bytes: &[u8],
    digest: &Sha256Hex,
    folder: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(folder) = folder else {
        return Component::new(engine, bytes);
    };
    let entry = folder.join(entry_name(engine, digest));
    if entry.is_file() {
        // SAFETY: the entry was written by `store` below from wasmtime's own serialisation, for an
        // engine with this compatibility hash (in its name; wasmtime checks its header again). The
        // folder is the user's own (see the module docs): nothing else writes native code there.
        #[allow(unsafe_code)] // wasmtime's one way to load precompiled code
        let loaded = unsafe { Component::deserialize_file(engine, &entry) };
        if let Ok(component) = loaded {
            return Ok(component);
        }
    }
    let component = Component::new(engine, bytes)?;
    store(&component, folder, &entry);
    Ok(component)
}

/// Write `component` to `entry` through a temporary file; failures are ignored (the next run
/// compiles again).
fn store(component: &Component, folder: &Path, entry: &Path) {
    let Ok(serialized) = component.serialize() else {
        return;
    };
    if std::fs::create_dir_all(folder).is_err() {
        return;
    }
    let temporary = entry.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::write(&temporary, serialized).is_ok() && std::fs::rename(&temporary, entry).is_ok()
    {
        return;
    }
    let _ = std::fs::remove_file(&temporary);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pin::digest_of;

    /// The smallest component in the binary format: the magic, version 0x0d, layer 1, no sections.
    const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    fn entries(folder: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(folder)
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default()
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
        assert_eq!(written.len(), 1, "{written:?}");
        assert!(
            written[0].to_string_lossy().ends_with(".cwasm"),
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
        assert_eq!(entries(folder.path()).len(), 1);
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
            vec![entry],
            "no temporary file is left"
        );
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
