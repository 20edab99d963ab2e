//! `volley kubernetes FILE --shards N`: generate the manifests of a sharded run (the library's
//! `kubernetes_manifests`, in memory) and write them into `--out DIR`, then say what was written
//! and where the README is. Nothing here decides what the manifests hold.

use crate::cli::KubernetesArgs;
use crate::commands::COULD_NOT_RUN;
use std::process::ExitCode;
use volley::{KubernetesOptions, Overrides};

/// Write the manifests for `args.file` in `args.shards` pods into `args.out`.
pub fn kubernetes(args: KubernetesArgs) -> ExitCode {
    let overrides = Overrides {
        target: args.target.clone(),
        sets: args.sets.clone(),
    };
    let options = KubernetesOptions {
        shards: args.shards,
        image: args.image.clone(),
        command: command_line(&args),
    };
    let generated = match volley::kubernetes_manifests(&args.file, &overrides, &options) {
        Ok(generated) => generated,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    for file in &generated.files {
        let path = args.out.join(&file.path);
        let written = match path.parent() {
            Some(folder) => std::fs::create_dir_all(folder),
            None => Ok(()),
        }
        .and_then(|()| std::fs::write(&path, &file.bytes));
        if let Err(error) = written {
            eprintln!("error: cannot write {}: {error}", path.display());
            return ExitCode::from(COULD_NOT_RUN);
        }
    }
    let kib = generated.scenario_bytes.div_ceil(1024);
    let scenario = if generated.in_config_map {
        format!("the scenario and its files ({kib} KiB) in configmap.yaml")
    } else {
        format!(
            "the scenario and its files ({kib} KiB, more than a ConfigMap's 1 MiB) in files/, to copy onto the volume of scenario-pvc.yaml"
        )
    };
    println!(
        "volley kubernetes: wrote {} files to {}: {scenario}; an Indexed Job of {} pods in job.yaml; next: {}",
        generated.files.len(),
        args.out.display(),
        args.shards,
        args.out.join("README.md").display()
    );
    ExitCode::SUCCESS
}

/// The command line as the README quotes it: `--target` and `--set` values hidden (`…`), since
/// they may carry tokens.
fn command_line(args: &KubernetesArgs) -> String {
    let mut line = format!(
        "volley kubernetes {} --shards {} --image {}",
        args.file.display(),
        args.shards,
        args.image
    );
    if args.target.is_some() {
        line.push_str(" --target …");
    }
    for (key, _) in &args.sets {
        line.push_str(&format!(" --set {key}=…"));
    }
    line
}
