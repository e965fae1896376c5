//! An OpenBao dev server of a test's own, on a free loopback port: for tests that freeze
//! or stop it (the shared one is [`crate::services::vault_addr`]). Started as
//! `scripts/services.sh` starts the shared one.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `bao server -dev` child process (KV v2 at `secret/`, root token `root`); resumed
/// (SIGCONT) and killed when dropped, also when the test fails.
pub struct PrivateBao {
    child: Child,
    /// Its address, `http://127.0.0.1:PORT`.
    pub addr: String,
    /// Its root token.
    pub token: String,
}

impl PrivateBao {
    /// Starts `bao server -dev` (the program of `SECRETSTORE_TEST_BAO`) and waits (up to
    /// 30 s) until it answers `/v1/sys/health` with 200 (unsealed, active).
    pub fn start() -> PrivateBao {
        PrivateBao::start_with(&[])
    }

    /// [`PrivateBao::start`] with more arguments for `bao server` (e.g. `-config=FILE`,
    /// which dev mode reads beside its own settings: an audit device, a listener).
    pub fn start_with(extra: &[&str]) -> PrivateBao {
        let bin = crate::services::bao();
        let port = crate::free_port();
        let token = "root".to_string();
        let child = Command::new(&bin)
            .args([
                "server",
                "-dev",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
                &format!("-dev-root-token-id={token}"),
                "-dev-no-store-token",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let mut bao = PrivateBao {
            child,
            addr: format!("http://127.0.0.1:{port}"),
            token,
        };
        let started = Instant::now();
        while health(port) != Some(200) {
            if let Ok(Some(status)) = bao.child.try_wait() {
                panic!("bao exited at start: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "bao did not answer on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        bao
    }

    /// Its process id (to freeze it with [`crate::Frozen`]).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// The status of `GET /v1/sys/health`, if it answers within 2 s.
fn health(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

impl Drop for PrivateBao {
    fn drop(&mut self) {
        crate::signal(self.child.id(), "CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
