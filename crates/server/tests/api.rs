//! The API through the router, without a socket: shapes, errors, limits, callbacks,
//! concurrency.

mod common;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::json;

const PROJECT: &str = "acme/platform/dev/agent-x";

async fn tree(h: &Harness) {
    for s in ["acme", "acme/platform", "acme/platform/dev", PROJECT] {
        h.scope(s).await;
    }
}

async fn task(h: &Harness, refs: &[&str], payload: Option<serde_json::Value>) -> String {
    let mut body = json!({"project": PROJECT, "secret_refs": refs});
    if let Some(p) = payload {
        body["payload"] = p;
    }
    let a = h
        .call("POST", "/api/v1/tasks", Some(&h.root), Some(body))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.json["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn health_and_openapi_need_no_token_everything_else_does() {
    let h = Harness::new().await;
    assert_eq!(
        h.call("GET", "/healthz", None, None).await.json["status"],
        "ok"
    );
    let doc = h.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    h.call("GET", "/api/v1/whoami", None, None)
        .await
        .error(401, "unauthorized");
    h.call("GET", "/api/v1/secrets?scope=acme", None, None)
        .await
        .error(401, "unauthorized");
    let bad = h
        .call("GET", "/api/v1/whoami", Some("sst_unknown"), None)
        .await;
    let garbage = h
        .call("GET", "/api/v1/whoami", Some("not-even-a-token"), None)
        .await;
    bad.error(401, "unauthorized");
    assert_eq!(
        bad.text, garbage.text,
        "unknown tokens all get the same answer"
    );
}

/// Every route of the router, as (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/api/v1/openapi.json"),
    ("put", "/api/v1/orgs/{org}"),
    ("put", "/api/v1/teams/{org}/{team}"),
    ("put", "/api/v1/workspaces/{org}/{team}/{workspace}"),
    ("put", "/api/v1/projects/{org}/{team}/{workspace}/{project}"),
    ("get", "/api/v1/scopes"),
    ("get", "/api/v1/secrets"),
    ("put", "/api/v1/secrets/{name}"),
    ("get", "/api/v1/secrets/{name}"),
    ("delete", "/api/v1/secrets/{name}"),
    ("get", "/api/v1/secrets/{name}/value"),
    ("get", "/api/v1/secrets/{name}/versions"),
    ("post", "/api/v1/secrets/{name}/rollback"),
    ("post", "/api/v1/secrets/{name}/link"),
    ("post", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/{id}"),
    ("post", "/api/v1/tasks/{id}/dispatch"),
    ("get", "/api/v1/briefs/{id}"),
    ("post", "/api/v1/briefs/{id}/callback"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/whoami"),
    ("post", "/api/v1/accounts"),
    ("get", "/api/v1/accounts"),
    ("get", "/api/v1/accounts/{name}"),
    ("post", "/api/v1/accounts/{name}/grants"),
    ("delete", "/api/v1/accounts/{name}/grants"),
    ("post", "/api/v1/accounts/{name}/tokens"),
    ("get", "/api/v1/accounts/{name}/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
];

#[tokio::test]
async fn openapi_documents_every_route_with_its_errors() {
    let h = Harness::new().await;
    let doc = h.call("GET", "/api/v1/openapi.json", None, None).await.json;
    let mut ids = std::collections::HashSet::new();
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(
            ids.insert(op["operationId"].as_str().unwrap().to_string()),
            "duplicate operationId at {path}"
        );
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{method} {path}: no success response"
        );
        if !matches!(*path, "/healthz" | "/api/v1/openapi.json") {
            let e401 = &responses["401"]["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(
                e401, "#/components/schemas/ErrorBody",
                "{method} {path}: 401 not documented"
            );
        }
        // Each documented route really exists (an unknown route answers "no such route").
        let real = path
            .replace("{org}", "acme")
            .replace("{team}", "t")
            .replace("{workspace}", "w")
            .replace("{project}", "p")
            .replace("{name}", "X")
            .replace("{id}", "x");
        let a = h.call(&method.to_uppercase(), &real, None, None).await;
        assert_ne!(
            a.json["error"]["message"], "no such route",
            "{method} {path}"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document and the route list disagree"
    );
    for schema in [
        "PutSecret",
        "SecretDto",
        "DispatchDto",
        "BriefDto",
        "ErrorBody",
        "AuditList",
        "NewToken",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}

#[tokio::test]
async fn secrets_round_trip_with_versions_and_conflicts() {
    let h = Harness::new().await;
    tree(&h).await;
    let uri = "/api/v1/secrets/DB_URL?scope=acme/platform";
    let pem = "-----BEGIN KEY-----\nabc\r\n-----END KEY-----\n";
    let a = h
        .call(
            "PUT",
            uri,
            Some(&h.root),
            Some(json!({"value": pem, "category": "infrastructure"})),
        )
        .await;
    assert_eq!(a.json["version"], 1, "{}", a.text);
    assert!(
        !a.text.contains("BEGIN KEY"),
        "a write answers metadata only"
    );
    h.call(
        "PUT",
        uri,
        Some(&h.root),
        Some(json!({"value": "v2", "expected_version": 1})),
    )
    .await;
    let stale = h
        .call(
            "PUT",
            uri,
            Some(&h.root),
            Some(json!({"value": "v3", "expected_version": 1})),
        )
        .await;
    stale.error(409, "conflict");
    let v = h
        .call(
            "GET",
            "/api/v1/secrets/DB_URL/value?scope=acme/platform",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(v.json["value"], "v2");
    assert_eq!(v.json["version"], 2);
    let v1 = h
        .call(
            "GET",
            "/api/v1/secrets/DB_URL/value?scope=acme/platform&version=1",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(v1.json["value"], pem);
    let r = h
        .call(
            "POST",
            "/api/v1/secrets/DB_URL/rollback?scope=acme/platform",
            Some(&h.root),
            Some(json!({"to": 1})),
        )
        .await;
    assert_eq!(r.json["version"], 3, "{}", r.text);
    let hist = h
        .call(
            "GET",
            "/api/v1/secrets/DB_URL/versions?scope=acme/platform",
            Some(&h.root),
            None,
        )
        .await;
    let versions: Vec<i64> = hist.json["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2, 1]);
    assert_eq!(hist.json["versions"][0]["rollback_of"], 1);
    let list = h
        .call(
            "GET",
            "/api/v1/secrets?scope=acme/platform",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(list.json["secrets"][0]["name"], "DB_URL");
    let all = h.call("GET", "/api/v1/secrets", Some(&h.root), None).await;
    assert_eq!(all.json["secrets"].as_array().unwrap().len(), 1);
    assert_eq!(
        h.call("DELETE", uri, Some(&h.root), None).await.status,
        StatusCode::NO_CONTENT
    );
    h.call("GET", uri, Some(&h.root), None)
        .await
        .error(404, "not_found");
    // New secrets need a category; bad names and values are 400.
    h.call(
        "PUT",
        "/api/v1/secrets/NEW?scope=acme",
        Some(&h.root),
        Some(json!({"value": "x"})),
    )
    .await
    .error(400, "invalid_request");
    h.call(
        "PUT",
        "/api/v1/secrets/lower?scope=acme",
        Some(&h.root),
        Some(json!({"value": "x", "category": "agent"})),
    )
    .await
    .error(400, "invalid_request");
    h.call(
        "PUT",
        "/api/v1/secrets/E?scope=acme",
        Some(&h.root),
        Some(json!({"value": "", "category": "agent"})),
    )
    .await
    .error(400, "invalid_request");
    h.call(
        "PUT",
        "/api/v1/secrets/E?scope=acme",
        Some(&h.root),
        Some(json!({"value": "a\u{0}b", "category": "agent"})),
    )
    .await
    .error(400, "invalid_request");
    h.call(
        "PUT",
        "/api/v1/secrets/E?scope=acme",
        Some(&h.root),
        Some(json!({"value": "x".repeat(65_537), "category": "agent"})),
    )
    .await
    .error(400, "invalid_request");
    h.call(
        "PUT",
        "/api/v1/secrets/E?scope=acme",
        Some(&h.root),
        Some(json!({"value": "x", "category": "agent"})),
    )
    .await;
    h.call(
        "PUT",
        "/api/v1/secrets/E",
        Some(&h.root),
        Some(json!({"value": "x"})),
    )
    .await
    .error(400, "invalid_request");
}

#[tokio::test]
async fn malformed_bodies_get_the_apps_error_and_never_echo_a_value() {
    let h = Harness::new().await;
    tree(&h).await;
    let canary = "canary-bad-body-9931";
    let uri = "/api/v1/secrets/X?scope=acme";
    let cases = [
        format!("{{\"value\": \"{canary}\", "),
        format!("{{\"value\": \"{canary}\", \"category\": 7}}"),
        format!("{{\"value\": \"{canary}\", \"expected_version\": \"{canary}\"}}"),
        format!("{{\"value\": \"{canary}\", \"{canary}\": 1}}"),
        format!("[\"{canary}\"]"),
    ];
    for body in cases {
        let req = Request::put(uri)
            .header("authorization", format!("Bearer {}", h.root))
            .header("content-type", "application/json")
            .body(Body::from(body.clone()))
            .unwrap();
        let a = h.send(req).await;
        a.error(400, "invalid_json");
        assert!(!a.text.contains(canary), "{body} → {}", a.text);
    }
    let req = Request::put(uri)
        .header("authorization", format!("Bearer {}", h.root))
        .header("content-type", "text/plain")
        .body(Body::from(format!("{{\"value\": \"{canary}\"}}")))
        .unwrap();
    h.send(req).await.error(400, "invalid_json");
    // Nothing was written.
    h.call("GET", uri, Some(&h.root), None)
        .await
        .error(404, "not_found");
}

#[tokio::test]
async fn bodies_over_one_mib_get_413() {
    let h = Harness::new().await;
    tree(&h).await;
    let big = json!({"value": "x".repeat(1024 * 1024 + 10), "category": "agent"});
    h.call(
        "PUT",
        "/api/v1/secrets/BIG?scope=acme",
        Some(&h.root),
        Some(big),
    )
    .await
    .error(413, "payload_too_large");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let h = Harness::new().await;
    h.call("GET", "/api/v1/nope", Some(&h.root), None)
        .await
        .error(404, "not_found");
    h.call("PATCH", "/api/v1/tasks", Some(&h.root), None)
        .await
        .error(405, "method_not_allowed");
}

#[tokio::test]
async fn dispatch_returns_the_env_and_refuses_values_in_payloads() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "DB_URL", "postgres://org").await;
    h.secret("acme/platform/dev", "DB_URL", "postgres://dev-canary")
        .await;
    let t = task(
        &h,
        &["DB_URL"],
        Some(json!({"instructions": "migrate the db"})),
    )
    .await;
    let d = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.json["env"]["DB_URL"], "postgres://dev-canary");
    let brief_id = d.json["brief_id"].as_str().unwrap().to_string();
    assert_eq!(d.json["env"]["SECRETSTORE_BRIEF_ID"], brief_id.as_str());
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief_id}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.json["secrets"][0]["scope"], "acme/platform/dev");
    assert_eq!(b.json["payload"]["instructions"], "migrate the db");
    assert_eq!(b.json["status"], "running");
    assert!(!b.text.contains("postgres://dev-canary"));
    // A payload holding a value is refused, naming the secret, never the value: at task
    // creation (so it is never stored)…
    let early = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": PROJECT, "secret_refs": ["DB_URL"],
                        "payload": {"note": "use postgres://dev-canary please"}})),
        )
        .await;
    early.error(400, "invalid_request");
    assert!(early.text.contains("DB_URL") && !early.text.contains("postgres://dev-canary"));
    // …and at dispatch, when the value became the payload's text after the task was made.
    let t2 = task(
        &h,
        &["DB_URL"],
        Some(json!({"note": "use postgres://rotated-later please"})),
    )
    .await;
    h.secret("acme/platform/dev", "DB_URL", "postgres://rotated-later")
        .await;
    let refused = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t2}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    refused.error(400, "invalid_request");
    assert!(
        refused.text.contains("DB_URL") && !refused.text.contains("postgres://rotated-later"),
        "{}",
        refused.text
    );
    // Missing refs: 404 naming each.
    let t3 = task(&h, &["DB_URL", "NOPE_A", "NOPE_B"], None).await;
    let missing = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t3}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    missing.error(404, "missing_secrets");
    let names: Vec<&str> = missing.json["error"]["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["NOPE_A", "NOPE_B"]);
}

