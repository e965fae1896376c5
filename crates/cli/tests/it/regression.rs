//! Regression tests: each pins a defect that was found and fixed, and names it (most are
//! issue 10's, which a review that tried the code as an attacker reproduced). The test
//! bodies are the ones written with the fix; they moved here from the module of their
//! area, whose helpers they use.

use crate::backends::{
    assert_nowhere, aws_state, aws_vars, db_current, link_world, race_puts, refused, set_with,
    sm_prefix, tag, two_servers, uniq, vault_api, vault_put, vault_state, vault_token_writing_only,
    vault_vars,
};
use crate::browser::GroupChild;
use crate::cli_errors::run_vars;
use crate::cli_flow::{mode, umask0};
use crate::common::*;
use crate::run_and_rekey::{fernet_tokens, key_of, task};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "acme/platform/dev/agent-x";

/// Issue 10, item 1: `link` was a confused deputy. A member of one team could link another team's
/// AWS secret (`secretstore/<other team>/…`, which the server's AWS identity reads) and then read,
/// overwrite and roll back that team's value through the link.
#[test]
fn link_to_another_teams_aws_secret_is_refused() {
    let w = link_world("aws_sm");
    let prefix = sm_prefix(&w.e);
    // Team b's secret, which secretstore created in AWS for acme/other.
    let (s, _, t) = w.put(&w.bob, "acme/other", "DB_PW", "team-b-canary-7781");
    assert_eq!(s, 200, "{t}");
    let b_name = format!("{prefix}acme/other/DB_PW");
    let b_arn = w
        .e
        .sql("SELECT backend_ref FROM secret_versions WHERE backend_ref LIKE '%acme/other/DB_PW%'")
        .trim()
        .to_string();
    assert!(b_arn.starts_with("arn:aws:secretsmanager:"), "{b_arn}");
    // The exploit: a member of acme/platform links it by name, by ARN, by a partial ARN.
    let partial = b_arn[..b_arn.len() - 7].to_string();
    for reference in [&b_name, &b_arn, &partial] {
        let a = w.link(&w.alice, "acme/platform", "STOLEN", "aws_arn", reference);
        refused(&a, reference, &[&b_arn, "team-b-canary"]);
    }
    // Nothing was written: nothing to read.
    assert_eq!(w.value(&w.alice, "acme/platform", "STOLEN").0, 404);
    // Not even an allowed prefix that covers secretstore's own names lets another scope in.
    w.e.run(&["org", "allow-links", "acme", "--aws-prefix", &prefix])
        .ok();
    let a = w.link(&w.alice, "acme/platform", "STOLEN", "aws_arn", &b_arn);
    refused(&a, &b_arn, &["team-b-canary"]);
    // Nor an admin of the organization.
    let a = w.link(&w.ada, "acme/platform", "STOLEN", "aws_arn", &b_name);
    refused(&a, &b_name, &[&b_arn]);
    assert_eq!(w.value(&w.alice, "acme/platform", "STOLEN").0, 404);
    // The AWS value was not changed by anyone.
    let (s, v, t) = w.value(&w.bob, "acme/other", "DB_PW");
    assert_eq!(
        (s, v["value"].as_str()),
        (200, Some("team-b-canary-7781")),
        "{t}"
    );
    // Every refused attempt is audited, who and where, never the reference.
    let audit = w.e.run(&["audit", "--json"]).ok().to_string();
    let records: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r["action"] == "secret.link_refused")
        .collect();
    assert_eq!(refused.len(), 5, "{audit}");
    assert!(refused.iter().all(|r| r["scope"] == "acme/platform"
        && r["name"] == "STOLEN"
        && r["detail"]["backend"] == "aws_sm"));
    assert_eq!(
        refused.iter().filter(|r| r["actor"] == "alice").count(),
        4,
        "{audit}"
    );
    assert!(
        !audit.contains(&b_arn) && !audit.contains("acme/other/DB_PW"),
        "{audit}"
    );
}

