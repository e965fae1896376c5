//! Every route of the HTTP API and the web UI, called through the real router on a real
//! SQLite database (local backend, folder brief store), as root, as a signed-in browser,
//! or anonymously, with fuzzed paths, queries and bodies (JSON, forms, anything): the API's
//! request bodies and the UI's form parser. Never a panic, never a 5xx (a backend that is
//! not configured here, 503 `not_configured`, is the one expected 5xx); an error never
//! carries a stored value or a token.
#![no_main]

use arbitrary::Arbitrary;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use secretstore_core::{BackendKind, Backends, Principal, Service, ServiceConfig};
use secretstore_server::{AppState, app};
use secretstore_store::{FolderBriefStore, Keyring, LocalBackend, SqlStore};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

/// A value stored before fuzzing: no error may carry it.
const SEED_VALUE: &str = "fuzz-seed-value-7c1e55d0a9";

/// Method and path of every route; `{a}` and `{b}` are filled from the input.
const ROUTES: &[(&str, &str)] = &[
    ("PUT", "/api/v1/orgs/{a}"),
    ("GET", "/api/v1/orgs/{a}/link-prefixes"),
    ("PUT", "/api/v1/orgs/{a}/link-prefixes"),
    ("PUT", "/api/v1/teams/acme/{a}"),
    ("PUT", "/api/v1/workspaces/acme/platform/{a}"),
    ("PUT", "/api/v1/projects/acme/platform/ws/{a}"),
    ("GET", "/api/v1/scopes"),
    ("GET", "/api/v1/secrets"),
    ("PUT", "/api/v1/secrets/{a}"),
    ("GET", "/api/v1/secrets/{a}"),
    ("DELETE", "/api/v1/secrets/{a}"),
    ("GET", "/api/v1/secrets/{a}/value"),
    ("GET", "/api/v1/secrets/{a}/versions"),
    ("POST", "/api/v1/secrets/{a}/rollback"),
    ("POST", "/api/v1/secrets/{a}/link"),
    ("POST", "/api/v1/tasks"),
    ("GET", "/api/v1/tasks/{a}"),
    ("POST", "/api/v1/tasks/{a}/dispatch"),
    ("GET", "/api/v1/briefs/{a}"),
    ("POST", "/api/v1/briefs/{a}/callback"),
    ("POST", "/api/v1/briefs/{a}/revoke"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/whoami"),
    ("POST", "/api/v1/accounts"),
    ("GET", "/api/v1/accounts/{a}"),
    ("POST", "/api/v1/accounts/{a}/grants"),
    ("DELETE", "/api/v1/accounts/{a}/grants"),
    ("POST", "/api/v1/accounts/{a}/tokens"),
    ("GET", "/api/v1/accounts/{a}/tokens"),
    ("DELETE", "/api/v1/tokens/{a}"),
    ("GET", "/api/v1/sessions"),
    ("DELETE", "/api/v1/sessions/{a}"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/ui/"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("POST", "/ui/logout"),
    ("POST", "/ui/scopes"),
    ("GET", "/ui/scopes/{a}"),
    ("POST", "/ui/scopes/{a}"),
    ("GET", "/ui/briefs"),
    ("GET", "/ui/audit"),
    ("GET", "/ui/sessions"),
    ("POST", "/ui/sessions/{a}/end"),
    ("GET", "/ui/{a}"),
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

#[derive(Arbitrary, Debug)]
struct Call {
    route: u8,
    /// Another method than the route's, sometimes.
    method: Option<u8>,
    /// `{a}`: fuzzed text, or one of the objects made before fuzzing.
    a: Segment,
    query: Option<String>,
    body: Vec<u8>,
    content_type: u8,
    who: u8,
    /// For a form sent by the browser: the session's CSRF token is added.
    csrf: bool,
}

#[derive(Arbitrary, Debug)]
enum Segment {
    Text(String),
    Task,
    Brief,
    Secret,
    Account,
    Scope,
}

struct World {
    rt: tokio::runtime::Runtime,
    app: Router,
    root: String,
    cookie: String,
    csrf: String,
    task: String,
    brief: String,
    _dir: tempfile::TempDir,
}

async fn call(app: &Router, req: Request<Body>) -> (u16, Vec<u8>, axum::http::HeaderMap) {
    let res = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes()
        .to_vec();
    (status, body, headers)
}

fn json(v: &str) -> serde_json::Value {
    serde_json::from_str(v).expect("json")
}

async fn seed(app: &Router, root: &str) -> (String, String) {
    let send = |method: &str, uri: &str, body: Option<&str>| {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {root}"));
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        b.body(Body::from(body.unwrap_or("").to_owned()))
            .expect("a request")
    };
    for uri in [
        "/api/v1/orgs/acme",
        "/api/v1/teams/acme/platform",
        "/api/v1/workspaces/acme/platform/ws",
        "/api/v1/projects/acme/platform/ws/agent",
    ] {
        let (s, b, _) = call(app, send("PUT", uri, None)).await;
        assert!(
            s < 300,
            "seeding {uri}: {s} {}",
            String::from_utf8_lossy(&b)
        );
    }
    let body = format!(r#"{{"value":"{SEED_VALUE}","category":"provider"}}"#);
    let (s, b, _) = call(
        app,
        send(
            "PUT",
            "/api/v1/secrets/SEED?scope=acme/platform",
            Some(&body),
        ),
    )
    .await;
    assert!(
        s < 300,
        "seeding the secret: {s} {}",
        String::from_utf8_lossy(&b)
    );
    let task = r#"{"project":"acme/platform/ws/agent","secret_refs":["SEED"]}"#;
    let (s, b, _) = call(app, send("POST", "/api/v1/tasks", Some(task))).await;
    assert!(
        s < 300,
        "seeding the task: {s} {}",
        String::from_utf8_lossy(&b)
    );
    let task = json(&String::from_utf8_lossy(&b))["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let (s, b, _) = call(
        app,
        send("POST", &format!("/api/v1/tasks/{task}/dispatch"), None),
    )
    .await;
    assert!(
        s < 300,
        "seeding the brief: {s} {}",
        String::from_utf8_lossy(&b)
    );
    let brief = json(&String::from_utf8_lossy(&b))["brief_id"]
        .as_str()
        .expect("a brief")
        .to_owned();
    let account = r#"{"name":"fuzz-bot","kind":"service"}"#;
    let _ = call(app, send("POST", "/api/v1/accounts", Some(account))).await;
    (task, brief)
}

fn find<'a>(text: &'a str, before: &str, until: char) -> Option<&'a str> {
    let at = text.find(before)? + before.len();
    let rest = &text[at..];
    Some(&rest[..rest.find(until)?])
}

/// Signs in through the login form as a browser does: the session cookie and its CSRF.
async fn login(app: &Router, root: &str) -> (String, String) {
    let get = |uri: &str, cookie: Option<&str>| {
        let mut b = Request::get(uri);
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        b.body(Body::empty()).expect("a request")
    };
    let (_, page, headers) = call(app, get("/ui/login", None)).await;
    let page = String::from_utf8_lossy(&page).into_owned();
    let csrf = find(&page, r#"name="csrf" value=""#, '"').expect("a csrf field");
    let login_cookie = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("ss_login="))
        .and_then(|c| c.split(';').next())
        .expect("a sign-in cookie")
        .to_owned();
    let form = format!("csrf={csrf}&token={root}");
    let req = Request::post("/ui/login")
        .header("cookie", &login_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("a request");
    let (s, _, headers) = call(app, req).await;
    assert_eq!(s, 303, "signing in");
    let cookie = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("ss_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let (_, home, _) = call(app, get("/ui/", Some(&cookie))).await;
    let home = String::from_utf8_lossy(&home).into_owned();
    let csrf = find(&home, r#"name="csrf" value=""#, '"')
        .expect("a csrf field")
        .to_owned();
    (cookie, csrf)
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a folder");
        let (app, root, task, brief, cookie, csrf) = rt.block_on(async {
            let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
            let store = SqlStore::open(&url, 4).await.expect("the database");
            let keys = Keyring::parse(&Keyring::generate_key()).expect("a key");
            store.check_key(&keys).await.expect("the key");
            let svc = Service {
                store,
                backends: Backends::new().with(Arc::new(LocalBackend::new(keys))),
                briefs: Arc::new(FolderBriefStore::new(dir.path().join("briefs"))),
                config: ServiceConfig {
                    default_backend: BackendKind::Local,
                    callback_ttl_secs: 3600,
                    boot_ttl_secs: 600,
                },
            };
            let root = svc
                .bootstrap_root(&Principal::operator("fuzz"))
                .await
                .expect("bootstrap")
                .expect("a root token")
                .expose_secret()
                .to_string();
            let app = app(AppState::new(svc));
            let (task, brief) = seed(&app, &root).await;
            let (cookie, csrf) = login(&app, &root).await;
            (app, root, task, brief, cookie, csrf)
        });
        World {
            rt,
            app,
            root,
            cookie,
            csrf,
            task,
            brief,
            _dir: dir,
        }
    })
}

fuzz_target!(|c: Call| {
    let w = world();
    let (route_method, template) = ROUTES[usize::from(c.route) % ROUTES.len()];
    let method = c
        .method
        .map_or(route_method, |m| METHODS[usize::from(m) % METHODS.len()]);
    let a = match &c.a {
        Segment::Text(t) => t.as_str(),
        Segment::Task => w.task.as_str(),
        Segment::Brief => w.brief.as_str(),
        Segment::Secret => "SEED",
        Segment::Account => "fuzz-bot",
        Segment::Scope => "acme/platform/ws",
    };
    let mut uri = template.replace("{a}", a);
    if let Some(q) = &c.query {
        uri.push('?');
        uri.push_str(q);
    }
    let mut b = Request::builder().method(method).uri(uri.as_str());
    let mut body = c.body.clone();
    match c.who % 3 {
        0 => {}
        1 => b = b.header("authorization", format!("Bearer {}", w.root)),
        _ => {
            b = b.header("cookie", w.cookie.as_str());
            if c.csrf {
                body.extend_from_slice(format!("&csrf={}", w.csrf).as_bytes());
            }
        }
    }
    match c.content_type % 4 {
        0 => b = b.header("content-type", "application/json"),
        1 => b = b.header("content-type", "application/x-www-form-urlencoded"),
        2 => b = b.header("content-type", "text/plain; charset=utf-8"),
        _ => {}
    }
    // A URI or header the HTTP layer would refuse never reaches the router.
    let Ok(req) = b.body(Body::from(body)) else {
        return;
    };
    let (status, body, _) = w.rt.block_on(call(&w.app, req));
    let text = String::from_utf8_lossy(&body);
    if status >= 500 {
        assert!(
            status == 503 && text.contains("not_configured"),
            "{method} {uri} answered {status}: {text}"
        );
    }
    if status >= 400 {
        assert!(
            !text.contains(SEED_VALUE),
            "an error carried a value: {method} {uri}: {text}"
        );
        assert!(
            !text.contains(&w.root),
            "an error carried the root token: {method} {uri}"
        );
        if uri.starts_with("/api/") && method != "HEAD" {
            let v: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {uri} {status}: not a JSON error: {text}"));
            assert!(
                v["error"]["code"].is_string(),
                "{method} {uri} {status}: {text}"
            );
        }
    }
});
