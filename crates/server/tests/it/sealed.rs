//! Sealed delivery through the router: a dispatch that answers only a boot token, the boot
//! that opens the env once, a replay caught, an expiry, and an organization's policy.

use crate::api::{audit_records, task, tree};
use crate::common::*;
use axum::http::StatusCode;
use serde_json::json;

const MULTI: &str = "-----BEGIN KEY-----\nline two\n-----END KEY-----\n";

/// Dispatches `task` as `token` with `{"delivery": "sealed"}`.
async fn dispatch_sealed(h: &Harness, token: &str, task: &str) -> Answer {
    h.call(
        "POST",
        &format!("/api/v1/tasks/{task}/dispatch"),
        Some(token),
        Some(json!({"delivery": "sealed"})),
    )
    .await
}

/// `POST /api/v1/boot` from `peer` with `token`.
async fn boot(h: &Harness, peer: &str, token: &str) -> Answer {
    h.call_from(Some(peer), "POST", "/api/v1/boot", Some(token), None)
        .await
}

/// A tree with two secrets (one multi-line) and a task naming both: (task id).
async fn setup(h: &Harness) -> String {
    tree(h).await;
    h.secret("acme/platform", "DB_URL", "postgres://u:sealed-pw@db/app")
        .await;
    h.secret("acme/platform/dev", "TLS_KEY", MULTI).await;
    task(h, &["DB_URL", "TLS_KEY"], None).await
}

#[tokio::test]
async fn a_sealed_dispatch_answered_with_values() {
    let h = Harness::new().await;
    let t = setup(&h).await;
    let d = dispatch_sealed(&h, &h.root, &t).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let mut keys: Vec<&String> = d.json.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["boot_token", "brief_id", "expires_at", "task_id"]);
    let token = d.json["boot_token"].as_str().unwrap();
    assert!(
        token.starts_with("ssbt_") && token.len() == 5 + 43,
        "{token}"
    );
    assert!(!d.text.contains("sealed-pw") && !d.text.contains("BEGIN KEY"));
    assert!(!d.text.contains("sscb_"), "no callback token in the answer");
    let brief = d.json["brief_id"].as_str().unwrap();

    // The brief records the delivery and the token's state, never the token.
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_eq!(b.json["delivery"], "sealed");
    assert_eq!(b.json["boot"]["state"], "waiting");
    assert!(!b.text.contains(token));

    // A rotation between the dispatch and the boot changes nothing of what the agent
    // gets: the values are those of the brief's versions.
    h.secret("acme/platform", "DB_URL", "postgres://u:rotated-pw@db/app")
        .await;

    // The boot opens it once: every value exactly, the callback token with it.
    let opened = boot(&h, "10.0.0.1", token).await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.text);
    assert_eq!(opened.headers["cache-control"], "no-store");
    assert_eq!(
        opened.json["env"]["DB_URL"],
        "postgres://u:sealed-pw@db/app"
    );
    assert_eq!(opened.json["env"]["TLS_KEY"], MULTI);
    assert_eq!(opened.json["env"]["SECRETSTORE_BRIEF_ID"], brief);
    let callback = opened.json["env"]["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(opened.json["files"].as_object().unwrap().is_empty());
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.json["boot"]["state"], "redeemed", "{}", b.text);
    assert_eq!(b.json["boot"]["redeemed_from"], "10.0.0.1");
    let booted = audit_records(&h, "brief.boot").await;
    assert_eq!(booted.len(), 1);
    assert_eq!(booted[0]["source"], "10.0.0.1");
    assert_eq!(booted[0]["target"], brief);
    let dispatched = audit_records(&h, "task.dispatch").await;
    assert_eq!(dispatched[0]["detail"]["delivery"], "sealed");

    // The agent's callback works with the token from the boot.
    let cb = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{brief}/callback"),
            Some(&callback),
            None,
        )
        .await;
    assert_eq!(cb.status, StatusCode::OK, "{}", cb.text);
}

