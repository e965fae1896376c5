//! The Fernet key's side of the database: the key check that catches a wrong key before
//! any write, and what `rekey` reads and rewrites.

use super::{Dialect, SqlStore};
use crate::crypto::Keyring;
use secretstore_core::{Error, Result};
use sqlx::{AssertSqlSafe, Row};
use std::time::Duration;

/// The value encrypted into the key check, so that a wrong key is caught before any write.
const KEY_CHECK_PLAINTEXT: &[u8] = b"secretstore key check v1";
const KEY_CHECK: &str = "fernet_key_check";

impl SqlStore {
    /// Checks that `keys` opens what this database holds; on first use, records a check
    /// value encrypted under the first key. A wrong key is an error before anything changes.
    pub async fn check_key(&self, keys: &Keyring) -> Result<()> {
        let stored: Option<String> = self
            .read(async |conn| {
                Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                    .bind(KEY_CHECK)
                    .fetch_optional(conn)
                    .await?)
            })
            .await?;
        match stored {
            Some(token) => {
                if keys
                    .decrypt(&token)
                    .is_ok_and(|p| p.as_slice() == KEY_CHECK_PLAINTEXT)
                {
                    Ok(())
                } else {
                    Err(Error::config(
                        "the Fernet key does not match this database: its values were encrypted with another key; nothing was changed",
                        "set FERNET_SECRET_KEY (or FERNET_SECRET_KEYS) to the key this database was created with",
                    ))
                }
            }
            None => {
                self.read(async |conn| {
                    sqlx::query(
                        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(KEY_CHECK)
                    .bind(keys.encrypt(KEY_CHECK_PLAINTEXT))
                    .execute(conn)
                    .await?;
                    Ok(())
                })
                .await
            }
        }
    }

    /// How many local values (every version) the database holds.
    pub async fn count_ciphertexts(&self) -> Result<i64> {
        self.read(async |conn| {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM secret_versions WHERE ciphertext IS NOT NULL",
            )
            .fetch_one(conn)
            .await?)
        })
        .await
    }

    /// One page of stored Fernet tokens after `(secret_id, version)`, in key order.
    pub async fn ciphertext_page(
        &self,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<(i64, i64, String)>> {
        let (sid, ver) = after.unwrap_or((i64::MIN, i64::MIN));
        self.read(async |conn| {
            Ok(sqlx::query_as(
                "SELECT secret_id, version, ciphertext FROM secret_versions \
                 WHERE ciphertext IS NOT NULL \
                   AND (secret_id > $1 OR (secret_id = $1 AND version > $2)) \
                 ORDER BY secret_id, version LIMIT $3",
            )
            .bind(sid)
            .bind(ver)
            .bind(limit)
            .fetch_all(conn)
            .await?)
        })
        .await
    }

    /// Replaces tokens in one short transaction, each only if it is still the token that
    /// was read (a concurrent write is never overwritten); returns how many were replaced.
    /// Each row is `(secret_id, version, old token, new token)`.
    pub async fn replace_ciphertexts(&self, rows: &[(i64, i64, String, String)]) -> Result<u64> {
        self.write_tx(None, async |tx| {
            let mut n = 0;
            for (sid, ver, old, new) in rows {
                n += sqlx::query(
                    "UPDATE secret_versions SET ciphertext = $4 \
                     WHERE secret_id = $1 AND version = $2 AND ciphertext = $3",
                )
                .bind(*sid)
                .bind(*ver)
                .bind(old)
                .bind(new)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            Ok(n)
        })
        .await
    }

    /// Re-encrypts the database's key check under the first key of `keys`.
    pub async fn rekey_key_check(&self, keys: &Keyring) -> Result<()> {
        self.read(async |conn| {
            sqlx::query("UPDATE meta SET value = $2 WHERE key = $1")
                .bind(KEY_CHECK)
                .bind(keys.encrypt(KEY_CHECK_PLAINTEXT))
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// After a rekey: leaves no copy of an old token in the database's files. On SQLite,
    /// checkpoints the WAL into the database and truncates it, rewrites the database
    /// (`VACUUM`: no free page keeps old content), and truncates the WAL again. On
    /// PostgreSQL, `VACUUM FULL` rewrites the tables rekey changed into new files (what the
    /// server's WAL, replicas and backups still hold is beyond reach: see SECURITY.md).
    pub async fn compact_after_rekey(&self) -> Result<()> {
        match self.dialect {
            Dialect::Sqlite => {
                self.wal_checkpoint_truncate().await?;
                self.read(async |conn| {
                    sqlx::query("VACUUM").execute(conn).await?;
                    Ok(())
                })
                .await?;
                self.wal_checkpoint_truncate().await
            }
            Dialect::Postgres => {
                self.read(async |conn| {
                    for table in ["secret_versions", "meta"] {
                        sqlx::query(AssertSqlSafe(format!("VACUUM FULL {table}")))
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
                .await
            }
        }
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`, retried while another connection is busy.
    async fn wal_checkpoint_truncate(&self) -> Result<()> {
        for _ in 0..50 {
            let busy: i64 = self
                .read(async |conn| {
                    let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(conn)
                        .await?;
                    Ok(row.try_get(0)?)
                })
                .await?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::storage(
            "every value is under the first key, but the WAL could not be checkpointed: another process kept the database busy; run rekey again",
        ))
    }
}
