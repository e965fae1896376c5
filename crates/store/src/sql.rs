//! The metadata store on SQLite or PostgreSQL, chosen by the scheme of `DATABASE_URL`.
//! Every SQL statement of secretstore lives in this module.
//!
//! Both databases run the same statements through sqlx's `Any` driver: `$N` placeholders,
//! `RETURNING`, `ON CONFLICT`, and types both understand (BIGINT, TEXT). The schemas differ
//! only where the databases do (identity columns), in `migrations/sqlite` and
//! `migrations/postgres`. On SQLite, write transactions start with `BEGIN IMMEDIATE`: the
//! write lock is taken up front, so two writers queue on the busy timeout instead of
//! failing when a read lock cannot be upgraded. On PostgreSQL, row locks of the
//! `UPDATE … RETURNING` that bumps a version serialize writers of one secret, so
//! `expected_version` has exactly one winner even across servers. Writers of external
//! secrets (AWS, Vault) first take a row of `write_reservations` (checking
//! `expected_version` in the same transaction), write the backend, then record the
//! version and delete the row in one transaction: the backend is only ever written by the
//! writer that will win.

use crate::crypto::Keyring;
use secretstore_core::service::{conflict, not_found};
use secretstore_core::timestamp::{self, OffsetDateTime};
use secretstore_core::{
    Account, AccountKind, AccountStore, AuditEntry, AuditStore, BackendKind, BriefId, BriefStatus,
    BriefSummary, Candidate, Category, DispatchRecord, DispatchStore, DispatchedSecret, Error,
    Expected, LinkPrefixes, NewVersion, Principal, Reservation, Reserved, Result, Role, ScopePath,
    ScopeStore, SecretMeta, SecretName, SecretStore, SessionAuth, SessionInfo, StoredMaterial,
    Task, TaskId, TokenInfo, Version, VersionMeta,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Row};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

/// The value encrypted into the key check, so that a wrong key is caught before any write.
const KEY_CHECK_PLAINTEXT: &[u8] = b"secretstore key check v1";
const KEY_CHECK: &str = "fernet_key_check";

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The embedded migrations of each database's schema.
fn migrator(dialect: Dialect) -> sqlx::migrate::Migrator {
    let m = |version: i64, desc: &'static str, sql: &'static str| {
        sqlx::migrate::Migration::new(
            version,
            Cow::Borrowed(desc),
            sqlx::migrate::MigrationType::Simple,
            sqlx::SqlStr::from_static(sql),
            false,
        )
    };
    sqlx::migrate::Migrator::with_migrations(match dialect {
        Dialect::Sqlite => vec![
            m(
                1,
                "init",
                include_str!("../migrations/sqlite/0001_init.sql"),
            ),
            m(
                2,
                "accounts",
                include_str!("../migrations/sqlite/0002_accounts.sql"),
            ),
            m(
                3,
                "sessions and brief secrets",
                include_str!("../migrations/sqlite/0003_sessions_and_brief_secrets.sql"),
            ),
            m(
                4,
                "session tokens",
                include_str!("../migrations/sqlite/0004_session_tokens.sql"),
            ),
            m(
                5,
                "link policy",
                include_str!("../migrations/sqlite/0005_link_policy.sql"),
            ),
            m(
                6,
                "write reservations and brief backend versions",
                include_str!("../migrations/sqlite/0006_write_reservations.sql"),
            ),
        ],
        Dialect::Postgres => vec![
            m(
                1,
                "init",
                include_str!("../migrations/postgres/0001_init.sql"),
            ),
            m(
                2,
                "accounts",
                include_str!("../migrations/postgres/0002_accounts.sql"),
            ),
            m(
                3,
                "sessions and brief secrets",
                include_str!("../migrations/postgres/0003_sessions_and_brief_secrets.sql"),
            ),
            m(
                4,
                "session tokens",
                include_str!("../migrations/postgres/0004_session_tokens.sql"),
            ),
            m(
                5,
                "link policy",
                include_str!("../migrations/postgres/0005_link_policy.sql"),
            ),
            m(
                6,
                "write reservations and brief backend versions",
                include_str!("../migrations/postgres/0006_write_reservations.sql"),
            ),
        ],
    })
}

/// Pool sizes and timeouts of the database connection.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a caller waits for a free connection.
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits for the write lock.
    pub busy_timeout: Duration,
}

impl PoolSettings {
    pub fn with_connections(max_connections: u32) -> Self {
        PoolSettings {
            max_connections: max_connections.max(1),
            acquire_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// `DATABASE_URL` without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Host and database of a PostgreSQL URL, for a clear message that names no password.
fn pg_target(url: &str) -> String {
    let rest = url.split_once("://").map(|x| x.1).unwrap_or(url);
    let rest = rest.rsplit_once('@').map(|x| x.1).unwrap_or(rest);
    let (hostport, db) = rest.split_once('/').unwrap_or((rest, ""));
    let db = db.split('?').next().unwrap_or("");
    format!(
        "host {hostport}, database {}",
        if db.is_empty() { "(default)" } else { db }
    )
}

/// A connection error's text without the password of `url`.
fn redact_error(text: &str, url: &str) -> String {
    match url
        .split_once("://")
        .and_then(|(_, r)| r.rsplit_once('@'))
        .and_then(|(ui, _)| ui.split_once(':'))
    {
        Some((_, password)) if !password.is_empty() => text.replace(password, "***"),
        _ => text.to_string(),
    }
}

/// The outcome of a failed write transaction: try again, or give up with an error.
enum TxError {
    Retry,
    Fail(Error),
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Fail(e)
    }
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        let retry = e.as_database_error().is_some_and(|d| {
            // 40001 serialization failure, 40P01 deadlock (PostgreSQL); SQLITE_BUSY (5).
            matches!(d.code().as_deref(), Some("40001" | "40P01" | "5"))
        });
        if retry {
            TxError::Retry
        } else {
            TxError::Fail(db(e))
        }
    }
}

fn db(e: sqlx::Error) -> Error {
    Error::Storage(format!("database error: {e}"))
}

/// Now, in milliseconds since the Unix epoch (the clock of write reservations).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// The metadata store.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
}

