//! A router over a fresh SQLite database in a temporary folder, called without a socket.

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
pub(crate) fn peer_info(ip: &str) -> axum::extract::ConnectInfo<std::net::SocketAddr> {
    let ip: std::net::IpAddr = ip.parse().unwrap();
    axum::extract::ConnectInfo(std::net::SocketAddr::new(ip, 40000))
}

pub(crate) struct Harness {
    pub(crate) dir: tempfile::TempDir,
    /// The database: a SQLite file in `dir`, or with `SECRETSTORE_TEST_DB=postgres` a fresh
    /// database on the test PostgreSQL server.
    pub(crate) db_url: String,
    pub(crate) state: AppState,
    pub(crate) app: Router,
    /// The bootstrap root token.
    pub(crate) root: String,
}

/// One answer: status, JSON body (`Null` when empty) and the raw text.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) json: Value,
    pub(crate) text: String,
}

pub(crate) use secretstore_testkit::db::test_database_url;

impl Harness {
    pub(crate) async fn new() -> Harness {
        Harness::with_boot_ttl(600).await
    }

    /// A harness whose boot tokens expire after `boot_ttl_secs` unredeemed.
    pub(crate) async fn with_boot_ttl(boot_ttl_secs: i64) -> Harness {
        Harness::build(boot_ttl_secs, Vec::new()).await
    }

    /// A harness with these providers of per-task credentials.
    pub(crate) async fn with_minters(
        minters: Vec<Arc<dyn secretstore_core::generator::Minter>>,
    ) -> Harness {
        Harness::build(600, minters).await
    }

    async fn build(
        boot_ttl_secs: i64,
        minters: Vec<Arc<dyn secretstore_core::generator::Minter>>,
    ) -> Harness {
        let dir = secretstore_testkit::scratch();
        let url = test_database_url(dir.path());
        let store = SqlStore::open(&url, 8).await.unwrap();
        let keys = Keyring::parse(&Keyring::generate_key()).unwrap();
        store.check_key(&keys).await.unwrap();
        let mut backends = Backends::new().with(Arc::new(LocalBackend::new(keys)));
        // With the test OpenBao (scripts/test.sh), links to Vault work as in production.
        if let Some((addr, token)) = secretstore_testkit::services::vault_if_running() {
            let token = secretstore_core::SecretValue::new(token).unwrap();
            let vault = secretstore_vault::VaultBackend::new(
                secretstore_vault::VaultSettings::new(addr, token),
            )
            .unwrap();
            backends = backends.with(Arc::new(vault));
        }
        for m in minters {
            backends = backends.with_minter(m);
        }
        let svc = Service {
            store,
            backends,
            briefs: Arc::new(FolderBriefStore::new(dir.path().join("briefs"))),
            config: ServiceConfig {
                default_backend: BackendKind::Local,
                callback_ttl_secs: 3600,
                boot_ttl_secs,
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
    pub(crate) async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.call_from(None, method, uri, token, body).await
    }

    /// Calls the API as a client at `peer` (the socket's address, as `serve` sees it).
    pub(crate) async fn call_from(
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

    pub(crate) async fn send(&self, req: Request<Body>) -> Answer {
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
    pub(crate) async fn scope(&self, path: &str) {
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
    pub(crate) async fn account(&self, name: &str, role: Option<(&str, Option<&str>)>) -> String {
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
    pub(crate) async fn secret(&self, scope: &str, name: &str, value: &str) {
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
    pub(crate) fn error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.json["error"]["code"], code, "{}", self.text);
        assert!(self.json["error"]["message"].is_string(), "{}", self.text);
        self
    }
}

/// A provider of per-task credentials for the HTTP-shape tests (the real PostgreSQL and
/// STS providers are tested against real servers in their own crates): it records every
/// mint and revocation, mints a recognizable credential, and fails the mints of the refs
/// it is told to.
pub(crate) struct FakeMinter {
    kind: secretstore_core::GeneratorKind,
    /// The refs whose mint fails (`unavailable`).
    pub(crate) failing: std::sync::Mutex<Vec<String>>,
    /// `(ref name, principal, whether an admin URL came with it)` of every mint asked.
    pub(crate) mints: std::sync::Mutex<Vec<(String, String, bool)>>,
    /// The principal of every revocation asked.
    pub(crate) revokes: std::sync::Mutex<Vec<String>>,
}

/// The password of every role [`FakeMinter`] mints: it must never show outside a
/// dispatch's env.
pub(crate) const MINTED_PASSWORD: &str = "minted-pw-9f3a1c";
/// The STS secret key of every session [`FakeMinter`] mints.
pub(crate) const MINTED_STS_SECRET: &str = "minted-sts-secret-77e2";

impl FakeMinter {
    pub(crate) fn new(kind: secretstore_core::GeneratorKind) -> Arc<FakeMinter> {
        Arc::new(FakeMinter {
            kind,
            failing: Default::default(),
            mints: Default::default(),
            revokes: Default::default(),
        })
    }

    pub(crate) fn fail(&self, name: &str) {
        self.failing.lock().unwrap().push(name.to_owned());
    }

    pub(crate) fn revoked(&self) -> Vec<String> {
        self.revokes.lock().unwrap().clone()
    }

    pub(crate) fn minted(&self) -> Vec<(String, String, bool)> {
        self.mints.lock().unwrap().clone()
    }
}

impl secretstore_core::generator::Minter for FakeMinter {
    fn kind(&self) -> secretstore_core::GeneratorKind {
        self.kind
    }

    fn mint<'a>(
        &'a self,
        r: secretstore_core::generator::MintRequest<'a>,
    ) -> secretstore_core::ports::BoxFuture<
        'a,
        Result<secretstore_core::generator::Minted, secretstore_core::BackendError>,
    > {
        Box::pin(async move {
            use secretstore_core::{GeneratorKind, SecretValue};
            self.mints.lock().unwrap().push((
                r.name.to_string(),
                r.principal.to_owned(),
                r.admin.is_some(),
            ));
            if self
                .failing
                .lock()
                .unwrap()
                .iter()
                .any(|n| n == r.name.as_str())
            {
                return Err(secretstore_core::BackendError::Unavailable(
                    "the fake provider was told to fail".into(),
                ));
            }
            let v = |s: String| SecretValue::new(s).unwrap();
            let (principal, env) = match self.kind {
                GeneratorKind::Postgres => (
                    r.principal.to_owned(),
                    vec![(
                        r.name.to_string(),
                        v(format!(
                            "postgres://{}:{MINTED_PASSWORD}@db/app",
                            r.principal
                        )),
                    )],
                ),
                GeneratorKind::AwsSts => (
                    format!("arn:aws:sts::123456789012:assumed-role/x/{}", r.principal),
                    vec![
                        ("AWS_ACCESS_KEY_ID".to_owned(), v("ASIAFAKEKEY".into())),
                        (
                            "AWS_SECRET_ACCESS_KEY".to_owned(),
                            v(MINTED_STS_SECRET.into()),
                        ),
                        (
                            "AWS_SESSION_TOKEN".to_owned(),
                            v("fake-session-token".into()),
                        ),
                    ],
                ),
            };
            Ok(secretstore_core::generator::Minted {
                principal,
                env,
                expires_at: r.expires_at,
            })
        })
    }

    fn revoke<'a>(
        &'a self,
        r: secretstore_core::generator::RevokeRequest<'a>,
    ) -> secretstore_core::ports::BoxFuture<'a, Result<(), secretstore_core::BackendError>> {
        Box::pin(async move {
            self.revokes.lock().unwrap().push(r.principal.to_owned());
            Ok(())
        })
    }
}