#[tokio::test]
async fn a_replayed_boot_token_was_not_caught() {
    let h = Harness::new().await;
    let t = setup(&h).await;
    let d = dispatch_sealed(&h, &h.root, &t).await;
    let token = d.json["boot_token"].as_str().unwrap().to_owned();
    let brief = d.json["brief_id"].as_str().unwrap().to_owned();
    let first = boot(&h, "10.0.0.1", &token).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let callback = first.json["env"]["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap()
        .to_owned();

    // Whoever intercepted the token presents it again, from elsewhere.
    let again = boot(&h, "192.0.2.9", &token).await;
    again.error(410, "already_used");
    assert!(!again.text.contains("sealed-pw"));
    let replays = audit_records(&h, "brief.boot_replay").await;
    assert_eq!(replays.len(), 1, "{replays:?}");
    assert_eq!(replays[0]["detail"]["redeemed_from"], "10.0.0.1");
    assert_eq!(replays[0]["detail"]["replayed_from"], "192.0.2.9");
    assert_eq!(replays[0]["source"], "192.0.2.9");

    // The brief is revoked: its callback token no longer works.
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.json["status"], "revoked", "{}", b.text);
    assert_eq!(b.json["boot"]["state"], "replayed");
    assert_eq!(b.json["boot"]["replayed_from"], "192.0.2.9");
    let revokes = audit_records(&h, "brief.revoke").await;
    assert_eq!(revokes.len(), 1);
    assert_eq!(revokes[0]["detail"]["reason"], "boot_replay");
    let cb = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{brief}/callback"),
            Some(&callback),
            None,
        )
        .await;
    cb.error(401, "unauthorized");
    // A third try is refused the same way; the brief stays revoked.
    boot(&h, "192.0.2.9", &token)
        .await
        .error(410, "already_used");
}

#[tokio::test]
async fn an_unredeemed_boot_token_did_not_expire() {
    let h = Harness::with_boot_ttl(1).await;
    let t = setup(&h).await;
    let d = dispatch_sealed(&h, &h.root, &t).await;
    let token = d.json["boot_token"].as_str().unwrap().to_owned();
    let brief = d.json["brief_id"].as_str().unwrap().to_owned();
    // Stored times are whole seconds: two seconds later the token is past its expiry.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    boot(&h, "10.0.0.1", &token).await.error(410, "expired");
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.json["boot"]["state"], "expired", "{}", b.text);
    // Its sealed env is gone: nothing is left to expire.
    assert_eq!(h.state.svc.expire_boots().await.unwrap(), 0);
}

#[tokio::test]
async fn a_boot_token_of_a_revoked_brief_still_opened() {
    let h = Harness::new().await;
    let t = setup(&h).await;
    let d = dispatch_sealed(&h, &h.root, &t).await;
    let token = d.json["boot_token"].as_str().unwrap().to_owned();
    let brief = d.json["brief_id"].as_str().unwrap().to_owned();
    let r = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{brief}/revoke"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    boot(&h, "10.0.0.1", &token).await.error(410, "ended");
}

#[tokio::test]
async fn wrong_boot_tokens_were_not_limited() {
    let h = Harness::new().await;
    let t = setup(&h).await;
    let d = dispatch_sealed(&h, &h.root, &t).await;
    let token = d.json["boot_token"].as_str().unwrap().to_owned();
    let forged = format!("ssbt_{}", "A".repeat(43));
    for wrong in [forged.as_str(), "sscb_not-a-boot-token", "nonsense"] {
        boot(&h, "203.0.113.5", wrong)
            .await
            .error(401, "unauthorized");
    }
    for _ in 3..secretstore_server::limit::FAILURES_PER_MINUTE {
        boot(&h, "203.0.113.5", &forged)
            .await
            .error(401, "unauthorized");
    }
    // Locked out: even the right token waits; another address is not.
    let locked = boot(&h, "203.0.113.5", &token).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.text
    );
    let failed = audit_records(&h, "auth.failed").await;
    assert!(
        failed
            .iter()
            .all(|r| r["detail"]["credential"] == "boot_token"),
        "{failed:?}"
    );
    assert!(!format!("{failed:?}").contains(&forged));
    let ok = boot(&h, "203.0.113.6", &token).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

