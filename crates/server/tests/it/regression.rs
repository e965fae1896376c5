//! Regression tests: each pins a defect that was found and fixed, and names it (issue 10's,
//! which a review that tried the code as an attacker reproduced). The test bodies are the
//! ones written with the fix; they moved here from the module of their area.

use crate::api::{audit_records, dispatch, task, tree};
use crate::common::*;
use crate::ui::{
    CANARY, WS, current, get, login, newest_token_id, post, revoke_member, session_ids,
    tree as ui_tree,
};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

const PROJECT: &str = "acme/platform/dev/agent-x";

/// Issue 10, item 4: callback tokens were replayable: a second callback with the same token
/// answered 200 and added a second audit record.
#[tokio::test]
async fn a_second_callback_with_the_same_token_is_409_and_audited_as_a_replay() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "A", "a-value").await;
    let t = task(&h, &["A"], None).await;
    let (brief, token) = dispatch(&h, &t).await;
    let cb = format!("/api/v1/briefs/{brief}/callback");
    let first = h.call("POST", &cb, Some(&token), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = h.call("POST", &cb, Some(&token), None).await;
    again.error(409, "callback_replayed");
    assert!(!again.text.contains(&token));
    let b = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(b.json["status"], "completed");
    assert_eq!(audit_records(&h, "brief.callback").await.len(), 1);
    let replays = audit_records(&h, "brief.callback_replay").await;
    assert_eq!(replays.len(), 1);
    assert_eq!(replays[0]["target"], brief.as_str());
    let all = h
        .call("GET", "/api/v1/audit?limit=10000", Some(&h.root), None)
        .await;
    assert!(!all.text.contains(&token), "a token in the audit log");
    // A wrong token is still just a wrong token (401), completed brief or not.
    h.call("POST", &cb, Some("sscb_wrong"), None)
        .await
        .error(401, "unauthorized");
}

/// Issue 10, item 4: the callback's check and completion were two steps, so concurrent callbacks
/// with one token could all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callbacks_with_one_token_give_exactly_one_success() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "A", "a-value").await;
    let t = task(&h, &["A"], None).await;
    const BRIEFS: usize = 6;
    const RACERS: usize = 4;
    let mut briefs = Vec::new();
    for _ in 0..BRIEFS {
        briefs.push(dispatch(&h, &t).await);
    }
    for (brief, token) in &briefs {
        let mut racers = Vec::new();
        for _ in 0..RACERS {
            let app = h.app.clone();
            let req = Request::post(format!("/api/v1/briefs/{brief}/callback"))
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            racers.push(tokio::spawn(async move {
                use tower::ServiceExt;
                let res = app.oneshot(req).await.unwrap();
                let status = res.status();
                let bytes = http_body_util::BodyExt::collect(res.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                let body: serde_json::Value =
                    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
                (status, body)
            }));
        }
        let mut ok = 0;
        let mut replayed = 0;
        for r in racers {
            let (status, body) = r.await.unwrap();
            match status {
                StatusCode::OK => ok += 1,
                StatusCode::CONFLICT => {
                    assert_eq!(body["error"]["code"], "callback_replayed", "{body}");
                    replayed += 1;
                }
                other => panic!("{other}: {body}"),
            }
        }
        assert_eq!((ok, replayed), (1, RACERS - 1), "brief {brief}");
    }
    assert_eq!(audit_records(&h, "brief.callback").await.len(), BRIEFS);
    assert_eq!(
        audit_records(&h, "brief.callback_replay").await.len(),
        BRIEFS * (RACERS - 1)
    );
}

/// Issue 10, item 9: invalid names and scope paths were echoed back whole in error answers (and the
/// request log), so a value pasted into the wrong field ended up there.
#[tokio::test]
async fn invalid_names_and_scopes_are_echoed_only_as_a_short_prefix_in_responses() {
    let h = Harness::new().await;
    tree(&h).await;
    let pasted = "SK_LIVE_0123456789ABCDEFGHIJ-klmnopqrstuvwxyz";
    let tail = "0123456789";
    let a = h
        .call(
            "PUT",
            &format!("/api/v1/secrets/{pasted}?scope=acme"),
            Some(&h.root),
            Some(json!({"value": "v", "category": "agent"})),
        )
        .await;
    a.error(400, "invalid_request");
    assert!(a.text.contains("SK_LIVE_…"), "{}", a.text);
    assert!(!a.text.contains(tail), "{}", a.text);
    let scope_paste = "ghp_0123456789ABCDEFabcdef";
    for uri in [
        format!("/api/v1/secrets?scope={scope_paste}"),
        format!("/api/v1/secrets/A?scope={scope_paste}"),
        format!("/api/v1/orgs/{scope_paste}"),
    ] {
        let method = if uri.contains("/orgs/") { "PUT" } else { "GET" };
        let a = h.call(method, &uri, Some(&h.root), None).await;
        a.error(400, "invalid_request");
        assert!(a.text.contains("ghp_0123…"), "{uri}: {}", a.text);
        assert!(!a.text.contains(tail), "{uri}: {}", a.text);
    }
    let a = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": PROJECT, "secret_refs": [pasted]})),
        )
        .await;
    a.error(400, "invalid_request");
    assert!(!a.text.contains(tail), "{}", a.text);
}

