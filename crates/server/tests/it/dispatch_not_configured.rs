//! Regression: a dispatch whose winning secret lives in a backend this server has not
//! configured answered 502 `backend_unavailable`, as if the backend were down; it is a
//! configuration fault (503 `not_configured`), and the ref says so.

use crate::common::Harness;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

#[tokio::test]
async fn dispatch_with_an_unconfigured_backend_was_502_backend_unavailable() {
    let h = Harness::new().await;
    for s in [
        "acme",
        "acme/platform",
        "acme/platform/dev",
        "acme/platform/dev/agent",
    ] {
        h.scope(s).await;
    }
    h.secret("acme", "DB_URL", "org-value").await;
    h.secret("acme/platform/dev", "DB_URL", "dev-value").await;
    let t = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": "acme/platform/dev/agent", "secret_refs": ["DB_URL"]})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let t = t.json["id"].as_str().unwrap().to_string();
    // A second server on the same database that has no local backend configured (say, no
    // key): the narrowest secret's backend is missing, and the broader one must not be
    // served instead.
    let store = secretstore_store::SqlStore::open(&h.db_url, 2)
        .await
        .unwrap();
    let svc = secretstore_core::Service {
        store,
        backends: secretstore_core::Backends::new(),
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
    let res = other.oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "not_configured", "{text}");
    assert_eq!(body["error"]["refs"][0]["name"], "DB_URL");
    assert_eq!(body["error"]["refs"][0]["reason"], "not_configured");
    assert_eq!(body["error"]["refs"][0]["scope"], "acme/platform/dev");
    assert!(!text.contains("org-value") && !text.contains("dev-value"));
    let briefs = std::fs::read_dir(h.dir.path().join("briefs")).map_or(0, |d| d.count());
    assert_eq!(briefs, 0, "no brief is stored");
}
