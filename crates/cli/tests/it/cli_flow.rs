//! The command line used as the README walks through it, against the real binary.

use crate::common::*;

const PROJECT: &str = "acme/platform/dev/agent-x";

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn keygen_prints_a_fresh_fernet_key() {
    let e = Env::bare();
    let a = e.run(&["keygen"]).ok().trim().to_string();
    let b = e.run(&["keygen"]).ok().trim().to_string();
    assert_eq!(a.len(), 44, "{a}");
    assert!(a.ends_with('='));
    assert_ne!(a, b);
}

#[test]
fn init_writes_a_private_env_file_once_and_creates_the_database() {
    let e = Env::bare();
    e.run(&["init"]).ok();
    let env = std::fs::read_to_string(e.path(".env")).unwrap();
    assert!(env.starts_with("FERNET_SECRET_KEY="), "{env}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(e.path(".env"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    if !postgres_mode() {
        assert!(e.path("secretstore.db").exists());
    }
    assert!(e.sql("SELECT COUNT(*) FROM scopes").trim() == "0");
    // A second init keeps the key.
    e.run(&["init"]).ok();
    assert_eq!(std::fs::read_to_string(e.path(".env")).unwrap(), env);
}

#[test]
fn values_round_trip_byte_for_byte() {
    let e = Env::new().with_tree();
    let pem = "-----BEGIN PRIVATE KEY-----\r\nMIIB\tü€😀 \"q\" 'q' $HOME \\n\n-----END PRIVATE KEY-----\n\n";
    // --from-file keeps the bytes exactly, trailing newlines included.
    std::fs::write(e.path("key.pem"), pem).unwrap();
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
    ])
    .ok();
    let got = e.run(&["secret", "get", "TLS_KEY", "--scope", "acme"]);
    assert_eq!(got.raw_stdout, pem.as_bytes());
    // stdin: exactly one trailing newline is dropped.
    e.run_stdin(
        &[
            "secret",
            "set",
            "A",
            "--scope",
            "acme",
            "--category",
            "agent",
        ],
        b"line1\nline2\n\n",
    )
    .ok();
    assert_eq!(
        e.run(&["secret", "get", "A", "--scope", "acme"]).raw_stdout,
        b"line1\nline2\n"
    );
    // --from-env.
    let mut c = e.command(&[
        "secret",
        "set",
        "B",
        "--scope",
        "acme",
        "--category",
        "agent",
        "--from-env",
        "MY_VALUE",
    ]);
    c.env("MY_VALUE", "from the env\n");
    run_with(&mut c, b"").ok();
    assert_eq!(
        e.run(&["secret", "get", "B", "--scope", "acme"]).raw_stdout,
        b"from the env\n"
    );
}

#[test]
fn rotation_history_expect_version_and_rollback() {
    let e = Env::new().with_tree();
    let scope = "acme/platform/dev";
    e.set("DB_URL", scope, "infrastructure", "v-one").ok();
    e.run_stdin(&["secret", "set", "DB_URL", "--scope", scope], b"v-two")
        .ok();
    let out = e.run_stdin(
        &[
            "secret",
            "set",
            "DB_URL",
            "--scope",
            scope,
            "--expect-version",
            "2",
        ],
        b"v-three",
    );
    assert!(out.ok().contains("version 3"));
    // The category was kept when omitted.
    let list = json(e.run(&["secret", "list", "--scope", scope, "--json"]).ok());
    assert_eq!(list[0]["category"], "infrastructure");
    assert_eq!(list[0]["version"], 3);
    // Older versions stay readable.
    assert_eq!(
        e.run(&[
            "secret",
            "get",
            "DB_URL",
            "--scope",
            scope,
            "--version",
            "1"
        ])
        .ok(),
        "v-one"
    );
    // Rollback writes a new version holding the old value.
    assert!(
        e.run(&[
            "secret", "rollback", "DB_URL", "--scope", scope, "--to", "1"
        ])
        .ok()
        .contains("version 4")
    );
    assert_eq!(
        e.run(&["secret", "get", "DB_URL", "--scope", scope]).ok(),
        "v-one"
    );
    let hist = json(
        e.run(&["secret", "history", "DB_URL", "--scope", scope, "--json"])
            .ok(),
    );
    let versions: Vec<i64> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [4, 3, 2, 1]);
    assert_eq!(hist[0]["rollback_of"], 1);
    assert_eq!(hist[0]["current"], true);
    assert_eq!(hist[0]["created_by"], "cli:tester");
    let plain = e
        .run(&["secret", "history", "DB_URL", "--scope", scope])
        .ok()
        .to_string();
    assert!(plain.contains("rollback to 1"), "{plain}");
    // Delete removes it.
    e.run(&["secret", "delete", "DB_URL", "--scope", scope])
        .ok();
    assert_eq!(
        json(e.run(&["secret", "list", "--scope", scope, "--json"]).ok()),
        serde_json::json!([])
    );
}

