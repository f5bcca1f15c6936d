//! Paths from challenge data (attachments, generator folders) kept inside their directory:
//! only plain relative names are accepted, and the resolved path (links followed) is checked.

use std::path::{Component, Path, PathBuf};

/// `rel` as a path inside some directory: only plain names, no `..`, no root.
pub fn relative_path(rel: &str) -> Option<PathBuf> {
    let path = Path::new(rel);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Resolves `base/rel` with every link followed; `Err` when it does not exist or lies
/// outside `base` (also resolved).
pub fn resolve_inside(base: &Path, rel: &Path) -> Result<PathBuf, String> {
    let base = base
        .canonicalize()
        .map_err(|e| format!("{}: {e}", base.display()))?;
    let full = base
        .join(rel)
        .canonicalize()
        .map_err(|e| format!("{}: {e}", rel.display()))?;
    if !full.starts_with(&base) {
        return Err(format!("{} leaves {}", rel.display(), base.display()));
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        assert_eq!(relative_path("a/b.txt"), Some(PathBuf::from("a/b.txt")));
        assert_eq!(relative_path("./a.txt"), Some(PathBuf::from("a.txt")));
        assert_eq!(relative_path("../a.txt"), None);
        assert_eq!(relative_path("a/../../b"), None);
        assert_eq!(relative_path("/etc/passwd"), None);
        assert_eq!(relative_path(""), None);
        assert_eq!(relative_path("."), None);
    }

    #[cfg(unix)]
    #[test]
    fn links_out_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        std::fs::create_dir_all(base.join("in")).unwrap();
        std::os::unix::fs::symlink(dir.path(), base.join("out")).unwrap();
        assert!(resolve_inside(&base, Path::new("in")).is_ok());
        assert!(resolve_inside(&base, Path::new("out")).is_err());
        assert!(resolve_inside(&base, Path::new("missing")).is_err());
    }
}
