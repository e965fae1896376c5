//! Per-task credentials through the router: defining generators, dispatching with minted
//! credentials, the leases listed and revoked (one, or a brief's), a failing mint that
//! leaves nothing behind, and who may see what. The provider is [`FakeMinter`]: these
//! tests are about the HTTP shapes (the real PostgreSQL and STS providers are tested
//! against real servers in their own crates).

use crate::api::{audit_records, tree};
use crate::common::*;
use axum::http::StatusCode;
use secretstore_core::GeneratorKind;
use serde_json::{Value, json};
use std::sync::Arc;

const PROJECT: &str = "acme/platform/dev/agent-x";
const ADMIN_URL: &str = "postgres://admin:admin-pw-5d1e@db/app";

struct Fixture {
    h: Harness,
    pg: Arc<FakeMinter>,
    sts: Arc<FakeMinter>,
}

/// A harness with both fake providers, the scope tree, and the admin URL at acme/platform.
async fn fixture() -> Fixture {
    let pg = FakeMinter::new(GeneratorKind::Postgres);
    let sts = FakeMinter::new(GeneratorKind::AwsSts);
    let h = Harness::with_minters(vec![pg.clone(), sts.clone()]).await;
    tree(&h).await;
    h.secret("acme/platform", "PG_ADMIN_URL", ADMIN_URL).await;
    Fixture { h, pg, sts }
}

fn pg_body() -> Value {
    json!({
        "generator": "postgres",
        "admin_ref": "PG_ADMIN_URL",
        "grants": ["GRANT SELECT ON t TO {{name}}", "GRANT INSERT ON u TO {{name}}"],
        "ttl": "30m",
    })
}

fn sts_body() -> Value {
    json!({
        "generator": "aws_sts",
        "role_arn": "arn:aws:iam::123456789012:role/agent",
        "session_policy": {"Version": "2012-10-17", "Statement": []},
    })
}

async fn put_generator(h: &Harness, token: &str, scope: &str, name: &str, body: Value) -> Answer {
    h.call(
        "PUT",
        &format!("/api/v1/secrets/{name}/generator?scope={scope}"),
        Some(token),
        Some(body),
    )
    .await
}

async fn task_in(h: &Harness, project: &str, refs: &[&str]) -> String {
    let a = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": project, "secret_refs": refs})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.json["id"].as_str().unwrap().to_owned()
}

async fn dispatch(h: &Harness, task: &str) -> Answer {
    h.call(
        "POST",
        &format!("/api/v1/tasks/{task}/dispatch"),
        Some(&h.root),
        None,
    )
    .await
}

async fn leases(h: &Harness, token: &str, query: &str) -> Vec<Value> {
    let a = h
        .call("GET", &format!("/api/v1/leases{query}"), Some(token), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json["leases"].as_array().unwrap().clone()
}

/// Everything the server answered or recorded must be free of minted and admin values.
fn assert_no_values(what: &str, text: &str) {
    for v in [MINTED_PASSWORD, MINTED_STS_SECRET, "admin-pw-5d1e"] {
        assert!(!text.contains(v), "{what} holds {v:?}: {text}");
    }
}

#[tokio::test]
async fn a_postgres_generator_is_defined_and_shown_in_metadata() {
    let f = fixture().await;
    let h = &f.h;
    let a = put_generator(h, &h.root, "acme/platform/dev", "DB_URL", pg_body()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["version"], 1, "{}", a.text);
    assert_eq!(a.json["generator"], "postgres", "{}", a.text);
    assert_eq!(a.json["category"], "agent", "{}", a.text);
    assert_eq!(a.json["name"], "DB_URL", "{}", a.text);

    let m = h
        .call(
            "GET",
            "/api/v1/secrets/DB_URL?scope=acme/platform/dev",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.json["generator"], "postgres", "{}", m.text);
    // A stored secret shows no generator field at all.
    let s = h
        .call(
            "GET",
            "/api/v1/secrets/PG_ADMIN_URL?scope=acme/platform",
            Some(&h.root),
            None,
        )
        .await;
    assert!(s.json.get("generator").is_none(), "{}", s.text);
    let list = h
        .call(
            "GET",
            "/api/v1/secrets?scope=acme/platform/dev",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(
        list.json["secrets"][0]["generator"], "postgres",
        "{}",
        list.text
    );

    // A redefinition is a new version; expected_version guards it.
    let again = put_generator(
        h,
        &h.root,
        "acme/platform/dev",
        "DB_URL",
        json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL", "ttl_secs": 600, "expected_version": 1}),
    )
    .await;
    assert_eq!(again.json["version"], 2, "{}", again.text);
    put_generator(
        h,
        &h.root,
        "acme/platform/dev",
        "DB_URL",
        json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL", "expected_version": 1}),
    )
    .await
    .error(409, "conflict");

    // The value of a generator is not there to reveal: 400, saying why.
    let v = h
        .call(
            "GET",
            "/api/v1/secrets/DB_URL/value?scope=acme/platform/dev",
            Some(&h.root),
            None,
        )
        .await;
    v.error(400, "invalid_request");
    let message = v.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("generator") && message.contains("minted"),
        "{message}"
    );

    let audit = audit_records(h, "secret.generator").await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["detail"]["admin_ref"], "PG_ADMIN_URL");
    assert_no_values("the audit log", &serde_json::to_string(&audit).unwrap());
}

