//! Several `secretstore serve` processes on one database (PostgreSQL in postgres mode,
//! one SQLite file otherwise): writes seen at once by the other server, exact
//! `expected_version` under races, no lost writes, durability across kill -9, and
//! snapshot-consistent dispatches under racing rotations.

use crate::common::server::*;
use crate::common::*;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

const PROJECT: &str = "acme/platform/dev/agent-x";

/// Two servers on one database, with the tree created and a root token.
fn pair() -> (Env, Server, Server, String) {
    let env = Env::bare();
    let a = Server::start(&env, &[]);
    let root = a.root_token();
    let b = Server::start(&env, &[]);
    assert!(
        !b.stdout().contains("sst_"),
        "only the first start creates root"
    );
    a.make_tree(&root);
    (env, a, b, root)
}

fn put(
    s: &Server,
    root: &str,
    name: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value, String) {
    s.call(
        "PUT",
        &format!("/api/v1/secrets/{name}?scope=acme/platform"),
        Some(root),
        Some(&body.to_string()),
    )
}

fn task(s: &Server, root: &str, refs: &[&str]) -> String {
    let (code, t, text) = s.call(
        "POST",
        "/api/v1/tasks",
        Some(root),
        Some(&json!({"project": PROJECT, "secret_refs": refs}).to_string()),
    );
    assert_eq!(code, 201, "{text}");
    t["id"].as_str().unwrap().to_string()
}

#[test]
fn a_write_through_one_server_is_dispatched_by_the_other_at_once() {
    let (_env, a, b, root) = pair();
    put(
        &a,
        &root,
        "DB_URL",
        json!({"value": "v1", "category": "infrastructure"}),
    );
    let t = task(&b, &root, &["DB_URL"]);
    for i in 2..6 {
        let v = format!("v{i}");
        let (code, _, _) = put(&a, &root, "DB_URL", json!({"value": v}));
        assert_eq!(code, 200);
        let (code, d, text) = b.call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&root),
            None,
        );
        assert_eq!(code, 200, "{text}");
        assert_eq!(d["env"]["DB_URL"], v.as_str());
    }
}

