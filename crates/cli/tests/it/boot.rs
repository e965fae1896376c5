//! Sealed delivery with the real binaries: `secretstore dispatch --sealed` on the operator's
//! side, `secretstore serve`, and `secretstore boot` started as a container starts its
//! entrypoint (`env -i` with only SECRETSTORE_URL and the boot token, in an empty folder
//! with no `.env`, no database and no key).

use crate::common::server::*;
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "acme/platform/dev/agent-x";
const DB_URL: &str = "postgres://agent:sealed-pw-7f3a@db:5432/app";
const MULTI: &str = "first line of a sealed value\n  second line, indented\nthird\n";
const PEM: &str =
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

/// A folder with the tree, three secrets (one multi-line, one delivered as a file) and a
/// task naming them: (env, task id).
fn setup() -> (Env, String) {
    let env = Env::new().with_tree();
    env.set("DB_URL", "acme/platform", "infrastructure", DB_URL)
        .ok();
    std::fs::write(env.path("multi.txt"), MULTI).unwrap();
    std::fs::write(env.path("key.pem"), PEM).unwrap();
    for (name, file, extra) in [
        ("MULTI", "multi.txt", None),
        ("TLS_KEY", "key.pem", Some("--delivery")),
    ] {
        let path = env.path(file);
        let mut args = vec![
            "secret",
            "set",
            name,
            "--scope",
            "acme/platform/dev",
            "--category",
            "infrastructure",
            "--from-file",
            path.to_str().unwrap(),
        ];
        if let Some(flag) = extra {
            args.extend([flag, "file"]);
        }
        env.run(&args).ok();
    }
    let t = env
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "DB_URL",
            "--ref",
            "MULTI",
            "--ref",
            "TLS_KEY",
        ])
        .ok()
        .trim()
        .to_owned();
    (env, t)
}

/// `dispatch --sealed --json`: (brief id, boot token). The answer holds no value.
fn dispatch_sealed(env: &Env, task: &str) -> (String, String) {
    let out = env.run(&["dispatch", task, "--sealed", "--json"]);
    let text = out.ok();
    for v in [DB_URL, MULTI, "PRIVATE KEY", "sscb_"] {
        assert!(!text.contains(v), "a sealed dispatch printed {v:?}: {text}");
    }
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let mut keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["boot_token", "brief_id", "expires_at", "task_id"]);
    (
        doc["brief_id"].as_str().unwrap().to_owned(),
        doc["boot_token"].as_str().unwrap().to_owned(),
    )
}

/// `secretstore boot -- /bin/sh -c SCRIPT` as a container starts it: `env -i` with only
/// `vars`, in the empty folder `dir`.
fn boot_command(dir: &Path, vars: &[(&str, &str)], script: &str) -> Command {
    boot_with(dir, vars, &[], script)
}

/// As [`boot_command`], with `flags` for `boot` itself.
fn boot_with(dir: &Path, vars: &[(&str, &str)], flags: &[&Path], script: &str) -> Command {
    let mut c = Command::new("/usr/bin/env");
    c.arg("-i");
    for (k, v) in vars {
        c.arg(format!("{k}={v}"));
    }
    c.arg(bin())
        .arg("boot")
        .args(flags)
        .args(["--", "/bin/sh", "-c", script])
        .current_dir(dir)
        .stdin(Stdio::null());
    c
}

/// What the agent's script writes: each value, the file's path, modes and its whole env.
const AGENT: &str = r#"printf '%s' "$DB_URL" > db; printf '%s' "$MULTI" > multi; printf '%s' "$TLS_KEY" > tls_var; /bin/cat "$TLS_KEY_FILE" > tls; printf '%s' "$TLS_KEY_FILE" > path; /usr/bin/stat -c %a "$TLS_KEY_FILE" > mode; /usr/bin/stat -c %a "${TLS_KEY_FILE%/*}" > dirmode; /usr/bin/env > allenv; echo done"#;

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

