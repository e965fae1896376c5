//! [`SecretStore`]: secrets, their versions and material, and root's link approvals. The
//! write reservations of external writes are in [`super::reservations`].

use super::SqlStore;
use super::bind::Sql;
use super::error::{StoreError, StoreResult};
use super::lite;
use super::rows::{
    CurrentRow, MATERIAL_COLUMNS, META_COLUMNS, MetaRow, VersionMaterialRow, VersionRow,
    candidate_from_lite, stamp,
};
use super::tx::{insert_audit, scope_id};
use secretstore_core::service::{conflict, not_found};
use secretstore_core::timestamp;
use secretstore_core::{
    AuditEntry, Candidate, Error, Expected, NewVersion, Reservation, Reserved, Result, ScopePath,
    SecretMeta, SecretName, SecretStore, StoredMaterial, Version, VersionMeta,
};
use sqlx::AssertSqlSafe;
use std::time::Duration;

/// How many times a write that lost a race starts over.
const WRITE_ATTEMPTS: u64 = 5;

impl SqlStore {
    /// One attempt of [`SecretStore::write_versions`].
    async fn write_versions_once(&self, writes: &[NewVersion]) -> StoreResult<Vec<Version>> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            if let Some(holder) = &w.reservation {
                // The reservation under which the backend was written ends with this
                // write; one that was taken over (it expired) fails the whole write.
                let released = sqlx::query(
                    "DELETE FROM write_reservations WHERE scope = $1 AND name = $2 AND holder = $3",
                )
                .bind(w.scope.as_str())
                .bind(w.name.as_str())
                .bind(holder)
                .execute(&mut *tx)
                .await?;
                if released.rows_affected() == 0 {
                    return Err(Error::Conflict(format!(
                        "the write reservation of {} at {} expired before the new version was recorded; nothing was recorded",
                        w.name, w.scope
                    ))
                    .into());
                }
            }
            let sid = scope_id(&mut tx, &w.scope).await?.ok_or_else(|| {
                Error::NotFound(format!("unknown {} {}", w.scope.level().as_str(), w.scope))
            })?;
            let now = &stamp(w.audit.at);
            let generator = w.material.generator.as_ref().map(|g| g.kind().as_str());
            let spec = w
                .material
                .generator
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| Error::storage(format!("cannot encode a generator spec: {e}")))?;
            // `None` keeps the stored maximum age, `Some(0)` clears it. Every new version
            // ends the leaked mark of the one it replaces.
            let rotate_every = w.rotate_every_secs;
            // A write that expects the secret to be absent never updates one.
            let updated: Option<(i64, i64)> = if w.expected == Some(Expected::Absent) {
                None
            } else {
                sqlx::query_as(
                    "UPDATE secrets SET current_version = current_version + 1, updated_at = $3, \
                        updated_by = $4, category = COALESCE($5, category), \
                        delivery = COALESCE($7, delivery), generator = $8, \
                        rotate_every_secs = CASE WHEN CAST($9 AS BIGINT) IS NULL \
                            THEN rotate_every_secs ELSE NULLIF(CAST($9 AS BIGINT), 0) END, \
                        leaked_at = NULL \
                     WHERE scope_id = $1 AND name = $2 \
                       AND (CAST($6 AS BIGINT) IS NULL OR current_version = $6) \
                       AND (generator IS NULL) = (CAST($8 AS TEXT) IS NULL) \
                     RETURNING id, current_version",
                )
                .bind(sid)
                .bind(w.name.as_str())
                .bind(now)
                .bind(&w.by)
                .bind(w.category.map(|c| c.as_str()))
                .bind(w.expected.and_then(Expected::version))
                .bind(w.delivery.map(|d| d.as_str()))
                .bind(generator)
                .bind(rotate_every)
                .fetch_optional(&mut *tx)
                .await?
            };
            let (secret_id, version) = match updated {
                Some(x) => x,
                None => {
                    let current: Option<(i64, Option<String>)> = sqlx::query_as(
                        "SELECT current_version, generator FROM secrets \
                         WHERE scope_id = $1 AND name = $2",
                    )
                    .bind(sid)
                    .bind(w.name.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((_, stored)) = &current
                        && stored.is_some() != generator.is_some()
                    {
                        return Err(kind_conflict(&w.scope, &w.name, stored.is_some()).into());
                    }
                    if let Some(cur) = current.map(|(v, _)| v) {
                        let expected = w.expected.unwrap_or(Expected::Version(cur));
                        return Err(conflict(&w.scope, &w.name, expected, Some(cur)).into());
                    }
                    if let Some(e) = w.expected.filter(|e| !e.admits(None)) {
                        return Err(conflict(&w.scope, &w.name, e, None).into());
                    }
                    let category = w.category.ok_or_else(|| {
                        Error::Invalid(format!(
                            "{} is a new secret: a category is required",
                            w.name
                        ))
                    })?;
                    let inserted = sqlx::query_scalar(
                        "INSERT INTO secrets (scope_id, name, category, backend, current_version, \
                            created_at, updated_at, updated_by, delivery, generator, \
                            rotate_every_secs) \
                         VALUES ($1, $2, $3, $4, 1, $5, $5, $6, $7, $8, $9) RETURNING id",
                    )
                    .bind(sid)
                    .bind(w.name.as_str())
                    .bind(category.as_str())
                    .bind(w.backend.as_str())
                    .bind(now)
                    .bind(&w.by)
                    .bind(w.delivery.unwrap_or_default().as_str())
                    .bind(generator)
                    .bind(rotate_every.filter(|&secs| secs != 0))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from);
                    match inserted {
                        Ok(id) => (id, 1),
                        // Another server created it a moment ago: start over as an update.
                        Err(e) if e.is_unique_violation() => return Err(StoreError::Retry),
                        Err(e) => return Err(e),
                    }
                }
            };
            sqlx::query(
                "INSERT INTO secret_versions (secret_id, version, ciphertext, backend_ref, \
                    backend_version, rollback_of, created_at, created_by, generator) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(secret_id)
            .bind(version)
            .bind(&w.material.ciphertext)
            .bind(&w.material.backend_ref)
            .bind(&w.material.backend_version)
            .bind(w.rollback_of)
            .bind(now)
            .bind(&w.by)
            .bind(spec)
            .execute(&mut *tx)
            .await?;
            insert_audit(&mut tx, &w.audit.clone().version(version)).await?;
            out.push(version);
        }
        tx.commit().await?;
        Ok(out)
    }
}