impl SqlStore {
    /// Opens (creating a SQLite file if needed) and migrates the database at `url`
    /// (`sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:` or `postgres://…`).
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        Self::open_with(url, &PoolSettings::with_connections(max_connections)).await
    }

    /// [`open`](Self::open) with explicit pool settings.
    pub async fn open_with(url: &str, settings: &PoolSettings) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (dialect, connect_url) = if url.starts_with("sqlite:") {
            // Create the file on first use.
            let sep = if url.contains('?') { '&' } else { '?' };
            let u = if url.contains("mode=") || url.contains(":memory:") {
                url.to_string()
            } else {
                format!("{url}{sep}mode=rwc")
            };
            // Created here, owner-only, before SQLite opens it: SQLite gives the WAL and
            // shared-memory files the mode of the database file.
            if let Some(path) = crate::files::sqlite_file(url) {
                crate::files::create_owner_only(&path).map_err(|e| {
                    Error::Storage(format!(
                        "cannot create the database {}: {e}",
                        path.display()
                    ))
                })?;
            }
            (Dialect::Sqlite, u)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Dialect::Postgres, url.to_string())
        } else {
            return Err(Error::config(
                format!("DATABASE_URL: unsupported database {}", redact_url(url)),
                "use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB",
            ));
        };
        if dialect == Dialect::Postgres {
            // One direct attempt first: an unreachable server fails at once, with a clear
            // message, instead of after the pool's acquire timeout of retries.
            use sqlx::Connection;
            let conn = tokio::time::timeout(
                settings.acquire_timeout,
                AnyConnection::connect(&connect_url),
            )
            .await
            .map_err(|_| {
                Error::Storage(format!(
                    "cannot connect to PostgreSQL ({}): timed out",
                    pg_target(url)
                ))
            })?
            .map_err(|e| {
                Error::Storage(format!(
                    "cannot connect to PostgreSQL ({}): {}",
                    pg_target(url),
                    redact_error(&e.to_string(), url)
                ))
            })?;
            let _ = conn.close().await;
        }
        let busy_ms = settings.busy_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers run beside the writer; FULL makes every
                        // acknowledged write survive a crash; the busy timeout makes
                        // writers queue instead of failing with "database is locked".
                        for pragma in [
                            format!("PRAGMA busy_timeout = {busy_ms}"),
                            "PRAGMA journal_mode = WAL".to_string(),
                            "PRAGMA synchronous = FULL".to_string(),
                            "PRAGMA foreign_keys = ON".to_string(),
                            // Deleted and overwritten content is zeroed, not left in free pages.
                            "PRAGMA secure_delete = ON".to_string(),
                        ] {
                            sqlx::query(AssertSqlSafe(pragma))
                                .execute(&mut *conn)
                                .await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&connect_url)
            .await
            .map_err(|e| match dialect {
                Dialect::Sqlite => Error::Storage(format!("cannot open the database {url}: {e}")),
                Dialect::Postgres => Error::Storage(format!(
                    "cannot connect to PostgreSQL ({}): {}",
                    pg_target(url),
                    redact_error(&e.to_string(), url)
                )),
            })?;
        migrator(dialect)
            .run(&pool)
            .await
            .map_err(|e| Error::Storage(format!("cannot migrate the database: {e}")))?;
        Ok(SqlStore { pool, dialect })
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db),
            Dialect::Postgres => self.pool.begin().await.map_err(db),
        }
    }

    /// Checks that `keys` opens what this database holds; on first use, records a check
    /// value encrypted under the first key. A wrong key is an error before anything changes.
    pub async fn check_key(&self, keys: &Keyring) -> Result<()> {
        let stored: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(KEY_CHECK)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
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
                sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                )
                .bind(KEY_CHECK)
                .bind(keys.encrypt(KEY_CHECK_PLAINTEXT))
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }
        }
    }

    /// One attempt of [`MetadataStore::write_versions`].
    async fn write_versions_once(&self, writes: &[NewVersion]) -> Result<Vec<Version>, TxError> {
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
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
                    return Err(TxError::Fail(Error::Conflict(format!(
                        "the write reservation of {} at {} expired before the new version was recorded; nothing was recorded",
                        w.name, w.scope
                    ))));
                }
            }
            let sid = scope_id(&mut tx, &w.scope).await?.ok_or_else(|| {
                TxError::Fail(Error::NotFound(format!(
                    "unknown {} {}",
                    w.scope.level().as_str(),
                    w.scope
                )))
            })?;
            let now = &stamp(w.audit.at);
            // A write that expects the secret to be absent never updates one.
            let updated: Option<(i64, i64)> = if w.expected == Some(Expected::Absent) {
                None
            } else {
                sqlx::query_as(
                    "UPDATE secrets SET current_version = current_version + 1, updated_at = $3, \
                        updated_by = $4, category = COALESCE($5, category) \
                     WHERE scope_id = $1 AND name = $2 \
                       AND (CAST($6 AS BIGINT) IS NULL OR current_version = $6) \
                     RETURNING id, current_version",
                )
                .bind(sid)
                .bind(w.name.as_str())
                .bind(now)
                .bind(&w.by)
                .bind(w.category.map(|c| c.as_str()))
                .bind(w.expected.and_then(Expected::version))
                .fetch_optional(&mut *tx)
                .await?
            };
            let (secret_id, version) = match updated {
                Some(x) => x,
                None => {
                    let current: Option<i64> = sqlx::query_scalar(
                        "SELECT current_version FROM secrets WHERE scope_id = $1 AND name = $2",
                    )
                    .bind(sid)
                    .bind(w.name.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(cur) = current {
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
                    let inserted: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
                        "INSERT INTO secrets (scope_id, name, category, backend, current_version, \
                            created_at, updated_at, updated_by) \
                         VALUES ($1, $2, $3, $4, 1, $5, $5, $6) RETURNING id",
                    )
                    .bind(sid)
                    .bind(w.name.as_str())
                    .bind(category.as_str())
                    .bind(w.backend.as_str())
                    .bind(now)
                    .bind(&w.by)
                    .fetch_one(&mut *tx)
                    .await;
                    match inserted {
                        Ok(id) => (id, 1),
                        // Another server created it a moment ago: start over as an update.
                        Err(e) if is_unique_violation(&e) => return Err(TxError::Retry),
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            sqlx::query(
                "INSERT INTO secret_versions (secret_id, version, ciphertext, backend_ref, \
                    backend_version, rollback_of, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(secret_id)
            .bind(version)
            .bind(&w.material.ciphertext)
            .bind(&w.material.backend_ref)
            .bind(&w.material.backend_version)
            .bind(w.rollback_of)
            .bind(now)
            .bind(&w.by)
            .execute(&mut *tx)
            .await?;
            let audit = w.audit.clone().version(version);
            insert_audit(&mut tx, &audit).await.map_err(TxError::Fail)?;
            out.push(version);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// One attempt of [`MetadataStore::reserve_writes`]: the reservations and what the
    /// database holds of each secret, or the index of a secret another writer holds.
    async fn reserve_once(
        &self,
        holder: &str,
        items: &[Reservation],
        ttl: Duration,
    ) -> Result<std::result::Result<Vec<Reserved>, usize>, TxError> {
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
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
            "SELECT {META_COLUMNS}, v.ciphertext, v.backend_ref, v.backend_version \
             FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
             WHERE sc.path = $1 AND s.name = $2"
        );
        for i in order {
            let it = &items[i];
            if scope_id(&mut tx, &it.scope).await?.is_none() {
                return Err(TxError::Fail(Error::NotFound(format!(
                    "unknown {} {}",
                    it.scope.level().as_str(),
                    it.scope
                ))));
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
            let row = sqlx::query(AssertSqlSafe(current_sql.clone()))
                .bind(it.scope.as_str())
                .bind(it.name.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let current = match row {
                Some(r) => Some((meta_row(&r)?, material_row(&r)?)),
                None => None,
            };
            let version = current.as_ref().map(|(m, _)| m.version);
            if let Some(e) = it.expected.filter(|e| !e.admits(version)) {
                return Err(conflict(&it.scope, &it.name, e, version).into());
            }
            out[i] = current;
        }
        tx.commit().await?;
        Ok(Ok(out))
    }

    /// How many local values (every version) the database holds.
    pub async fn count_ciphertexts(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM secret_versions WHERE ciphertext IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    /// One page of stored Fernet tokens after `(secret_id, version)`, in key order.
    pub async fn ciphertext_page(
        &self,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<(i64, i64, String)>> {
        let (sid, ver) = after.unwrap_or((i64::MIN, i64::MIN));
        sqlx::query_as(
            "SELECT secret_id, version, ciphertext FROM secret_versions \
             WHERE ciphertext IS NOT NULL \
               AND (secret_id > $1 OR (secret_id = $1 AND version > $2)) \
             ORDER BY secret_id, version LIMIT $3",
        )
        .bind(sid)
        .bind(ver)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    /// Replaces tokens in one short transaction, each only if it is still the token that
    /// was read (a concurrent write is never overwritten); returns how many were replaced.
    pub async fn replace_ciphertexts(&self, rows: &[(i64, i64, String, String)]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
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
            .await
            .map_err(db)?
            .rows_affected();
        }
        tx.commit().await.map_err(db)?;
        Ok(n)
    }

    /// Re-encrypts the database's key check under the first key of `keys`.
    pub async fn rekey_key_check(&self, keys: &Keyring) -> Result<()> {
        sqlx::query("UPDATE meta SET value = $2 WHERE key = $1")
            .bind(KEY_CHECK)
            .bind(keys.encrypt(KEY_CHECK_PLAINTEXT))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
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
                sqlx::query("VACUUM")
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                self.wal_checkpoint_truncate().await
            }
            Dialect::Postgres => {
                for table in ["secret_versions", "meta"] {
                    sqlx::query(AssertSqlSafe(format!("VACUUM FULL {table}")))
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                }
                Ok(())
            }
        }
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`, retried while another connection is busy.
    async fn wal_checkpoint_truncate(&self) -> Result<()> {
        for _ in 0..50 {
            let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
            let busy: i64 = row.try_get(0).map_err(db)?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::Storage(
            "every value is under the first key, but the WAL could not be checkpointed: another process kept the database busy; run rekey again".into(),
        ))
    }

    /// The pool, for the store's own tests.
    #[doc(hidden)]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

fn audit_row(r: &AnyRow) -> Result<AuditEntry> {
    let detail: Option<String> = r.try_get("detail").map_err(db)?;
    Ok(AuditEntry {
        id: Some(r.try_get("id").map_err(db)?),
        at: at_col(r, "at")?,
        actor: r.try_get("actor").map_err(db)?,
        action: r.try_get("action").map_err(db)?,
        scope: r.try_get("scope").map_err(db)?,
        name: r.try_get("name").map_err(db)?,
        version: r.try_get("version").map_err(db)?,
        target: r.try_get("target").map_err(db)?,
        source: r.try_get("source").map_err(db)?,
        detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

async fn insert_audit(conn: &mut AnyConnection, a: &AuditEntry) -> Result<()> {
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
    .await
    .map_err(db)?;
    Ok(())
}

async fn scope_id(conn: &mut AnyConnection, path: &ScopePath) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM scopes WHERE path = $1")
        .bind(path.as_str())
        .fetch_optional(conn)
        .await
        .map_err(db)
}

const META_COLUMNS: &str = "sc.path AS scope, s.name, s.category, s.backend, s.current_version, \
     s.created_at, s.updated_at, s.updated_by";

fn meta_row(r: &AnyRow) -> Result<SecretMeta> {
    let category: String = r.try_get("category").map_err(db)?;
    let backend: String = r.try_get("backend").map_err(db)?;
    Ok(SecretMeta {
        scope: scope_at(r, "scope")?,
        name: r.try_get("name").map_err(db)?,
        category: Category::from_str(&category).map_err(|_| {
            Error::Storage(format!("unknown category {category:?} in the database"))
        })?,
        backend: BackendKind::from_str(&backend)
            .map_err(|_| Error::Storage(format!("unknown backend {backend:?} in the database")))?,
        version: r.try_get("current_version").map_err(db)?,
        created_at: at_col(r, "created_at")?,
        updated_at: at_col(r, "updated_at")?,
        updated_by: r.try_get("updated_by").map_err(db)?,
    })
}

/// A timestamp as stored: the one text format of [`timestamp::format()`].
fn stamp(t: OffsetDateTime) -> String {
    timestamp::format(t)
}

/// A stored timestamp; one not in the one text format is a corrupt row.
fn at_text(s: &str) -> Result<OffsetDateTime> {
    timestamp::parse(s)
        .map_err(|_| Error::Storage(format!("invalid timestamp {s:?} in the database")))
}

/// A timestamp column.
fn at_col(r: &AnyRow, col: &str) -> Result<OffsetDateTime> {
    let s: String = r.try_get(col).map_err(db)?;
    at_text(&s)
}

/// A timestamp column that may be NULL.
fn at_opt_col(r: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>> {
    let s: Option<String> = r.try_get(col).map_err(db)?;
    s.as_deref().map(at_text).transpose()
}

/// A scope path read from a column; one that does not parse is a corrupt row.
fn scope_col(path: &str) -> Result<ScopePath> {
    ScopePath::parse(path)
        .map_err(|_| Error::Storage(format!("invalid scope path {path:?} in the database")))
}

/// A scope path column.
fn scope_at(r: &AnyRow, col: &str) -> Result<ScopePath> {
    let s: String = r.try_get(col).map_err(db)?;
    scope_col(&s)
}

/// A brief's `status` column; an unknown word is a corrupt row.
fn status_col(r: &AnyRow) -> Result<BriefStatus> {
    let status: String = r.try_get("status").map_err(db)?;
    BriefStatus::from_str(&status)
        .map_err(|_| Error::Storage(format!("unknown brief status {status:?} in the database")))
}

fn material_row(r: &AnyRow) -> Result<StoredMaterial> {
    Ok(StoredMaterial {
        ciphertext: r.try_get("ciphertext").map_err(db)?,
        backend_ref: r.try_get("backend_ref").map_err(db)?,
        backend_version: r.try_get("backend_version").map_err(db)?,
    })
}

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
        let mut tx = self.begin_write().await?;
        let parent_id = match path.parent() {
            None => None,
            Some(parent) => match scope_id(&mut tx, &parent).await? {
                Some(id) => Some(id),
                None => return Err(parent_missing(path)),
            },
        };
        let inserted = sqlx::query(
            "INSERT INTO scopes (path, level, parent_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(path.as_str())
        .bind(path.level().as_str())
        .bind(parent_id)
        .bind(stamp(audit.at))
        .bind(&audit.actor)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::AlreadyExists(format!(
                    "{} {path} already exists",
                    path.level().as_str()
                )));
            }
            Err(e) => return Err(db(e)),
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn scope_exists(&self, path: &ScopePath) -> Result<bool> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        Ok(scope_id(&mut conn, path).await?.is_some())
    }

    async fn list_scopes(&self) -> Result<Vec<ScopePath>> {
        let paths: Vec<String> = sqlx::query_scalar("SELECT path FROM scopes ORDER BY path")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paths.iter().map(|p| ScopePath::parse(p)).collect()
    }

    async fn link_prefixes(&self, org: &ScopePath) -> Result<LinkPrefixes> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT lp.backend, lp.prefix FROM link_prefixes lp JOIN scopes sc ON sc.id = lp.org_id \
             WHERE sc.path = $1 ORDER BY lp.backend, lp.prefix",
        )
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
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
        let mut tx = self.begin_write().await?;
        let id = scope_id(&mut tx, org)
            .await?
            .ok_or_else(|| Error::NotFound(format!("unknown organization {org}")))?;
        sqlx::query("DELETE FROM link_prefixes WHERE org_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
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
                .await
                .map_err(db)?;
            }
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }
}

impl SecretStore for SqlStore {
    async fn secret(&self, scope: &ScopePath, name: &SecretName) -> Result<Option<SecretMeta>> {
        let sql = format!(
            "SELECT {META_COLUMNS} FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             WHERE sc.path = $1 AND s.name = $2"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(scope.as_str())
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .as_ref()
            .map(meta_row)
            .transpose()
    }

    async fn list_secrets(&self, scope: &ScopePath) -> Result<Vec<SecretMeta>> {
        let sql = format!(
            "SELECT {META_COLUMNS} FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             WHERE sc.path = $1 ORDER BY s.name"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(scope.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(meta_row)
            .collect()
    }

    async fn versions(&self, scope: &ScopePath, name: &SecretName) -> Result<Vec<VersionMeta>> {
        let rows = sqlx::query(
            "SELECT v.version, v.created_at, v.created_by, v.backend_version, v.rollback_of, \
                    s.current_version \
             FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             JOIN secret_versions v ON v.secret_id = s.id \
             WHERE sc.path = $1 AND s.name = $2 ORDER BY v.version DESC",
        )
        .bind(scope.as_str())
        .bind(name.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        if rows.is_empty() {
            return Err(not_found(scope, name));
        }
        rows.iter()
            .map(|r| {
                let version: Version = r.try_get("version").map_err(db)?;
                let current: Version = r.try_get("current_version").map_err(db)?;
                Ok(VersionMeta {
                    version,
                    created_at: at_col(r, "created_at")?,
                    created_by: r.try_get("created_by").map_err(db)?,
                    backend_version: r.try_get("backend_version").map_err(db)?,
                    rollback_of: r.try_get("rollback_of").map_err(db)?,
                    current: version == current,
                })
            })
            .collect()
    }

    async fn material(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        version: Option<Version>,
    ) -> Result<(SecretMeta, Version, StoredMaterial)> {
        let sql = format!(
            "SELECT {META_COLUMNS}, v.version, v.ciphertext, v.backend_ref, v.backend_version \
             FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             JOIN secret_versions v ON v.secret_id = s.id AND v.version = COALESCE(CAST($3 AS BIGINT), s.current_version) \
             WHERE sc.path = $1 AND s.name = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.as_str())
            .bind(name.as_str())
            .bind(version)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match row {
            Some(r) => Ok((
                meta_row(&r)?,
                r.try_get("version").map_err(db)?,
                material_row(&r)?,
            )),
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
                Err(TxError::Fail(e)) => return Err(e),
                Err(TxError::Retry) if attempt < 5 => {
                    tokio::time::sleep(Duration::from_millis(5 * attempt)).await;
                }
                Err(TxError::Retry) => {
                    return Err(Error::Storage(
                        "the write kept conflicting with concurrent writes; try again".into(),
                    ));
                }
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
                Err(TxError::Fail(e)) => return Err(e),
                Err(TxError::Retry) if attempt < 50 => {}
                Err(TxError::Retry) => {
                    return Err(Error::Storage(
                        "the write kept conflicting with concurrent writes; try again".into(),
                    ));
                }
            }
            tokio::time::sleep(pause).await;
        }
    }

    async fn release_writes(&self, holder: &str, items: &[Reservation]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for it in items {
            sqlx::query(
                "DELETE FROM write_reservations WHERE scope = $1 AND name = $2 AND holder = $3",
            )
            .bind(it.scope.as_str())
            .bind(it.name.as_str())
            .bind(holder)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn delete_secret(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        audit: AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let deleted: Option<i64> = sqlx::query_scalar(
            "DELETE FROM secrets WHERE scope_id = (SELECT id FROM scopes WHERE path = $1) AND name = $2 \
             RETURNING current_version",
        )
        .bind(scope.as_str())
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(version) = deleted else {
            return Err(not_found(scope, name));
        };
        insert_audit(&mut tx, &audit.version(version)).await?;
        tx.commit().await.map_err(db)
    }

    async fn candidates(
        &self,
        chain: &[ScopePath],
        names: &[SecretName],
    ) -> Result<Vec<Candidate>> {
        if chain.is_empty() || names.is_empty() {
            return Ok(Vec::new());
        }
        let scope_ph = (1..=chain.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let name_ph = (chain.len() + 1..=chain.len() + names.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Metadata and the current version's material in one statement: a brief's version
        // and the env's value always come from the same row.
        let sql = format!(
            "SELECT {META_COLUMNS}, v.ciphertext, v.backend_ref, v.backend_version \
             FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
             WHERE sc.path IN ({scope_ph}) AND s.name IN ({name_ph})"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for s in chain {
            q = q.bind(s.as_str());
        }
        for n in names {
            q = q.bind(n.as_str());
        }
        q.fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|r| {
                Ok(Candidate {
                    meta: meta_row(r)?,
                    material: material_row(r)?,
                })
            })
            .collect()
    }

    async fn link_approval(&self, scope: &ScopePath, name: &SecretName) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT la.reference FROM link_approvals la JOIN secrets s ON s.id = la.secret_id \
             JOIN scopes sc ON sc.id = s.scope_id WHERE sc.path = $1 AND s.name = $2",
        )
        .bind(scope.as_str())
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    async fn set_link_approval(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        approval: Option<(&str, &str)>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT s.id FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             WHERE sc.path = $1 AND s.name = $2",
        )
        .bind(scope.as_str())
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let id = id.ok_or_else(|| not_found(scope, name))?;
        sqlx::query("DELETE FROM link_approvals WHERE secret_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
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
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}

impl DispatchStore for SqlStore {
    async fn create_task(&self, task: &Task, audit: AuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let project = &task.project;
        let pid = scope_id(&mut tx, project)
            .await?
            .ok_or_else(|| Error::NotFound(format!("unknown project {project}")))?;
        let refs = serde_json::to_string(&task.secret_refs)
            .map_err(|e| Error::Storage(format!("cannot encode refs: {e}")))?;
        sqlx::query(
            "INSERT INTO tasks (id, project_id, secret_refs, payload, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(task.id.as_str())
        .bind(pid)
        .bind(refs)
        .bind(task.payload.as_ref().map(|p| p.to_string()))
        .bind(stamp(task.created_at))
        .bind(&task.created_by)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn task(&self, id: &TaskId) -> Result<Task> {
        let row = sqlx::query(
            "SELECT t.id, sc.path, t.secret_refs, t.payload, t.created_at, t.created_by \
             FROM tasks t JOIN scopes sc ON sc.id = t.project_id WHERE t.id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::NotFound(format!("no task {id}")))?;
        let refs: String = row.try_get("secret_refs").map_err(db)?;
        let payload: Option<String> = row.try_get("payload").map_err(db)?;
        let corrupt = |e: serde_json::Error| Error::Storage(format!("task {id} is corrupt: {e}"));
        Ok(Task {
            id: id.clone(),
            project: scope_at(&row, "path")?,
            secret_refs: serde_json::from_str(&refs).map_err(corrupt)?,
            payload: payload
                .map(|p| serde_json::from_str(&p))
                .transpose()
                .map_err(corrupt)?,
            created_at: at_col(&row, "created_at")?,
            created_by: row.try_get("created_by").map_err(db)?,
        })
    }

    async fn record_dispatch(&self, rec: &DispatchRecord, audit: AuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO briefs (id, task_id, project, created_at, token_hash, expires_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(rec.brief_id.as_str())
        .bind(rec.task_id.as_str())
        .bind(rec.project.as_str())
        .bind(stamp(rec.created_at))
        .bind(&rec.token_hash)
        .bind(stamp(rec.expires_at))
        .bind(rec.status.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for s in &rec.secrets {
            sqlx::query(
                "INSERT INTO brief_secrets (brief_id, scope, name, version, backend_version) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(rec.brief_id.as_str())
            .bind(s.scope.as_str())
            .bind(&s.name)
            .bind(s.version)
            .bind(&s.backend_version)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn dispatch_record(&self, id: &BriefId) -> Result<DispatchRecord> {
        let r = sqlx::query(
            "SELECT id, task_id, project, created_at, token_hash, expires_at, status, completed_at, \
                    revoked_at FROM briefs WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::NotFound(format!("no brief {id}")))?;
        let task: String = r.try_get("task_id").map_err(db)?;
        let revoked: Option<String> = r.try_get("revoked_at").map_err(db)?;
        let secrets: Vec<(String, String, Version, Option<String>)> = sqlx::query_as(
            "SELECT scope, name, version, backend_version FROM brief_secrets \
             WHERE brief_id = $1 ORDER BY name",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(DispatchRecord {
            brief_id: id.clone(),
            task_id: TaskId::parse(&task)?,
            project: scope_at(&r, "project")?,
            created_at: at_col(&r, "created_at")?,
            token_hash: r.try_get("token_hash").map_err(db)?,
            expires_at: at_col(&r, "expires_at")?,
            status: status_col(&r)?,
            completed_at: at_opt_col(&r, "completed_at")?,
            revoked: revoked.is_some(),
            secrets: secrets
                .into_iter()
                .map(|(scope, name, version, backend_version)| {
                    Ok(DispatchedSecret {
                        scope: scope_col(&scope)?,
                        name,
                        version,
                        backend_version,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }

    async fn recent_briefs(&self, limit: i64) -> Result<Vec<BriefSummary>> {
        let rows = sqlx::query(
            "SELECT id, task_id, project, created_at, status, completed_at FROM briefs \
             ORDER BY created_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get("id").map_err(db)?;
            // A secret is stale for this brief when it has a newer version or is gone.
            let stale: Vec<String> = sqlx::query_scalar(
                "SELECT bs.name FROM brief_secrets bs \
                 LEFT JOIN scopes sc ON sc.path = bs.scope \
                 LEFT JOIN secrets s ON s.scope_id = sc.id AND s.name = bs.name \
                 WHERE bs.brief_id = $1 AND (s.id IS NULL OR s.current_version > bs.version) \
                 ORDER BY bs.name",
            )
            .bind(&id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            out.push(BriefSummary {
                brief_id: id,
                task_id: r.try_get("task_id").map_err(db)?,
                project: scope_at(r, "project")?,
                created_at: at_col(r, "created_at")?,
                status: status_col(r)?,
                completed_at: at_opt_col(r, "completed_at")?,
                stale,
            });
        }
        Ok(out)
    }

    async fn complete_brief(
        &self,
        id: &BriefId,
        status: BriefStatus,
        audit: AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        // Check and complete in one statement: of concurrent callbacks, one finds the brief
        // running (SQLite: the write lock; PostgreSQL: the row lock, then the condition is
        // evaluated again), the others find no row.
        let done = sqlx::query(
            "UPDATE briefs SET status = $2, completed_at = $3 \
             WHERE id = $1 AND status = 'running' AND revoked_at IS NULL",
        )
        .bind(id.as_str())
        .bind(status.as_str())
        .bind(stamp(audit.at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn revoke_brief(&self, id: &BriefId, audit: AuditEntry) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE briefs SET status = 'revoked', revoked_at = $2 \
             WHERE id = $1 AND status = 'running' AND revoked_at IS NULL",
        )
        .bind(id.as_str())
        .bind(stamp(audit.at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }
}

impl AuditStore for SqlStore {
    async fn append_audit(&self, audit: AuditEntry) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        insert_audit(&mut conn, &audit).await
    }

    async fn audit_log(&self, roots: Option<&[ScopePath]>, limit: i64) -> Result<Vec<AuditEntry>> {
        let mut sql = String::from(
            "SELECT id, at, actor, action, scope, name, version, target, source, detail FROM audit",
        );
        let mut binds: Vec<String> = Vec::new();
        if let Some(roots) = roots {
            if roots.is_empty() {
                return Ok(Vec::new());
            }
            let mut conds = Vec::new();
            for r in roots {
                binds.push(r.to_string());
                binds.push(format!("{}/%", r.as_str().replace('_', "\\_")));
                conds.push(format!(
                    "scope = ${} OR scope LIKE ${} ESCAPE '\\'",
                    binds.len() - 1,
                    binds.len()
                ));
            }
            sql.push_str(&format!(" WHERE {}", conds.join(" OR ")));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", binds.len() + 1));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await.map_err(db)?;
        let mut out = rows.iter().map(audit_row).collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }
}

/// account, csrf, expires_at, public id, role, role scope.
type SessionRow = (String, String, String, String, String, String);

fn role_columns(role: &Role) -> (&'static str, String) {
    (
        role.name(),
        role.scope().map(|s| s.to_string()).unwrap_or_default(),
    )
}

fn role_from_columns(role: &str, scope: &str) -> Result<Role> {
    Role::parse(role, (!scope.is_empty()).then_some(scope))
        .map_err(|e| Error::Storage(format!("bad grant in the database: {e}")))
}

async fn account_id(conn: &mut AnyConnection, name: &str) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::NotFound(format!("no account {name}")))
}

impl AccountStore for SqlStore {
    async fn bootstrap_root(
        &self,
        token_id: &str,
        token_hash: &str,
        audit: AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let any: Option<i64> = sqlx::query_scalar("SELECT id FROM accounts LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if any.is_some() {
            return Ok(false);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (name, kind, created_at, created_by) VALUES ('root', 'person', $1, $2) RETURNING id",
        )
        .bind(stamp(audit.at))
        .bind(&audit.actor)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO grants (account_id, role, scope, created_at, created_by) VALUES ($1, 'root', '', $2, $3)",
        )
        .bind(id)
        .bind(stamp(audit.at))
        .bind(&audit.actor)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO api_tokens (id, account_id, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_id)
        .bind(id)
        .bind(token_hash)
        .bind(stamp(audit.at))
        .bind(&audit.actor)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn create_account(&self, name: &str, kind: AccountKind, audit: AuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "INSERT INTO accounts (name, kind, created_at, created_by) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(kind.as_str())
        .bind(stamp(audit.at))
        .bind(&audit.actor)
        .execute(&mut *tx)
        .await;
        match r {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::AlreadyExists(format!(
                    "account {name} already exists"
                )));
            }
            Err(e) => return Err(db(e)),
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn account(&self, name: &str) -> Result<Account> {
        let row = sqlx::query("SELECT id, name, kind, created_at FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("no account {name}")))?;
        let id: i64 = row.try_get("id").map_err(db)?;
        let kind: String = row.try_get("kind").map_err(db)?;
        let grants: Vec<(String, String)> = sqlx::query_as(
            "SELECT role, scope FROM grants WHERE account_id = $1 ORDER BY role, scope",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(Account {
            name: row.try_get("name").map_err(db)?,
            kind: AccountKind::parse(&kind)?,
            created_at: at_col(&row, "created_at")?,
            roles: grants
                .iter()
                .map(|(r, s)| role_from_columns(r, s))
                .collect::<Result<_>>()?,
        })
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM accounts ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            out.push(self.account(&n).await?);
        }
        Ok(out)
    }

    async fn grant(&self, name: &str, role: &Role, audit: AuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = account_id(&mut tx, name).await?;
        let (r, s) = role_columns(role);
        sqlx::query(
            "INSERT INTO grants (account_id, role, scope, created_at, created_by) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account_id, role, scope) DO NOTHING",
        )
        .bind(id)
        .bind(r)
        .bind(s)
        .bind(stamp(audit.at))
        .bind(&audit.actor)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn revoke_grant(&self, name: &str, role: &Role, audit: AuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = account_id(&mut tx, name).await?;
        let (r, s) = role_columns(role);
        let done =
            sqlx::query("DELETE FROM grants WHERE account_id = $1 AND role = $2 AND scope = $3")
                .bind(id)
                .bind(r)
                .bind(s)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("{name} has no grant {role}")));
        }
        // The last grant gone, the account's web UI sessions end for good.
        sqlx::query(
            "DELETE FROM sessions WHERE account_id = $1 \
               AND NOT EXISTS (SELECT 1 FROM grants WHERE account_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn create_token(
        &self,
        name: &str,
        token_id: &str,
        token_hash: &str,
        audit: AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = account_id(&mut tx, name).await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, account_id, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_id)
        .bind(id)
        .bind(token_hash)
        .bind(stamp(audit.at))
        .bind(&audit.actor)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn revoke_token(&self, id: &str, audit: AuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(stamp(audit.at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("no active token {id}")));
        }
        // Its web UI sessions end with it.
        sqlx::query("DELETE FROM sessions WHERE token_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn list_tokens(&self, name: &str) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT t.id, a.name, t.created_at, t.revoked_at FROM api_tokens t \
             JOIN accounts a ON a.id = t.account_id WHERE a.name = $1 ORDER BY t.created_at, t.id",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id").map_err(db)?,
                    account: r.try_get("name").map_err(db)?,
                    created_at: at_col(r, "created_at")?,
                    revoked_at: at_opt_col(r, "revoked_at")?,
                })
            })
            .collect()
    }

    async fn principal_by_token_hash(&self, hash: &str, source: &str) -> Result<Option<Principal>> {
        let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT a.name, g.role, g.scope FROM api_tokens t \
             JOIN accounts a ON a.id = t.account_id \
             LEFT JOIN grants g ON g.account_id = a.id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let Some((account, _, _)) = rows.first() else {
            return Ok(None);
        };
        let mut roles = Vec::new();
        for (_, r, s) in &rows {
            if let Some(r) = r {
                roles.push(role_from_columns(r, s.as_deref().unwrap_or(""))?);
            }
        }
        Ok(Some(Principal {
            account: account.clone(),
            roles,
            source: source.to_owned(),
        }))
    }

    async fn create_session(
        &self,
        id_hash: &str,
        token_hash: &str,
        public_id: &str,
        csrf: &str,
        expires_at: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The token is looked up again in the session's transaction: one revoked a moment
        // ago makes no session.
        let token: Option<(String, i64)> = sqlx::query_as(
            "SELECT id, account_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some((token_id, account_id)) = token else {
            return Err(Error::Unauthorized(
                "invalid or revoked API token".to_string(),
            ));
        };
        // Expired sessions are swept on the way.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(stamp(audit.at))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
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
        .await
        .map_err(db)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn session_by_hash(&self, id_hash: &str, source: &str) -> Result<Option<SessionAuth>> {
        // One query: a session whose token was revoked, or whose account has no grant
        // left, finds no row (the inner joins), exactly like an unknown one.
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT a.name, se.csrf, se.expires_at, se.public_id, g.role, g.scope FROM sessions se \
             JOIN api_tokens t ON t.id = se.token_id AND t.revoked_at IS NULL \
             JOIN accounts a ON a.id = se.account_id AND a.id = t.account_id \
             JOIN grants g ON g.account_id = a.id \
             WHERE se.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let Some((account, csrf, expires_at, public_id, _, _)) = rows.first().cloned() else {
            return Ok(None);
        };
        let mut roles = Vec::new();
        for (_, _, _, _, r, s) in &rows {
            roles.push(role_from_columns(r, s)?);
        }
        Ok(Some(SessionAuth {
            who: Principal {
                account,
                roles,
                source: source.to_owned(),
            },
            csrf,
            expires_at: at_text(&expires_at)?,
            public_id,
        }))
    }

    async fn list_sessions(
        &self,
        account: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>> {
        let rows: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT se.public_id, a.name, se.token_id, se.created_at, se.expires_at, se.source \
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
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(id, account, token_id, created_at, expires_at, source)| {
                Ok(SessionInfo {
                    id,
                    account,
                    token_id,
                    created_at: at_text(&created_at)?,
                    expires_at: at_text(&expires_at)?,
                    source,
                })
            })
            .collect()
    }

    async fn end_session(
        &self,
        public_id: &str,
        account: Option<&str>,
        audit: AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT a.name FROM sessions se JOIN accounts a ON a.id = se.account_id \
             WHERE se.public_id = $1 AND (CAST($2 AS TEXT) IS NULL OR a.name = $2)",
        )
        .bind(public_id)
        .bind(account)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if owner.is_some() {
            sqlx::query("DELETE FROM sessions WHERE public_id = $1")
                .bind(public_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let Some(owner) = owner else {
            return Err(Error::NotFound(format!("no session {public_id}")));
        };
        let audit = audit.detail(serde_json::json!({ "account": owner }));
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