#[tokio::test]
async fn callbacks_complete_a_brief_only_with_its_own_token() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "A", "a-value").await;
    let t = task(&h, &["A"], None).await;
    let d1 = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&h.root),
            None,
        )
        .await
        .json;
    let d2 = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&h.root),
            None,
        )
        .await
        .json;
    let (b1, tok1) = (
        d1["brief_id"].as_str().unwrap(),
        d1["env"]["SECRETSTORE_CALLBACK_TOKEN"].as_str().unwrap(),
    );
    let tok2 = d2["env"]["SECRETSTORE_CALLBACK_TOKEN"].as_str().unwrap();
    let cb = format!("/api/v1/briefs/{b1}/callback");
    let wrong = h.call("POST", &cb, Some("sscb_wrong"), None).await;
    wrong.error(401, "unauthorized");
    let other = h.call("POST", &cb, Some(tok2), None).await;
    assert_eq!(
        other.text, wrong.text,
        "another brief's token is just a wrong token"
    );
    h.call("POST", &cb, None, None)
        .await
        .error(401, "unauthorized");
    h.call("POST", &cb, Some(&h.root), None)
        .await
        .error(401, "unauthorized");
    h.call(
        "POST",
        "/api/v1/briefs/../../etc/callback",
        Some(tok1),
        None,
    )
    .await;
    let ok = h.call("POST", &cb, Some(tok1), None).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let b = h
        .call("GET", &format!("/api/v1/briefs/{b1}"), Some(&h.root), None)
        .await;
    assert_eq!(b.json["status"], "completed");
    assert!(b.json["completed_at"].is_string());
}

