//! Helpers for the tests against moto: the shared server of `scripts/test.sh`, and
//! private servers that a test starts (and stops) itself.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use secretstore_aws::{AwsSettings, AwsSmBackend, Credentials, S3BriefStore, Sse};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need a moto server; run scripts/test.sh, \
             or eval \"$(scripts/services.sh start)\" first"
        )
    })
}

/// The URL of the shared moto server.
pub fn moto_url() -> String {
    env("SECRETSTORE_TEST_MOTO_URL")
}

/// Settings for the endpoint `url`, region us-east-1.
pub fn settings(url: &str, timeout: Duration) -> AwsSettings {
    AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(url.to_owned()),
        timeout,
        ..AwsSettings::default()
    }
}

/// moto's default test credentials (given explicitly: no test reads the SDK's chain).
pub fn creds() -> Credentials {
    Credentials::new("test", "test", None, None, "secretstore-tests")
}

pub async fn sm_with(s: &AwsSettings, c: Credentials) -> AwsSmBackend {
    let config = secretstore_aws::load_sdk_config(s, Some(c)).await.unwrap();
    AwsSmBackend::from_sdk_config(&config, s).unwrap()
}

/// The backend on the shared moto server.
pub async fn sm() -> AwsSmBackend {
    sm_with(&settings(&moto_url(), Duration::from_secs(10)), creds()).await
}

pub async fn s3_with(url: &str, bucket: &str, prefix: &str, sse: Sse) -> S3BriefStore {
    let s = settings(url, Duration::from_secs(10));
    let config = secretstore_aws::load_sdk_config(&s, Some(creds()))
        .await
        .unwrap();
    S3BriefStore::from_sdk_config(&config, &s, bucket, prefix, sse).unwrap()
}

/// A short random suffix, so that tests sharing a server never collide.
pub fn unique() -> String {
    secretstore_core::random::uuid_v4()[..8].to_owned()
}

/// A loopback port where nothing listens (it was free a moment ago).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A moto server of the test's own, on a free loopback port; stopped when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    /// Starts `moto_server` (from `SECRETSTORE_TEST_MOTO_SERVER`) with extra environment.
    pub fn start(envs: &[(&str, &str)]) -> Moto {
        let bin = env("SECRETSTORE_TEST_MOTO_SERVER");
        let port = closed_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Stops the server now (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}
