//! `volley new NAME`: writes a scenario crate a new user builds and runs at once: `Cargo.toml`
//! (cdylib + rlib, the release profile, its own workspace), `.cargo/config.toml` (the wasm32-wasip2
//! target and a 58 KiB stack), `src/lib.rs` (a small echo scenario with a native unit test),
//! `NAME.yaml` (against `embedded://echo`), `README.md` (the three commands) and `.gitignore`. The
//! templates are the files in `template/`. Called by `main.rs`; stands beside the run's data flow
//! and imports none of it but the interface version (`scenario::bindings`), which picks the SDK
//! version a crate outside a checkout depends on. Does not live here: building the crate (the
//! user's `cargo build`).

pub mod test_binary;

pub use crate::scenario::bindings::sdk_requirement;
use std::path::{Component, Path, PathBuf};

const CARGO_TOML: &str = include_str!("template/Cargo.toml.tmpl");
const CARGO_CONFIG: &str = include_str!("template/config.toml.tmpl");
const LIB_RS: &str = include_str!("template/lib.rs.tmpl");
const SCENARIO_YAML: &str = include_str!("template/scenario.yaml.tmpl");
const README: &str = include_str!("template/README.md.tmpl");
const GITIGNORE: &str = include_str!("template/gitignore.tmpl");

/// Where the generated crate gets `volley-sdk` from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// The published crate, at the version that speaks this runner's interface
    /// (`scenario::bindings::sdk_requirement`, e.g. `volley-sdk = "0.2"`).
    Registry,
    /// A local checkout's `sdk/` folder (absolute).
    Path(PathBuf),
}

/// What `volley new` wrote.
#[derive(Debug)]
pub struct Created {
    /// The crate's folder.
    pub folder: PathBuf,
    /// The crate (and package) name.
    pub name: String,
    /// The scenario file, inside `folder`.
    pub yaml: PathBuf,
    /// Where the SDK comes from.
    pub sdk: SdkSource,
}

/// Decide the SDK source: `--sdk-path` when given (it must be a `volley-sdk` crate), else the
/// `sdk/` of a Volley checkout around `cwd`, else the published version.
pub fn sdk_source(sdk_path: Option<&Path>, cwd: &Path) -> Result<SdkSource, String> {
    if let Some(path) = sdk_path {
        let absolute = std::fs::canonicalize(path)
            .map_err(|error| format!("--sdk-path {}: {error}", path.display()))?;
        if !is_sdk(&absolute) {
            return Err(format!(
                "--sdk-path {}: no volley-sdk crate there (expected a Cargo.toml with name = \"volley-sdk\"); pass the `sdk` folder of a Volley checkout",
                path.display()
            ));
        }
        return Ok(SdkSource::Path(absolute));
    }
    let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
    Ok(cwd
        .ancestors()
        .map(|folder| folder.join("sdk"))
        .find(|sdk| is_sdk(sdk))
        .map_or(SdkSource::Registry, SdkSource::Path))
}

fn is_sdk(folder: &Path) -> bool {
    std::fs::read_to_string(folder.join("Cargo.toml")).is_ok_and(|text| {
        text.lines()
            .any(|line| line.trim() == r#"name = "volley-sdk""#)
    })
}

/// Check that the last component of `folder` is a usable crate name.
pub fn crate_name(folder: &Path) -> Result<String, String> {
    let name = folder
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| {
            format!(
                "`{}` has no folder name to use as the crate name",
                folder.display()
            )
        })?;
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic());
    if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!(
            "`{name}` is not a crate name: start with a letter and use only letters, digits, `-` and `_` (e.g. `orders-feed`)"
        ));
    }
    Ok(name.to_owned())
}

/// Write the crate into `folder` (which must not exist yet).
pub fn create(folder: &Path, sdk: SdkSource) -> Result<Created, String> {
    let name = crate_name(folder)?;
    if folder.exists() {
        return Err(format!(
            "`{}` already exists; choose a new folder name (volley new never overwrites)",
            folder.display()
        ));
    }
    let lib = name.replace('-', "_");
    let dependency = match &sdk {
        SdkSource::Registry => format!("volley-sdk = \"{}\"", sdk_requirement()),
        SdkSource::Path(sdk) => {
            let path = relative_to(sdk, &absolute(folder)).unwrap_or_else(|| sdk.clone());
            format!(
                "volley-sdk = {{ path = \"{}\" }}",
                path.display().to_string().replace('\\', "/")
            )
        }
    };
    let fill = |template: &str| {
        template
            .replace("__NAME__", &name)
            .replace("__LIB__", &lib)
            .replace("__SDK_DEPENDENCY__", &dependency)
    };
    let yaml = folder.join(format!("{name}.yaml"));
    let files: [(PathBuf, String); 6] = [
        (folder.join("Cargo.toml"), fill(CARGO_TOML)),
        (folder.join(".cargo/config.toml"), CARGO_CONFIG.to_owned()),
        (folder.join("src/lib.rs"), fill(LIB_RS)),
        (yaml.clone(), fill(SCENARIO_YAML)),
        (folder.join("README.md"), fill(README)),
        (folder.join(".gitignore"), GITIGNORE.to_owned()),
    ];
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        std::fs::write(path, text)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    Ok(Created {
        folder: folder.to_owned(),
        name,
        yaml,
        sdk,
    })
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_owned();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(path),
        Err(_) => path.to_owned(),
    }
}

