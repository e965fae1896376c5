//! [`AccountStore`]: accounts, their grants and API tokens.

use super::SqlStore;
use super::error::{StoreError, StoreResult};
use super::rows::{
    AccountGrantRow, AccountRow, GrantRow, TokenGrantRow, TokenRow, role_columns,
    role_from_columns, stamp,
};
use secretstore_core::{
    Account, AccountKind, AccountStore, AuditEntry, Error, Principal, Result, Role, TokenInfo,
};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// The id of an account; `NotFound` for an unknown name.
async fn account_id(conn: &mut AnyConnection, name: &str) -> StoreResult<i64> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    Ok(id.ok_or_else(|| Error::NotFound(format!("no account {name}")))?)
}

/// Inserts an API token's hash.
async fn insert_token(
    conn: &mut AnyConnection,
    token_id: &str,
    account_id: i64,
    token_hash: &str,
    audit: &AuditEntry,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, account_id, token_hash, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_id)
    .bind(account_id)
    .bind(token_hash)
    .bind(stamp(audit.at))
    .bind(&audit.actor)
    .execute(conn)
    .await?;
    Ok(())
}

impl AccountStore for SqlStore {
    async fn bootstrap_root(
        &self,
        token_id: &str,
        token_hash: &str,
        audit: AuditEntry,
    ) -> Result<bool> {
        // Audited inside, only when root was created.
        self.write_tx(None, async |tx| {
            let any: Option<i64> = sqlx::query_scalar("SELECT id FROM accounts LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
            if any.is_some() {
                return Ok(false);
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO accounts (name, kind, created_at, created_by) \
                 VALUES ('root', 'person', $1, $2) RETURNING id",
            )
            .bind(stamp(audit.at))
            .bind(&audit.actor)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO grants (account_id, role, scope, created_at, created_by) \
                 VALUES ($1, 'root', '', $2, $3)",
            )
            .bind(id)
            .bind(stamp(audit.at))
            .bind(&audit.actor)
            .execute(&mut *tx)
            .await?;
            insert_token(tx, token_id, id, token_hash, &audit).await?;
            super::tx::insert_audit(tx, &audit).await?;
            Ok(true)
        })
        .await
    }