#[test]
fn resolve_explains_narrowest_wins_and_never_another_team() {
    let e = Env::new().with_tree();
    e.set("DB_URL", "acme", "infrastructure", "org").ok();
    e.set("DB_URL", "acme/platform", "infrastructure", "team")
        .ok();
    e.set("DB_URL", "acme/platform/dev", "infrastructure", "ws")
        .ok();
    e.set("API_KEY", "acme", "provider", "org-key").ok();
    e.set("OTHER_ONLY", "acme/other", "agent", "x").ok();
    e.set("API_KEY", "acme/other/dev", "provider", "other-key")
        .ok();
    let out = e.run(&[
        "resolve",
        "--project",
        PROJECT,
        "--ref",
        "DB_URL",
        "--ref",
        "API_KEY",
        "--explain",
    ]);
    let text = out.ok();
    assert!(
        text.contains("DB_URL\tacme/platform/dev\tversion 1"),
        "{text}"
    );
    assert!(text.contains("shadows acme/platform (version 1"), "{text}");
    assert!(text.contains("shadows acme (version 1"), "{text}");
    assert!(text.contains("API_KEY\tacme\t"), "{text}");
    assert!(
        !text.contains("other"),
        "another team's secret must not appear: {text}"
    );
    for v in ["org", "team", "ws", "org-key"] {
        assert!(
            !text.lines().any(|l| l.split('\t').any(|c| c == v)),
            "a value was printed: {text}"
        );
    }
    let j = json(
        e.run(&["resolve", "--project", PROJECT, "--ref", "DB_URL", "--json"])
            .ok(),
    );
    assert_eq!(j[0]["scope"], "acme/platform/dev");
    assert_eq!(j[0]["shadows"].as_array().unwrap().len(), 2);
    // A ref that only another team has is missing here.
    e.run(&["resolve", "--project", PROJECT, "--ref", "OTHER_ONLY"])
        .fails(1, "OTHER_ONLY");
}

#[test]
fn dispatch_hands_out_env_and_stores_a_brief_without_values() {
    let e = Env::new().with_tree();
    e.set("DB_URL", "acme", "infrastructure", "postgres://org")
        .ok();
    e.set(
        "DB_URL",
        "acme/platform/dev",
        "infrastructure",
        "postgres://dev-VALUE",
    )
    .ok();
    e.set(
        "OPENAI_API_KEY",
        "acme/platform",
        "provider",
        "sk-TEAM-VALUE",
    )
    .ok();
    let task = e
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "DB_URL",
            "--ref",
            "OPENAI_API_KEY",
        ])
        .ok()
        .trim()
        .to_string();
    let d = json(e.run(&["dispatch", &task, "--json"]).ok());
    let env = &d["env"];
    assert_eq!(env["DB_URL"], "postgres://dev-VALUE");
    assert_eq!(env["OPENAI_API_KEY"], "sk-TEAM-VALUE");
    assert_eq!(env["SECRETSTORE_BRIEF_ID"], d["brief_id"]);
    let token = env["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.starts_with("sscb_") && token.len() >= 48, "{token}");
    assert_eq!(d["task_id"], task.as_str());
    let brief_id = d["brief_id"].as_str().unwrap().to_string();

    // The stored brief names versions and scopes, never a value or the token.
    let shown = e
        .run(&["brief", "show", &brief_id, "--json"])
        .ok()
        .to_string();
    let brief = json(&shown);
    assert_eq!(brief["project"], PROJECT);
    assert_eq!(brief["secrets"][0]["scope"], "acme/platform/dev");
    assert_eq!(brief["secrets"][0]["version"], 1);
    assert_eq!(brief["secrets"][1]["backend"], "local");
    assert_eq!(brief["secrets"][1]["category"], "provider");
    for secret in ["postgres://dev-VALUE", "sk-TEAM-VALUE", token.as_str()] {
        assert!(!shown.contains(secret));
        for (path, bytes) in e.all_bytes() {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{secret} found in {}",
                path.display()
            );
        }
    }

    // The callback token verifies for its brief only.
    e.run_stdin(
        &["callback", "verify", &brief_id],
        format!("{token}\n").as_bytes(),
    )
    .ok();
    e.run_stdin(&["callback", "verify", &brief_id], b"sscb_wrong")
        .fails(1, "not valid");
    let other = json(e.run(&["dispatch", &task, "--json"]).ok());
    e.run_stdin(
        &["callback", "verify", other["brief_id"].as_str().unwrap()],
        token.as_bytes(),
    )
    .fails(1, "not valid");
}

