//! The store's errors: [`StoreError`] inside the adapter (so that `?` works on sqlx's
//! errors and the domain's alike), [`DatabaseError`] as the source the domain's
//! [`Error::Storage`] keeps, and which database failures are worth a retry.

use secretstore_core::Error;
use std::fmt;

/// SQLite's primary result codes that mean "another connection holds the lock" (the
/// extended codes, `SQLITE_BUSY_SNAPSHOT` = 517 among them, keep them in their low byte).
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
/// PostgreSQL's SQLSTATEs of a transaction that lost a race: serialization failure, deadlock.
const PG_RETRYABLE: [&str; 2] = ["40001", "40P01"];
/// PostgreSQL's SQLSTATE of a statement that waited longer than `lock_timeout` for a lock.
const PG_LOCK_TIMEOUT: &str = "55P03";

/// A failure inside the adapter: the domain's own error (an unknown scope, a conflict),
/// or the database's.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// An error the domain words itself, passed through as it is.
    Domain(Error),
    /// The database failed.
    Db(DatabaseError),
    /// The transaction lost a race that a new attempt can win (a concurrent create of
    /// the same row); the caller starts over.
    Retry,
}

/// The adapter's result type.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// True if a new attempt of the whole transaction may succeed.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            StoreError::Retry => true,
            StoreError::Db(e) => e.is_retryable(),
            StoreError::Domain(_) => false,
        }
    }

    /// True for a violated unique constraint (the row exists already).
    pub(crate) fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(e) => e.is_unique_violation(),
            StoreError::Domain(_) | StoreError::Retry => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Db(DatabaseError(Driver::Sqlx(e)))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(DatabaseError(Driver::Lite(e)))
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        StoreError::Domain(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(e) => e,
            StoreError::Db(e) if e.is_unavailable() => Error::DatabaseUnavailable(Box::new(e)),
            StoreError::Db(e) => Error::Storage(Box::new(e)),
            StoreError::Retry => {
                Error::storage("the write kept conflicting with concurrent writes; try again")
            }
        }
    }
}

/// A database failure, as [`Error::Storage`] keeps it. Its `Display` and `Debug` show
/// what sqlx says of it (for a database error: the database's code and primary message),
/// never a bind parameter, a row's content, or the detail PostgreSQL adds to a
/// constraint violation (which quotes the row's values). The driver's error is its
/// [`source`](std::error::Error::source).
pub struct DatabaseError(Driver);

/// The driver that failed: sqlx (both databases), or rusqlite (SQLite's reads on the
/// calling thread and its group commit, [`super::lite`]).
enum Driver {
    Sqlx(sqlx::Error),
    Lite(rusqlite::Error),
}

/// SQLite's own failure inside a rusqlite error: (extended code, message).
fn lite_failure(e: &rusqlite::Error) -> Option<(i32, Option<&str>)> {
    match e {
        rusqlite::Error::SqliteFailure(f, msg) => Some((f.extended_code, msg.as_deref())),
        _ => None,
    }
}

impl DatabaseError {
    /// The database's own code of the failure: SQLite's extended result code, or
    /// PostgreSQL's SQLSTATE.
    pub fn code(&self) -> Option<String> {
        match &self.0 {
            Driver::Sqlx(e) => e
                .as_database_error()
                .and_then(|d| d.code())
                .map(|c| c.into_owned()),
            Driver::Lite(e) => lite_failure(e).map(|(code, _)| code.to_string()),
        }
    }

    /// SQLite's extended result code of the failure, from either driver.
    fn sqlite_code(&self) -> Option<i64> {
        match &self.0 {
            Driver::Lite(e) => lite_failure(e).map(|(c, _)| i64::from(c)),
            Driver::Sqlx(e) => e
                .as_database_error()
                .filter(|d| d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some())
                .and_then(|d| d.code())
                .and_then(|c| c.parse::<i64>().ok()),
        }
    }

