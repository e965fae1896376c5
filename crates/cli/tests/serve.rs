//! `secretstore serve` as a user runs it: the real binary on a loopback port.

mod common;
use common::server::*;
use common::*;
use serde_json::{Value, json};
use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

#[test]
fn first_start_needs_no_setup_and_the_readme_walkthrough_works() {
    let env = Env::bare();
    let server = Server::start(&env, &[]);
    let root = server.root_token();
    assert!(server.stdout().contains(&format!("http://{}", server.addr)));
    let dotenv = std::fs::read_to_string(env.path(".env")).unwrap();
    assert!(dotenv.starts_with("FERNET_SECRET_KEY="));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(env.path(".env"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    assert!(
        server.stderr().contains("development"),
        "the local backend warns: {}",
        server.stderr()
    );

    let (code, _, _) = server.call("GET", "/healthz", None, None);
    assert_eq!(code, 200);
    for p in [
        "orgs/acme",
        "teams/acme/platform",
        "workspaces/acme/platform/dev",
        "projects/acme/platform/dev/agent-x",
    ] {
        let (code, _, text) = server.call("PUT", &format!("/api/v1/{p}"), Some(&root), None);
        assert_eq!(code, 201, "{p}: {text}");
    }
    // The platform admin sets up people and the controller from the command line…
    env.run(&["account", "create", "alice"]).ok();
    env.run(&["grant", "alice", "member", "acme/platform"]).ok();
    let alice = env
        .run(&["token", "create", "alice"])
        .ok()
        .trim()
        .to_string();
    env.run(&["account", "create", "controller", "--service"])
        .ok();
    env.run(&["grant", "controller", "dispatcher", "acme"]).ok();
    let ctl = env
        .run(&["token", "create", "controller"])
        .ok()
        .trim()
        .to_string();
    let accounts = env.run(&["account", "list"]).ok().to_string();
    assert!(
        accounts.contains("dispatcher acme") && accounts.contains("member acme/platform"),
        "{accounts}"
    );

    // …a team member manages the team's secrets over HTTP…
    let (code, _, text) = server.call(
        "PUT",
        "/api/v1/secrets/DB_URL?scope=acme/platform/dev",
        Some(&alice),
        Some(&json!({"value": "postgres://walkthrough", "category": "infrastructure"}).to_string()),
    );
    assert_eq!(code, 200, "{text}");
    let (code, _, _) = server.call(
        "PUT",
        "/api/v1/secrets/ORG_KEY?scope=acme",
        Some(&alice),
        Some(&json!({"value": "nope", "category": "provider"}).to_string()),
    );
    assert_eq!(code, 403, "a member cannot write organization-wide");

    // …the controller creates and dispatches a task, and cannot read a value directly…
    let (code, task, text) = server.call(
        "POST",
        "/api/v1/tasks",
        Some(&ctl),
        Some(
            &json!({"project": "acme/platform/dev/agent-x", "secret_refs": ["DB_URL"]}).to_string(),
        ),
    );
    assert_eq!(code, 201, "{text}");
    let (code, _, _) = server.call(
        "GET",
        "/api/v1/secrets/DB_URL/value?scope=acme/platform/dev",
        Some(&ctl),
        None,
    );
    assert_eq!(code, 403);
    let (code, d, text) = server.call(
        "POST",
        &format!("/api/v1/tasks/{}/dispatch", task["id"].as_str().unwrap()),
        Some(&ctl),
        None,
    );
    assert_eq!(code, 200, "{text}");
    assert_eq!(d["env"]["DB_URL"], "postgres://walkthrough");
    let brief = d["brief_id"].as_str().unwrap();
    let cb_token = d["env"]["SECRETSTORE_CALLBACK_TOKEN"].as_str().unwrap();

    // …the agent calls back…
    let (code, _, _) = server.call(
        "POST",
        &format!("/api/v1/briefs/{brief}/callback"),
        Some(cb_token),
        None,
    );
    assert_eq!(code, 200);
    let (_, b, _) = server.call("GET", &format!("/api/v1/briefs/{brief}"), Some(&ctl), None);
    assert_eq!(b["status"], "completed");

    // …and admins read the audit log, over HTTP and on the command line.
    let (code, log, _) = server.call("GET", "/api/v1/audit", Some(&root), None);
    assert_eq!(code, 200);
    let actions: Vec<&str> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for a in [
        "account.create",
        "account.grant",
        "token.create",
        "secret.set",
        "task.dispatch",
        "brief.callback",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    let cli_log = env
        .run(&["audit", "--scope", "acme/platform", "--json"])
        .ok()
        .to_string();
    let cli_log: Value = serde_json::from_str(&cli_log).unwrap();
    assert!(
        cli_log
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["actor"] == "alice" && r["action"] == "secret.set")
    );

    // A revoked token answers 401 at once.
    let tokens: Value =
        serde_json::from_str(env.run(&["token", "list", "alice", "--json"]).ok()).unwrap();
    env.run(&["token", "revoke", tokens[0]["id"].as_str().unwrap()])
        .ok();
    assert_eq!(
        server.call("GET", "/api/v1/whoami", Some(&alice), None).0,
        401
    );

    let (code, stderr) = server.terminate();
    assert_eq!(code, 0, "{stderr}");

    // A second start creates nothing and prints no token.
    let again = Server::start(&env, &[]);
    assert!(!again.stdout().contains("sst_"), "{}", again.stdout());
    assert_eq!(
        again.call("GET", "/api/v1/whoami", Some(&root), None).0,
        200
    );
}

#[test]
fn trace_logs_hold_no_value_token_or_body() {
    let env = Env::bare();
    let server = Server::start(&env, &[("RUST_LOG", "trace")]);
    let root = server.root_token();
    for p in [
        "orgs/acme",
        "teams/acme/t",
        "workspaces/acme/t/w",
        "projects/acme/t/w/p",
    ] {
        server.call("PUT", &format!("/api/v1/{p}"), Some(&root), None);
    }
    let canary = "canary-trace-5521";
    let (code, _, _) = server.call(
        "PUT",
        "/api/v1/secrets/C?scope=acme",
        Some(&root),
        Some(&json!({"value": canary, "category": "agent"}).to_string()),
    );
    assert_eq!(code, 200);
    let malformed = format!("{{\"value\": \"{canary}-malformed\", \"category\": ");
    let (code, _, text) = server.call(
        "PUT",
        "/api/v1/secrets/D?scope=acme",
        Some(&root),
        Some(&malformed),
    );
    assert_eq!(code, 400);
    assert!(!text.contains(canary));
    let (_, task, _) = server.call(
        "POST",
        "/api/v1/tasks",
        Some(&root),
        Some(&json!({"project": "acme/t/w/p", "secret_refs": ["C"]}).to_string()),
    );
    let (_, d, _) = server.call(
        "POST",
        &format!("/api/v1/tasks/{}/dispatch", task["id"].as_str().unwrap()),
        Some(&root),
        None,
    );
    let cb = d["env"]["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap()
        .to_string();
    server.call(
        "GET",
        "/api/v1/secrets/C/value?scope=acme",
        Some(&root),
        None,
    );
    // A value pasted where a name goes, and a path no route has: the log holds the route
    // template and a fixed word, never the raw path.
    let pasted = "PASTED_VALUE_LOOKS_LIKE_A_NAME_9931";
    server.call(
        "GET",
        &format!("/api/v1/secrets/{pasted}?scope=acme"),
        Some(&root),
        None,
    );
    server.call("GET", &format!("/no/such/{pasted}/route"), None, None);
    let (code, logs) = server.terminate();
    assert_eq!(code, 0);
    assert!(!logs.contains(pasted), "the raw path is in the log: {logs}");
    assert!(
        logs.contains("route=/api/v1/secrets/{name}") && logs.contains("route=unmatched"),
        "the route template is logged: {logs}"
    );
    assert!(
        logs.contains("request_id") && logs.contains("status=200"),
        "one line per request: {logs}"
    );
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "trace level is on: {logs}"
    );
    for secret in [
        canary,
        root.as_str(),
        cb.as_str(),
        "Bearer",
        "authorization",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let env = Env::bare();
    let server = Server::start(&env, &[]);
    let root = server.root_token();
    server.call("PUT", "/api/v1/orgs/acme", Some(&root), None);
    // Send the headers and half the body, then SIGTERM, then the rest: the request is in
    // flight and must still be answered.
    let body = json!({"value": "x".repeat(60_000), "category": "agent"}).to_string();
    let bytes = request_bytes(
        &server.addr,
        "PUT",
        "/api/v1/secrets/SLOW?scope=acme",
        Some(&root),
        Some(&body),
    );
    let mut s = TcpStream::connect(&server.addr).unwrap();
    let half = bytes.len() / 2;
    s.write_all(&bytes[..half]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&bytes[half..]).unwrap();
    let (code, v, text) = read_response(&mut s);
    assert_eq!(code, 200, "{text}");
    assert_eq!(v["version"], 1);
    let (code, logs) = server.terminate();
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("shutting down"), "{logs}");
}