impl SecretStore for SqlStore {
    async fn secret(&self, scope: &ScopePath, name: &SecretName) -> Result<Option<SecretMeta>> {
        let sql = format!(
            "SELECT {META_COLUMNS} FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             WHERE sc.path = $1 AND s.name = $2"
        );
        let row: Option<MetaRow> = self
            .read(async |conn| {
                Ok(sqlx::query_as(AssertSqlSafe(sql))
                    .bind(scope.as_str())
                    .bind(name.as_str())
                    .fetch_optional(conn)
                    .await?)
            })
            .await?;
        row.map(SecretMeta::try_from).transpose()
    }

    async fn list_secrets(&self, scope: &ScopePath) -> Result<Vec<SecretMeta>> {
        self.list_secrets_in(std::slice::from_ref(scope)).await
    }

    async fn list_secrets_in(&self, scopes: &[ScopePath]) -> Result<Vec<SecretMeta>> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(&format!(
            "SELECT {META_COLUMNS} FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             WHERE sc.path IN "
        ));
        sql.bind_list(scopes.iter().map(ScopePath::as_str))
            .push(" ORDER BY sc.path, s.name");
        let rows: Vec<MetaRow> = self
            .read(async |conn| Ok(sql.query_as()?.fetch_all(conn).await?))
            .await?;
        rows.into_iter().map(SecretMeta::try_from).collect()
    }

    async fn versions(&self, scope: &ScopePath, name: &SecretName) -> Result<Vec<VersionMeta>> {
        let rows: Vec<VersionRow> = self
            .read(async |conn| {
                Ok(sqlx::query_as(
                    "SELECT v.version, v.created_at, v.created_by, v.backend_version, \
                            v.rollback_of, s.current_version \
                     FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
                     JOIN secret_versions v ON v.secret_id = s.id \
                     WHERE sc.path = $1 AND s.name = $2 ORDER BY v.version DESC",
                )
                .bind(scope.as_str())
                .bind(name.as_str())
                .fetch_all(conn)
                .await?)
            })
            .await?;
        if rows.is_empty() {
            return Err(not_found(scope, name));
        }
        rows.into_iter().map(VersionMeta::try_from).collect()
    }

    async fn material(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        version: Option<Version>,
    ) -> Result<(SecretMeta, Version, StoredMaterial)> {
        let sql = format!(
            "SELECT {META_COLUMNS}, v.version, {MATERIAL_COLUMNS} \
             FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             JOIN secret_versions v ON v.secret_id = s.id \
                AND v.version = COALESCE(CAST($3 AS BIGINT), s.current_version) \
             WHERE sc.path = $1 AND s.name = $2"
        );
        let row: Option<VersionMaterialRow> = self
            .read_fast(
                |c| lite::query_opt(c, &sql, &[&scope.as_str(), &name.as_str(), &version]),
                async |conn| {
                    Ok(sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .bind(scope.as_str())
                        .bind(name.as_str())
                        .bind(version)
                        .fetch_optional(conn)
                        .await?)
                },
            )
            .await?;
        match row {
            Some(r) => r.try_into(),
            None => match (self.secret(scope, name).await?, version) {
                (Some(m), Some(v)) => Err(Error::NotFound(format!(
                    "{name} at {scope} has no version {v} (versions 1 to {})",
                    m.version
                ))),
                _ => Err(not_found(scope, name)),
            },
        }
    }

    async fn write_versions(&self, writes: Vec<NewVersion>) -> Result<Vec<Version>> {
        // A transaction that lost a race (a concurrent create of the same secret, a
        // serialization failure or deadlock on PostgreSQL, a busy SQLite) starts over.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_versions_once(&writes).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < WRITE_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(5 * attempt)).await;
                }
                Err(e) if e.is_retryable() => return Err(StoreError::Retry.into()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn reserve_writes(
        &self,
        holder: &str,
        items: &[Reservation],
        ttl: Duration,
        wait: Duration,
    ) -> Result<Vec<Reserved>> {
        self.reserve(holder, items, ttl, wait).await
    }

    async fn release_writes(&self, holder: &str, items: &[Reservation]) -> Result<()> {
        self.release(holder, items).await
    }

    async fn delete_secret(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        audit: AuditEntry,
    ) -> Result<()> {
        // Audited inside: the record names the version that was deleted.
        self.write_tx(None, async |tx| {
            let deleted: Option<i64> = sqlx::query_scalar(
                "DELETE FROM secrets WHERE scope_id = (SELECT id FROM scopes WHERE path = $1) \
                   AND name = $2 RETURNING current_version",
            )
            .bind(scope.as_str())
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(version) = deleted else {
                return Err(not_found(scope, name).into());
            };
            insert_audit(tx, &audit.version(version)).await
        })
        .await
    }

    async fn candidates(
        &self,
        chain: &[ScopePath],
        names: &[SecretName],
    ) -> Result<Vec<Candidate>> {
        if chain.is_empty() || names.is_empty() {
            return Ok(Vec::new());
        }
        // Metadata and the current version's material in one statement: a brief's version
        // and the env's value always come from the same row.
        let sql = format!(
            "SELECT {META_COLUMNS}, {MATERIAL_COLUMNS} \
             FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
             WHERE sc.path IN ({}) AND s.name IN ({})",
            lite::placeholders(1, chain.len()),
            lite::placeholders(1 + chain.len(), names.len()),
        );
        let values: Vec<&str> = chain
            .iter()
            .map(ScopePath::as_str)
            .chain(names.iter().map(SecretName::as_str))
            .collect();
        self.read_fast(
            |c| {
                let bound: Vec<&dyn rusqlite::ToSql> =
                    values.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
                lite::query_each(c, &sql, &bound, |row| candidate_from_lite(row, chain))
            },
            async |conn| {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.clone()));
                for v in &values {
                    q = q.bind(*v);
                }
                let found: Vec<CurrentRow> = q.fetch_all(conn).await?;
                Ok(found
                    .into_iter()
                    .map(Candidate::try_from)
                    .collect::<Result<_>>()?)
            },
        )
        .await
    }

    async fn link_approval(&self, scope: &ScopePath, name: &SecretName) -> Result<Option<String>> {
        self.read(async |conn| {
            Ok(sqlx::query_scalar(
                "SELECT la.reference FROM link_approvals la JOIN secrets s ON s.id = la.secret_id \
                 JOIN scopes sc ON sc.id = s.scope_id WHERE sc.path = $1 AND s.name = $2",
            )
            .bind(scope.as_str())
            .bind(name.as_str())
            .fetch_optional(conn)
            .await?)
        })
        .await
    }

    async fn set_link_approval(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        approval: Option<(&str, &str)>,
    ) -> Result<()> {
        self.write_tx(None, async |tx| {
            let id: Option<i64> = sqlx::query_scalar(
                "SELECT s.id FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
                 WHERE sc.path = $1 AND s.name = $2",
            )
            .bind(scope.as_str())
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let id = id.ok_or_else(|| not_found(scope, name))?;
            sqlx::query("DELETE FROM link_approvals WHERE secret_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if let Some((reference, by)) = approval {
                sqlx::query(
                    "INSERT INTO link_approvals (secret_id, reference, approved_by, approved_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(reference)
                .bind(by)
                .bind(stamp(timestamp::now()))
                .execute(&mut *tx)
                .await?;
            }
            Ok(())
        })
        .await
    }
}

/// The conflict of a write that would turn a generator into a static secret or back:
/// nothing is changed (delete the secret first).
fn kind_conflict(scope: &ScopePath, name: &SecretName, is_generator: bool) -> Error {
    if is_generator {
        Error::Conflict(format!(
            "{name} at {scope} is a generator: its credentials are minted per dispatch; redefine it with secretstore secret generator, or delete it first to store a value"
        ))
    } else {
        Error::Conflict(format!(
            "{name} at {scope} is a stored secret: delete it first to make it a generator"
        ))
    }
}
