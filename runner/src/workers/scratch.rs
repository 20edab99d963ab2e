//! The folder a run with workers collects their results files in: created fresh under the system's
//! temporary folder with an unpredictable name, readable by this user only, and never one that was
//! already there (another user's folder, a symlink, a leftover), so nobody can plant or read a
//! worker's results. `run_workers` removes it after merging.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

/// How many names to try before giving up (a collision of 64 random bits is a planted folder).
const ATTEMPTS: u32 = 8;

/// A new, empty folder `volley-workers-<random>` (mode 700) under `base`.
pub fn fresh_private_folder(base: &Path) -> std::io::Result<PathBuf> {
    let mut last = std::io::Error::other("no attempt made");
    for _ in 0..ATTEMPTS {
        let folder = base.join(format!("volley-workers-{:016x}", rand::random::<u64>()));
        // Not recursive: fails with `AlreadyExists` on anything already at that name.
        match std::fs::DirBuilder::new().mode(0o700).create(&folder) {
            Ok(()) => return Ok(folder),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => last = error,
            Err(error) => return Err(error),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn each_folder_is_new_private_and_unpredictable() -> std::io::Result<()> {
        let base = tempfile::tempdir()?;
        let first = fresh_private_folder(base.path())?;
        let second = fresh_private_folder(base.path())?;
        assert_ne!(first, second);
        for folder in [&first, &second] {
            let metadata = std::fs::symlink_metadata(folder)?;
            assert!(metadata.is_dir());
            assert_eq!(metadata.permissions().mode() & 0o777, 0o700);
            assert!(!folder.ends_with(format!("volley-workers-{}", std::process::id())));
        }
        Ok(())
    }
}
