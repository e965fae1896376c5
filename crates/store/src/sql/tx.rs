//! The write transaction and the statements every port's writes share: the audit record
//! that goes with a change, and a scope's id.

use super::bind::Sql;
use super::error::{StoreError, StoreResult};
use super::lite::Inline;
use super::rows::stamp;
use super::{Dialect, SqlStore};
use secretstore_core::{AuditEntry, Result, ScopePath};
use sqlx::{Any, AnyConnection, Transaction};

impl SqlStore {
    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so that writers queue on the busy timeout instead of failing when a
    /// read lock cannot be upgraded.
    pub(super) async fn begin_write(&self) -> StoreResult<Transaction<'static, Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    /// Runs `body` in a write transaction, appends `audit` (when given) in the same
    /// transaction, and commits: the change and its audit record are kept together or
    /// not at all. Nothing is committed when `body` fails; a `body` that decides to
    /// change nothing returns before any write, and its transaction is rolled back.
    pub(super) async fn write_tx<T>(
        &self,
        audit: Option<&AuditEntry>,
        body: impl AsyncFnOnce(&mut AnyConnection) -> StoreResult<T>,
    ) -> Result<T> {
        let run = async {
            let mut tx = self.begin_write().await?;
            let out = body(&mut tx).await?;
            if let Some(audit) = audit {
                insert_audit(&mut tx, audit).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(out)
        };
        Ok(run.await?)
    }

    /// A read on the path of reveals and dispatches: `inline` on the calling thread when
    /// the database is a SQLite file ([`super::lite`]); `pooled`, the same statement
    /// through the pool, on PostgreSQL, in memory, or when the file was locked.
    pub(super) async fn read_fast<T>(
        &self,
        inline: impl FnOnce(&rusqlite::Connection) -> StoreResult<T>,
        pooled: impl AsyncFnOnce(&mut AnyConnection) -> StoreResult<T>,
    ) -> Result<T> {
        if let Some(lite) = &self.lite
            && let Inline::Done(out) = lite.read(inline)
        {
            return Ok(out?);
        }
        self.read(pooled).await
    }

    /// Runs `body` on a connection of the pool: the reads of one method, with `?` on
    /// sqlx's errors, converted into the domain's at the edge.
    pub(super) async fn read<T>(
        &self,
        body: impl AsyncFnOnce(&mut AnyConnection) -> StoreResult<T>,
    ) -> Result<T> {
        let run = async {
            let mut conn = self.pool.acquire().await?;
            body(&mut conn).await
        };
        Ok(run.await?)
    }
}

/// The start of a statement that appends audit records, before their `(…)` lists.
macro_rules! insert_audit_into {
    () => {
        "INSERT INTO audit (at, actor, action, scope, name, version, target, source, detail) \
         VALUES "
    };
}

/// The statement that appends one audit record.
pub(super) const INSERT_AUDIT: &str =
    concat!(insert_audit_into!(), "($1, $2, $3, $4, $5, $6, $7, $8, $9)");

/// Appends one record to the audit log.
pub(super) async fn insert_audit(conn: &mut AnyConnection, a: &AuditEntry) -> StoreResult<()> {
    sqlx::query(INSERT_AUDIT)
        .bind(stamp(a.at))
        .bind(&a.actor)
        .bind(&a.action)
        .bind(&a.scope)
        .bind(&a.name)
        .bind(a.version)
        .bind(&a.target)
        .bind(&a.source)
        .bind(a.detail.as_ref().map(|d| d.to_string()))
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends audit records in one statement (at most a group commit's batch: far fewer
/// parameters than either database accepts).
pub(super) async fn insert_audits(
    conn: &mut AnyConnection,
    all: &[&AuditEntry],
) -> StoreResult<()> {
    let mut sql = Sql::new(insert_audit_into!());
    for (i, a) in all.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .bind(stamp(a.at))
            .push(", ")
            .bind(a.actor.clone())
            .push(", ")
            .bind(a.action.clone())
            .push(", ")
            .bind(a.scope.clone())
            .push(", ")
            .bind(a.name.clone())
            .push(", ")
            .bind(a.version)
            .push(", ")
            .bind(a.target.clone())
            .push(", ")
            .bind(a.source.clone())
            .push(", ")
            .bind(a.detail.as_ref().map(|d| d.to_string()))
            .push(")");
    }
    if !all.is_empty() {
        sql.query()?.execute(conn).await?;
    }
    Ok(())
}

/// The id of the scope at `$1`.
pub(super) const SCOPE_ID: &str = "SELECT id FROM scopes WHERE path = $1";

/// The id of a scope, if it exists.
pub(super) async fn scope_id(
    conn: &mut AnyConnection,
    path: &ScopePath,
) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar(SCOPE_ID)
        .bind(path.as_str())
        .fetch_optional(conn)
        .await?)
}