#[tokio::test]
async fn a_backend_that_refuses_is_502_and_never_falls_through() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "DB_URL", "org-value").await;
    h.secret("acme/platform/dev", "DB_URL", "dev-value").await;
    let t = task(&h, &["DB_URL"], None).await;
    // A second server on the same database with another key: the narrowest secret cannot
    // be decrypted, and the broader one must not be served instead.
    let store = secretstore_store::SqlStore::open(&h.db_url, 2)
        .await
        .unwrap();
    let other_key =
        secretstore_store::Keyring::parse(&secretstore_store::Keyring::generate_key()).unwrap();
    let svc = secretstore_core::Service {
        store,
        backends: secretstore_core::Backends::new().with(std::sync::Arc::new(
            secretstore_store::LocalBackend::new(other_key),
        )),
        briefs: std::sync::Arc::new(secretstore_store::FolderBriefStore::new(
            h.dir.path().join("briefs"),
        )),
        config: secretstore_core::ServiceConfig {
            default_backend: secretstore_core::BackendKind::Local,
            callback_ttl_secs: 60,
        },
    };
    let other = secretstore_server::app(secretstore_server::AppState {
        svc: std::sync::Arc::new(svc),
    });
    let req = Request::post(format!("/api/v1/tasks/{t}/dispatch"))
        .header("authorization", format!("Bearer {}", h.root))
        .body(Body::empty())
        .unwrap();
    use tower::ServiceExt;
    let res = other.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "backend_unavailable");
    assert_eq!(body["error"]["refs"][0]["name"], "DB_URL");
    assert_eq!(body["error"]["refs"][0]["scope"], "acme/platform/dev");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("org-value") && !text.contains("dev-value"));
}

