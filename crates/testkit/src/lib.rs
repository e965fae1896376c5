//! What secretstore's integration tests share, so that no test crate keeps a copy of its
//! own: a scratch folder, a database per test (a SQLite file, or with
//! `SECRETSTORE_TEST_DB=postgres` a fresh database on the test PostgreSQL server), the test
//! services that `scripts/services.sh` starts (moto, OpenBao, PostgreSQL), unique names and
//! loopback ports.
//!
//! Dev-only (`publish = false`) and light: no AWS SDK, no secretstore crate. The moto
//! helpers are behind the `moto` feature.
//!
//! ```no_run
//! let dir = secretstore_testkit::scratch();
//! // `sqlite://…/t.db` in `dir`, or a new PostgreSQL database in postgres mode.
//! let url = secretstore_testkit::db::test_database_url(dir.path());
//! assert!(url.starts_with("sqlite://") || url.starts_with("postgres"));
//! ```

pub mod bao;
pub mod db;
#[cfg(feature = "moto")]
pub mod moto;
pub mod pg;
pub mod services;

pub use services::need;

use std::net::TcpListener;

/// A fresh, empty folder, removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a scratch folder: {e}"))
}

/// Eight random lower-case hex digits, so that tests sharing a server never collide.
pub fn unique() -> String {
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A process of the test's own, stopped with SIGSTOP until this guard is dropped (SIGCONT),
/// also when the test fails: a frozen backend (it accepts connections, answers nothing).
pub struct Frozen(u32);

impl Frozen {
    /// Sends SIGSTOP to `pid` (a child process the test started, never another).
    /// Returns once every thread of the process is stopped: the signal is only queued when
    /// `kill` returns, and on a loaded machine a running thread (a Go server's) could
    /// still answer a request meanwhile.
    pub fn freeze(pid: u32) -> Frozen {
        assert!(signal(pid, "STOP"), "kill -STOP {pid} failed");
        let frozen = Frozen(pid);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !all_threads_stopped(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "process {pid} did not stop within 10 s of SIGSTOP"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        frozen
    }

    /// Resumes it now (SIGCONT).
    pub fn thaw(self) {}
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

/// Whether every thread of `pid` is in the stopped state (`T` in /proc/PID/task/*/stat).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|t| {
        std::fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
            // The state follows the command name, which is in parentheses.
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('T') || rest.starts_with('t'))
        })
    })
}

/// Sends signal `sig` (`STOP`, `CONT`, `KILL`, …) to the one process `pid`; whether it went.
pub fn signal(pid: u32, sig: &str) -> bool {
    std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A loopback port that was free a moment ago: for a server the test starts there.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"))
        .port()
}

/// A loopback port where nothing listens (it was free a moment ago): for "connection
/// refused".
pub fn closed_port() -> u16 {
    free_port()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_names_are_eight_hex_digits_and_differ() {
        let (a, b) = (super::unique(), super::unique());
        assert_eq!(a.len(), 8);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }
}
