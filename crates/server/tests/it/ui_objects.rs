//! The web UI's object pages (issue #14, "every object has a page"): a brief (what it
//! handed out, by scope and version, never a value; stale while running; callback and
//! revocation; the revoke form), a task (what its refs resolve to now, its briefs) and a
//! project's tasks and briefs on its scope page — each a 404 for whoever may not see it.

use crate::common::*;
use crate::ui::{CANARY, WS, current, get, login, post, tree};
use axum::http::StatusCode;
use serde_json::json;

pub(crate) const PROJECT: &str = "acme/platform/dev/agent-x";
const ORG_CANARY: &str = "org-canary-4c1e-value";

/// Creates the project if need be, a task of it with `refs`, and dispatches it once (as
/// root): the task's id and the brief's id.
pub(crate) async fn dispatched(h: &Harness, refs: &[&str]) -> (String, String) {
    let (task, d) = dispatched_with_env(h, refs).await;
    (task, d["brief_id"].as_str().unwrap().to_string())
}

/// As [`dispatched`], with the whole dispatch answer (its env holds the callback token).
async fn dispatched_with_env(h: &Harness, refs: &[&str]) -> (String, serde_json::Value) {
    let task = new_task(h, refs).await;
    (task.clone(), dispatch(h, &task).await)
}

async fn new_task(h: &Harness, refs: &[&str]) -> String {
    let p = h
        .call(
            "PUT",
            &format!("/api/v1/projects/{PROJECT}"),
            Some(&h.root),
            None,
        )
        .await;
    assert!(
        p.status.is_success() || p.status == StatusCode::CONFLICT,
        "{}",
        p.text
    );
    let t = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": PROJECT, "secret_refs": refs})),
        )
        .await;
    assert!(t.status.is_success(), "{}", t.text);
    t.json["id"].as_str().unwrap().to_string()
}

use crate::api::dispatch_answer as dispatch;

/// The agent's callback, with the callback token of the dispatch answer `d`.
async fn call_back(h: &Harness, d: &serde_json::Value) -> Answer {
    h.call(
        "POST",
        &format!(
            "/api/v1/briefs/{}/callback",
            d["brief_id"].as_str().unwrap()
        ),
        Some(d["env"]["SECRETSTORE_CALLBACK_TOKEN"].as_str().unwrap()),
        None,
    )
    .await
}

/// The brief's status as the API answers it.
async fn api_status(h: &Harness, brief: &str) -> String {
    let a = h
        .call(
            "GET",
            &format!("/api/v1/briefs/{brief}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json["status"].as_str().unwrap().to_string()
}

/// The `<tr …>` row of the page whose attributes start with `start`, up to its end.
fn row<'a>(body: &'a str, start: &str) -> &'a str {
    let at = body
        .find(start)
        .unwrap_or_else(|| panic!("no row {start} in {body}"));
    let rest = &body[at..];
    &rest[..rest.find("</tr>").unwrap()]
}

async fn secrets(h: &Harness) {
    tree(h).await;
    h.secret(WS, "DB_URL", CANARY).await;
    h.secret("acme", "API_KEY", ORG_CANARY).await;
}

