//! SQLite without a thread hop, for the statements on the path of every reveal and
//! dispatch.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and hands every
//! statement and every row across a channel: for a one-row primary-key read, the two
//! thread wake-ups cost more than the read (perf showed 45% of a loaded server's time in
//! those hand-offs, BENCHMARKS.md). Here the hot reads run through rusqlite (the same
//! libsqlite3 as sqlx's, on the same file) on the calling thread, and the group commit of
//! audit and dispatch records runs on one thread that owns its connection, so a whole
//! batch costs one hand-off.
//!
//! A read on the calling thread never waits for a lock: its connection has no busy
//! timeout, so a database that is locked (an exclusive lock of another process, a WAL
//! recovery) answers `SQLITE_BUSY` at once, and the caller runs the same statement
//! through the pool, which waits on a thread of its own. In WAL mode a reader is not
//! blocked by writers, so that fallback is rare. What does run on the calling thread is
//! a read of a few pages of a local file.

use super::error::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags, ToSql};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Idle reader connections kept open (more are opened when more callers read at once,
/// and closed after use).
const KEEP_IDLE: usize = 16;
/// Prepared statements kept per connection (the candidate reads of a dispatch vary with
/// the number of scopes and names).
const STATEMENT_CACHE: usize = 64;

/// The readers of one SQLite file.
pub(super) struct Lite {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Lite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lite").field("path", &self.path).finish()
    }
}

/// What a read on the calling thread gives: the rows, or `Busy` when the database was
/// locked (the caller reads through the pool instead).
pub(super) enum Inline<T> {
    Done(StoreResult<T>),
    Busy,
}

impl Lite {
    /// The readers of the (existing, migrated) database file at `path`; one connection
    /// is opened now, so that a file that cannot be opened fails here.
    pub(super) fn open(path: &Path) -> StoreResult<Lite> {
        let lite = Lite {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        };
        let first = lite.connect()?;
        lite.idle_list().push(first);
        Ok(lite)
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while the list was held cannot leave it inconsistent (push and pop).
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connect(&self) -> StoreResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Never wait on the calling thread: a locked database answers SQLITE_BUSY at once.
        conn.busy_timeout(Duration::ZERO)?;
        // These connections only read; a write through one would bypass the store's
        // transactions.
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `body` on a reader connection, on the calling thread.
    pub(super) fn read<T>(&self, body: impl FnOnce(&Connection) -> StoreResult<T>) -> Inline<T> {
        let conn = match self.idle_list().pop() {
            Some(c) => c,
            None => match self.connect() {
                Ok(c) => c,
                Err(e) => return Inline::Done(Err(e)),
            },
        };
        let out = body(&conn);
        // A reader left inside a transaction (cannot happen with these statements) is
        // not reused.
        if conn.is_autocommit() {
            let mut idle = self.idle_list();
            if idle.len() < KEEP_IDLE {
                idle.push(conn);
            }
        }
        match out {
            Err(StoreError::Db(e)) if e.is_busy() => Inline::Busy,
            out => Inline::Done(out),
        }
    }
}

/// The connection of the group commit's thread: waits for the write lock up to
/// `busy_timeout`, with the durability settings of every other connection.
pub(super) fn writer(path: &Path, busy_timeout: Duration) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "secure_delete", true)?;
    Ok(conn)
}

/// `$first, $first+1, …` (n placeholders), as the statements shared with sqlx number them.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(n * 5);
    for i in first..first + n {
        if i > first {
            out.push_str(", ");
        }
        let _ = write!(out, "${i}");
    }
    out
}

/// A row read by rusqlite, by column name (the names the shared statements give).
pub(super) trait FromLite: Sized {
    fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

impl FromLite for i64 {
    fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        row.get(0)
    }
}

/// Binds `values` to the statement's `$1`, `$2`, … by their numbers: SQLite numbers
/// named parameters in the order they first appear, which is not always theirs. One pass
/// over the statement's parameters (rusqlite's lookup by name scans them all for each).
fn bind_numbered(stmt: &mut rusqlite::Statement<'_>, values: &[&dyn ToSql]) -> StoreResult<()> {
    for index in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(index).unwrap_or("?");
        let value = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| values.get(n.checked_sub(1)?))
            .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_owned()))?;
        stmt.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

/// Every row of `sql` with `values` bound to `$1…`.
pub(super) fn query_all<T: FromLite>(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> StoreResult<Vec<T>> {
    query_each(conn, sql, values, |row| Ok(T::from_lite(row)?))
}

/// Every row of `sql` with `values` bound to `$1…`, each read by `each` (for rows read
/// with more than the row itself, [`FromLite`] being the row alone).
pub(super) fn query_each<T>(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    mut each: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind_numbered(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(each(row)?);
    }
    Ok(out)
}

/// The row of `sql` with `values` bound to `$1…`, if any (a statement of one row at most).
pub(super) fn query_opt<T: FromLite>(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> StoreResult<Option<T>> {
    Ok(query_all(conn, sql, values)?.into_iter().next())
}

/// Runs `sql` (a write, on the writer's connection) with `values` bound to `$1…`.
pub(super) fn execute(conn: &Connection, sql: &str, values: &[&dyn ToSql]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind_numbered(&mut stmt, values)?;
    stmt.raw_execute()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file locked by another process in exclusive locking mode: the read answers
    /// `Busy` at once (the store then reads through the pool, which waits its busy
    /// timeout on a thread of its own) instead of failing or waiting on this thread.
    #[test]
    fn a_read_of_a_file_locked_exclusively_is_busy_at_once_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")
            .unwrap();
        drop(setup);
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch(
                "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);",
            )
            .unwrap();
        let lite = Lite::open(&path).unwrap();
        let started = std::time::Instant::now();
        let out = lite.read(|c| query_all::<i64>(c, "SELECT x FROM t", &[]));
        assert!(matches!(out, Inline::Busy), "not busy");
        assert!(started.elapsed() < Duration::from_secs(2), "it waited");
        holder.execute_batch("COMMIT").unwrap();
        drop(holder);
        match lite.read(|c| query_all::<i64>(c, "SELECT x FROM t", &[])) {
            Inline::Done(Ok(rows)) => assert_eq!(rows, vec![1]),
            Inline::Done(Err(e)) => panic!("{e:?}"),
            Inline::Busy => panic!("still busy"),
        }
    }

    /// SQLite numbers `$N` parameters in the order they first appear: bound by name, a
    /// statement that names `$2` before `$1` still gets each value in its place.
    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 1), "$1");
        assert_eq!(placeholders(1, 0), "");
    }

    #[test]
    fn numbered_parameters_are_bound_by_name_not_by_position() {
        let conn = Connection::open_in_memory().unwrap();
        let got: Vec<i64> = query_all(&conn, "SELECT $2 - $1", &[&10_i64, &3_i64]).unwrap();
        assert_eq!(got, vec![-7]);
        // A parameter used twice takes one value; one without a value is an error, not NULL.
        let got: Vec<i64> = query_all(&conn, "SELECT $1 + $1", &[&4_i64]).unwrap();
        assert_eq!(got, vec![8]);
        assert!(query_all::<i64>(&conn, "SELECT $1 + $2", &[&4_i64]).is_err());
        assert!(query_all::<i64>(&conn, "SELECT ?", &[&4_i64]).is_err());
    }
}
