//! AWS Secrets Manager (moto) and Vault (OpenBao) through the real binary: values never in
//! the database, linking, mixed dispatch, rotation in the backend, failures that fail
//! closed. `scripts/test.sh` starts the servers and sets the `SECRETSTORE_TEST_*` variables.

mod common;
use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "acme/platform/dev/agent-x";

fn need(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the tests with scripts/test.sh, which starts moto and OpenBao"
        )
    })
}

fn aws_vars(e: &mut Env, endpoint: &str) {
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        // A prefix of its own per test keeps the tests apart on one moto server.
        (
            "AWS_SM_PREFIX",
            &format!(
                "t{}/",
                &e.dir.path().file_name().unwrap().to_string_lossy()[4..]
            ),
        ),
    ] {
        e.vars.push((k.into(), v.into()));
    }
}

fn vault_vars(e: &mut Env) {
    e.vars
        .push(("VAULT_ADDR".into(), need("SECRETSTORE_TEST_VAULT_ADDR")));
    e.vars
        .push(("VAULT_TOKEN".into(), need("SECRETSTORE_TEST_VAULT_TOKEN")));
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn set_with(e: &Env, backend: &str, name: &str, scope: &str, value: &str) -> Run {
    let mut c = e.command(&[
        "secret",
        "set",
        name,
        "--scope",
        scope,
        "--category",
        "infrastructure",
    ]);
    c.env("SECRET_BACKEND", backend);
    run_with(&mut c, value.as_bytes())
}

fn assert_nowhere(e: &Env, canary: &str) {
    for (path, bytes) in e.all_bytes() {
        assert!(
            !contains(&bytes, canary.as_bytes()),
            "{canary} found in {}",
            path.display()
        );
    }
}

/// `vault kv put`-like write from outside secretstore, through the HTTP API.
fn vault_put(path: &str, data: serde_json::Value) {
    let addr = need("SECRETSTORE_TEST_VAULT_ADDR");
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST", "-H"])
        .arg(format!(
            "X-Vault-Token: {}",
            need("SECRETSTORE_TEST_VAULT_TOKEN")
        ))
        .arg("-d")
        .arg(serde_json::json!({"data": data}).to_string())
        .arg(format!("{addr}/v1/secret/data/{path}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vault write failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn vault_delete(path: &str) {
    let addr = need("SECRETSTORE_TEST_VAULT_ADDR");
    let out = Command::new("curl")
        .args(["-sf", "-X", "DELETE", "-H"])
        .arg(format!(
            "X-Vault-Token: {}",
            need("SECRETSTORE_TEST_VAULT_TOKEN")
        ))
        .arg(format!("{addr}/v1/secret/data/{path}"))
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn one_task_mixes_local_aws_and_vault_and_values_stay_out_of_the_database() {
    let mut e = Env::new().with_tree();
    aws_vars(&mut e, &need("SECRETSTORE_TEST_MOTO_URL"));
    vault_vars(&mut e);
    e.set("LOCAL_KEY", "acme", "provider", "local-canary-1")
        .ok();
    set_with(&e, "aws_sm", "AWS_DB", "acme/platform", "aws-canary-2").ok();
    set_with(
        &e,
        "vault",
        "VAULT_TOKEN_X",
        "acme/platform/dev",
        "vault-canary-3",
    )
    .ok();
    let list = json(
        e.run(&["secret", "list", "--scope", "acme/platform", "--json"])
            .ok(),
    );
    assert_eq!(list[0]["backend"], "aws_sm");
    let task = e
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "LOCAL_KEY",
            "--ref",
            "AWS_DB",
            "--ref",
            "VAULT_TOKEN_X",
        ])
        .ok()
        .trim()
        .to_string();
    let d = json(e.run(&["dispatch", &task, "--json"]).ok());
    assert_eq!(d["env"]["LOCAL_KEY"], "local-canary-1");
    assert_eq!(d["env"]["AWS_DB"], "aws-canary-2");
    assert_eq!(d["env"]["VAULT_TOKEN_X"], "vault-canary-3");
    let brief = json(
        e.run(&["brief", "show", d["brief_id"].as_str().unwrap()])
            .ok(),
    );
    let backends: Vec<&str> = brief["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["backend"].as_str().unwrap())
        .collect();
    assert_eq!(backends, ["local", "aws_sm", "vault"]);
    // Reveal and rotate through secretstore; history keeps the backend's versions.
    assert_eq!(
        e.run(&["secret", "get", "AWS_DB", "--scope", "acme/platform"])
            .ok(),
        "aws-canary-2"
    );
    e.run_stdin(
        &["secret", "set", "AWS_DB", "--scope", "acme/platform"],
        b"aws-canary-2b",
    )
    .ok();
    e.run_stdin(
        &[
            "secret",
            "set",
            "VAULT_TOKEN_X",
            "--scope",
            "acme/platform/dev",
        ],
        b"vault-canary-3b",
    )
    .ok();
    assert_eq!(
        e.run(&[
            "secret",
            "get",
            "AWS_DB",
            "--scope",
            "acme/platform",
            "--version",
            "1"
        ])
        .ok(),
        "aws-canary-2"
    );
    assert_eq!(
        e.run(&[
            "secret",
            "get",
            "VAULT_TOKEN_X",
            "--scope",
            "acme/platform/dev"
        ])
        .ok(),
        "vault-canary-3b"
    );
    e.run(&[
        "secret",
        "rollback",
        "VAULT_TOKEN_X",
        "--scope",
        "acme/platform/dev",
        "--to",
        "1",
    ])
    .ok();
    assert_eq!(
        e.run(&[
            "secret",
            "get",
            "VAULT_TOKEN_X",
            "--scope",
            "acme/platform/dev"
        ])
        .ok(),
        "vault-canary-3"
    );
    e.run(&[
        "secret",
        "rollback",
        "AWS_DB",
        "--scope",
        "acme/platform",
        "--to",
        "1",
    ])
    .ok();
    assert_eq!(
        e.run(&["secret", "get", "AWS_DB", "--scope", "acme/platform"])
            .ok(),
        "aws-canary-2"
    );
    let hist = json(
        e.run(&[
            "secret",
            "history",
            "AWS_DB",
            "--scope",
            "acme/platform",
            "--json",
        ])
        .ok(),
    );
    assert!(
        hist[0]["backend_version"].is_string(),
        "the AWS version id is kept: {hist}"
    );
    // No value of an external secret anywhere on disk: database, WAL, briefs.
    for canary in [
        "aws-canary-2",
        "aws-canary-2b",
        "vault-canary-3",
        "vault-canary-3b",
    ] {
        assert_nowhere(&e, canary);
    }
    let doctor = e.run(&["doctor"]);
    let out = doctor.ok();
    assert!(
        out.contains("aws_sm: ok") && out.contains("vault: ok") && out.contains("local: ok"),
        "{out}"
    );
}

#[test]
fn linked_secrets_rotate_in_the_backend_and_the_next_dispatch_sees_it() {
    let mut e = Env::new().with_tree();
    vault_vars(&mut e);
    let path = format!(
        "apps/{}/db",
        &e.dir.path().file_name().unwrap().to_string_lossy()[4..]
    );
    vault_put(
        &path,
        serde_json::json!({"password": "first-pass", "user": "app"}),
    );
    e.run(&[
        "secret",
        "link",
        "DB_PASSWORD",
        "--scope",
        "acme/platform",
        "--vault-path",
        &format!("secret/{path}#password"),
        "--category",
        "infrastructure",
    ])
    .ok();
    let task = e
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "DB_PASSWORD",
        ])
        .ok()
        .trim()
        .to_string();
    assert_eq!(
        json(e.run(&["dispatch", &task, "--json"]).ok())["env"]["DB_PASSWORD"],
        "first-pass"
    );
    vault_put(
        &path,
        serde_json::json!({"password": "rotated-pass", "user": "app"}),
    );
    assert_eq!(
        json(e.run(&["dispatch", &task, "--json"]).ok())["env"]["DB_PASSWORD"],
        "rotated-pass"
    );
    assert_nowhere(&e, "rotated-pass");
    // A link to nothing is refused and changes nothing.
    e.run(&[
        "secret",
        "link",
        "GHOST",
        "--scope",
        "acme",
        "--vault-path",
        "secret/nothing/here#x",
        "--category",
        "agent",
    ])
    .fails(1, "not found");
    e.run(&[
        "secret",
        "link",
        "BAD",
        "--scope",
        "acme",
        "--vault-path",
        "no-field",
        "--category",
        "agent",
    ])
    .fails(1, "");
    e.run(&["secret", "link", "X", "--scope", "acme"])
        .fails(2, "");
    assert_eq!(
        json(e.run(&["secret", "list", "--scope", "acme", "--json"]).ok()),
        serde_json::json!([])
    );
}

#[test]
fn a_deleted_vault_secret_never_falls_through_to_a_broader_local_one() {
    let mut e = Env::new().with_tree();
    vault_vars(&mut e);
    e.set("API_TOKEN", "acme", "integration", "org-wide-local")
        .ok();
    let path = format!(
        "apps/{}/api",
        &e.dir.path().file_name().unwrap().to_string_lossy()[4..]
    );
    vault_put(&path, serde_json::json!({"token": "team-vault"}));
    e.run(&[
        "secret",
        "link",
        "API_TOKEN",
        "--scope",
        "acme/platform",
        "--vault-path",
        &format!("secret/{path}#token"),
        "--category",
        "integration",
    ])
    .ok();
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "API_TOKEN"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(
        json(e.run(&["dispatch", &task, "--json"]).ok())["env"]["API_TOKEN"],
        "team-vault"
    );
    vault_delete(&path);
    let before = std::fs::read_dir(e.path("briefs")).unwrap().count();
    let r = e.run(&["dispatch", &task, "--json"]);
    r.fails(1, "API_TOKEN");
    assert!(
        r.stderr.contains("acme/platform"),
        "names the scope that failed: {}",
        r.stderr
    );
    assert!(!r.stdout.contains("org-wide-local") && !r.stderr.contains("org-wide-local"));
    assert_eq!(
        std::fs::read_dir(e.path("briefs")).unwrap().count(),
        before,
        "no brief stored"
    );
    // A refused token fails closed the same way.
    let mut c = e.command(&["dispatch", &task]);
    c.env("VAULT_TOKEN", "not-a-valid-token");
    let r = run_with(&mut c, b"");
    r.fails(1, "API_TOKEN");
}

struct Moto(Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn own_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(need("SECRETSTORE_TEST_MOTO_SERVER"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto(child, url)
}

#[test]
fn aws_stopped_mid_test_fails_the_dispatch_closed_within_the_bound() {
    let moto = own_moto();
    let mut e = Env::new().with_tree();
    aws_vars(&mut e, &moto.1);
    e.set("LOCAL_ONE", "acme", "agent", "local").ok();
    set_with(&e, "aws_sm", "AWS_A", "acme/platform", "a").ok();
    set_with(&e, "aws_sm", "AWS_B", "acme/platform/dev", "b").ok();
    let task = e
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "LOCAL_ONE",
            "--ref",
            "AWS_A",
            "--ref",
            "AWS_B",
        ])
        .ok()
        .trim()
        .to_string();
    e.run(&["dispatch", &task]).ok();
    drop(moto);
    let before = std::fs::read_dir(e.path("briefs")).unwrap().count();
    let started = Instant::now();
    let r = e.run(&["dispatch", &task, "--env-file", "agent.env"]);
    let took = started.elapsed();
    r.fails(1, "AWS_A");
    assert!(
        r.stderr.contains("AWS_B") && r.stderr.contains("unavailable"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("LOCAL_ONE"),
        "the local ref did not fail: {}",
        r.stderr
    );
    assert!(
        took < Duration::from_secs(30),
        "the failure is bounded in time: {took:?}"
    );
    assert_eq!(
        std::fs::read_dir(e.path("briefs")).unwrap().count(),
        before,
        "no brief stored"
    );
    assert!(!e.path("agent.env").exists(), "no env handed out");
}

#[test]
fn briefs_can_live_in_s3_with_server_side_encryption() {
    let mut e = Env::new().with_tree();
    let moto = need("SECRETSTORE_TEST_MOTO_URL");
    aws_vars(&mut e, &moto);
    let bucket = format!(
        "briefs-{}",
        &e.dir.path().file_name().unwrap().to_string_lossy()[4..].to_lowercase()
    );
    let out = Command::new("curl")
        .args(["-sf", "-X", "PUT", &format!("{moto}/{bucket}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "create bucket");
    e.vars
        .push(("BRIEF_STORE_URL".into(), format!("s3://{bucket}/briefs")));
    e.set("A", "acme", "agent", "s3-brief-canary").ok();
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    let id = e.run(&["dispatch", &task]).ok().trim().to_string();
    let brief = json(e.run(&["brief", "show", &id]).ok());
    assert_eq!(brief["secrets"][0]["name"], "A");
    assert!(!e.path("briefs").exists(), "no local brief folder");
    // Ask S3 itself (boto3, which moto brings into the test venv) how the object is stored.
    let head = Command::new(need("SECRETSTORE_TEST_PYTHON"))
        .args([
            "-c",
            "import boto3, sys; s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
             aws_access_key_id='test', aws_secret_access_key='test'); \
             print(s3.head_object(Bucket=sys.argv[2], Key=sys.argv[3])['ServerSideEncryption'])",
            &moto,
            &bucket,
            &format!("briefs/{id}.json"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&head.stdout).trim(),
        "AES256",
        "{}",
        String::from_utf8_lossy(&head.stderr)
    );
    let doctor = e.run(&["doctor"]);
    assert!(doctor.ok().contains("briefs: ok"), "{}", doctor.stdout);
    // A missing bucket: the dispatch fails and no token is valid.
    e.vars.push((
        "BRIEF_STORE_URL".into(),
        "s3://no-such-bucket-here/x".into(),
    ));
    e.run(&["dispatch", &task]).fails(1, "");
    assert_eq!(e.run(&["doctor"]).code, 1);
}
