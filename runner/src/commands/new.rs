//! `volley new NAME`: a scenario crate to start from (`scaffold`), and what to do next.

use crate::cli::NewArgs;
use crate::commands::COULD_NOT_RUN;
use std::process::ExitCode;

/// Create the crate `args.name`.
pub fn new(args: NewArgs) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    let created = volley::sdk_source(args.sdk_path.as_deref(), &cwd)
        .and_then(|sdk| volley::new_scenario_crate(&args.name, sdk));
    let created = match created {
        Ok(created) => created,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let sdk = match &created.sdk {
        volley::SdkSource::Registry => "volley-sdk 0.1 from crates.io".to_owned(),
        volley::SdkSource::Path(path) => format!("volley-sdk at {}", path.display()),
    };
    let yaml = created
        .yaml
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    println!(
        "created scenario crate `{}` in {} ({sdk}); next:\n  cd {}\n  cargo build --release\n  volley run {yaml}",
        created.name,
        created.folder.display(),
        created.folder.display()
    );
    ExitCode::SUCCESS
}
