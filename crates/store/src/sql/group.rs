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
use super::dispatch::{INSERT_BOOT, INSERT_BRIEF, INSERT_BRIEF_SECRET, insert_dispatch};
use super::error::{StoreError, StoreResult};
use super::lite;
use super::rows::stamp;
use super::tx::{INSERT_AUDIT, insert_audit, insert_audits};
use rusqlite::{Connection, TransactionBehavior};
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

    /// Starts the writer of a SQLite file on a thread of its own, which owns `conn`
    /// ([`lite::writer`]): a batch costs one hand-off, not one per statement. The thread
    /// ends when the last handle is dropped.
    pub(super) fn start_lite(conn: Connection) -> std::io::Result<GroupWriter> {
        let (jobs, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("secretstore-writer".into())
            .spawn(move || run_lite(conn, rx))?;
        Ok(GroupWriter { jobs })
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
                // The dispatches' rows, then every audit record in one statement.
                let mut audits = Vec::with_capacity(batch.len());
                for (record, _) in &batch {
                    match record {
                        Record::Audit(a) => audits.push(a),
                        Record::Dispatch(rec, a) => {
                            insert_dispatch(tx, rec).await?;
                            audits.push(a);
                        }
                    }
                }
                insert_audits(tx, &audits).await
            })
            .await;
        match all {
            Ok(()) => answer_all(&mut batch, None),
            // The database did not answer, or a lock was not granted within
            // `lock_timeout`: every record would wait as long again, one after the other.
            Err(Error::DatabaseUnavailable(why)) => answer_all(&mut batch, Some(why.to_string())),
            Err(_) => {
                for (record, done) in batch.drain(..) {
                    let _ = done.send(write_alone(&store, record).await);
                }
            }
        }
    }
}

/// Answers every caller of `batch` alike: committed (`None`), or the database
/// unavailable for the reason given (nothing of the batch was written).
fn answer_all(batch: &mut Vec<Job>, unavailable: Option<String>) {
    for (_, done) in batch.drain(..) {
        let _ = done.send(match &unavailable {
            None => Ok(()),
            Some(why) => Err(Error::DatabaseUnavailable(why.clone().into())),
        });
    }
}

/// The writer thread of a SQLite file: takes every record waiting (up to [`MAX_BATCH`]),
/// writes them in one `BEGIN IMMEDIATE` transaction, commits, then answers each caller.
fn run_lite(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = rx.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match write_lite(&mut conn, batch.iter().map(|(record, _)| record)) {
            Ok(()) => answer_all(&mut batch, None),
            // The write lock was not granted within the busy timeout: every record
            // would wait as long again, one after the other. Each caller is told now, as
            // the pool's callers are (503 `database_unavailable`: nothing was written).
            Err(StoreError::Db(e)) if e.is_busy() => answer_all(&mut batch, Some(e.to_string())),
            Err(_) => {
                for (record, done) in batch.drain(..) {
                    let alone = write_lite(&mut conn, std::iter::once(&record));
                    let _ = done.send(alone.map_err(Error::from));
                }
            }
        }
    }
}

/// Writes `records` in one transaction on the writer thread's connection.
fn write_lite<'r>(
    conn: &mut Connection,
    records: impl Iterator<Item = &'r Record>,
) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for record in records {
        if let Record::Dispatch(rec, _) = record {
            lite::execute(
                &tx,
                INSERT_BRIEF,
                &[
                    &rec.brief_id.as_str(),
                    &rec.task_id.as_str(),
                    &rec.project.as_str(),
                    &stamp(rec.created_at),
                    &rec.token_hash,
                    &stamp(rec.expires_at),
                    &rec.status.as_str(),
                    &rec.delivery.as_str(),
                    &rec.leaked_at.map(stamp),
                ],
            )?;
            if let Some(boot) = &rec.boot {
                lite::execute(
                    &tx,
                    INSERT_BOOT,
                    &[
                        &rec.brief_id.as_str(),
                        &boot.token_hash,
                        &stamp(boot.expires_at),
                        &boot.sealed.as_deref(),
                    ],
                )?;
            }
            let dispatched_at = stamp(rec.created_at);
            for s in &rec.secrets {
                lite::execute(
                    &tx,
                    INSERT_BRIEF_SECRET,
                    &[
                        &rec.brief_id.as_str(),
                        &s.scope.as_str(),
                        &s.name,
                        &s.version,
                        &s.backend_version,
                        &dispatched_at,
                    ],
                )?;
            }
        }
        let (Record::Audit(a) | Record::Dispatch(_, a)) = record;
        lite::execute(
            &tx,
            INSERT_AUDIT,
            &[
                &stamp(a.at),
                &a.actor,
                &a.action,
                &a.scope,
                &a.name,
                &a.version,
                &a.target,
                &a.source,
                &a.detail.as_ref().map(|d| d.to_string()),
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}