#[test]
fn expired_callback_tokens_are_refused() {
    let mut e = Env::new().with_tree();
    e.set("A", "acme", "agent", "a").ok();
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    e.vars
        .push(("SECRETSTORE_CALLBACK_TTL".into(), "1s".into()));
    let d = json(e.run(&["dispatch", &task, "--json"]).ok());
    std::thread::sleep(std::time::Duration::from_millis(2100));
    e.run_stdin(
        &["callback", "verify", d["brief_id"].as_str().unwrap()],
        d["env"]["SECRETSTORE_CALLBACK_TOKEN"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .fails(1, "not valid");
}

#[test]
fn rotation_takes_effect_at_the_next_dispatch_and_not_before() {
    let e = Env::new().with_tree();
    e.set("TOKEN", "acme/platform", "integration", "old-token")
        .ok();
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "TOKEN"])
        .ok()
        .trim()
        .to_string();
    e.run(&["dispatch", &task, "--env-file", "first.env"]).ok();
    e.run_stdin(
        &["secret", "set", "TOKEN", "--scope", "acme/platform"],
        b"new-token",
    )
    .ok();
    let first = std::fs::read_to_string(e.path("first.env")).unwrap();
    assert!(
        first.contains("TOKEN='old-token'"),
        "an env already handed out is untouched: {first}"
    );
    let d = json(e.run(&["dispatch", &task, "--json"]).ok());
    assert_eq!(d["env"]["TOKEN"], "new-token");
    let brief = json(
        e.run(&["brief", "show", d["brief_id"].as_str().unwrap(), "--json"])
            .ok(),
    );
    assert_eq!(brief["secrets"][0]["version"], 2);
}

#[test]
fn env_file_is_private_and_parses_back() {
    let e = Env::new().with_tree();
    let tricky = "multi\nline \"quoted\" $NOT_EXPANDED `id` it's \\ end";
    e.set("TRICKY", "acme", "agent", tricky).ok();
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "TRICKY"])
        .ok()
        .trim()
        .to_string();
    let id = e
        .run(&["dispatch", &task, "--env-file", "agent.env"])
        .ok()
        .trim()
        .to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(e.path("agent.env"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let parsed: std::collections::HashMap<String, String> =
        dotenvy_parse(&std::fs::read(e.path("agent.env")).unwrap());
    assert_eq!(parsed["TRICKY"], tricky);
    assert_eq!(parsed["SECRETSTORE_BRIEF_ID"], id);
    // The shell sees the same value.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("set -a; . ./agent.env; printf %s \"$TRICKY\"")
        .current_dir(e.dir.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), tricky);
}

fn dotenvy_parse(bytes: &[u8]) -> std::collections::HashMap<String, String> {
    // A reader of the format we write: NAME='…' where `'` is written as '\''.
    let text = std::str::from_utf8(bytes).unwrap();
    let mut out = std::collections::HashMap::new();
    let mut rest = text;
    while let Some((k, v)) = rest.split_once('=') {
        let mut value = String::new();
        let mut chars = v.char_indices();
        let mut end = v.len();
        assert_eq!(chars.next().map(|c| c.1), Some('\''));
        let mut quoted = true;
        while let Some((i, c)) = chars.next() {
            match (quoted, c) {
                (true, '\'') => quoted = false,
                (true, c) => value.push(c),
                (false, '\\') => value.push(chars.next().unwrap().1),
                (false, '\'') => quoted = true,
                (false, '\n') => {
                    end = i + 1;
                    break;
                }
                (false, other) => panic!("unexpected {other:?}"),
            }
        }
        out.insert(k.to_string(), value);
        rest = &v[end.min(v.len())..];
    }
    out
}

