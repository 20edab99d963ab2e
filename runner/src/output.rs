//! Where the binary puts what it made: results files first, then the summary on stdout. Files are
//! written whole or not at all (a temporary file renamed into place), each on its own, so a full
//! disk loses only the file that did not fit; a closed stdout (`volley run … | head -1`) or a
//! failed write is an error message, never a panic. Rendering lives in the library, not here.

use crate::cli::Outputs;
use std::io::Write as _;
use std::path::Path;
use volley::Report;

/// Write `text` to `path` whole: into `path.tmp` first, then renamed over `path`.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    let written = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, path));
    written.map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        format!("cannot write {}: {error}", path.display())
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
