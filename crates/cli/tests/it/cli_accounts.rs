//! `account`, `grant`, `token` and `audit` on the command line.

use crate::common::*;

#[test]
fn accounts_grants_and_tokens() {
    let e = Env::new().with_tree();
    e.run(&["account", "create", "alice"]).ok();
    e.run(&["account", "create", "alice"])
        .fails(1, "already exists");
    e.run(&["account", "create", "Alice"])
        .fails(1, "invalid account name");
    e.run(&["account", "create", "ctl", "--service"]).ok();
    assert!(
        e.run(&["grant", "alice", "member", "acme/platform"])
            .ok()
            .contains("member acme/platform")
    );
    // Granting twice is harmless.
    e.run(&["grant", "alice", "member", "acme/platform"]).ok();
    e.run(&["grant", "alice", "member", "acme"])
        .fails(1, "team path");
    e.run(&["grant", "alice", "admin"])
        .fails(1, "needs a scope");
    e.run(&["grant", "alice", "owner", "acme"])
        .fails(1, "unknown role");
    e.run(&["grant", "alice", "admin", "globex"])
        .fails(1, "unknown organization globex");
    e.run(&["grant", "bob", "admin", "acme"])
        .fails(1, "no account bob");
    e.run(&["grant", "ctl", "dispatcher", "acme"]).ok();
    let list: serde_json::Value =
        serde_json::from_str(e.run(&["account", "list", "--json"]).ok()).unwrap();
    let alice = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "alice")
        .unwrap();
    assert_eq!(alice["roles"], serde_json::json!(["member acme/platform"]));
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "ctl")
            .unwrap()["kind"],
        "service"
    );
    e.run(&["grant", "alice", "member", "acme/platform", "--revoke"])
        .ok();
    e.run(&["grant", "alice", "member", "acme/platform", "--revoke"])
        .fails(1, "has no grant");

    let t = e.run(&["token", "create", "ctl"]);
    let token = t.ok().trim().to_string();
    assert!(token.starts_with("sst_") && token.len() >= 47, "{token}");
    assert!(t.stderr.contains("shown once"));
    e.run(&["token", "create", "nobody"])
        .fails(1, "no account nobody");
    let tokens: serde_json::Value =
        serde_json::from_str(e.run(&["token", "list", "ctl", "--json"]).ok()).unwrap();
    let id = tokens[0]["id"].as_str().unwrap().to_string();
    assert!(
        !e.run(&["token", "list", "ctl"]).ok().contains(&token),
        "tokens are never listed"
    );
    e.run(&["token", "revoke", &id]).ok();
    e.run(&["token", "revoke", &id]).fails(1, "no active token");
    e.run(&["token", "revoke", "../x"]).fails(1, "no token");
    // Only the hash is stored.
    for (path, bytes) in e.all_bytes() {
        assert!(
            !contains(&bytes, token.as_bytes()),
            "token found in {}",
            path.display()
        );
    }
}

#[test]
fn audit_lists_what_happened_filtered_by_scope() {
    let e = Env::new().with_tree();
    e.set("A", "acme/platform", "agent", "audit-cli-canary")
        .ok();
    e.set("B", "acme/other", "agent", "b").ok();
    e.run(&["secret", "get", "A", "--scope", "acme/platform"])
        .ok();
    let all = e.run(&["audit"]).ok().to_string();
    assert!(
        all.contains("secret.reveal") && all.contains("cli:tester"),
        "{all}"
    );
    assert!(!all.contains("audit-cli-canary"));
    let scoped: serde_json::Value =
        serde_json::from_str(e.run(&["audit", "--scope", "acme/platform", "--json"]).ok()).unwrap();
    let records = scoped.as_array().unwrap();
    assert!(
        records
            .iter()
            .all(|r| r["scope"].as_str().unwrap().starts_with("acme/platform"))
    );
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "secret.set" && r["name"] == "A" && r["version"] == 1)
    );
    e.run(&["audit", "--scope", "Bad Scope"])
        .fails(1, "invalid scope path");
}

