//! [`LeaseStore`]: the leases of per-task credentials — the provider, the role name or
//! session ARN, the brief, the secret and the expiry, never a credential — and their
//! claims, so that of several servers exactly one revokes each lease.

use super::bind::Sql;
use super::rows::{at, at_opt, scope, stamp};
use super::tx::insert_audit;
use super::{Dialect, SqlStore};
use secretstore_core::generator::{GeneratorKind, Lease, LeaseId, RevokeReason};
use secretstore_core::timestamp::OffsetDateTime;
use secretstore_core::{AuditEntry, BriefId, Error, LeaseFilter, LeaseStore, LeasesOf, Result};
use sqlx::FromRow;

/// The columns of [`LeaseRow`].
const LEASE_COLUMNS: &str = "id, brief_id, project, scope, name, version, provider, principal, \
     admin_scope, created_at, expires_at, revoked_at, revoke_reason, last_error";

/// A lease as stored.
#[derive(FromRow)]
struct LeaseRow {
    id: String,
    brief_id: String,
    project: String,
    scope: String,
    name: String,
    version: i64,
    provider: String,
    principal: String,
    admin_scope: Option<String>,
    created_at: String,
    expires_at: String,
    revoked_at: Option<String>,
    revoke_reason: Option<String>,
    last_error: Option<String>,
}

impl TryFrom<LeaseRow> for Lease {
    type Error = Error;

    fn try_from(r: LeaseRow) -> Result<Self> {
        let corrupt =
            |what: &str, v: &str| Error::storage(format!("invalid {what} {v:?} in the leases"));
        Ok(Lease {
            id: LeaseId::parse(&r.id).map_err(|_| corrupt("lease id", &r.id))?,
            brief_id: BriefId::parse(&r.brief_id).map_err(|_| corrupt("brief id", &r.brief_id))?,
            project: scope(&r.project)?,
            scope: scope(&r.scope)?,
            name: r.name,
            version: r.version,
            provider: GeneratorKind::parse(&r.provider)
                .map_err(|_| corrupt("provider", &r.provider))?,
            principal: r.principal,
            admin_scope: r.admin_scope.as_deref().map(scope).transpose()?,
            created_at: at(&r.created_at)?,
            expires_at: at(&r.expires_at)?,
            revoked_at: at_opt(r.revoked_at.as_deref())?,
            revoke_reason: r
                .revoke_reason
                .as_deref()
                .map(|s| RevokeReason::parse(s).ok_or_else(|| corrupt("revoke reason", s)))
                .transpose()?,
            last_error: r.last_error,
        })
    }
}

fn leases(rows: Vec<LeaseRow>) -> Result<Vec<Lease>> {
    rows.into_iter().map(Lease::try_from).collect()
}

/// The condition that a lease (of `leases` named `table`) may be claimed at the time
/// bound next: not revoked, and not held by a claim that has not lapsed. Qualified: the
/// sweeper's subquery joins `briefs`, which has a `revoked_at` too.
fn claimable(table: &str) -> String {
    format!(
        "{table}.revoked_at IS NULL AND ({table}.claimed_until IS NULL OR {table}.claimed_until <= "
    )
}

/// ` FROM leases l … WHERE …`: the leases a claim of `of` may take at `now` (not revoked,
/// not held by a claim that has not lapsed, and selected by `of`).
fn push_candidates(sql: &mut Sql, of: LeasesOf<'_>, now: &str) {
    sql.push(" FROM leases l");
    if matches!(of, LeasesOf::Due) {
        sql.push(" LEFT JOIN briefs b ON b.id = l.brief_id");
    }
    sql.push(" WHERE ")
        .push(&claimable("l"))
        .bind(now.to_owned())
        .push(")");
    match of {
        LeasesOf::Due => {
            sql.push(" AND (l.expires_at <= ")
                .bind(now.to_owned())
                // A brief not recorded yet (its dispatch is minting) has no row: its
                // leases are never swept before their expiry.
                .push(" OR l.revoke_reason IS NOT NULL OR b.status <> 'running')");
        }
        LeasesOf::Brief(b) => {
            sql.push(" AND l.brief_id = ").bind(b.to_string());
        }
        LeasesOf::Lease(id) => {
            sql.push(" AND l.id = ").bind(id.to_string());
        }
    }
}

