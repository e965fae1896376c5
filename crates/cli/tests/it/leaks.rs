//! The leak suite: one canary value written through every path, then searched for in
//! every sink. It must appear nowhere.
//!
//! Paths: the command line (stdin, --from-file, --from-env), the HTTP API, dotenv import,
//! AWS Secrets Manager and Vault write-through, a malformed request body, a dispatch
//! refused for a payload holding the value, a failed dispatch, a callback and its replay,
//! a brief revoked (API and CLI) and a callback after it, a `run` whose command cannot
//! start (the callback tokens are searched for too), a UI session listed and ended (its
//! cookie is searched for too). Sinks: the database (files
//! and WAL, or a full dump on PostgreSQL), the briefs, the audit records, the server log
//! at trace level, every output and error message of every command and answer, and panic
//! output (there must be none).

use crate::common::server::*;
use crate::common::*;
use serde_json::json;

const PROJECT: &str = "acme/platform/dev/agent-x";

#[test]
fn a_canary_written_through_every_path_appears_in_no_sink() {
    let canary = |path: &str| format!("CANARY-{path}-7f3a9c");
    let mut env = Env::bare();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", need("SECRETSTORE_TEST_MOTO_URL")),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_SM_PREFIX", format!("leak{}/", std::process::id())),
        ("VAULT_ADDR", need("SECRETSTORE_TEST_VAULT_ADDR")),
        ("VAULT_TOKEN", need("SECRETSTORE_TEST_VAULT_TOKEN")),
        ("RUST_LOG", "trace".into()),
    ] {
        env.vars.push((k.into(), v));
    }
    let server = Server::start(&env, &[]);
    let root = server.root_token();
    let outputs = std::cell::RefCell::new(vec![server.stdout()]);
    let record = |r: &Run| {
        assert!(
            !r.stderr.contains("panicked") && !r.stderr.contains("internal error"),
            "{}",
            r.stderr
        );
        outputs
            .borrow_mut()
            .push(format!("{}\n{}", r.stdout, r.stderr));
    };
    for (kind, path) in [
        ("org", "acme"),
        ("team", "acme/platform"),
        ("workspace", "acme/platform/dev"),
        ("project", PROJECT),
    ] {
        record(&env.run(&[kind, "create", path]));
    }

    // The command line: stdin, a file, an environment variable.
    let r = env.run_stdin(
        &[
            "secret",
            "set",
            "CLI_STDIN",
            "--scope",
            "acme",
            "--category",
            "agent",
        ],
        canary("stdin").as_bytes(),
    );
    record(r.ok_run());
    std::fs::write(env.path("value.txt"), canary("file")).unwrap();
    let r = env.run(&[
        "secret",
        "set",
        "CLI_FILE",
        "--scope",
        "acme",
        "--category",
        "agent",
        "--from-file",
        "value.txt",
    ]);
    record(r.ok_run());
    std::fs::remove_file(env.path("value.txt")).unwrap();
    let mut c = env.command(&[
        "secret",
        "set",
        "CLI_ENV",
        "--scope",
        "acme",
        "--category",
        "agent",
        "--from-env",
        "LEAK_VALUE",
    ]);
    c.env("LEAK_VALUE", canary("env"));
    record(run_with(&mut c, b"").ok_run());
    // A value typed on the command line is refused without being echoed.
    record(&env.run(&["secret", "set", "ARGV", "--scope", "acme", &canary("argv")]));

    // The HTTP API, a malformed body, an oversized one.
    let (code, _, text) = server.call(
        "PUT",
        "/api/v1/secrets/API_PUT?scope=acme/platform",
        Some(&root),
        Some(&json!({"value": canary("api"), "category": "provider"}).to_string()),
    );
    assert_eq!(code, 200);
    outputs.borrow_mut().push(text);
    let (code, _, text) = server.call(
        "PUT",
        "/api/v1/secrets/API_BAD?scope=acme",
        Some(&root),
        Some(&format!(
            "{{\"value\": \"{}\", \"category\": ",
            canary("malformed")
        )),
    );
    assert_eq!(code, 400);
    outputs.borrow_mut().push(text);

    // The web UI's new-secret form, signed in with the root token.
    let ui_text = ui_create_secret(
        &server.addr,
        &root,
        "acme/platform",
        "UI_FORM",
        &canary("ui"),
    );
    outputs.borrow_mut().push(ui_text);
    // A UI session listed (API and page) and ended over the API: the cookie's secret is
    // in no sink after.
    let session_cookie = ui_sign_in(&server.addr, &root);
    let (_, page_head, page) = raw(
        &server.addr,
        "GET",
        "/ui/sessions",
        &format!("ss_session={session_cookie}"),
        None,
    );
    outputs.borrow_mut().push(format!("{page_head}\n{page}"));
    let (code, listed, text) = server.call("GET", "/api/v1/sessions", Some(&root), None);
    assert_eq!(code, 200, "sessions");
    outputs.borrow_mut().push(text);
    for s in listed["sessions"].as_array().unwrap() {
        let (code, _, text) = server.call(
            "DELETE",
            &format!("/api/v1/sessions/{}", s["id"].as_str().unwrap()),
            Some(&root),
            None,
        );
        assert_eq!(code, 204, "end a session");
        outputs.borrow_mut().push(text);
    }

    // Dotenv import, and a failed one.
    std::fs::write(
        env.path("import.env"),
        format!("IMPORTED={}\n", canary("import")),
    )
    .unwrap();
    record(
        env.run(&[
            "secret",
            "import",
            "import.env",
            "--scope",
            "acme/platform/dev",
            "--category",
            "integration",
        ])
        .ok_run(),
    );
    std::fs::write(
        env.path("import.env"),
        format!(
            "GOOD={}\nbad name={}\n",
            canary("import-bad"),
            canary("import-bad")
        ),
    )
    .unwrap();
    record(&env.run(&[
        "secret",
        "import",
        "import.env",
        "--scope",
        "acme",
        "--category",
        "agent",
    ]));
    std::fs::remove_file(env.path("import.env")).unwrap();

    // Write-through to AWS Secrets Manager and Vault.
    let mut c = env.command(&[
        "secret",
        "set",
        "VIA_AWS",
        "--scope",
        "acme/platform",
        "--category",
        "infrastructure",
    ]);
    c.env("SECRET_BACKEND", "aws_sm");
    record(run_with(&mut c, canary("aws").as_bytes()).ok_run());
    let mut c = env.command(&[
        "secret",
        "set",
        "VIA_VAULT",
        "--scope",
        "acme/platform/dev",
        "--category",
        "infrastructure",
    ]);
    c.env("SECRET_BACKEND", "vault");
    record(run_with(&mut c, canary("vault").as_bytes()).ok_run());

    // A dispatch that works (the env goes to a file we delete), one refused for a payload
    // holding a value, one failing on a missing ref.
    let refs = [
        "CLI_STDIN",
        "CLI_FILE",
        "CLI_ENV",
        "API_PUT",
        "IMPORTED",
        "VIA_AWS",
        "VIA_VAULT",
    ];
    let mut args = vec!["task", "create", "--project", PROJECT];
    for r in refs {
        args.extend(["--ref", r]);
    }
    let t = env.run(&args).ok().trim().to_string();
    record(
        env.run(&["dispatch", &t, "--env-file", "agent.env"])
            .ok_run(),
    );
    let handed = std::fs::read_to_string(env.path("agent.env")).unwrap();
    assert!(
        handed.contains(&canary("vault")) && handed.contains(&canary("aws")),
        "the env holds them all"
    );
    std::fs::remove_file(env.path("agent.env")).unwrap();
    // Callback tokens through a callback, its replay, a revoke (API and CLI) and a callback
    // after it: no token anywhere after (the dispatch answers that carry them are no sink).
    let mut callback_tokens = Vec::new();
    for _ in 0..2 {
        let (code, _, text) = server.call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&root),
            None,
        );
        assert_eq!(code, 200, "dispatch");
        let d: serde_json::Value = serde_json::from_str(&text).unwrap();
        callback_tokens.push((
            d["brief_id"].as_str().unwrap().to_string(),
            d["env"]["SECRETSTORE_CALLBACK_TOKEN"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    let (done, done_token) = &callback_tokens[0];
    for want in [200, 409] {
        let (code, _, text) = server.call(
            "POST",
            &format!("/api/v1/briefs/{done}/callback"),
            Some(done_token),
            None,
        );
        assert_eq!(code, want, "callback");
        outputs.borrow_mut().push(text);
    }
    let (revoked, revoked_token) = &callback_tokens[1];
    let (code, _, text) = server.call(
        "POST",
        &format!("/api/v1/briefs/{revoked}/revoke"),
        Some(&root),
        None,
    );
    assert_eq!(code, 200, "revoke");
    outputs.borrow_mut().push(text);
    record(env.run(&["brief", "revoke", revoked]).ok_run());
    let (code, _, text) = server.call(
        "POST",
        &format!("/api/v1/briefs/{revoked}/callback"),
        Some(revoked_token),
        None,
    );
    assert_eq!(code, 401, "callback after revoke");
    outputs.borrow_mut().push(text);
    record(&env.run_stdin(&["callback", "verify", revoked], revoked_token.as_bytes()));
    record(&env.run(&["brief", "show", revoked]));
    // `run` of the task: the child prints its whole environment; what reaches our output
    // is masked, and the child gets none of secretstore's settings (with and without
    // --clean-env).
    for extra in [&[][..], &["--clean-env"][..]] {
        let mut args = vec!["run", "--task", &t];
        args.extend_from_slice(extra);
        args.extend([
            "--",
            "sh",
            "-c",
            "env; echo \"$VIA_AWS $VIA_VAULT $CLI_STDIN\" >&2",
        ]);
        let r = env.run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("VIA_AWS=***"), "masked: {}", r.stdout);
        for own in [
            "FERNET_SECRET_KEY",
            "VAULT_TOKEN=",
            "AWS_SECRET_ACCESS_KEY",
            "DATABASE_URL",
        ] {
            assert!(
                !r.stdout.contains(own),
                "{own} reached the child: {}",
                r.stdout
            );
        }
        record(&r);
    }
    // A member of another team tries to link team platform's own AWS and Vault values:
    // refused before the backend is asked, and nothing of them in any answer.
    record(env.run(&["team", "create", "acme/other"]).ok_run());
    record(env.run(&["account", "create", "mallory"]).ok_run());
    record(
        env.run(&["grant", "mallory", "member", "acme/other"])
            .ok_run(),
    );
    let mallory = env
        .run(&["token", "create", "mallory"])
        .ok()
        .lines()
        .find(|l| l.trim().starts_with("sst_"))
        .expect("a token line")
        .trim()
        .to_string();
    for body in [
        json!({"aws_arn": format!("leak{}/acme/platform/VIA_AWS", std::process::id()), "category": "infrastructure"}),
        json!({"vault_path": "secret/secretstore/acme/platform/dev/VIA_VAULT#value", "category": "infrastructure"}),
    ] {
        let (code, _, text) = server.call(
            "POST",
            "/api/v1/secrets/STOLEN/link?scope=acme/other",
            Some(&mallory),
            Some(&body.to_string()),
        );
        assert_eq!(code, 403, "{text}");
        outputs.borrow_mut().push(text);
    }
    let (code, _, text) = server.call(
        "GET",
        "/api/v1/secrets/STOLEN/value?scope=acme/other",
        Some(&mallory),
        None,
    );
    assert_eq!(code, 404, "{text}");
    outputs.borrow_mut().push(text);
    // A `run` whose command cannot start: its brief is revoked, its error holds no value.
    record(&env.run(&["run", "--task", &t, "--", "/nonexistent/leak-cmd"]));
    // A payload holding a value is refused before the task (and its payload) is stored.
    let (code, _, text) = server.call(
        "POST",
        "/api/v1/tasks",
        Some(&root),
        Some(&json!({"project": PROJECT, "secret_refs": ["API_PUT"], "payload": {"note": canary("api")}}).to_string()),
    );
    assert_eq!(code, 400, "{text}");
    outputs.borrow_mut().push(text);
    let t2 = env
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "CLI_STDIN",
            "--ref",
            "MISSING",
        ])
        .ok()
        .trim()
        .to_string();
    record(&env.run(&["dispatch", &t2]));
    record(&env.run(&[
        "resolve",
        "--project",
        PROJECT,
        "--ref",
        "CLI_STDIN",
        "--ref",
        "API_PUT",
        "--explain",
    ]));
    record(&env.run(&["secret", "list", "--scope", "acme", "--json"]));
    record(&env.run(&["secret", "history", "VIA_AWS", "--scope", "acme/platform"]));
    record(&env.run(&["audit", "--json"]));

    let (code, server_log) = server.terminate();
    assert_eq!(code, 0);
    assert!(
        server_log.contains("TRACE") || server_log.contains("DEBUG"),
        "the server logged at trace level"
    );
    assert!(!server_log.contains("panicked"));

    let mut sinks: Vec<(String, Vec<u8>)> = env
        .all_bytes()
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    assert!(
        sinks.iter().any(|(p, _)| p.contains("briefs")),
        "briefs were scanned"
    );
    sinks.push(("server log".into(), server_log.into_bytes()));
    for (i, o) in outputs.into_inner().into_iter().enumerate() {
        sinks.push((format!("output #{i}"), o.into_bytes()));
    }
    for path in [
        "stdin",
        "file",
        "env",
        "argv",
        "api",
        "malformed",
        "import",
        "import-bad",
        "aws",
        "vault",
    ] {
        let c = canary(path);
        for (sink, bytes) in &sinks {
            assert!(
                !contains(bytes, c.as_bytes()),
                "the canary of {path} leaked into {sink}"
            );
        }
    }
    for (sink, bytes) in &sinks {
        assert!(
            !contains(bytes, session_cookie.as_bytes()),
            "the session cookie leaked into {sink}"
        );
    }
    for (brief, token) in &callback_tokens {
        for (sink, bytes) in &sinks {
            assert!(
                !contains(bytes, token.as_bytes()),
                "the callback token of brief {brief} leaked into {sink}"
            );
        }
    }
}