#[test]
fn expected_version_has_exactly_one_winner_across_servers() {
    let (_env, a, b, root) = pair();
    put(
        &a,
        &root,
        "RACED",
        json!({"value": "start", "category": "agent"}),
    );
    let servers = Arc::new([a.addr.clone(), b.addr.clone()]);
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let servers = servers.clone();
            let root = root.clone();
            std::thread::spawn(move || {
                let body =
                    json!({"value": format!("writer-{i}"), "expected_version": 1}).to_string();
                let (code, v, _) = http(
                    &servers[i % 2],
                    "PUT",
                    "/api/v1/secrets/RACED?scope=acme/platform",
                    Some(&root),
                    Some(&body),
                );
                (i, code, v)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter(|(_, c, _)| *c == 200).collect();
    let losers = results
        .iter()
        .filter(|(_, c, v)| *c == 409 && v["error"]["code"] == "conflict")
        .count();
    assert_eq!(winners.len(), 1, "exactly one winner: {results:?}");
    assert_eq!(losers, 15, "every other writer gets 409: {results:?}");
    let (code, value, _) = a.call(
        "GET",
        "/api/v1/secrets/RACED/value?scope=acme/platform",
        Some(&root),
        None,
    );
    assert_eq!(code, 200);
    assert_eq!(value["version"], 2);
    assert_eq!(
        value["value"],
        format!("writer-{}", winners[0].0).as_str(),
        "the winner's value is kept"
    );
}

#[test]
fn concurrent_writes_without_expected_version_are_never_lost() {
    let (_env, a, b, root) = pair();
    put(
        &a,
        &root,
        "COUNTER",
        json!({"value": "v0", "category": "agent"}),
    );
    let servers = Arc::new([a.addr.clone(), b.addr.clone()]);
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let servers = servers.clone();
            let root = root.clone();
            std::thread::spawn(move || {
                let body = json!({"value": format!("w{i}")}).to_string();
                http(
                    &servers[i % 2],
                    "PUT",
                    "/api/v1/secrets/COUNTER?scope=acme/platform",
                    Some(&root),
                    Some(&body),
                )
            })
        })
        .collect();
    let mut versions = BTreeSet::new();
    let mut all = Vec::new();
    for h in handles {
        let (code, v, text) = h.join().unwrap();
        assert_eq!(code, 200, "{text}");
        all.push(v["version"].as_i64().unwrap());
        versions.insert(v["version"].as_i64().unwrap());
    }
    let (_, hist, _) = b.call(
        "GET",
        "/api/v1/secrets/COUNTER/versions?scope=acme/platform",
        Some(&root),
        None,
    );
    assert_eq!(
        versions.len(),
        40,
        "a version was handed out twice: {all:?}; history {hist}"
    );
    assert_eq!(
        versions,
        (2..=41).collect::<BTreeSet<i64>>(),
        "distinct, strictly increasing, none lost"
    );
    let (_, hist, _) = b.call(
        "GET",
        "/api/v1/secrets/COUNTER/versions?scope=acme/platform",
        Some(&root),
        None,
    );
    assert_eq!(hist["versions"].as_array().unwrap().len(), 41);
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let env = Env::bare();
    let mut a = Server::start(&env, &[]);
    let root = a.root_token();
    a.call("PUT", "/api/v1/orgs/acme", Some(&root), None);
    let mut last = String::new();
    for i in 0..15 {
        last = format!("durable-{i}");
        let (code, _, text) = a.call(
            "PUT",
            "/api/v1/secrets/DURABLE?scope=acme",
            Some(&root),
            Some(&json!({"value": last, "category": "agent"}).to_string()),
        );
        assert_eq!(code, 200, "{text}");
    }
    // SIGKILL right after the last acknowledgement: no shutdown, no flush.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    drop(a);
    let b = Server::start(&env, &[]);
    let (code, v, text) = b.call(
        "GET",
        "/api/v1/secrets/DURABLE/value?scope=acme",
        Some(&root),
        None,
    );
    assert_eq!(code, 200, "{text}");
    assert_eq!(v["value"], last.as_str());
    assert_eq!(v["version"], 15);
}

#[test]
fn a_brief_never_records_one_version_while_the_env_holds_another() {
    let (_env, a, b, root) = pair();
    let (_, first, _) = put(
        &a,
        &root,
        "ROTATING",
        json!({"value": "rot-0", "category": "agent"}),
    );
    let mut by_version: HashMap<i64, String> = HashMap::new();
    by_version.insert(first["version"].as_i64().unwrap(), "rot-0".into());
    let t = task(&b, &root, &["ROTATING"]);
    let (addr_a, addr_b) = (a.addr.clone(), b.addr.clone());
    let root_w = root.clone();
    let writer = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for i in 1..40 {
            let value = format!("rot-{i}");
            let body = json!({"value": value}).to_string();
            let (code, v, _) = http(
                &addr_a,
                "PUT",
                "/api/v1/secrets/ROTATING?scope=acme/platform",
                Some(&root_w),
                Some(&body),
            );
            assert_eq!(code, 200);
            seen.push((v["version"].as_i64().unwrap(), value));
        }
        seen
    });
    let mut dispatched = Vec::new();
    for _ in 0..40 {
        let (code, d, text) = http(
            &addr_b,
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&root),
            None,
        );
        assert_eq!(code, 200, "{text}");
        dispatched.push((
            d["brief_id"].as_str().unwrap().to_string(),
            d["env"]["ROTATING"].as_str().unwrap().to_string(),
        ));
    }
    by_version.extend(writer.join().unwrap());
    for (brief, value) in dispatched {
        let (_, b, _) = a.call("GET", &format!("/api/v1/briefs/{brief}"), Some(&root), None);
        let v = b["secrets"][0]["version"].as_i64().unwrap();
        assert_eq!(
            by_version[&v], value,
            "brief {brief} records version {v} but handed out another value"
        );
    }
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let mut env = Env::bare();
    env.vars.push((
        "DATABASE_URL".into(),
        "postgres://app:hunter2-db-pw@127.0.0.1:1/secrets_db".into(),
    ));
    let r = env.run(&["secret", "list", "--scope", "acme"]);
    r.fails(1, "127.0.0.1:1");
    assert!(r.stderr.contains("secrets_db"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("hunter2-db-pw") && !r.stdout.contains("hunter2-db-pw"),
        "{}",
        r.stderr
    );
    let served = env.command(&["serve"]).output().unwrap();
    assert_eq!(served.status.code(), Some(1));
    let text = String::from_utf8_lossy(&served.stderr);
    assert!(
        text.contains("127.0.0.1:1") && !text.contains("hunter2-db-pw"),
        "{text}"
    );
}

