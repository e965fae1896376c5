//! The web UI through the router, without a socket: sessions, CSRF, security headers,
//! permissions (another team's member gets the 404 page of a missing scope), values only
//! after an audited reveal and never in a URL.

use crate::common::*;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

pub(crate) const WS: &str = "acme/platform/dev";
pub(crate) const CANARY: &str = "canary-UI-7f3a-value";

/// One answer of the UI: status, headers, body.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    pub(crate) fn location(&self) -> &str {
        self.header("location")
    }

    pub(crate) fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    /// The value of the first hidden `csrf` field of the page.
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    #[track_caller]
    pub(crate) fn status(&self, want: u16) -> &Self {
        assert_eq!(self.status.as_u16(), want, "{}", self.body);
        self
    }
}

pub(crate) async fn send(h: &Harness, req: Request<Body>) -> Page {
    let res = h.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub(crate) async fn get(h: &Harness, path: &str, cookie: Option<&str>) -> Page {
    let mut b = Request::builder().method("GET").uri(path);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    send(h, b.body(Body::empty()).unwrap()).await
}

/// Percent-encodes a form field.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) async fn post(
    h: &Harness,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> Page {
    post_raw(
        h,
        path,
        cookie,
        "application/x-www-form-urlencoded",
        form(fields),
    )
    .await
}

async fn post_raw(
    h: &Harness,
    path: &str,
    cookie: Option<&str>,
    content_type: &str,
    body: String,
) -> Page {
    let mut b = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", content_type);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    send(h, b.body(Body::from(body)).unwrap()).await
}

/// A signed-in browser: its session cookie and the session's CSRF token.
pub(crate) struct Browser {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

impl Browser {
    pub(crate) fn c(&self) -> Option<&str> {
        Some(&self.cookie)
    }
}

/// Signs in as a browser does: the form, its cookie, the POST.
pub(crate) async fn login(h: &Harness, token: &str) -> Browser {
    let form_page = get(h, "/ui/login", None).await;
    form_page.status(200);
    let login_cookie = form_page
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("ss_login="))
        .expect("a sign-in cookie");
    let login_cookie = login_cookie.split(';').next().unwrap().to_string();
    let res = post(
        h,
        "/ui/login",
        Some(&login_cookie),
        &[("csrf", &form_page.csrf()), ("token", token)],
    )
    .await;
    res.status(303);
    assert_eq!(res.location(), "/ui/");
    let session = res
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("ss_session=sss_"))
        .expect("a session cookie");
    let cookie = session.split(';').next().unwrap().to_string();
    let home = get(h, "/ui/", Some(&cookie)).await;
    home.status(200);
    Browser {
        cookie,
        csrf: home.csrf(),
    }
}

pub(crate) async fn tree(h: &Harness) {
    for s in ["acme", "acme/platform", WS, "acme/other", "acme/other/ws"] {
        h.scope(s).await;
    }
}

/// The current version and value of a secret, through the API as root.
pub(crate) async fn current(h: &Harness, scope: &str, name: &str) -> Option<(i64, String)> {
    let a = h
        .call(
            "GET",
            &format!("/api/v1/secrets/{name}/value?scope={scope}"),
            Some(&h.root),
            None,
        )
        .await;
    if a.status == StatusCode::NOT_FOUND {
        return None;
    }
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    Some((
        a.json["version"].as_i64().unwrap(),
        a.json["value"].as_str().unwrap().to_string(),
    ))
}

/// How many audit records of `action` there are.
pub(crate) async fn audit_count(h: &Harness, action: &str) -> usize {
    let a = h.call("GET", "/api/v1/audit", Some(&h.root), None).await;
    a.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action)
        .count()
}

#[tokio::test]
async fn without_a_session_every_page_redirects_to_the_sign_in_form() {
    let h = Harness::new().await;
    for path in [
        "/ui/",
        "/ui/briefs",
        "/ui/audit",
        "/ui/scopes/acme",
        "/ui/scopes/acme/secrets/X",
    ] {
        let p = get(&h, path, None).await;
        p.status(303);
        assert_eq!(p.location(), "/ui/login", "{path}");
    }
    let p = get(&h, "/ui", None).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/"));
    // An unknown or forged session cookie: the same, and the cookie is dropped.
    let p = get(&h, "/ui/", Some("ss_session=sss_forged")).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    assert!(p.cookies().iter().any(|c| c.starts_with("ss_session=;")));
    // A POST without a session changes nothing either.
    tree(&h).await;
    let p = post(
        &h,
        &format!("/ui/scopes/{WS}/secrets"),
        None,
        &[("name", "X"), ("category", "agent"), ("value", CANARY)],
    )
    .await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    assert_eq!(current(&h, WS, "X").await, None);
}

