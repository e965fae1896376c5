//! `secretstore run` (masking, signals) and `secretstore rekey` (master-key rotation that
//! survives a kill -9).

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "acme/platform/dev/agent-x";

pub(crate) fn task(e: &Env, refs: &[&str]) -> String {
    let mut args = vec!["task", "create", "--project", PROJECT];
    for r in refs {
        args.extend(["--ref", r]);
    }
    e.run(&args).ok().trim().to_string()
}

#[test]
fn run_masks_values_in_the_output_even_split_across_writes() {
    let e = Env::new().with_tree();
    e.set("API_KEY", "acme", "provider", "sk-live-MASKME-0123456789")
        .ok();
    e.set(
        "PEM",
        "acme",
        "infrastructure",
        "-----BEGIN KEY-----\nMIIBVQIBADANBgkq\n-----END KEY-----",
    )
    .ok();
    e.set("SHORT", "acme", "agent", "on").ok();
    let t = task(&e, &["API_KEY", "PEM", "SHORT"]);
    let script = r#"
        printf 'key=%s\n' "$API_KEY"
        printf 'split=sk-live-MA'; sleep 0.2; printf 'SKME-0123456789\n'
        printf 'err=%s\n' "$API_KEY" >&2
        printf 'pem line: MIIBVQIBADANBgkq\n'
        printf 'token=%s\n' "$SECRETSTORE_CALLBACK_TOKEN"
        printf 'short=%s\n' "$SHORT"
    "#;
    let r = e.run(&["run", "--task", &t, "--", "sh", "-c", script]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout, "key=***\nsplit=***\npem line: ***\ntoken=***\nshort=on\n",
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("err=***"), "{}", r.stderr);
    assert!(!r.stderr.contains("MASKME"), "{}", r.stderr);
    assert!(
        r.stderr.contains("SHORT is shorter than 4 bytes"),
        "the policy is said: {}",
        r.stderr
    );
    let raw = e.run(&[
        "run",
        "--task",
        &t,
        "--no-mask",
        "--",
        "sh",
        "-c",
        "printf %s \"$API_KEY\"",
    ]);
    assert_eq!(raw.stdout, "sk-live-MASKME-0123456789");
}

