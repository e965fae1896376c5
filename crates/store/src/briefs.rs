//! The folder brief store: one JSON file per brief, written atomically.

use secretstore_core::{BoxFuture, Brief, BriefId, BriefStore, Error, Result};
use std::path::PathBuf;

/// Keeps briefs as `<folder>/<brief id>.json`. Brief ids are UUIDs, checked before any
/// path is built, so no path can be smuggled in.
pub struct FolderBriefStore {
    dir: PathBuf,
    /// The folder was made (or found) by this store: not made again for every brief.
    made: std::sync::atomic::AtomicBool,
}

impl FolderBriefStore {
    /// The brief store in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FolderBriefStore {
            dir: dir.into(),
            made: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn path(&self, id: &BriefId) -> Result<PathBuf> {
        // BriefId can only be built from a UUID; re-check as a second fence.
        let id = BriefId::parse(id.as_str())?;
        Ok(self.dir.join(format!("{id}.json")))
    }
}

/// Opens a new file (never an existing one, never through a symbolic link) with mode 0600.
async fn owner_only_new(path: &std::path::Path) -> std::io::Result<tokio::fs::File> {
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path).await
}

impl FolderBriefStore {
    /// Creates the folder (and missing parents) with mode 0700.
    async fn create_dir(&self) -> Result<()> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || crate::files::create_owner_only_dir_all(&dir))
            .await
            .map_err(|e| Error::storage(format!("brief store: {e}")))?
            .map_err(|e| storage("create the folder", &self.dir, e))
    }
}

fn storage(what: &str, dir: &std::path::Path, e: std::io::Error) -> Error {
    Error::storage(format!("brief store {}: cannot {what}: {e}", dir.display()))
}

impl FolderBriefStore {
    /// Writes one brief, whole or not at all, in one trip to the blocking pool (each of
    /// tokio's file calls would be one).
    async fn write(&self, brief: &Brief) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let path = self.path(&brief.brief_id)?;
        let json = serde_json::to_vec(brief)
            .map_err(|e| Error::storage(format!("cannot encode brief: {e}")))?;
        let tmp = self.dir.join(format!(".{}.tmp", brief.brief_id));
        let dir = self.dir.clone();
        // The folder is made on the first write (and again if it went away).
        let make_dir = !self.made.load(Relaxed);
        let written =
            tokio::task::spawn_blocking(move || write_durably(&dir, &tmp, &path, &json, make_dir))
                .await
                .map_err(|e| Error::storage(format!("brief store: {e}")))?;
        written.map_err(|e| storage("write a brief", &self.dir, e))?;
        self.made.store(true, Relaxed);
        Ok(())
    }
}

/// Writes `json` to a temporary name (new, owner-only), flushes it to disk, renames it to
/// `path` and flushes the folder: the brief is whole or absent, and its name survives a
/// power cut once the env is handed out. Blocking.
fn write_durably(
    dir: &std::path::Path,
    tmp: &std::path::Path,
    path: &std::path::Path,
    json: &[u8],
    make_dir: bool,
) -> std::io::Result<()> {
    use std::io::Write;
    if make_dir {
        crate::files::create_owner_only_dir_all(dir)?;
    }
    let once = || {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(tmp)?;
        f.write_all(json)?;
        f.sync_all()?;
        std::fs::rename(tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    let mut written = once();
    if matches!(&written, Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
        crate::files::create_owner_only_dir_all(dir)?;
        written = once();
    }
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
}

/// A brief that could not be stored: the store is unavailable (what the dispatch says).
fn unavailable(e: Error) -> Error {
    match e {
        Error::Storage(source) => Error::BriefStore(source.to_string()),
        other => other,
    }
}

impl BriefStore for FolderBriefStore {
    fn put<'a>(&'a self, brief: &'a Brief) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.write(brief).await.map_err(unavailable) })
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            self.create_dir().await?;
            let probe = self.dir.join(".doctor-probe");
            let _ = tokio::fs::remove_file(&probe).await;
            let write = async {
                use tokio::io::AsyncWriteExt;
                owner_only_new(&probe).await?.write_all(b"probe").await
            };
            write.await.map_err(|e| storage("write", &self.dir, e))?;
            tokio::fs::remove_file(&probe)
                .await
                .map_err(|e| storage("remove a file", &self.dir, e))?;
            Ok(format!("folder {} is writable", self.dir.display()))
        })
    }

    fn discard<'a>(&'a self, id: &'a BriefId) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let path = self.path(id)?;
            match tokio::fs::remove_file(&path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(storage("remove a brief", &self.dir, e))
                }
                _ => Ok(()),
            }
        })
    }

    fn get<'a>(&'a self, id: &'a BriefId) -> BoxFuture<'a, Result<Brief>> {
        Box::pin(async move {
            let path = self.path(id)?;
            let bytes = match tokio::fs::read(&path).await {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::NotFound(format!("no brief {id}")));
                }
                Err(e) => return Err(storage("read a brief", &self.dir, e)),
            };
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::storage(format!("brief {id} is corrupt: {e}")))
        })
    }
}
