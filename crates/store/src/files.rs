//! Files that secretstore creates are readable by their owner alone (0600 files, 0700
//! folders), whatever the umask. Existing files are left as they are.

use std::path::{Path, PathBuf};

/// Creates `path` empty with mode 0600 unless something is already there (a file, or a
/// symbolic link, which is never followed). Returns whether it was created.
pub fn create_owner_only(path: &Path) -> std::io::Result<bool> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates a folder and its missing parents with mode 0700.
pub fn create_owner_only_dir_all(path: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// The file of a `sqlite:` URL that SQLite would create (`mode=rwc`, the default here), if
/// the URL names one: not `:memory:`, not an explicit `mode=`.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    if url.contains("mode=") || rest.starts_with(":memory:") {
        return None;
    }
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty()).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            sqlite_file("sqlite://secretstore.db"),
            Some(PathBuf::from("secretstore.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/s.db?busy=1"),
            Some(PathBuf::from("/var/lib/s.db"))
        );
        assert_eq!(sqlite_file("sqlite:x.db"), Some(PathBuf::from("x.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://x.db?mode=ro"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    #[cfg(unix)]
    #[test]
    fn created_owner_only_and_never_through_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        assert!(create_owner_only(&f).unwrap());
        assert!(!create_owner_only(&f).unwrap());
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0);
        let link = d.path().join("l");
        std::os::unix::fs::symlink(d.path().join("target"), &link).unwrap();
        assert!(!create_owner_only(&link).unwrap());
        assert!(!d.path().join("target").exists());
    }
}