/// `target` relative to `base` (both absolute, `base` need not exist yet), e.g. `../sdk`; `None`
/// when they share no folder but the root (an absolute path reads better then).
fn relative_to(target: &Path, base: &Path) -> Option<PathBuf> {
    let normal = |path: &Path| -> Option<Vec<std::ffi::OsString>> {
        let mut parts = Vec::new();
        for component in path.components() {
            match component {
                Component::RootDir | Component::Prefix(_) => {}
                Component::CurDir => {}
                Component::ParentDir => {
                    parts.pop()?;
                }
                Component::Normal(part) => parts.push(part.to_owned()),
            }
        }
        Some(parts)
    };
    let (target, base) = (normal(target)?, normal(base)?);
    let common = target.iter().zip(&base).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return None;
    }
    let mut relative = PathBuf::new();
    for _ in common..base.len() {
        relative.push("..");
    }
    for part in &target[common..] {
        relative.push(part);
    }
    Some(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_are_checked() {
        assert_eq!(
            crate_name(Path::new("a/orders-feed")),
            Ok("orders-feed".into())
        );
        for bad in ["9lives", "with space", "-x", "é"] {
            assert!(crate_name(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_paths_climb_to_the_common_folder() {
        assert_eq!(
            relative_to(Path::new("/repo/sdk"), Path::new("/repo/scenarios/new")),
            Some(PathBuf::from("../../sdk"))
        );
        assert_eq!(
            relative_to(Path::new("/repo/sdk"), Path::new("/repo/./x/../mine")),
            Some(PathBuf::from("../sdk"))
        );
        assert_eq!(
            relative_to(Path::new("/work/sdk"), Path::new("/tmp/x")),
            None
        );
    }

    #[test]
    fn a_crate_outside_a_checkout_depends_on_the_published_sdk() -> Result<(), String> {
        let temp = tempfile::tempdir().map_err(|error| error.to_string())?;
        assert_eq!(sdk_source(None, temp.path())?, SdkSource::Registry);
        let created = create(&temp.path().join("orders-feed"), SdkSource::Registry)?;
        let cargo = std::fs::read_to_string(created.folder.join("Cargo.toml"))
            .map_err(|error| error.to_string())?;
        let requirement = format!("volley-sdk = \"{}\"", sdk_requirement());
        assert!(cargo.contains(&requirement), "{cargo}");
        let yaml = std::fs::read_to_string(&created.yaml).map_err(|error| error.to_string())?;
        assert!(
            yaml.contains("module: target/wasm32-wasip2/release/orders_feed.wasm"),
            "{yaml}"
        );
        assert!(
            create(&created.folder, SdkSource::Registry).is_err(),
            "never overwrites"
        );
        Ok(())
    }

    #[test]
    fn inside_a_checkout_the_sdk_is_found_by_path() -> Result<(), String> {
        let temp = tempfile::tempdir().map_err(|error| error.to_string())?;
        let sdk = temp.path().join("sdk");
        std::fs::create_dir_all(&sdk).map_err(|error| error.to_string())?;
        std::fs::write(sdk.join("Cargo.toml"), "[package]\nname = \"volley-sdk\"\n")
            .map_err(|error| error.to_string())?;
        let inner = temp.path().join("scenarios");
        std::fs::create_dir_all(&inner).map_err(|error| error.to_string())?;
        let found = sdk_source(None, &inner)?;
        let canonical = std::fs::canonicalize(&sdk).map_err(|error| error.to_string())?;
        assert_eq!(found, SdkSource::Path(canonical.clone()));
        let created = create(&inner.join("mine"), found)?;
        let cargo = std::fs::read_to_string(created.folder.join("Cargo.toml"))
            .map_err(|error| error.to_string())?;
        let canonical_folder = std::fs::canonicalize(&created.folder).map_err(|e| e.to_string())?;
        let expected = relative_to(&canonical, &canonical_folder).unwrap_or(canonical);
        assert!(
            cargo.contains(&format!(
                "volley-sdk = {{ path = \"{}\" }}",
                expected.display()
            )),
            "{cargo}"
        );
        assert!(
            sdk_source(Some(&inner), &inner).is_err(),
            "--sdk-path must be the sdk"
        );
        Ok(())
    }
}