/// Issue 10, item 1: the same confused deputy through Vault (`secret/secretstore/<other team>/…#value`).
#[test]
fn link_to_another_teams_vault_secret_is_refused() {
    let w = link_world("vault");
    let t = tag(&w.e);
    let name = format!("DB_PW_{t}");
    let (s, _, txt) = w.put(&w.bob, "acme/other", &name, "vault-b-canary-3391");
    assert_eq!(s, 200, "{txt}");
    let own = format!("secret/secretstore/acme/other/{name}");
    // Every spelling of team b's own path, and another field of it.
    for reference in [format!("{own}#value"), format!("{own}#other")] {
        let a = w.link(
            &w.alice,
            "acme/platform",
            "STOLEN",
            "vault_path",
            &reference,
        );
        refused(&a, &reference, &["vault-b-canary"]);
    }
    assert_eq!(w.value(&w.alice, "acme/platform", "STOLEN").0, 404);
    // Even with secretstore's whole tree allowed.
    w.e.run(&[
        "org",
        "allow-links",
        "acme",
        "--vault-prefix",
        "secret/secretstore",
    ])
    .ok();
    let a = w.link(
        &w.alice,
        "acme/platform",
        "STOLEN",
        "vault_path",
        &format!("{own}#value"),
    );
    refused(&a, &own, &["vault-b-canary"]);
    let a = w.link(
        &w.ada,
        "acme/platform",
        "STOLEN",
        "vault_path",
        &format!("{own}#value"),
    );
    refused(&a, &own, &["vault-b-canary"]);
    // Prefixes: segments, not strings; no `..`.
    let apps = format!("h4apps{}", t.to_lowercase());
    vault_put(
        &format!("{apps}/a/db"),
        serde_json::json!({"password": "in-a"}),
    );
    vault_put(
        &format!("{apps}/ab/db"),
        serde_json::json!({"password": "in-ab"}),
    );
    w.e.run(&[
        "org",
        "allow-links",
        "acme",
        "--vault-prefix",
        &format!("secret/{apps}/a"),
    ])
    .ok();
    let (s, _, txt) = w.link(
        &w.alice,
        "acme/platform",
        "IN_A",
        "vault_path",
        &format!("secret/{apps}/a/db#password"),
    );
    assert_eq!(s, 200, "{txt}");
    let (s, v, _) = w.value(&w.alice, "acme/platform", "IN_A");
    assert_eq!((s, v["value"].as_str()), (200, Some("in-a")));
    for r in [
        format!("secret/{apps}/ab/db#password"),
        format!("secret/{apps}/a/../ab/db#password"),
    ] {
        let a = w.link(&w.alice, "acme/platform", "IN_AB", "vault_path", &r);
        assert!(a.0 == 403 || a.0 == 400, "{r}: {}", a.2);
        assert!(!a.2.contains("in-ab"));
    }
    // Another organization's admin: nothing allowed for globex.
    let a = w.link(
        &w.gus,
        "globex",
        "IN_A",
        "vault_path",
        &format!("secret/{apps}/a/db#password"),
    );
    refused(&a, &apps, &[]);
    // Root: anywhere.
    let (s, _, txt) = w.link(
        &w.root,
        "acme/platform",
        "ROOT_B",
        "vault_path",
        &format!("{own}#value"),
    );
    assert_eq!(s, 200, "{txt}");
    let (s, v, _) = w.value(&w.alice, "acme/platform", "ROOT_B");
    assert_eq!((s, v["value"].as_str()), (200, Some("vault-b-canary-3391")));
    // Narrowed: the member's link is refused on reveal and write; root's approved one is not.
    w.e.run(&["org", "allow-links", "acme", "--none"]).ok();
    refused(
        &w.value(&w.alice, "acme/platform", "IN_A"),
        "",
        &["in-a", &apps],
    );
    refused(
        &w.put(&w.alice, "acme/platform", "IN_A", "overwritten"),
        "",
        &[&apps],
    );
    assert_eq!(w.value(&w.alice, "acme/platform", "ROOT_B").0, 200);
    let doctor = w.e.run(&["doctor"]);
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("acme/platform IN_A"),
        "{}",
        doctor.stdout
    );
    assert!(
        !doctor.stdout.contains("acme/platform ROOT_B"),
        "{}",
        doctor.stdout
    );
}