    async fn create_account(&self, name: &str, kind: AccountKind, audit: AuditEntry) -> Result<()> {
        self.write_tx(Some(&audit), async |tx| {
            sqlx::query(
                "INSERT INTO accounts (name, kind, created_at, created_by) VALUES ($1, $2, $3, $4)",
            )
            .bind(name)
            .bind(kind.as_str())
            .bind(stamp(audit.at))
            .bind(&audit.actor)
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                e if e.is_unique_violation() => {
                    Error::AlreadyExists(format!("account {name} already exists")).into()
                }
                e => e,
            })?;
            Ok(())
        })
        .await
    }

    async fn account(&self, name: &str) -> Result<Account> {
        let (row, grants) = self
            .read(async |conn| {
                let row: Option<AccountRow> = sqlx::query_as(
                    "SELECT id, name, kind, created_at FROM accounts WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(row) = row else {
                    return Ok((None, Vec::new()));
                };
                let grants: Vec<GrantRow> = sqlx::query_as(
                    "SELECT role, scope FROM grants WHERE account_id = $1 ORDER BY role, scope",
                )
                .bind(row.id)
                .fetch_all(&mut *conn)
                .await?;
                Ok((Some(row), grants))
            })
            .await?;
        let row = row.ok_or_else(|| Error::NotFound(format!("no account {name}")))?;
        let roles = grants
            .into_iter()
            .map(Role::try_from)
            .collect::<Result<_>>()?;
        row.with_roles(roles)
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        // Two statements whatever the number of accounts.
        let (accounts, grants) = self
            .read(async |conn| {
                let accounts: Vec<AccountRow> =
                    sqlx::query_as("SELECT id, name, kind, created_at FROM accounts ORDER BY name")
                        .fetch_all(&mut *conn)
                        .await?;
                let grants: Vec<AccountGrantRow> = sqlx::query_as(
                    "SELECT account_id, role, scope FROM grants ORDER BY account_id, role, scope",
                )
                .fetch_all(&mut *conn)
                .await?;
                Ok((accounts, grants))
            })
            .await?;
        let mut roles: HashMap<i64, Vec<Role>> = HashMap::new();
        for g in grants {
            roles
                .entry(g.account_id)
                .or_default()
                .push(g.grant.try_into()?);
        }
        accounts
            .into_iter()
            .map(|a| {
                let r = roles.remove(&a.id).unwrap_or_default();
                a.with_roles(r)
            })
            .collect()
    }

    async fn grant(&self, name: &str, role: &Role, audit: AuditEntry) -> Result<()> {
        let (r, s) = role_columns(role);
        self.write_tx(Some(&audit), async |tx| {
            let id = account_id(tx, name).await?;
            sqlx::query(
                "INSERT INTO grants (account_id, role, scope, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, role, scope) DO NOTHING",
            )
            .bind(id)
            .bind(r)
            .bind(s)
            .bind(stamp(audit.at))
            .bind(&audit.actor)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
        .await?;
        self.tokens.forget_all();
        Ok(())
    }

    async fn revoke_grant(&self, name: &str, role: &Role, audit: AuditEntry) -> Result<()> {
        let (r, s) = role_columns(role);
        let root = matches!(role, Role::Root);
        self.write_tx(Some(&audit), async |tx| {
            let id = account_id(tx, name).await?;
            if root {
                // Every root grant locked first (PostgreSQL; SQLite has one writer anyway):
                // two roots revoking each other at once cannot both see the other remain.
                sqlx::query("UPDATE grants SET role = role WHERE role = $1")
                    .bind(r)
                    .execute(&mut *tx)
                    .await?;
            }
            let done = sqlx::query(
                "DELETE FROM grants WHERE account_id = $1 AND role = $2 AND scope = $3",
            )
            .bind(id)
            .bind(r)
            .bind(s)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound(format!("{name} has no grant {role}")).into());
            }
            if root {
                let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM grants WHERE role = $1")
                    .bind(r)
                    .fetch_one(&mut *tx)
                    .await?;
                if left == 0 {
                    return Err(Error::Conflict(format!(
                        "{name} holds the last root grant: grant root to another account first"
                    ))
                    .into());
                }
            }
            // The last grant gone, the account's web UI sessions end for good.
            sqlx::query(
                "DELETE FROM sessions WHERE account_id = $1 \
                   AND NOT EXISTS (SELECT 1 FROM grants WHERE account_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
        .await?;
        self.tokens.forget_all();
        Ok(())
    }

    async fn create_token(
        &self,
        name: &str,
        token_id: &str,
        token_hash: &str,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write_tx(Some(&audit), async |tx| {
            let id = account_id(tx, name).await?;
            insert_token(tx, token_id, id, token_hash, &audit).await
        })
        .await
    }

    async fn revoke_token(&self, id: &str, audit: AuditEntry) -> Result<()> {
        self.write_tx(Some(&audit), async |tx| {
            let done = sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(stamp(audit.at))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound(format!("no active token {id}")).into());
            }
            // Its web UI sessions end with it.
            sqlx::query("DELETE FROM sessions WHERE token_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
        .await?;
        self.tokens.forget_all();
        Ok(())
    }

    async fn list_tokens(&self, name: &str) -> Result<Vec<TokenInfo>> {
        let rows: Vec<TokenRow> = self
            .read(async |conn| {
                Ok(sqlx::query_as(
                    "SELECT t.id, a.name, t.created_at, t.revoked_at FROM api_tokens t \
                     JOIN accounts a ON a.id = t.account_id WHERE a.name = $1 \
                     ORDER BY t.created_at, t.id",
                )
                .bind(name)
                .fetch_all(conn)
                .await?)
            })
            .await?;
        rows.into_iter().map(TokenInfo::try_from).collect()
    }

    async fn principal_by_token_hash(&self, hash: &str, source: &str) -> Result<Option<Principal>> {
        if let Some((account, roles)) = self.tokens.get(hash) {
            return Ok(Some(Principal {
                account,
                roles,
                source: source.to_owned(),
            }));
        }
        let generation = self.tokens.generation();
        let rows: Vec<TokenGrantRow> = self
            .read(async |conn| {
                Ok(sqlx::query_as(
                    "SELECT a.name, g.role, g.scope FROM api_tokens t \
                     JOIN accounts a ON a.id = t.account_id \
                     LEFT JOIN grants g ON g.account_id = a.id \
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                )
                .bind(hash)
                .fetch_all(conn)
                .await?)
            })
            .await?;
        let Some(account) = rows.first().map(|r| r.name.clone()) else {
            return Ok(None);
        };
        let mut roles = Vec::new();
        for r in &rows {
            if let Some(role) = &r.role {
                roles.push(role_from_columns(role, r.scope.as_deref().unwrap_or(""))?);
            }
        }
        self.tokens
            .put(generation, hash, (account.clone(), roles.clone()));
        Ok(Some(Principal {
            account,
            roles,
            source: source.to_owned(),
        }))
    }
}
