//! The web UI in real headless Chromium, through WebDriver (chromedriver), against the
//! real `secretstore serve` on a loopback port: a new user signs in with the root token
//! that `serve` prints, builds the scope tree, creates, rotates, reveals and rolls back a
//! secret; another team's member sees nothing of it; a form without its CSRF token is
//! refused; root creates an account, grants it a role and sees its new API token once
//! (then revokes it). Screenshots of the main pages go to docs/ (the README shows them) when they
//! are missing there, or always with `SECRETSTORE_SCREENSHOTS=1`.
//!
//! Needs `/usr/bin/chromium` and `chromedriver` (Debian: `apt-get install -y chromium
//! chromium-driver`; scripts/test.sh installs them). Only 127.0.0.1 is contacted.

use crate::common::server::*;
use crate::common::*;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// A child process leading its own process group. Dropping it (also when a test panics)
/// kills that group, and nothing else.
pub(crate) struct GroupChild(pub(crate) Child);

impl GroupChild {
    pub(crate) fn spawn(cmd: &mut Command) -> std::io::Result<GroupChild> {
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(cmd, 0);
        cmd.spawn().map(GroupChild)
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        // Through killpg(2), never by running `kill -KILL -<pgid>`: procps' kill reads a
        // negative pid without a `--` before it as an option and sends kill(-1, …) — every
        // process of the user — whenever the pgid starts with 1.
        #[cfg(unix)]
        if let Ok(pgid) = i32::try_from(self.0.id())
            && pgid > 1
        {
            use nix::sys::signal::{Signal, killpg};
            let _ = killpg(nix::unistd::Pid::from_raw(pgid), Signal::SIGKILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver on a free loopback port, in a process group of its own with the Chromium
/// it starts: dropping it kills both.
struct Chromedriver {
    _child: GroupChild,
    url: String,
    /// The browser profile: fresh for every run.
    profile: tempfile::TempDir,
}

impl Chromedriver {
    fn start() -> Chromedriver {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: the browser tests need Chromium and chromedriver \
             (apt-get install -y chromium chromium-driver; scripts/test.sh does it)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = GroupChild::spawn(&mut cmd).unwrap_or_else(|e| {
            panic!(
                "cannot start chromedriver ({e}): apt-get install -y chromium chromium-driver \
                 (scripts/test.sh does it)"
            )
        });
        let driver = Chromedriver {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            profile: secretstore_testkit::scratch(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    async fn session(&self) -> Client {
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", self.profile.path().display()),
                ]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a WebDriver session with headless Chromium")
    }
}

/// The browser at one server.
struct Ui {
    c: Client,
    base: String,
}

impl Ui {
    async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn path(&self) -> String {
        let u = self.c.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    async fn count(&self, css: &str) -> usize {
        self.c.find_all(Locator::Css(css)).await.unwrap().len()
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Clicks something that leads to another page, and waits until that page is loaded:
    /// the old page's root element is gone and the new page's footer is there.
    async fn click(&self, css: &str) {
        let old = self.c.find(Locator::Css("html")).await.unwrap();
        self.find(css).await.click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while old.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "clicking {css} led nowhere");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.find("footer.foot").await;
    }

    /// Types `text` into a field and presses Enter, as one submits a search box that has
    /// no button, and waits for the page it leads to.
    async fn type_and_enter(&self, css: &str, text: &str) {
        let old = self.c.find(Locator::Css("html")).await.unwrap();
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(&format!("{text}\u{E007}")).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while old.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "entering {text} led nowhere");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.find("footer.foot").await;
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    async fn source(&self) -> String {
        self.c.source().await.unwrap()
    }

    /// Creates a scope with the new-scope form of the current page.
    async fn new_scope(&self, name: &str) {
        self.fill(r#"form[data-form="new-scope"] input[name="name"]"#, name)
            .await;
        self.click(r#"form[data-form="new-scope"] button[type="submit"]"#)
            .await;
    }

    /// A screenshot of the whole page (the window is made as tall as the page, within
    /// reason, then put back).
    async fn screenshot(&self, file: &str) {
        let height = self
            .c
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(900)
            .clamp(700, 2000) as u32;
        self.c.set_window_size(1280, height + 150).await.unwrap();
        let png = self.c.screenshot().await.unwrap();
        self.c.set_window_size(1280, 1000).await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        // docs/ holds the README's pictures: written when missing, or on request, so that a
        // test run does not leave changed pictures (new ids, new times) in the work tree.
        let dir = docs();
        let path = dir.join(file);
        let refresh = std::env::var("SECRETSTORE_SCREENSHOTS").is_ok_and(|v| v == "1");
        if refresh || !path.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, png).unwrap();
        }
    }

    /// The session cookie, as WebDriver sees it (HttpOnly cookies too).
    async fn session_cookie(&self) -> String {
        let cookies = self.c.get_all_cookies().await.unwrap();
        let c = cookies
            .iter()
            .find(|c| c.name() == "ss_session")
            .expect("a session cookie");
        assert_eq!(c.http_only(), Some(true));
        assert_eq!(c.path(), Some("/ui"));
        assert_eq!(format!("{:?}", c.same_site()), "Some(Strict)");
        format!("ss_session={}", c.value())
    }
}

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

/// A form POST outside the browser: the session cookie, a body of our choosing.
fn raw_post(addr: &str, path: &str, cookie: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let (status, _, text) = read_response(&mut s);
    (status, text)
}

/// The current version and value of a secret, through the API.
fn current(server: &Server, token: &str, scope: &str, name: &str) -> (i64, String) {
    let (code, v, text) = server.call(
        "GET",
        &format!("/api/v1/secrets/{name}/value?scope={scope}"),
        Some(token),
        None,
    );
    assert_eq!(code, 200, "{text}");
    (
        v["version"].as_i64().unwrap(),
        v["value"].as_str().unwrap().to_string(),
    )
}

const WS: &str = "acme/platform/dev";

#[tokio::test]
async fn a_new_user_manages_and_rotates_secrets_in_headless_chromium() {
    let env = Env::bare();
    let server = Server::start(&env, &[]);
    let root = server.root_token();
    let driver = Chromedriver::start();
    let ui = Ui {
        c: driver.session().await,
        base: format!("http://{}", server.addr),
    };
    ui.c.set_window_size(1280, 1000).await.unwrap();

    // Without a session, the UI leads to the sign-in form.
    ui.goto("/ui/").await;
    assert_eq!(ui.path().await, "/ui/login");
    ui.find(r#"label[for="token"]"#).await;
    ui.screenshot("ui-login.png").await;
    ui.fill(r#"input[name="token"]"#, &root).await;
    ui.click(r#"form[data-form="login"] button[type="submit"]"#)
        .await;
    assert_eq!(ui.path().await, "/ui/");
    assert_eq!(ui.text("[data-account]").await, "root");
    let cookie = ui.session_cookie().await;

    // The scope tree, built in the browser.
    ui.new_scope("acme").await;
    assert_eq!(ui.path().await, "/ui/scopes/acme?done=scope-created");
    ui.new_scope("platform").await;
    ui.new_scope("dev").await;
    ui.new_scope("agent-x").await;
    assert_eq!(
        ui.path().await,
        "/ui/scopes/acme/platform/dev/agent-x?done=scope-created"
    );
    ui.goto("/ui/scopes/acme").await;
    ui.new_scope("other").await;
    ui.goto("/ui/").await;
    for s in [
        "acme",
        "acme/platform",
        WS,
        "acme/platform/dev/agent-x",
        "acme/other",
    ] {
        ui.find(&format!(r#"ul[data-tree] li[data-scope="{s}"]"#))
            .await;
    }

    // Broader secrets (through the API), to show inheritance and shadowing.
    for (scope, name, value, cat) in [
        ("acme", "DB_URL", "postgres://org-wide", "infrastructure"),
        ("acme", "OPENAI_API_KEY", "sk-org-demo", "provider"),
        (
            "acme/platform",
            "GITHUB_TOKEN",
            "ghp_team_demo",
            "integration",
        ),
    ] {
        let (code, _, text) = server.call(
            "PUT",
            &format!("/api/v1/secrets/{name}?scope={scope}"),
            Some(&root),
            Some(&json!({"value": value, "category": cat}).to_string()),
        );
        assert_eq!(code, 200, "{text}");
    }

    // Create a secret in the workspace.
    ui.goto(&format!("/ui/scopes/{WS}")).await;
    let form = r#"form[data-form="new-secret"]"#;
    ui.fill(&format!(r#"{form} input[name="name"]"#), "DB_URL")
        .await;
    ui.find(&format!(r#"{form} select[name="category"]"#))
        .await
        .select_by_value("infrastructure")
        .await
        .unwrap();
    ui.fill(
        &format!(r#"{form} textarea[name="value"]"#),
        "postgres://dev-v1",
    )
    .await;
    ui.click(&format!(r#"{form} button[type="submit"]"#)).await;
    let secret = format!("/ui/scopes/{WS}/secrets/DB_URL");
    assert_eq!(ui.path().await, format!("{secret}?done=created"));
    assert!(ui.text("[data-notice]").await.contains("created"));
    assert_eq!(ui.count("tr[data-version]").await, 1);
    assert!(!ui.source().await.contains("postgres://dev-v1"));

    // Rotate it: both versions in the history.
    ui.fill(
        r#"form[data-form="rotate"] textarea[name="value"]"#,
        "postgres://dev-v2",
    )
    .await;
    ui.click(r#"form[data-form="rotate"] button[type="submit"]"#)
        .await;
    assert_eq!(ui.path().await, format!("{secret}?done=rotated"));
    ui.find(r#"tr[data-version="1"]"#).await;
    ui.find(r#"tr[data-version="2"][data-current]"#).await;
    assert_eq!(ui.count("tr[data-version]").await, 2);
    let page = ui.source().await;
    assert!(!page.contains("postgres://dev-v1") && !page.contains("postgres://dev-v2"));

    // Reveal the current value (audited).
    ui.click(r#"[data-action="reveal"]"#).await;
    let revealed = ui.find("textarea[data-revealed]").await;
    assert_eq!(
        revealed.prop("value").await.unwrap().as_deref(),
        Some("postgres://dev-v2")
    );
    assert!(!ui.path().await.contains("postgres"), "no value in the URL");
    let (_, log, _) = server.call("GET", "/api/v1/audit", Some(&root), None);
    assert!(
        log["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "secret.reveal" && r["name"] == "DB_URL" && r["version"] == 2)
    );

    // Roll back to version 1: version 3 holds version 1's value.
    ui.goto(&secret).await;
    ui.click(r#"button[data-action="rollback"][data-to="1"]"#)
        .await;
    assert_eq!(ui.path().await, format!("{secret}?done=rolled-back"));
    ui.find(r#"tr[data-version="3"][data-current]"#).await;
    assert_eq!(ui.count("tr[data-version]").await, 3);
    ui.click(r#"[data-action="reveal"]"#).await;
    assert_eq!(
        ui.find(r#"textarea[data-revealed="3"]"#)
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("postgres://dev-v1")
    );
    assert_eq!(
        current(&server, &root, WS, "DB_URL"),
        (3, "postgres://dev-v1".into())
    );

    // The workspace page: its secret shadows the organization's, the rest is inherited.
    ui.goto(&format!("/ui/scopes/{WS}")).await;
    ui.find(r#"tr[data-secret="DB_URL"]"#).await;
    ui.find(r#"tr[data-inherited="DB_URL"][data-from="acme"][data-shadowed]"#)
        .await;
    ui.find(r#"tr[data-inherited="GITHUB_TOKEN"][data-from="acme/platform"]"#)
        .await;
    ui.find(&format!(r#"li[data-effective="DB_URL"][data-from="{WS}"]"#))
        .await;
    assert!(!ui.source().await.contains("postgres://"));
    ui.screenshot("ui-scope.png").await;

    // A form without its CSRF token is refused, in the browser…
    ui.goto(&secret).await;
    ui.c.execute(
        r#"document.querySelector('form[data-form="rotate"] input[name="csrf"]').remove()"#,
        vec![],
    )
    .await
    .unwrap();
    ui.fill(
        r#"form[data-form="rotate"] textarea[name="value"]"#,
        "postgres://forged",
    )
    .await;
    ui.click(r#"form[data-form="rotate"] button[type="submit"]"#)
        .await;
    assert_eq!(ui.text("h1").await, "Not allowed");
    assert!(ui.text("[data-message]").await.contains("CSRF"));
    // …and outside it, with the session cookie but no token.
    let (code, text) = raw_post(
        &server.addr,
        &format!("{secret}/rotate"),
        &cookie,
        "value=postgres%3A%2F%2Fforged",
    );
    assert_eq!(code, 403, "{text}");
    let (code, _) = raw_post(
        &server.addr,
        &format!("{secret}/rotate"),
        &cookie,
        "value=postgres%3A%2F%2Fforged&csrf=0000",
    );
    assert_eq!(code, 403);
    assert_eq!(
        current(&server, &root, WS, "DB_URL"),
        (3, "postgres://dev-v1".into()),
        "nothing changed"
    );

    // Briefs: two dispatches, one completed; then a rotation makes both stale.
    let (code, task, text) = server.call(
        "POST",
        "/api/v1/tasks",
        Some(&root),
        Some(
            &json!({"project": format!("{WS}/agent-x"), "secret_refs": ["DB_URL", "OPENAI_API_KEY", "GITHUB_TOKEN"]})
                .to_string(),
        ),
    );
    assert_eq!(code, 201, "{text}");
    let task = task["id"].as_str().unwrap().to_string();
    let mut briefs = Vec::new();
    for _ in 0..3 {
        let (code, d, text) = server.call(
            "POST",
            &format!("/api/v1/tasks/{task}/dispatch"),
            Some(&root),
            None,
        );
        assert_eq!(code, 200, "{text}");
        briefs.push(d);
    }
    let (code, _, text) = server.call(
        "POST",
        &format!(
            "/api/v1/briefs/{}/callback",
            briefs[0]["brief_id"].as_str().unwrap()
        ),
        Some(
            briefs[0]["env"]["SECRETSTORE_CALLBACK_TOKEN"]
                .as_str()
                .unwrap(),
        ),
        None,
    );
    assert!((200..300).contains(&code), "{text}");
    ui.goto(&secret).await;
    ui.fill(
        r#"form[data-form="rotate"] textarea[name="value"]"#,
        "postgres://dev-v4",
    )
    .await;
    ui.click(r#"form[data-form="rotate"] button[type="submit"]"#)
        .await;
    ui.find(r#"tr[data-version="4"][data-current]"#).await;
    ui.goto("/ui/briefs").await;
    let running = briefs[2]["brief_id"].as_str().unwrap();
    ui.find(&format!(
        r#"tr[data-brief="{running}"][data-status="running"][data-stale="DB_URL"]"#
    ))
    .await;
    let done = briefs[0]["brief_id"].as_str().unwrap();
    ui.find(&format!(
        r#"tr[data-brief="{done}"][data-status="completed"]"#
    ))
    .await;
    assert_eq!(
        ui.count(&format!(r#"tr[data-brief="{done}"][data-stale]"#))
            .await,
        0,
        "a completed brief is not marked stale"
    );
    ui.screenshot("ui-briefs.png").await;
    // The auditor's question, "who was handed DB_URL this week, and which running agents
    // still hold an old version": the search box, the hit, the access list of 7 days.
    ui.type_and_enter("#find-q", "db_url").await;
    assert_eq!(ui.path().await, "/ui/search?q=db_url");
    ui.find(&format!(
        r#"tr[data-hit="secret"][data-name="DB_URL"][data-scope="{WS}"]"#
    ))
    .await;
    ui.find(r#"tr[data-hit="secret"][data-name="DB_URL"][data-scope="acme"]"#)
        .await;
    ui.screenshot("ui-search.png").await;
    ui.click(&format!(r#"tr[data-hit="secret"][data-scope="{WS}"] a"#))
        .await;
    assert_eq!(ui.path().await, secret);
    ui.fill("#access-since", "7d").await;
    ui.click(r#"form[data-form="access-filter"] button[type="submit"]"#)
        .await;
    assert!(
        ui.path().await.ends_with("?since=7d"),
        "{}",
        ui.path().await
    );
    ui.find(r#"table[data-table="access"] tr[data-access="reveal"]"#)
        .await;
    for b in &briefs[1..] {
        let id = b["brief_id"].as_str().unwrap();
        ui.find(&format!(
            r#"tr[data-access="dispatch"][data-brief="{id}"][data-holds-old]"#
        ))
        .await;
    }
    assert_eq!(
        ui.count(&format!(r#"tr[data-brief="{done}"][data-holds-old]"#))
            .await,
        0,
        "a completed brief holds nothing live"
    );
    assert!(!ui.source().await.contains("postgres://"));
    ui.screenshot("ui-secret.png").await;
    ui.goto("/ui/briefs").await;
    // The running brief's page, from its link: what it handed out (scope and version, no
    // value), DB_URL stale since the rotation; then revoked with its button.
    ui.click(&format!(r#"a[data-brief-link="{running}"]"#))
        .await;
    assert_eq!(ui.path().await, format!("/ui/briefs/{running}"));
    ui.find(&format!(
        r#"table[data-table="handed"] tr[data-handed="DB_URL"][data-from="{WS}"][data-version="3"][data-stale]"#
    ))
    .await;
    assert_eq!(
        ui.count(r#"table[data-table="handed"] tr[data-handed]"#)
            .await,
        3
    );
    assert_eq!(
        ui.count(r#"tr[data-handed="OPENAI_API_KEY"][data-stale]"#)
            .await,
        0
    );
    assert!(!ui.source().await.contains("postgres://"));
    ui.find(&format!(r#"a[data-task-link="{task}"]"#)).await;
    ui.screenshot("ui-brief.png").await;
    ui.click(r#"form[data-form="revoke-brief"] button[type="submit"]"#)
        .await;
    assert_eq!(
        ui.path().await,
        format!("/ui/briefs/{running}?done=revoked")
    );
    ui.find("p[data-notice]").await;
    ui.find(r#"dl[data-status="revoked"]"#).await;
    assert_eq!(ui.count(r#"form[data-form="revoke-brief"]"#).await, 0);
    assert_eq!(
        ui.count(r#"tr[data-handed][data-stale]"#).await,
        0,
        "no stale mark once it ended"
    );
    let (code, b, text) = server.call(
        "GET",
        &format!("/api/v1/briefs/{running}"),
        Some(&root),
        None,
    );
    assert_eq!(code, 200, "{text}");
    assert_eq!(b["status"], "revoked");
    // A revoked brief shows as revoked.
    let gone = briefs[1]["brief_id"].as_str().unwrap();
    let (code, _, text) = server.call(
        "POST",
        &format!("/api/v1/briefs/{gone}/revoke"),
        Some(&root),
        None,
    );
    assert_eq!(code, 200, "{text}");
    ui.goto("/ui/briefs").await;
    ui.find(&format!(
        r#"tr[data-brief="{gone}"][data-status="revoked"]"#
    ))
    .await;
    // The sessions page lists this very session.
    ui.goto("/ui/sessions").await;
    ui.find(r#"tr[data-session][data-current] form[data-form="end-session"]"#)
        .await;
    ui.screenshot("ui-sessions.png").await;
    ui.goto(&format!("/ui/audit?scope={WS}")).await;
    ui.find(r#"tr[data-audit="secret.reveal"]"#).await;
    ui.find(r#"tr[data-audit="secret.rollback"]"#).await;
    assert!(!ui.source().await.contains("postgres://"));
    // The filters as a form: only reveals, then back to every record.
    ui.fill("#f-action", "secret.reveal").await;
    ui.click(r#"form[data-form="audit-filter"] button[type="submit"]"#)
        .await;
    ui.find(r#"tr[data-audit="secret.reveal"]"#).await;
    assert_eq!(ui.count(r#"tr[data-audit="secret.rollback"]"#).await, 0);
    assert!(
        ui.path().await.contains("action=secret.reveal"),
        "{}",
        ui.path().await
    );
    ui.goto(&format!("/ui/audit?scope={WS}")).await;
    ui.screenshot("ui-audit.png").await;
    ui.goto("/ui/").await;
    ui.screenshot("ui-scopes.png").await;

    // Another team's member sees nothing of this team: the 404 page of a missing scope.
    let (code, _, text) = server.call(
        "POST",
        "/api/v1/accounts",
        Some(&root),
        Some(r#"{"name": "bob"}"#),
    );
    assert_eq!(code, 201, "{text}");
    let (code, _, text) = server.call(
        "POST",
        "/api/v1/accounts/bob/grants",
        Some(&root),
        Some(r#"{"role": "member", "scope": "acme/other"}"#),
    );
    assert_eq!(code, 200, "{text}");
    let (_, t, _) = server.call("POST", "/api/v1/accounts/bob/tokens", Some(&root), None);
    let bob = t["token"].as_str().unwrap().to_string();
    ui.click(r#"[data-action="logout"]"#).await;
    assert_eq!(ui.path().await, "/ui/login");
    ui.goto("/ui/").await;
    assert_eq!(ui.path().await, "/ui/login", "signed out for good");
    ui.fill(r#"input[name="token"]"#, &bob).await;
    ui.click(r#"form[data-form="login"] button[type="submit"]"#)
        .await;
    assert_eq!(ui.text("[data-account]").await, "bob");
    ui.find(r#"li[data-scope="acme/other"]"#).await;
    assert_eq!(ui.count(r#"li[data-scope="acme/platform"]"#).await, 0);
    assert!(!ui.source().await.contains("platform"));
    ui.goto("/ui/scopes/acme/nothere").await;
    let missing = ui.text("main").await;
    ui.find(r#"[data-status="404"]"#).await;
    for path in [
        "/ui/scopes/acme/platform".to_string(),
        format!("/ui/scopes/{WS}"),
        secret.clone(),
    ] {
        ui.goto(&path).await;
        ui.find(r#"[data-status="404"]"#).await;
        assert_eq!(ui.text("main").await, missing, "{path}");
        assert!(!ui.source().await.contains("postgres://"));
    }
    ui.goto("/ui/briefs").await;
    assert_eq!(ui.count("tr[data-brief]").await, 0);

    // Root revokes the token bob signed in with: his very next page is the sign-in form.
    let (_, listed, text) = server.call("GET", "/api/v1/accounts/bob/tokens", Some(&root), None);
    let bob_token_id = listed["tokens"][0]["id"].as_str().expect(&text).to_string();
    ui.goto("/ui/sessions").await;
    ui.find(r#"tr[data-session][data-current]"#).await;
    let (code, _, text) = server.call(
        "DELETE",
        &format!("/api/v1/tokens/{bob_token_id}"),
        Some(&root),
        None,
    );
    assert_eq!(code, 204, "{text}");
    ui.goto("/ui/scopes/acme/other").await;
    assert_eq!(
        ui.path().await,
        "/ui/login",
        "the session ended with its token"
    );

    ui.c.close().await.unwrap();
    drop(driver);
    let (code, stderr) = server.terminate();
    assert_eq!(code, 0);
    for value in [
        "postgres://dev-v",
        "sk-org-demo",
        root.as_str(),
        bob.as_str(),
    ] {
        assert!(
            !stderr.contains(value),
            "the server log holds no value or token"
        );
    }
}

#[tokio::test]
async fn root_creates_an_account_grants_a_role_and_sees_a_new_token_once_in_headless_chromium() {
    let env = Env::bare();
    let server = Server::start(&env, &[]);
    let root = server.root_token();
    for (kind, path) in [("orgs", "acme"), ("teams", "acme/platform")] {
        let (code, _, text) =
            server.call("PUT", &format!("/api/v1/{kind}/{path}"), Some(&root), None);
        assert!((200..300).contains(&code), "{text}");
    }
    let driver = Chromedriver::start();
    let ui = Ui {
        c: driver.session().await,
        base: format!("http://{}", server.addr),
    };
    ui.c.set_window_size(1280, 1000).await.unwrap();
    ui.goto("/ui/login").await;
    ui.fill(r#"input[name="token"]"#, &root).await;
    ui.click(r#"form[data-form="login"] button[type="submit"]"#)
        .await;
    assert_eq!(ui.path().await, "/ui/");

    // Root's navigation leads to the accounts page.
    ui.click(r#"nav a[href="/ui/accounts"]"#).await;
    assert_eq!(ui.path().await, "/ui/accounts");
    ui.find(r#"section[data-account-row="root"]"#).await;

    // A new service account, then a role for it.
    ui.fill("#new-account-name", "ci-bot").await;
    ui.find("#new-account-kind")
        .await
        .select_by_value("service")
        .await
        .unwrap();
    ui.click(r#"[data-action="create-account"]"#).await;
    assert_eq!(ui.path().await, "/ui/accounts?done=created&account=ci-bot");
    assert!(ui.text("[data-notice]").await.contains("ci-bot created"));
    let card = r#"section[data-account-row="ci-bot"]"#;
    ui.find(&format!("{card} [data-no-role]")).await;
    ui.find("#grant-role-ci-bot")
        .await
        .select_by_value("dispatcher")
        .await
        .unwrap();
    ui.fill("#grant-scope-ci-bot", "acme").await;
    ui.click(&format!(r#"{card} [data-action="grant"]"#)).await;
    assert_eq!(ui.path().await, "/ui/accounts?done=granted&account=ci-bot");
    ui.find(&format!(r#"{card} li[data-grant="dispatcher acme"]"#))
        .await;

    // A token: on the page that answers the form, once, with the warning.
    ui.click(&format!(r#"{card} [data-action="mint-token"]"#))
        .await;
    let shown = ui.find("[data-token-once]").await;
    let token = shown.prop("value").await.unwrap().expect("the token");
    assert!(token.starts_with("sst_"), "{token}");
    assert!(
        ui.text("[data-minted]")
            .await
            .contains("it will not be shown again")
    );
    // Not in the address bar: the answer of the POST is the page itself.
    assert_eq!(ui.path().await, "/ui/accounts/ci-bot/tokens");
    ui.screenshot("ui-accounts.png").await;
    let (code, who, text) = server.call("GET", "/api/v1/whoami", Some(&token), None);
    assert_eq!(code, 200, "{text}");
    assert_eq!(who["account"], "ci-bot");
    assert_eq!(who["roles"][0]["role"], "dispatcher");

    // Afterwards, only its id is on the page.
    ui.click(r#"[data-action="hide-token"]"#).await;
    assert_eq!(ui.path().await, "/ui/accounts");
    assert_eq!(ui.count("[data-token-once]").await, 0);
    assert!(!ui.source().await.contains(&token));
    assert_eq!(
        ui.count(&format!(r#"{card} tr[data-token]:not([data-revoked])"#))
            .await,
        1
    );

    // Revoked in the browser: the token stops working.
    ui.click(&format!(r#"{card} [data-action="revoke-token"]"#))
        .await;
    assert_eq!(
        ui.path().await,
        "/ui/accounts?done=token-revoked&account=ci-bot"
    );
    ui.find(&format!(r#"{card} tr[data-token][data-revoked]"#))
        .await;
    let (code, _, _) = server.call("GET", "/api/v1/whoami", Some(&token), None);
    assert_eq!(code, 401);

    ui.c.close().await.unwrap();
    drop(driver);
    let (code, stderr) = server.terminate();
    assert_eq!(code, 0);
    assert!(
        !stderr.contains(&token) && !stderr.contains(&root),
        "the server log holds no token"
    );
}