/// Issue 10, item 5: AWS was written before the database compare-and-swap, so the loser of an
/// `expected_version` race got 409 "nothing was changed" while its value was already current in AWS.
#[test]
fn an_aws_write_that_loses_the_expected_version_race_never_changes_aws() {
    let mut e = Env::bare();
    aws_vars(&mut e, &need("SECRETSTORE_TEST_MOTO_URL"));
    let prefix = e
        .vars
        .iter()
        .find(|(k, _)| k == "AWS_SM_PREFIX")
        .unwrap()
        .1
        .clone();
    let (a, b, root) = two_servers(&e, "aws_sm");
    let name = "RACED";
    let (code, _, text) = a.call(
        "PUT",
        &format!("/api/v1/secrets/{name}?scope=acme/platform"),
        Some(&root),
        Some(&serde_json::json!({"value": "start", "category": "agent"}).to_string()),
    );
    assert_eq!(code, 200, "{text}");
    let results = race_puts(&[&a, &b], &root, name, "writer", 8, Some(1));
    let winners: Vec<&(String, u16)> = results.iter().filter(|(_, c)| *c == 200).collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {results:?}");
    assert!(
        results.iter().all(|(_, c)| *c == 200 || *c == 409),
        "the others lose with 409: {results:?}"
    );
    let secret_id = format!("{prefix}acme/platform/{name}");
    let (current_id, current, all) = aws_state(&secret_id);
    assert_eq!(current, winners[0].0, "AWSCURRENT holds the winner's value");
    let mut want = vec!["start".to_owned(), winners[0].0.clone()];
    want.sort();
    assert_eq!(all, want, "no loser's value was ever written to AWS");
    assert_eq!(db_current(&e, name), (2, current_id));

    // Writers without expected_version all win, one after the other; the database's
    // current version is AWS's current value.
    let results = race_puts(&[&a, &b], &root, name, "free", 8, None);
    assert!(results.iter().all(|(_, c)| *c == 200), "{results:?}");
    let (current_id, current, all) = aws_state(&secret_id);
    assert_eq!(all.len(), 10);
    assert_eq!(db_current(&e, name), (10, current_id));
    let (code, v, text) = a.call(
        "GET",
        &format!("/api/v1/secrets/{name}/value?scope=acme/platform&version=10"),
        Some(&root),
        None,
    );
    assert_eq!(code, 200, "{text}");
    assert_eq!(v["value"], current.as_str());
}

/// Issue 10, item 5: the same race against Vault: the loser's value was already the current KV version.
#[test]
fn a_vault_write_that_loses_the_expected_version_race_never_changes_vault() {
    let mut e = Env::bare();
    vault_vars(&mut e);
    let (a, b, root) = two_servers(&e, "vault");
    let name = format!("RACED_{}", uniq(&e));
    let (code, _, text) = a.call(
        "PUT",
        &format!("/api/v1/secrets/{name}?scope=acme/platform"),
        Some(&root),
        Some(&serde_json::json!({"value": "start", "category": "agent"}).to_string()),
    );
    assert_eq!(code, 200, "{text}");
    let results = race_puts(&[&a, &b], &root, &name, "writer", 8, Some(1));
    let winners: Vec<&(String, u16)> = results.iter().filter(|(_, c)| *c == 200).collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {results:?}");
    assert!(
        results.iter().all(|(_, c)| *c == 200 || *c == 409),
        "the others lose with 409: {results:?}"
    );
    let path = format!("secretstore/acme/platform/{name}");
    let (current, count, value) = vault_state(&path);
    assert_eq!(
        (current, count),
        (2, 2),
        "no loser's value was ever written to Vault"
    );
    assert_eq!(value.as_deref(), Some(winners[0].0.as_str()));
    assert_eq!(db_current(&e, &name), (2, "2".to_owned()));

    let results = race_puts(&[&a, &b], &root, &name, "free", 8, None);
    assert!(results.iter().all(|(_, c)| *c == 200), "{results:?}");
    let (current, count, value) = vault_state(&path);
    assert_eq!((current, count), (10, 10));
    assert_eq!(db_current(&e, &name), (10, "10".to_owned()));
    let (code, v, text) = a.call(
        "GET",
        &format!("/api/v1/secrets/{name}/value?scope=acme/platform&version=10"),
        Some(&root),
        None,
    );
    assert_eq!(code, 200, "{text}");
    assert_eq!(v["value"].as_str(), value.as_deref());
}

