//! Root's accounts page (`/ui/accounts`, issue #14): accounts, roles, API tokens (shown
//! once) and ending an account's sessions through the forms; anyone else gets the 404
//! page of a missing address for the page and every form, and changes nothing.

use crate::common::*;
use crate::ui::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

const PAGE: &str = "/ui/accounts";

/// The records of the audit log, as root reads them over the API.
async fn audit(h: &Harness) -> Vec<Value> {
    let a = h.call("GET", "/api/v1/audit", Some(&h.root), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json["records"].as_array().unwrap().clone()
}

/// An account over the API, as root: its JSON (`Null` when missing).
async fn account(h: &Harness, name: &str) -> Value {
    let a = h
        .call(
            "GET",
            &format!("/api/v1/accounts/{name}"),
            Some(&h.root),
            None,
        )
        .await;
    if a.status == StatusCode::NOT_FOUND {
        return Value::Null;
    }
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json
}

/// An account's roles as `role scope` strings.
async fn roles(h: &Harness, name: &str) -> Vec<String> {
    account(h, name).await["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| match r["scope"].as_str() {
            Some(s) => format!("{} {s}", r["role"].as_str().unwrap()),
            None => r["role"].as_str().unwrap().to_string(),
        })
        .collect()
}

/// An account's tokens over the API: (id, revoked).
async fn tokens(h: &Harness, name: &str) -> Vec<(String, bool)> {
    let a = h
        .call(
            "GET",
            &format!("/api/v1/accounts/{name}/tokens"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_string(),
                !t["revoked_at"].is_null(),
            )
        })
        .collect()
}

async fn whoami(h: &Harness, token: &str) -> StatusCode {
    h.call("GET", "/api/v1/whoami", Some(token), None)
        .await
        .status
}

