//! A client that holds the `secrets` table locked, to stall secretstore's statements on
//! it for as long as a test needs.

use super::Env;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A client that holds the `secrets` table locked (SQLite: the write lock; PostgreSQL: an
/// ACCESS EXCLUSIVE lock) in an open transaction until it is dropped.
pub(crate) struct TableLock(Child);

impl TableLock {
    /// Every statement on the table waits (SQLite: every write of the database).
    pub(crate) fn take(e: &Env) -> TableLock {
        TableLock::take_mode(e, "ACCESS EXCLUSIVE")
    }

    /// PostgreSQL only: writes of the table wait, reads of it go on (`EXCLUSIVE` mode).
    pub(crate) fn writes_of_secrets(e: &Env) -> TableLock {
        assert!(e.pg_url.is_some(), "a PostgreSQL lock mode");
        TableLock::take_mode(e, "EXCLUSIVE")
    }

    fn take_mode(e: &Env, mode: &str) -> TableLock {
        let pg_sql = format!("BEGIN; LOCK TABLE secrets IN {mode} MODE;\n");
        let (mut child, sql) = match &e.pg_url {
            Some(u) => (
                Command::new("psql")
                    .args([u.as_str(), "-q"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
                pg_sql.as_str(),
            ),
            None => (
                Command::new("sqlite3")
                    .arg(e.path("secretstore.db"))
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
                // Waits for the write lock (a commit or checkpoint of the server may hold
                // it for a moment) instead of failing at once with "database is locked".
                ".timeout 10000\nBEGIN EXCLUSIVE;\n",
            ),
        };
        child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        let lock = TableLock(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !lock.held(e, mode) {
            assert!(Instant::now() < deadline, "the lock was never taken");
            std::thread::sleep(Duration::from_millis(50));
        }
        lock
    }

    /// Whether another client now finds the table locked.
    fn held(&self, e: &Env, mode: &str) -> bool {
        match &e.pg_url {
            Some(_) => {
                let lock_name = match mode {
                    "EXCLUSIVE" => "ExclusiveLock",
                    _ => "AccessExclusiveLock",
                };
                e.sql(&format!(
                    "SELECT count(*) FROM pg_locks WHERE relation = 'secrets'::regclass AND mode = '{lock_name}' AND granted",
                ))
                .trim()
                    == "1"
            }
            None => {
                let out = Command::new("sqlite3")
                    .args(["-cmd", ".timeout 0"])
                    .arg(e.path("secretstore.db"))
                    .arg("BEGIN IMMEDIATE; ROLLBACK;")
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stderr).contains("locked")
            }
        }
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