/// Issue 10, item 3: revoking the API token used to sign in left its web UI sessions working for up
/// to 8 hours (reveal, rotate, delete).
#[tokio::test]
async fn a_session_ends_when_the_api_token_it_was_made_with_is_revoked() {
    let h = Harness::new().await;
    ui_tree(&h).await;
    h.secret(WS, "DB_URL", CANARY).await;
    let first = h
        .account("rita", Some(("member", Some("acme/platform"))))
        .await;
    let first_id = newest_token_id(&h, "rita").await;
    let rita = login(&h, &first).await;
    // A second token of the same account, with its own session.
    let second = h
        .call("POST", "/api/v1/accounts/rita/tokens", Some(&h.root), None)
        .await;
    let second = second.json["token"].as_str().unwrap().to_string();
    let other = login(&h, &second).await;
    get(&h, &format!("/ui/scopes/{WS}"), rita.c())
        .await
        .status(200);

    h.call(
        "DELETE",
        &format!("/api/v1/tokens/{first_id}"),
        Some(&h.root),
        None,
    )
    .await;
    // The very next request of the session is refused, page and form alike.
    let p = get(&h, &format!("/ui/scopes/{WS}"), rita.c()).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    assert!(p.cookies().iter().any(|c| c.starts_with("ss_session=;")));
    let p = post(
        &h,
        &format!("/ui/scopes/{WS}/secrets/DB_URL/reveal"),
        rita.c(),
        &[("csrf", &rita.csrf)],
    )
    .await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    assert!(!p.body.contains(CANARY));
    let p = post(
        &h,
        &format!("/ui/scopes/{WS}/secrets/DB_URL/rotate"),
        rita.c(),
        &[("csrf", &rita.csrf), ("value", "rotated-by-a-dead-session")],
    )
    .await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    assert_eq!(current(&h, WS, "DB_URL").await.unwrap(), (1, CANARY.into()));
    // The session made with the other token lives on; the dead one is not listed.
    get(&h, "/ui/", other.c()).await.status(200);
    assert_eq!(session_ids(&h, &second).await.len(), 1);
    // Signing in again with the revoked token is refused.
    let form_page = get(&h, "/ui/login", None).await;
    let lc = form_page.cookies()[0]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    post(
        &h,
        "/ui/login",
        Some(&lc),
        &[("csrf", &form_page.csrf()), ("token", &first)],
    )
    .await
    .status(401);
}

/// Issue 10, item 3: the same for an account that lost its last grant: its sessions kept working.
#[tokio::test]
async fn a_session_ends_when_its_account_loses_its_last_grant() {
    let h = Harness::new().await;
    ui_tree(&h).await;
    let token = h
        .account("gus", Some(("member", Some("acme/platform"))))
        .await;
    h.call(
        "POST",
        "/api/v1/accounts/gus/grants",
        Some(&h.root),
        Some(json!({"role": "member", "scope": "acme/other"})),
    )
    .await;
    let gus = login(&h, &token).await;
    assert_eq!(
        revoke_member(&h, "gus", "acme/other").await.status,
        StatusCode::OK
    );
    // One grant left: the session works, with the roles it has now.
    let home = get(&h, "/ui/", gus.c()).await;
    home.status(200);
    assert!(!home.body.contains(r#"data-scope="acme/other""#));
    assert_eq!(
        revoke_member(&h, "gus", "acme/platform").await.status,
        StatusCode::OK
    );
    let p = get(&h, "/ui/", gus.c()).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    // A grant given back later does not bring the ended session back.
    h.call(
        "POST",
        "/api/v1/accounts/gus/grants",
        Some(&h.root),
        Some(json!({"role": "member", "scope": "acme/platform"})),
    )
    .await;
    let p = get(&h, "/ui/", gus.c()).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
}