#[test]
fn boot_in_an_empty_container_did_not_get_exactly_its_env_and_files() {
    let (env, task) = setup();
    let (brief, token) = dispatch_sealed(&env, &task);
    // What the database holds of the sealed env: a ciphertext that the master key does
    // not open, holding no value.
    let sealed = env.sql(&format!(
        "SELECT sealed FROM boot_tokens WHERE brief_id = '{brief}'"
    ));
    assert!(sealed.trim().starts_with("v1."), "{sealed}");
    for v in [DB_URL, "sealed-pw", "PRIVATE KEY", token.as_str()] {
        assert!(!sealed.contains(v));
    }
    let key = master_key(&env);
    assert!(
        key.decrypt(sealed.trim()).is_err(),
        "the master key opens the sealed env"
    );

    let server = Server::start(&env, &[]);
    let container = tempfile::tempdir().unwrap();
    let url = format!("http://{}", server.addr);
    let out = run_with(
        &mut boot_command(
            container.path(),
            &[
                ("SECRETSTORE_URL", &url),
                ("SECRETSTORE_BOOT_TOKEN", &token),
            ],
            AGENT,
        ),
        b"",
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "done\n");
    let dir = container.path();
    assert_eq!(read(dir, "db"), DB_URL);
    assert_eq!(read(dir, "multi"), MULTI);
    // The file secret: a file holding its value byte for byte, never a variable.
    assert_eq!(read(dir, "tls"), PEM);
    assert_eq!(read(dir, "tls_var"), "");
    assert_eq!(read(dir, "mode").trim(), "600");
    assert_eq!(read(dir, "dirmode").trim(), "700");
    let path = PathBuf::from(read(dir, "path"));
    assert!(path.starts_with("/dev/shm"), "{}", path.display());
    assert!(
        !path.parent().unwrap().exists(),
        "the files' folder outlived the command"
    );
    let all = read(dir, "allenv");
    assert!(!all.contains("SECRETSTORE_BOOT_TOKEN"), "{all}");
    assert!(!all.contains(&token), "the boot token reached the agent");
    assert!(
        all.contains(&format!("SECRETSTORE_BRIEF_ID={brief}")),
        "{all}"
    );
    assert!(all.contains(&format!("SECRETSTORE_URL={url}")), "{all}");
    let callback = all
        .lines()
        .find_map(|l| l.strip_prefix("SECRETSTORE_CALLBACK_TOKEN="))
        .expect("the callback token in the agent's env")
        .to_owned();

    // The database keeps nothing of the env: no value, no callback token, not even
    // under the master key.
    for (path, bytes) in env.all_bytes() {
        if path.extension().is_some_and(|e| e == "out" || e == "err") {
            continue;
        }
        assert!(!contains(&bytes, callback.as_bytes()), "{}", path.display());
        assert!(!contains(&bytes, token.as_bytes()), "{}", path.display());
        for token in fernet_tokens(&bytes) {
            if let Ok(plain) = key.decrypt(&token) {
                assert!(!contains(&plain, callback.as_bytes()), "{}", path.display());
            }
        }
    }
    assert_eq!(
        env.sql(&format!(
            "SELECT count(*) FROM boot_tokens WHERE brief_id = '{brief}' AND sealed IS NULL"
        ))
        .trim(),
        "1"
    );

    // A replay: refused, the command not run, and the brief revoked.
    let again = tempfile::tempdir().unwrap();
    let replay = run_with(
        &mut boot_command(
            again.path(),
            &[
                ("SECRETSTORE_URL", &url),
                ("SECRETSTORE_BOOT_TOKEN", &token),
            ],
            AGENT,
        ),
        b"",
    );
    replay.fails(1, "already_used");
    assert!(
        !again.path().join("db").exists(),
        "a replay ran the command"
    );
    let shown = env.run(&["brief", "show", &brief, "--json"]);
    let shown: serde_json::Value = serde_json::from_str(shown.ok()).unwrap();
    assert_eq!(shown["status"], "revoked", "{shown}");
    assert_eq!(shown["delivery"], "sealed", "{shown}");
    assert_eq!(shown["boot"]["state"], "replayed", "{shown}");
    let plain = env.run(&["brief", "show", &brief]);
    assert!(plain.ok().contains("delivery   sealed"), "{}", plain.stdout);
    assert!(
        plain.stdout.contains("boot token replayed"),
        "{}",
        plain.stdout
    );
    let (code, _, text) = server.call(
        "POST",
        &format!("/api/v1/briefs/{brief}/callback"),
        Some(&callback),
        None,
    );
    assert_eq!(code, 401, "{text}");
    let audit = env.run(&["audit", "--action", "brief.boot_replay", "--json"]);
    assert!(audit.ok().contains("redeemed_from"), "{}", audit.stdout);
}

