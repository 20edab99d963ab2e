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
        volley::SdkSource::Registry => format!(
            "volley-sdk {} from crates.io, the version that speaks this runner's interface; if your registry does not have it, make the crate again with `--sdk-path PATH/TO/volley/sdk` (a checkout of this runner's version)",
            volley::sdk_requirement()
        ),
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