impl LeaseStore for SqlStore {
    async fn open_leases(&self, leases: &[Lease]) -> Result<()> {
        if leases.is_empty() {
            return Ok(());
        }
        self.write_tx(None, async |tx| {
            let mut insert = Sql::new(
                "INSERT INTO leases (id, brief_id, project, scope, name, version, provider, \
                 principal, admin_scope, created_at, expires_at) VALUES ",
            );
            for (i, l) in leases.iter().enumerate() {
                if i > 0 {
                    insert.push(", ");
                }
                insert
                    .push("(")
                    .bind(l.id.to_string())
                    .push(", ")
                    .bind(l.brief_id.to_string())
                    .push(", ")
                    .bind(l.project.to_string())
                    .push(", ")
                    .bind(l.scope.to_string())
                    .push(", ")
                    .bind(l.name.clone())
                    .push(", ")
                    .bind(l.version)
                    .push(", ")
                    .bind(l.provider.as_str())
                    .push(", ")
                    .bind(l.principal.clone())
                    .push(", ")
                    .bind(l.admin_scope.as_ref().map(|s| s.to_string()))
                    .push(", ")
                    .bind(stamp(l.created_at))
                    .push(", ")
                    .bind(stamp(l.expires_at))
                    .push(")");
            }
            insert.query()?.execute(&mut *tx).await?;
            Ok(())
        })
        .await
    }

    async fn lease_minted(
        &self,
        id: &LeaseId,
        principal: &str,
        expires_at: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write_tx(Some(&audit), async |tx| {
            let done = sqlx::query(
                "UPDATE leases SET principal = $2, expires_at = $3 \
                     WHERE id = $1 AND revoke_reason IS NULL",
            )
            .bind(id.as_str())
            .bind(principal)
            .bind(stamp(expires_at))
            .execute(&mut *tx)
            .await?;
            // Not audited: no mint of no lease is recorded; a lease whose revocation was
            // asked while it was minted is not recorded as minted (the caller revokes
            // what it minted).
            if done.rows_affected() == 0 {
                return Err(Error::Conflict(format!(
                    "lease {id} was revoked (or is unknown) while it was minted"
                ))
                .into());
            }
            Ok(())
        })
        .await
    }