/// The token that a mint's answer page shows once.
fn minted_token(p: &Page) -> String {
    let mark = r#"data-token-once readonly value=""#;
    let at = p
        .body
        .find(mark)
        .unwrap_or_else(|| panic!("no new token in {}", p.body));
    let rest = &p.body[at + mark.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// What the page's `data-error` paragraph says.
fn shown_error(p: &Page) -> String {
    let at = p
        .body
        .find("data-error>")
        .unwrap_or_else(|| panic!("no error shown in {}", p.body));
    let rest = &p.body[at + "data-error>".len()..];
    rest[..rest.find("</p>").unwrap()].to_string()
}

#[tokio::test]
async fn root_creates_an_account_grants_mints_a_token_shown_once_revokes_and_ends_sessions() {
    let h = Harness::new().await;
    tree(&h).await;
    let b = login(&h, &h.root).await;
    let home = get(&h, "/ui/", b.c()).await;
    assert!(
        home.body.contains(r#"<a href="/ui/accounts""#),
        "root's nav"
    );
    let p = get(&h, PAGE, b.c()).await;
    p.status(200);
    assert!(p.body.contains(r#"data-account-row="root""#));
    assert!(
        p.body
            .contains(r#"<a href="/ui/accounts" aria-current="page">"#)
    );
    // Root's own root role has no one-click revoke (root would lock itself out).
    assert!(p.body.contains(r#"data-grant="root""#));
    assert!(
        !p.body
            .contains(r#"action="/ui/accounts/root/grants/revoke""#)
    );

    // A new account.
    let p = post(
        &h,
        PAGE,
        b.c(),
        &[("csrf", &b.csrf), ("name", "alice"), ("kind", "person")],
    )
    .await;
    p.status(303);
    assert_eq!(p.location(), "/ui/accounts?done=created&account=alice");
    let p = get(&h, p.location(), b.c()).await;
    p.status(200);
    assert!(p.body.contains("Account alice created."), "{}", p.body);
    assert!(p.body.contains(r#"data-account-row="alice""#));
    assert!(p.body.contains("data-no-role"));
    assert_eq!(account(&h, "alice").await["kind"], "person");
    assert!(roles(&h, "alice").await.is_empty());
    let p = post(
        &h,
        PAGE,
        b.c(),
        &[("csrf", &b.csrf), ("name", "ci"), ("kind", "service")],
    )
    .await;
    p.status(303);
    assert_eq!(account(&h, "ci").await["kind"], "service");

    // A role, as `secretstore grant alice member acme/platform` takes it.
    let p = post(
        &h,
        "/ui/accounts/alice/grants",
        b.c(),
        &[
            ("csrf", &b.csrf),
            ("role", "member"),
            ("scope", "acme/platform"),
        ],
    )
    .await;
    p.status(303);
    assert_eq!(p.location(), "/ui/accounts?done=granted&account=alice");
    assert_eq!(roles(&h, "alice").await, ["member acme/platform"]);
    let p = get(&h, PAGE, b.c()).await;
    assert!(p.body.contains(r#"data-grant="member acme/platform""#));

    // A token, shown once: in the answer to the POST, never in a redirect.
    let p = post(&h, "/ui/accounts/alice/tokens", b.c(), &[("csrf", &b.csrf)]).await;
    p.status(200);
    assert_eq!(p.location(), "");
    assert_eq!(p.header("cache-control"), "no-store");
    assert!(p.body.contains("it will not be shown again"), "{}", p.body);
    let token = minted_token(&p);
    assert!(token.starts_with("sst_") && token.len() > 40, "{token}");
    assert_eq!(p.body.matches(&token).count(), 1, "the token once");
    let listed = tokens(&h, "alice").await;
    assert_eq!(listed.len(), 1);
    let (id, revoked) = &listed[0];
    assert!(!revoked);
    assert!(p.body.contains(&format!(r#"data-minted-id="{id}""#)));
    // The token works over the API, as alice.
    let who = h.call("GET", "/api/v1/whoami", Some(&token), None).await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.text);
    assert_eq!(who.json["account"], "alice");
    // Afterwards the page lists its id, never the token.
    let p = get(&h, PAGE, b.c()).await;
    p.status(200);
    assert!(!p.body.contains(&token));
    assert!(!p.body.contains("data-token-once"));
    assert!(p.body.contains(&format!(r#"<tr data-token="{id}">"#)));

    // alice signs in; root sees her session, then revokes the token: 401, session gone.
    let alice = login(&h, &token).await;
    let p = get(&h, PAGE, b.c()).await;
    let row = &p.body[p.body.find(r#"data-account-row="alice""#).unwrap()..];
    assert!(row.contains(r#"data-sessions="1""#));
    let p = post(
        &h,
        &format!("/ui/accounts/alice/tokens/{id}/revoke"),
        b.c(),
        &[("csrf", &b.csrf)],
    )
    .await;
    p.status(303);
    assert_eq!(
        p.location(),
        "/ui/accounts?done=token-revoked&account=alice"
    );
    assert_eq!(whoami(&h, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(tokens(&h, "alice").await, [(id.clone(), true)]);
    let gone = get(&h, "/ui/", alice.c()).await;
    assert_eq!((gone.status.as_u16(), gone.location()), (303, "/ui/login"));
    let p = get(&h, PAGE, b.c()).await;
    assert!(
        p.body
            .contains(&format!(r#"<tr data-token="{id}" data-revoked>"#))
    );
    // A revoked token cannot be revoked again: said on the page, nothing changed.
    let p = post(
        &h,
        &format!("/ui/accounts/alice/tokens/{id}/revoke"),
        b.c(),
        &[("csrf", &b.csrf)],
    )
    .await;
    p.status(400);
    assert!(shown_error(&p).contains("no active token"), "{}", p.body);

    // A second token, two sessions of alice: root ends them all at once.
    let p = post(&h, "/ui/accounts/alice/tokens", b.c(), &[("csrf", &b.csrf)]).await;
    let token2 = minted_token(&p);
    assert_ne!(token2, token);
    let one = login(&h, &token2).await;
    let two = login(&h, &token2).await;
    let before = audit(&h).await.len();
    let p = post(
        &h,
        "/ui/accounts/alice/sessions/end",
        b.c(),
        &[("csrf", &b.csrf)],
    )
    .await;
    p.status(303);
    assert_eq!(
        p.location(),
        "/ui/accounts?done=sessions-ended&account=alice&n=2"
    );
    for s in [&one, &two] {
        let gone = get(&h, "/ui/", s.c()).await;
        assert_eq!((gone.status.as_u16(), gone.location()), (303, "/ui/login"));
    }
    let after = audit(&h).await;
    assert_eq!(
        after[..after.len() - before]
            .iter()
            .filter(|r| r["action"] == "session.end" && r["actor"] == "root")
            .count(),
        2
    );
    // The token itself still works: only the sessions ended. Root is still signed in.
    assert_eq!(whoami(&h, &token2).await, StatusCode::OK);
    let p = get(
        &h,
        "/ui/accounts?done=sessions-ended&account=alice&n=2",
        b.c(),
    )
    .await;
    p.status(200);
    assert!(p.body.contains("Ended 2 sessions of alice."));

    // The grant revoked.
    let p = post(
        &h,
        "/ui/accounts/alice/grants/revoke",
        b.c(),
        &[
            ("csrf", &b.csrf),
            ("role", "member"),
            ("scope", "acme/platform"),
        ],
    )
    .await;
    p.status(303);
    assert_eq!(
        p.location(),
        "/ui/accounts?done=grant-revoked&account=alice"
    );
    assert!(roles(&h, "alice").await.is_empty());

    // Every action is in the audit log, as root's, like the API's.
    let records = audit(&h).await;
    for (action, target) in [
        ("account.create", "alice"),
        ("account.create", "ci"),
        ("account.grant", "alice"),
        ("token.create", "alice"),
        ("token.revoke", id.as_str()),
        ("account.revoke_grant", "alice"),
    ] {
        assert!(
            records
                .iter()
                .any(|r| r["action"] == action && r["actor"] == "root" && r["target"] == target),
            "{action} {target}"
        );
    }
    let all = serde_json::to_string(&records).unwrap();
    assert!(
        !all.contains(&token) && !all.contains(&token2),
        "no token in the audit log"
    );

    // Root ends root's own sessions: this one too, so the browser is signed out.
    let p = post(
        &h,
        "/ui/accounts/root/sessions/end",
        b.c(),
        &[("csrf", &b.csrf)],
    )
    .await;
    p.status(303);
    assert_eq!(p.location(), "/ui/login");
    assert!(p.cookies().iter().any(|c| c.starts_with("ss_session=;")));
    let gone = get(&h, PAGE, b.c()).await;
    assert_eq!((gone.status.as_u16(), gone.location()), (303, "/ui/login"));
}

#[tokio::test]
async fn bad_forms_show_the_products_words_on_the_page_and_change_nothing() {
    let h = Harness::new().await;
    tree(&h).await;
    h.account("alice", Some(("member", Some("acme/platform"))))
        .await;
    let b = login(&h, &h.root).await;
    let accounts_before = h
        .call("GET", "/api/v1/accounts", Some(&h.root), None)
        .await
        .text;

    // Account names: refused with the rule, a pasted token never shown back.
    for (name, status, words) in [
        ("Bad Name", 400, "must match"),
        ("", 400, "must match"),
        (h.root.as_str(), 400, "must match"),
        ("alice", 409, "already exists"),
    ] {
        let p = post(&h, PAGE, b.c(), &[("csrf", &b.csrf), ("name", name)]).await;
        p.status(status);
        assert!(shown_error(&p).contains(words), "{name}: {}", p.body);
        assert!(
            !p.body.contains(&h.root[..8]),
            "a pasted token is not echoed"
        );
    }
    let p = post(
        &h,
        PAGE,
        b.c(),
        &[("csrf", &b.csrf), ("name", "bob"), ("kind", "robot")],
    )
    .await;
    p.status(400);
    assert_eq!(shown_error(&p), "unknown account kind: person or service");
    // The valid name is kept in the form after a failure.
    assert!(p.body.contains(r#"value="bob""#));

    // Roles: the command line's syntax and words.
    for (role, scope, status, words) in [
        ("member", "acme", 400, "expected a team path"),
        ("admin", "", 400, "the admin role needs a scope"),
        ("root", "acme", 400, "the root role takes no scope"),
        ("owner", "acme", 400, "unknown role"),
        ("member", "acme/nothere", 404, ""),
        ("member", h.root.as_str(), 400, "invalid scope: a path"),
        (h.root.as_str(), "acme", 400, "unknown role: one of"),
    ] {
        let p = post(
            &h,
            "/ui/accounts/alice/grants",
            b.c(),
            &[("csrf", &b.csrf), ("role", role), ("scope", scope)],
        )
        .await;
        p.status(status);
        assert!(
            shown_error(&p).contains(words),
            "{role} {scope}: {}",
            p.body
        );
        assert!(
            p.body.contains(r#"data-account-row="alice""#),
            "on the page"
        );
        assert!(
            !p.body.contains(&h.root[..8]),
            "a pasted token is not echoed"
        );
    }
    let p = post(
        &h,
        "/ui/accounts/alice/grants/revoke",
        b.c(),
        &[("csrf", &b.csrf), ("role", "admin"), ("scope", "acme")],
    )
    .await;
    p.status(404);
    assert!(
        shown_error(&p).contains("alice has no grant admin acme"),
        "{}",
        p.body
    );
    // A missing account is named.
    let p = post(
        &h,
        "/ui/accounts/nobody/tokens",
        b.c(),
        &[("csrf", &b.csrf)],
    )
    .await;
    p.status(404);
    assert_eq!(shown_error(&p), "no account nobody");
    assert!(!p.body.contains("data-token-once"));

    // A token id of another account, or no id at all: nothing revoked.
    let root_token = tokens(&h, "root").await[0].0.clone();
    let p = post(
        &h,
        &format!("/ui/accounts/alice/tokens/{root_token}/revoke"),
        b.c(),
        &[("csrf", &b.csrf)],
    )
    .await;
    p.status(400);
    assert!(shown_error(&p).contains("alice has no active token"));
    assert_eq!(whoami(&h, &h.root).await, StatusCode::OK);
    let missing = get(&h, "/ui/nothere", b.c()).await;
    missing.status(404);
    for path in [
        "/ui/accounts/alice/tokens/not-a-uuid/revoke".to_string(),
        format!("/ui/accounts/alice/tokens/{}/revoke", h.root),
        "/ui/accounts/Alice/grants".to_string(),
        "/ui/accounts/alice/nothing".to_string(),
        "/ui/accounts/alice".to_string(),
    ] {
        let p = post(&h, &path, b.c(), &[("csrf", &b.csrf)]).await;
        p.status(404);
        assert_eq!(p.body, missing.body, "{path}");
        let p = get(&h, &path, b.c()).await;
        p.status(404);
        assert_eq!(p.body, missing.body, "{path}");
    }
    assert_eq!(whoami(&h, &h.root).await, StatusCode::OK);
    assert_eq!(
        h.call("GET", "/api/v1/accounts", Some(&h.root), None)
            .await
            .text,
        accounts_before
    );
    assert_eq!(roles(&h, "alice").await, ["member acme/platform"]);
}

#[tokio::test]
async fn anyone_but_root_gets_the_404_page_of_a_missing_address_and_changes_nothing() {
    let h = Harness::new().await;
    tree(&h).await;
    let admin = h.account("ada", Some(("admin", Some("acme")))).await;
    let member = h
        .account("mia", Some(("member", Some("acme/platform"))))
        .await;
    let dispatcher = h.account("ctl", Some(("dispatcher", Some("acme")))).await;
    let mia_token = tokens(&h, "mia").await[0].0.clone();
    let root_token = tokens(&h, "root").await[0].0.clone();
    let root = login(&h, &h.root).await;
    let before = audit(&h).await.len();
    let accounts_before = h
        .call("GET", "/api/v1/accounts", Some(&h.root), None)
        .await
        .text;
    for token in [&admin, &member, &dispatcher] {
        let b = login(&h, token).await;
        let home = get(&h, "/ui/", b.c()).await;
        assert!(!home.body.contains("/ui/accounts"), "no link for them");
        let missing = get(&h, "/ui/nothere", b.c()).await;
        missing.status(404);
        let p = get(&h, PAGE, b.c()).await;
        p.status(404);
        assert_eq!(p.body, missing.body, "the very page of a missing address");
        let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
            (PAGE.into(), vec![("name", "eve"), ("kind", "person")]),
            (
                "/ui/accounts/mia/grants".into(),
                vec![("role", "root"), ("scope", "")],
            ),
            (
                "/ui/accounts/mia/grants/revoke".into(),
                vec![("role", "member"), ("scope", "acme/platform")],
            ),
            ("/ui/accounts/mia/tokens".into(), vec![]),
            ("/ui/accounts/root/tokens".into(), vec![]),
            (
                format!("/ui/accounts/mia/tokens/{mia_token}/revoke"),
                vec![],
            ),
            (
                format!("/ui/accounts/root/tokens/{root_token}/revoke"),
                vec![],
            ),
            ("/ui/accounts/root/sessions/end".into(), vec![]),
            ("/ui/accounts/mia/sessions/end".into(), vec![]),
        ];
        for (path, fields) in &posts {
            // With the right CSRF token, a wrong one, or none: the same 404 page.
            for csrf in [Some(b.csrf.as_str()), Some("wrong"), None] {
                let mut f = fields.clone();
                if let Some(c) = csrf {
                    f.push(("csrf", c));
                }
                let p = post(&h, path, b.c(), &f).await;
                p.status(404);
                assert_eq!(p.body, missing.body, "{path}");
                assert!(!p.body.contains("data-token-once"));
            }
        }
    }
    // Nothing changed: no account, role, token or session, no audit record of any.
    assert_eq!(
        h.call("GET", "/api/v1/accounts", Some(&h.root), None)
            .await
            .text,
        accounts_before
    );
    assert_eq!(roles(&h, "mia").await, ["member acme/platform"]);
    assert_eq!(account(&h, "eve").await, Value::Null);
    assert_eq!(tokens(&h, "mia").await, [(mia_token, false)]);
    assert_eq!(tokens(&h, "root").await, [(root_token, false)]);
    assert_eq!(whoami(&h, &member).await, StatusCode::OK);
    get(&h, PAGE, root.c()).await.status(200);
    let after = audit(&h).await;
    let new: Vec<&Value> = after[..after.len() - before]
        .iter()
        .filter(|r| r["action"] != "session.login")
        .collect();
    assert!(new.is_empty(), "{new:?}");
}

#[tokio::test]
async fn account_forms_without_or_with_a_wrong_csrf_token_are_refused_and_change_nothing() {
    let h = Harness::new().await;
    tree(&h).await;
    let token = h
        .account("mia", Some(("member", Some("acme/platform"))))
        .await;
    let mia_token = tokens(&h, "mia").await[0].0.clone();
    let b = login(&h, &h.root).await;
    let mia = login(&h, &token).await;
    let before = audit(&h).await.len();
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (PAGE.into(), vec![("name", "eve")]),
        (
            "/ui/accounts/mia/grants".into(),
            vec![("role", "admin"), ("scope", "acme")],
        ),
        (
            "/ui/accounts/mia/grants/revoke".into(),
            vec![("role", "member"), ("scope", "acme/platform")],
        ),
        ("/ui/accounts/mia/tokens".into(), vec![]),
        (
            format!("/ui/accounts/mia/tokens/{mia_token}/revoke"),
            vec![],
        ),
        ("/ui/accounts/mia/sessions/end".into(), vec![]),
    ];
    for (path, fields) in &attempts {
        for csrf in [None, Some("wrong"), Some(""), Some(&b.csrf[1..])] {
            let mut f = fields.clone();
            if let Some(c) = csrf {
                f.push(("csrf", c));
            }
            let p = post(&h, path, b.c(), &f).await;
            p.status(403);
            assert!(p.body.contains("CSRF"), "{path}");
            assert!(!p.body.contains("data-token-once"), "{path}");
        }
        // A cross-site form with the right token is refused as well.
        let mut f = fields.clone();
        f.push(("csrf", &b.csrf));
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &b.cookie)
            .header("sec-fetch-site", "cross-site")
            .body(Body::from(form(&f)))
            .unwrap();
        send(&h, req).await.status(403);
    }
    assert_eq!(account(&h, "eve").await, Value::Null);
    assert_eq!(roles(&h, "mia").await, ["member acme/platform"]);
    assert_eq!(tokens(&h, "mia").await, [(mia_token, false)]);
    get(&h, "/ui/", mia.c()).await.status(200);
    assert_eq!(
        audit(&h).await.len(),
        before,
        "nothing audited: nothing done"
    );
}

#[tokio::test]
async fn without_a_session_the_accounts_page_and_its_forms_lead_to_the_sign_in_form() {
    let h = Harness::new().await;
    let p = get(&h, PAGE, None).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    let p = post(&h, PAGE, None, &[("name", "eve")]).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    let p = post(&h, "/ui/accounts/root/tokens", None, &[]).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    assert_eq!(account(&h, "eve").await, Value::Null);
    assert_eq!(tokens(&h, "root").await.len(), 1);
}

#[tokio::test]
async fn ending_an_accounts_sessions_is_roots_alone_in_the_service() {
    let h = Harness::new().await;
    tree(&h).await;
    let token = h
        .account("mia", Some(("member", Some("acme/platform"))))
        .await;
    let _mia_browser = login(&h, &token).await;
    let svc = &h.state.svc;
    let mia = svc.authenticate(&token, "test").await.unwrap();
    assert!(matches!(
        svc.end_account_sessions(&mia, "mia").await,
        Err(secretstore_core::Error::Forbidden(_))
    ));
    assert_eq!(session_ids(&h, &token).await.len(), 1, "nothing ended");
    let root = svc.authenticate(&h.root, "test").await.unwrap();
    assert!(matches!(
        svc.end_account_sessions(&root, "nobody").await,
        Err(secretstore_core::Error::NotFound(_))
    ));
    let ended = svc.end_account_sessions(&root, "mia").await.unwrap();
    assert_eq!(ended.len(), 1);
    assert!(session_ids(&h, &token).await.is_empty());
    assert!(
        svc.end_account_sessions(&root, "mia")
            .await
            .unwrap()
            .is_empty()
    );
}
