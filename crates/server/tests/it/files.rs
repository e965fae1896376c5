//! File delivery over the API: `"delivery"` on writes and links (kept when omitted), in
//! every metadata answer and the brief, and the dispatch answer's `"files"` beside `"env"`.

use crate::api::{audit_records, dispatch_answer, task, tree};
use crate::common::*;
use axum::http::StatusCode;
use serde_json::json;

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBg-canary\n-----END PRIVATE KEY-----\n";

async fn put(h: &Harness, scope: &str, name: &str, body: serde_json::Value) -> Answer {
    h.call(
        "PUT",
        &format!("/api/v1/secrets/{name}?scope={scope}"),
        Some(&h.root),
        Some(body),
    )
    .await
}

async fn meta(h: &Harness, scope: &str, name: &str) -> serde_json::Value {
    let a = h
        .call(
            "GET",
            &format!("/api/v1/secrets/{name}?scope={scope}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json
}

#[tokio::test]
async fn a_delivery_put_over_the_api_is_shown_everywhere_kept_when_omitted_and_changed_when_given()
{
    let h = Harness::new().await;
    tree(&h).await;
    let a = put(
        &h,
        "acme",
        "TLS_KEY",
        json!({"value": PEM, "category": "infrastructure", "delivery": "file"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["delivery"], "file", "{}", a.text);
    h.secret("acme", "DB_URL", "postgres://x").await;
    assert_eq!(meta(&h, "acme", "DB_URL").await["delivery"], "env");
    let list = h
        .call("GET", "/api/v1/secrets?scope=acme", Some(&h.root), None)
        .await;
    let deliveries: Vec<(&str, &str)> = list.json["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["delivery"].as_str().unwrap()))
        .collect();
    assert_eq!(deliveries, [("DB_URL", "env"), ("TLS_KEY", "file")]);
    // A later write without a delivery keeps it…
    let a = put(&h, "acme", "TLS_KEY", json!({"value": "rotated-pem"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["version"], 2);
    assert_eq!(meta(&h, "acme", "TLS_KEY").await["delivery"], "file");
    // …and one with a delivery changes it, recorded in the write's audit detail.
    let a = put(
        &h,
        "acme",
        "TLS_KEY",
        json!({"value": "rotated-again", "delivery": "env"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(meta(&h, "acme", "TLS_KEY").await["delivery"], "env");
    let writes = audit_records(&h, "secret.set").await;
    let details: Vec<(i64, serde_json::Value)> = writes
        .iter()
        .filter(|r| r["name"] == "TLS_KEY")
        .map(|r| {
            (
                r["version"].as_i64().unwrap(),
                r["detail"]["delivery"].clone(),
            )
        })
        .collect();
    assert!(
        details.contains(&(1, json!("file"))) && details.contains(&(3, json!("env"))),
        "{details:?}"
    );
    assert!(
        details.contains(&(2, serde_json::Value::Null)),
        "{details:?}"
    );
}

#[tokio::test]
async fn a_dispatch_answers_file_delivered_secrets_under_files_beside_env() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "DB_URL", "postgres://env-canary").await;
    let a = put(
        &h,
        "acme/platform",
        "TLS_KEY",
        json!({"value": PEM, "category": "infrastructure", "delivery": "file"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let t = task(&h, &["TLS_KEY", "DB_URL"], None).await;
    let d = dispatch_answer(&h, &t).await;
    assert_eq!(d["files"], json!({"TLS_KEY": PEM}), "{d}");
    let env = d["env"].as_object().unwrap();
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "DB_URL",
            "SECRETSTORE_BRIEF_ID",
            "SECRETSTORE_CALLBACK_TOKEN"
        ],
        "neither TLS_KEY nor TLS_KEY_FILE in the env: {d}"
    );
    // The brief says which secret was a file; an env secret's entry is as it always was.
    let brief_id = d["brief_id"].as_str().unwrap();
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief_id}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.json["secrets"][0]["name"], "TLS_KEY");
    assert_eq!(b.json["secrets"][0]["delivery"], "file", "{}", b.text);
    assert_eq!(b.json["secrets"][1]["name"], "DB_URL");
    assert!(b.json["secrets"][1].get("delivery").is_none(), "{}", b.text);
    assert!(!b.text.contains("canary"), "{}", b.text);
    // `files` is always there: `{}` when no secret is a file.
    let t = task(&h, &["DB_URL"], None).await;
    assert_eq!(dispatch_answer(&h, &t).await["files"], json!({}));
}

#[tokio::test]
async fn a_bad_delivery_is_a_400_in_the_products_words_and_changes_nothing() {
    let h = Harness::new().await;
    tree(&h).await;
    let a = put(
        &h,
        "acme",
        "NEW_ONE",
        json!({"value": "CANARY-bad-delivery-1", "category": "agent", "delivery": "sealed"}),
    )
    .await;
    a.error(400, "invalid_request");
    let message = a.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("unknown delivery \"sealed\"") && message.contains("one of env"),
        "{message}"
    );
    assert!(!a.text.contains("CANARY"), "{}", a.text);
    let gone = h
        .call(
            "GET",
            "/api/v1/secrets/NEW_ONE?scope=acme",
            Some(&h.root),
            None,
        )
        .await;
    gone.error(404, "not_found");
    // On an existing secret: no new version, the delivery as it was.
    h.secret("acme", "DB_URL", "postgres://x").await;
    let a = put(
        &h,
        "acme",
        "DB_URL",
        json!({"value": "CANARY-bad-delivery-2", "delivery": "FILE"}),
    )
    .await;
    a.error(400, "invalid_request");
    let m = meta(&h, "acme", "DB_URL").await;
    assert_eq!(
        (m["version"].clone(), m["delivery"].clone()),
        (json!(1), json!("env"))
    );
    // The link body too, before any backend is asked.
    let a = h
        .call(
            "POST",
            "/api/v1/secrets/LINKED/link?scope=acme",
            Some(&h.root),
            Some(json!({"vault_path": "secret/x#v", "category": "agent", "delivery": "both"})),
        )
        .await;
    a.error(400, "invalid_request");
    assert!(a.text.contains("unknown delivery"), "{}", a.text);
}

#[tokio::test]
async fn a_file_delivered_x_and_an_env_delivered_x_file_fail_the_dispatch_naming_both() {
    let h = Harness::new().await;
    tree(&h).await;
    let a = put(
        &h,
        "acme",
        "CERT",
        json!({"value": PEM, "category": "infrastructure", "delivery": "file"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    h.secret("acme/platform/dev", "CERT_FILE", "/etc/other.pem")
        .await;
    let t = task(&h, &["CERT", "CERT_FILE"], None).await;
    let d = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    d.error(409, "conflict");
    let refs: Vec<(&str, &str)> = d.json["error"]["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(refs, [("CERT", "collision"), ("CERT_FILE", "collision")]);
    let message = d.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("CERT (delivered as a file") && message.contains("CERT_FILE ("),
        "{message}"
    );
    assert!(!d.text.contains("BEGIN") && !d.text.contains("/etc/other.pem"));
    // Nothing was dispatched: no brief, no record.
    assert!(audit_records(&h, "task.dispatch").await.is_empty());
}

#[tokio::test]
async fn the_openapi_document_shows_delivery_and_files() {
    let h = Harness::new().await;
    let doc = h.call("GET", "/api/v1/openapi.json", None, None).await.json;
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("PutSecret", "delivery"),
        ("LinkSecret", "delivery"),
        ("SecretDto", "delivery"),
        ("DispatchDto", "files"),
        ("BriefSecretDto", "delivery"),
    ] {
        assert!(
            schemas[schema]["properties"][field].is_object(),
            "{schema}.{field} is not documented"
        );
    }
    assert_eq!(
        schemas["PutSecret"]["properties"]["delivery"]["pattern"],
        "^(env|file)$"
    );
    let required = schemas["DispatchDto"]["required"].as_array().unwrap();
    assert!(required.contains(&json!("files")), "{required:?}");
    let dispatch = &doc["paths"]["/api/v1/tasks/{id}/dispatch"]["post"]["responses"];
    assert!(dispatch["409"].is_object(), "409 of a collision");
}

#[tokio::test]
async fn the_secret_page_of_the_web_ui_says_how_the_secret_is_delivered() {
    use crate::ui::{get, login};
    let h = Harness::new().await;
    tree(&h).await;
    let a = put(
        &h,
        "acme",
        "TLS_KEY",
        json!({"value": PEM, "category": "infrastructure", "delivery": "file"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    h.secret("acme", "DB_URL", "postgres://x").await;
    let b = login(&h, &h.root).await;
    let page = get(&h, "/ui/scopes/acme/secrets/TLS_KEY", b.c()).await;
    page.status(200);
    assert!(
        page.body.contains(r#"data-delivery="file""#)
            && page.body.contains("<code>TLS_KEY_FILE</code>"),
        "{}",
        page.body
    );
    let page = get(&h, "/ui/scopes/acme/secrets/DB_URL", b.c()).await;
    assert!(
        page.body.contains(r#"data-delivery="env""#),
        "{}",
        page.body
    );
}
