//! [`LeakStore`]: the leaked marks of secrets and briefs, the stored versions a scan
//! matches what an agent produced against, and the rotation policies (issue #17).

use super::SqlStore;
use super::bind::Sql;
use super::rows::{MATERIAL_COLUMNS, MaterialRow, backend, category, scope, stamp};
use super::tx::{insert_audits, scope_id};
use secretstore_core::ports::{FoundVersion, LeakStore, RotationPolicy, ScanMaterial};
use secretstore_core::timestamp::OffsetDateTime;
use secretstore_core::{
    AuditEntry, BriefId, Category, Error, Result, ScopePath, SecretName, StoredMaterial, Version,
};
use sqlx::FromRow;

/// The most audit records one statement appends (nine parameters each: far below what
/// either database accepts).
const AUDITS_PER_STATEMENT: usize = 256;

/// A stored version as a scan reads it.
#[derive(FromRow)]
struct ScanRow {
    scope: String,
    name: String,
    version: Version,
    current_version: Version,
    backend: String,
    #[sqlx(flatten)]
    material: MaterialRow,
}

impl TryFrom<ScanRow> for ScanMaterial {
    type Error = Error;

    fn try_from(r: ScanRow) -> Result<Self> {
        Ok(ScanMaterial {
            scope: scope(&r.scope)?,
            name: SecretName::parse_existing(&r.name).map_err(|_| {
                Error::storage(format!("invalid secret name {:?} in the database", r.name))
            })?,
            current: r.version == r.current_version,
            version: r.version,
            backend: backend(&r.backend)?,
            material: StoredMaterial::try_from(r.material)?,
        })
    }
}

/// A rotation policy as stored, with its scope's path.
#[derive(FromRow)]
struct PolicyRow {
    path: String,
    category: String,
    every_secs: i64,
}

impl TryFrom<PolicyRow> for RotationPolicy {
    type Error = Error;

    fn try_from(r: PolicyRow) -> Result<Self> {
        Ok(RotationPolicy {
            scope: scope(&r.path)?,
            category: category(&r.category)?,
            every_secs: r.every_secs,
        })
    }
}

impl LeakStore for SqlStore {
    async fn record_leaks(
        &self,
        found: &[FoundVersion],
        brief: Option<&BriefId>,
        at: OffsetDateTime,
        audits: Vec<AuditEntry>,
    ) -> Result<Vec<bool>> {
        let at = stamp(at);
        self.write_tx(None, async |tx| {
            let mut marked = Vec::with_capacity(found.len());
            for f in found {
                // Only the version found, if it is still the current one: a version
                // written since is not the value that leaked.
                let done = sqlx::query(
                    "UPDATE secrets SET leaked_at = $3 \
                     WHERE scope_id = (SELECT id FROM scopes WHERE path = $1) AND name = $2 \
                       AND current_version = $4",
                )
                .bind(f.scope.as_str())
                .bind(f.name.as_str())
                .bind(&at)
                .bind(f.version)
                .execute(&mut *tx)
                .await?;
                marked.push(done.rows_affected() > 0);
            }
            if let Some(id) = brief {
                // Its first leak is kept.
                sqlx::query("UPDATE briefs SET leaked_at = $2 WHERE id = $1 AND leaked_at IS NULL")
                    .bind(id.as_str())
                    .bind(&at)
                    .execute(&mut *tx)
                    .await?;
            }
            let all: Vec<&AuditEntry> = audits.iter().collect();
            for chunk in all.chunks(AUDITS_PER_STATEMENT) {
                insert_audits(tx, chunk).await?;
            }
            Ok(marked)
        })
        .await
    }

    async fn scan_materials(&self, roots: Option<&[ScopePath]>) -> Result<Vec<ScanMaterial>> {
        if roots.is_some_and(<[ScopePath]>::is_empty) {
            return Ok(Vec::new());
        }
        // Generators hold no value (their versions hold a spec): left out.
        let mut sql = Sql::new(&format!(
            "SELECT sc.path AS scope, s.name, v.version, s.current_version, s.backend, \
                    {MATERIAL_COLUMNS} \
             FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             JOIN secret_versions v ON v.secret_id = s.id \
             WHERE s.generator IS NULL"
        ));
        if let Some(roots) = roots {
            sql.push(" AND ")
                .under("sc.path", roots.iter().map(ScopePath::as_str));
        }
        sql.push(" ORDER BY sc.path, s.name, v.version");
        let rows: Vec<ScanRow> = self
            .read(async |conn| Ok(sql.query_as()?.fetch_all(conn).await?))
            .await?;
        rows.into_iter().map(ScanMaterial::try_from).collect()
    }

    async fn rotation_policies(&self) -> Result<Vec<RotationPolicy>> {
        let rows: Vec<PolicyRow> = self
            .read(async |conn| {
                Ok(sqlx::query_as(
                    "SELECT sc.path, rp.category, rp.every_secs \
                     FROM rotation_policies rp JOIN scopes sc ON sc.id = rp.scope_id \
                     ORDER BY sc.path, rp.category",
                )
                .fetch_all(conn)
                .await?)
            })
            .await?;
        rows.into_iter().map(RotationPolicy::try_from).collect()
    }

    async fn set_rotation_policy(
        &self,
        scope: &ScopePath,
        category: Category,
        every_secs: Option<i64>,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write_tx(Some(&audit), async |tx| {
            let sid = scope_id(tx, scope).await?.ok_or_else(|| {
                Error::NotFound(format!("unknown {} {scope}", scope.level().as_str()))
            })?;
            match every_secs {
                Some(secs) => {
                    sqlx::query(
                        "INSERT INTO rotation_policies (scope_id, category, every_secs) \
                         VALUES ($1, $2, $3) \
                         ON CONFLICT (scope_id, category) DO UPDATE SET every_secs = excluded.every_secs",
                    )
                    .bind(sid)
                    .bind(category.as_str())
                    .bind(secs)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "DELETE FROM rotation_policies WHERE scope_id = $1 AND category = $2",
                    )
                    .bind(sid)
                    .bind(category.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Ok(())
        })
        .await
    }
}