#[test]
fn run_passes_the_env_and_the_exit_code_but_not_the_master_key() {
    let e = Env::new().with_tree();
    e.set(
        "GREETING",
        "acme/platform/dev",
        "agent",
        "hello from secretstore",
    )
    .ok();
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "GREETING"])
        .ok()
        .trim()
        .to_string();
    let mut c = e.command(&["run", "--task", &task, "--no-mask", "--", "sh", "-c",
        "printf '%s|%s|%s' \"$GREETING\" \"${FERNET_SECRET_KEY:-none}\" \"${SECRETSTORE_BRIEF_ID:+set}\"; exit 7"]);
    let key = std::fs::read_to_string(e.path(".env")).unwrap();
    let key = key
        .trim()
        .strip_prefix("FERNET_SECRET_KEY=")
        .unwrap()
        .to_string();
    c.env("FERNET_SECRET_KEY", &key);
    let r = run_with(&mut c, b"");
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert_eq!(r.stdout, "hello from secretstore|none|set");
    // A command that cannot start is an error, not a panic.
    e.run(&["run", "--task", &task, "--", "/nonexistent/program"])
        .fails(1, "cannot run");
}

#[test]
fn import_reads_a_dotenv_file() {
    let e = Env::new().with_tree();
    std::fs::write(
        e.path("prod.env"),
        "# comment\nSTRIPE_KEY=sk_live_1\nexport SLACK_TOKEN='xoxb 2'\nMULTI=\"a\\nb\"\nNOT_EXPANDED=$HOME/x\n",
    )
    .unwrap();
    let out = e.run(&[
        "secret",
        "import",
        "prod.env",
        "--scope",
        "acme/platform",
        "--category",
        "integration",
    ]);
    assert!(
        out.ok().contains("SLACK_TOKEN at acme/platform: version 1"),
        "{}",
        out.stdout
    );
    assert_eq!(
        e.run(&["secret", "get", "SLACK_TOKEN", "--scope", "acme/platform"])
            .ok(),
        "xoxb 2"
    );
    assert_eq!(
        e.run(&["secret", "get", "MULTI", "--scope", "acme/platform"])
            .ok(),
        "a\nb"
    );
    let list = json(
        e.run(&["secret", "list", "--scope", "acme/platform", "--json"])
            .ok(),
    );
    assert_eq!(list.as_array().unwrap().len(), 4);
    // Imports are literal: the operator's environment never leaks into a value.
    assert_eq!(
        e.run(&["secret", "get", "NOT_EXPANDED", "--scope", "acme/platform"])
            .ok(),
        "$HOME/x"
    );
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|m| m["category"] == "integration")
    );
}

#[test]
fn every_change_and_reveal_is_audited_without_values() {
    let e = Env::new().with_tree();
    e.set("AUDITED", "acme", "agent", "audit-canary-4411").ok();
    e.run(&["secret", "get", "AUDITED", "--scope", "acme"]).ok();
    e.run(&[
        "secret", "rollback", "AUDITED", "--scope", "acme", "--to", "1",
    ])
    .ok();
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "AUDITED"])
        .ok()
        .trim()
        .to_string();
    e.run(&["dispatch", &task]).ok();
    e.run(&["secret", "delete", "AUDITED", "--scope", "acme"])
        .ok();
    let rows = e.sql(
        "SELECT actor, action, scope, name, version, source, COALESCE(detail, '') FROM audit ORDER BY id",
    );

    for action in [
        "secret.set",
        "secret.reveal",
        "secret.rollback",
        "task.dispatch",
        "secret.delete",
    ] {
        assert!(
            rows.lines()
                .any(|l| l.starts_with("cli:tester|") && l.contains(&format!("|{action}|"))),
            "{action} not audited:\n{rows}"
        );
    }
    assert!(
        rows.contains("|secret.reveal|acme|AUDITED|1|cli|"),
        "{rows}"
    );
    assert!(!rows.contains("audit-canary-4411"));
}

