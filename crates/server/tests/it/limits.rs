//! The bounds of one request (SPEC §8): refs per task, the payload, and a dispatch of as
//! many refs as a task may name.

use crate::common::Harness;
use axum::http::StatusCode;
use serde_json::json;

const PROJECT: &str = "acme/platform/dev/agent";

async fn tree(h: &Harness) {
    for s in ["acme", "acme/platform", "acme/platform/dev", PROJECT] {
        h.scope(s).await;
    }
}

/// `n` distinct valid names of four characters: `A000`, `A001`, …
fn names(n: usize) -> Vec<String> {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    (0..n)
        .map(|i| {
            let d = |k: usize| DIGITS[(i / 36usize.pow(k as u32)) % 36] as char;
            format!(
                "{}{}{}{}",
                (b'A' + (i / 46_656 % 26) as u8) as char,
                d(2),
                d(1),
                d(0)
            )
        })
        .collect()
}

async fn task_count(h: &Harness) -> usize {
    let a = h.call("GET", "/api/v1/audit", Some(&h.root), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "task.create")
        .count()
}

#[tokio::test]
async fn a_task_with_120000_refs_was_accepted_and_is_now_refused_too_many_refs() {
    let h = Harness::new().await;
    tree(&h).await;
    let refs = names(120_000);
    let a = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": PROJECT, "secret_refs": refs})),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "{}",
        &a.text[..200.min(a.text.len())]
    );
    assert_eq!(a.json["error"]["code"], "too_many_refs");
    assert!(a.json["error"]["message"].as_str().unwrap().contains("256"));
    assert_eq!(task_count(&h).await, 0, "nothing was stored");
}

#[tokio::test]
async fn a_task_may_name_256_refs_and_not_257() {
    let h = Harness::new().await;
    tree(&h).await;
    let post = |refs: Vec<String>| {
        let h = &h;
        async move {
            h.call(
                "POST",
                "/api/v1/tasks",
                Some(&h.root),
                Some(json!({"project": PROJECT, "secret_refs": refs})),
            )
            .await
        }
    };
    post(names(257)).await.error(400, "too_many_refs");
    // Duplicates count: the bound is on the work a request asks for.
    post(vec!["SAME".to_string(); 257])
        .await
        .error(400, "too_many_refs");
    let a = post(names(256)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.json["secret_refs"].as_array().unwrap().len(), 256);
}

#[tokio::test]
async fn a_payload_over_64_kib_is_refused_naming_the_limit() {
    let h = Harness::new().await;
    tree(&h).await;
    let post = |payload: serde_json::Value| {
        let h = &h;
        async move {
            h.call(
                "POST",
                "/api/v1/tasks",
                Some(&h.root),
                Some(json!({"project": PROJECT, "secret_refs": ["A"], "payload": payload})),
            )
            .await
        }
    };
    // `{"p":"…"}` is 8 bytes around the text.
    let a = post(json!({"p": "x".repeat(65_536 - 8)})).await;
    assert_eq!(
        a.status,
        StatusCode::CREATED,
        "{}",
        &a.text[..200.min(a.text.len())]
    );
    let a = post(json!({"p": "x".repeat(65_536 - 7)})).await;
    a.error(400, "invalid_request");
    assert!(
        a.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("65536"),
        "{}",
        a.text
    );
}

#[tokio::test]
async fn a_dispatch_of_256_refs_resolves_and_fetches_every_one() {
    let h = Harness::new().await;
    tree(&h).await;
    let refs = names(256);
    for (i, n) in refs.iter().enumerate() {
        let scope = ["acme", "acme/platform", "acme/platform/dev"][i % 3];
        h.secret(scope, n, &format!("value-{i}")).await;
    }
    let t = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": PROJECT, "secret_refs": refs})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let id = t.json["id"].as_str().unwrap();
    let d = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{id}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(
        d.status,
        StatusCode::OK,
        "{}",
        &d.text[..300.min(d.text.len())]
    );
    for (i, n) in refs.iter().enumerate() {
        assert_eq!(d.json["env"][n], format!("value-{i}"));
    }
}

/// Routes run to completion on their own (a client that hangs up does not cut a write in
/// two), so the routes running at once are bounded separately: past the bound, a request
/// is answered 503 `overloaded` at once, and served again when a route ends.
#[tokio::test]
async fn past_the_bound_on_routes_running_a_request_is_answered_503_overloaded() {
    let h = Harness::new().await;
    let all = u32::try_from(secretstore_server::MAX_IN_FLIGHT).unwrap();
    let busy = h
        .state
        .in_flight
        .clone()
        .acquire_many_owned(all)
        .await
        .unwrap();
    let a = h.call("GET", "/api/v1/whoami", Some(&h.root), None).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    assert_eq!(a.json["error"]["code"], "overloaded", "{}", a.text);
    drop(busy);
    let a = h.call("GET", "/api/v1/whoami", Some(&h.root), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}
