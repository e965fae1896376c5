//! The write reservations of external writes (AWS, Vault): taken with the version check
//! in one transaction before the backend is written, released by the write that records
//! the new version (or, after a failed write, here).

use super::SqlStore;
use super::error::{StoreError, StoreResult};
use super::rows::{CurrentRow, MATERIAL_COLUMNS, META_COLUMNS};
use super::tx::scope_id;
use secretstore_core::service::conflict;
use secretstore_core::{Error, Reservation, Reserved, Result};
use sqlx::AssertSqlSafe;
use std::time::Duration;

/// How many times a reservation that lost a race starts over.
const RESERVE_ATTEMPTS: u32 = 50;

/// Now, in milliseconds since the Unix epoch (the clock of write reservations).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl SqlStore {
    /// [`SecretStore::reserve_writes`](secretstore_core::SecretStore::reserve_writes).
    pub(super) async fn reserve(
        &self,
        holder: &str,
        items: &[Reservation],
        ttl: Duration,
        wait: Duration,
    ) -> Result<Vec<Reserved>> {
        // A writer that names the version it replaces cannot win against a write in
        // progress (that write would change the version): it is refused at once.
        let may_wait = items.iter().all(|i| i.expected.is_none());
        let deadline = tokio::time::Instant::now() + wait;
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            let pause = Duration::from_millis(u64::from((5 * attempt).min(100)));
            match self.reserve_once(holder, items, ttl).await {
                Ok(Ok(reserved)) => return Ok(reserved),
                Ok(Err(busy)) => {
                    if !may_wait || tokio::time::Instant::now() + pause > deadline {
                        let it = &items[busy];
                        return Err(Error::Conflict(format!(
                            "conflict: another write of {} at {} is in progress; nothing was changed",
                            it.name, it.scope
                        )));
                    }
                }
                Err(e) if e.is_retryable() && attempt < RESERVE_ATTEMPTS => {}
                Err(e) if e.is_retryable() => return Err(StoreError::Retry.into()),
                Err(e) => return Err(e.into()),
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// One attempt of [`reserve`](Self::reserve): the reservations and what the database
    /// holds of each secret, or the index of a secret another writer holds.
    async fn reserve_once(
        &self,
        holder: &str,
        items: &[Reservation],
        ttl: Duration,
    ) -> StoreResult<std::result::Result<Vec<Reserved>, usize>> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let expires = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        // One order for every writer, so that two imports never wait for each other.
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| {
            (items[a].scope.as_str(), items[a].name.as_str())
                .cmp(&(items[b].scope.as_str(), items[b].name.as_str()))
        });
        let mut out: Vec<Reserved> = vec![None; items.len()];
        let current_sql = format!(
            "SELECT {META_COLUMNS}, {MATERIAL_COLUMNS} \
             FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
             WHERE sc.path = $1 AND s.name = $2"
        );
        for i in order {
            let it = &items[i];
            if scope_id(&mut tx, &it.scope).await?.is_none() {
                return Err(Error::NotFound(format!(
                    "unknown {} {}",
                    it.scope.level().as_str(),
                    it.scope
                ))
                .into());
            }
            // Taken when free, or when its holder let it expire (a writer that crashed).
            let taken: Option<String> = sqlx::query_scalar(
                "INSERT INTO write_reservations (scope, name, holder, expires_ms) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (scope, name) DO UPDATE \
                    SET holder = excluded.holder, expires_ms = excluded.expires_ms \
                    WHERE write_reservations.expires_ms < $5 \
                 RETURNING holder",
            )
            .bind(it.scope.as_str())
            .bind(it.name.as_str())
            .bind(holder)
            .bind(expires)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_none() {
                return Ok(Err(i));
            }
            let row: Option<CurrentRow> = sqlx::query_as(AssertSqlSafe(current_sql.clone()))
                .bind(it.scope.as_str())
                .bind(it.name.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let current: Reserved = row.map(TryInto::try_into).transpose()?;
            let version = current.as_ref().map(|(m, _)| m.version);
            if let Some(e) = it.expected.filter(|e| !e.admits(version)) {
                return Err(conflict(&it.scope, &it.name, e, version).into());
            }
            out[i] = current;
        }
        tx.commit().await?;
        Ok(Ok(out))
    }

    /// [`SecretStore::release_writes`](secretstore_core::SecretStore::release_writes).
    pub(super) async fn release(&self, holder: &str, items: &[Reservation]) -> Result<()> {
        self.write_tx(None, async |tx| {
            for it in items {
                sqlx::query(
                    "DELETE FROM write_reservations WHERE scope = $1 AND name = $2 AND holder = $3",
                )
                .bind(it.scope.as_str())
                .bind(it.name.as_str())
                .bind(holder)
                .execute(&mut *tx)
                .await?;
            }
            Ok(())
        })
        .await
    }
}
