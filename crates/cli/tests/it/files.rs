//! File delivery through the real binary: `--delivery file` on `secret set`, `link` and
//! `import` (kept on later writes), `run` writing each such secret to a private file and
//! setting `NAME_FILE` (the folder gone however the command ends), `dispatch --env-file`
//! writing the files beside the env file, and `dispatch --json`'s `files`.

use crate::backends::{vault_put, vault_vars};
use crate::common::*;
use crate::run_and_rekey::task;
use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A multi-line value with a trailing newline: `--from-file` keeps it byte for byte.
const PEM: &str =
    "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBg-file-canary\n-----END PRIVATE KEY-----\n";

/// Sets `TLS_KEY` at `acme` from a file, delivered as a file.
fn set_file_secret(e: &Env) {
    std::fs::write(e.path("key.pem"), PEM).unwrap();
    e.run(&[
        "secret",
        "set",
        "TLS_KEY",
        "--scope",
        "acme",
        "--category",
        "infrastructure",
        "--from-file",
        "key.pem",
        "--delivery",
        "file",
    ])
    .ok();
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The `key=value` lines a child printed.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {out}"))
}

/// What the child reports of the file secret: where it is, whether `TLS_KEY` is set, the
/// modes, and a copy of the file's bytes in `copy` (its output is masked).
const REPORT: &str = r#"
    printf 'path=%s\n' "$TLS_KEY_FILE"
    printf 'plain=%s\n' "${TLS_KEY+set}"
    printf 'file_mode=%s\n' "$(stat -c %a "$TLS_KEY_FILE")"
    printf 'dir_mode=%s\n' "$(stat -c %a "$(dirname "$TLS_KEY_FILE")")"
    cp "$TLS_KEY_FILE" "$1"
"#;