#[test]
fn brief_revoke_stops_the_callback_token_and_brief_show_says_revoked() {
    let e = Env::new().with_tree();
    e.set("A", "acme", "agent", "revoke-canary-value").ok();
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    let d = json(e.run(&["dispatch", &task, "--json"]).ok());
    let brief = d["brief_id"].as_str().unwrap().to_string();
    let token = d["env"]["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        json(e.run(&["brief", "show", &brief, "--json"]).ok())["status"],
        "running"
    );
    e.run_stdin(&["callback", "verify", &brief], token.as_bytes())
        .ok();
    let out = e.run(&["brief", "revoke", &brief]).ok().to_string();
    assert!(out.contains("revoked"), "{out}");
    // The token stops working at once.
    e.run_stdin(&["callback", "verify", &brief], token.as_bytes())
        .fails(1, "not valid");
    let shown = json(e.run(&["brief", "show", &brief, "--json"]).ok());
    assert_eq!(shown["status"], "revoked");
    // Again: nothing left to revoke, not an error.
    let again = e.run(&["brief", "revoke", &brief]).ok().to_string();
    assert!(again.contains("already revoked"), "{again}");
    let audit = e.run(&["audit", "--json"]).ok().to_string();
    let revokes = json(&audit)
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "brief.revoke" && r["target"] == brief.as_str())
        .count();
    assert_eq!(revokes, 1, "{audit}");
    assert!(!audit.contains(&token) && !out.contains(&token));
}

#[test]
fn org_allow_links_replaces_shows_and_clears_the_prefixes() {
    let e = Env::new().with_tree();
    // Nothing allowed by default.
    let out = e.run(&["org", "allow-links", "acme"]).ok().to_string();
    assert!(
        out.contains("no references may be linked but by root"),
        "{out}"
    );
    // Both lists are replaced; normalised (trailing `/` dropped), sorted, deduplicated.
    let out = e
        .run(&[
            "org",
            "allow-links",
            "acme",
            "--aws-prefix",
            "apps/b/",
            "--aws-prefix",
            "apps/a",
            "--aws-prefix",
            "apps/a/",
            "--vault-prefix",
            "secret/apps",
        ])
        .ok()
        .to_string();
    assert_eq!(out, "aws_sm apps/a\naws_sm apps/b\nvault secret/apps\n");
    let shown = json(e.run(&["org", "allow-links", "acme", "--json"]).ok());
    assert_eq!(
        shown,
        serde_json::json!({"aws_prefixes": ["apps/a", "apps/b"], "vault_prefixes": ["secret/apps"]})
    );
    // A second call replaces, it does not add.
    e.run(&["org", "allow-links", "acme", "--vault-prefix", "kv/x"])
        .ok();
    let shown = json(e.run(&["org", "allow-links", "acme", "--json"]).ok());
    assert_eq!(
        shown,
        serde_json::json!({"aws_prefixes": [], "vault_prefixes": ["kv/x"]})
    );
    // Bad prefixes change nothing and are not echoed.
    for (flag, bad) in [
        ("--vault-prefix", "secret/../other"),
        ("--vault-prefix", "secret//x"),
        ("--vault-prefix", "secret/x#field"),
        (
            "--aws-prefix",
            "arn:aws:secretsmanager:us-east-1:1:secret:x",
        ),
        ("--aws-prefix", "has space"),
        ("--aws-prefix", "/"),
    ] {
        let r = e.run(&["org", "allow-links", "acme", flag, bad]);
        r.fails(1, "link prefix");
        assert!(!r.stderr.contains(bad), "{}", r.stderr);
    }
    e.run(&["org", "allow-links", "nope", "--aws-prefix", "x"])
        .fails(1, "unknown organization");
    e.run(&["org", "allow-links", "acme/platform", "--none"])
        .fails(1, "");
    e.run(&["org", "allow-links", "acme", "--none", "--aws-prefix", "x"])
        .fails(2, "");
    assert_eq!(
        json(e.run(&["org", "allow-links", "acme", "--json"]).ok())["vault_prefixes"],
        serde_json::json!(["kv/x"])
    );
    // --none clears both; every change is audited.
    e.run(&["org", "allow-links", "acme", "--none"]).ok();
    let out = e.run(&["org", "allow-links", "acme"]).ok().to_string();
    assert!(
        out.contains("no references may be linked but by root"),
        "{out}"
    );
    let audit = e.run(&["audit", "--json"]).ok().to_string();
    assert_eq!(audit.matches("org.allow_links").count(), 3, "{audit}");
}

/// Runs the binary through `sh` with umask 000, so that any file it does not create
/// owner-only on purpose comes out world-readable (and writable).
pub(crate) fn umask0(e: &Env, args: &[&str], stdin: &[u8]) -> Run {
    let c = e.command(args);
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(bin())
        .args(args)
        .current_dir(e.dir.path());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    run_with(&mut sh, stdin)
}