/// One raw HTTP/1.1 exchange: (status, head, body).
fn raw(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    form: Option<&str>,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        req.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if let Some(f) = form {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{f}",
            f.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

/// The value of cookie `name` set by `head`.
fn set_cookie(head: &str, name: &str) -> String {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, v)| {
            v.trim()
                .strip_prefix(&format!("{name}="))
                .map(|r| r.split(';').next().unwrap().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} cookie in {head}"))
}

/// The hidden CSRF field of a page.
fn csrf(page: &str) -> String {
    let at =
        page.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    page[at..].split('"').next().unwrap().to_string()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs in to the web UI and creates a secret through its form; all pages' text.
/// Signs in to the web UI; the session cookie's value.
fn ui_sign_in(addr: &str, token: &str) -> String {
    let (_, head, page) = raw(addr, "GET", "/ui/login", "", None);
    let login = set_cookie(&head, "ss_login");
    let form = format!("token={}&csrf={}", urlencode(token), csrf(&page));
    let (code, head, _) = raw(
        addr,
        "POST",
        "/ui/login",
        &format!("ss_login={login}"),
        Some(&form),
    );
    assert_eq!(code, 303, "sign-in");
    set_cookie(&head, "ss_session")
}

fn ui_create_secret(addr: &str, token: &str, scope: &str, name: &str, value: &str) -> String {
    let (_, head, page) = raw(addr, "GET", "/ui/login", "", None);
    let login = set_cookie(&head, "ss_login");
    let form = format!("token={}&csrf={}", urlencode(token), csrf(&page));
    let (code, head, _) = raw(
        addr,
        "POST",
        "/ui/login",
        &format!("ss_login={login}"),
        Some(&form),
    );
    assert_eq!(code, 303, "{head}");
    let session = format!("ss_session={}", set_cookie(&head, "ss_session"));
    let (code, _, page) = raw(addr, "GET", &format!("/ui/scopes/{scope}"), &session, None);
    assert_eq!(code, 200);
    let form = format!(
        "name={name}&category=agent&value={}&csrf={}",
        urlencode(value),
        csrf(&page)
    );
    let (code, head, body) = raw(
        addr,
        "POST",
        &format!("/ui/scopes/{scope}/secrets"),
        &session,
        Some(&form),
    );
    assert_eq!(code, 303, "{head}\n{body}");
    let (_, _, after) = raw(addr, "GET", &format!("/ui/scopes/{scope}"), &session, None);
    assert!(
        after.contains(&format!("data-secret=\"{name}\"")),
        "the secret was created"
    );
    format!("{head}\n{body}\n{page}\n{after}")
}

trait OkRun {
    fn ok_run(&self) -> &Self;
}

impl OkRun for Run {
    #[track_caller]
    fn ok_run(&self) -> &Self {
        self.ok();
        self
    }
}