#[test]
fn run_writes_a_file_secret_to_a_private_file_and_sets_name_file() {
    let mut e = Env::new().with_tree();
    set_file_secret(&e);
    e.set("DB_URL", "acme", "infrastructure", "postgres://env-one")
        .ok();
    let runtime = tempfile::tempdir().unwrap();
    e.vars.push((
        "XDG_RUNTIME_DIR".into(),
        runtime.path().to_string_lossy().into_owned(),
    ));
    let t = task(&e, &["TLS_KEY", "DB_URL"]);
    let copy = e.path("copy.pem");
    let script = format!("{REPORT}\nprintf 'db=%s\\n' \"$DB_URL\"\ncat \"$TLS_KEY_FILE\"");
    let r = e.run(&[
        "run",
        "--task",
        &t,
        "--",
        "sh",
        "-c",
        &script,
        "sh",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let path = PathBuf::from(field(&r.stdout, "path"));
    assert!(path.is_absolute(), "{}", path.display());
    // By default under $XDG_RUNTIME_DIR, in a folder of its own.
    let canonical_runtime = std::fs::canonicalize(runtime.path()).unwrap();
    assert_eq!(
        path.parent().unwrap().parent().unwrap(),
        canonical_runtime,
        "{}",
        path.display()
    );
    assert_eq!(path.file_name().unwrap(), "TLS_KEY");
    assert_eq!(field(&r.stdout, "plain"), "", "TLS_KEY itself is not set");
    assert_eq!(field(&r.stdout, "file_mode"), "600");
    assert_eq!(field(&r.stdout, "dir_mode"), "700");
    assert_eq!(
        field(&r.stdout, "db"),
        "***",
        "env secrets as before, masked"
    );
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        PEM.as_bytes(),
        "byte for byte"
    );
    assert!(
        !r.stdout.contains("file-canary") && !r.stdout.contains("BEGIN PRIVATE KEY"),
        "the file's value is masked in the output too: {}",
        r.stdout
    );
    assert!(
        !path.parent().unwrap().exists(),
        "the folder is removed after the command exits"
    );
    assert_eq!(std::fs::read_dir(runtime.path()).unwrap().count(), 0);
}

#[test]
fn run_honours_files_dir_and_removes_the_folder_after_a_failure_or_a_signal() {
    let e = Env::new().with_tree();
    set_file_secret(&e);
    let t = task(&e, &["TLS_KEY"]);
    let chosen = tempfile::tempdir().unwrap();
    let chosen_dir = chosen.path().to_str().unwrap();
    for (script, code) in [
        ("printf '%s\\n' \"$TLS_KEY_FILE\"; exit 3", 3),
        // Killed by a signal: 128 + 9.
        ("printf '%s\\n' \"$TLS_KEY_FILE\"; kill -KILL $$", 137),
    ] {
        let r = e.run(&[
            "run",
            "--task",
            &t,
            "--files-dir",
            chosen_dir,
            "--",
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(r.code, code, "{}", r.stderr);
        let path = PathBuf::from(r.stdout.trim());
        assert_eq!(
            path.parent().unwrap().parent().unwrap(),
            std::fs::canonicalize(chosen.path()).unwrap(),
            "under --files-dir"
        );
        assert!(!path.parent().unwrap().exists(), "exit {code}: folder left");
    }
    assert_eq!(std::fs::read_dir(chosen.path()).unwrap().count(), 0);
}

#[test]
fn run_removes_the_files_folder_when_secretstore_gets_sigterm_or_sigint() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let e = Env::new().with_tree();
    set_file_secret(&e);
    let t = task(&e, &["TLS_KEY"]);
    let chosen = tempfile::tempdir().unwrap();
    for (sig, name) in [(Signal::SIGTERM, "TERM"), (Signal::SIGINT, "INT")] {
        let script = format!(
            "trap 'echo got-{name}; exit 42' {name}; printf '%s\\n' \"$TLS_KEY_FILE\"; while true; do sleep 0.1; done"
        );
        let mut c = e.command(&[
            "run",
            "--task",
            &t,
            "--files-dir",
            chosen.path().to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ]);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let path = PathBuf::from(line.trim());
        assert_eq!(std::fs::read(&path).unwrap(), PEM.as_bytes(), "{line}");
        // The signal goes to secretstore itself (that exact pid), never a group.
        kill(Pid::from_raw(i32::try_from(child.id()).unwrap()), sig).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "run did not pass SIG{name} on");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        assert_eq!(status.code(), Some(42), "SIG{name}");
        assert!(rest.contains(&format!("got-{name}")), "{rest}");
        assert!(
            !path.parent().unwrap().exists(),
            "SIG{name}: the folder is removed after the command exits"
        );
    }
    assert_eq!(std::fs::read_dir(chosen.path()).unwrap().count(), 0);
}

#[test]
fn run_without_a_usable_files_dir_fails_clearly_runs_nothing_and_revokes_the_brief() {
    let e = Env::new().with_tree();
    set_file_secret(&e);
    let t = task(&e, &["TLS_KEY"]);
    let marker = e.path("ran");
    let r = e.run(&[
        "run",
        "--task",
        &t,
        "--files-dir",
        e.path("no-such-folder").to_str().unwrap(),
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    r.fails(1, "--files-dir");
    assert!(r.stderr.contains("no-such-folder"), "{}", r.stderr);
    assert!(r.stderr.contains("was revoked"), "{}", r.stderr);
    assert!(!marker.exists(), "the command never ran");
    let briefs = e.sql("SELECT status FROM briefs");
    assert_eq!(briefs.trim(), "revoked", "{briefs}");
}

#[test]
fn delivery_is_kept_on_a_later_secret_set_without_delivery_and_listed() {
    let e = Env::new().with_tree();
    set_file_secret(&e);
    // A later write without --delivery keeps it.
    e.run_stdin(&["secret", "set", "TLS_KEY", "--scope", "acme"], b"rotated")
        .ok();
    e.set("DB_URL", "acme", "infrastructure", "postgres://x")
        .ok();
    let list: serde_json::Value =
        serde_json::from_str(e.run(&["secret", "list", "--scope", "acme", "--json"]).ok()).unwrap();
    let deliveries: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["delivery"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        deliveries,
        [
            ("DB_URL".to_string(), "env".to_string()),
            ("TLS_KEY".to_string(), "file".to_string())
        ]
    );
    assert_eq!(list[1]["version"], 2);
    let plain = e
        .run(&["secret", "list", "--scope", "acme"])
        .ok()
        .to_string();
    let header = plain.lines().next().unwrap();
    assert!(header.contains("DELIVERY"), "{plain}");
    let row = plain.lines().find(|l| l.starts_with("TLS_KEY")).unwrap();
    assert!(row.split_whitespace().any(|w| w == "file"), "{plain}");
    // And one with --delivery changes it.
    e.run_stdin(
        &[
            "secret",
            "set",
            "TLS_KEY",
            "--scope",
            "acme",
            "--delivery",
            "env",
        ],
        b"as-env",
    )
    .ok();
    let list: serde_json::Value =
        serde_json::from_str(e.run(&["secret", "list", "--scope", "acme", "--json"]).ok()).unwrap();
    assert_eq!(list[1]["delivery"], "env");
}

#[test]
fn dispatch_env_file_writes_file_secrets_beside_it_and_json_prints_files() {
    let e = Env::new().with_tree();
    set_file_secret(&e);
    e.set("DB_URL", "acme", "infrastructure", "postgres://env-one")
        .ok();
    let t = task(&e, &["TLS_KEY", "DB_URL"]);
    let brief = e
        .run(&["dispatch", &t, "--env-file", "agent.env"])
        .ok()
        .trim()
        .to_string();
    // The brief says which secret went out as a file.
    let shown = e.run(&["brief", "show", &brief]).ok().to_string();
    assert!(shown.contains("DELIVERY"), "{shown}");
    let row = shown.lines().find(|l| l.starts_with("TLS_KEY")).unwrap();
    assert!(row.split_whitespace().any(|w| w == "file"), "{shown}");
    let stored: serde_json::Value =
        serde_json::from_str(e.run(&["brief", "show", &brief, "--json"]).ok()).unwrap();
    assert_eq!(stored["secrets"][0]["delivery"], "file", "{stored}");
    assert!(stored["secrets"][1].get("delivery").is_none(), "{stored}");
    let folder = e.path("agent.env.files");
    let file = folder.join("TLS_KEY");
    assert_eq!(mode(&folder), 0o700);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&e.path("agent.env")), 0o600);
    assert_eq!(std::fs::read(&file).unwrap(), PEM.as_bytes());
    let text = std::fs::read_to_string(e.path("agent.env")).unwrap();
    assert!(
        !text.contains("file-canary"),
        "no value of a file in the env file"
    );
    assert!(!text.lines().any(|l| l.starts_with("TLS_KEY=")), "{text}");
    // Sourced by a shell: NAME_FILE is the file's absolute path.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(". ./agent.env && printf '%s|%s' \"$TLS_KEY_FILE\" \"$DB_URL\"")
        .current_dir(e.dir.path())
        .output()
        .unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    let canonical = std::fs::canonicalize(&file).unwrap();
    assert_eq!(
        out,
        format!("{}|postgres://env-one", canonical.display()),
        "{text}"
    );
    // --json: the files beside the env.
    let d: serde_json::Value =
        serde_json::from_str(e.run(&["dispatch", &t, "--json"]).ok()).unwrap();
    assert_eq!(d["files"], serde_json::json!({"TLS_KEY": PEM}));
    assert_eq!(d["env"]["DB_URL"], "postgres://env-one");
    assert!(d["env"].get("TLS_KEY").is_none() && d["env"].get("TLS_KEY_FILE").is_none());
    // A symbolic link where the folder goes is refused before anything is dispatched.
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), e.path("other.env.files")).unwrap();
    let before = e.sql("SELECT COUNT(*) FROM briefs");
    e.run(&["dispatch", &t, "--env-file", "other.env"])
        .fails(1, "symbolic link");
    assert_eq!(e.sql("SELECT COUNT(*) FROM briefs"), before);
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn secret_import_with_delivery_file_stores_it_and_a_bad_delivery_changes_nothing() {
    let e = Env::new().with_tree();
    std::fs::write(
        e.path("certs.env"),
        "CA_CERT=ca-pem-canary\nCLIENT_CERT=client-canary\n",
    )
    .unwrap();
    // A bad value: `error: …` in the product's words, and nothing written.
    e.run(&[
        "secret",
        "import",
        "certs.env",
        "--scope",
        "acme",
        "--category",
        "infrastructure",
        "--delivery",
        "sealed",
    ])
    .fails(1, "unknown delivery \"sealed\": one of env");
    e.run_stdin(
        &[
            "secret",
            "set",
            "NEW_ONE",
            "--scope",
            "acme",
            "--category",
            "agent",
            "--delivery",
            "files",
        ],
        b"value-of-new-one",
    )
    .fails(1, "unknown delivery \"files\"");
    let empty = e.run(&["secret", "list", "--scope", "acme", "--json"]);
    assert_eq!(empty.ok().trim(), "[]");
    e.run(&[
        "secret",
        "import",
        "certs.env",
        "--scope",
        "acme",
        "--category",
        "infrastructure",
        "--delivery",
        "file",
    ])
    .ok();
    let list: serde_json::Value =
        serde_json::from_str(e.run(&["secret", "list", "--scope", "acme", "--json"]).ok()).unwrap();
    for s in list.as_array().unwrap() {
        assert_eq!(s["delivery"], "file", "{s}");
    }
    assert_eq!(list.as_array().unwrap().len(), 2);
    // A bad value on an existing secret: no new version, the delivery as it was.
    e.run_stdin(
        &[
            "secret",
            "set",
            "CA_CERT",
            "--scope",
            "acme",
            "--delivery",
            "FILE",
        ],
        b"other",
    )
    .fails(1, "unknown delivery");
    let list: serde_json::Value =
        serde_json::from_str(e.run(&["secret", "list", "--scope", "acme", "--json"]).ok()).unwrap();
    assert_eq!(list[0]["name"], "CA_CERT");
    assert_eq!(list[0]["version"], 1);
    assert_eq!(list[0]["delivery"], "file");
}