    async fn lease(&self, id: &LeaseId) -> Result<Lease> {
        let row: Option<LeaseRow> = self
            .read(async |conn| {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {LEASE_COLUMNS} FROM leases WHERE id = $1"
                )))
                .bind(id.as_str())
                .fetch_optional(conn)
                .await?)
            })
            .await?;
        row.ok_or_else(|| Error::NotFound(format!("no lease {id}")))?
            .try_into()
    }

    async fn leases(&self, filter: LeaseFilter<'_>, limit: i64) -> Result<Vec<Lease>> {
        if filter.projects.is_some_and(|p| p.is_empty()) {
            return Ok(Vec::new());
        }
        let mut list = Sql::new(&format!("SELECT {LEASE_COLUMNS} FROM leases WHERE 1 = 1"));
        if let Some(roots) = filter.projects {
            list.push(" AND ")
                .under("project", roots.iter().map(|r| r.as_str()));
        }
        if let Some(b) = filter.brief {
            list.push(" AND brief_id = ").bind(b.to_string());
        }
        if let Some((s, n)) = filter.secret {
            list.push(" AND scope = ")
                .bind(s.to_string())
                .push(" AND name = ")
                .bind(n.to_owned());
        }
        if filter.open_only {
            list.push(" AND revoked_at IS NULL");
        }
        list.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .bind(limit);
        let rows: Vec<LeaseRow> = self
            .read(async |conn| Ok(list.query_as()?.fetch_all(conn).await?))
            .await?;
        leases(rows)
    }

    async fn claim_leases(
        &self,
        of: LeasesOf<'_>,
        reason: RevokeReason,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Lease>> {
        let now = stamp(now);
        // Nothing to claim (a brief without generators, a sweep of a quiet database): a
        // read says so, and no write transaction is taken (on SQLite, the write lock) on
        // every callback, brief revoke and sweep.
        let mut probe = Sql::new("SELECT l.id");
        push_candidates(&mut probe, of, &now);
        probe.push(" LIMIT 1");
        let any: Option<(String,)> = self
            .read(async |conn| Ok(probe.query_as()?.fetch_optional(conn).await?))
            .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        // One statement: of concurrent claims, one updates each row, the others skip it.
        // The leases are picked first, at most `limit` of them, for every kind of claim:
        // a claim never takes a lease it does not return (no one would revoke it until
        // the claim lapsed). SQLite: the write lock orders the claims. PostgreSQL: the
        // pick locks its rows and skips those another claim holds (sweepers at once take
        // disjoint leases and never wait for, nor deadlock on, each other), and is
        // evaluated once (MATERIALIZED: a subquery that locks may be run again by the
        // plan, and take more than `limit`); the update checks the condition again.
        let postgres = self.dialect == Dialect::Postgres;
        let mut claim = Sql::new(if postgres {
            "WITH picked AS MATERIALIZED (SELECT l.id"
        } else {
            "WITH picked AS (SELECT l.id"
        });
        push_candidates(&mut claim, of, &now);
        claim
            .push(" ORDER BY l.expires_at, l.id LIMIT ")
            .bind(limit);
        if postgres {
            claim.push(" FOR UPDATE OF l SKIP LOCKED");
        }
        claim
            .push(") UPDATE leases SET claimed_by = ")
            .bind(holder.to_owned())
            .push(", claimed_until = ")
            .bind(stamp(until))
            .push(", revoke_reason = COALESCE(revoke_reason, ");
        match of {
            LeasesOf::Due => {
                claim
                    .push("CASE WHEN expires_at <= ")
                    .bind(now.clone())
                    .push(" THEN 'expired' ELSE 'brief_ended' END)");
            }
            LeasesOf::Brief(_) | LeasesOf::Lease(_) => {
                claim.bind(reason.as_str()).push(")");
            }
        }
        claim
            .push(" WHERE id IN (SELECT id FROM picked) AND ")
            .push(&claimable("leases"))
            .bind(now)
            .push(")");
        claim.push(" RETURNING ").push(LEASE_COLUMNS);
        let rows: Vec<LeaseRow> = self
            .write_tx(None, async |tx| {
                let rows: Vec<LeaseRow> = claim.query_as()?.fetch_all(&mut *tx).await?;
                Ok(rows)
            })
            .await?;
        leases(rows)
    }

    async fn lease_revoked(&self, id: &LeaseId, holder: &str, audit: AuditEntry) -> Result<bool> {
        self.write_tx(None, async |tx| {
            let done = sqlx::query(
                "UPDATE leases SET revoked_at = $3, claimed_by = NULL, claimed_until = NULL, \
                 last_error = NULL WHERE id = $1 AND claimed_by = $2 AND revoked_at IS NULL",
            )
            .bind(id.as_str())
            .bind(holder)
            .bind(stamp(audit.at))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            insert_audit(tx, &audit).await?;
            Ok(true)
        })
        .await
    }

    async fn lease_revoke_failed(
        &self,
        id: &LeaseId,
        holder: &str,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<()> {
        // Bounded: an error is a provider's message, never a credential.
        let error: String = error.chars().take(500).collect();
        self.write_tx(None, async |tx| {
            sqlx::query(
                "UPDATE leases SET attempts = attempts + 1, last_error = $3, claimed_until = $4 \
                 WHERE id = $1 AND claimed_by = $2 AND revoked_at IS NULL",
            )
            .bind(id.as_str())
            .bind(holder)
            .bind(error)
            .bind(stamp(retry_at))
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
        .await
    }
}
