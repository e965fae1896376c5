//! The folder brief store: one JSON file per brief, written atomically.

use secretstore_core::{BoxFuture, Brief, BriefId, BriefStore, Error, Result};
use std::path::PathBuf;

/// Keeps briefs as `<folder>/<brief id>.json`. Brief ids are UUIDs, checked before any
/// path is built, so no path can be smuggled in.
pub struct FolderBriefStore {
    dir: PathBuf,
}

impl FolderBriefStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FolderBriefStore { dir: dir.into() }
    }

    fn path(&self, id: &BriefId) -> Result<PathBuf> {
        // BriefId can only be built from a UUID; re-check as a second fence.
        let id = BriefId::parse(id.as_str())?;
        Ok(self.dir.join(format!("{id}.json")))
    }
}

fn storage(what: &str, dir: &std::path::Path, e: std::io::Error) -> Error {
    Error::Storage(format!("brief store {}: cannot {what}: {e}", dir.display()))
}

impl BriefStore for FolderBriefStore {
    fn put<'a>(&'a self, brief: &'a Brief) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let path = self.path(&brief.brief_id)?;
            let json = serde_json::to_vec_pretty(brief)
                .map_err(|e| Error::Storage(format!("cannot encode brief: {e}")))?;
            tokio::fs::create_dir_all(&self.dir)
                .await
                .map_err(|e| storage("create the folder", &self.dir, e))?;
            // Write to a temporary name, flush to disk, then rename: a brief is whole or absent.
            let tmp = self.dir.join(format!(".{}.tmp", brief.brief_id));
            let write = async {
                use tokio::io::AsyncWriteExt;
                let mut f = tokio::fs::File::create(&tmp).await?;
                f.write_all(&json).await?;
                f.sync_all().await?;
                tokio::fs::rename(&tmp, &path).await
            };
            if let Err(e) = write.await {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(storage("write a brief", &self.dir, e));
            }
            Ok(())
        })
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            tokio::fs::create_dir_all(&self.dir)
                .await
                .map_err(|e| storage("create the folder", &self.dir, e))?;
            let probe = self.dir.join(".doctor-probe");
            tokio::fs::write(&probe, b"probe")
                .await
                .map_err(|e| storage("write", &self.dir, e))?;
            tokio::fs::remove_file(&probe)
                .await
                .map_err(|e| storage("remove a file", &self.dir, e))?;
            Ok(format!("folder {} is writable", self.dir.display()))
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
                .map_err(|e| Error::Storage(format!("brief {id} is corrupt: {e}")))
        })
    }
}
