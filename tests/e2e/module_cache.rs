//! Compiled modules kept between runs (`scenario/cache.rs`): a real run fills the cache folder
//! named by `VOLLEY_MODULE_CACHE` (an entry and the seal beside it), the next run loads from it
//! with the same results, and a damaged entry is compiled again instead of failing the run.

use crate::support::{number, results, run_case_with_env};
use std::path::{Path, PathBuf};

fn run_echo(cache: &Path) -> crate::support::Ran {
    run_case_with_env("echo-exact", &[("VOLLEY_MODULE_CACHE", cache)], &[])
}

fn entries(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn assert_exact_echo(ran: &crate::support::Ran) {
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(ran);
    assert_eq!(number(r, "/connections/established"), 5, "{r:#}");
    assert_eq!(number(r, "/round_trips/count"), 100, "{r:#}");
    assert_eq!(number(r, "/checks/0/failed"), 0, "{r:#}");
}

#[test]
fn a_run_fills_the_module_cache_and_the_next_run_loads_it_or_recompiles_a_damaged_entry() {
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("temporary folder: {error}"),
    };
    let cache = folder.path().join("modules");

    assert_exact_echo(&run_echo(&cache));
    let written = entries(&cache);
    assert_eq!(
        written.len(),
        2,
        "one compiled module and its seal: {written:?}"
    );
    let written: Vec<PathBuf> = written
        .into_iter()
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "cwasm")
        })
        .collect();
    assert_eq!(written.len(), 1, "one compiled module: {written:?}");
    let compiled = std::fs::read(&written[0]).unwrap_or_default();
    assert!(compiled.len() > 1000, "{} bytes", compiled.len());

    let before = entries(&cache);
    assert_exact_echo(&run_echo(&cache));
    assert_eq!(entries(&cache), before, "a hit adds nothing");

    if let Err(error) = std::fs::write(&written[0], b"damaged") {
        panic!("cannot damage the entry: {error}");
    }
    assert_exact_echo(&run_echo(&cache));
    let replaced = std::fs::read(&written[0]).unwrap_or_default();
    assert!(
        replaced.len() > 1000 && replaced != b"damaged",
        "the damaged entry is rewritten: {} bytes",
        replaced.len()
    );
}