/// The master key of `env`'s folder (its `.env`).
fn master_key(env: &Env) -> fernet::Fernet {
    let dotenv = std::fs::read_to_string(env.path(".env")).unwrap();
    let key = dotenv
        .lines()
        .find_map(|l| l.strip_prefix("FERNET_SECRET_KEY="))
        .unwrap()
        .trim_matches('"');
    fernet::Fernet::new(key).unwrap()
}

/// Every Fernet token (`gAAAAA…`) in `bytes`.
fn fernet_tokens(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some(i) = rest.find("gAAAAA") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '='))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

#[test]
fn boot_left_the_files_folder_behind_after_sigterm() {
    let (env, task) = setup();
    let (_, token) = dispatch_sealed(&env, &task);
    let server = Server::start(&env, &[]);
    let container = tempfile::tempdir().unwrap();
    let url = format!("http://{}", server.addr);
    let files = tempfile::tempdir().unwrap();
    let mut c = boot_with(
        container.path(),
        &[
            ("SECRETSTORE_URL", &url),
            ("SECRETSTORE_BOOT_TOKEN", &token),
        ],
        &[Path::new("--files-dir"), files.path()],
        r#"printf '%s' "$TLS_KEY_FILE" > path.tmp; /bin/mv path.tmp path; exec /bin/sleep 30"#,
    );
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut guard = Stopped(c.spawn().unwrap());
    let child = &mut guard.0;
    let deadline = Instant::now() + Duration::from_secs(20);
    let path = loop {
        if let Ok(p) = std::fs::read_to_string(container.path().join("path")) {
            break PathBuf::from(p);
        }
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(path.starts_with(files.path()), "{}", path.display());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), PEM);
    // `env` exec'd secretstore: the child's pid is secretstore's.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let code = wait_with_timeout(child, Duration::from_secs(20));
    assert_eq!(
        code,
        128 + 15,
        "the agent's end by SIGTERM is boot's exit code"
    );
    assert!(!path.exists(), "the file outlived SIGTERM");
    assert!(
        !path.parent().unwrap().exists(),
        "the folder outlived SIGTERM"
    );
}

/// A `boot` the test started, killed (by its pid) and reaped when the test ends, also when
/// it fails.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn boot_without_its_settings_was_not_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path();
    let run = |vars: &[(&str, &str)]| run_with(&mut boot_command(dir, vars, "echo ran"), b"");
    run(&[]).fails(1, "SECRETSTORE_URL is not set");
    run(&[("SECRETSTORE_URL", "ftp://x")]).fails(1, "not an http:// or https:// address");
    run(&[("SECRETSTORE_URL", "http://127.0.0.1:9")]).fails(1, "SECRETSTORE_BOOT_TOKEN");
    run(&[
        ("SECRETSTORE_URL", "http://127.0.0.1:9"),
        ("SECRETSTORE_BOOT_TOKEN", "ssbt_x"),
        ("SECRETSTORE_BOOT_TOKEN_FILE", "/nonexistent"),
    ])
    .fails(1, "both");
    // Nothing listens on port 9: a clear error, naming the address, never the token.
    let refused = run(&[
        ("SECRETSTORE_URL", "http://127.0.0.1:9"),
        ("SECRETSTORE_BOOT_TOKEN", "ssbt_not-shown-anywhere"),
    ]);
    refused.fails(1, "cannot reach http://127.0.0.1:9");
    assert!(!refused.stderr.contains("not-shown-anywhere"));
    assert!(
        std::fs::read_dir(dir).unwrap().next().is_none(),
        "boot wrote something into the folder: no .env, no database"
    );
}