    /// True if SQLite refused a lock, whatever the reason: `SQLITE_BUSY` and
    /// `SQLITE_LOCKED` with every extended code. A read on the calling thread (no busy
    /// timeout) then reads through the pool instead.
    pub(crate) fn is_busy(&self) -> bool {
        self.sqlite_code()
            .is_some_and(|c| matches!(c & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
    }

    /// True if SQLite's busy handler gave up: the plain `SQLITE_BUSY` of a connection with
    /// a busy timeout is another connection (or process) holding the lock for all of it,
    /// as PostgreSQL's `lock_timeout`. Waiting again would wait as long again.
    fn is_lock_timeout(&self) -> bool {
        self.sqlite_code() == Some(SQLITE_BUSY)
    }

    /// True if the transaction lost a race with another and a new attempt may succeed:
    /// SQLite's `SQLITE_LOCKED` and the extended `SQLITE_BUSY_*` codes
    /// (`SQLITE_BUSY_SNAPSHOT`, `SQLITE_BUSY_RECOVERY`), PostgreSQL's serialization
    /// failure and deadlock. Not the plain `SQLITE_BUSY` of a lock held past the busy
    /// timeout ([`DatabaseError::is_unavailable`]).
    pub fn is_retryable(&self) -> bool {
        if self.is_busy() {
            return !self.is_lock_timeout();
        }
        let Driver::Sqlx(e) = &self.0 else {
            return false;
        };
        e.as_database_error()
            .filter(|d| {
                d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some()
            })
            .and_then(|d| d.code())
            .is_some_and(|c| PG_RETRYABLE.contains(&c.as_ref()))
    }

    /// True if the database could not be reached rather than refusing the statement:
    /// the connection failed or was lost (I/O, TLS, a closed pool), no connection came
    /// free in time, PostgreSQL is shutting down or not accepting connections (SQLSTATE
    /// classes 08 and 57P), or a lock was not granted within `lock_timeout` (55P03) or,
    /// on SQLite, within the busy timeout (plain `SQLITE_BUSY`). A later attempt may
    /// succeed; nothing was changed.
    pub fn is_unavailable(&self) -> bool {
        if self.is_lock_timeout() {
            return true;
        }
        let e = match &self.0 {
            Driver::Sqlx(e) => e,
            // A file in this process: it is there, or the failure is the database's own.
            Driver::Lite(_) => return false,
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(d) => d
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some_and(|pg| {
                    let code = pg.code();
                    code.starts_with("08") || code.starts_with("57P") || code == PG_LOCK_TIMEOUT
                }),
            _ => false,
        }
    }

    /// True for a violated unique constraint.
    pub fn is_unique_violation(&self) -> bool {
        match &self.0 {
            Driver::Sqlx(e) => e
                .as_database_error()
                .is_some_and(|d| d.is_unique_violation()),
            Driver::Lite(e) => {
                e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
                    && lite_failure(e).is_some_and(|(c, _)| {
                        c == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                            || c == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    })
            }
        }
    }
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = match &self.0 {
            Driver::Sqlx(e) => e,
            // SQLite's code and message; rusqlite's other errors name a column or a type,
            // never a bound value.
            Driver::Lite(e) => {
                return match lite_failure(e) {
                    Some((code, Some(msg))) => write!(f, "database error {code}: {msg}"),
                    Some((code, None)) => write!(f, "database error {code}"),
                    None => write!(f, "database error: {e}"),
                };
            }
        };
        match e.as_database_error() {
            // The primary message only: PostgreSQL's detail ("Key (name)=(…)") is left out.
            Some(d) => match d.code() {
                Some(code) => write!(f, "database error {code}: {}", d.message()),
                None => write!(f, "database error: {}", d.message()),
            },
            None => write!(f, "database error: {e}"),
        }
    }
}

impl fmt::Debug for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not sqlx's Debug, which prints PostgreSQL's whole error response (its detail
        // quotes the values of the row).
        f.debug_struct("DatabaseError")
            .field("code", &self.code())
            .field("message", &self.to_string())
            .finish()
    }
}

impl std::error::Error for DatabaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Driver::Sqlx(e) => Some(e),
            Driver::Lite(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_error_passes_through_unchanged() {
        let e: Error = StoreError::from(Error::NotFound("no secret X".into())).into();
        assert!(matches!(e, Error::NotFound(m) if m == "no secret X"));
    }

    #[test]
    fn a_database_error_keeps_its_source() {
        let e: Error = StoreError::from(sqlx::Error::RowNotFound).into();
        assert!(matches!(e, Error::Storage(_)), "{e:?}");
        let source = std::error::Error::source(&e).unwrap();
        assert!(source.downcast_ref::<DatabaseError>().is_some());
        assert!(e.to_string().starts_with("database error: "), "{e}");
    }

    #[test]
    fn an_unreachable_database_is_unavailable_not_an_internal_error() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for sqlx_error in [sqlx::Error::PoolTimedOut, sqlx::Error::Io(refused)] {
            let e: Error = StoreError::from(sqlx_error).into();
            assert!(matches!(e, Error::DatabaseUnavailable(_)), "{e:?}");
            let source = std::error::Error::source(&e).unwrap();
            assert!(source.downcast_ref::<DatabaseError>().is_some());
        }
    }

    /// SQLite's lock refusals, by code: the plain `SQLITE_BUSY` of a busy timeout that ran
    /// out is unavailable (503, not retried: it would wait as long again); the extended
    /// busy codes and `SQLITE_LOCKED` are a lost race, retried; every one of them sends an
    /// inline read to the pool.
    #[test]
    fn sqlite_lock_refusals_by_code() {
        let lite = |code: i32| {
            DatabaseError(Driver::Lite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            )))
        };
        let busy = lite(5);
        assert!(busy.is_busy() && busy.is_unavailable() && !busy.is_retryable());
        for code in [517, 261, 6] {
            let e = lite(code);
            assert!(
                e.is_busy() && e.is_retryable() && !e.is_unavailable(),
                "{code}"
            );
        }
        let other = lite(19);
        assert!(!other.is_busy() && !other.is_retryable() && !other.is_unavailable());
        let e: Error = StoreError::Db(lite(5)).into();
        assert!(matches!(e, Error::DatabaseUnavailable(_)), "{e:?}");
    }
}
