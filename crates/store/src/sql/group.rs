//! Group commit of the audit records written alone (a reveal's, a dispatch refusal's): one
//! writer task takes every record waiting, writes them in one transaction, commits (one
//! fsync for all of them), and only then answers each caller. A record is durable before
//! its caller goes on, as with one commit per record, but many requests share a commit:
//! under load, throughput is no longer one fsync per request.
//!
//! A batch that fails is written again record by record, so that each caller gets the
//! outcome of its own record (one bad record never fails the others).

use super::SqlStore;
use super::tx::insert_audit;
use secretstore_core::{AuditEntry, Error, Result};
use tokio::sync::{mpsc, oneshot};

/// The most records one transaction holds.
const MAX_BATCH: usize = 512;
/// Records waiting before callers wait for room (backpressure).
const QUEUE: usize = 8192;

type Job = (AuditEntry, oneshot::Sender<Result<()>>);

/// The handle of the writer task. The task ends when the last handle is dropped.
#[derive(Debug)]
pub(super) struct AuditWriter {
    jobs: mpsc::Sender<Job>,
}

impl AuditWriter {
    /// Starts the writer on the current tokio runtime. `store` must not itself hold a
    /// writer (the task would keep its own channel open and never end).
    pub(super) fn start(store: SqlStore) -> AuditWriter {
        debug_assert!(store.audit.is_none());
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        AuditWriter { jobs }
    }

    /// Appends `entry` durably; `Err(entry)` back if the writer is gone (its runtime shut
    /// down), for the caller to write it itself.
    pub(super) async fn append(
        &self,
        entry: AuditEntry,
    ) -> std::result::Result<Result<()>, AuditEntry> {
        let (done, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError((entry, _))) = self.jobs.send((entry, done)).await {
            return Err(entry);
        }
        Ok(answer.await.unwrap_or_else(|_| {
            Err(Error::storage(
                "the audit writer stopped before recording the entry",
            ))
        }))
    }
}

async fn run(store: SqlStore, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let all = store
            .write_tx(None, async |conn| {
                for (entry, _) in &batch {
                    insert_audit(conn, entry).await?;
                }
                Ok(())
            })
            .await;
        match all {
            Ok(()) => {
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Ok(()));
                }
            }
            Err(_) => {
                for (entry, done) in batch.drain(..) {
                    let one = store
                        .read(async |conn| insert_audit(conn, &entry).await)
                        .await;
                    let _ = done.send(one);
                }
            }
        }
    }
}
