//! Where a `module:` that does not exist probably is: the same file in the `wasm32-wasip2` release
//! or debug folder of a `target/` beside or above it (built for another target or profile, or
//! named without `target/…`), the crate name with `-` written as cargo writes it (`_`), or a near
//! name in the same folder. `Scenario::load` (`config/mod.rs`) adds [`suggest`]'s answer to its
//! "not found" error, written as `module:` would be (relative to the scenario file's folder, by
//! [`relative_to`]). It only looks at a few paths and one folder listing; it never reads a module.
//! What an existing file is, is `module_kind`'s.

use super::error::edit_distance;
use std::path::{Component, Path, PathBuf};

/// How many folders above the module's own a `target/` is looked for (a workspace's `target/`
/// sits above its crates).
const ANCESTORS: usize = 3;
/// The most a near name in the same folder may differ (characters inserted, removed or changed).
const NEAR: usize = 2;
/// Where cargo writes components, inside a `target/` folder.
const BUILD_FOLDERS: [&str; 2] = ["wasm32-wasip2/release", "wasm32-wasip2/debug"];

/// An existing file that `module` (which does not exist) probably meant, or `None`.
pub fn suggest(module: &Path) -> Option<PathBuf> {
    let names = names(module);
    let folder = module.parent().unwrap_or(Path::new(""));
    let mut candidates: Vec<PathBuf> = Vec::new();
    // The nearest `target/` the path is inside, then `target/` beside the folder and above it.
    let inside_target = folder
        .ancestors()
        .find(|ancestor| ancestor.file_name().is_some_and(|name| name == "target"));
    let targets = inside_target.into_iter().map(Path::to_path_buf).chain(
        folder
            .ancestors()
            .take(ANCESTORS + 1)
            .map(|ancestor| ancestor.join("target")),
    );
    for target in targets {
        for build in BUILD_FOLDERS {
            for name in &names {
                candidates.push(target.join(build).join(name));
            }
        }
    }
    // The same folder, the name as cargo writes it.
    candidates.extend(names.iter().map(|name| folder.join(name)));
    if let Some(found) = candidates
        .into_iter()
        .find(|candidate| candidate != module && candidate.is_file())
    {
        return Some(found);
    }
    near_name(folder, module)
}

/// The file name of `module`, with `-` as `_` (cargo's file name for a crate `my-chat`), and with
/// `.wasm` for a name without it.
fn names(module: &Path) -> Vec<String> {
    let Some(name) = module.file_name().and_then(|name| name.to_str()) else {
        return Vec::new();
    };
    let mut names = vec![name.to_owned(), name.replace('-', "_")];
    if let Some(stem) = module.file_stem().and_then(|stem| stem.to_str())
        && module
            .extension()
            .is_none_or(|extension| extension != "wasm")
    {
        names.push(format!("{stem}.wasm"));
        names.push(format!("{}.wasm", stem.replace('-', "_")));
    }
    names.dedup();
    names
}

/// The file in `folder` whose name is nearest `module`'s (at most [`NEAR`] edits), preferring
/// `.wasm` files on a tie.
fn near_name(folder: &Path, module: &Path) -> Option<PathBuf> {
    let wanted = module.file_name()?.to_str()?;
    let listing = std::fs::read_dir(if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    })
    .ok()?;
    listing
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .map(|name| (edit_distance(wanted, &name), !name.ends_with(".wasm"), name))
        .filter(|(distance, _, _)| *distance <= NEAR)
        .min()
        .map(|(_, _, name)| folder.join(name))
}

/// `path` relative to `base` (both as `Scenario::load` built them: the scenario file's folder
/// joined with what was written), worked out lexically; `path` itself when it cannot be.
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let (Some(path_parts), Some(base_parts)) = (normal(path), normal(base)) else {
        return path.to_owned();
    };
    if path.is_absolute() != base.is_absolute() {
        return path.to_owned();
    }
    let common = path_parts
        .iter()
        .zip(&base_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative = PathBuf::new();
    for _ in common..base_parts.len() {
        relative.push("..");
    }
    for part in &path_parts[common..] {
        relative.push(part);
    }
    relative
}

/// The normal components of `path` with `.` dropped and `..` applied; `None` when a `..` climbs
/// above the start (the result would depend on the current folder).
fn normal(path: &Path) -> Option<Vec<&std::ffi::OsStr>> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) -> std::io::Result<()> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(path, b"\0asm\x0d\0\x01\0")
    }

    #[test]
    fn the_release_build_is_found_from_another_profile_or_target() -> std::io::Result<()> {
        let root = tempfile::tempdir()?;
        let release = root.path().join("target/wasm32-wasip2/release/echo.wasm");
        touch(&release)?;
        for wrong in [
            "target/wasm32-wasip2/debug/echo.wasm",
            "target/wasm32-wasip1/release/echo.wasm",
            "target/release/echo.wasm",
            "echo.wasm",
            "echo",
        ] {
            assert_eq!(
                suggest(&root.path().join(wrong)).as_deref(),
                Some(release.as_path()),
                "{wrong}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_workspace_target_above_the_crate_is_found() -> std::io::Result<()> {
        let root = tempfile::tempdir()?;
        let built = root
            .path()
            .join("target/wasm32-wasip2/release/my_chat.wasm");
        touch(&built)?;
        // A YAML in the crate's folder that names the crate, hyphen and all.
        let wrong = root.path().join("my-chat/my-chat.wasm");
        assert_eq!(suggest(&wrong).as_deref(), Some(built.as_path()));
        Ok(())
    }

    #[test]
    fn a_near_name_in_the_same_folder_is_found() -> std::io::Result<()> {
        let root = tempfile::tempdir()?;
        touch(&root.path().join("chat.wasm"))?;
        touch(&root.path().join("notes.txt"))?;
        assert_eq!(
            suggest(&root.path().join("caht.wasm")),
            Some(root.path().join("chat.wasm"))
        );
        assert_eq!(suggest(&root.path().join("completely-else.wasm")), None);
        // A missing folder has no listing and no suggestion.
        assert_eq!(suggest(&root.path().join("nowhere/echo.wasm")), None);
        Ok(())
    }

    #[test]
    fn paths_are_made_relative_to_the_scenario_folder() {
        let rel = |path: &str, base: &str| relative_to(Path::new(path), Path::new(base));
        assert_eq!(
            rel(
                "scenarios/target/wasm32-wasip2/release/echo.wasm",
                "scenarios"
            ),
            PathBuf::from("target/wasm32-wasip2/release/echo.wasm")
        );
        assert_eq!(
            rel("hello/../target/wasm32-wasip2/release/hello.wasm", "hello"),
            PathBuf::from("../target/wasm32-wasip2/release/hello.wasm")
        );
        assert_eq!(rel("/a/b/c.wasm", "/a/d"), PathBuf::from("../b/c.wasm"));
        assert_eq!(rel("./x.wasm", ""), PathBuf::from("x.wasm"));
        // `..` above the start cannot be resolved without the current folder.
        assert_eq!(rel("../x.wasm", "a"), PathBuf::from("../x.wasm"));
        assert_eq!(rel("x.wasm", ".."), PathBuf::from("x.wasm"));
    }
}
