//! Opening the database: the URL's scheme picks the dialect, the pool is set up for it
//! (SQLite's pragmas), and the embedded migrations run.

use super::error::StoreError;
use super::group::GroupWriter;
use super::lite::{self, Lite};
use super::{Dialect, SqlStore};
use crate::files;
use secretstore_core::{Error, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};
use std::sync::Arc;
use std::time::Duration;

/// The schema of each database, embedded at build time. The file names give each
/// migration's version and description, as the hand-written list before them did: a
/// database created by an earlier build opens with the same checksums.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Pool sizes and timeouts of the database connection.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// How many connections the pool opens at most.
    pub max_connections: u32,
    /// How long a caller waits for a free connection.
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits for the write lock.
    pub busy_timeout: Duration,
}

impl PoolSettings {
    /// The default timeouts with up to `max_connections` connections (at least one).
    pub fn with_connections(max_connections: u32) -> Self {
        PoolSettings {
            max_connections: max_connections.max(1),
            acquire_timeout: Duration::from_secs(5),
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

/// "cannot connect to PostgreSQL (host …, database …): why", without the password.
fn pg_unreachable(url: &str, why: &str) -> Error {
    Error::storage(format!(
        "cannot connect to PostgreSQL ({}): {}",
        pg_target(url),
        redact_error(why, url)
    ))
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
            if let Some(path) = files::sqlite_file(url) {
                files::create_owner_only(&path).map_err(|e| {
                    Error::storage(format!(
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
            let conn = tokio::time::timeout(
                settings.acquire_timeout,
                AnyConnection::connect(&connect_url),
            )
            .await
            .map_err(|_| pg_unreachable(url, "timed out"))?
            .map_err(|e| pg_unreachable(url, &e.to_string()))?;
            let _ = conn.close().await;
        }
        let busy_ms = settings.busy_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            // A SQLite connection is a file handle in this process: it cannot go stale, so
            // the ping before each use (a round trip through sqlx's worker thread) buys
            // nothing. A PostgreSQL connection can (the server restarted): pinged.
            .test_before_acquire(dialect == Dialect::Postgres)
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
                    } else {
                        // The same bound on waiting for a lock as SQLite's busy timeout: a
                        // statement stalled behind another's lock fails (55P03, answered 503
                        // `database_unavailable`) instead of waiting forever.
                        sqlx::query(AssertSqlSafe(format!("SET lock_timeout = {busy_ms}")))
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&connect_url)
            .await
            .map_err(|e| match dialect {
                Dialect::Sqlite => Error::storage(format!("cannot open the database {url}: {e}")),
                Dialect::Postgres => pg_unreachable(url, &e.to_string()),
            })?;
        let migrator = match dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| Error::storage(format!("cannot migrate the database: {e}")))?;
        let mut store = SqlStore {
            pool,
            dialect,
            audit: None,
            tokens: Default::default(),
            lite: None,
        };
        // A SQLite file: the hot reads on the calling thread and the group commit on a
        // thread of its own (lite.rs); in memory and on PostgreSQL, everything through
        // the pool.
        let file = (dialect == Dialect::Sqlite)
            .then(|| files::sqlite_file(url))
            .flatten();
        let lite_failed = |e: StoreError| {
            Error::storage(format!(
                "cannot open the database {url}: {}",
                Error::from(e)
            ))
        };
        let writer = match &file {
            Some(path) => {
                store.lite = Some(Arc::new(Lite::open(path).map_err(lite_failed)?));
                let conn = lite::writer(path, settings.busy_timeout).map_err(lite_failed)?;
                GroupWriter::start_lite(conn)
                    .map_err(|e| Error::storage(format!("cannot start the database writer: {e}")))?
            }
            None => GroupWriter::start(store.clone()),
        };
        store.audit = Some(Arc::new(writer));
        Ok(store)
    }
}
