//! `secretstore run` (masking, signals) and `secretstore rekey` (master-key rotation that
//! survives a kill -9).

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "acme/platform/dev/agent-x";

fn task(e: &Env, refs: &[&str]) -> String {
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

fn key_of(e: &Env) -> String {
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