/// `serve` remembers a verified API token for at most a second (SECRETSTORE's token
/// cache): a token revoked or a grant taken away through this server counts at once; one
/// revoked by another process on the same database (the command line here) within the
/// documented bound.
#[test]
fn a_revoked_token_is_refused_at_once_by_its_server_and_within_a_second_by_another_process() {
    use crate::common::server::Server;
    use std::time::{Duration, Instant};
    let e = Env::new().with_tree();
    let server = Server::start(&e, &[]);
    let root = server.root_token();
    e.run(&["account", "create", "ctl", "--service"]).ok();
    e.run(&["grant", "ctl", "dispatcher", "acme"]).ok();
    let first = e.run(&["token", "create", "ctl"]).ok().trim().to_string();
    let first_id = {
        let tokens: serde_json::Value =
            serde_json::from_str(e.run(&["token", "list", "ctl", "--json"]).ok()).unwrap();
        tokens[0]["id"].as_str().unwrap().to_string()
    };
    let (code, made, text) = server.call("POST", "/api/v1/accounts/ctl/tokens", Some(&root), None);
    assert!((200..300).contains(&code), "{code} {text}");
    let second = made["token"].as_str().unwrap().to_string();
    let second_id = made["id"].as_str().unwrap().to_string();
    let whoami = |t: &str| server.call("GET", "/api/v1/whoami", Some(t), None);
    // Both verified, so both are remembered now.
    assert_eq!(whoami(&first).0, 200);
    assert_eq!(whoami(&second).0, 200);

    // A grant taken away through this server: the next request sees it.
    let (code, _, text) = server.call(
        "DELETE",
        "/api/v1/accounts/ctl/grants?role=dispatcher&scope=acme",
        Some(&root),
        None,
    );
    assert_eq!(code, 200, "{text}");
    let (code, me, text) = whoami(&second);
    assert_eq!(code, 200, "{text}");
    assert_eq!(me["roles"], serde_json::json!([]), "{text}");

    // Revoked through this server: refused at once.
    let (code, _, text) = server.call(
        "DELETE",
        &format!("/api/v1/tokens/{second_id}"),
        Some(&root),
        None,
    );
    assert!((200..300).contains(&code), "{code} {text}");
    assert_eq!(whoami(&second).0, 401, "revoked through this server");

    // Revoked by another process: refused within the bound (one second, plus the time a
    // request takes here).
    assert_eq!(whoami(&first).0, 200);
    e.run(&["token", "revoke", &first_id]).ok();
    let revoked = Instant::now();
    while whoami(&first).0 == 200 {
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "a token revoked elsewhere still worked after {:?}",
            revoked.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "token revoked by another process refused after {:?}",
        revoked.elapsed()
    );
}

/// The audit log's filters on the command line, and its export as JSON lines: one record
/// per line, newest first, each a JSON object, never a value.
#[test]
fn audit_filters_and_exports_json_lines() {
    let e = Env::new().with_tree();
    e.set("A", "acme/platform", "agent", "audit-jsonl-canary")
        .ok();
    for _ in 0..3 {
        e.run(&["secret", "get", "A", "--scope", "acme/platform"])
            .ok();
    }
    let out = e
        .run(&[
            "audit",
            "--name",
            "A",
            "--action",
            "secret.reveal",
            "--since",
            "1h",
            "--jsonl",
        ])
        .ok()
        .to_string();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines
            .iter()
            .all(|r| r["action"] == "secret.reveal" && r["name"] == "A")
    );
    assert!(
        lines[0]["id"].as_i64() > lines[2]["id"].as_i64(),
        "newest first"
    );
    assert!(!out.contains("audit-jsonl-canary"));
    let one = e
        .run(&["audit", "--actor", "cli:tester", "--limit", "1", "--json"])
        .ok()
        .to_string();
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1);
    e.run(&["audit", "--limit", "0"])
        .fails(1, "--limit must be at least 1");
    e.run(&["audit", "--since", "yesterday"])
        .fails(1, "invalid time");
    e.run(&["audit", "--json", "--jsonl"])
        .fails(2, "cannot be used with");
}