#[cfg(unix)]
pub(crate) fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[test]
fn serve_on_a_fresh_folder_creates_owner_only_files_whatever_the_umask() {
    use std::process::Stdio;
    let e = Env::bare();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = e.command(&["serve"]);
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("umask 000; exec \"$0\" serve")
        .arg(bin())
        .current_dir(e.dir.path());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.env("SECRETSTORE_LISTEN", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(e.path("serve.out")).unwrap())
        .stderr(Stdio::null());
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _g = Guard(sh.spawn().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(e.path("serve.out"))
        .unwrap()
        .contains("listening on")
    {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(mode(&e.path(".env")), 0o600, ".env");
    if !postgres_mode() {
        for f in ["secretstore.db", "secretstore.db-wal", "secretstore.db-shm"] {
            assert_eq!(mode(&e.path(f)), 0o600, "{f}");
        }
    }
}

#[cfg(unix)]
#[test]
fn env_files_are_never_written_through_a_symlink() {
    let e = Env::new().with_tree();
    e.set("A", "acme", "agent", "CANARY-symlink-value-3301")
        .ok();
    let t = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    std::fs::write(e.path("victim.txt"), "original\n").unwrap();
    std::os::unix::fs::symlink(e.path("victim.txt"), e.path("link.env")).unwrap();
    std::os::unix::fs::symlink(e.path("created-by-link.txt"), e.path("dangling.env")).unwrap();
    for link in ["link.env", "dangling.env"] {
        let r = e.run(&["dispatch", &t, "--env-file", link]);
        r.fails(1, "is a symbolic link");
        assert!(!r.stderr.contains("CANARY"), "{}", r.stderr);
    }
    assert_eq!(
        std::fs::read_to_string(e.path("victim.txt")).unwrap(),
        "original\n"
    );
    assert!(!e.path("created-by-link.txt").exists());
    // Nothing was dispatched for a refused env file.
    assert_eq!(e.sql("SELECT COUNT(*) FROM briefs").trim(), "0");
    // .env is not followed either.
    let f = Env::bare();
    std::fs::write(f.path("target.txt"), "# keep\n").unwrap();
    std::os::unix::fs::symlink(f.path("target.txt"), f.path(".env")).unwrap();
    f.run(&["init"]).fails(1, "is a symbolic link");
    assert_eq!(
        std::fs::read_to_string(f.path("target.txt")).unwrap(),
        "# keep\n"
    );
}

/// Runs `secretstore ARGS` in `e`'s folder with its stdout on a terminal (a pty that
/// `script` from util-linux makes); what the terminal received.
fn on_a_terminal(e: &Env, args: &[&str]) -> Vec<u8> {
    let mut line = format!("'{}'", bin().display());
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &line, "/dev/null"])
        .current_dir(e.dir.path());
    // The environment the folder's commands get.
    for (k, v) in e.command(args).get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let r = run_with(&mut c, b"");
    assert_eq!(r.code, 0, "script: {}", r.stderr);
    r.raw_stdout
}

/// Issue 14: `secret get` on a terminal left the prompt glued to the value (no newline);
/// the newline goes to a terminal only.
#[test]
fn secret_get_added_no_newline_when_stdout_was_a_terminal() {
    let e = Env::new().with_tree();
    e.set("TTY_VALUE", "acme", "agent", "tty-canary-7731").ok();
    let shown = on_a_terminal(&e, &["secret", "get", "TTY_VALUE", "--scope", "acme"]);
    // The terminal turns "\n" into "\r\n".
    assert_eq!(
        String::from_utf8_lossy(&shown),
        "tty-canary-7731\r\n",
        "on a terminal"
    );
}

/// Issue 14: the other half of the rule: into a pipe, `secret get` writes the value byte
/// for byte, with no newline added (one kept when the value ends with one).
#[test]
fn secret_get_added_a_newline_when_stdout_was_a_pipe() {
    let e = Env::new().with_tree();
    std::fs::write(e.path("v.txt"), "line one\nline two\n").unwrap();
    e.run(&[
        "secret",
        "set",
        "PIPED",
        "--scope",
        "acme",
        "--category",
        "agent",
        "--from-file",
        "v.txt",
    ])
    .ok();
    e.set("PLAIN", "acme", "agent", "pipe-canary-7732").ok();
    let r = e.run(&["secret", "get", "PIPED", "--scope", "acme"]);
    assert_eq!(r.raw_stdout, b"line one\nline two\n");
    let r = e.run(&["secret", "get", "PLAIN", "--scope", "acme"]);
    assert_eq!(r.raw_stdout, b"pipe-canary-7732");
}

