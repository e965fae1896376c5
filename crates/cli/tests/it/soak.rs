//! Soak (issue 12): rotations racing dispatches for a bounded time
//! (`SECRETSTORE_SOAK_SECONDS`, 60 s by default), on SQLite with one `serve`, on
//! PostgreSQL (`SECRETSTORE_TEST_DB=postgres`) with two `serve` processes on the same
//! database. Every value encodes its version (`NAME-v-<n>`), so each brief's recorded
//! version can be checked against the value its env received.

use crate::common::server::*;
use crate::common::*;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PROJECT: &str = "acme/platform/dev/agent-x";
const SECRETS: [&str; 4] = ["ROT_DB", "ROT_API", "ROT_TOKEN", "ROT_HOOK"];

fn soak_seconds() -> u64 {
    std::env::var("SECRETSTORE_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

fn value_of(name: &str, version: i64) -> String {
    format!("{name}-v-{version}")
}

/// A rotation: reads the current version `n` and writes `NAME-v-<n+1>` expecting `n`; a
/// lost race (409 conflict) is retried. Returns the conflicts met.
fn rotate(addr: &str, root: &str, name: &str) -> usize {
    let mut conflicts = 0;
    loop {
        let (code, meta, text) = http(
            addr,
            "GET",
            &format!("/api/v1/secrets/{name}?scope=acme/platform"),
            Some(root),
            None,
        );
        assert_eq!(code, 200, "{text}");
        let current = meta["version"].as_i64().unwrap();
        let body = json!({"value": value_of(name, current + 1), "expected_version": current});
        let (code, v, text) = http(
            addr,
            "PUT",
            &format!("/api/v1/secrets/{name}?scope=acme/platform"),
            Some(root),
            Some(&body.to_string()),
        );
        match code {
            200 => {
                assert_eq!(v["version"], current + 1, "{text}");
                return conflicts;
            }
            409 if v["error"]["code"] == "conflict" => conflicts += 1,
            _ => panic!("a rotation answered {code}: {text}"),
        }
    }
}

/// A dispatch, and its brief read back: every recorded version matches the value handed
/// out.
fn dispatch_and_check(addr: &str, root: &str, task: &str) {
    let (code, d, text) = http(
        addr,
        "POST",
        &format!("/api/v1/tasks/{task}/dispatch"),
        Some(root),
        None,
    );
    assert_eq!(code, 200, "a dispatch failed: {text}");
    let brief = d["brief_id"].as_str().unwrap();
    let (code, b, text) = http(
        addr,
        "GET",
        &format!("/api/v1/briefs/{brief}"),
        Some(root),
        None,
    );
    assert_eq!(code, 200, "{text}");
    let secrets = b["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), SECRETS.len(), "{b}");
    for s in secrets {
        let name = s["name"].as_str().unwrap();
        let version = s["version"].as_i64().unwrap();
        assert_eq!(
            d["env"][name],
            value_of(name, version).as_str(),
            "brief {brief} records {name} version {version}, its env got another value"
        );
    }
}

#[test]
fn rotations_racing_dispatches_never_fail_a_dispatch_nor_record_another_version_than_handed_out() {
    let env = Env::bare();
    let first = Server::start(&env, &[]);
    let root = first.root_token();
    let mut servers = vec![first];
    if postgres_mode() {
        servers.push(Server::start(&env, &[]));
    }
    let a = &servers[0];
    a.make_tree(&root);
    for name in SECRETS {
        let body = json!({"value": value_of(name, 1), "category": "agent"});
        let (code, v, text) = a.call(
            "PUT",
            &format!("/api/v1/secrets/{name}?scope=acme/platform"),
            Some(&root),
            Some(&body.to_string()),
        );
        assert!((200..300).contains(&code), "{text}");
        assert_eq!(v["version"], 1);
    }
    let (code, t, text) = a.call(
        "POST",
        "/api/v1/tasks",
        Some(&root),
        Some(&json!({"project": PROJECT, "secret_refs": SECRETS}).to_string()),
    );
    assert_eq!(code, 201, "{text}");
    let task = t["id"].as_str().unwrap().to_string();

    let addrs: Arc<Vec<String>> = Arc::new(servers.iter().map(|s| s.addr.clone()).collect());
    let seconds = soak_seconds();
    let end = Instant::now() + Duration::from_secs(seconds);
    let failed = Arc::new(AtomicBool::new(false));
    let (rotations, conflicts, dispatches) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut workers = Vec::new();
    for w in 0..3 {
        let (addrs, root, failed, rotations, conflicts) = (
            addrs.clone(),
            root.clone(),
            failed.clone(),
            rotations.clone(),
            conflicts.clone(),
        );
        workers.push(std::thread::spawn(move || {
            let mut n = w;
            while Instant::now() < end && !failed.load(Ordering::Relaxed) {
                let addr = &addrs[n % addrs.len()];
                // Two writers share each secret at times: expected_version races.
                let name = SECRETS[(n / 2 + w) % SECRETS.len()];
                let guard = FailFlag(&failed);
                conflicts.fetch_add(rotate(addr, &root, name), Ordering::Relaxed);
                guard.disarm();
                rotations.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    for w in 0..3 {
        let (addrs, root, failed, dispatches, task) = (
            addrs.clone(),
            root.clone(),
            failed.clone(),
            dispatches.clone(),
            task.clone(),
        );
        workers.push(std::thread::spawn(move || {
            let mut n = w;
            while Instant::now() < end && !failed.load(Ordering::Relaxed) {
                let guard = FailFlag(&failed);
                dispatch_and_check(&addrs[n % addrs.len()], &root, &task);
                guard.disarm();
                dispatches.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    let mut panics = Vec::new();
    for w in workers {
        if let Err(p) = w.join() {
            panics.push(
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            );
        }
    }
    assert!(panics.is_empty(), "a worker failed: {panics:#?}");
    let (rotations, conflicts, dispatches) = (
        rotations.load(Ordering::Relaxed),
        conflicts.load(Ordering::Relaxed),
        dispatches.load(Ordering::Relaxed),
    );
    assert!(rotations > 0 && dispatches > 0, "the soak did some work");
    // Every rotation is in the history: the versions of the secrets add up.
    let mut versions = 0;
    for name in SECRETS {
        let (_, meta, _) = a.call(
            "GET",
            &format!("/api/v1/secrets/{name}?scope=acme/platform"),
            Some(&root),
            None,
        );
        versions += meta["version"].as_i64().unwrap() - 1;
    }
    assert_eq!(versions as usize, rotations, "no rotation lost");
    for s in &servers {
        let log = format!("{}{}", s.stdout(), s.stderr());
        assert!(
            !log.contains("database is locked") && !log.contains("panicked"),
            "{log}"
        );
    }
    println!(
        "soak ({}, {} serve): {seconds} s, {dispatches} dispatches (each brief checked), \
         {rotations} rotations ({conflicts} expected_version conflicts retried), 0 failed, \
         no \"database is locked\"",
        if postgres_mode() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        servers.len()
    );
}

/// Raises the flag if dropped armed (the worker panicked), so the others stop early.
struct FailFlag<'a>(&'a AtomicBool);

impl FailFlag<'_> {
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for FailFlag<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
