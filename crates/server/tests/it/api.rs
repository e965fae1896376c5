//! The API through the router, without a socket: shapes, errors, limits, callbacks,
//! concurrency.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

const PROJECT: &str = "acme/platform/dev/agent-x";

pub(crate) async fn tree(h: &Harness) {
    for s in ["acme", "acme/platform", "acme/platform/dev", PROJECT] {
        h.scope(s).await;
    }
}

pub(crate) async fn task(h: &Harness, refs: &[&str], payload: Option<serde_json::Value>) -> String {
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
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("put", "/api/v1/orgs/{org}"),
    ("get", "/api/v1/orgs/{org}/link-prefixes"),
    ("put", "/api/v1/orgs/{org}/link-prefixes"),
    ("get", "/api/v1/orgs/{org}/policy"),
    ("put", "/api/v1/orgs/{org}/policy"),
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
    ("get", "/api/v1/secrets/{name}/access"),
    ("post", "/api/v1/secrets/{name}/rollback"),
    ("post", "/api/v1/secrets/{name}/link"),
    ("post", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/{id}"),
    ("post", "/api/v1/tasks/{id}/dispatch"),
    ("get", "/api/v1/briefs/{id}"),
    ("post", "/api/v1/briefs/{id}/callback"),
    ("post", "/api/v1/briefs/{id}/revoke"),
    ("post", "/api/v1/boot"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/search"),
    ("get", "/api/v1/whoami"),
    ("post", "/api/v1/accounts"),
    ("get", "/api/v1/accounts"),
    ("get", "/api/v1/accounts/{name}"),
    ("post", "/api/v1/accounts/{name}/grants"),
    ("delete", "/api/v1/accounts/{name}/grants"),
    ("post", "/api/v1/accounts/{name}/tokens"),
    ("get", "/api/v1/accounts/{name}/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/sessions"),
    ("delete", "/api/v1/sessions/{id}"),
    ("put", "/api/v1/secrets/{name}/generator"),
    ("get", "/api/v1/leases"),
    ("get", "/api/v1/leases/{id}"),
    ("delete", "/api/v1/leases/{id}"),
    ("post", "/api/v1/briefs/{id}/leases/revoke"),
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
        // The probes and the document: no authentication.
        if !matches!(
            *path,
            "/healthz" | "/readyz" | "/metrics" | "/api/v1/openapi.json"
        ) {
            let e401 = &responses["401"]["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(
                e401, "#/components/schemas/ErrorBody",
                "{method} {path}: 401 not documented"
            );
            let e429 = &responses["429"];
            assert_eq!(
                e429["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path}: 429 not documented"
            );
            assert!(
                e429["headers"]["Retry-After"].is_object(),
                "{method} {path}: 429 without Retry-After"
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
            boot_ttl_secs: 600,
        },
    };
    let other = secretstore_server::app(secretstore_server::AppState::new(svc));
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
    // The brief store is down, not secretstore broken: 503, with no detail (the path and
    // the OS error go to the log only).
    a.error(503, "brief_store_unavailable");
    let message = a.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("nothing was dispatched"), "{message}");
    assert!(
        !message.contains("briefs") && !message.contains("os error"),
        "{message}"
    );
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

/// The documented number of failed authentications per address and minute.
const LIMIT: usize = secretstore_server::limit::FAILURES_PER_MINUTE as usize;

/// The audit records of `action`, read by root from an address of its own.
async fn audit_of(h: &Harness, action: &str) -> (Vec<serde_json::Value>, String) {
    let a = h
        .call_from(
            Some("198.51.100.200"),
            "GET",
            "/api/v1/audit",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let records = a.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action)
        .cloned()
        .collect();
    (records, a.text)
}

#[tokio::test]
async fn wrong_api_tokens_past_the_limit_get_429_even_with_a_correct_token_and_are_audited() {
    let h = Harness::new().await;
    let attacker = "192.0.2.10";
    let guess = "sst_guess-CANARY-4f1d";
    for i in 0..LIMIT {
        h.call_from(
            Some(attacker),
            "GET",
            "/api/v1/whoami",
            Some(&format!("{guess}{i}")),
            None,
        )
        .await
        .error(401, "unauthorized");
    }
    let next = h
        .call_from(Some(attacker), "GET", "/api/v1/whoami", Some(guess), None)
        .await;
    next.error(429, "too_many_requests");
    let retry: u64 = next.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    // Even the right token, on any authenticated route, from that address.
    for uri in ["/api/v1/whoami", "/api/v1/scopes", "/api/v1/audit"] {
        h.call_from(Some(attacker), "GET", uri, Some(&h.root), None)
            .await
            .error(429, "too_many_requests");
    }
    // Another address is not affected.
    let other = h
        .call_from(
            Some("192.0.2.11"),
            "GET",
            "/api/v1/whoami",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
    // Every failure is audited with its source and what was tried, never the token;
    // the lockout once.
    let (failed, text) = audit_of(&h, "auth.failed").await;
    assert_eq!(failed.len(), LIMIT, "{text}");
    for r in &failed {
        assert_eq!(r["source"], attacker, "{r}");
        assert_eq!(r["detail"]["credential"], "api_token", "{r}");
    }
    assert!(!text.contains("guess-CANARY"), "{text}");
    let (limited, text) = audit_of(&h, "auth.limited").await;
    assert_eq!(limited.len(), 1, "{text}");
    assert_eq!(limited[0]["source"], attacker);
}

#[tokio::test]
async fn wrong_callback_tokens_past_the_limit_get_429_and_are_audited() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "A", "a-value").await;
    let t = task(&h, &["A"], None).await;
    let d = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&h.root),
            None,
        )
        .await
        .json;
    let brief = d["brief_id"].as_str().unwrap();
    let token = d["env"]["SECRETSTORE_CALLBACK_TOKEN"].as_str().unwrap();
    let cb = format!("/api/v1/briefs/{brief}/callback");
    let agent = "2001:db8:1:2::7";
    for i in 0..LIMIT {
        h.call_from(
            Some(agent),
            "POST",
            &cb,
            Some(&format!("sscb_CANARY{i}")),
            None,
        )
        .await
        .error(401, "unauthorized");
    }
    // The same /64: the same client.
    let right = h
        .call_from(Some("2001:db8:1:2::8"), "POST", &cb, Some(token), None)
        .await;
    right.error(429, "too_many_requests");
    assert!(right.headers.contains_key("retry-after"));
    let (failed, text) = audit_of(&h, "auth.failed").await;
    assert_eq!(failed.len(), LIMIT, "{text}");
    assert!(
        failed
            .iter()
            .all(|r| r["detail"]["credential"] == "callback_token")
    );
    assert!(!text.contains("CANARY"), "{text}");
    // Another network completes it.
    let ok = h
        .call_from(Some("2001:db8:1:3::7"), "POST", &cb, Some(token), None)
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

/// A call from `peer` with an `X-Forwarded-For` header.
async fn call_forwarded(
    app: &axum::Router,
    peer: &str,
    xff: &str,
    uri: &str,
    token: &str,
) -> (StatusCode, String) {
    use tower::ServiceExt;
    let mut req = Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("x-forwarded-for", xff)
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(peer_info(peer));
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn a_spoofed_x_forwarded_for_from_an_untrusted_peer_changes_neither_the_source_nor_the_limit()
{
    let h = Harness::new().await;
    let peer = "192.0.2.30";
    for i in 0..LIMIT {
        let (status, _) = call_forwarded(
            &h.app,
            peer,
            &format!("203.0.113.{i}"),
            "/api/v1/whoami",
            "sst_wrong",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, text) =
        call_forwarded(&h.app, peer, "203.0.113.99", "/api/v1/whoami", &h.root).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    let (failed, text) = audit_of(&h, "auth.failed").await;
    assert_eq!(failed.len(), LIMIT, "{text}");
    assert!(failed.iter().all(|r| r["source"] == peer), "{text}");
    assert!(!text.contains("203.0.113."), "{text}");
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_proxy_names_the_client_for_audit_and_limit() {
    let h = Harness::new().await;
    tree(&h).await;
    let proxies = secretstore_server::auth::Networks::parse("127.0.0.1, 10.0.0.0/8").unwrap();
    let app = secretstore_server::app(h.state.clone().with_trusted_proxies(proxies));
    let proxy = "127.0.0.1";
    // The client forged a first entry; the inner proxy 10.1.2.3 appended the client's
    // address: the rightmost address that is not a trusted proxy is the client.
    let xff = "6.6.6.6, 198.51.100.7, 10.1.2.3";
    for _ in 0..LIMIT {
        let (status, _) = call_forwarded(&app, proxy, xff, "/api/v1/whoami", "sst_wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = call_forwarded(&app, proxy, xff, "/api/v1/whoami", &h.root).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not locked out.
    let (status, _) = call_forwarded(&app, proxy, "198.51.100.8", "/api/v1/whoami", &h.root).await;
    assert_eq!(status, StatusCode::OK);
    let (failed, text) = audit_of(&h, "auth.failed").await;
    assert_eq!(failed.len(), LIMIT, "{text}");
    assert!(
        failed.iter().all(|r| r["source"] == "198.51.100.7"),
        "{text}"
    );
    // A reveal through the proxy is audited with the client's address.
    h.secret("acme/platform/dev", "P", "p-value").await;
    let (status, _) = call_forwarded(
        &app,
        proxy,
        "198.51.100.9",
        "/api/v1/secrets/P/value?scope=acme/platform/dev",
        &h.root,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (reveals, text) = audit_of(&h, "secret.reveal").await;
    assert_eq!(reveals.last().unwrap()["source"], "198.51.100.9", "{text}");
    // Malformed proxy lists are refused.
    for bad in [
        "10.0.0.0/33",
        "not-an-address",
        "::1/129",
        "10.0.0.1,,10.0.0.2",
    ] {
        assert!(
            secretstore_server::auth::Networks::parse(bad).is_err(),
            "{bad:?}"
        );
    }
}

/// Dispatches `task` as root: the whole answer.
pub(crate) async fn dispatch_answer(h: &Harness, task: &str) -> serde_json::Value {
    let d = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    d.json
}

/// Dispatches `task` as root: (brief id, callback token).
pub(crate) async fn dispatch(h: &Harness, task: &str) -> (String, String) {
    let d = dispatch_answer(h, task).await;
    (
        d["brief_id"].as_str().unwrap().to_string(),
        d["env"]["SECRETSTORE_CALLBACK_TOKEN"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// The audit records of `action`, as root reads them.
pub(crate) async fn audit_records(h: &Harness, action: &str) -> Vec<serde_json::Value> {
    let a = h
        .call("GET", "/api/v1/audit?limit=10000", Some(&h.root), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_revoked_brief_refuses_its_callback_token_and_shows_revoked() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "A", "a-value").await;
    let member = h
        .account("mo", Some(("member", Some("acme/platform"))))
        .await;
    let t = task(&h, &["A"], None).await;
    let (brief, token) = dispatch(&h, &t).await;
    let cb = format!("/api/v1/briefs/{brief}/callback");
    let revoke = format!("/api/v1/briefs/{brief}/revoke");
    // A member of the project's team may dispatch there, so may revoke.
    let r = h.call("POST", &revoke, Some(&member), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["status"], "revoked", "{}", r.text);
    assert_eq!(r.json["changed"], true, "{}", r.text);
    assert!(!r.text.contains(&token));
    // The token stops working at once: 401, exactly as a wrong token.
    let refused = h.call("POST", &cb, Some(&token), None).await;
    refused.error(401, "unauthorized");
    let wrong = h.call("POST", &cb, Some("sscb_wrong"), None).await;
    assert_eq!(refused.text, wrong.text);
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.json["status"], "revoked", "{}", b.text);
    let revokes = audit_records(&h, "brief.revoke").await;
    assert_eq!(revokes.len(), 1);
    assert_eq!(revokes[0]["actor"], "mo");
    assert_eq!(revokes[0]["target"], brief.as_str());
    // Again: idempotent, nothing changes, nothing more to audit.
    let r = h.call("POST", &revoke, Some(&h.root), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.json["status"].clone(), r.json["changed"].clone()),
        (json!("revoked"), json!(false))
    );
    assert_eq!(audit_records(&h, "brief.revoke").await.len(), 1);
    // A completed brief stays completed: its token is already spent.
    let (done, done_token) = dispatch(&h, &t).await;
    let ok = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{done}/callback"),
            Some(&done_token),
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let r = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{done}/revoke"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.json["status"].clone(), r.json["changed"].clone()),
        (json!("completed"), json!(false))
    );
    // Unknown briefs and malformed ids.
    h.call(
        "POST",
        "/api/v1/briefs/00000000-0000-4000-8000-000000000000/revoke",
        Some(&h.root),
        None,
    )
    .await
    .error(404, "not_found");
    h.call(
        "POST",
        "/api/v1/briefs/not-an-id/revoke",
        Some(&h.root),
        None,
    )
    .await
    .error(400, "invalid_request");
}

/// Runs SQL on the harness's database (through sqlite3 or psql), as an older version of
/// secretstore, or an operator, would have left it.
fn sql(h: &Harness, query: &str) -> String {
    let out = match h.db_url.strip_prefix("sqlite://") {
        Some(path) => std::process::Command::new("sqlite3")
            .arg(path)
            .arg(query)
            .output(),
        None => std::process::Command::new("psql")
            .args([h.db_url.as_str(), "-At", "-c", query])
            .output(),
    }
    .expect("sqlite3 or psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn unsafe_environment_names_are_refused_on_put_link_and_tasks() {
    let h = Harness::new().await;
    tree(&h).await;
    for (name, rule) in [
        ("BASH_ENV", "BASH_ENV is an unsafe environment name"),
        ("LD_PRELOAD", "names starting with LD_ are unsafe"),
        ("PATH", "PATH is an unsafe environment name"),
        ("NODE_OPTIONS", "NODE_OPTIONS is an unsafe environment name"),
        ("GIT_SSH_COMMAND", "GIT_SSH_COMMAND is an unsafe"),
    ] {
        let a = h
            .call(
                "PUT",
                &format!("/api/v1/secrets/{name}?scope=acme"),
                Some(&h.root),
                Some(json!({"value": "CANARY-unsafe-api-9012", "category": "agent"})),
            )
            .await;
        a.error(400, "invalid_request");
        assert!(
            a.json["error"]["message"].as_str().unwrap().contains(rule),
            "{}",
            a.text
        );
        assert!(!a.text.contains("CANARY"), "{}", a.text);
        for body in [
            json!({"aws_arn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:x", "category": "agent"}),
            json!({"vault_path": "secret/x#v", "category": "agent"}),
        ] {
            let a = h
                .call(
                    "POST",
                    &format!("/api/v1/secrets/{name}/link?scope=acme"),
                    Some(&h.root),
                    Some(body),
                )
                .await;
            a.error(400, "invalid_request");
            assert!(
                a.json["error"]["message"].as_str().unwrap().contains(rule),
                "{}",
                a.text
            );
        }
        let a = h
            .call(
                "POST",
                "/api/v1/tasks",
                Some(&h.root),
                Some(json!({"project": PROJECT, "secret_refs": ["A", name]})),
            )
            .await;
        a.error(400, "invalid_request");
        assert!(
            a.json["error"]["message"].as_str().unwrap().contains(rule),
            "{}",
            a.text
        );
    }
    let list = h
        .call("GET", "/api/v1/secrets?scope=acme", Some(&h.root), None)
        .await;
    assert_eq!(list.json["secrets"], json!([]), "{}", list.text);
}

#[tokio::test]
async fn a_secret_stored_under_an_unsafe_name_before_the_rule_is_listed_deletable_and_refused_at_dispatch()
 {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "OK_ONE", "fine-value").await;
    h.secret("acme/platform", "XLD_PRELOAD", "/tmp/evil.so")
        .await;
    let t = task(&h, &["OK_ONE", "XLD_PRELOAD"], None).await;
    sql(
        &h,
        "UPDATE secrets SET name = 'LD_PRELOAD' WHERE name = 'XLD_PRELOAD'",
    );
    sql(
        &h,
        "UPDATE tasks SET secret_refs = REPLACE(secret_refs, '\"XLD_PRELOAD\"', '\"LD_PRELOAD\"')",
    );
    let list = h
        .call(
            "GET",
            "/api/v1/secrets?scope=acme/platform",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(
        list.json["secrets"][0]["name"], "LD_PRELOAD",
        "{}",
        list.text
    );
    let meta = h
        .call(
            "GET",
            "/api/v1/secrets/LD_PRELOAD?scope=acme/platform",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(meta.status, StatusCode::OK, "{}", meta.text);
    // A write under that name is refused.
    h.call(
        "PUT",
        "/api/v1/secrets/LD_PRELOAD?scope=acme/platform",
        Some(&h.root),
        Some(json!({"value": "again"})),
    )
    .await
    .error(400, "invalid_request");
    // Dispatch refuses the task, naming the ref and the reason; no brief is stored.
    let d = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    d.error(400, "invalid_request");
    assert_eq!(
        d.json["error"]["refs"][0]["name"], "LD_PRELOAD",
        "{}",
        d.text
    );
    assert_eq!(
        d.json["error"]["refs"][0]["reason"], "unsafe_name",
        "{}",
        d.text
    );
    assert!(
        d.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("names starting with LD_ are unsafe"),
        "{}",
        d.text
    );
    assert!(!d.text.contains("evil.so") && !d.text.contains("fine-value"));
    assert_eq!(sql(&h, "SELECT COUNT(*) FROM briefs").trim(), "0");
    // It can be deleted.
    assert_eq!(
        h.call(
            "DELETE",
            "/api/v1/secrets/LD_PRELOAD?scope=acme/platform",
            Some(&h.root),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_write_reservation_is_taken_over_and_its_late_commit_records_nothing() {
    use secretstore_core::{
        AuditEntry, BackendKind, Category, Error, Expected, NewVersion, Principal, Reservation,
        ScopePath, SecretName, SecretStore, StoredMaterial,
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
        .reserve_writes("holder-b", &item(Some(Expected::Absent)), long, long)
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
        .reserve_writes("holder-b", &item(Some(Expected::Version(3))), long, long)
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
        .reserve_writes(
            "holder-b",
            &item(Some(Expected::Absent)),
            long,
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert!(reserved[0].is_none(), "the secret does not exist yet");
    let who = Principal {
        account: "test".into(),
        roles: Vec::new(),
        source: "test".into(),
    };
    let write = |holder: &str| NewVersion {
        rotate_every_secs: None,
        scope: scope.clone(),
        name: name.clone(),
        category: Some(Category::Agent),
        backend: BackendKind::AwsSm,
        delivery: None,
        material: StoredMaterial {
            backend_ref: Some(format!("arn:of:{holder}")),
            backend_version: Some("v".into()),
            ..StoredMaterial::default()
        },
        expected: Some(Expected::Absent),
        rollback_of: None,
        by: who.account.clone(),
        audit: AuditEntry::new(&who, "secret.set"),
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
        .reserve_writes(
            "holder-c",
            &item(Some(Expected::Version(1))),
            long,
            Duration::ZERO,
        )
        .await
        .unwrap();
}