#[tokio::test]
async fn sign_in_sets_a_strict_session_cookie_and_sign_out_ends_the_session() {
    let h = Harness::new().await;
    let page = get(&h, "/ui/login", None).await;
    page.status(200);
    assert!(page.body.contains(r#"<input id="token" name="token""#));
    assert!(page.body.contains(r#"<label for="token">"#));
    assert!(page.body.contains(r#"type="submit""#));

    // A wrong token: 401, no session, and the token is not shown back.
    let login_cookie = page.cookies()[0].split(';').next().unwrap().to_string();
    assert!(page.cookies()[0].contains("HttpOnly; SameSite=Strict"));
    let wrong = "sst_wrong-token-typed-by-hand";
    let res = post(
        &h,
        "/ui/login",
        Some(&login_cookie),
        &[("csrf", &page.csrf()), ("token", wrong)],
    )
    .await;
    res.status(401);
    assert!(!res.body.contains(wrong));
    assert!(!res.cookies().iter().any(|c| c.starts_with("ss_session=s")));

    // The sign-in form's own CSRF token is required: without its cookie, 403, no session.
    let res = post(
        &h,
        "/ui/login",
        None,
        &[("csrf", &page.csrf()), ("token", &h.root)],
    )
    .await;
    res.status(403);
    assert!(!res.body.contains(&h.root));
    assert!(!res.cookies().iter().any(|c| c.starts_with("ss_session=s")));

    // The right token: a session cookie with the strict attributes, without Secure over HTTP.
    let res = post(
        &h,
        "/ui/login",
        Some(&login_cookie),
        &[("csrf", &page.csrf()), ("token", &h.root)],
    )
    .await;
    res.status(303);
    assert_eq!(res.location(), "/ui/");
    let cookie = res
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("ss_session="))
        .unwrap();
    assert!(cookie.contains("; Path=/ui;"), "{cookie}");
    assert!(cookie.contains("; Max-Age=28800;"), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(!cookie.contains(&h.root));
    let b = Browser {
        cookie: cookie.split(';').next().unwrap().to_string(),
        csrf: String::new(),
    };
    let home = get(&h, "/ui/", b.c()).await;
    home.status(200);
    assert!(home.body.contains(r#"data-account="root""#));
    // Signed in, the sign-in page leads home.
    let p = get(&h, "/ui/login", b.c()).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/"));

    // Sign-out needs the CSRF token too.
    post(&h, "/ui/logout", b.c(), &[]).await.status(403);
    get(&h, "/ui/", b.c()).await.status(200);
    let res = post(&h, "/ui/logout", b.c(), &[("csrf", &home.csrf())]).await;
    res.status(303);
    assert_eq!(res.location(), "/ui/login");
    assert!(
        res.cookies()
            .iter()
            .any(|c| c.starts_with("ss_session=;") && c.contains("Max-Age=0"))
    );
    let p = get(&h, "/ui/", b.c()).await;
    assert_eq!(
        (p.status.as_u16(), p.location()),
        (303, "/ui/login"),
        "the session is gone on the server, not only in the browser"
    );
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_a_tls_proxy() {
    let h = Harness::new().await;
    let page = get(&h, "/ui/login", None).await;
    let login_cookie = page.cookies()[0].split(';').next().unwrap().to_string();
    let req = Request::builder()
        .method("POST")
        .uri("/ui/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .header("cookie", &login_cookie)
        .body(Body::from(form(&[
            ("csrf", &page.csrf()),
            ("token", &h.root),
        ])))
        .unwrap();
    let res = send(&h, req).await;
    res.status(303);
    let cookie = res
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("ss_session="))
        .unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn every_ui_response_carries_a_strict_csp_and_the_other_security_headers() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret(WS, "DB_URL", CANARY).await;
    let b = login(&h, &h.root).await;
    let pages = [
        get(&h, "/ui/login", None).await,
        get(&h, "/ui/", None).await,
        get(&h, "/ui/", b.c()).await,
        get(&h, &format!("/ui/scopes/{WS}"), b.c()).await,
        get(&h, &format!("/ui/scopes/{WS}/secrets/DB_URL"), b.c()).await,
        get(&h, "/ui/scopes/nowhere", b.c()).await,
        get(&h, "/ui/briefs", b.c()).await,
        get(&h, "/ui/audit", b.c()).await,
        get(&h, "/ui/no/such/page", None).await,
        get(&h, "/ui/assets/app.css", None).await,
        post(&h, &format!("/ui/scopes/{WS}/secrets"), b.c(), &[]).await,
        get(&h, "/ui/sessions", b.c()).await,
    ];
    for p in &pages {
        let csp = p.header("content-security-policy");
        assert_eq!(
            csp,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        );
        assert!(!csp.contains("unsafe"));
        assert_eq!(p.header("x-frame-options"), "DENY");
        assert_eq!(p.header("referrer-policy"), "no-referrer");
        assert_eq!(p.header("x-content-type-options"), "nosniff");
        assert_eq!(p.header("cache-control"), "no-store");
        if p.header("content-type").starts_with("text/html") {
            assert!(!p.body.contains("<script"), "no script at all");
            assert!(!p.body.contains(" style="), "no inline style");
            assert!(!p.body.contains("http://") && !p.body.contains("https://"));
        }
    }
    assert_eq!(pages[9].header("content-type"), "text/css; charset=utf-8");
    // Other methods: the UI's own 405 page, with the same headers.
    for (method, path) in [
        ("PUT", "/ui/login"),
        ("GET", "/ui/logout"),
        ("DELETE", "/ui/briefs"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let p = send(&h, req).await;
        p.status(405);
        assert!(p.header("content-type").starts_with("text/html"), "{path}");
        assert_eq!(p.header("x-frame-options"), "DENY", "{path}");
        assert!(
            p.header("content-security-policy")
                .contains("frame-ancestors 'none'")
        );
    }
    assert!(pages[9].body.contains("font-family"));
}

#[tokio::test]
async fn every_form_of_every_page_carries_the_csrf_token_and_every_input_a_label() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret(WS, "DB_URL", "v1").await;
    h.secret(WS, "DB_URL", "v2").await;
    let (task, brief) = crate::ui_objects::dispatched(&h, &["DB_URL"]).await;
    let b = login(&h, &h.root).await;
    for path in [
        "/ui/".to_string(),
        format!("/ui/scopes/{WS}"),
        format!("/ui/scopes/{}", crate::ui_objects::PROJECT),
        format!("/ui/briefs/{brief}"),
        format!("/ui/tasks/{task}"),
        "/ui/briefs".to_string(),
        format!("/ui/scopes/{WS}/secrets/DB_URL"),
        format!("/ui/scopes/{WS}/secrets/DB_URL/delete"),
        "/ui/sessions".to_string(),
        "/ui/search?q=db".to_string(),
        "/ui/audit".to_string(),
        "/ui/accounts".to_string(),
    ] {
        let p = get(&h, &path, b.c()).await;
        p.status(200);
        let token = format!(r#"name="csrf" value="{}""#, b.csrf);
        let mut posts = 0;
        for form in p.body.split("<form ").skip(1) {
            let form = &form[..form.find("</form>").expect("a closed form")];
            if form.starts_with(r#"method="post""#) {
                posts += 1;
                assert_eq!(form.matches(&token).count(), 1, "{path}: {form}");
            } else {
                // A search or a filter changes nothing, and its URL must not carry the token.
                assert!(form.starts_with(r#"method="get""#), "{path}: {form}");
                assert!(!form.contains("csrf"), "{path}: {form}");
            }
        }
        assert!(posts > 0, "{path}");
        assert_eq!(p.body.matches(&token).count(), posts, "{path}");
        // Every visible control is labelled: each id'd input has its <label for>.
        for tag in ["<input id=\"", "<textarea id=\"", "<select id=\""] {
            for chunk in p.body.split(tag).skip(1) {
                let id = &chunk[..chunk.find('"').unwrap()];
                assert!(
                    p.body.contains(&format!(r#"<label for="{id}">"#)),
                    "{path}: no label for {id}"
                );
            }
        }
        let unlabelled = p
            .body
            .split("<input ")
            .skip(1)
            .filter(|c| !c.starts_with("type=\"hidden\"") && !c.starts_with("id=\""))
            .count();
        assert_eq!(unlabelled, 0, "{path}");
    }
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret(WS, "DB_URL", CANARY).await;
    h.secret(WS, "DB_URL", "second").await;
    let b = login(&h, &h.root).await;
    let reveals = audit_count(&h, "secret.reveal").await;
    let secret = format!("/ui/scopes/{WS}/secrets/DB_URL");
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/ui/scopes/{WS}/secrets"),
            vec![("name", "NEW"), ("category", "agent"), ("value", "x")],
        ),
        (format!("{secret}/rotate"), vec![("value", "rotated")]),
        (format!("{secret}/rollback"), vec![("to", "1")]),
        (format!("{secret}/reveal"), vec![]),
        (format!("{secret}/delete"), vec![("confirm", "DB_URL")]),
        (
            "/ui/scopes".to_string(),
            vec![("parent", "acme"), ("name", "newteam")],
        ),
        ("/ui/logout".to_string(), vec![]),
    ];
    for (path, fields) in &attempts {
        for csrf in [
            None,
            Some("wrong"),
            Some(""),
            Some(&b.csrf[..b.csrf.len() - 1]),
        ] {
            let mut f = fields.clone();
            if let Some(c) = csrf {
                f.push(("csrf", c));
            }
            let p = post(&h, path, b.c(), &f).await;
            p.status(403);
            assert!(p.body.contains("CSRF"), "{path}");
            assert!(!p.body.contains(CANARY), "{path}");
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
    assert_eq!(
        current(&h, WS, "DB_URL").await.unwrap(),
        (2, "second".into())
    );
    assert_eq!(current(&h, WS, "NEW").await, None);
    assert_eq!(
        audit_count(&h, "secret.reveal").await,
        reveals + 1,
        "no reveal but the check above"
    );
    let scopes = h.call("GET", "/api/v1/scopes", Some(&h.root), None).await;
    assert!(!scopes.text.contains("newteam"));
    get(&h, "/ui/", b.c()).await.status(200);
}

#[tokio::test]
async fn the_value_is_not_in_any_page_before_the_reveal_and_the_reveal_is_audited() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret(WS, "DB_URL", CANARY).await;
    let b = login(&h, &h.root).await;
    let secret = format!("/ui/scopes/{WS}/secrets/DB_URL");
    for path in [
        "/ui/".to_string(),
        format!("/ui/scopes/{WS}"),
        secret.clone(),
        format!("{secret}/delete"),
        "/ui/audit".into(),
    ] {
        let p = get(&h, &path, b.c()).await;
        p.status(200);
        assert!(!p.body.contains(CANARY), "{path}");
    }
    let page = get(&h, &secret, b.c()).await;
    assert!(page.body.contains(r#"data-action="reveal""#));
    assert!(!page.body.contains("data-revealed"));

    let before = audit_count(&h, "secret.reveal").await;
    let p = post(&h, &format!("{secret}/reveal"), b.c(), &[("csrf", &b.csrf)]).await;
    p.status(200);
    assert!(
        p.body.contains(&format!("\n{CANARY}</textarea>")),
        "{}",
        p.body
    );
    assert!(p.body.contains(r#"data-revealed="1""#));
    assert_eq!(p.header("cache-control"), "no-store");
    let log = h.call("GET", "/api/v1/audit", Some(&h.root), None).await;
    // Newest first.
    let last = log.json["records"][0].clone();
    assert_eq!(last["action"], "secret.reveal");
    assert_eq!(last["actor"], "root");
    assert_eq!(last["scope"], WS);
    assert_eq!(last["name"], "DB_URL");
    assert_eq!(last["version"], 1);
    assert_eq!(audit_count(&h, "secret.reveal").await, before + 1);
    assert!(!log.text.contains(CANARY));
    // Hiding it again is a plain link to the page without the value.
    assert!(!get(&h, &secret, b.c()).await.body.contains(CANARY));
}

#[tokio::test]
async fn create_rotate_roll_back_and_delete_through_the_forms_without_a_value_in_any_url() {
    let h = Harness::new().await;
    tree(&h).await;
    let b = login(&h, &h.root).await;
    let scope_page = get(&h, &format!("/ui/scopes/{WS}"), b.c()).await;
    assert!(scope_page.body.contains(r#"data-form="new-secret""#));
    assert!(
        scope_page
            .body
            .contains(&format!(r#"action="/ui/scopes/{WS}/secrets""#))
    );
    assert!(
        scope_page
            .body
            .contains(r#"<select id="new-category" name="category""#)
    );
    assert!(
        scope_page
            .body
            .contains(r#"<textarea id="new-value" name="value""#)
    );

    let v1 = format!("{CANARY}-one\r\nsecond line");
    let res = post(
        &h,
        &format!("/ui/scopes/{WS}/secrets"),
        b.c(),
        &[
            ("csrf", &b.csrf),
            ("name", "API_KEY"),
            ("category", "provider"),
            ("value", &v1),
        ],
    )
    .await;
    res.status(303);
    let secret = format!("/ui/scopes/{WS}/secrets/API_KEY");
    assert_eq!(res.location(), format!("{secret}?done=created"));
    assert_eq!(
        current(&h, WS, "API_KEY").await.unwrap(),
        (1, format!("{CANARY}-one\nsecond line")),
        "the browser's CRLF line breaks are stored as LF"
    );

    // Creating it again does not rotate it silently: 409, nothing changed, no value shown.
    let again = post(
        &h,
        &format!("/ui/scopes/{WS}/secrets"),
        b.c(),
        &[
            ("csrf", &b.csrf),
            ("name", "API_KEY"),
            ("category", "provider"),
            ("value", "other"),
        ],
    )
    .await;
    again.status(409);
    assert!(again.body.contains("already exists"));
    assert!(
        again.body.contains(r#"value="API_KEY""#),
        "the name is kept"
    );
    assert!(!again.body.contains("other<") && !again.body.contains(CANARY));
    assert_eq!(current(&h, WS, "API_KEY").await.unwrap().0, 1);

    // Bad input: the form's page again with the reason, never the value.
    for (name, category, value, why) in [
        ("lower", "provider", CANARY, "invalid secret name"),
        (CANARY, "provider", "x", "invalid secret name"),
        (
            "BASH_ENV",
            "provider",
            CANARY,
            "BASH_ENV is an unsafe environment name",
        ),
        ("OK_NAME", "nonsense", CANARY, "unknown category"),
        ("OK_NAME", "provider", "", "empty"),
    ] {
        let p = post(
            &h,
            &format!("/ui/scopes/{WS}/secrets"),
            b.c(),
            &[
                ("csrf", &b.csrf),
                ("name", name),
                ("category", category),
                ("value", value),
            ],
        )
        .await;
        p.status(400);
        assert!(p.body.contains(why), "{why}: {}", p.body);
        assert!(!p.body.contains(CANARY), "{why}");
    }
    assert_eq!(current(&h, WS, "OK_NAME").await, None);

    // Rotate: version 2; both versions in the history.
    let page = get(&h, &secret, b.c()).await;
    assert!(page.body.contains(r#"data-form="rotate""#));
    assert!(page.body.contains(r#"name="expected_version" value="1""#));
    let res = post(
        &h,
        &format!("{secret}/rotate"),
        b.c(),
        &[
            ("csrf", &b.csrf),
            ("value", "two"),
            ("expected_version", "1"),
        ],
    )
    .await;
    res.status(303);
    assert_eq!(res.location(), format!("{secret}?done=rotated"));
    assert_eq!(current(&h, WS, "API_KEY").await.unwrap(), (2, "two".into()));
    let page = get(&h, &format!("{secret}?done=rotated"), b.c()).await;
    assert!(page.body.contains(r#"data-version="1""#));
    assert!(page.body.contains(r#"data-version="2" data-current"#));
    assert!(page.body.contains("New version saved"));

    // A rotation from a stale page: 409, nothing changed.
    let p = post(
        &h,
        &format!("{secret}/rotate"),
        b.c(),
        &[
            ("csrf", &b.csrf),
            ("value", "late"),
            ("expected_version", "1"),
        ],
    )
    .await;
    p.status(409);
    assert!(p.body.contains("nothing was changed"));
    assert!(!p.body.contains("late<"));
    assert_eq!(current(&h, WS, "API_KEY").await.unwrap().0, 2);

    // Roll back to version 1: version 3 holds version 1's value.
    let res = post(
        &h,
        &format!("{secret}/rollback"),
        b.c(),
        &[("csrf", &b.csrf), ("to", "1")],
    )
    .await;
    res.status(303);
    assert_eq!(res.location(), format!("{secret}?done=rolled-back"));
    assert_eq!(
        current(&h, WS, "API_KEY").await.unwrap(),
        (3, format!("{CANARY}-one\nsecond line"))
    );
    let page = get(&h, &secret, b.c()).await;
    assert!(page.body.contains("rollback to v1"));

    // Delete: a confirmation step first; a POST without the confirmation deletes nothing.
    let confirm = get(&h, &format!("{secret}/delete"), b.c()).await;
    confirm.status(200);
    assert!(confirm.body.contains(r#"data-form="delete""#));
    post(&h, &format!("{secret}/delete"), b.c(), &[("csrf", &b.csrf)])
        .await
        .status(400);
    assert!(current(&h, WS, "API_KEY").await.is_some());
    let res = post(
        &h,
        &format!("{secret}/delete"),
        b.c(),
        &[("csrf", &b.csrf), ("confirm", "API_KEY")],
    )
    .await;
    res.status(303);
    assert_eq!(
        res.location(),
        format!("/ui/scopes/{WS}?done=deleted&name=API_KEY")
    );
    assert_eq!(current(&h, WS, "API_KEY").await, None);
    let page = get(&h, res.location(), b.c()).await;
    assert!(page.body.contains("Deleted API_KEY"));
    assert!(!page.body.contains(r#"data-secret="API_KEY""#));
    get(&h, &secret, b.c()).await.status(404);

    // New scopes from the UI.
    let res = post(
        &h,
        "/ui/scopes",
        b.c(),
        &[("csrf", &b.csrf), ("parent", WS), ("name", "agent-y")],
    )
    .await;
    res.status(303);
    assert_eq!(
        res.location(),
        format!("/ui/scopes/{WS}/agent-y?done=scope-created")
    );
    let p = get(&h, &format!("/ui/scopes/{WS}/agent-y"), b.c()).await;
    p.status(200);
    assert!(
        !p.body.contains(r#"data-form="new-secret""#),
        "projects hold no secrets"
    );
}

#[tokio::test]
async fn another_teams_member_gets_the_404_page_of_a_missing_scope_and_changes_nothing() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret(WS, "DB_URL", CANARY).await;
    h.secret("acme", "ORG_WIDE", "org").await;
    let bob_token = h.account("bob", Some(("member", Some("acme/other")))).await;
    let bob = login(&h, &bob_token).await;
    let missing = get(&h, "/ui/scopes/acme/nothere", bob.c()).await;
    missing.status(404);
    for path in [
        "/ui/scopes/acme/platform".to_string(),
        format!("/ui/scopes/{WS}"),
        format!("/ui/scopes/{WS}/secrets/DB_URL"),
        format!("/ui/scopes/{WS}/secrets/NOPE"),
        format!("/ui/scopes/{WS}/secrets/DB_URL/delete"),
    ] {
        let p = get(&h, &path, bob.c()).await;
        p.status(404);
        assert_eq!(
            p.body, missing.body,
            "{path}: exactly the page of a missing scope"
        );
    }
    for (path, fields) in [
        (
            format!("/ui/scopes/{WS}/secrets/DB_URL/rotate"),
            vec![("value", "bob")],
        ),
        (format!("/ui/scopes/{WS}/secrets/DB_URL/reveal"), vec![]),
        (
            format!("/ui/scopes/{WS}/secrets/DB_URL/rollback"),
            vec![("to", "1")],
        ),
        (
            format!("/ui/scopes/{WS}/secrets/DB_URL/delete"),
            vec![("confirm", "DB_URL")],
        ),
        (
            format!("/ui/scopes/{WS}/secrets"),
            vec![("name", "BOB"), ("category", "agent"), ("value", "x")],
        ),
    ] {
        let mut f = fields.clone();
        f.push(("csrf", &bob.csrf));
        let p = post(&h, &path, bob.c(), &f).await;
        p.status(404);
        assert_eq!(p.body, missing.body, "{path}");
        assert!(!p.body.contains(CANARY));
    }
    assert_eq!(current(&h, WS, "DB_URL").await.unwrap(), (1, CANARY.into()));
    assert_eq!(current(&h, WS, "BOB").await, None);
    let home = get(&h, "/ui/", bob.c()).await;
    assert!(home.body.contains(r#"data-scope="acme/other""#));
    assert!(!home.body.contains("platform"), "{}", home.body);
    // Organization-wide secrets are readable, not writable, by a member.
    let org = get(&h, "/ui/scopes/acme", bob.c()).await;
    org.status(200);
    assert!(org.body.contains(r#"data-secret="ORG_WIDE""#));
    assert!(!org.body.contains(r#"data-form="new-secret""#));
    assert!(org.body.contains("data-readonly"));
    assert!(!org.body.contains("platform"));
    // His own team's pages work.
    let own = get(&h, "/ui/scopes/acme/other/ws", bob.c()).await;
    own.status(200);
    assert!(own.body.contains(r#"data-form="new-secret""#));
    assert!(
        own.body
            .contains(r#"data-inherited="ORG_WIDE" data-from="acme""#)
    );
    // The audit page shows a member his own team's records only (as the API does).
    let log = get(&h, "/ui/audit", bob.c()).await;
    log.status(200);
    assert!(log.body.contains(r#"data-audit="#), "{}", log.body);
    assert!(!log.body.contains("platform"), "{}", log.body);
    get(&h, "/ui/audit?scope=acme/platform", bob.c())
        .await
        .status(404);
    assert!(
        !get(&h, "/ui/briefs", bob.c())
            .await
            .body
            .contains("platform")
    );
}

#[tokio::test]
async fn a_dispatcher_sees_metadata_but_no_reveal_control() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret(WS, "DB_URL", CANARY).await;
    let token = h.account("ctl", Some(("dispatcher", Some("acme")))).await;
    let d = login(&h, &token).await;
    let secret = format!("/ui/scopes/{WS}/secrets/DB_URL");
    let page = get(&h, &secret, d.c()).await;
    page.status(200);
    assert!(!page.body.contains(r#"data-action="reveal""#));
    assert!(!page.body.contains(r#"data-form="rotate""#));
    let p = post(&h, &format!("{secret}/reveal"), d.c(), &[("csrf", &d.csrf)]).await;
    p.status(403);
    assert!(!p.body.contains(CANARY));
}

#[tokio::test]
async fn inherited_secrets_are_marked_with_what_this_scope_shadows() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret("acme", "DB_URL", "org").await;
    h.secret("acme/platform", "API_KEY", "team").await;
    h.secret(WS, "DB_URL", "ws").await;
    let b = login(&h, &h.root).await;
    let p = get(&h, &format!("/ui/scopes/{WS}"), b.c()).await;
    p.status(200);
    assert!(p.body.contains(r#"<tr data-secret="DB_URL">"#));
    assert!(
        p.body
            .contains(r#"data-shadows="DB_URL">shadows acme (v1)"#)
    );
    assert!(
        p.body
            .contains(r#"data-inherited="DB_URL" data-from="acme" data-shadowed"#)
    );
    assert!(p.body.contains(&format!("shadowed by {WS}")));
    assert!(
        p.body
            .contains(r#"data-inherited="API_KEY" data-from="acme/platform">"#)
    );
    assert!(
        p.body
            .contains(&format!(r#"data-effective="DB_URL" data-from="{WS}""#))
    );
    assert!(
        p.body
            .contains(r#"data-effective="API_KEY" data-from="acme/platform""#)
    );
    assert!(!p.body.contains(r#"data-secret="API_KEY""#));
    // The team sees the organization's DB_URL in effect.
    let team = get(&h, "/ui/scopes/acme/platform", b.c()).await;
    assert!(
        team.body
            .contains(r#"data-effective="DB_URL" data-from="acme""#)
    );
    assert!(
        team.body
            .contains(r#"data-inherited="DB_URL" data-from="acme">"#)
    );
}

#[tokio::test]
async fn the_briefs_page_marks_running_briefs_whose_secrets_were_rotated() {
    let h = Harness::new().await;
    tree(&h).await;
    h.scope(&format!("{WS}/agent-x")).await;
    h.secret(WS, "DB_URL", "one").await;
    h.secret("acme", "API_KEY", "key").await;
    let task = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": format!("{WS}/agent-x"), "secret_refs": ["DB_URL", "API_KEY"]})),
        )
        .await;
    let id = task.json["id"].as_str().unwrap().to_string();
    let mut briefs = Vec::new();
    for _ in 0..2 {
        let d = h
            .call(
                "POST",
                &format!("/api/v1/tasks/{id}/dispatch"),
                Some(&h.root),
                None,
            )
            .await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.text);
        briefs.push(d.json.clone());
    }
    // The second agent finishes; then DB_URL is rotated.
    let cb = briefs[1]["env"]["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap();
    let done = h
        .call(
            "POST",
            &format!(
                "/api/v1/briefs/{}/callback",
                briefs[1]["brief_id"].as_str().unwrap()
            ),
            Some(cb),
            None,
        )
        .await;
    assert!(done.status.is_success(), "{}", done.text);
    h.secret(WS, "DB_URL", "two").await;

    let b = login(&h, &h.root).await;
    let p = get(&h, "/ui/briefs", b.c()).await;
    p.status(200);
    let running = briefs[0]["brief_id"].as_str().unwrap();
    let completed = briefs[1]["brief_id"].as_str().unwrap();
    assert!(
        p.body.contains(&format!(
            r#"data-brief="{running}" data-status="running" data-stale="DB_URL""#
        )),
        "{}",
        p.body
    );
    // Only a running brief is marked: the agent of a completed one holds nothing.
    assert!(p.body.contains(&format!(
        r#"data-brief="{completed}" data-status="completed">"#
    )));
    assert!(p.body.contains("tag stale urgent"));
    assert!(!p.body.contains("one<") && !p.body.contains("two<"));
}

#[tokio::test]
async fn malformed_or_oversized_forms_get_a_page_that_never_echoes_the_body() {
    let h = Harness::new().await;
    tree(&h).await;
    let b = login(&h, &h.root).await;
    let url = format!("/ui/scopes/{WS}/secrets");
    let csrf = b.csrf.clone();
    for (ctype, body, status) in [
        (
            "application/json",
            json!({"csrf": csrf, "name": "X", "value": CANARY}).to_string(),
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&name=X&name=Y&category=agent&value={CANARY}"),
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&csrf={csrf}&value={CANARY}"),
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            format!(
                "csrf={csrf}&name=X&category=agent&value={CANARY}{}",
                "a".repeat(2 << 20)
            ),
            413,
        ),
    ] {
        let p = post_raw(&h, &url, b.c(), ctype, body).await;
        p.status(status);
        assert!(!p.body.contains(CANARY), "{ctype}");
        assert!(p.header("content-type").starts_with("text/html"));
    }
    assert_eq!(current(&h, WS, "X").await, None);
    // A value over the limit of 65,536 bytes: the form's page with the reason.
    let p = post(
        &h,
        &url,
        b.c(),
        &[
            ("csrf", &b.csrf),
            ("name", "BIG"),
            ("category", "agent"),
            ("value", &format!("{CANARY}{}", "b".repeat(70_000))),
        ],
    )
    .await;
    p.status(400);
    assert!(p.body.contains("the limit is 65536"));
    assert!(!p.body.contains(CANARY));
}

#[tokio::test]
async fn the_audit_page_lists_the_ui_actions_for_admins() {
    let h = Harness::new().await;
    tree(&h).await;
    h.secret(WS, "DB_URL", CANARY).await;
    let admin_token = h.account("ada", Some(("admin", Some("acme")))).await;
    let ada = login(&h, &admin_token).await;
    post(
        &h,
        &format!("/ui/scopes/{WS}/secrets/DB_URL/reveal"),
        ada.c(),
        &[("csrf", &ada.csrf)],
    )
    .await
    .status(200);
    let p = get(&h, "/ui/audit", ada.c()).await;
    p.status(200);
    assert!(p.body.contains(r#"<tr data-audit="secret.reveal">"#));
    assert!(!p.body.contains(CANARY));
    let scoped = get(&h, &format!("/ui/audit?scope={WS}"), ada.c()).await;
    scoped.status(200);
    assert!(scoped.body.contains(r#"<tr data-audit="secret.reveal">"#));
    assert!(
        !scoped.body.contains(r#"data-audit="scope.create""#)
            || scoped.body.contains("acme/platform/dev")
    );
    get(&h, "/ui/audit?scope=globex", ada.c()).await.status(404);
    // Root also sees the records without a scope, such as sign-ins.
    let root = login(&h, &h.root).await;
    let all = get(&h, "/ui/audit", root.c()).await;
    assert!(all.body.contains(r#"<tr data-audit="session.login">"#));
    assert!(all.body.contains(r#"data-audit="secret.reveal""#));
}

#[tokio::test]
async fn a_revealed_value_is_escaped_text_never_markup() {
    let h = Harness::new().await;
    tree(&h).await;
    let nasty = "</textarea><script>alert(1)</script>&amp;\n  leading spaces";
    h.secret(WS, "HTML_LIKE", nasty).await;
    let b = login(&h, &h.root).await;
    let p = post(
        &h,
        &format!("/ui/scopes/{WS}/secrets/HTML_LIKE/reveal"),
        b.c(),
        &[("csrf", &b.csrf)],
    )
    .await;
    p.status(200);
    assert!(!p.body.contains("<script>") && !p.body.contains("</textarea><"));
    let escaped = "\n&#60;/textarea&#62;&#60;script&#62;alert(1)&#60;/script&#62;&#38;amp;\n  leading spaces</textarea>";
    assert!(p.body.contains(escaped), "{}", p.body);
    // GET /ui/scopes itself leads home.
    let p = get(&h, "/ui/scopes", b.c()).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/"));
}

/// The documented number of failed authentications per address and minute.
const LIMIT: usize = secretstore_server::limit::FAILURES_PER_MINUTE as usize;

/// A request from the client at `peer`.
fn from(peer: &str, mut req: Request<Body>) -> Request<Body> {
    req.extensions_mut().insert(peer_info(peer));
    req
}

#[tokio::test]
async fn wrong_sign_ins_past_the_limit_get_429_even_for_a_session_and_are_audited() {
    let h = Harness::new().await;
    let attacker = "192.0.2.20";
    // A session opened from that address before the attack.
    let form_page = send(
        &h,
        from(
            attacker,
            Request::get("/ui/login").body(Body::empty()).unwrap(),
        ),
    )
    .await;
    let login_cookie = form_page
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("ss_login="))
        .unwrap();
    let login_cookie = login_cookie.split(';').next().unwrap().to_string();
    let csrf = form_page.csrf();
    let sign_in = |token: String, peer: &'static str| {
        from(
            peer,
            Request::post("/ui/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", &login_cookie)
                .body(Body::from(form(&[("csrf", &csrf), ("token", &token)])))
                .unwrap(),
        )
    };
    let ok = send(&h, sign_in(h.root.clone(), attacker)).await;
    ok.status(303);
    let session = ok
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("ss_session=sss_"))
        .unwrap();
    let session = session.split(';').next().unwrap().to_string();
    for i in 0..LIMIT {
        send(&h, sign_in(format!("sst_CANARY-guess{i}"), attacker))
            .await
            .status(401);
    }
    let locked = send(&h, sign_in(h.root.clone(), attacker)).await;
    locked.status(429);
    assert!(locked.header("retry-after").parse::<u64>().is_ok());
    assert!(locked.header("content-type").starts_with("text/html"));
    let page = send(
        &h,
        from(
            attacker,
            Request::get("/ui/")
                .header("cookie", &session)
                .body(Body::empty())
                .unwrap(),
        ),
    )
    .await;
    page.status(429);
    // Another address signs in.
    send(&h, sign_in(h.root.clone(), "192.0.2.21"))
        .await
        .status(303);
    let log = h.call("GET", "/api/v1/audit", Some(&h.root), None).await;
    let failed: Vec<_> = log.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "auth.failed")
        .collect();
    assert_eq!(failed.len(), LIMIT, "{}", log.text);
    assert!(
        failed
            .iter()
            .all(|r| r["source"] == attacker && r["detail"]["credential"] == "session_sign_in")
    );
    assert!(!log.text.contains("CANARY"), "{}", log.text);
}

/// The public ids of the sessions `token` may list (`GET /api/v1/sessions`), newest first.
pub(crate) async fn session_ids(h: &Harness, token: &str) -> Vec<(String, String)> {
    let a = h.call("GET", "/api/v1/sessions", Some(token), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["account"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The public id of a browser's own session, as its sessions page marks it.
async fn current_session_id(h: &Harness, b: &Browser) -> String {
    let page = get(h, "/ui/sessions", b.c()).await;
    page.status(200);
    let row = page
        .body
        .split("<tr data-session=\"")
        .skip(1)
        .find(|r| r[..r.find('>').unwrap()].contains("data-current"))
        .unwrap_or_else(|| panic!("no current session in {}", page.body));
    row[..row.find('"').unwrap()].to_string()
}

/// The id of the newest token of an account, as root lists it.
pub(crate) async fn newest_token_id(h: &Harness, account: &str) -> String {
    let a = h
        .call(
            "GET",
            &format!("/api/v1/accounts/{account}/tokens"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json["tokens"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) async fn revoke_member(h: &Harness, account: &str, scope: &str) -> Answer {
    h.call(
        "DELETE",
        &format!("/api/v1/accounts/{account}/grants?role=member&scope={scope}"),
        Some(&h.root),
        None,
    )
    .await
}

#[tokio::test]
async fn sessions_are_listed_and_ended_over_the_api_and_on_the_sessions_page() {
    let h = Harness::new().await;
    tree(&h).await;
    let token = h
        .account("mia", Some(("member", Some("acme/platform"))))
        .await;
    let mia = login(&h, &token).await;
    let mia2 = login(&h, &token).await;
    let root = login(&h, &h.root).await;

    // A member lists her own sessions only; root lists everyone's. The listed id is not
    // the cookie's secret, and no answer holds a cookie value.
    let own = session_ids(&h, &token).await;
    assert_eq!(own.len(), 2, "{own:?}");
    assert!(own.iter().all(|(_, a)| a == "mia"));
    let all = session_ids(&h, &h.root).await;
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().any(|(_, a)| a == "root"));
    let listed = h
        .call("GET", "/api/v1/sessions", Some(&h.root), None)
        .await
        .text;
    for b in [&mia, &mia2, &root] {
        let secret = b.cookie.trim_start_matches("ss_session=");
        assert!(secret.starts_with("sss_"));
        assert!(!listed.contains(secret), "{listed}");
        assert!(!listed.contains(&b.csrf), "{listed}");
    }

    // Mia ends one of her sessions over the API: that browser is signed out at once.
    let newest = current_session_id(&h, &mia2).await;
    assert!(own.iter().any(|(id, _)| *id == newest));
    let a = h
        .call(
            "DELETE",
            &format!("/api/v1/sessions/{newest}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let p = get(&h, "/ui/", mia2.c()).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    get(&h, "/ui/", mia.c()).await.status(200);
    h.call(
        "DELETE",
        &format!("/api/v1/sessions/{newest}"),
        Some(&token),
        None,
    )
    .await
    .error(404, "not_found");
    assert_eq!(audit_count(&h, "session.end").await, 1);

    // The sessions page: root sees every session, each with a CSRF-protected end button.
    let page = get(&h, "/ui/sessions", root.c()).await;
    page.status(200);
    let (mia_id, _) = session_ids(&h, &token).await[0].clone();
    assert!(page.body.contains(&format!(r#"data-session="{mia_id}""#)));
    assert!(page.body.contains(r#"data-current"#), "{}", page.body);
    assert_eq!(
        page.body.matches(r#"<form method="post""#).count(),
        page.body
            .matches(&format!(r#"name="csrf" value="{}""#, root.csrf))
            .count()
    );
    assert!(
        !page
            .body
            .contains(mia.cookie.trim_start_matches("ss_session="))
    );
    // Without the CSRF token, nothing ends.
    post(&h, &format!("/ui/sessions/{mia_id}/end"), root.c(), &[])
        .await
        .status(403);
    get(&h, "/ui/", mia.c()).await.status(200);
    let p = post(
        &h,
        &format!("/ui/sessions/{mia_id}/end"),
        root.c(),
        &[("csrf", &root.csrf)],
    )
    .await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/sessions"));
    let p = get(&h, "/ui/", mia.c()).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    assert_eq!(audit_count(&h, "session.end").await, 2);
    // Ending one's own current session on the page signs out.
    let root_id = current_session_id(&h, &root).await;
    let p = post(
        &h,
        &format!("/ui/sessions/{root_id}/end"),
        root.c(),
        &[("csrf", &root.csrf)],
    )
    .await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
    let p = get(&h, "/ui/", root.c()).await;
    assert_eq!((p.status.as_u16(), p.location()), (303, "/ui/login"));
}

#[tokio::test]
async fn a_member_cannot_end_another_accounts_session_it_is_404_as_if_missing() {
    let h = Harness::new().await;
    tree(&h).await;
    let token = h
        .account("eve", Some(("member", Some("acme/platform"))))
        .await;
    let eve = login(&h, &token).await;
    let root = login(&h, &h.root).await;
    let root_id = session_ids(&h, &h.root)
        .await
        .into_iter()
        .find(|(_, a)| a == "root")
        .unwrap()
        .0;
    let missing = "00000000-0000-4000-8000-000000000000";
    let theirs = h
        .call(
            "DELETE",
            &format!("/api/v1/sessions/{root_id}"),
            Some(&token),
            None,
        )
        .await;
    theirs.error(404, "not_found");
    let none = h
        .call(
            "DELETE",
            &format!("/api/v1/sessions/{missing}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        theirs.text.replace(&root_id, "{}"),
        none.text.replace(missing, "{}")
    );
    // Nor on the page: the 404 page of anything missing; her list shows only her own.
    let p = post(
        &h,
        &format!("/ui/sessions/{root_id}/end"),
        eve.c(),
        &[("csrf", &eve.csrf)],
    )
    .await;
    p.status(404);
    let page = get(&h, "/ui/sessions", eve.c()).await;
    page.status(200);
    assert!(!page.body.contains(&root_id));
    assert_eq!(
        page.body.matches("data-session=").count(),
        1,
        "{}",
        page.body
    );
    get(&h, "/ui/", root.c()).await.status(200);
    assert_eq!(audit_count(&h, "session.end").await, 0);
}

#[tokio::test]
async fn the_briefs_page_shows_a_revoked_brief_as_revoked() {
    let h = Harness::new().await;
    tree(&h).await;
    h.scope(&format!("{WS}/agent-x")).await;
    h.secret(WS, "DB_URL", "one").await;
    let task = h
        .call(
            "POST",
            "/api/v1/tasks",
            Some(&h.root),
            Some(json!({"project": format!("{WS}/agent-x"), "secret_refs": ["DB_URL"]})),
        )
        .await;
    let id = task.json["id"].as_str().unwrap().to_string();
    let d = h
        .call(
            "POST",
            &format!("/api/v1/tasks/{id}/dispatch"),
            Some(&h.root),
            None,
        )
        .await;
    let brief = d.json["brief_id"].as_str().unwrap().to_string();
    let r = h
        .call(
            "POST",
            &format!("/api/v1/briefs/{brief}/revoke"),
            Some(&h.root),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let b = login(&h, &h.root).await;
    let p = get(&h, "/ui/briefs", b.c()).await;
    p.status(200);
    assert!(
        p.body
            .contains(&format!(r#"data-brief="{brief}" data-status="revoked""#)),
        "{}",
        p.body
    );
    assert!(
        p.body
            .contains(r#"<span class="tag revoked">revoked</span>"#)
    );
}

#[tokio::test]
async fn an_account_without_any_role_gets_no_session() {
    let h = Harness::new().await;
    let token = h.account("idle", None).await;
    let form_page = get(&h, "/ui/login", None).await;
    let lc = form_page.cookies()[0]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let p = post(
        &h,
        "/ui/login",
        Some(&lc),
        &[("csrf", &form_page.csrf()), ("token", &token)],
    )
    .await;
    p.status(403);
    assert!(p.body.contains("no role"), "{}", p.body);
    assert!(!p.cookies().iter().any(|c| c.starts_with("ss_session=sss_")));
    assert!(!p.body.contains(&token));
    assert!(session_ids(&h, &h.root).await.is_empty());
}