/// Issue 10, item 5: an `import` that failed on entry k had already changed entries 1..k-1 in the
/// backend, yet reported that nothing was imported.
#[test]
fn an_import_that_fails_on_a_later_vault_entry_undoes_the_external_writes_already_made() {
    let mut e = Env::new().with_tree();
    aws_vars(&mut e, &need("SECRETSTORE_TEST_MOTO_URL"));
    vault_vars(&mut e);
    let prefix = e
        .vars
        .iter()
        .find(|(k, _)| k == "AWS_SM_PREFIX")
        .unwrap()
        .1
        .clone();
    let u = uniq(&e);
    let (aws, writable, readonly) = (format!("AWS_{u}"), format!("VW_{u}"), format!("VR_{u}"));
    set_with(&e, "aws_sm", &aws, "acme/platform", "aws-old").ok();
    set_with(&e, "vault", &writable, "acme/platform", "vw-old").ok();
    set_with(&e, "vault", &readonly, "acme/platform", "vr-old").ok();
    let versions_before = e.sql("SELECT name, current_version FROM secrets ORDER BY name");
    let aws_before = aws_state(&format!("{prefix}acme/platform/{aws}"));
    std::fs::write(
        e.path("import.env"),
        format!("{aws}=aws-new\n{writable}=vw-new\n{readonly}=vr-new\n"),
    )
    .unwrap();
    let token = vault_token_writing_only(&format!("secretstore/acme/platform/{writable}"));
    let mut c = e.command(&[
        "secret",
        "import",
        "import.env",
        "--scope",
        "acme/platform",
        "--category",
        "agent",
    ]);
    c.env("VAULT_TOKEN", &token);
    let r = run_with(&mut c, b"");
    r.fails(1, "the 2 external writes already made were undone");
    assert!(
        r.stderr.contains(&readonly),
        "names the entry that failed: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("-new"),
        "no value in the error: {}",
        r.stderr
    );

    // AWS: AWSCURRENT is back on the old version.
    let (id, value, _) = aws_state(&format!("{prefix}acme/platform/{aws}"));
    assert_eq!(
        (id.as_str(), value.as_str()),
        (aws_before.0.as_str(), "aws-old")
    );
    // Vault: the old value is current again and the new version is destroyed.
    let path = format!("secretstore/acme/platform/{writable}");
    let (current, _, value) = vault_state(&path);
    assert_eq!(value.as_deref(), Some("vw-old"));
    assert_eq!(
        current, 3,
        "the undo is a new version holding the old value"
    );
    let (_, v2) = vault_api("GET", &format!("secret/data/{path}?version=2"), None);
    assert_eq!(v2["data"]["metadata"]["destroyed"], true, "{v2}");
    let (_, _, value) = vault_state(&format!("secretstore/acme/platform/{readonly}"));
    assert_eq!(value.as_deref(), Some("vr-old"));
    // The database: nothing changed.
    assert_eq!(
        e.sql("SELECT name, current_version FROM secrets ORDER BY name"),
        versions_before
    );
    std::fs::remove_file(e.path("import.env")).unwrap();
    assert_nowhere(&e, "aws-new");
}

