//! Leak detection through the router (issue #17): the callback's `output` searched for the
//! brief's values and a finding contained (marked leaked, audited, the brief's leases
//! revoked), a brief's later scan, `POST /api/v1/scan` over what the caller may reveal,
//! `/api/v1/due`, and the metrics. Never a value in an answer or an audit record.

use crate::api::{audit_records, tree};
use crate::common::*;
use axum::http::StatusCode;
use base64::Engine;
use secretstore_core::GeneratorKind;
use serde_json::{Value, json};

const PROJECT: &str = "acme/platform/dev/agent-x";
const TOKEN_A: &str = "ghp_Leak3dTokenAlpha_0042";
const TOKEN_B: &str = "sk-live-Bravo/+?&=value-77";
const ADMIN_URL: &str = "postgres://admin:admin-pw-5d1e@db/app";

fn b64(v: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(v)
}

fn hex(v: &str) -> String {
    v.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Nothing of the values in `text`.
#[track_caller]
fn assert_no_values(what: &str, text: &str) {
    for v in [
        TOKEN_A.to_owned(),
        TOKEN_B.to_owned(),
        b64(TOKEN_A),
        hex(TOKEN_B),
    ] {
        assert!(!text.contains(&v), "{what} holds {v:?}: {text}");
    }
    assert!(!text.contains(MINTED_PASSWORD), "{what}: {text}");
}

struct Dispatched {
    brief: String,
    callback: String,
}

async fn dispatch(h: &Harness, refs: &[&str]) -> Dispatched {
    let a = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": PROJECT, "secret_refs": refs})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let task = a.json["id"].as_str().unwrap().to_owned();
    let d = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    Dispatched {
        brief: d.json["brief_id"].as_str().unwrap().to_owned(),
        callback: d.json["env"]["SECRETSTORE_CALLBACK_TOKEN"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

async fn meta(h: &Harness, scope: &str, name: &str) -> Value {
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

async fn brief(h: &Harness, id: &str) -> Value {
    let a = h
        .call("GET", &format!("/api/v1/briefs/{id}"), Some(&h.root), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json
}

#[tokio::test]
async fn an_agents_output_with_a_value_in_base64_and_another_in_hex_is_caught_and_contained() {
    let pg = FakeMinter::new(GeneratorKind::Postgres);
    let h = Harness::with_minters(vec![pg.clone()]).await;
    tree(&h).await;
    h.secret("acme/platform", "TOKEN_A", TOKEN_A).await;
    h.secret("acme/platform/dev", "TOKEN_B", TOKEN_B).await;
    h.secret("acme/platform", "PG_ADMIN_URL", ADMIN_URL).await;
    let g = h
        .call(
            "PUT",
            "/api/v1/secrets/DB_URL/generator?scope=acme/platform/dev",
            Some(&h.root),
            Some(json!({"generator": "postgres", "admin_ref": "PG_ADMIN_URL",
                "grants": ["GRANT SELECT ON t TO {{name}}"]})),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    let d = dispatch(&h, &["TOKEN_A", "TOKEN_B", "DB_URL"]).await;
    assert_eq!(pg.minted().len(), 1);

    let output = format!(
        "step 1 ok\nAuthorization: Basic {}\nconfig dump: {}\ndone\n",
        b64(TOKEN_A),
        hex(TOKEN_B)
    );
    let c = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{}/callback", d.brief),
            Some(&d.callback),
            Some(json!({"status": "succeeded", "output": output})),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert_no_values("the callback's answer", &c.text);
    assert_eq!(c.json["status"], "completed", "{}", c.text);
    let findings = c.json["findings"].as_array().unwrap();
    let named: Vec<(String, String, String, i64)> = findings
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["scope"].as_str().unwrap().to_owned(),
                f["encoding"].as_str().unwrap().to_owned(),
                f["version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        named.contains(&("TOKEN_A".into(), "acme/platform".into(), "base64".into(), 1)),
        "{}",
        c.text
    );
    assert!(
        named.contains(&(
            "TOKEN_B".into(),
            "acme/platform/dev".into(),
            "hex".into(),
            1
        )),
        "{}",
        c.text
    );
    let offset = findings.iter().find(|f| f["name"] == "TOKEN_B").unwrap()["offset"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(&output[offset..offset + 4], &hex(TOKEN_B)[..4]);

    // Both secrets marked leaked, the brief too; the minted credential revoked at once.
    for (scope, name) in [
        ("acme/platform", "TOKEN_A"),
        ("acme/platform/dev", "TOKEN_B"),
    ] {
        let m = meta(&h, scope, name).await;
        assert_eq!(m["leaked"], true, "{m}");
        assert!(m["leaked_at"].is_string(), "{m}");
    }
    let list = h
        .call(
            "GET",
            "/api/v1/secrets?scope=acme/platform",
            Some(&h.root),
            None,
        )
        .await;
    let listed = list.json["secrets"].as_array().unwrap();
    let a = listed.iter().find(|s| s["name"] == "TOKEN_A").unwrap();
    assert_eq!(a["leaked"], true, "{}", list.text);
    let p = listed.iter().find(|s| s["name"] == "PG_ADMIN_URL").unwrap();
    assert_eq!(p["leaked"], false, "{}", list.text);
    let b = brief(&h, &d.brief).await;
    assert_eq!(b["leaked"], true, "{b}");
    assert_eq!(b["status"], "completed", "{b}");
    assert_eq!(pg.revoked().len(), 1, "the brief's credential was revoked");
    let leases = h.call("GET", "/api/v1/leases", Some(&h.root), None).await;
    assert_eq!(
        leases.json["leases"][0]["revoke_reason"], "leaked",
        "{}",
        leases.text
    );

    // Audited per secret and encoding, with the brief; never a value.
    let leaked = audit_records(&h, "secret.leaked").await;
    assert_eq!(leaked.len(), 2, "{leaked:?}");
    for r in &leaked {
        assert_eq!(r["target"], d.brief.as_str(), "{r}");
        assert_no_values("an audit record", &r.to_string());
    }
    let all = h
        .call("GET", "/api/v1/audit?limit=10000", Some(&h.root), None)
        .await;
    assert_no_values("the audit log", &all.text);

    // The metrics count the two leaked versions.
    let m = h
        .call_from(Some("127.0.0.1"), "GET", "/metrics", None, None)
        .await;
    assert!(
        m.text
            .contains(r#"secretstore_leaks_found_total{source="callback"} 2"#),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains(r#"secretstore_secrets_due{reason="leaked"} 2"#),
        "{}",
        m.text
    );

    // Due lists them; a new version ends the mark.
    let due = h.call("GET", "/api/v1/due", Some(&h.root), None).await;
    assert_eq!(due.status, StatusCode::OK, "{}", due.text);
    assert_eq!(due.json["due"].as_array().unwrap().len(), 2, "{}", due.text);
    assert_eq!(due.json["due"][0]["reasons"][0], "leaked", "{}", due.text);
    h.secret("acme/platform", "TOKEN_A", "ghp_RotatedTokenAlpha_0043")
        .await;
    let m = meta(&h, "acme/platform", "TOKEN_A").await;
    assert_eq!(m["leaked"], false, "{m}");
    assert!(m.get("leaked_at").is_none(), "{m}");
    let due = h.call("GET", "/api/v1/due", Some(&h.root), None).await;
    assert_eq!(due.json["due"].as_array().unwrap().len(), 1, "{}", due.text);
}

#[tokio::test]
async fn a_clean_output_a_failed_status_and_an_old_callback_body_are_no_leak() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme/platform", "TOKEN_A", TOKEN_A).await;
    let d = dispatch(&h, &["TOKEN_A"]).await;
    let c = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{}/callback", d.brief),
            Some(&d.callback),
            Some(json!({"status": "failed", "output": "nothing to see: ghp_Leak3d"})),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert_eq!(c.json["status"], "failed", "{}", c.text);
    assert_eq!(c.json["findings"], json!([]), "{}", c.text);
    assert_eq!(brief(&h, &d.brief).await["status"], "failed");
    assert_eq!(brief(&h, &d.brief).await["leaked"], false);
    assert_eq!(meta(&h, "acme/platform", "TOKEN_A").await["leaked"], false);

    // The body of earlier clients (`completed`) and none at all still work.
    for body in [Some(json!({"status": "completed"})), None] {
        let d = dispatch(&h, &["TOKEN_A"]).await;
        let c = h
            .call(
                "POST",
                &format!("/api/v1/briefs/{}/callback", d.brief),
                Some(&d.callback),
                body,
            )
            .await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.text);
        assert_eq!(c.json["status"], "completed", "{}", c.text);
    }
}

#[tokio::test]
async fn bad_callback_bodies_are_refused_and_leave_the_brief_running() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme/platform", "TOKEN_A", TOKEN_A).await;
    let d = dispatch(&h, &["TOKEN_A"]).await;
    let cb = format!("/api/v1/briefs/{}/callback", d.brief);
    h.call(
        "POST",
        &cb,
        Some(&d.callback),
        Some(json!({"status": "done?"})),
    )
    .await
    .error(400, "invalid_request");
    h.call(
        "POST",
        &cb,
        Some(&d.callback),
        Some(json!({"outputs": TOKEN_A})),
    )
    .await
    .error(400, "invalid_json");
    let big = format!("{TOKEN_A}{}", "x".repeat(1024 * 1024));
    let a = h
        .call("POST", &cb, Some(&d.callback), Some(json!({"output": big})))
        .await;
    a.error(413, "payload_too_large");
    assert_no_values("a refusal", &a.text);
    // Without a token it is 401 whatever the body (found by schemathesis: it was 400).
    h.call("POST", &cb, None, Some(json!(null)))
        .await
        .error(401, "unauthorized");
    // A wrong token is 401 before anything is searched.
    h.call(
        "POST",
        &cb,
        Some("not-the-token"),
        Some(json!({"output": TOKEN_A})),
    )
    .await
    .error(401, "unauthorized");
    let b = brief(&h, &d.brief).await;
    assert_eq!(b["status"], "running", "{b}");
    assert_eq!(b["leaked"], false, "{b}");
    assert_eq!(meta(&h, "acme/platform", "TOKEN_A").await["leaked"], false);
    assert!(audit_records(&h, "secret.leaked").await.is_empty());
}

#[tokio::test]
async fn a_brief_scanned_after_it_ended_by_its_dispatcher_marks_the_leak() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme/platform", "TOKEN_A", TOKEN_A).await;
    h.secret("acme/platform", "TOKEN_B", TOKEN_B).await;
    h.scope("acme/other").await;
    let d = dispatch(&h, &["TOKEN_A"]).await;
    let c = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{}/callback", d.brief),
            Some(&d.callback),
            None,
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let dispatcher = h.account("ctl", Some(("dispatcher", Some("acme")))).await;
    let member_elsewhere = h.account("eve", Some(("member", Some("acme/other")))).await;
    // A transcript that holds both values, URL-encoded and JSON-escaped: only the brief's
    // own value (TOKEN_A) is searched for.
    let transcript = format!("{{\"log\": \"{}\"}} q={}", TOKEN_A, urlencoding(TOKEN_B));
    let scan = format!("/api/v1/briefs/{}/scan", d.brief);
    h.call(
        "POST",
        &scan,
        Some(&member_elsewhere),
        Some(json!({"text": transcript})),
    )
    .await
    .error(404, "not_found");
    let a = h
        .call(
            "POST",
            &scan,
            Some(&dispatcher),
            Some(json!({"text": transcript})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_no_values("the scan's answer", &a.text);
    let found: Vec<&str> = a.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(found, vec!["TOKEN_A"], "{}", a.text);
    assert_eq!(meta(&h, "acme/platform", "TOKEN_A").await["leaked"], true);
    assert_eq!(meta(&h, "acme/platform", "TOKEN_B").await["leaked"], false);
    assert_eq!(brief(&h, &d.brief).await["leaked"], true);
}

fn urlencoding(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_members_scan_finds_nothing_of_another_teams_and_marks_nothing() {
    let h = Harness::new().await;
    tree(&h).await;
    h.scope("acme/other").await;
    h.secret("acme/platform", "TOKEN_A", TOKEN_A).await;
    h.secret("acme/other", "TOKEN_B", TOKEN_B).await;
    h.secret("acme", "ORG_KEY", "org-wide-key-value-31").await;
    h.secret("acme/platform", "SHORT", "short").await;
    let member = h
        .account("mo", Some(("member", Some("acme/platform"))))
        .await;
    let dispatcher = h.account("ctl", Some(("dispatcher", Some("acme")))).await;
    let text = format!(
        "a={} b={} c={} d=short",
        b64(TOKEN_A),
        hex(TOKEN_B),
        "org-wide-key-value-31"
    );
    let a = h
        .call(
            "POST",
            "/api/v1/scan",
            Some(&member),
            Some(json!({"text": text})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_no_values("the member's scan", &a.text);
    let mut found: Vec<&str> = a.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    found.sort_unstable();
    assert_eq!(found, vec!["ORG_KEY", "TOKEN_A"], "{}", a.text);
    assert_eq!(a.json["skipped"], 1, "SHORT is under the floor: {}", a.text);
    // Root finds all three; a dispatcher, who reveals nothing, finds nothing.
    let r = h
        .call(
            "POST",
            "/api/v1/scan",
            Some(&h.root),
            Some(json!({"text": text})),
        )
        .await;
    assert_eq!(
        r.json["findings"].as_array().unwrap().len(),
        3,
        "{}",
        r.text
    );
    let d = h
        .call(
            "POST",
            "/api/v1/scan",
            Some(&dispatcher),
            Some(json!({"text": text})),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.json["findings"], json!([]), "{}", d.text);
    // An earlier version is found too; nothing is marked by a plain scan.
    h.secret("acme/platform", "TOKEN_A", "ghp_NewTokenAlpha_0099")
        .await;
    let a = h
        .call(
            "POST",
            "/api/v1/scan",
            Some(&member),
            Some(json!({"text": text})),
        )
        .await;
    let f = a.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "TOKEN_A")
        .cloned()
        .unwrap();
    assert_eq!(f["version"], 1, "{}", a.text);
    assert_eq!(meta(&h, "acme/platform", "TOKEN_A").await["leaked"], false);
    assert!(audit_records(&h, "secret.leaked").await.is_empty());
    assert_eq!(audit_records(&h, "scan").await.len(), 4);
    // Bad bodies.
    h.call(
        "POST",
        "/api/v1/scan",
        Some(&member),
        Some(json!({"txt": "x"})),
    )
    .await
    .error(400, "invalid_json");
    h.call("POST", "/api/v1/scan", None, Some(json!({"text": "x"})))
        .await
        .error(401, "unauthorized");
}

#[tokio::test]
async fn rotate_every_is_kept_shown_bounded_and_due_by_policy() {
    let h = Harness::new().await;
    tree(&h).await;
    h.scope("acme/other").await;
    let put = |body: Value| {
        let h = &h;
        async move {
            h.call(
                "PUT",
                "/api/v1/secrets/API_KEY?scope=acme/platform",
                Some(&h.root),
                Some(body),
            )
            .await
        }
    };
    let a =
        put(json!({"value": "v-one-123456", "category": "provider", "rotate_every": "90d"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        meta(&h, "acme/platform", "API_KEY").await["rotate_every"],
        "90d"
    );
    let a = put(json!({"value": "v-two-123456"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        meta(&h, "acme/platform", "API_KEY").await["rotate_every"],
        "90d",
        "kept when omitted"
    );
    for bad in ["10s", "400d", "abc", "-5d"] {
        put(json!({"value": "v-bad-123456", "rotate_every": bad}))
            .await
            .error(400, "invalid_request");
    }
    assert_eq!(meta(&h, "acme/platform", "API_KEY").await["version"], 2);
    let a = put(json!({"value": "v-three-12345", "rotate_every": "off"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        meta(&h, "acme/platform", "API_KEY")
            .await
            .get("rotate_every")
            .is_none()
    );
    // Nothing is due (new, not leaked); a hidden scope is 404.
    let due = h
        .call("GET", "/api/v1/due?scope=acme", Some(&h.root), None)
        .await;
    assert_eq!(due.json["due"], json!([]), "{}", due.text);
    let member = h.account("eve", Some(("member", Some("acme/other")))).await;
    h.call(
        "GET",
        "/api/v1/due?scope=acme/platform",
        Some(&member),
        None,
    )
    .await
    .error(404, "not_found");
}

#[tokio::test]
async fn the_ui_marks_a_leaked_secret_and_brief_and_a_secret_past_its_policy() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme/platform", "TOKEN_A", TOKEN_A).await;
    h.secret("acme/platform", "QUIET", "quiet-value-1234").await;
    let d = dispatch(&h, &["TOKEN_A"]).await;
    let c = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{}/callback", d.brief),
            Some(&d.callback),
            Some(json!({"output": format!("x {TOKEN_A} y")})),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let b = crate::ui::login(&h, &h.root).await;
    let cookie = Some(b.cookie.as_str());
    let scope = crate::ui::get(&h, "/ui/scopes/acme/platform", cookie).await;
    scope.status(200);
    let row = |name: &str| {
        let at = scope
            .body
            .find(&format!(r#"data-secret="{name}""#))
            .unwrap_or_else(|| panic!("no row {name}: {}", scope.body));
        let end = scope.body[at..].find("</tr>").unwrap();
        scope.body[at..at + end].to_owned()
    };
    assert!(row("TOKEN_A").contains("data-leaked"), "{}", row("TOKEN_A"));
    assert!(!row("QUIET").contains("data-leaked"), "{}", row("QUIET"));
    assert_no_values("the scope page", &scope.body);
    let secret = crate::ui::get(&h, "/ui/scopes/acme/platform/secrets/TOKEN_A", cookie).await;
    secret.status(200);
    assert!(secret.body.contains("data-leaked"), "{}", secret.body);
    let briefs = crate::ui::get(&h, "/ui/briefs", cookie).await;
    briefs.status(200);
    assert!(briefs.body.contains("data-leaked"), "{}", briefs.body);
    let page = crate::ui::get(&h, &format!("/ui/briefs/{}", d.brief), cookie).await;
    page.status(200);
    assert!(page.body.contains("data-leaked"), "{}", page.body);
    // A policy of 30 s at the organization: nothing is 30 s old yet, so nothing is due,
    // but the secret's page names the policy that applies.
    h.state
        .svc
        .set_rotation_policy(
            &secretstore_core::Principal {
                account: "root".into(),
                roles: vec![secretstore_core::Role::Root],
                source: "test".into(),
            },
            "acme",
            secretstore_core::Category::Infrastructure,
            Some(30),
        )
        .await
        .unwrap();
    let quiet = crate::ui::get(&h, "/ui/scopes/acme/platform/secrets/QUIET", cookie).await;
    assert!(
        quiet.body.contains(r#"data-rotate-every="30s""#),
        "{}",
        quiet.body
    );
    assert!(!quiet.body.contains("data-due"), "{}", quiet.body);
}
