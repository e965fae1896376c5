//! [`AuditStore`]: the append-only audit log; and [`HealthStore`]: whether the database
//! answers.

use super::SqlStore;
use super::bind::Sql;
use super::group::{Record, write_alone};
use super::rows::{AUDIT_COLUMNS, AuditRow};
use secretstore_core::{AuditEntry, AuditStore, HealthStore, Result, ScopePath};

impl AuditStore for SqlStore {
    async fn append_audit(&self, audit: AuditEntry) -> Result<()> {
        let record = match &self.audit {
            Some(writer) => match writer.record(Record::Audit(audit)).await {
                Ok(done) => return done,
                Err(record) => record,
            },
            None => Record::Audit(audit),
        };
        write_alone(self, record).await
    }

    async fn audit_log(&self, roots: Option<&[ScopePath]>, limit: i64) -> Result<Vec<AuditEntry>> {
        let mut sql = Sql::new(&format!("SELECT {AUDIT_COLUMNS} FROM audit"));
        if let Some(roots) = roots {
            if roots.is_empty() {
                return Ok(Vec::new());
            }
            sql.push(" WHERE ")
                .under("scope", roots.iter().map(ScopePath::as_str));
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(limit);
        let rows: Vec<AuditRow> = self
            .read(async |conn| Ok(sql.query_as()?.fetch_all(conn).await?))
            .await?;
        // Newest `limit`, shown oldest first.
        rows.into_iter().rev().map(AuditEntry::try_from).collect()
    }
}

impl HealthStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        self.read(async |conn| {
            sqlx::query("SELECT 1").execute(conn).await?;
            Ok(())
        })
        .await
    }
}