#[tokio::test]
async fn an_org_requiring_sealed_delivery_still_answered_with_values() {
    let h = Harness::new().await;
    let t = setup(&h).await;
    let admin = h.account("ada", Some(("admin", Some("acme")))).await;
    let member = h
        .account("mo", Some(("member", Some("acme/platform"))))
        .await;
    let policy = "/api/v1/orgs/acme/policy";
    let get = h.call("GET", policy, Some(&member), None).await;
    assert_eq!(get.json, json!({"sealed_only": false}), "{}", get.text);
    // A member may not set it; the admin may.
    h.call(
        "PUT",
        policy,
        Some(&member),
        Some(json!({"sealed_only": true})),
    )
    .await
    .error(403, "forbidden");
    let set = h
        .call(
            "PUT",
            policy,
            Some(&admin),
            Some(json!({"sealed_only": true})),
        )
        .await;
    assert_eq!(set.json, json!({"sealed_only": true}), "{}", set.text);
    let audited = audit_records(&h, "org.policy").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["detail"]["sealed_only"], true);

    // An env dispatch (no body, or "env") is refused, nothing stored; sealed works.
    let before = audit_records(&h, "task.dispatch").await.len();
    for body in [None, Some(json!({"delivery": "env"}))] {
        let d = h
            .call(
                "POST",
                &format!("/api/v1/tasks/{t}/dispatch"),
                Some(&member),
                body,
            )
            .await;
        d.error(403, "forbidden");
        assert!(d.text.contains("sealed"), "{}", d.text);
        assert!(!d.text.contains("sealed-pw"));
    }
    assert_eq!(audit_records(&h, "task.dispatch").await.len(), before);
    let sealed = dispatch_sealed(&h, &member, &t).await;
    assert_eq!(sealed.status, StatusCode::OK, "{}", sealed.text);

    // Lifted again, an env dispatch works.
    h.call(
        "PUT",
        policy,
        Some(&admin),
        Some(json!({"sealed_only": false})),
    )
    .await;
    let d = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    // Another org's admin sees nothing of it.
    h.scope("other").await;
    let stranger = h.account("sam", Some(("admin", Some("other")))).await;
    h.call("GET", policy, Some(&stranger), None)
        .await
        .error(404, "not_found");
    h.call(
        "PUT",
        policy,
        Some(&stranger),
        Some(json!({"sealed_only": true})),
    )
    .await
    .error(404, "not_found");
}

#[tokio::test]
async fn a_bad_dispatch_body_was_not_named() {
    let h = Harness::new().await;
    let t = setup(&h).await;
    let uri = format!("/api/v1/tasks/{t}/dispatch");
    let bad = h
        .call(
            "POST",
            &uri,
            Some(&h.root),
            Some(json!({"delivery": "carrier-pigeon"})),
        )
        .await;
    bad.error(400, "invalid_json");
    assert!(bad.text.contains("delivery"), "{}", bad.text);
    assert!(!bad.text.contains("carrier-pigeon"), "{}", bad.text);
    h.call(
        "POST",
        &uri,
        Some(&h.root),
        Some(json!({"deliver": "sealed"})),
    )
    .await
    .error(400, "invalid_json");
    // Nothing was dispatched by either.
    assert!(audit_records(&h, "task.dispatch").await.is_empty());
}

#[tokio::test]
async fn the_briefs_pages_did_not_show_a_sealed_briefs_boot() {
    use crate::ui::{get, login};
    let h = Harness::new().await;
    let t = setup(&h).await;
    let d = dispatch_sealed(&h, &h.root, &t).await;
    let token = d.json["boot_token"].as_str().unwrap().to_owned();
    let brief = d.json["brief_id"].as_str().unwrap().to_owned();
    let b = login(&h, &h.root).await;
    let page = |p: &str| format!("/ui/briefs{p}");
    let shown = get(&h, &page(&format!("/{brief}")), b.c()).await;
    shown.status(200);
    assert!(
        shown.body.contains(r#"data-delivery="sealed""#),
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains(r#"data-boot="waiting""#),
        "{}",
        shown.body
    );
    let list = get(&h, &page(""), b.c()).await;
    assert!(
        list.body
            .contains(r#"data-delivery="sealed" data-boot="waiting""#),
        "{}",
        list.body
    );

    boot(&h, "10.0.0.1", &token).await;
    let shown = get(&h, &page(&format!("/{brief}")), b.c()).await;
    assert!(
        shown.body.contains(r#"data-boot="redeemed""#),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("10.0.0.1"));
    boot(&h, "192.0.2.9", &token).await;
    let shown = get(&h, &page(&format!("/{brief}")), b.c()).await;
    assert!(
        shown.body.contains(r#"data-boot="replayed""#),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("data-replayed") && shown.body.contains("192.0.2.9"));
    let list = get(&h, &page(""), b.c()).await;
    assert!(
        list.body.contains(r#"data-boot="replayed""#),
        "{}",
        list.body
    );
    for secret in ["sealed-pw", "BEGIN KEY", token.as_str()] {
        assert!(!shown.body.contains(secret) && !list.body.contains(secret));
    }
}