#[tokio::test]
async fn internal_errors_say_only_internal_error() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "A", "a-value").await;
    let t = task(&h, &["A"], None).await;
    // The brief folder cannot be created: a file is in the way.
    std::fs::write(h.dir.path().join("briefs"), b"not a folder").unwrap();
    let a = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    a.error(500, "internal");
    assert_eq!(a.json["error"]["message"], "internal error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dozens_of_concurrent_dispatches_and_writes_never_hit_a_locked_database() {
    let h = std::sync::Arc::new(Harness::new().await);
    tree(&h).await;
    h.secret("acme", "A", "a").await;
    let t = task(&h, &["A"], None).await;
    let mut jobs = Vec::new();
    for i in 0..60 {
        let h = h.clone();
        let t = t.clone();
        jobs.push(tokio::spawn(async move {
            if i % 3 == 0 {
                h.call(
                    "PUT",
                    "/api/v1/secrets/A?scope=acme",
                    Some(&h.root),
                    Some(json!({"value": format!("v{i}")})),
                )
                .await
            } else {
                h.call(
                    "POST",
                    &format!("/api/v1/tasks/{t}/dispatch"),
                    Some(&h.root),
                    None,
                )
                .await
            }
        }));
    }
    for j in jobs {
        let a = j.await.unwrap();
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let hist = h
        .call(
            "GET",
            "/api/v1/secrets/A/versions?scope=acme",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(
        hist.json["versions"].as_array().unwrap().len(),
        21,
        "20 writes + the first, none lost"
    );
}

#[tokio::test]
async fn tokens_are_revocable_and_audit_is_filtered() {
    let h = Harness::new().await;
    tree(&h).await;
    let tok = h
        .account("alice", Some(("member", Some("acme/platform"))))
        .await;
    assert!(tok.starts_with("sst_") && tok.len() >= 47);
    assert_eq!(
        h.call("GET", "/api/v1/whoami", Some(&tok), None).await.json["account"],
        "alice"
    );
    h.call(
        "PUT",
        "/api/v1/secrets/T?scope=acme/platform",
        Some(&tok),
        Some(json!({"value": "t", "category": "agent"})),
    )
    .await;
    let log = h.call("GET", "/api/v1/audit", Some(&tok), None).await;
    let records = log.json["records"].as_array().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "secret.set" && r["actor"] == "alice"),
        "{}",
        log.text
    );
    assert!(
        records.iter().all(|r| r["scope"]
            .as_str()
            .is_some_and(|s| s.starts_with("acme/platform"))),
        "{}",
        log.text
    );
    let root_log = h.call("GET", "/api/v1/audit", Some(&h.root), None).await;
    assert!(
        root_log.json["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "account.create")
    );
    let tokens = h
        .call("GET", "/api/v1/accounts/alice/tokens", Some(&h.root), None)
        .await;
    let id = tokens.json["tokens"][0]["id"].as_str().unwrap().to_string();
    assert!(!tokens.text.contains(&tok));
    assert_eq!(
        h.call(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&h.root),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let after = h.call("GET", "/api/v1/whoami", Some(&tok), None).await;
    after.error(401, "unauthorized");
    assert_eq!(
        after.text,
        h.call("GET", "/api/v1/whoami", Some("sst_never"), None)
            .await
            .text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_write_reservation_is_taken_over_and_its_late_commit_records_nothing() {
    use secretstore_core::{
        Actor, AuditEntry, BackendKind, Category, Error, MetadataStore, NewVersion, Reservation,
        ScopePath, SecretName, StoredMaterial,
    };
    use std::time::{Duration, Instant};
    let h = Harness::new().await;
    tree(&h).await;
    let store = &h.state.svc.store;
    let scope = ScopePath::parse("acme/platform").unwrap();
    let name = SecretName::parse("RESERVED").unwrap();
    let item = |expected| {
        vec![Reservation {
            scope: scope.clone(),
            name: name.clone(),
            expected,
        }]
    };
    let long = Duration::from_secs(60);
    // A held reservation: a writer naming the version it replaces is refused at once; one
    // without waits, up to its bound, then is refused too.
    store
        .reserve_writes("holder-a", &item(None), long, Duration::ZERO)
        .await
        .unwrap();
    let e = store
        .reserve_writes("holder-b", &item(Some(0)), long, long)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("in progress")),
        "{e}"
    );
    let started = Instant::now();
    let e = store
        .reserve_writes("holder-b", &item(None), long, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    // A stale expected version is refused even when the reservation is free.
    store.release_writes("holder-a", &item(None)).await.unwrap();
    let e = store
        .reserve_writes("holder-b", &item(Some(3)), long, long)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");

    // A writer that crashed: its reservation expires and is taken over; if it comes back,
    // its commit records nothing.
    store
        .reserve_writes("holder-a", &item(None), Duration::ZERO, Duration::ZERO)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let reserved = store
        .reserve_writes("holder-b", &item(Some(0)), long, Duration::ZERO)
        .await
        .unwrap();
    assert!(reserved[0].is_none(), "the secret does not exist yet");
    let actor = Actor("test".into());
    let write = |holder: &str| NewVersion {
        scope: scope.clone(),
        name: name.clone(),
        category: Some(Category::Agent),
        backend: BackendKind::AwsSm,
        material: StoredMaterial {
            backend_ref: Some(format!("arn:of:{holder}")),
            backend_version: Some("v".into()),
            ..StoredMaterial::default()
        },
        expected: Some(0),
        rollback_of: None,
        actor: actor.clone(),
        audit: AuditEntry::new(&actor, "secret.set", "test"),
        reservation: Some(holder.to_owned()),
    };
    let e = store
        .write_versions(vec![write("holder-a")])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("expired")),
        "{e}"
    );
    assert!(store.secret(&scope, &name).await.unwrap().is_none());
    assert_eq!(
        store.write_versions(vec![write("holder-b")]).await.unwrap(),
        vec![1]
    );
    // Released with the commit: the next writer takes it at once.
    store
        .reserve_writes("holder-c", &item(Some(1)), long, Duration::ZERO)
        .await
        .unwrap();
}
