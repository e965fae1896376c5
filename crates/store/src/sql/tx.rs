//! The write transaction and the statements every port's writes share: the audit record
//! that goes with a change, and a scope's id.

use super::error::{StoreError, StoreResult};
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

/// Appends one record to the audit log.
pub(super) async fn insert_audit(conn: &mut AnyConnection, a: &AuditEntry) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit (at, actor, action, scope, name, version, target, source, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
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

/// The id of a scope, if it exists.
pub(super) async fn scope_id(
    conn: &mut AnyConnection,
    path: &ScopePath,
) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM scopes WHERE path = $1")
        .bind(path.as_str())
        .fetch_optional(conn)
        .await?)
}
