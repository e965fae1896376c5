//! Issue 10, item 6: files on disk and what a retired key still decrypts.

use super::*;

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
    umask0(
        &e,
        &[
            "secret",
            "set",
            "B",
            "--scope",
            "acme",
            "--category",
            "agent",
            "--delivery",
            "file",
        ],
        b"value-b-as-a-file",
    )
    .ok();
    let t = umask0(
        &e,
        &[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "A",
            "--ref",
            "B",
        ],
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
            "for f in secretstore.db secretstore.db-wal secretstore.db-shm; do [ -e $f ] && stat -c '%n %a' $f; done; stat -c 'file-secret %a' \"$B_FILE\"; stat -c 'files-folder %a' \"$(dirname \"$B_FILE\")\"",
        ],
        b"",
    );
    let seen = seen.ok().to_string();
    assert_eq!(mode(&e.path(".env")), 0o600, ".env");
    assert_eq!(mode(&e.path("task.env")), 0o600, "dispatch --env-file");
    assert_eq!(mode(&e.path("task.env.files")), 0o700, "its files' folder");
    assert_eq!(mode(&e.path("task.env.files/B")), 0o600, "a file secret");
    assert!(seen.contains("file-secret 600"), "run's file: {seen}");
    assert!(seen.contains("files-folder 700"), "run's folder: {seen}");
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
        for line in seen.lines().filter(|l| l.starts_with("secretstore.db")) {
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