#[tokio::test]
async fn bad_generator_bodies_are_400_and_a_stored_secret_is_409() {
    let f = fixture().await;
    let h = &f.h;
    let put = |body: Value| put_generator(h, &h.root, "acme/platform/dev", "GEN", body);
    // Malformed JSON names the field.
    let a = put(json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL", "grants": "x"})).await;
    a.error(400, "invalid_json");
    assert!(a.text.contains("grants"), "{}", a.text);
    // An unknown field is refused (the app's wording: "a field this call does not take").
    put(json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL", "bogus": 1}))
        .await
        .error(400, "invalid_json");
    for (body, needle) in [
        (json!({"generator": "mysql"}), "unknown generator"),
        (json!({"generator": "postgres"}), "admin_ref"),
        (json!({"generator": "aws_sts"}), "role_arn"),
        (
            json!({"generator": "aws_sts", "role_arn": "arn:aws:iam::123456789012:role/x", "admin_ref": "A"}),
            "admin_ref is not a field",
        ),
        (
            json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL", "role_arn": "x"}),
            "role_arn is not a field",
        ),
        (
            json!({"generator": "aws_sts", "role_arn": "not-an-arn"}),
            "not an IAM role ARN",
        ),
        (
            json!({"generator": "aws_sts", "role_arn": "arn:aws:iam::123456789012:role/x", "session_policy": "{nope"}),
            "not JSON",
        ),
        (
            json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL", "ttl": "soon"}),
            "ttl",
        ),
        (
            json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL", "ttl": "13h"}),
            "between 1m and 12h",
        ),
        (
            json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL", "ttl": "1h", "ttl_secs": 60}),
            "not both",
        ),
        (
            json!({"generator": "postgres", "admin_ref": "NO_SUCH_ADMIN"}),
            "store the admin connection URL first",
        ),
        (
            json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL", "category": "provider"}),
            "category is agent",
        ),
        (
            json!({"generator": "aws_sts", "role_arn": "arn:aws:iam::123456789012:role/x", "delivery": "file"}),
            "cannot be delivered as a file",
        ),
    ] {
        let a = put(body.clone()).await;
        a.error(400, "invalid_request");
        assert!(a.text.contains(needle), "{body} → {}", a.text);
    }
    // A stored secret of that name is not turned into a generator.
    put_generator(h, &h.root, "acme/platform", "PG_ADMIN_URL", sts_body())
        .await
        .error(409, "conflict");
    // Nothing was written by any of these.
    let list = h
        .call(
            "GET",
            "/api/v1/secrets?scope=acme/platform/dev",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(list.json["secrets"], json!([]), "{}", list.text);
}

#[tokio::test]
async fn a_dispatch_mints_and_the_callback_revokes() {
    let f = fixture().await;
    let h = &f.h;
    let a = put_generator(h, &h.root, "acme/platform/dev", "DB_URL", pg_body()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let t = task_in(h, PROJECT, &["DB_URL"]).await;
    let d = dispatch(h, &t).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let url = d.json["env"]["DB_URL"].as_str().unwrap();
    assert!(
        url.contains(MINTED_PASSWORD) && url.starts_with("postgres://ss_"),
        "{url}"
    );
    let brief = d.json["brief_id"].as_str().unwrap().to_owned();
    let cb_token = d.json["env"]["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap()
        .to_owned();
    let minted = f.pg.minted();
    assert_eq!(minted.len(), 1, "{minted:?}");
    assert!(minted[0].2, "the admin URL came with the mint");

    // The brief names the generator, its lease and its end; never the credential.
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_no_values("the brief", &b.text);
    let s = &b.json["secrets"][0];
    assert_eq!(s["name"], "DB_URL", "{}", b.text);
    assert_eq!(s["generator"], "postgres", "{}", b.text);
    let lease_id = s["lease_id"].as_str().unwrap().to_owned();
    assert!(s["expires_at"].is_string(), "{}", b.text);

    // The lease is listed, active, and shown alone.
    let list = leases(h, &h.root, "").await;
    assert_eq!(list.len(), 1, "{list:?}");
    let l = &list[0];
    assert_eq!(l["id"], lease_id.as_str());
    assert_eq!(l["state"], "active");
    assert_eq!(l["brief_id"], brief.as_str());
    assert_eq!(l["project"], PROJECT);
    assert_eq!(l["scope"], "acme/platform/dev");
    assert_eq!(l["name"], "DB_URL");
    assert_eq!(l["version"], 1);
    assert_eq!(l["provider"], "postgres");
    assert_eq!(l["principal"], minted[0].1.as_str());
    assert_eq!(l["admin_scope"], "acme/platform");
    assert_eq!(l["expires_at"], s["expires_at"]);
    assert!(
        l.get("revoked_at").is_none() && l.get("revoke_reason").is_none(),
        "{l}"
    );
    let one = h
        .call(
            "GET",
            &format!("/api/v1/leases/{lease_id}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.json["id"], lease_id.as_str(), "{}", one.text);
    assert_eq!(
        leases(h, &h.root, &format!("?brief={brief}&open=true"))
            .await
            .len(),
        1
    );
    assert_eq!(
        leases(h, &h.root, &format!("?project={PROJECT}&limit=5"))
            .await
            .len(),
        1
    );
    assert_eq!(leases(h, &h.root, "?project=acme/platform").await.len(), 1);

    // The callback revokes it, once.
    let c = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{brief}/callback"),
            Some(&cb_token),
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert_eq!(f.pg.revoked(), vec![minted[0].1.clone()]);
    let one = h
        .call(
            "GET",
            &format!("/api/v1/leases/{lease_id}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(one.json["state"], "revoked", "{}", one.text);
    assert_eq!(one.json["revoke_reason"], "callback", "{}", one.text);
    assert!(one.json["revoked_at"].is_string(), "{}", one.text);
    assert!(leases(h, &h.root, "?open=true").await.is_empty());

    // Revoking it again changes nothing and asks the provider nothing.
    let r = h
        .call(
            "DELETE",
            &format!("/api/v1/leases/{lease_id}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["revoked"], false, "{}", r.text);
    assert_eq!(r.json["lease"]["revoke_reason"], "callback", "{}", r.text);
    assert_eq!(f.pg.revoked().len(), 1);

    for action in ["lease.mint", "lease.revoke", "task.dispatch"] {
        let records = audit_records(h, action).await;
        assert!(!records.is_empty(), "no {action}");
        assert_no_values("the audit log", &serde_json::to_string(&records).unwrap());
    }
}

#[tokio::test]
async fn a_lease_is_revoked_by_id_and_a_briefs_leases_at_once() {
    let f = fixture().await;
    let h = &f.h;
    for (name, body) in [("DB_URL", pg_body()), ("AWS", sts_body())] {
        let a = put_generator(h, &h.root, "acme/platform/dev", name, body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert!(a.json["generator"].is_string(), "{}", a.text);
    }
    let t = task_in(h, PROJECT, &["DB_URL", "AWS"]).await;
    let d = dispatch(h, &t).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.json["env"]["AWS_SECRET_ACCESS_KEY"], MINTED_STS_SECRET);
    assert!(d.json["env"]["AWS"].is_null(), "{}", d.text);
    let brief = d.json["brief_id"].as_str().unwrap().to_owned();
    let list = leases(h, &h.root, &format!("?brief={brief}")).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let sts = list.iter().find(|l| l["provider"] == "aws_sts").unwrap();
    assert!(
        sts["principal"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:sts::123456789012:assumed-role/"),
        "{sts}"
    );
    let pg = list.iter().find(|l| l["provider"] == "postgres").unwrap();
    let pg_id = pg["id"].as_str().unwrap();

    let r = h
        .call(
            "DELETE",
            &format!("/api/v1/leases/{pg_id}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["revoked"], true, "{}", r.text);
    assert_eq!(r.json["lease"]["state"], "revoked", "{}", r.text);
    assert_eq!(r.json["lease"]["revoke_reason"], "revoked", "{}", r.text);
    assert_eq!(f.pg.revoked().len(), 1);
    assert!(f.sts.revoked().is_empty());

    // The rest of the brief's leases: only the STS one is left to revoke.
    let r = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{brief}/leases/revoke"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["revoked"], json!([sts["id"]]), "{}", r.text);
    assert_eq!(r.json["failed"], json!([]), "{}", r.text);
    assert_eq!(f.sts.revoked().len(), 1);
    assert!(leases(h, &h.root, "?open=true").await.is_empty());
    // The brief itself still runs.
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.json["status"], "running", "{}", b.text);
    assert_no_values("the brief", &b.text);

    // Unknown and malformed ids.
    let missing = "00000000-0000-4000-8000-000000000000";
    for (method, uri) in [
        ("GET", format!("/api/v1/leases/{missing}")),
        ("DELETE", format!("/api/v1/leases/{missing}")),
        ("POST", format!("/api/v1/briefs/{missing}/leases/revoke")),
    ] {
        h.call(method, &uri, Some(&h.root), None)
            .await
            .error(404, "not_found");
    }
    h.call("GET", "/api/v1/leases/not-a-lease", Some(&h.root), None)
        .await
        .error(400, "invalid_request");
    h.call("GET", "/api/v1/leases?brief=nope", Some(&h.root), None)
        .await
        .error(400, "invalid_request");
}

#[tokio::test]
async fn a_failing_mint_fails_the_dispatch_and_revokes_what_was_minted() {
    let f = fixture().await;
    let h = &f.h;
    for name in ["DB_A", "DB_B"] {
        let a = put_generator(h, &h.root, "acme/platform/dev", name, pg_body()).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    f.pg.fail("DB_B");
    let t = task_in(h, PROJECT, &["DB_A", "DB_B"]).await;
    let d = dispatch(h, &t).await;
    d.error(502, "backend_unavailable");
    assert_eq!(
        d.json["error"]["refs"],
        json!([{"name": "DB_B", "reason": "unavailable", "scope": "acme/platform/dev"}]),
        "{}",
        d.text
    );
    assert_no_values("the failed dispatch", &d.text);
    // Both were asked; what DB_A minted was revoked.
    let minted = f.pg.minted();
    assert_eq!(minted.len(), 2, "{minted:?}");
    let a_principal = &minted.iter().find(|m| m.0 == "DB_A").unwrap().1;
    assert!(f.pg.revoked().contains(a_principal), "{:?}", f.pg.revoked());
    let list = leases(h, &h.root, "").await;
    assert_eq!(list.len(), 2, "{list:?}");
    for l in &list {
        assert_eq!(l["revoke_reason"], "dispatch_failed", "{l}");
        assert_eq!(l["state"], "revoked", "{l}");
    }
    // No brief was stored.
    let brief = list[0]["brief_id"].as_str().unwrap();
    h.call(
        "GET",
        &format!("/api/v1/briefs/{brief}"),
        Some(&h.root),
        None,
    )
    .await
    .error(404, "not_found");
    assert!(audit_records(h, "task.dispatch").await.is_empty());
}

#[tokio::test]
async fn two_sts_refs_collide_before_anything_is_minted() {
    let f = fixture().await;
    let h = &f.h;
    for name in ["AWS_ONE", "AWS_TWO"] {
        let a = put_generator(h, &h.root, "acme/platform/dev", name, sts_body()).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let t = task_in(h, PROJECT, &["AWS_ONE", "AWS_TWO"]).await;
    let d = dispatch(h, &t).await;
    d.error(409, "conflict");
    let names: Vec<&str> = d.json["error"]["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["reason"], "collision", "{}", d.text);
            r["name"].as_str().unwrap()
        })
        .collect();
    assert!(
        names.contains(&"AWS_ONE") && names.contains(&"AWS_TWO"),
        "{}",
        d.text
    );
    assert!(f.sts.minted().is_empty());
    assert!(leases(h, &h.root, "").await.is_empty());
}

#[tokio::test]
async fn leases_are_for_whoever_may_dispatch_in_their_project() {
    let f = fixture().await;
    let h = &f.h;
    for s in ["acme/other", "acme/other/dev", "acme/other/dev/bot"] {
        h.scope(s).await;
    }
    let member = h
        .account("mo", Some(("member", Some("acme/platform"))))
        .await;
    let other = h.account("oz", Some(("member", Some("acme/other")))).await;
    let a = put_generator(h, &h.root, "acme", "AWS", sts_body()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let t = task_in(h, PROJECT, &["AWS"]).await;
    let d = dispatch(h, &t).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let brief = d.json["brief_id"].as_str().unwrap().to_owned();
    let id = leases(h, &h.root, "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The member of the project's team sees it; the other team's member gets 404 as if
    // it did not exist, and an empty list.
    assert_eq!(leases(h, &member, "").await.len(), 1);
    let seen = h
        .call("GET", &format!("/api/v1/leases/{id}"), Some(&member), None)
        .await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
    assert!(leases(h, &other, "").await.is_empty());
    let missing = "00000000-0000-4000-8000-000000000000";
    for (method, uri) in [
        ("GET", "/api/v1/leases/{}"),
        ("DELETE", "/api/v1/leases/{}"),
    ] {
        let hidden = h
            .call(method, &uri.replace("{}", &id), Some(&other), None)
            .await;
        hidden.error(404, "not_found");
        let absent = h
            .call(method, &uri.replace("{}", missing), Some(&other), None)
            .await;
        assert_eq!(
            hidden.text.replace(&id, "{}"),
            absent.text.replace(missing, "{}"),
            "a hidden lease answers as a missing one"
        );
    }
    h.call(
        "POST",
        &format!("/api/v1/briefs/{brief}/leases/revoke"),
        Some(&other),
        None,
    )
    .await
    .error(404, "not_found");
    h.call(
        "GET",
        &format!("/api/v1/leases?project={PROJECT}"),
        Some(&other),
        None,
    )
    .await
    .error(404, "not_found");
    assert!(
        f.sts.revoked().is_empty(),
        "nothing was revoked by the outsider"
    );

    // A member may not define a generator at the organization (no write there).
    put_generator(h, &member, "acme", "AWS2", sts_body())
        .await
        .error(403, "forbidden");
    // The member revokes it.
    let r = h
        .call(
            "DELETE",
            &format!("/api/v1/leases/{id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["revoked"], true, "{}", r.text);
    assert_eq!(f.sts.revoked().len(), 1);
}

// ── The web UI ──────────────────────────────────────────────────────────────────────

/// A postgres generator at acme/platform/dev, dispatched once: (brief, lease id).
async fn ui_setup(f: &Fixture) -> (String, String) {
    let h = &f.h;
    let a = put_generator(h, &h.root, "acme/platform/dev", "DB_URL", pg_body()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let t = task_in(h, PROJECT, &["DB_URL"]).await;
    let d = dispatch(h, &t).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let brief = d.json["brief_id"].as_str().unwrap().to_owned();
    let lease = leases(h, &h.root, "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (brief, lease)
}

#[tokio::test]
async fn ui_a_generators_page_shows_its_spec_and_leases_and_the_brief_its_lease() {
    use crate::ui::{get, login};
    let f = fixture().await;
    let h = &f.h;
    let (brief, lease) = ui_setup(&f).await;
    let b = login(h, &h.root).await;
    let p = get(h, "/ui/scopes/acme/platform/dev/secrets/DB_URL", b.c()).await;
    p.status(200);
    for needle in [
        r#"data-generator="postgres""#.to_owned(),
        r#"data-admin-ref="PG_ADMIN_URL""#.to_owned(),
        r#"data-grants="2""#.to_owned(),
        "GRANT SELECT ON t TO {{name}}".to_owned(),
        r#"data-ttl="30m""#.to_owned(),
        format!(r#"data-lease="{lease}" data-state="active""#),
        format!(r#"href="/ui/briefs/{brief}""#),
    ] {
        assert!(p.body.contains(&needle), "{needle} missing: {}", p.body);
    }
    // No value to reveal or rotate; no value anywhere.
    assert!(!p.body.contains(r#"data-form="reveal""#));
    assert!(!p.body.contains(r#"data-form="rotate""#));
    assert_no_values("the generator's page", &p.body);

    let p = get(h, &format!("/ui/briefs/{brief}"), b.c()).await;
    p.status(200);
    assert!(
        p.body
            .contains(&format!(r#"data-lease="{lease}" data-state="active""#)),
        "{}",
        p.body
    );
    assert!(p.body.contains("postgres generator"), "{}", p.body);
    assert_no_values("the brief's page", &p.body);
}

#[tokio::test]
async fn ui_the_leases_page_lists_and_revokes_with_its_csrf_token() {
    use crate::ui::{get, login, post};
    let f = fixture().await;
    let h = &f.h;
    let (brief, lease) = ui_setup(&f).await;
    let b = login(h, &h.root).await;
    let p = get(h, "/ui/leases", b.c()).await;
    p.status(200);
    assert!(
        p.body
            .contains(&format!(r#"data-lease="{lease}" data-state="active""#)),
        "{}",
        p.body
    );
    assert!(p.body.contains(r#"data-form="revoke-lease""#));
    assert!(p.body.contains(&format!(r#"href="/ui/briefs/{brief}""#)));
    assert!(p.body.contains(r#"href="/ui/leases""#), "the nav links it");
    assert_no_values("the leases page", &p.body);

    // Without the session's CSRF token nothing is revoked.
    let revoke = format!("/ui/leases/{lease}/revoke");
    for fields in [vec![], vec![("csrf", "not-the-token")]] {
        post(h, &revoke, b.c(), &fields).await.status(403);
    }
    assert!(f.pg.revoked().is_empty());

    // Another team's member sees no lease, and may not revoke it (the 404 page).
    h.scope("acme/other").await;
    let other = h.account("oz", Some(("member", Some("acme/other")))).await;
    let o = login(h, &other).await;
    let p = get(h, "/ui/leases", o.c()).await;
    p.status(200);
    assert!(!p.body.contains(&lease), "{}", p.body);
    post(h, &revoke, o.c(), &[("csrf", &o.csrf)])
        .await
        .status(404);
    assert!(f.pg.revoked().is_empty());

    let r = post(h, &revoke, b.c(), &[("csrf", &b.csrf)]).await;
    r.status(303);
    assert_eq!(r.location(), "/ui/leases?done=revoked");
    assert_eq!(f.pg.revoked().len(), 1);
    let p = get(h, "/ui/leases?done=revoked", b.c()).await;
    assert!(p.body.contains("data-notice"), "{}", p.body);
    assert!(
        p.body
            .contains(&format!(r#"data-lease="{lease}" data-state="revoked""#)),
        "{}",
        p.body
    );
    assert!(!p.body.contains(r#"data-form="revoke-lease""#));
    // Open leases only: none left.
    let p = get(h, "/ui/leases?open=1", b.c()).await;
    assert!(p.body.contains("No open lease."), "{}", p.body);
    // Again: nothing to do.
    let r = post(h, &revoke, b.c(), &[("csrf", &b.csrf)]).await;
    assert_eq!(r.location(), "/ui/leases?done=ended");
    assert_eq!(f.pg.revoked().len(), 1);
}
