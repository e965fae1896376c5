//! Faults survived, each against the real thing (issue 12): a value backend frozen
//! (SIGSTOP on a private moto or OpenBao), the brief store failing (S3 down or frozen, a
//! folder that cannot be written), kill -9 of `serve` during writes and during
//! dispatches, and of `rekey`. Every process a test starts is resumed and stopped by a
//! guard, also when the test fails; only processes the test started get a signal.

use crate::backends::{aws_vars, set_with};
use crate::common::server::*;
use crate::common::*;
use crate::run_and_rekey::task;
use secretstore_testkit::Frozen;
use secretstore_testkit::bao::PrivateBao;
use secretstore_testkit::moto::Moto;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The bound within which a dispatch whose backend is frozen is answered (issue 12):
/// the backends' own bound is 10 s (README, "Backends").
const FROZEN_BOUND: Duration = Duration::from_secs(15);

/// Briefs stored: (rows in the database, files in the brief folder).
fn briefs_stored(e: &Env) -> (usize, usize) {
    let rows = e.sql("SELECT count(*) FROM briefs").trim().parse().unwrap();
    let files = std::fs::read_dir(e.path("briefs"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rows, files)
}

fn dispatch_path(task: &str) -> String {
    format!("/api/v1/tasks/{task}/dispatch")
}

/// The names of the refs a failed dispatch answer names with `reason`.
fn named_refs(body: &Value, reason: &str) -> BTreeSet<String> {
    body["error"]["refs"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .filter(|r| r["reason"] == reason)
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Dispatches `task` once with every backend up, then with the processes `pids` frozen:
/// a 502 within [`FROZEN_BOUND`] naming exactly `frozen_refs` as unavailable, no env, no
/// brief stored; then thawed: the next dispatch hands out `expected`.
fn frozen_dispatch_fails_closed(
    e: &Env,
    pids: &[u32],
    refs: &[&str],
    frozen_refs: &[&str],
    expected: &BTreeMap<String, String>,
) {
    let server = Server::start(e, &[]);
    let root = server.root_token();
    let t = task(e, refs);
    let (code, _, text) = server.call("POST", &dispatch_path(&t), Some(&root), None);
    assert_eq!(code, 200, "every backend up: {text}");
    let before = briefs_stored(e);

    let frozen: Vec<Frozen> = pids.iter().map(|&p| Frozen::freeze(p)).collect();
    let started = Instant::now();
    let (code, body, text) = server.call("POST", &dispatch_path(&t), Some(&root), None);
    let took = started.elapsed();
    // Liveness does not depend on a value backend.
    let (health, _, _) = server.call("GET", "/healthz", None, None);
    drop(frozen);

    assert_eq!(code, 502, "{text}");
    assert_eq!(body["error"]["code"], "backend_unavailable", "{text}");
    assert!(
        took <= FROZEN_BOUND,
        "a frozen backend held the dispatch {took:?} (bound {FROZEN_BOUND:?}): {text}"
    );
    let want: BTreeSet<String> = frozen_refs.iter().map(|s| s.to_string()).collect();
    assert_eq!(named_refs(&body, "unavailable"), want, "{text}");
    assert!(
        body.get("env").is_none() && !text.contains("sscb_"),
        "{text}"
    );
    assert_eq!(briefs_stored(e), before, "no brief stored: {text}");
    assert_eq!(health, 200);

    // Thawed: the next dispatch works and hands out every value.
    let (code, d, text) = server.call("POST", &dispatch_path(&t), Some(&root), None);
    assert_eq!(code, 200, "after SIGCONT: {text}");
    for (name, value) in expected {
        assert_eq!(d["env"][name], value.as_str(), "{name}");
    }
    println!(
        "frozen backend: {} refs ({} frozen) answered {code_frozen} in {took:.1?}, \
         then 200 after SIGCONT",
        refs.len(),
        frozen_refs.len(),
        code_frozen = 502,
    );
}

#[test]
fn a_frozen_moto_fails_the_dispatch_502_within_15_s_naming_each_ref_and_storing_no_brief() {
    let moto = Moto::start(&[]);
    let mut e = Env::new().with_tree();
    aws_vars(&mut e, &moto.url);
    e.set("LOCAL_ONE", "acme", "agent", "local-1").ok();
    set_with(&e, "aws_sm", "AWS_A", "acme/platform", "aws-a").ok();
    set_with(&e, "aws_sm", "AWS_B", "acme/platform/dev", "aws-b").ok();
    let expected = [
        ("LOCAL_ONE", "local-1"),
        ("AWS_A", "aws-a"),
        ("AWS_B", "aws-b"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    frozen_dispatch_fails_closed(
        &e,
        &[moto.pid()],
        &["LOCAL_ONE", "AWS_A", "AWS_B"],
        &["AWS_A", "AWS_B"],
        &expected,
    );
}

/// A private OpenBao and an env whose Vault settings point at it.
fn vault_env(bao: &PrivateBao) -> Env {
    let mut e = Env::new().with_tree();
    e.vars.push(("VAULT_ADDR".into(), bao.addr.clone()));
    e.vars.push(("VAULT_TOKEN".into(), bao.token.clone()));
    e
}

#[test]
fn a_frozen_openbao_fails_the_dispatch_502_within_15_s_naming_each_ref_and_storing_no_brief() {
    let bao = PrivateBao::start();
    let e = vault_env(&bao);
    e.set("LOCAL_ONE", "acme", "agent", "local-1").ok();
    set_with(&e, "vault", "VAULT_A", "acme/platform", "vault-a").ok();
    set_with(&e, "vault", "VAULT_B", "acme", "vault-b").ok();
    let expected = [
        ("LOCAL_ONE", "local-1"),
        ("VAULT_A", "vault-a"),
        ("VAULT_B", "vault-b"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    frozen_dispatch_fails_closed(
        &e,
        &[bao.pid()],
        &["LOCAL_ONE", "VAULT_A", "VAULT_B"],
        &["VAULT_A", "VAULT_B"],
        &expected,
    );
}

/// The defect: Vault refs were fetched 8 at a time, each with its own 10 s bound, so a
/// frozen OpenBao held a dispatch of 9 to 16 Vault refs 20 s, of 256 refs 320 s.
#[test]
fn a_frozen_openbao_held_a_dispatch_of_more_vault_refs_than_its_concurrency_10_s_per_batch() {
    let bao = PrivateBao::start();
    let e = vault_env(&bao);
    let names: Vec<String> = (0..12).map(|i| format!("VAULT_{i}")).collect();
    let mut expected = BTreeMap::new();
    for n in &names {
        let v = format!("value-of-{n}");
        set_with(&e, "vault", n, "acme/platform", &v).ok();
        expected.insert(n.clone(), v);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    frozen_dispatch_fails_closed(&e, &[bao.pid()], &refs, &refs, &expected);
}

/// The defect: each backend of a dispatch was asked after the previous one had answered,
/// so AWS and Vault frozen together held a dispatch for the sum of their bounds (21 s).
#[test]
fn aws_and_openbao_frozen_together_held_the_dispatch_for_the_sum_of_their_bounds() {
    let moto = Moto::start(&[]);
    let bao = PrivateBao::start();
    let mut e = vault_env(&bao);
    aws_vars(&mut e, &moto.url);
    set_with(&e, "aws_sm", "AWS_A", "acme/platform", "aws-a").ok();
    set_with(&e, "vault", "VAULT_A", "acme/platform", "vault-a").ok();
    e.set("LOCAL_ONE", "acme", "agent", "local-1").ok();
    let expected = [
        ("LOCAL_ONE", "local-1"),
        ("AWS_A", "aws-a"),
        ("VAULT_A", "vault-a"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    frozen_dispatch_fails_closed(
        &e,
        &[moto.pid(), bao.pid()],
        &["LOCAL_ONE", "AWS_A", "VAULT_A"],
        &["AWS_A", "VAULT_A"],
        &expected,
    );
}

// ── kill -9 of `serve` during writes ─────────────────────────────────────────────────

/// One acknowledged write: (name, version, value).
type Ack = (String, i64, String);

#[test]
fn every_write_acknowledged_before_a_kill_9_of_serve_is_readable_after_the_restart() {
    let env = Env::bare();
    let mut server = Server::start(&env, &[]);
    let root = server.root_token();
    let (code, _, text) = server.call("PUT", "/api/v1/orgs/acme", Some(&root), None);
    assert_eq!(code, 201, "{text}");
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, root, acks, stop) = (
                server.addr.clone(),
                root.clone(),
                acks.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let mut unanswered = 0;
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // Three secrets per writer: new ones and new versions of old ones.
                    let name = format!("W{w}_{}", n % 3);
                    let value = format!("writer-{w}-write-{n}");
                    let body = json!({"value": value, "category": "agent"}).to_string();
                    let path = format!("/api/v1/secrets/{name}?scope=acme");
                    match try_http(&addr, "PUT", &path, Some(&root), Some(&body)) {
                        Some((code, v, _)) if (200..300).contains(&code) => {
                            let version = v["version"].as_i64().unwrap();
                            acks.lock().unwrap().push((name, version, value));
                        }
                        Some((code, _, text)) => panic!("a write answered {code}: {text}"),
                        None => {
                            // The server is gone: this write may or may not have landed.
                            unanswered += 1;
                            break;
                        }
                    }
                }
                unanswered
            })
        })
        .collect();
    // Let the writers get going, then SIGKILL in the middle of their writes.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acks.lock().unwrap().len() < 150 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    let unanswered: i32 = writers.into_iter().map(|h| h.join().unwrap()).sum();
    drop(server);
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    assert!(acks.len() >= 150, "the writers wrote: {}", acks.len());

    let server = Server::start(&env, &[]);
    let mut latest: BTreeMap<&str, i64> = BTreeMap::new();
    for (name, version, value) in &acks {
        let (code, v, text) = server.call(
            "GET",
            &format!("/api/v1/secrets/{name}/value?scope=acme&version={version}"),
            Some(&root),
            None,
        );
        assert_eq!(code, 200, "acknowledged {name} v{version} lost: {text}");
        assert_eq!(v["value"], value.as_str(), "{name} v{version}");
        let l = latest.entry(name).or_default();
        *l = (*l).max(*version);
    }
    for (name, version) in &latest {
        let (code, v, text) = server.call(
            "GET",
            &format!("/api/v1/secrets/{name}?scope=acme"),
            Some(&root),
            None,
        );
        assert_eq!(code, 200, "{text}");
        assert!(
            v["version"].as_i64().unwrap() >= *version,
            "{name}: current {} behind the acknowledged {version}",
            v["version"]
        );
    }
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
    println!(
        "kill -9 during writes ({}): {} acknowledged writes of 4 clients, all readable \
         after the restart; {unanswered} in flight at the kill",
        if postgres_mode() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        acks.len()
    );
}

// ── The brief store failing ──────────────────────────────────────────────────────────

/// The keys of the objects in `bucket` on the moto at `url` (boto3, from the test venv).
fn s3_keys(url: &str, bucket: &str) -> Vec<String> {
    let out = std::process::Command::new(need("SECRETSTORE_TEST_PYTHON"))
        .args([
            "-c",
            "import boto3, sys; s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
             aws_access_key_id='test', aws_secret_access_key='test'); \
             [print(o['Key']) for o in s3.list_objects_v2(Bucket=sys.argv[2]).get('Contents', [])]",
            url,
            bucket,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A dispatch over HTTP that must fail closed because of the brief store: not 2xx, no
/// env and no callback token in the answer, no brief record, and the server's log names
/// the brief store (`store`). Returns how long the answer took.
fn dispatch_fails_closed_on_the_brief_store(
    e: &Env,
    server: &Server,
    root: &str,
    task: &str,
    store: &str,
) -> Duration {
    let rows = briefs_stored(e).0;
    let started = Instant::now();
    let (code, body, text) = server.call("POST", &dispatch_path(task), Some(root), None);
    let took = started.elapsed();
    assert_eq!(code, 503, "the dispatch failed: {text}");
    assert_eq!(body["error"]["code"], "brief_store_unavailable", "{text}");
    assert!(
        body.get("env").is_none() && !text.contains("sscb_") && !text.contains("canary"),
        "{text}"
    );
    assert_eq!(briefs_stored(e).0, rows, "no brief record: {text}");
    let log = server.stderr();
    assert!(
        log.contains(&format!("brief store {store}")),
        "the log names the brief store:\n{log}"
    );
    took
}

#[test]
fn an_s3_brief_store_frozen_or_killed_fails_the_dispatch_closed_and_stores_nothing() {
    let mut moto = Moto::start(&[]);
    let mut e = Env::new().with_tree();
    aws_vars(&mut e, &moto.url);
    let bucket = format!("briefs-{}", secretstore_testkit::unique());
    let out = std::process::Command::new("curl")
        .args(["-sf", "-X", "PUT", &format!("{}/{bucket}", moto.url)])
        .output()
        .unwrap();
    assert!(out.status.success(), "create the bucket");
    let store = format!("s3://{bucket}/briefs");
    e.vars.push(("BRIEF_STORE_URL".into(), store.clone()));
    e.set("A", "acme", "agent", "brief-store-canary").ok();
    let t = task(&e, &["A"]);
    let server = Server::start(&e, &[]);
    let root = server.root_token();
    let (code, _, text) = server.call("POST", &dispatch_path(&t), Some(&root), None);
    assert_eq!(code, 200, "{text}");
    let rows = briefs_stored(&e).0;
    assert_eq!(s3_keys(&moto.url, &bucket).len(), rows);

    // Frozen: the PutObject gets no answer.
    let frozen = Frozen::freeze(moto.pid());
    let took = dispatch_fails_closed_on_the_brief_store(&e, &server, &root, &t, &store);
    drop(frozen);
    assert!(
        took <= FROZEN_BOUND,
        "a frozen S3 held the dispatch {took:?}"
    );
    // The request reached moto before it froze: moto may store that object once it runs
    // again. It is a brief without a record: no token, nothing to complete.
    std::thread::sleep(Duration::from_millis(500));
    let orphans = s3_keys(&moto.url, &bucket).len() - rows;
    let (code, _, text) = server.call("POST", &dispatch_path(&t), Some(&root), None);
    assert_eq!(code, 200, "after SIGCONT: {text}");
    // Nothing half-stored: the server deletes the brief it could not record, once S3
    // answers again (in the background, a few times: the late PutObject may land after).
    let rows = briefs_stored(&e).0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut keys = s3_keys(&moto.url, &bucket).len();
    while keys != rows && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        keys = s3_keys(&moto.url, &bucket).len();
    }
    assert_eq!(
        keys, rows,
        "a brief object without a record stayed in S3 ({orphans} right after SIGCONT)"
    );

    // Killed: nothing listens.
    moto.kill();
    let rows = briefs_stored(&e).0;
    dispatch_fails_closed_on_the_brief_store(&e, &server, &root, &t, &store);
    let r = e.run(&["dispatch", &t, "--env-file", "agent.env"]);
    r.fails(1, &format!("brief store {store}"));
    assert!(!e.path("agent.env").exists(), "no env handed out");
    assert!(!r.stdout.contains("canary") && !r.stderr.contains("canary"));
    assert_eq!(briefs_stored(&e).0, rows);
    println!(
        "S3 brief store: frozen → dispatch failed in {took:.1?}, {orphans} object(s) without a \
         record right after SIGCONT, deleted by the server; killed → HTTP and CLI dispatches \
         failed, no record"
    );
}

#[test]
fn a_brief_folder_that_cannot_be_written_fails_the_dispatch_closed_and_stores_nothing() {
    let e = Env::new().with_tree();
    e.set("A", "acme", "agent", "brief-folder-canary").ok();
    let t = task(&e, &["A"]);
    let server = Server::start(&e, &[]);
    let root = server.root_token();
    let (code, _, text) = server.call("POST", &dispatch_path(&t), Some(&root), None);
    assert_eq!(code, 200, "{text}");
    // The brief folder replaced by a file: no mode bit stops root, this does.
    let folder = e.path("briefs");
    std::fs::remove_dir_all(&folder).unwrap();
    std::fs::write(&folder, b"not a folder").unwrap();
    // The default store, as the settings name it.
    let store = "./briefs";
    dispatch_fails_closed_on_the_brief_store(&e, &server, &root, &t, store);
    let r = e.run(&["dispatch", &t, "--env-file", "agent.env"]);
    r.fails(1, &format!("brief store {store}"));
    assert!(!e.path("agent.env").exists(), "no env handed out");
    assert_eq!(std::fs::read(&folder).unwrap(), b"not a folder");

    // A folder under a file: nothing can create it.
    let mut under = Env::new().with_tree();
    std::fs::write(under.path("plain-file"), b"x").unwrap();
    let store = under.path("plain-file/briefs").display().to_string();
    under.vars.push(("BRIEF_STORE_URL".into(), store.clone()));
    under.set("A", "acme", "agent", "brief-folder-canary").ok();
    let t = task(&under, &["A"]);
    let server = Server::start(&under, &[]);
    let root = server.root_token();
    dispatch_fails_closed_on_the_brief_store(&under, &server, &root, &t, &store);
    under
        .run(&["dispatch", &t, "--env-file", "agent.env"])
        .fails(1, &format!("brief store {store}"));
    assert!(!under.path("agent.env").exists());
    assert_eq!(briefs_stored(&under).0, 0, "no brief record");
    println!(
        "folder brief store: replaced by a file, and under a file → HTTP and CLI dispatches \
         failed, no record, no env"
    );
}

// ── kill -9 during `rekey` ───────────────────────────────────────────────────────────

/// What `rekey --dry-run` says: (values opened by the first key, by the second key).
fn keys_in_use(e: &Env) -> (usize, usize) {
    let out = e.run(&["rekey", "--dry-run"]).ok().to_string();
    assert!(!out.contains("no key"), "a value no key opens:\n{out}");
    let count = |label: &str| -> usize {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|n| n.trim().parse().unwrap())
            .unwrap_or(0)
    };
    (count("key #1 (the first: encrypts):"), count("key #2:"))
}

#[test]
fn rekey_killed_9_mid_way_again_and_again_is_completed_by_a_rerun_and_the_old_key_can_go() {
    let mut e = Env::new().with_tree();
    let old = crate::run_and_rekey::key_of(&e);
    const SECRETS: usize = 600;
    let total = 2 * SECRETS;
    // Two versions of each secret, under the old key.
    for round in 1..=2 {
        let dotenv: String = (0..SECRETS)
            .map(|i| format!("REKEYED_{i}=value-{i}-version-{round}\n"))
            .collect();
        std::fs::write(e.path("many.env"), dotenv).unwrap();
        e.run(&[
            "secret",
            "import",
            "many.env",
            "--scope",
            "acme",
            "--category",
            "agent",
        ])
        .ok();
    }
    let new = e.run(&["keygen"]).ok().trim().to_string();
    e.vars
        .push(("FERNET_SECRET_KEYS".into(), format!("{new},{old}")));
    e.vars.push(("FERNET_SECRET_KEY".into(), String::new()));
    assert_eq!(keys_in_use(&e), (0, total));

    // SIGKILL rekey part-way, again and again, each time a little later.
    let mut kills = Vec::new();
    let mut wait = Duration::from_millis(150);
    loop {
        let mut c = e.command(&["rekey", "--batch-size", "2"]);
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(wait);
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        child.wait().unwrap();
        let (moved, left) = keys_in_use(&e);
        assert_eq!(
            moved + left,
            total,
            "every value opens with one of the keys"
        );
        if finished || left == 0 {
            break;
        }
        kills.push(moved);
        if kills.len() == 6 {
            break;
        }
        wait = wait * 3 / 2;
    }
    let mid_way = kills.iter().filter(|&&m| m > 0 && m < total).count();
    assert!(
        mid_way > 0,
        "no kill landed mid-way (values under the new key after each kill: {kills:?})"
    );

    // The re-run completes.
    let done = e.run(&["rekey"]).ok().to_string();
    assert!(done.contains("can be dropped"), "{done}");
    // The new key alone opens every version of every secret.
    e.vars.retain(|(k, _)| k != "FERNET_SECRET_KEYS");
    e.vars.push(("FERNET_SECRET_KEYS".into(), new));
    assert_eq!(keys_in_use(&e), (total, 0));
    let server = Server::start(&e, &[]);
    let root = server.root_token();
    for i in 0..SECRETS {
        for version in 1..=2 {
            let (code, v, text) = server.call(
                "GET",
                &format!("/api/v1/secrets/REKEYED_{i}/value?scope=acme&version={version}"),
                Some(&root),
                None,
            );
            assert_eq!(code, 200, "REKEYED_{i} v{version}: {text}");
            assert_eq!(v["value"], format!("value-{i}-version-{version}").as_str());
        }
    }
    drop(server);
    // And the old key alone opens nothing any more.
    e.vars.retain(|(k, _)| k != "FERNET_SECRET_KEYS");
    e.vars.push(("FERNET_SECRET_KEYS".into(), old));
    e.run(&["secret", "get", "REKEYED_1", "--scope", "acme"])
        .fails(1, "does not match");
    println!(
        "kill -9 during rekey ({}): {total} values, killed {} times (values under the new key \
         after each kill: {kills:?}), the re-run completed, all {total} read back with the new \
         key alone",
        if postgres_mode() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        kills.len()
    );
}

// ── kill -9 during dispatches ────────────────────────────────────────────────────────

/// The SHA-256 of `s`, in lower-case hex (`sha256sum`).
fn sha256_hex(s: &str) -> String {
    use std::io::Write;
    let mut c = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// One dispatch answer received: (brief id, callback token, the env's value of `A`).
type Received = (String, String, String);

#[test]
fn after_a_kill_9_during_dispatches_every_returned_token_works_and_no_other_is_held_anywhere() {
    let env = Env::bare();
    let mut server = Server::start(&env, &[]);
    let root = server.root_token();
    server.make_tree(&root);
    let (code, _, text) = server.call(
        "PUT",
        "/api/v1/secrets/A?scope=acme/platform",
        Some(&root),
        Some(&json!({"value": "dispatched-value-a", "category": "agent"}).to_string()),
    );
    assert!((200..300).contains(&code), "{text}");
    let (code, t, text) = server.call(
        "POST",
        "/api/v1/tasks",
        Some(&root),
        Some(&json!({"project": "acme/platform/dev/agent-x", "secret_refs": ["A"]}).to_string()),
    );
    assert_eq!(code, 201, "{text}");
    let t = t["id"].as_str().unwrap().to_string();

    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, root, received, t) = (
                server.addr.clone(),
                root.clone(),
                received.clone(),
                t.clone(),
            );
            std::thread::spawn(move || {
                loop {
                    match try_http(&addr, "POST", &dispatch_path(&t), Some(&root), None) {
                        Some((200, d, _)) => received.lock().unwrap().push((
                            d["brief_id"].as_str().unwrap().to_string(),
                            d["env"]["SECRETSTORE_CALLBACK_TOKEN"]
                                .as_str()
                                .unwrap()
                                .to_string(),
                            d["env"]["A"].as_str().unwrap().to_string(),
                        )),
                        Some((code, _, text)) => panic!("a dispatch answered {code}: {text}"),
                        None => return,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while received.lock().unwrap().len() < 80 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for c in clients {
        c.join().unwrap();
    }
    drop(server);
    let received = std::mem::take(&mut *received.lock().unwrap());
    assert!(
        received.len() >= 80,
        "dispatches received: {}",
        received.len()
    );

    // What the database holds: each brief's id and token hash.
    let rows: BTreeMap<String, String> = env
        .sql("SELECT id, token_hash FROM briefs")
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let returned: BTreeSet<&str> = received.iter().map(|(b, _, _)| b.as_str()).collect();
    let lost: Vec<&String> = rows
        .keys()
        .filter(|id| !returned.contains(id.as_str()))
        .collect();
    for hash in rows.values() {
        assert!(
            hash.len() == 64 && hash.bytes().all(|c| c.is_ascii_hexdigit()),
            "a token is stored as its SHA-256 only: {hash}"
        );
    }
    // No callback token, returned or not, is anywhere on disk (database, WAL, briefs,
    // logs; in postgres mode a dump of the database).
    for (path, bytes) in env.all_bytes() {
        assert!(
            !contains(&bytes, b"sscb_"),
            "a callback token in {}",
            path.display()
        );
    }

    let server = Server::start(&env, &[]);
    // Every returned dispatch: recorded, its token's hash stored, the token works.
    for (brief, token, value) in &received {
        assert_eq!(value, "dispatched-value-a");
        assert_eq!(
            rows.get(brief),
            Some(&sha256_hex(token)),
            "brief {brief} whose answer arrived"
        );
        let (code, _, text) = server.call(
            "POST",
            &format!("/api/v1/briefs/{brief}/callback"),
            Some(token),
            Some("{}"),
        );
        assert_eq!(code, 200, "the callback of returned brief {brief}: {text}");
    }
    // A brief whose answer never arrived: no token anyone holds completes it (tried with
    // the tokens that were handed out, a few: failed attempts are rate limited).
    for (n, id) in lost.iter().take(3).enumerate() {
        let token = &received[n % received.len()].1;
        let (code, _, text) = server.call(
            "POST",
            &format!("/api/v1/briefs/{id}/callback"),
            Some(token),
            Some("{}"),
        );
        assert_eq!(code, 401, "a token of another brief completed {id}: {text}");
        let (_, b, _) = server.call("GET", &format!("/api/v1/briefs/{id}"), Some(&root), None);
        assert_ne!(b["status"], "completed", "{b}");
    }
    let orphan_files = std::fs::read_dir(env.path("briefs"))
        .map(|d| {
            d.flatten()
                .filter(|f| {
                    let name = f.file_name().to_string_lossy().to_string();
                    !rows.contains_key(name.trim_end_matches(".json"))
                })
                .count()
        })
        .unwrap_or(0);
    println!(
        "kill -9 during dispatches ({}): {} answers received, each token valid after the \
         restart; {} briefs recorded whose answer never arrived (token held nowhere), {} brief \
         files without a record",
        if postgres_mode() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        received.len(),
        lost.len(),
        orphan_files
    );
}

/// The defect: a dispatch whose brief could not be stored was answered 500 `internal`
/// "internal error", as if secretstore had a bug, and the client could not tell that the
/// brief store was down (a retry later helps) nor that nothing was dispatched.
#[test]
fn a_failing_brief_store_was_answered_500_internal_error_without_naming_the_brief_store() {
    let mut e = Env::new().with_tree();
    std::fs::write(e.path("plain-file"), b"x").unwrap();
    let store = e.path("plain-file/briefs").display().to_string();
    e.vars.push(("BRIEF_STORE_URL".into(), store.clone()));
    e.set("A", "acme", "agent", "brief-store-canary").ok();
    let t = task(&e, &["A"]);
    let server = Server::start(&e, &[]);
    let root = server.root_token();
    let (code, body, text) = server.call("POST", &dispatch_path(&t), Some(&root), None);
    assert_eq!(code, 503, "{text}");
    assert_eq!(body["error"]["code"], "brief_store_unavailable", "{text}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("brief store") && message.contains("nothing was dispatched"),
        "{text}"
    );
    // The answer does not show the server's paths; the log has the detail.
    assert!(!text.contains(&store), "{text}");
    assert!(server.stderr().contains(&format!("brief store {store}")));
}

/// The defect: a dispatch whose brief was written but whose record then failed (the
/// database locked past its busy timeout) left the brief file behind, without a record:
/// half a dispatch. Now the brief is taken back. SQLite: the lock is the database's write
/// lock (PostgreSQL's test lock is on `secrets` alone, which a dispatch's record does not
/// wait for).
#[test]
fn a_dispatch_whose_record_failed_left_its_brief_file_without_a_record() {
    let e = Env::new().with_tree();
    if e.pg_url.is_some() {
        println!("SQLite only: the test lock on PostgreSQL does not stall a dispatch's record");
        return;
    }
    e.set("A", "acme", "agent", "record-fails-canary").ok();
    let t = task(&e, &["A"]);
    let server = Server::start(&e, &[]);
    let root = server.root_token();
    let (code, _, text) = server.call("POST", &dispatch_path(&t), Some(&root), None);
    assert_eq!(code, 200, "{text}");
    assert_eq!(briefs_stored(&e), (1, 1));

    let lock = lock::TableLock::take(&e);
    let (code, body, text) = server.call("POST", &dispatch_path(&t), Some(&root), None);
    drop(lock);
    assert!(
        code >= 500,
        "a dispatch with its record failed: {code} {text}"
    );
    assert!(
        body.get("env").is_none() && !text.contains("canary"),
        "{text}"
    );
    assert_eq!(
        briefs_stored(&e),
        (1, 1),
        "the failed dispatch's brief is taken back"
    );
}

/// Reveals are audited durably although their records are group-committed: after a
/// kill -9 of `serve` in the middle of many reveals, every reveal that was answered has
/// its audit record (those in flight at the kill may have one too).
#[test]
fn every_reveal_answered_before_a_kill_9_of_serve_has_its_audit_record() {
    let env = Env::bare();
    let mut server = Server::start(&env, &[]);
    let root = server.root_token();
    let (code, _, text) = server.call("PUT", "/api/v1/orgs/acme", Some(&root), None);
    assert_eq!(code, 201, "{text}");
    let body = json!({"value": "reveal-me", "category": "agent"}).to_string();
    let (code, _, text) = server.call(
        "PUT",
        "/api/v1/secrets/REVEALED?scope=acme",
        Some(&root),
        Some(&body),
    );
    assert_eq!(code, 200, "{text}");
    let count = |env: &Env| -> usize {
        env.sql("SELECT count(*) FROM audit WHERE action = 'secret.reveal'")
            .trim()
            .parse()
            .unwrap()
    };
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (addr, root, answered) = (server.addr.clone(), root.clone(), answered.clone());
            std::thread::spawn(move || {
                let path = "/api/v1/secrets/REVEALED/value?scope=acme";
                while let Some((code, _, text)) = try_http(&addr, "GET", path, Some(&root), None) {
                    assert_eq!(code, 200, "a reveal answered {code}: {text}");
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while answered.load(Ordering::SeqCst) < 400 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    let answered = answered.load(Ordering::SeqCst);
    assert!(answered >= 400, "the readers read: {answered}");
    drop(server);
    let recorded = count(&env);
    assert!(
        recorded >= answered,
        "{answered} reveals answered, {recorded} audit records after the kill"
    );
    println!("kill -9 during reveals: {answered} answered, {recorded} recorded");
}
