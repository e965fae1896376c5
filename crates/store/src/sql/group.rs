//! Group commit of the records whose transaction holds nothing else: a reveal's audit
//! record, a dispatch's brief row with its secrets and audit record. One writer task takes
//! every record waiting, writes them in one transaction, commits (one fsync for all), and
//! only then answers each caller. A record is durable before its caller goes on, as with
//! one commit per record, but many requests share a commit: under load, throughput is no
//! longer one fsync (and, on SQLite, one wait for the write lock) per request.
//!
//! A batch that fails is written again record by record, so that each caller gets the
//! outcome of its own record (one bad record never fails the others).

use super::SqlStore;
use super::dispatch::insert_dispatch;
use super::error::StoreResult;
use super::tx::insert_audit;
use secretstore_core::{AuditEntry, DispatchRecord, Error, Result};
use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

/// The most records one transaction holds.
const MAX_BATCH: usize = 256;
/// Records waiting before callers wait for room (backpressure).
const QUEUE: usize = 8192;

/// One record to commit.
pub(super) enum Record {
    /// An audit record alone.
    Audit(AuditEntry),
    /// A dispatch and its audit record, kept together.
    Dispatch(Box<DispatchRecord>, AuditEntry),
}

type Job = (Record, oneshot::Sender<Result<()>>);

/// The handle of the writer task. The task ends when the last handle is dropped.
#[derive(Debug)]
pub(super) struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl GroupWriter {
    /// Starts the writer on the current tokio runtime. `store` must not itself hold a
    /// writer (the task would keep its own channel open and never end).
    pub(super) fn start(store: SqlStore) -> GroupWriter {
        debug_assert!(store.audit.is_none());
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        GroupWriter { jobs }
    }

    /// Commits `record`; `Err(record)` back if the writer is gone (its runtime shut
    /// down), for the caller to write it itself ([`write_alone`]).
    pub(super) async fn record(&self, record: Record) -> std::result::Result<Result<()>, Record> {
        let (done, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError((record, _))) = self.jobs.send((record, done)).await {
            return Err(record);
        }
        Ok(answer.await.unwrap_or_else(|_| {
            Err(Error::storage(
                "the database writer stopped before committing the record",
            ))
        }))
    }
}

/// Writes one record's rows on `conn` (in the caller's transaction).
async fn insert(conn: &mut AnyConnection, record: &Record) -> StoreResult<()> {
    match record {
        Record::Audit(a) => insert_audit(conn, a).await,
        Record::Dispatch(rec, a) => {
            insert_dispatch(conn, rec).await?;
            insert_audit(conn, a).await
        }
    }
}

/// Commits one record in a transaction of its own.
pub(super) async fn write_alone(store: &SqlStore, record: Record) -> Result<()> {
    match &record {
        // One statement: its own transaction.
        Record::Audit(a) => store.read(async |conn| insert_audit(conn, a).await).await,
        Record::Dispatch(..) => {
            store
                .write_tx(None, async |tx| insert(tx, &record).await)
                .await
        }
    }
}

async fn run(store: SqlStore, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let all = store
            .write_tx(None, async |tx| {
                for (record, _) in &batch {
                    insert(tx, record).await?;
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
                for (record, done) in batch.drain(..) {
                    let _ = done.send(write_alone(&store, record).await);
                }
            }
        }
    }
}