#[test]
fn boot_over_tls_with_a_private_ca_and_a_token_file_did_not_work() {
    let (env, task) = setup();
    let (_, token) = dispatch_sealed(&env, &task);
    let ca = crate::serve::ca("boot test CA");
    let (cert, key) = crate::serve::server_cert(&ca);
    std::fs::write(env.path("tls.crt"), cert).unwrap();
    std::fs::write(env.path("tls.key"), key).unwrap();
    let server = Server::start(
        &env,
        &[
            (
                "SECRETSTORE_TLS_CERT",
                env.path("tls.crt").to_str().unwrap(),
            ),
            ("SECRETSTORE_TLS_KEY", env.path("tls.key").to_str().unwrap()),
        ],
    );
    let container = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("ca.pem"), &ca.pem).unwrap();
    std::fs::write(secrets.path().join("token"), format!("{token}\n")).unwrap();
    let url = format!("https://{}", server.addr);
    let ca_path = secrets.path().join("ca.pem");
    let token_path = secrets.path().join("token");
    // Without the CA the server is not trusted: refused, the token unspent.
    let untrusted = run_with(
        &mut boot_command(
            container.path(),
            &[
                ("SECRETSTORE_URL", &url),
                ("SECRETSTORE_BOOT_TOKEN_FILE", token_path.to_str().unwrap()),
            ],
            "echo ran",
        ),
        b"",
    );
    untrusted.fails(1, "cannot reach");
    let ok = run_with(
        &mut boot_command(
            container.path(),
            &[
                ("SECRETSTORE_URL", &url),
                ("SECRETSTORE_BOOT_TOKEN_FILE", token_path.to_str().unwrap()),
                ("SECRETSTORE_CACERT", ca_path.to_str().unwrap()),
            ],
            r#"printf '%s' "$DB_URL" > db; /usr/bin/env > allenv"#,
        ),
        b"",
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(read(container.path(), "db"), DB_URL);
    assert!(!read(container.path(), "allenv").contains("SECRETSTORE_BOOT_TOKEN_FILE"));
}

#[test]
fn an_org_requiring_sealed_delivery_still_let_the_cli_hand_out_values() {
    let (env, task) = setup();
    env.run(&["org", "policy", "acme"]).ok();
    assert!(
        env.run(&["org", "policy", "acme"])
            .stdout
            .contains("allowed")
    );
    env.run(&["org", "policy", "acme", "--sealed-only"]).ok();
    let shown = env.run(&["org", "policy", "acme", "--json"]);
    assert_eq!(shown.ok().trim(), r#"{"sealed_only":true}"#);
    env.run(&["dispatch", &task, "--json"])
        .fails(1, "requires sealed delivery");
    env.run(&["run", "--task", &task, "--", "/bin/true"])
        .fails(1, "requires sealed delivery");
    let sealed = env.run(&["dispatch", &task, "--sealed"]);
    let lines: Vec<&str> = sealed.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{}", sealed.stdout);
    assert!(lines[1].starts_with("ssbt_"));
    assert!(
        sealed.stderr.contains("secretstore boot"),
        "{}",
        sealed.stderr
    );
    env.run(&["org", "policy", "acme", "--no-sealed-only"]).ok();
    env.run(&["dispatch", &task, "--json"]).ok();
    env.run(&["dispatch", &task, "--sealed", "--env-file", "x.env"])
        .fails(2, "--env-file");
}
