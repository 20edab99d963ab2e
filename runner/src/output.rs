//! Where the binary puts what it made: results files first, then the summary on stdout. Files are
//! written whole or not at all (a new temporary file beside the result, renamed into place), each
//! on its own, so a full disk loses only the file that did not fit; the temporary file has an
//! unpredictable name and is always created, never opened, so nothing (a symlink at `PATH.tmp`, a
//! leftover) can redirect the write. A closed stdout (`volley run … | head -1`) or a failed write
//! is an error message, never a panic. Rendering lives in the library, not here.

use crate::cli::Outputs;
use std::io::Write as _;
use std::path::Path;
use volley::Report;

/// Write `text` to `path` whole: into a new `path.<random>.tmp` first, then renamed over `path`
/// (which replaces a symlink at `path` rather than writing through it).
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{:016x}.tmp", rand::random::<u64>()));
    let temporary = std::path::PathBuf::from(temporary);
    let failed = |error: std::io::Error| format!("cannot write {}: {error}", path.display());
    // `create_new`: O_EXCL, so an existing file or symlink at that name is an error, not a target.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .map_err(failed)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| std::fs::rename(&temporary, path));
    written.map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        failed(error)
    })
}

/// Write every requested results file, each independently; `Err` lists those that failed.
pub fn write_outputs(report: &Report, outputs: &Outputs) -> Result<(), Vec<String>> {
    let mut failed = Vec::new();
    let mut write = |path: &Option<std::path::PathBuf>, render: &dyn Fn() -> String| {
        if let Some(path) = path
            && let Err(error) = write_file(path, &render())
        {
            failed.push(error);
        }
    };
    write(&outputs.out, &|| report.to_json());
    write(&outputs.html, &|| volley::render_html(report));
    write(&outputs.junit, &|| volley::render_junit(report));
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed)
    }
}

/// Print `text` on stdout; a closed or full stdout is reported on stderr instead of panicking.
/// Returns whether it was written.
pub fn print_stdout(text: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => true,
        Err(error) => {
            eprintln!(
                "volley: cannot write the summary to stdout ({error}); the results files were written"
            );
            false
        }
    }
}