/// Issue 14: `brief show` printed only JSON, for scripts; for people it now prints the
/// brief with its status and, once the agent called back, when that was (both in the
/// plain output and in `--json`).
#[test]
fn brief_show_had_no_plain_output_with_the_status_and_completion_time() {
    let e = Env::new().with_tree();
    e.set("A", "acme/platform/dev", "agent", "brief-canary-7741")
        .ok();
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    let d = json(e.run(&["dispatch", &task, "--json"]).ok());
    let brief = d["brief_id"].as_str().unwrap().to_string();
    let token = d["env"]["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap()
        .to_string();
    let plain = e.run(&["brief", "show", &brief]).ok().to_string();
    assert!(plain.contains(&format!("brief      {brief}")), "{plain}");
    assert!(plain.contains(&format!("task       {task}")), "{plain}");
    assert!(plain.contains(&format!("project    {PROJECT}")), "{plain}");
    assert!(plain.contains("status     running"), "{plain}");
    assert!(!plain.contains("completed"), "{plain}");
    assert!(
        plain
            .lines()
            .any(|l| l.starts_with("A ") && l.contains("acme/platform/dev") && l.contains("local")),
        "{plain}"
    );
    let shown = json(e.run(&["brief", "show", &brief, "--json"]).ok());
    assert_eq!(shown["status"], "running");
    assert!(shown.get("completed_at").is_none(), "{shown}");

    // The agent calls back over HTTP: the brief is completed.
    let server = server::Server::start(&e, &[]);
    let (code, body, _) = server.call(
        "POST",
        &format!("/api/v1/briefs/{brief}/callback"),
        Some(&token),
        None,
    );
    assert_eq!(code, 200, "{body}");
    let (code, stderr) = server.terminate();
    assert_eq!(code, 0, "{stderr}");

    let plain = e.run(&["brief", "show", &brief]).ok().to_string();
    assert!(plain.contains("status     completed"), "{plain}");
    let completed = plain
        .lines()
        .find_map(|l| l.strip_prefix("completed  "))
        .unwrap_or_else(|| panic!("no completion time: {plain}"));
    assert!(
        completed.starts_with("20") && completed.ends_with('Z'),
        "{completed}"
    );
    let shown = json(e.run(&["brief", "show", &brief, "--json"]).ok());
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["completed_at"], completed);
    for out in [plain.as_str(), &shown.to_string()] {
        assert!(!out.contains("brief-canary-7741") && !out.contains(&token));
    }
}