#[tokio::test]
async fn the_brief_page_shows_each_secret_with_its_scope_and_version_and_never_a_value() {
    let h = Harness::new().await;
    secrets(&h).await;
    let (task, d) = dispatched_with_env(&h, &["DB_URL", "API_KEY"]).await;
    let brief = d["brief_id"].as_str().unwrap();
    let token = d["env"]["SECRETSTORE_CALLBACK_TOKEN"].as_str().unwrap();
    let b = login(&h, &h.root).await;
    let p = get(&h, &format!("/ui/briefs/{brief}"), b.c()).await;
    p.status(200);
    assert!(
        p.body.contains(&format!(
            r#"<tr data-handed="DB_URL" data-from="{WS}" data-version="1">"#
        )),
        "{}",
        p.body
    );
    assert!(
        p.body
            .contains(r#"<tr data-handed="API_KEY" data-from="acme" data-version="1">"#)
    );
    assert!(p.body.contains(r#"<span class="tag cat-infrastructure">"#));
    assert!(p.body.contains(&format!(r#"href="/ui/tasks/{task}""#)));
    assert!(p.body.contains(&format!(r#"href="/ui/scopes/{PROJECT}""#)));
    assert!(p.body.contains(r#"data-status="running""#));
    assert!(p.body.contains(r#"data-delivery="env""#));
    assert!(p.body.contains("not called back"));
    assert!(p.body.contains("not revoked"));
    assert!(p.body.contains(r#"data-form="revoke-brief""#));
    assert!(!p.body.contains("data-stale"), "nothing rotated yet");
    for secret in [CANARY, ORG_CANARY, token] {
        assert!(!p.body.contains(secret), "a value or token in the page");
    }
    // The briefs list links the brief and its task to their pages.
    let list = get(&h, "/ui/briefs", b.c()).await;
    assert!(list.body.contains(&format!(r#"href="/ui/briefs/{brief}""#)));
    assert!(list.body.contains(&format!(r#"href="/ui/tasks/{task}""#)));
}

#[tokio::test]
async fn a_secret_rotated_since_is_marked_stale_only_while_the_brief_runs() {
    let h = Harness::new().await;
    secrets(&h).await;
    let (_, d) = dispatched_with_env(&h, &["DB_URL", "API_KEY"]).await;
    let brief = d["brief_id"].as_str().unwrap();
    h.secret(WS, "DB_URL", "rotated-value-9d2b").await;
    let b = login(&h, &h.root).await;
    let page = format!("/ui/briefs/{brief}");
    let p = get(&h, &page, b.c()).await;
    p.status(200);
    // Still the version handed out (v1), marked stale; API_KEY is not.
    let db = row(&p.body, r#"<tr data-handed="DB_URL""#);
    assert!(db.contains(r#"data-version="1" data-stale>"#), "{db}");
    assert!(db.contains("tag stale urgent"));
    let key = row(&p.body, r#"<tr data-handed="API_KEY""#);
    assert!(!key.contains("stale"), "{key}");
    assert!(!p.body.contains("rotated-value-9d2b"));
    // Once the agent called back, nothing is stale any more: it holds no value.
    let done = call_back(&h, &d).await;
    assert!(done.status.is_success(), "{}", done.text);
    let p = get(&h, &page, b.c()).await;
    p.status(200);
    assert!(p.body.contains(r#"data-status="completed""#));
    assert!(!p.body.contains("data-stale"), "{}", p.body);
    assert!(!p.body.contains("tag stale"));
    assert!(p.body.contains("called back at <time"));
    assert!(!p.body.contains(r#"data-form="revoke-brief""#));
    // A deleted secret is stale too (on a running brief).
    let (_, d2) = dispatched_with_env(&h, &["DB_URL", "API_KEY"]).await;
    let gone = h
        .call(
            "DELETE",
            "/api/v1/secrets/API_KEY?scope=acme",
            Some(&h.root),
            None,
        )
        .await;
    assert!(gone.status.is_success(), "{}", gone.text);
    let p = get(
        &h,
        &format!("/ui/briefs/{}", d2["brief_id"].as_str().unwrap()),
        b.c(),
    )
    .await;
    assert!(row(&p.body, r#"<tr data-handed="API_KEY""#).contains("data-stale"));
    assert!(!row(&p.body, r#"<tr data-handed="DB_URL""#).contains("data-stale"));
}

/// Issue #14, "The stale mark only on briefs still running": the briefs page marked a
/// completed brief stale as well, whose agent no longer holds anything.
#[tokio::test]
async fn a_completed_brief_was_marked_stale_on_the_briefs_page() {
    let h = Harness::new().await;
    secrets(&h).await;
    let task = new_task(&h, &["DB_URL"]).await;
    let running = dispatch(&h, &task).await;
    let completed = dispatch(&h, &task).await;
    assert!(call_back(&h, &completed).await.status.is_success());
    h.secret(WS, "DB_URL", "two").await;
    let b = login(&h, &h.root).await;
    for page in [
        "/ui/briefs".to_string(),
        format!("/ui/tasks/{task}"),
        format!("/ui/scopes/{PROJECT}"),
    ] {
        let p = get(&h, &page, b.c()).await;
        p.status(200);
        let id = completed["brief_id"].as_str().unwrap();
        let done = row(&p.body, &format!(r#"<tr data-brief="{id}""#));
        assert!(
            done.contains(r#"data-status="completed">"#),
            "{page}: {done}"
        );
        assert!(!done.contains("stale"), "{page}: {done}");
        let id = running["brief_id"].as_str().unwrap();
        let live = row(&p.body, &format!(r#"<tr data-brief="{id}""#));
        assert!(
            live.contains(r#"data-status="running" data-stale="DB_URL""#),
            "{page}: {live}"
        );
    }
}

#[tokio::test]
async fn revoking_through_the_form_works_and_without_csrf_is_refused_and_changes_nothing() {
    let h = Harness::new().await;
    secrets(&h).await;
    let (_, d) = dispatched_with_env(&h, &["DB_URL"]).await;
    let brief = d["brief_id"].as_str().unwrap().to_string();
    let b = login(&h, &h.root).await;
    let revoke = format!("/ui/briefs/{brief}/revoke");
    for fields in [vec![], vec![("csrf", "not-the-token")]] {
        let p = post(&h, &revoke, b.c(), &fields).await;
        p.status(403);
        assert_eq!(api_status(&h, &brief).await, "running");
    }
    // Not from a form of this site either: another session's token is no token.
    let other = login(&h, &h.root).await;
    post(&h, &revoke, b.c(), &[("csrf", &other.csrf)])
        .await
        .status(403);
    assert_eq!(api_status(&h, &brief).await, "running");

    let p = post(&h, &revoke, b.c(), &[("csrf", &b.csrf)]).await;
    p.status(303);
    assert_eq!(p.location(), format!("/ui/briefs/{brief}?done=revoked"));
    assert_eq!(api_status(&h, &brief).await, "revoked");
    let page = get(&h, p.location(), b.c()).await;
    page.status(200);
    assert!(page.body.contains("data-notice"));
    assert!(page.body.contains(r#"data-status="revoked""#));
    assert!(page.body.contains("revoked at <time"));
    assert!(!page.body.contains(r#"data-form="revoke-brief""#));
    // Its callback token no longer works.
    let cb = call_back(&h, &d).await;
    assert_eq!(cb.status, StatusCode::UNAUTHORIZED, "{}", cb.text);
    // Again: nothing changes, and the page says so.
    let again = post(&h, &revoke, b.c(), &[("csrf", &b.csrf)]).await;
    again.status(303);
    assert_eq!(
        again.location(),
        format!("/ui/briefs/{brief}?done=not-running")
    );
    let log = h
        .call(
            "GET",
            "/api/v1/audit?action=brief.revoke",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    assert_eq!(
        log.json["records"].as_array().unwrap().len(),
        1,
        "{}",
        log.text
    );
}

#[tokio::test]
async fn another_teams_member_gets_the_404_page_for_the_brief_the_task_and_the_projects_tasks() {
    let h = Harness::new().await;
    secrets(&h).await;
    let (task, brief) = dispatched(&h, &["DB_URL"]).await;
    let bob_token = h.account("bob", Some(("member", Some("acme/other")))).await;
    let bob = login(&h, &bob_token).await;
    let missing = get(&h, "/ui/scopes/acme/nothere", bob.c()).await;
    missing.status(404);
    for path in [
        format!("/ui/briefs/{brief}"),
        format!("/ui/tasks/{task}"),
        format!("/ui/scopes/{PROJECT}"),
        // Unknown and malformed ids: the same page, never a panic.
        "/ui/briefs/00000000-0000-4000-8000-000000000000".to_string(),
        "/ui/briefs/not-an-id".to_string(),
        "/ui/tasks/%FF%FE".to_string(),
        "/ui/tasks/x/y".to_string(),
    ] {
        let p = get(&h, &path, bob.c()).await;
        p.status(404);
        assert_eq!(
            p.body, missing.body,
            "{path}: exactly the page of a missing scope"
        );
        assert!(!p.body.contains(&task) && !p.body.contains(&brief));
    }
    let p = post(
        &h,
        &format!("/ui/briefs/{brief}/revoke"),
        bob.c(),
        &[("csrf", &bob.csrf)],
    )
    .await;
    p.status(404);
    assert_eq!(p.body, missing.body);
    assert_eq!(api_status(&h, &brief).await, "running");
    // A member of the team sees them, and may revoke.
    let alice_token = h
        .account("alice", Some(("member", Some("acme/platform"))))
        .await;
    let alice = login(&h, &alice_token).await;
    let p = get(&h, &format!("/ui/briefs/{brief}"), alice.c()).await;
    p.status(200);
    assert!(p.body.contains(r#"data-form="revoke-brief""#));
    get(&h, &format!("/ui/tasks/{task}"), alice.c())
        .await
        .status(200);
    let project = get(&h, &format!("/ui/scopes/{PROJECT}"), alice.c()).await;
    assert!(project.body.contains(&format!(r#"data-task="{task}""#)));
    // The secrets themselves were never touched.
    assert_eq!(current(&h, WS, "DB_URL").await.unwrap(), (1, CANARY.into()));
}

#[tokio::test]
async fn the_task_page_shows_what_each_ref_resolves_to_now() {
    let h = Harness::new().await;
    secrets(&h).await;
    let (task, brief) = dispatched(&h, &["DB_URL", "API_KEY"]).await;
    // Since the dispatch: DB_URL rotated, API_KEY given a narrower one at the team.
    h.secret(WS, "DB_URL", "second-value-e81a").await;
    h.secret("acme/platform", "API_KEY", "team-value-55c0")
        .await;
    let b = login(&h, &h.root).await;
    let p = get(&h, &format!("/ui/tasks/{task}"), b.c()).await;
    p.status(200);
    let db = row(&p.body, r#"<tr data-ref="DB_URL""#);
    assert!(
        db.contains(&format!(r#"data-from="{WS}" data-version="2""#)),
        "{db}"
    );
    assert!(db.contains("cat-infrastructure"));
    let key = row(&p.body, r#"<tr data-ref="API_KEY""#);
    assert!(
        key.contains(r#"data-from="acme/platform" data-version="1""#),
        "{key}"
    );
    assert!(key.contains("shadows acme (v1)"), "{key}");
    // Its brief, linked; stale for DB_URL (rotated), not for the organization's API_KEY
    // it handed out, which did not change (a narrower one now wins at the next dispatch).
    let r = row(&p.body, &format!(r#"<tr data-brief="{brief}""#));
    assert!(r.contains(r#"data-stale="DB_URL">"#), "{r}");
    assert!(r.contains(&format!(r#"href="/ui/briefs/{brief}""#)));
    assert!(p.body.contains(&format!(r#"href="/ui/scopes/{PROJECT}""#)));
    for v in [CANARY, ORG_CANARY, "second-value-e81a", "team-value-55c0"] {
        assert!(!p.body.contains(v), "a value in the page");
    }
    // A ref that nothing holds is shown missing.
    let other = new_task(&h, &["NOWHERE_YET", "DB_URL"]).await;
    let p = get(&h, &format!("/ui/tasks/{other}"), b.c()).await;
    p.status(200);
    assert!(
        p.body
            .contains(r#"<tr data-ref="NOWHERE_YET" data-missing>"#)
    );
    assert!(p.body.contains("Not dispatched yet."));
}

#[tokio::test]
async fn the_project_page_lists_its_tasks_and_briefs_newest_first_linked() {
    let h = Harness::new().await;
    secrets(&h).await;
    let first = new_task(&h, &["DB_URL"]).await;
    let second = new_task(&h, &["API_KEY"]).await;
    let d1 = dispatch(&h, &first).await;
    let d2 = dispatch(&h, &second).await;
    let b = login(&h, &h.root).await;
    let p = get(&h, &format!("/ui/scopes/{PROJECT}"), b.c()).await;
    p.status(200);
    let at = |needle: String| {
        p.body
            .find(&needle)
            .unwrap_or_else(|| panic!("no {needle} in {}", p.body))
    };
    // Task ids are random and created within the same second: newest first means the
    // second after the first only when their times differ, so check membership and links.
    for t in [&first, &second] {
        at(format!(r#"<tr data-task="{t}">"#));
        at(format!(r#"href="/ui/tasks/{t}""#));
    }
    for d in [&d1, &d2] {
        let id = d["brief_id"].as_str().unwrap();
        at(format!(r#"<tr data-brief="{id}""#));
        at(format!(r#"href="/ui/briefs/{id}""#));
    }
    // A workspace page has no such section.
    let ws = get(&h, &format!("/ui/scopes/{WS}"), b.c()).await;
    assert!(!ws.body.contains(r#"data-table="tasks""#));
    // A dispatcher of another organization sees nothing of it.
    h.scope("other").await;
    let ctl = h.account("ctl", Some(("dispatcher", Some("other")))).await;
    let c = login(&h, &ctl).await;
    get(&h, &format!("/ui/scopes/{PROJECT}"), c.c())
        .await
        .status(404);
    get(&h, &format!("/ui/tasks/{first}"), c.c())
        .await
        .status(404);
}

#[tokio::test]
async fn without_a_session_the_object_pages_redirect_and_a_revoke_changes_nothing() {
    let h = Harness::new().await;
    secrets(&h).await;
    let (task, brief) = dispatched(&h, &["DB_URL"]).await;
    for path in [
        format!("/ui/briefs/{brief}"),
        format!("/ui/tasks/{task}"),
        format!("/ui/scopes/{PROJECT}"),
    ] {
        let p = get(&h, &path, None).await;
        p.status(303);
        assert_eq!(p.location(), "/ui/login", "{path}");
    }
    let p = post(&h, &format!("/ui/briefs/{brief}/revoke"), None, &[]).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    assert_eq!(api_status(&h, &brief).await, "running");
    // Signed in: the pages carry the UI's headers; a GET of the revoke address is the
    // 405 page, and changes nothing.
    let b = login(&h, &h.root).await;
    for path in [format!("/ui/briefs/{brief}"), format!("/ui/tasks/{task}")] {
        let p = get(&h, &path, b.c()).await;
        p.status(200);
        assert_eq!(
            p.header("content-security-policy"),
            secretstore_server::ui::CSP
        );
        assert_eq!(p.header("cache-control"), "no-store");
    }
    get(&h, &format!("/ui/briefs/{brief}/revoke"), b.c())
        .await
        .status(405);
    assert_eq!(api_status(&h, &brief).await, "running");
}