/// Issue 10, item 2: a member set a secret named `BASH_ENV` to `$(cat .env > stolen.txt)`, and the
/// next `secretstore run` of a task that refs it wrote the master key to `stolen.txt`.
#[test]
fn a_secret_named_bash_env_cannot_make_run_copy_the_master_key() {
    let e = Env::new().with_tree();
    e.set("A", "acme", "agent", "value-a").ok();
    // The attack of the issue: the next `run` of a task that refs it would run it in bash.
    let attack = "$(cat .env > stolen.txt)";
    e.set("BASH_ENV", "acme/platform", "agent", attack)
        .fails(1, "BASH_ENV is an unsafe environment name");
    e.run(&[
        "task",
        "create",
        "--project",
        PROJECT,
        "--ref",
        "A",
        "--ref",
        "BASH_ENV",
    ])
    .fails(1, "BASH_ENV is an unsafe environment name");
    // Whatever the member could store, a run of a bash script copies nothing.
    let t = task(&e, &["A"]);
    let r = e.run(&["run", "--task", &t, "--", "bash", "-c", "true"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !e.path("stolen.txt").exists(),
        "the master key was copied by BASH_ENV"
    );
}

/// Issue 10, item 4: a `run` whose command failed to start left a live 24-hour callback token.
#[test]
fn run_whose_command_cannot_start_revokes_its_callback_token() {
    let env = Env::new().with_tree();
    env.set("A", "acme", "agent", "spawn-canary-value").ok();
    let task = env
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    let r = env.run(&["run", "--task", &task, "--", "/nonexistent/cmd"]);
    r.fails(1, "cannot run /nonexistent/cmd");
    assert!(
        r.stderr.contains("revoked"),
        "the error says the token was revoked: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("spawn-canary-value") && !r.stderr.contains("sscb_"));
    // The brief that was dispatched for it is revoked: its token is dead.
    let audit: serde_json::Value =
        serde_json::from_str(env.run(&["audit", "--json"]).ok()).unwrap();
    let records = audit.as_array().unwrap();
    let brief = records
        .iter()
        .find(|r| r["action"] == "task.dispatch")
        .and_then(|r| r["target"].as_str())
        .expect("a dispatch record")
        .to_string();
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "brief.revoke" && r["target"] == brief.as_str()),
        "{audit}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(env.run(&["brief", "show", &brief]).ok()).unwrap();
    assert_eq!(shown["status"], "revoked");
    assert_eq!(
        env.sql(&format!(
            "SELECT status FROM briefs WHERE id = '{brief}' AND revoked_at IS NOT NULL"
        ))
        .trim(),
        "revoked"
    );
}

/// Issue 10, item 6: the SQLite database, its WAL and the brief files were created 0644
/// (world-readable).
#[cfg(unix)]
#[test]
fn every_file_secretstore_creates_is_owner_only_whatever_the_umask() {
    let e = Env::bare();
    umask0(&e, &["init"], b"").ok();
    for (kind, path) in [
        ("org", "acme"),
        ("team", "acme/platform"),
        ("workspace", "acme/platform/dev"),
        ("project", PROJECT),
    ] {
        umask0(&e, &[kind, "create", path], b"").ok();
    }
    umask0(
        &e,
        &[
            "secret",
            "set",
            "A",
            "--scope",
            "acme",
            "--category",
            "agent",
        ],
        b"value-a",
    )
    .ok();
    let t = umask0(
        &e,
        &["task", "create", "--project", PROJECT, "--ref", "A"],
        b"",
    )
    .ok()
    .trim()
    .to_string();
    umask0(&e, &["dispatch", &t, "--env-file", "task.env"], b"").ok();
    // While secretstore holds the database open, its WAL and shared-memory files exist:
    // the command of `run` looks at them.
    let seen = umask0(
        &e,
        &[
            "run",
            "--task",
            &t,
            "--no-mask",
            "--",
            "sh",
            "-c",
            "for f in secretstore.db secretstore.db-wal secretstore.db-shm; do [ -e $f ] && stat -c '%n %a' $f; done; true",
        ],
        b"",
    );
    let seen = seen.ok().to_string();
    assert_eq!(mode(&e.path(".env")), 0o600, ".env");
    assert_eq!(mode(&e.path("task.env")), 0o600, "dispatch --env-file");
    assert_eq!(mode(&e.path("briefs")), 0o700, "the brief folder");
    let briefs: Vec<_> = std::fs::read_dir(e.path("briefs"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert_eq!(briefs.len(), 2, "{briefs:?}");
    for b in &briefs {
        assert_eq!(mode(b), 0o600, "{}", b.display());
    }
    if !postgres_mode() {
        assert_eq!(mode(&e.path("secretstore.db")), 0o600, "the database");
        assert!(
            seen.contains("secretstore.db-wal") && seen.contains("secretstore.db-shm"),
            "{seen}"
        );
        for line in seen.lines() {
            assert!(line.ends_with(" 600"), "not owner-only: {line}");
        }
    }
}

/// Issue 10, item 6: after `rekey` finished, thousands of Fernet tokens under the retired key were
/// still in the database file and WAL (free pages): a thief with the old key and a copy of the file
/// read old values.
#[test]
fn after_rekey_no_token_under_the_retired_key_is_left_in_the_database_files() {
    let mut e = Env::new().with_tree();
    let old = key_of(&e);
    // A few hundred values, each with a few versions (and a deleted secret).
    let mut dotenv = String::new();
    for i in 0..300 {
        dotenv.push_str(&format!("RETIRED_{i}=retired-value-{i}\n"));
    }
    std::fs::write(e.path("many.env"), &dotenv).unwrap();
    for _ in 0..3 {
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
    e.run(&["secret", "delete", "RETIRED_7", "--scope", "acme"])
        .ok();
    // A server holds the database open the whole time: its WAL stays on disk.
    let server = server::Server::start(&e, &[]);
    let new = e.run(&["keygen"]).ok().trim().to_string();
    e.vars
        .push(("FERNET_SECRET_KEYS".into(), format!("{new},{old}")));
    e.vars.push(("FERNET_SECRET_KEY".into(), String::new()));
    let done = e.run(&["rekey"]).ok().to_string();
    assert!(done.contains("re-encrypted"), "{done}");
    let retired = fernet::Fernet::new(&old).unwrap();
    let current = fernet::Fernet::new(&new).unwrap();
    let mut seen = 0;
    let mut under_new = 0;
    let files: Vec<(std::path::PathBuf, Vec<u8>)> = match &e.pg_url {
        // PostgreSQL's files are the server's: the dump shows what the tables hold.
        Some(_) => e.all_bytes(),
        None => ["secretstore.db", "secretstore.db-wal", "secretstore.db-shm"]
            .iter()
            .filter_map(|f| std::fs::read(e.path(f)).ok().map(|b| (e.path(f), b)))
            .collect(),
    };
    for (path, bytes) in &files {
        for token in fernet_tokens(bytes) {
            seen += 1;
            assert!(
                retired.decrypt(&token).is_err(),
                "{} still holds a token that the retired key opens",
                path.display()
            );
            if current.decrypt(&token).is_ok() {
                under_new += 1;
            }
        }
    }
    assert!(seen > 0 && under_new > 0, "the scan found the new tokens");
    // And the values are all there under the new key.
    let t = task(&e, &["RETIRED_0", "RETIRED_299"]);
    let d: serde_json::Value =
        serde_json::from_str(e.run(&["dispatch", &t, "--json"]).ok()).unwrap();
    assert_eq!(d["env"]["RETIRED_299"], "retired-value-299");
    drop(server);
}

/// Issue 10, item 9: `SECRETSTORE_CALLBACK_TTL=9223372036854775807` panicked at every dispatch.
#[test]
fn a_huge_callback_ttl_is_a_start_up_error_not_a_panic_at_dispatch() {
    let env = Env::new().with_tree();
    env.set("A", "acme", "agent", "value-a").ok();
    let t = env
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    let cases: &[(&str, &str, &str)] = &[
        (
            "SECRETSTORE_CALLBACK_TTL",
            "9223372036854775807",
            "SECRETSTORE_CALLBACK_TTL must be between 1s and 30d",
        ),
        (
            "SECRETSTORE_CALLBACK_TTL",
            "106751991167300d",
            "SECRETSTORE_CALLBACK_TTL must be between 1s and 30d",
        ),
        (
            "SECRETSTORE_CALLBACK_TTL",
            "31d",
            "SECRETSTORE_CALLBACK_TTL must be between 1s and 30d",
        ),
        (
            "DATABASE_ACQUIRE_TIMEOUT",
            "9223372036854775807",
            "DATABASE_ACQUIRE_TIMEOUT must be between 1s and 10m",
        ),
        (
            "DATABASE_MAX_CONNECTIONS",
            "4294967295",
            "DATABASE_MAX_CONNECTIONS must be between 1 and 1000",
        ),
        (
            "DATABASE_MAX_CONNECTIONS",
            "0",
            "DATABASE_MAX_CONNECTIONS must be between 1 and 1000",
        ),
    ];
    for (k, v, needle) in cases {
        let r = run_vars(&env, &[(k, v)], &["dispatch", &t, "--json"], b"");
        r.fails(1, needle);
        assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
    assert_eq!(env.sql("SELECT COUNT(*) FROM briefs").trim(), "0");
    // The bounds themselves are accepted.
    for ttl in ["1s", "30d"] {
        run_vars(
            &env,
            &[("SECRETSTORE_CALLBACK_TTL", ttl)],
            &["dispatch", &t],
            b"",
        )
        .ok();
    }
}

/// Issue 10, item 9: invalid names and scope paths were echoed back whole in errors, so a value
/// pasted into the wrong field ended up in the output.
#[test]
fn invalid_names_and_scopes_are_echoed_only_as_a_short_prefix() {
    let env = Env::new().with_tree();
    // A value pasted into the name field, then into the scope field.
    let pasted = "SK_LIVE_0123456789ABCDEFGHIJ-klmnopqrstuvwxyz";
    let tail = "0123456789";
    let r = env.run_stdin(
        &[
            "secret",
            "set",
            pasted,
            "--scope",
            "acme",
            "--category",
            "agent",
        ],
        b"v",
    );
    r.fails(1, "invalid secret name \"SK_LIVE_…\"");
    assert!(!r.stderr.contains(tail), "{}", r.stderr);
    let scope_paste = "ghp_0123456789ABCDEFabcdef";
    for args in [
        vec!["secret", "list", "--scope", scope_paste],
        vec!["secret", "get", "A", "--scope", scope_paste],
        vec!["org", "create", scope_paste],
        vec!["task", "create", "--project", scope_paste, "--ref", "A"],
    ] {
        let r = env.run(&args);
        r.fails(1, "invalid scope path \"ghp_0123…\"");
        assert!(!r.stderr.contains(tail), "{args:?}: {}", r.stderr);
    }
    let r = env.run(&["task", "create", "--project", PROJECT, "--ref", pasted]);
    r.fails(1, "invalid secret name");
    assert!(!r.stderr.contains(tail), "{}", r.stderr);
}

/// The browser tests' process-group guard (`browser::GroupChild`) killed every process of the user.
///
/// Regression: the guard once ran `kill -KILL -<pgid>`, which procps' kill turns into
/// kill(-1, SIGKILL) for a pgid starting with 1, killing every process of the user.
/// Running, as opposed to gone or a zombie.
#[cfg(unix)]
#[test]
fn dropping_the_guard_kills_its_own_process_group_and_nothing_else() {
    use std::io::BufRead;
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
            .unwrap_or(false)
    }
    let bystander = GroupChild::spawn(Command::new("sleep").arg("30")).unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 30 & echo $!; wait"])
        .stdout(Stdio::piped());
    let mut guarded = GroupChild::spawn(&mut cmd).unwrap();
    let mut line = String::new();
    std::io::BufReader::new(guarded.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let grandchild: u32 = line.trim().parse().unwrap();
    assert!(alive(grandchild));
    drop(guarded);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(grandchild) {
        assert!(Instant::now() < deadline, "the guarded group survived");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(alive(bystander.0.id()), "the bystander was killed");
    drop(bystander);
}