/// Regression (#17): `run` masked the exact bytes of a value only; a command printing it
/// base64-encoded (a logged `Authorization: Basic` header), as a hex dump, URL-encoded or
/// JSON-escaped showed it whole. The encodings are made by the system's own tools.
#[test]
fn run_printed_a_values_base64_unmasked() {
    let e = Env::new().with_tree();
    let value = r#"sk-live-ENC0DED/0123+4567?&x="q"\z"#;
    e.set("API_KEY", "acme", "provider", value).ok();
    let t = task(&e, &["API_KEY"]);
    // One line each: `label=<form>`.
    let script = r#"
        b64() { base64 -w0; }
        hex() { od -An -v -tx1 | tr -d ' \n'; }
        printf 'b64=%s\n' "$(printf %s "$API_KEY" | b64)"
        printf 'b64_1=%s\n' "$(printf 'x%s' "$API_KEY" | b64)"
        printf 'b64_2=%s\n' "$(printf 'xy%s' "$API_KEY" | b64)"
        printf 'b64url=%s\n' "$(printf %s "$API_KEY" | b64 | tr '+/' '-_' | tr -d =)"
        printf 'b64url_1=%s\n' "$(printf 'x%s' "$API_KEY" | b64 | tr '+/' '-_' | tr -d =)"
        printf 'b64url_2=%s\n' "$(printf 'xy%s' "$API_KEY" | b64 | tr '+/' '-_')"
        printf 'hex=%s\n' "$(printf %s "$API_KEY" | hex)"
        printf 'hex_upper=%s\n' "$(printf %s "$API_KEY" | hex | tr a-f A-F)"
        printf 'url=%s\n' "$(printf %s "$API_KEY" | sed -e 's|/|%2F|g; s|+|%2B|g; s|?|%3F|g; s|&|%26|g; s|=|%3D|g; s|"|%22|g; s|\\|%5C|g')"
        printf 'json=%s\n' "$(printf %s "$API_KEY" | sed -e 's|\\|\\\\|g; s|"|\\"|g')"
        printf 'b64_err=%s\n' "$(printf %s "$API_KEY" | b64)" >&2
    "#;
    let r = e.run(&["run", "--task", &t, "--", "sh", "-c", script]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().chain(r.stderr.lines()).collect();
    for label in [
        "b64",
        "b64_1",
        "b64_2",
        "b64url",
        "b64url_1",
        "b64url_2",
        "hex",
        "hex_upper",
        "url",
        "json",
        "b64_err",
    ] {
        let line = lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{label}=")))
            .unwrap_or_else(|| panic!("no {label}= in {} / {}", r.stdout, r.stderr));
        // Masked, with at most a few characters of base64 around the mask (those of the
        // byte before, one partly the value's last byte, the padding).
        assert!(line.contains("***"), "{label}={line}");
        assert!(line.replace("***", "").len() <= 5, "{label}={line}");
    }
    for part in ["ENC0DED", "454e4330444544", "454E4330444544", "FTkMwREVE"] {
        assert!(
            !r.stdout.contains(part) && !r.stderr.contains(part),
            "{part} in {} / {}",
            r.stdout,
            r.stderr
        );
    }
    // The tools did print the forms.
    let raw = e.run(&["run", "--task", &t, "--no-mask", "--", "sh", "-c", script]);
    assert!(
        raw.stdout.contains("hex=736b2d6c6976652d454e4330444544"),
        "{}",
        raw.stdout
    );
    assert!(
        raw.stdout
            .contains("json=sk-live-ENC0DED/0123+4567?&x=\\\"q\\\"\\\\z"),
        "{}",
        raw.stdout
    );
}

#[test]
fn run_forwards_sigterm_and_exits_with_the_childs_code() {
    let e = Env::new().with_tree();
    e.set("A", "acme", "agent", "value-a").ok();
    let t = task(&e, &["A"]);
    let mut c = e.command(&[
        "run",
        "--task",
        &t,
        "--",
        "sh",
        "-c",
        "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    // Wait until the child is up, then signal secretstore (not the child).
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut out, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "run did not pass SIGTERM on");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(status.code(), Some(42));
    assert!(rest.contains("got-term"), "{rest}");
}

pub(crate) fn key_of(e: &Env) -> String {
    let env = std::fs::read_to_string(e.path(".env")).unwrap();
    env.lines()
        .find_map(|l| l.strip_prefix("FERNET_SECRET_KEY="))
        .unwrap()
        .to_string()
}

#[test]
fn rekey_rotates_the_master_key_survives_kill_9_and_lets_the_old_key_go() {
    let mut e = Env::new().with_tree();
    let old = key_of(&e);
    // Thousands of values: 1500 secrets with two versions each.
    let mut dotenv = String::new();
    for i in 0..1500 {
        dotenv.push_str(&format!("SECRET_{i}=value-{i}\n"));
    }
    std::fs::write(e.path("many.env"), &dotenv).unwrap();
    for _ in 0..2 {
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
    // From now on the environment holds both keys, newest first (it wins over .env).
    e.vars
        .push(("FERNET_SECRET_KEYS".into(), format!("{new},{old}")));
    e.vars.push(("FERNET_SECRET_KEY".into(), String::new()));
    let dry = e.run(&["rekey", "--dry-run"]);
    let dry_out = dry.ok().to_string();
    assert!(dry_out.contains("3000 local values"), "{dry_out}");
    assert!(
        dry_out.contains("key #1 (the first: encrypts): 0") && dry_out.contains("key #2: 3000"),
        "{dry_out}"
    );

    // Interrupt a rekey with SIGKILL part-way through.
    let mut c = e.command(&["rekey", "--batch-size", "3"]);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    child.kill().unwrap();
    child.wait().unwrap();
    // Every value is still readable with the key list; some already moved.
    let mid = e.run(&["rekey", "--dry-run"]).ok().to_string();
    assert!(!mid.contains("no key"), "{mid}");
    eprintln!("after the interruption:\n{mid}");
    let t = task(&e, &["SECRET_0", "SECRET_777", "SECRET_1499"]);
    let d: serde_json::Value =
        serde_json::from_str(e.run(&["dispatch", &t, "--json"]).ok()).unwrap();
    assert_eq!(d["env"]["SECRET_777"], "value-777");

    // Running it again finishes the job.
    let done = e.run(&["rekey"]).ok().to_string();
    assert!(done.contains("can be dropped"), "{done}");
    // Drop the old key: everything, every version, is readable with the new key alone.
    e.vars.retain(|(k, _)| k != "FERNET_SECRET_KEYS");
    e.vars.push(("FERNET_SECRET_KEYS".into(), new.clone()));
    let after = e.run(&["rekey", "--dry-run"]).ok().to_string();
    assert!(
        after.contains("key #1 (the first: encrypts): 3000"),
        "{after}"
    );
    assert_eq!(
        e.run(&[
            "secret",
            "get",
            "SECRET_42",
            "--scope",
            "acme",
            "--version",
            "1"
        ])
        .ok(),
        "value-42"
    );
    let d: serde_json::Value =
        serde_json::from_str(e.run(&["dispatch", &t, "--json"]).ok()).unwrap();
    assert_eq!(d["env"]["SECRET_1499"], "value-1499");
    // And the old key alone is now refused before anything changes.
    e.vars.retain(|(k, _)| k != "FERNET_SECRET_KEYS");
    e.vars.push(("FERNET_SECRET_KEYS".into(), old));
    e.run(&["secret", "get", "SECRET_1", "--scope", "acme"])
        .fails(1, "does not match");
}

/// `run --no-mask` of a task whose command prints its whole environment, one `NAME=value`
/// per line; with `extra` set in secretstore's own environment.
fn run_env(e: &Env, task: &str, flags: &[&str], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut args = vec!["run", "--task", task, "--no-mask"];
    args.extend_from_slice(flags);
    args.extend(["--", "env", "-0"]);
    let mut c = e.command(&args);
    for (k, v) in extra {
        c.env(k, v);
    }
    let r = run_with(&mut c, b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.raw_stdout
        .split(|b| *b == 0)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let l = String::from_utf8_lossy(l);
            let (k, v) = l.split_once('=').unwrap_or((&l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The settings secretstore reads that its own process may hold, as a deployment sets them.
const OPERATOR_SETTINGS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIAOPERATOR0000LEAK"),
    ("AWS_SECRET_ACCESS_KEY", "operator-aws-secret-LEAK"),
    ("AWS_SESSION_TOKEN", "operator-aws-session-LEAK"),
    ("AWS_PROFILE", "operator-profile-LEAK"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/tmp/operator-creds-LEAK"),
    ("AWS_CONFIG_FILE", "/tmp/operator-config-LEAK"),
    ("AWS_WEB_IDENTITY_TOKEN_FILE", "/tmp/operator-wit-LEAK"),
    ("AWS_ROLE_ARN", "arn:aws:iam::000000000000:role/LEAK"),
    (
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://127.0.0.1:1/LEAK",
    ),
    (
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "operator-container-LEAK",
    ),
    ("VAULT_TOKEN_FILE", "/tmp/operator-vault-token-LEAK"),
    ("VAULT_NAMESPACE", "operator-namespace-LEAK"),
    ("SECRETSTORE_CALLBACK_TTL", "3600"),
    ("SECRETSTORE_LISTEN", "127.0.0.1:1"),
    ("PGPASSWORD", "operator-pg-password-LEAK"),
    ("UNRELATED_OPERATOR_VAR", "kept"),
];

#[test]
fn run_gives_its_child_the_brief_and_none_of_secretstores_own_settings() {
    let e = Env::new().with_tree();
    // The master key is in .env, as `init` wrote it; the AWS identity in the environment.
    let key = key_of(&e);
    e.set("A", "acme", "agent", "value-a").ok();
    let t = task(&e, &["A"]);
    let mut extra = OPERATOR_SETTINGS.to_vec();
    // The key in the environment as well (it wins over .env): it must not pass either.
    extra.push(("FERNET_SECRET_KEY", &key));
    let env = run_env(&e, &t, &[], &extra);
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for (k, v) in env.iter() {
        assert!(
            !v.contains("LEAK") && !v.contains(&key),
            "{k} leaked to the child"
        );
        assert!(
            !(k.starts_with("AWS_")
                || k.starts_with("FERNET_")
                || k.starts_with("VAULT_")
                || k.starts_with("DATABASE_")
                || k == "PGPASSWORD"
                || (k.starts_with("SECRETSTORE_")
                    && k != "SECRETSTORE_BRIEF_ID"
                    && k != "SECRETSTORE_CALLBACK_TOKEN")),
            "{k} was passed to the child: {names:?}"
        );
    }
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("A"), Some("value-a"));
    assert!(get("SECRETSTORE_CALLBACK_TOKEN").is_some_and(|v| v.starts_with("sscb_")));
    assert!(get("SECRETSTORE_BRIEF_ID").is_some());
    assert_eq!(get("UNRELATED_OPERATOR_VAR"), Some("kept"));
    assert!(get("PATH").is_some());
}

#[test]
fn a_task_ref_may_still_hand_the_agent_an_aws_identity_on_purpose() {
    let e = Env::new().with_tree();
    e.set(
        "AWS_ACCESS_KEY_ID",
        "acme/platform",
        "infrastructure",
        "AKIAAGENT0000000TASK",
    )
    .ok();
    e.set(
        "FERNET_SECRET_KEY",
        "acme/platform",
        "agent",
        "the-agents-own-fernet-key",
    )
    .ok();
    let t = task(&e, &["AWS_ACCESS_KEY_ID", "FERNET_SECRET_KEY"]);
    let env = run_env(&e, &t, &[], OPERATOR_SETTINGS);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("AWS_ACCESS_KEY_ID"), Some("AKIAAGENT0000000TASK"));
    assert_eq!(get("FERNET_SECRET_KEY"), Some("the-agents-own-fernet-key"));
    assert_eq!(get("AWS_SECRET_ACCESS_KEY"), None);
}

#[test]
fn run_clean_env_passes_only_path_home_lang_term_tz_and_the_brief() {
    let e = Env::new().with_tree();
    e.set("A", "acme", "agent", "value-a").ok();
    let t = task(&e, &["A"]);
    let mut extra = OPERATOR_SETTINGS.to_vec();
    extra.extend([
        ("HOME", "/home/operator"),
        ("LANG", "C.UTF-8"),
        ("TERM", "dumb"),
        ("TZ", "UTC"),
        ("SSH_AUTH_SOCK", "/tmp/agent.sock"),
    ]);
    let env = run_env(&e, &t, &["--clean-env"], &extra);
    let mut names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "A",
            "HOME",
            "LANG",
            "PATH",
            "SECRETSTORE_BRIEF_ID",
            "SECRETSTORE_CALLBACK_TOKEN",
            "TERM",
            "TZ"
        ]
    );
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("HOME"), Some("/home/operator"));
    assert_eq!(get("A"), Some("value-a"));
}

/// Every Fernet-token-shaped string (`gAAAAA[A-Za-z0-9_-]+=*`) in `bytes`.
pub(crate) fn fernet_tokens(bytes: &[u8]) -> Vec<String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(6).position(|w| w == b"gAAAAA") {
        let start = i + at;
        let mut end = start + 6;
        while end < bytes.len() && ok(bytes[end]) {
            end += 1;
        }
        while end < bytes.len() && bytes[end] == b'=' {
            end += 1;
        }
        out.push(String::from_utf8_lossy(&bytes[start..end]).into_owned());
        i = end;
    }
    out
}
