//! `volley import har FILE.har [--out DIR] [--force]`: read the HAR, turn it into flow files and a
//! README (the library's `import_har`, in memory), refuse to replace existing files unless
//! `--force`, write them into DIR (default `<stem>-flows`) and say what to do next. Nothing here
//! decides what the files hold.

use crate::cli::{ImportArgs, ImportHarArgs, ImportKind};
use crate::commands::COULD_NOT_RUN;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run `volley import …`.
pub fn import(args: ImportArgs) -> ExitCode {
    match args.kind {
        ImportKind::Har(args) => har(args),
    }
}

fn har(args: ImportHarArgs) -> ExitCode {
    let fail = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(COULD_NOT_RUN)
    };
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(error) => return fail(format!("cannot read {}: {error}", args.file.display())),
    };
    let folder = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .file
            .file_stem()
            .map_or_else(|| "recording".into(), |stem| stem.to_string_lossy());
        PathBuf::from(format!("{stem}-flows"))
    });
    let source = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let imported = match volley::import_har(&text, &source, &folder.display().to_string()) {
        Ok(imported) => imported,
        Err(error) => return fail(format!("{}: {error}", args.file.display())),
    };
    if !args.force {
        let existing: Vec<&str> = imported
            .files
            .iter()
            .filter(|file| folder.join(&file.name).exists())
            .map(|file| file.name.as_str())
            .collect();
        if !existing.is_empty() {
            return fail(format!(
                "{} already has {}; pass --force to replace them, or --out another folder",
                folder.display(),
                existing.join(", ")
            ));
        }
    }
    if let Err(error) = std::fs::create_dir_all(&folder) {
        return fail(format!("cannot create {}: {error}", folder.display()));
    }
    for file in &imported.files {
        let path = folder.join(&file.name);
        if let Err(error) = std::fs::write(&path, &file.text) {
            return fail(format!("cannot write {}: {error}", path.display()));
        }
    }
    let flows = imported.files.len().saturating_sub(1);
    let skipped = if imported.skipped > 0 {
        format!(", {} skipped (see the README)", imported.skipped)
    } else {
        String::new()
    };
    let variables = if imported.variables.is_empty() {
        String::new()
    } else {
        format!("; set {} first", imported.variables.join(", "))
    };
    let first = imported
        .files
        .first()
        .map(|file| folder.join(&file.name).display().to_string())
        .unwrap_or_default();
    println!(
        "volley import har: {} WebSocket{} in {source}{skipped}: wrote {flows} flow file{} and README.md to {}{variables}; next: volley check {first}",
        imported.sockets,
        if imported.sockets == 1 { "" } else { "s" },
        if flows == 1 { "" } else { "s" },
        folder.display()
    );
    ExitCode::SUCCESS
}