/// Issue 14: the serve banner named no web UI, and its `try:` line used `$TOKEN`, a name
/// the README never sets: it now prints the UI's address and what to export under the
/// README's names (`ROOT`, `API`).
#[test]
fn serve_banner_named_no_web_ui_and_not_the_readmes_variables() {
    let e = Env::bare();
    let server = server::Server::start(&e, &[]);
    let out = server.stdout();
    let root = server.root_token();
    let base = format!("http://{}", server.addr);
    assert!(
        out.lines()
            .any(|l| l == format!("web UI: {base}/ui/ (sign in with an API token)")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l == format!("export ROOT={root}")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l == format!("export API={base}/api/v1")),
        "{out}"
    );
    assert!(!out.contains("$TOKEN"), "{out}");
    assert!(
        out.contains(r#"curl -H "Authorization: Bearer $ROOT" "$API/whoami""#),
        "{out}"
    );
    // The rest of the banner is kept: the token, shown once, and where the API is.
    assert!(out.contains("its API token, shown once"), "{out}");
    assert!(
        out.contains(&format!(
            "secretstore listening on {base} (API under {base}/api/v1"
        )),
        "{out}"
    );
    let (code, stderr) = server.terminate();
    assert_eq!(code, 0, "{stderr}");
    // A second start: no token, but still the addresses.
    let again = server::Server::start(&e, &[]);
    let out = again.stdout();
    assert!(!out.contains("ROOT=") && !out.contains("sst_"), "{out}");
    assert!(out.contains("web UI: http://"), "{out}");
    assert!(out.contains("export API=http://"), "{out}");
}

#[test]
fn secret_find_lists_matching_names_at_every_scope_without_values() {
    let e = Env::new().with_tree();
    e.set("STRIPE_KEY", "acme/platform", "provider", "find-canary-1")
        .ok();
    e.set("OLD_STRIPE", "acme/other/dev", "provider", "find-canary-2")
        .ok();
    e.set("DB_URL", "acme", "infrastructure", "find-canary-3")
        .ok();

    // A part of a name, in either case, at every scope.
    let found = json(e.run(&["secret", "find", "stripe", "--json"]).ok());
    let mut hits: Vec<(String, String)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["scope"].as_str().unwrap().to_owned(),
                m["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    hits.sort();
    assert_eq!(
        hits,
        [
            ("acme/other/dev".to_owned(), "OLD_STRIPE".to_owned()),
            ("acme/platform".to_owned(), "STRIPE_KEY".to_owned()),
        ]
    );
    // A whole name with *; the table names the scope.
    let table = e.run(&["secret", "find", "STRIPE_*"]).ok().to_string();
    assert!(table.starts_with("SCOPE"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("acme/platform") && l.contains("STRIPE_KEY")),
        "{table}"
    );
    assert!(!table.contains("OLD_STRIPE"), "{table}");
    // Only at one scope.
    let one = json(
        e.run(&[
            "secret",
            "find",
            "stripe",
            "--scope",
            "acme/platform",
            "--json",
        ])
        .ok(),
    );
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
    // Nothing found: said on stderr, exit 0; an empty pattern is an error.
    let none = e.run(&["secret", "find", "nothing_like_it"]);
    none.ok();
    assert!(none.stderr.contains("no secret matches"), "{}", none.stderr);
    e.run(&["secret", "find", ""]).fails(1, "error: ");
    for out in [found.to_string(), table] {
        assert!(!out.contains("find-canary"), "a value was printed: {out}");
    }
}

#[test]
fn secret_access_names_the_readers_and_the_running_briefs_that_hold_an_old_version() {
    let e = Env::new().with_tree();
    e.set("STRIPE_KEY", "acme/platform", "provider", "access-canary-1")
        .ok();
    let task = e
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "STRIPE_KEY",
        ])
        .ok()
        .trim()
        .to_string();
    let d = json(e.run(&["dispatch", &task, "--json"]).ok());
    let brief = d["brief_id"].as_str().unwrap().to_string();
    // Rotated after the dispatch, then read: the running agent holds version 1.
    e.set("STRIPE_KEY", "acme/platform", "provider", "access-canary-2")
        .ok();
    e.run(&["secret", "get", "STRIPE_KEY", "--scope", "acme/platform"])
        .ok();

    let args = ["secret", "access", "STRIPE_KEY", "--scope", "acme/platform"];
    let j = json(
        e.run(&[&args[..], &["--since", "1h", "--json"]].concat())
            .ok(),
    );
    let rows = j.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{j}");
    assert_eq!(rows[0]["action"], "secret.reveal");
    assert_eq!(rows[0]["version"], 2);
    assert_eq!(rows[1]["action"], "task.dispatch");
    assert_eq!(rows[1]["version"], 1);
    assert_eq!(rows[1]["target"], brief.as_str());
    assert_eq!(rows[1]["brief_status"], "running");
    assert_eq!(rows[1]["holds_old_version"], true);
    let table = e.run(&args);
    let text = table.ok().to_string();
    assert!(text.starts_with("AT"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("dispatch")
            && l.contains(&brief)
            && l.contains("running, old version")),
        "{text}"
    );
    assert!(
        table.stderr.contains("current version: v2"),
        "{}",
        table.stderr
    );

    // Revoked, the brief no longer counts as holding anything live.
    e.run(&["brief", "revoke", &brief]).ok();
    let j = json(e.run(&[&args[..], &["--json"]].concat()).ok());
    assert_eq!(j[1]["brief_status"], "revoked");
    assert_eq!(j[1]["holds_old_version"], false);
    // Nothing in the window; a malformed time is an error.
    let none = e.run(&[&args[..], &["--until", "2000-01-01"]].concat());
    none.ok();
    assert!(none.stderr.contains("nobody was handed"), "{}", none.stderr);
    e.run(&[&args[..], &["--since", "yesterday"]].concat())
        .fails(1, "error: ");
    for out in [j.to_string(), text] {
        assert!(!out.contains("access-canary"), "a value was printed: {out}");
    }
}
