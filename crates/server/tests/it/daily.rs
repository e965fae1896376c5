//! Day-to-day questions over the API (issue #14): the audit log filtered and paged, and
//! who was handed a secret, search; and the same in the UI: the search page, a secret's
//! access list, ages on the scope page.

use crate::api::{dispatch, task, tree};
use crate::common::*;
use crate::ui;
use serde_json::{Value, json};

/// Every record of `uri`'s pages, walked with `next_cursor` until the last page.
async fn every_page(h: &Harness, uri: &str, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if uri.contains('?') { '&' } else { '?' };
    loop {
        let u = match &cursor {
            Some(c) => format!("{uri}{sep}cursor={c}"),
            None => uri.to_owned(),
        };
        let a = h.call("GET", &u, Some(token), None).await;
        assert_eq!(a.status, 200, "{u}: {}", a.text);
        all.extend(a.json["records"].as_array().unwrap().iter().cloned());
        match a.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    all
}

#[tokio::test]
async fn the_audit_log_is_filtered_and_paged_newest_first() {
    let h = Harness::new().await;
    tree(&h).await;
    let alice = h
        .account("alice", Some(("member", Some("acme/platform"))))
        .await;
    h.secret("acme/platform", "STRIPE_KEY", "sk-canary-1").await;
    for _ in 0..5 {
        let r = h
            .call(
                "GET",
                "/api/v1/secrets/STRIPE_KEY/value?scope=acme/platform",
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let reveals = every_page(
        &h,
        "/api/v1/audit?name=STRIPE_KEY&actor=alice&action=secret.reveal&since=1h&limit=2",
        &h.root,
    )
    .await;
    assert_eq!(reveals.len(), 5, "{reveals:?}");
    let ids: Vec<i64> = reveals.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first, each once");
    // An action prefix; a time range that holds nothing.
    let writes = every_page(&h, "/api/v1/audit?action=secret.&actor=root", &h.root).await;
    assert!(
        writes
            .iter()
            .all(|r| r["action"].as_str().unwrap().starts_with("secret."))
    );
    assert!(writes.iter().any(|r| r["action"] == "secret.set"));
    let old = h
        .call("GET", "/api/v1/audit?until=2001-01-01", Some(&h.root), None)
        .await;
    assert_eq!(old.json["records"], json!([]));
    assert_eq!(old.json["next_cursor"], Value::Null);
    // A previous page leads back to the first.
    let first = h
        .call("GET", "/api/v1/audit?limit=3", Some(&h.root), None)
        .await;
    let next = first.json["next_cursor"].as_str().unwrap();
    let second = h
        .call(
            "GET",
            &format!("/api/v1/audit?limit=3&cursor={next}"),
            Some(&h.root),
            None,
        )
        .await;
    let prev = second.json["prev_cursor"].as_str().unwrap();
    let back = h
        .call(
            "GET",
            &format!("/api/v1/audit?limit=3&cursor={prev}"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(back.json["records"], first.json["records"]);
    assert_eq!(back.json["prev_cursor"], Value::Null);
}

/// Bad filters get a 400 in the product's words, naming what was wrong.
#[tokio::test]
async fn bad_audit_filters_get_400_in_the_products_words() {
    let h = Harness::new().await;
    for (q, words) in [
        ("cursor=bogus", "invalid cursor"),
        ("cursor=o1.x", "invalid cursor"),
        ("since=yesterday", "invalid time"),
        ("since=2026-11-30&until=2026-11-29", "is after until"),
        ("limit=0", "limit must be at least 1"),
        ("limit=many", "limit"),
        ("name=lower-case", "name"),
    ] {
        refused(&h, q, words).await;
    }
}

/// schemathesis (CI of f6cff59): `GET /api/v1/audit?scope=` answered 200 with every
/// record, against the document's minLength. An empty filter over the API is a mistake
/// in the request, not "any".
#[tokio::test]
async fn an_empty_audit_filter_was_accepted_as_no_filter() {
    let h = Harness::new().await;
    for (q, words) in [
        ("scope=", "scope filter is empty"),
        ("name=", "name filter is empty"),
        ("actor=", "actor filter is empty"),
        ("action=", "action filter is empty"),
        ("since=", "since is empty"),
        ("cursor=", "cursor is empty"),
    ] {
        refused(&h, q, words).await;
    }
}

async fn refused(h: &Harness, q: &str, words: &str) {
    let a = h
        .call("GET", &format!("/api/v1/audit?{q}"), Some(&h.root), None)
        .await;
    assert_eq!(a.status, 400, "{q}: {}", a.text);
    assert_eq!(a.json["error"]["code"], "invalid_request", "{q}");
    let m = a.json["error"]["message"].as_str().unwrap();
    assert!(m.contains(words), "{q}: {m}");
    assert!(
        !m.contains("serde") && !m.contains("deserialize"),
        "{q}: {m}"
    );
}

/// A secret's access list names each reveal and each dispatch that handed it out, with
/// who, when, from where, which version and which brief — never the value.
#[tokio::test]
async fn a_secrets_access_names_its_reveals_and_dispatches() {
    let h = Harness::new().await;
    tree(&h).await;
    let alice = h
        .account("alice", Some(("member", Some("acme/platform"))))
        .await;
    h.secret("acme/platform", "STRIPE_KEY", "sk-canary-1").await;
    // The same name in a narrower scope is another secret.
    h.secret("acme/platform/dev", "OTHER", "x").await;
    let t = task(&h, &["STRIPE_KEY"], None).await;
    let (brief, _) = dispatch(&h, &t).await;
    h.secret("acme/platform", "STRIPE_KEY", "sk-canary-2").await;
    h.call(
        "GET",
        "/api/v1/secrets/STRIPE_KEY/value?scope=acme/platform",
        Some(&alice),
        None,
    )
    .await;
    let a = h
        .call(
            "GET",
            "/api/v1/secrets/STRIPE_KEY/access?scope=acme/platform",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = a.json["records"].as_array().unwrap();
    assert_eq!(r.len(), 2, "{}", a.text);
    assert_eq!(r[0]["action"], "secret.reveal");
    assert_eq!(r[0]["actor"], "alice");
    assert_eq!(r[0]["version"], 2);
    assert_eq!(r[1]["action"], "task.dispatch");
    assert_eq!(r[1]["actor"], "root");
    assert_eq!(r[1]["version"], 1);
    assert_eq!(r[1]["target"], brief.as_str());
    assert!(r.iter().all(|x| x["source"].is_string()));
    assert!(!a.text.contains("sk-canary"));
    // Another scope's secret of that name has its own (empty) list.
    let other = h
        .call(
            "GET",
            "/api/v1/secrets/STRIPE_KEY/access?scope=acme/platform/dev",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(other.json["records"], json!([]), "{}", other.text);
}

/// Search over the API: secrets, scopes, tasks and briefs by name; bad patterns get a 400
/// in the product's words.
#[tokio::test]
async fn search_finds_secrets_scopes_tasks_and_briefs_by_name() {
    let h = Harness::new().await;
    for s in ["acme", "acme/payments", "acme/payments/prod"] {
        h.scope(s).await;
    }
    for (scope, name) in [("acme", "OLD_STRIPE"), ("acme/payments", "STRIPE_KEY")] {
        let a = h
            .call(
                "PUT",
                &format!("/api/v1/secrets/{name}?scope={scope}"),
                Some(&h.root),
                Some(json!({"value": "sk-live-search-value", "category": "provider"})),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
    }
    let a = h
        .call("GET", "/api/v1/search?q=stripe", Some(&h.root), None)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.json["hits"],
        json!([
            {"kind": "secret", "name": "OLD_STRIPE", "scope": "acme"},
            {"kind": "secret", "name": "STRIPE_KEY", "scope": "acme/payments"},
        ])
    );
    assert!(!a.text.contains("sk-live-search-value"));
    let a = h
        .call("GET", "/api/v1/search?q=PAY", Some(&h.root), None)
        .await;
    let kinds: Vec<_> = a.json["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{} {}",
                h["kind"].as_str().unwrap(),
                h["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kinds, ["scope acme/payments", "scope acme/payments/prod"]);
    let a = h
        .call("GET", "/api/v1/secrets?name=stripe_*", Some(&h.root), None)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let found = a.json["secrets"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["name"], "STRIPE_KEY");
    let a = h
        .call(
            "GET",
            "/api/v1/secrets?name=stripe&scope=acme",
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(a.json["secrets"].as_array().unwrap().len(), 1, "{}", a.text);
    for (q, words) in [
        ("/api/v1/search?q=", "search pattern is empty"),
        ("/api/v1/search?q=**", "search pattern is empty"),
        ("/api/v1/search?q=a&limit=0", "limit must be at least 1"),
        ("/api/v1/search", "q"),
        ("/api/v1/secrets?name=", "search pattern is empty"),
        ("/api/v1/secrets?limit=5", "limit goes with name"),
    ] {
        let a = h.call("GET", q, Some(&h.root), None).await;
        assert_eq!(a.status, 400, "{q}: {}", a.text);
        let m = a.json["error"]["message"].as_str().unwrap();
        assert!(m.contains(words), "{q}: {m}");
    }
}

/// The UI's search page: what the account sees, each hit linked to its page; another
/// team's secret is not found; a refused pattern gets the form again with the reason.
#[tokio::test]
async fn the_search_page_finds_what_the_account_sees_and_links_each_hit() {
    let h = Harness::new().await;
    tree(&h).await;
    h.scope("acme/other").await;
    let alice = h
        .account("alice", Some(("member", Some("acme/platform"))))
        .await;
    h.secret("acme/platform", "STRIPE_KEY", "sk-canary-search-1")
        .await;
    h.secret("acme/other", "THEIR_STRIPE", "sk-canary-search-2")
        .await;
    let t = task(&h, &["STRIPE_KEY"], None).await;
    let b = ui::login(&h, &alice).await;

    let empty = ui::get(&h, "/ui/search", b.c()).await;
    empty.status(200);
    assert!(empty.body.contains(r#"data-form="search""#));
    assert!(!empty.body.contains("data-hit"));

    let p = ui::get(&h, "/ui/search?q=stripe", b.c()).await;
    p.status(200);
    assert!(
        p.body
            .contains(r#"data-hit="secret" data-name="STRIPE_KEY" data-scope="acme/platform""#),
        "{}",
        p.body
    );
    assert!(
        p.body
            .contains(r#"href="/ui/scopes/acme/platform/secrets/STRIPE_KEY""#)
    );
    assert!(
        !p.body.contains("THEIR_STRIPE"),
        "another team's secret was found"
    );
    assert!(!p.body.contains("sk-canary-search"));
    // A task by a part of its id, linked to its page; a scope by its path.
    let part = &t[..8];
    let p = ui::get(&h, &format!("/ui/search?q={part}"), b.c()).await;
    assert!(
        p.body.contains(&format!(r#"href="/ui/tasks/{t}""#)),
        "{}",
        p.body
    );
    let p = ui::get(&h, "/ui/search?q=platform", b.c()).await;
    assert!(
        p.body
            .contains(r#"data-hit="scope" data-name="acme/platform""#)
    );
    // Every page's bar has the search box: a GET form without the CSRF token.
    let home = ui::get(&h, "/ui/", b.c()).await;
    assert!(
        home.body
            .contains(r#"<form method="get" action="/ui/search""#)
    );
    // A refused pattern: 400, the form again, the reason in the product's words.
    let bad = ui::get(&h, "/ui/search?q=**", b.c()).await;
    bad.status(400);
    assert!(bad.body.contains("search pattern is empty"), "{}", bad.body);
    assert!(bad.body.contains(r#"data-form="search""#));
    let long = "A".repeat(300);
    ui::get(&h, &format!("/ui/search?q={long}"), b.c())
        .await
        .status(400);
    // Without a session: to the sign-in form.
    ui::get(&h, "/ui/search?q=stripe", None).await.status(303);
}

/// A secret's page lists who was handed it, and marks the running agents that hold an
/// older version; a dispatcher (who may not read the audit log) gets no such list.
#[tokio::test]
async fn the_secret_page_lists_who_was_handed_it_and_the_agents_holding_an_old_version() {
    let h = Harness::new().await;
    tree(&h).await;
    let alice = h
        .account("alice", Some(("member", Some("acme/platform"))))
        .await;
    let ctl = h.account("ctl", Some(("dispatcher", Some("acme")))).await;
    h.secret("acme/platform", "STRIPE_KEY", "sk-canary-access-1")
        .await;
    let t = task(&h, &["STRIPE_KEY"], None).await;
    let (brief, _) = dispatch(&h, &t).await;
    h.secret("acme/platform", "STRIPE_KEY", "sk-canary-access-2")
        .await;
    let r = h
        .call(
            "GET",
            "/api/v1/secrets/STRIPE_KEY/value?scope=acme/platform",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200);

    let b = ui::login(&h, &alice).await;
    let url = "/ui/scopes/acme/platform/secrets/STRIPE_KEY";
    let p = ui::get(&h, url, b.c()).await;
    p.status(200);
    assert!(p.body.contains(r#"data-table="access""#), "{}", p.body);
    let reveal = p.body.find(r#"data-access="reveal""#).expect("the reveal");
    let dispatch = p
        .body
        .find(&format!(
            r#"data-access="dispatch" data-brief="{brief}" data-holds-old"#
        ))
        .expect("the dispatch, marked as holding an old version");
    assert!(reveal < dispatch, "newest first");
    assert!(p.body.contains(&format!(r#"href="/ui/briefs/{brief}""#)));
    assert!(p.body.contains("running, old version"));
    assert!(p.body.contains("data-age="), "the current version's age");
    assert!(!p.body.contains("sk-canary-access"), "a value in the page");
    // A time range that holds nothing; a malformed one is a 400.
    let none = ui::get(&h, &format!("{url}?since=2099-01-01"), b.c()).await;
    none.status(200);
    assert!(!none.body.contains("data-access="), "{}", none.body);
    assert!(
        none.body
            .contains("Nobody was handed STRIPE_KEY in that time")
    );
    ui::get(&h, &format!("{url}?since=yesterday"), b.c())
        .await
        .status(400);
    // Revoked, the brief no longer holds anything live.
    let rv = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{brief}/revoke"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(rv.status, 200, "{}", rv.text);
    let p = ui::get(&h, url, b.c()).await;
    assert!(!p.body.contains("data-holds-old"), "{}", p.body);
    assert!(p.body.contains(">revoked</span>"));
    // A dispatcher sees the metadata but not who read it.
    let c = ui::login(&h, &ctl).await;
    let p = ui::get(&h, url, c.c()).await;
    p.status(200);
    assert!(!p.body.contains(r#"data-table="access""#));
}

/// The scope page shows each secret's age and sorts by it, oldest first, on request.
#[tokio::test]
async fn the_scope_page_shows_ages_and_sorts_oldest_first() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme/platform", "ZED_OLD", "x").await;
    // Timestamps are to the second: a second apart, the ages differ.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    h.secret("acme/platform", "ALPHA_NEW", "y").await;
    let b = ui::login(&h, &h.root).await;
    let order = |body: &str| {
        let a = body.find(r#"data-secret="ALPHA_NEW""#).unwrap();
        let z = body.find(r#"data-secret="ZED_OLD""#).unwrap();
        a < z
    };
    let p = ui::get(&h, "/ui/scopes/acme/platform", b.c()).await;
    p.status(200);
    assert!(order(&p.body), "by name by default");
    assert!(
        p.body
            .contains(r#"href="/ui/scopes/acme/platform?sort=age" data-sort="age""#)
    );
    let p = ui::get(&h, "/ui/scopes/acme/platform?sort=age", b.c()).await;
    p.status(200);
    assert!(!order(&p.body), "oldest first: {}", p.body);
    assert!(p.body.contains(r#"data-sort="name""#));
    // The inherited list too, from the workspace below.
    let p = ui::get(&h, "/ui/scopes/acme/platform/dev?sort=age", b.c()).await;
    let a = p.body.find(r#"data-inherited="ALPHA_NEW""#).unwrap();
    let z = p.body.find(r#"data-inherited="ZED_OLD""#).unwrap();
    assert!(z < a, "{}", p.body);
}

/// Root could revoke the last root grant (its own), leaving nobody to manage accounts:
/// it is a 409 that changes nothing; with a second root, either may go.
#[tokio::test]
async fn revoking_the_last_root_grant_left_nobody_to_manage_accounts() {
    let h = Harness::new().await;
    let whoami = h.call("GET", "/api/v1/whoami", Some(&h.root), None).await;
    assert_eq!(whoami.status, 200, "{}", whoami.text);
    let me = whoami.json["account"].as_str().unwrap().to_owned();
    let a = h
        .call(
            "DELETE",
            &format!("/api/v1/accounts/{me}/grants?role=root"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.text);
    assert!(a.text.contains("last root grant"), "{}", a.text);
    let still = h.call("GET", "/api/v1/accounts", Some(&h.root), None).await;
    assert_eq!(still.status, 200, "root is still root: {}", still.text);
    // A second root: now the first may step down.
    let other = h.account("ops", Some(("root", None))).await;
    let a = h
        .call(
            "DELETE",
            &format!("/api/v1/accounts/{me}/grants?role=root"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
}

/// A body of the wrong shape got "does not match the expected shape" with a line and a
/// column only: the answer now names the field (or the missing one), in the product's
/// words, and never quotes what was sent.
#[tokio::test]
async fn a_wrong_field_in_a_body_was_not_named_in_the_error() {
    let h = Harness::new().await;
    tree(&h).await;
    for (method, uri, body, words) in [
        (
            "POST",
            "/api/v1/tasks",
            json!({"project": 5}),
            "the field project",
        ),
        (
            "POST",
            "/api/v1/tasks",
            json!({"project": "acme/platform/dev/agent-x", "secret_refs": ["A", 3]}),
            "the field secret_refs[1]",
        ),
        (
            "POST",
            "/api/v1/tasks",
            json!({}),
            "lacks the field project",
        ),
        (
            "PUT",
            "/api/v1/secrets/X?scope=acme",
            json!({"value": "sk-body-canary", "category": 12}),
            "the field category",
        ),
        (
            "PUT",
            "/api/v1/secrets/X?scope=acme",
            json!({"value": 12}),
            "the field value",
        ),
        ("POST", "/api/v1/accounts", json!([1, 2]), "not the object"),
    ] {
        let a = h.call(method, uri, Some(&h.root), Some(body.clone())).await;
        assert_eq!(a.status, 400, "{uri} {body}: {}", a.text);
        assert_eq!(a.json["error"]["code"], "invalid_json", "{}", a.text);
        let m = a.json["error"]["message"].as_str().unwrap();
        assert!(m.contains(words), "{body}: {m}");
        assert!(
            !m.contains("sk-body-canary") && !m.contains("invalid type"),
            "{m}"
        );
    }
    let a = h
        .call("GET", "/api/v1/secrets?scope=acme", Some(&h.root), None)
        .await;
    assert_eq!(a.json["secrets"], json!([]), "nothing was written");
}
