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