#[test]
fn a_file_delivered_x_and_an_env_delivered_x_file_fail_the_dispatch_naming_both() {
    let e = Env::new().with_tree();
    set_file_secret(&e);
    e.set(
        "TLS_KEY_FILE",
        "acme/platform",
        "infrastructure",
        "/etc/key.pem",
    )
    .ok();
    let t = task(&e, &["TLS_KEY", "TLS_KEY_FILE"]);
    let r = e.run(&["dispatch", &t, "--json"]);
    r.fails(1, "dispatch failed: TLS_KEY (delivered as a file");
    assert!(r.stderr.contains("TLS_KEY_FILE ("), "{}", r.stderr);
    assert!(!r.stderr.contains("canary") && r.stdout.is_empty());
    let marker = e.path("ran");
    e.run(&["run", "--task", &t, "--", "touch", marker.to_str().unwrap()])
        .fails(1, "TLS_KEY_FILE");
    assert!(!marker.exists());
    assert_eq!(e.sql("SELECT COUNT(*) FROM briefs").trim(), "0");
}

#[test]
fn secret_link_with_delivery_file_stores_it_and_run_gets_the_backend_value_as_a_file() {
    let mut e = Env::new().with_tree();
    vault_vars(&mut e);
    let path = format!(
        "apps/{}/tls",
        &e.dir.path().file_name().unwrap().to_string_lossy()[4..]
    );
    vault_put(&path, serde_json::json!({"pem": PEM}));
    e.run(&[
        "secret",
        "link",
        "VAULT_PEM",
        "--scope",
        "acme/platform",
        "--vault-path",
        &format!("secret/{path}#pem"),
        "--category",
        "infrastructure",
        "--delivery",
        "file",
    ])
    .ok();
    let list: serde_json::Value = serde_json::from_str(
        e.run(&["secret", "list", "--scope", "acme/platform", "--json"])
            .ok(),
    )
    .unwrap();
    assert_eq!(list[0]["delivery"], "file", "{list}");
    let t = task(&e, &["VAULT_PEM"]);
    let copy = e.path("copy.pem");
    let chosen = tempfile::tempdir().unwrap();
    let r = e.run(&[
        "run",
        "--task",
        &t,
        "--files-dir",
        chosen.path().to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "test -z \"${VAULT_PEM+set}\" && cp \"$VAULT_PEM_FILE\" \"$1\"",
        "sh",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&copy).unwrap(), PEM.as_bytes());
    assert_eq!(std::fs::read_dir(chosen.path()).unwrap().count(), 0);
}
