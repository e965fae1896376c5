//! An OpenBao dev server of a test's own, on a free loopback port: for tests that freeze
//! or stop it (the shared one is [`crate::services::vault_addr`]). Started as
//! `scripts/services.sh` starts the shared one; [`PrivateBao::start_tls`] starts one with
//! TLS (`-dev-tls`) and, if asked, a listener that requires client certificates.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How [`PrivateBao::start_tls`] sets up TLS.
pub struct BaoTls<'a> {
    /// Where `-dev-tls` writes its CA (`vault-ca.pem`), its certificate (`vault-cert.pem`,
    /// for localhost and 127.0.0.1) and key (`vault-key.pem`); also the server's
    /// listener configuration and log (`bao.log`).
    pub dir: &'a Path,
    /// A second TLS listener, which requires a client certificate.
    pub mtls: Option<MtlsListener<'a>>,
}

/// A listener with `tls_require_and_verify_client_cert = true`: its own certificate and
/// key, and the CA bundle that client certificates must chain to.
pub struct MtlsListener<'a> {
    /// The listener's certificate (PEM).
    pub cert_file: &'a Path,
    /// Its key (PEM).
    pub key_file: &'a Path,
    /// The CAs of the client certificates it accepts (PEM), `tls_client_ca_file`.
    pub client_ca_file: &'a Path,
}

/// A `bao server -dev` child process (KV v2 at `secret/`, root token `root`); resumed
/// (SIGCONT) and killed when dropped, also when the test fails.
pub struct PrivateBao {
    child: Child,
    /// Its address, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub addr: String,
    /// Its root token.
    pub token: String,
    /// A plain-HTTP address of the same server, for a test's setup and checks (the same
    /// as `addr` without TLS).
    pub admin_addr: String,
    /// With TLS: the CA that signed the certificate of `addr` (`DIR/vault-ca.pem`).
    pub ca_cert: Option<PathBuf>,
    /// With an mTLS listener: its address, `https://127.0.0.1:PORT`.
    pub mtls_addr: Option<String>,
    /// Where its log is, if it is kept.
    log: Option<PathBuf>,
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
            admin_addr: format!("http://127.0.0.1:{port}"),
            ca_cert: None,
            mtls_addr: None,
            log: None,
        };
        bao.wait_healthy(port, &[]);
        bao
    }

    /// Starts `bao server -dev -dev-tls -dev-tls-cert-dir=DIR`: `addr` is
    /// `https://127.0.0.1:PORT` with a certificate signed by `ca_cert`; a plain-HTTP
    /// listener (`admin_addr`) is added from a configuration file beside `-dev`, and so
    /// is the mTLS listener of `tls.mtls`. Waits (up to 30 s) until it is healthy and
    /// every listener accepts connections.
    pub fn start_tls(tls: &BaoTls<'_>) -> PrivateBao {
        let bin = crate::services::bao();
        let port = crate::free_port();
        let admin_port = crate::free_port();
        let token = "root".to_string();
        let mut hcl = listener(admin_port, "  tls_disable = true\n");
        let mut mtls_port = None;
        if let Some(m) = &tls.mtls {
            let p = crate::free_port();
            mtls_port = Some(p);
            hcl.push_str(&listener(
                p,
                &format!(
                    "  tls_cert_file = {:?}\n  tls_key_file = {:?}\n  tls_client_ca_file = {:?}\n  tls_require_and_verify_client_cert = true\n",
                    m.cert_file.display().to_string(),
                    m.key_file.display().to_string(),
                    m.client_ca_file.display().to_string(),
                ),
            ));
        }
        let config = tls.dir.join("listeners.hcl");
        std::fs::write(&config, hcl)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
        let log = tls.dir.join("bao.log");
        let out = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot share {}: {e}", log.display()));
        let child = Command::new(&bin)
            .args([
                "server",
                "-dev",
                "-dev-tls",
                &format!("-dev-tls-cert-dir={}", tls.dir.display()),
                &format!("-config={}", config.display()),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
                &format!("-dev-root-token-id={token}"),
                "-dev-no-store-token",
            ])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let mut bao = PrivateBao {
            child,
            addr: format!("https://127.0.0.1:{port}"),
            token,
            admin_addr: format!("http://127.0.0.1:{admin_port}"),
            ca_cert: Some(tls.dir.join("vault-ca.pem")),
            mtls_addr: mtls_port.map(|p| format!("https://127.0.0.1:{p}")),
            log: Some(log),
        };
        let mut others = vec![port];
        others.extend(mtls_port);
        bao.wait_healthy(admin_port, &others);
        bao
    }

    /// Waits until `/v1/sys/health` on the plain `port` answers 200 and each of `others`
    /// accepts connections; panics (with the log, if kept) after 30 s or if bao exits.
    fn wait_healthy(&mut self, port: u16, others: &[u16]) {
        let started = Instant::now();
        while health(port) != Some(200)
            || others
                .iter()
                .any(|p| TcpStream::connect(("127.0.0.1", *p)).is_err())
        {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("bao exited at start: {status}{}", self.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "bao did not answer on {port} within 30 s{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        match &self.log {
            Some(p) => format!(
                "; its log:\n{}",
                std::fs::read_to_string(p).unwrap_or_default()
            ),
            None => String::new(),
        }
    }

    /// Its process id (to freeze it with [`crate::Frozen`]).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A `listener "tcp"` block on `port` (and a cluster port of its own) with `body`.
fn listener(port: u16, body: &str) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{}\"\n{body}}}\n",
        crate::free_port()
    )
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
