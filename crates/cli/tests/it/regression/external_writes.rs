//! Issue 10, item 5: external writes and the version check in one step.

use super::*;

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

/// Issue 12: the request timeout dropped the route's future, so a Vault write answered 503
/// `timeout` ("abandoned") could be cut after the backend write and before the database
/// recorded it: Vault's current value was one the database never recorded (a dispatch
/// then handed out a value under the previous version's number), and its reservation held
/// the secret until its TTL. Now the route runs to completion on its own.
///
/// On PostgreSQL (the test server's, also in the SQLite pass): its lock modes can stall
/// the recording step (writes of `secrets`) while the reservation's reads go through.
#[test]
fn a_vault_write_answered_503_timeout_is_never_cut_between_the_backend_and_the_record() {
    let mut e = Env::bare();
    let pg = new_pg_database();
    e.vars.retain(|(k, _)| k != "DATABASE_URL");
    e.vars.push(("DATABASE_URL".into(), pg.clone()));
    e.pg_url = Some(pg);
    vault_vars(&mut e);
    e.run(&["init"]).ok();
    let s = server::Server::start(
        &e,
        &[
            ("SECRET_BACKEND", "vault"),
            ("SECRETSTORE_REQUEST_TIMEOUT", "1s"),
        ],
    );
    let root = s.root_token();
    let (st, _, text) = s.call("PUT", "/api/v1/orgs/acme", Some(&root), None);
    assert_eq!(st, 201, "{text}");
    let name = format!("CUT_{}", uniq(&e));
    let put = |value: &str| {
        s.call(
            "PUT",
            &format!("/api/v1/secrets/{name}?scope=acme"),
            Some(&root),
            Some(&serde_json::json!({"value": value, "category": "agent"}).to_string()),
        )
    };
    let (st, _, text) = put("value-one");
    assert_eq!(st, 200, "{text}");

    let lock = lock::TableLock::writes_of_secrets(&e);
    let (st, body, text) = put("value-two");
    assert_eq!(st, 503, "{text}");
    assert_eq!(body["error"]["code"], "timeout", "{text}");
    // Vault was written before the recording step stalled.
    let path = format!("secretstore/acme/{name}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while vault_state(&path).2.as_deref() != Some("value-two") {
        assert!(Instant::now() < deadline, "Vault was never written");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(lock);

    // The write completes whole: the database records what Vault holds.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (st, body, text) = s.call(
            "GET",
            &format!("/api/v1/secrets/{name}/value?scope=acme"),
            Some(&root),
            None,
        );
        assert_eq!(st, 200, "{text}");
        assert_eq!(body["value"], "value-two", "Vault's current value: {text}");
        if body["version"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the database never recorded the value Vault holds: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Nothing holds the secret: the next write goes through at once.
    let (st, body, text) = put("value-three");
    assert_eq!(st, 200, "{text}");
    assert_eq!(body["version"], 3, "{text}");
    let (code, err) = s.terminate();
    assert_eq!(code, 0, "{err}");
}
