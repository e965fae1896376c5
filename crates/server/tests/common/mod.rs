//! A router over a fresh SQLite database in a temporary folder, called without a socket.
#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]
#![allow(
    unreachable_pub,
    reason = "a module of each test binary: its files use what it makes `pub`"
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use secretstore_core::{BackendKind, Backends, Principal, Service, ServiceConfig};
use secretstore_server::{AppState, app};
use secretstore_store::{FolderBriefStore, Keyring, LocalBackend, SqlStore};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

/// The connect-info of a client at `ip` (port 40000), as `serve` attaches it.
pub fn peer_info(ip: &str) -> axum::extract::ConnectInfo<std::net::SocketAddr> {
    let ip: std::net::IpAddr = ip.parse().unwrap();
    axum::extract::ConnectInfo(std::net::SocketAddr::new(ip, 40000))
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    /// The database: a SQLite file in `dir`, or with `SECRETSTORE_TEST_DB=postgres` a fresh
    /// database on the test PostgreSQL server.
    pub db_url: String,
    pub state: AppState,
    pub app: Router,
    /// The bootstrap root token.
    pub root: String,
}

/// One answer: status, JSON body (`Null` when empty) and the raw text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
    pub text: String,
}

/// A database for one test: a SQLite file in `dir`, or a new PostgreSQL database.
pub fn test_database_url(dir: &std::path::Path) -> String {
    if !std::env::var("SECRETSTORE_TEST_DB").is_ok_and(|v| v == "postgres") {
        return format!("sqlite://{}", dir.join("t.db").display());
    }
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let admin = std::env::var("SECRETSTORE_TEST_PG_URL")
        .expect("SECRETSTORE_TEST_PG_URL is not set: run the tests with scripts/test.sh");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "s{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    );
    let out = std::process::Command::new("psql")
        .args([
            admin.as_str(),
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

impl Harness {
    pub async fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let url = test_database_url(dir.path());
        let store = SqlStore::open(&url, 8).await.unwrap();
        let keys = Keyring::parse(&Keyring::generate_key()).unwrap();
        store.check_key(&keys).await.unwrap();
        let mut backends = Backends::new().with(Arc::new(LocalBackend::new(keys)));
        // With the test OpenBao (scripts/test.sh), links to Vault work as in production.
        if let (Ok(addr), Ok(token)) = (
            std::env::var("SECRETSTORE_TEST_VAULT_ADDR"),
            std::env::var("SECRETSTORE_TEST_VAULT_TOKEN"),
        ) {
            let token = secretstore_core::SecretValue::new(token).unwrap();
            let vault = secretstore_vault::VaultBackend::new(
                secretstore_vault::VaultSettings::new(addr, token),
            )
            .unwrap();
            backends = backends.with(Arc::new(vault));
        }
        let svc = Service {
            store,
            backends,
            briefs: Arc::new(FolderBriefStore::new(dir.path().join("briefs"))),
            config: ServiceConfig {
                default_backend: BackendKind::Local,
                callback_ttl_secs: 3600,
            },
        };
        let root = svc
            .bootstrap_root(&Principal::operator("test"))
            .await
            .unwrap()
            .unwrap()
            .expose_secret()
            .to_string();
        let state = AppState::new(svc);
        Harness {
            db_url: url,
            app: app(state.clone()),
            state,
            dir,
            root,
        }
    }

    /// Calls the API. `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.call_from(None, method, uri, token, body).await
    }

    /// Calls the API as a client at `peer` (the socket's address, as `serve` sees it).
    pub async fn call_from(
        &self,
        peer: Option<&str>,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(p) = peer {
            req = req.extension(peer_info(p));
        }
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    /// As root: `PUT` a scope of any level (by depth).
    pub async fn scope(&self, path: &str) {
        let kind = ["orgs", "teams", "workspaces", "projects"][path.split('/').count() - 1];
        let a = self
            .call(
                "PUT",
                &format!("/api/v1/{kind}/{path}"),
                Some(&self.root),
                None,
            )
            .await;
        assert!(a.status.is_success(), "{path}: {} {}", a.status, a.text);
    }

    /// As root: an account with one role (`None`: no role) and a token for it.
    pub async fn account(&self, name: &str, role: Option<(&str, Option<&str>)>) -> String {
        let a = self
            .call(
                "POST",
                "/api/v1/accounts",
                Some(&self.root),
                Some(serde_json::json!({"name": name})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        if let Some((role, scope)) = role {
            let a = self
                .call(
                    "POST",
                    &format!("/api/v1/accounts/{name}/grants"),
                    Some(&self.root),
                    Some(serde_json::json!({"role": role, "scope": scope})),
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        }
        let a = self
            .call(
                "POST",
                &format!("/api/v1/accounts/{name}/tokens"),
                Some(&self.root),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.json["token"].as_str().unwrap().to_string()
    }

    /// As root: sets a secret.
    pub async fn secret(&self, scope: &str, name: &str, value: &str) {
        let a = self
            .call(
                "PUT",
                &format!("/api/v1/secrets/{name}?scope={scope}"),
                Some(&self.root),
                Some(serde_json::json!({"value": value, "category": "infrastructure"})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
}

impl Answer {
    /// Asserts the error shape and code.
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.json["error"]["code"], code, "{}", self.text);
        assert!(self.json["error"]["message"].is_string(), "{}", self.text);
        self
    }
}
