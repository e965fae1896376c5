//! [`SessionStore`]: the web UI's sessions, each bound to an API token.

use super::SqlStore;
use super::rows::{SessionAuthRow, SessionRow, at, role_from_columns, stamp};
use super::tx::insert_audit;
use secretstore_core::timestamp::OffsetDateTime;
use secretstore_core::{
    AuditEntry, Error, Principal, Result, SessionAuth, SessionInfo, SessionStore,
};

impl SessionStore for SqlStore {
    async fn create_session(
        &self,
        id_hash: &str,
        token_hash: &str,
        public_id: &str,
        csrf: &str,
        expires_at: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write_tx(Some(&audit), async |tx| {
            // The token is looked up again in the session's transaction: one revoked a
            // moment ago makes no session.
            let token: Option<(String, i64)> = sqlx::query_as(
                "SELECT id, account_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((token_id, account_id)) = token else {
                return Err(
                    Error::Unauthorized("invalid or revoked API token".to_string()).into(),
                );
            };
            // Expired sessions are swept on the way.
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                .bind(stamp(audit.at))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sessions (id_hash, account_id, csrf, created_at, expires_at, token_id, \
                    public_id, source) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id_hash)
            .bind(account_id)
            .bind(csrf)
            .bind(stamp(audit.at))
            .bind(stamp(expires_at))
            .bind(&token_id)
            .bind(public_id)
            .bind(&audit.source)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
        .await
    }

    async fn session_by_hash(&self, id_hash: &str, source: &str) -> Result<Option<SessionAuth>> {
        // One query: a session whose token was revoked, or whose account has no grant
        // left, finds no row (the inner joins), exactly like an unknown one.
        let rows: Vec<SessionAuthRow> = self
            .read(async |conn| {
                Ok(sqlx::query_as(
                    "SELECT a.name, se.csrf, se.expires_at, se.public_id, g.role, g.scope \
                     FROM sessions se \
                     JOIN api_tokens t ON t.id = se.token_id AND t.revoked_at IS NULL \
                     JOIN accounts a ON a.id = se.account_id AND a.id = t.account_id \
                     JOIN grants g ON g.account_id = a.id \
                     WHERE se.id_hash = $1",
                )
                .bind(id_hash)
                .fetch_all(conn)
                .await?)
            })
            .await?;
        let mut roles = Vec::with_capacity(rows.len());
        for r in &rows {
            roles.push(role_from_columns(&r.grant.role, &r.grant.scope)?);
        }
        let Some(first) = rows.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(SessionAuth {
            who: Principal {
                account: first.name,
                roles,
                source: source.to_owned(),
            },
            csrf: first.csrf,
            expires_at: at(&first.expires_at)?,
            public_id: first.public_id,
        }))
    }

    async fn list_sessions(
        &self,
        account: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>> {
        let rows: Vec<SessionRow> = self
            .read(async |conn| {
                Ok(sqlx::query_as(
                    "SELECT se.public_id, a.name, se.token_id, se.created_at, se.expires_at, \
                            se.source \
                     FROM sessions se \
                     JOIN api_tokens t ON t.id = se.token_id AND t.revoked_at IS NULL \
                     JOIN accounts a ON a.id = se.account_id \
                     WHERE se.expires_at > $1 AND (CAST($2 AS TEXT) IS NULL OR a.name = $2) \
                       AND EXISTS (SELECT 1 FROM grants g WHERE g.account_id = a.id) \
                     ORDER BY se.created_at DESC, se.public_id",
                )
                // Text compares as time: the stored format is fixed-width UTC.
                .bind(stamp(now))
                .bind(account)
                .fetch_all(conn)
                .await?)
            })
            .await?;
        rows.into_iter().map(SessionInfo::try_from).collect()
    }

    async fn end_session(
        &self,
        public_id: &str,
        account: Option<&str>,
        audit: AuditEntry,
    ) -> Result<()> {
        // Audited inside: the record names the session's account.
        self.write_tx(None, async |tx| {
            let owner: Option<String> = sqlx::query_scalar(
                "SELECT a.name FROM sessions se JOIN accounts a ON a.id = se.account_id \
                 WHERE se.public_id = $1 AND (CAST($2 AS TEXT) IS NULL OR a.name = $2)",
            )
            .bind(public_id)
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(owner) = owner else {
                return Err(Error::NotFound(format!("no session {public_id}")).into());
            };
            sqlx::query("DELETE FROM sessions WHERE public_id = $1")
                .bind(public_id)
                .execute(&mut *tx)
                .await?;
            insert_audit(tx, &audit.detail(serde_json::json!({ "account": owner }))).await
        })
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.read(async |conn| {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }
}
