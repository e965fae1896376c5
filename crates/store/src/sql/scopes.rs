//! [`ScopeStore`]: scopes and the link prefixes of organizations.

use super::SqlStore;
use super::error::StoreError;
use super::lite;
use super::rows::stamp;
use super::tx::{SCOPE_ID, scope_id};
use secretstore_core::{
    AuditEntry, BackendKind, Error, LinkPrefixes, Result, ScopePath, ScopeStore,
};
use std::str::FromStr;

fn parent_missing(path: &ScopePath) -> Error {
    let parent = path.parent().map(|p| p.to_string()).unwrap_or_default();
    let level = ScopePath::parse(&parent)
        .map(|p| p.level().as_str())
        .unwrap_or("scope");
    Error::ParentMissing {
        level: level.to_owned(),
        parent,
    }
}

impl ScopeStore for SqlStore {
    async fn create_scope(&self, path: &ScopePath, audit: AuditEntry) -> Result<()> {
        self.write_tx(Some(&audit), async |tx| {
            let parent_id = match path.parent() {
                None => None,
                Some(parent) => match scope_id(tx, &parent).await? {
                    Some(id) => Some(id),
                    None => return Err(parent_missing(path).into()),
                },
            };
            sqlx::query(
                "INSERT INTO scopes (path, level, parent_id, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(path.as_str())
            .bind(path.level().as_str())
            .bind(parent_id)
            .bind(stamp(audit.at))
            .bind(&audit.actor)
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                e if e.is_unique_violation() => {
                    Error::AlreadyExists(format!("{} {path} already exists", path.level().as_str()))
                        .into()
                }
                e => e,
            })?;
            Ok(())
        })
        .await
    }

    async fn scope_exists(&self, path: &ScopePath) -> Result<bool> {
        let id: Option<i64> = self
            .read_fast(
                |c| lite::query_opt(c, SCOPE_ID, &[&path.as_str()]),
                async |conn| scope_id(conn, path).await,
            )
            .await?;
        Ok(id.is_some())
    }

    async fn list_scopes(&self) -> Result<Vec<ScopePath>> {
        let paths: Vec<String> = self
            .read(async |conn| {
                Ok(sqlx::query_scalar("SELECT path FROM scopes ORDER BY path")
                    .fetch_all(conn)
                    .await?)
            })
            .await?;
        paths.iter().map(|p| ScopePath::parse(p)).collect()
    }

    async fn link_prefixes(&self, org: &ScopePath) -> Result<LinkPrefixes> {
        let rows: Vec<(String, String)> = self
            .read(async |conn| {
                Ok(sqlx::query_as(
                    "SELECT lp.backend, lp.prefix FROM link_prefixes lp \
                     JOIN scopes sc ON sc.id = lp.org_id \
                     WHERE sc.path = $1 ORDER BY lp.backend, lp.prefix",
                )
                .bind(org.as_str())
                .fetch_all(conn)
                .await?)
            })
            .await?;
        let mut out = LinkPrefixes::default();
        for (backend, prefix) in rows {
            match BackendKind::from_str(&backend) {
                Ok(BackendKind::AwsSm) => out.aws_prefixes.push(prefix),
                Ok(BackendKind::Vault) => out.vault_prefixes.push(prefix),
                // Nothing else is ever written; an unknown row allows nothing.
                _ => {}
            }
        }
        Ok(out)
    }

    async fn set_link_prefixes(
        &self,
        org: &ScopePath,
        prefixes: &LinkPrefixes,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write_tx(Some(&audit), async |tx| {
            let id = scope_id(tx, org)
                .await?
                .ok_or_else(|| Error::NotFound(format!("unknown organization {org}")))?;
            sqlx::query("DELETE FROM link_prefixes WHERE org_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (kind, list) in [
                (BackendKind::AwsSm, &prefixes.aws_prefixes),
                (BackendKind::Vault, &prefixes.vault_prefixes),
            ] {
                for prefix in list {
                    sqlx::query(
                        "INSERT INTO link_prefixes (org_id, backend, prefix) VALUES ($1, $2, $3) \
                             ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(kind.as_str())
                    .bind(prefix)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn sealed_only(&self, org: &ScopePath) -> Result<bool> {
        const POLICY: &str = "SELECT sealed_only FROM scopes WHERE path = $1";
        let flag: Option<i64> = self
            .read_fast(
                |c| lite::query_opt(c, POLICY, &[&org.as_str()]),
                async |conn| {
                    Ok(sqlx::query_scalar(POLICY)
                        .bind(org.as_str())
                        .fetch_optional(conn)
                        .await?)
                },
            )
            .await?;
        Ok(flag.is_some_and(|f| f != 0))
    }

    async fn set_sealed_only(
        &self,
        org: &ScopePath,
        sealed_only: bool,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write_tx(Some(&audit), async |tx| {
            let done = sqlx::query("UPDATE scopes SET sealed_only = $2 WHERE path = $1")
                .bind(org.as_str())
                .bind(i64::from(sealed_only))
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound(format!("unknown organization {org}")).into());
            }
            Ok(())
        })
        .await
    }
}