#[test]
fn database_url_can_come_from_a_file() {
    let mut env = Env::bare();
    let url = env
        .vars
        .iter()
        .find(|(k, _)| k == "DATABASE_URL")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| format!("sqlite://{}", env.path("from-file.db").display()));
    env.vars.retain(|(k, _)| k != "DATABASE_URL");
    std::fs::write(env.path("db-url"), format!("{url}\n")).unwrap();
    env.vars.push((
        "DATABASE_URL_FILE".into(),
        env.path("db-url").display().to_string(),
    ));
    env.run(&["init"]).ok();
    env.run(&["org", "create", "acme"]).ok();
    if !postgres_mode() {
        assert!(env.path("from-file.db").exists());
    }
    env.vars.push(("DATABASE_URL".into(), url));
    env.run(&["org", "create", "acme2"])
        .fails(1, "both DATABASE_URL and DATABASE_URL_FILE");
}

/// Sealed delivery on several servers: the same boot token presented to both servers at
/// the same moment is redeemed exactly once; the other answer is the replay (410), and the
/// brief ends revoked.
#[test]
fn a_boot_token_redeemed_on_two_servers_at_once_opened_twice() {
    let (_env, a, b, root) = pair();
    let (code, _, text) = put(
        &a,
        &root,
        "DB_URL",
        json!({"value": "postgres://cluster-sealed", "category": "infrastructure"}),
    );
    assert_eq!(code, 200, "{text}");
    for round in 0..5 {
        let t = task(&a, &root, &["DB_URL"]);
        let (code, d, text) = a.call(
            "POST",
            &format!("/api/v1/tasks/{t}/dispatch"),
            Some(&root),
            Some(r#"{"delivery": "sealed"}"#),
        );
        assert_eq!(code, 200, "{text}");
        let token = d["boot_token"].as_str().unwrap().to_owned();
        let brief = d["brief_id"].as_str().unwrap().to_owned();
        let start = Arc::new(std::sync::Barrier::new(2));
        // Both threads are started before either is joined: they meet at the barrier.
        let threads: Vec<_> = [a.addr.clone(), b.addr.clone()]
            .into_iter()
            .map(|addr| {
                let (start, token) = (Arc::clone(&start), token.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let (code, body, _) = http(&addr, "POST", "/api/v1/boot", Some(&token), None);
                    (
                        code,
                        body["error"]["code"].as_str().unwrap_or("").to_owned(),
                    )
                })
            })
            .collect();
        let answers: Vec<(u16, String)> = threads.into_iter().map(|h| h.join().unwrap()).collect();
        let codes: BTreeSet<u16> = answers.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            codes,
            BTreeSet::from([200, 410]),
            "round {round}: {answers:?}"
        );
        assert!(
            answers
                .iter()
                .any(|(c, e)| *c == 410 && e == "already_used")
        );
        let (_, shown, _) = b.call("GET", &format!("/api/v1/briefs/{brief}"), Some(&root), None);
        assert_eq!(shown["status"], "revoked", "round {round}: {shown}");
        assert_eq!(shown["boot"]["state"], "replayed");
    }
}
