//! AWS Secrets Manager (moto) and Vault (OpenBao) through the real binary: values never in
//! the database, linking, mixed dispatch, rotation in the backend, failures that fail
//! closed. `scripts/test.sh` starts the servers and sets the `SECRETSTORE_TEST_*` variables.

use crate::common::*;
use secretstore_testkit::moto::Moto;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "acme/platform/dev/agent-x";

pub(crate) fn aws_vars(e: &mut Env, endpoint: &str) {
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

pub(crate) fn vault_vars(e: &mut Env) {
    e.vars
        .push(("VAULT_ADDR".into(), need("SECRETSTORE_TEST_VAULT_ADDR")));
    e.vars
        .push(("VAULT_TOKEN".into(), need("SECRETSTORE_TEST_VAULT_TOKEN")));
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

pub(crate) fn set_with(e: &Env, backend: &str, name: &str, scope: &str, value: &str) -> Run {
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

pub(crate) fn assert_nowhere(e: &Env, canary: &str) {
    for (path, bytes) in e.all_bytes() {
        assert!(
            !contains(&bytes, canary.as_bytes()),
            "{canary} found in {}",
            path.display()
        );
    }
}

/// `vault kv put`-like write from outside secretstore, through the HTTP API.
pub(crate) fn vault_put(path: &str, data: serde_json::Value) {
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
        e.run(&["brief", "show", d["brief_id"].as_str().unwrap(), "--json"])
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

#[test]
fn aws_stopped_mid_test_fails_the_dispatch_closed_within_the_bound() {
    let moto = Moto::start(&[]);
    let mut e = Env::new().with_tree();
    aws_vars(&mut e, &moto.url);
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
    let brief = json(e.run(&["brief", "show", &id, "--json"]).ok());
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

// ── Link authorization (issue 10, item 1): `link` is not a confused deputy ──────────────

/// `CreateSecret` straight on moto, as someone outside secretstore would: the ARN.
fn moto_create(name: &str, value: &str) -> String {
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST"])
        .args(["-H", "X-Amz-Target: secretsmanager.CreateSecret"])
        .args(["-H", "Content-Type: application/x-amz-json-1.1"])
        .args([
            "-H",
            "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        ])
        .arg("-d")
        .arg(serde_json::json!({"Name": name, "SecretString": value}).to_string())
        .arg(format!("{}/", need("SECRETSTORE_TEST_MOTO_URL")))
        .output()
        .unwrap();
    assert!(out.status.success(), "moto CreateSecret {name} failed");
    json(&String::from_utf8_lossy(&out.stdout))["ARN"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An account with one role and a token for it, made on the command line.
fn account_token(e: &Env, name: &str, role: &[&str]) -> String {
    e.run(&["account", "create", name]).ok();
    let mut grant = vec!["grant", name];
    grant.extend_from_slice(role);
    e.run(&grant).ok();
    e.run(&["token", "create", name]).ok().trim().to_string()
}

/// The per-test AWS prefix that [`aws_vars`] set.
pub(crate) fn sm_prefix(e: &Env) -> String {
    e.vars
        .iter()
        .find(|(k, _)| k == "AWS_SM_PREFIX")
        .map(|(_, v)| v.clone())
        .unwrap()
}

/// A per-test uppercase tag for names that live on the shared OpenBao server.
pub(crate) fn tag(e: &Env) -> String {
    e.dir.path().file_name().unwrap().to_string_lossy()[4..]
        .to_uppercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
}

pub(crate) struct LinkWorld {
    pub(crate) e: Env,
    pub(crate) srv: Server,
    pub(crate) root: String,
    /// member acme/platform
    pub(crate) alice: String,
    /// member acme/other
    pub(crate) bob: String,
    /// admin acme
    pub(crate) ada: String,
    /// admin globex
    pub(crate) gus: String,
}

pub(crate) fn link_world(backend: &str) -> LinkWorld {
    let mut e = Env::new().with_tree();
    aws_vars(&mut e, &need("SECRETSTORE_TEST_MOTO_URL"));
    vault_vars(&mut e);
    e.run(&["org", "create", "globex"]).ok();
    e.run(&["team", "create", "globex/sales"]).ok();
    let alice = account_token(&e, "alice", &["member", "acme/platform"]);
    let bob = account_token(&e, "bob", &["member", "acme/other"]);
    let ada = account_token(&e, "ada", &["admin", "acme"]);
    let gus = account_token(&e, "gus", &["admin", "globex"]);
    let root = account_token(&e, "ops", &["root"]);
    let srv = Server::start(&e, &[("SECRET_BACKEND", backend)]);
    LinkWorld {
        e,
        srv,
        root,
        alice,
        bob,
        ada,
        gus,
    }
}

impl LinkWorld {
    pub(crate) fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value, String) {
        let body = body.map(|b| b.to_string());
        self.srv.call(method, path, Some(token), body.as_deref())
    }

    pub(crate) fn link(
        &self,
        token: &str,
        scope: &str,
        name: &str,
        field: &str,
        reference: &str,
    ) -> (u16, serde_json::Value, String) {
        self.call(
            token,
            "POST",
            &format!("/api/v1/secrets/{name}/link?scope={scope}"),
            Some(serde_json::json!({field: reference, "category": "infrastructure"})),
        )
    }

    pub(crate) fn value(
        &self,
        token: &str,
        scope: &str,
        name: &str,
    ) -> (u16, serde_json::Value, String) {
        self.call(
            token,
            "GET",
            &format!("/api/v1/secrets/{name}/value?scope={scope}"),
            None,
        )
    }

    pub(crate) fn put(
        &self,
        token: &str,
        scope: &str,
        name: &str,
        value: &str,
    ) -> (u16, serde_json::Value, String) {
        self.call(
            token,
            "PUT",
            &format!("/api/v1/secrets/{name}?scope={scope}"),
            Some(serde_json::json!({"value": value, "category": "infrastructure"})),
        )
    }
}

/// A refusal names nothing of the reference but what was sent.
#[track_caller]
pub(crate) fn refused(a: &(u16, serde_json::Value, String), sent: &str, hidden: &[&str]) {
    assert_eq!(a.0, 403, "{}", a.2);
    assert_eq!(a.1["error"]["code"], "forbidden", "{}", a.2);
    for h in hidden {
        if !sent.contains(h) {
            assert!(!a.2.contains(h), "{h} in {}", a.2);
        }
    }
}

#[test]
fn link_outside_the_allowed_aws_prefixes_is_refused_and_inside_is_allowed() {
    let w = link_world("aws_sm");
    let base = format!("{}ext", sm_prefix(&w.e));
    let shared = format!("{base}/shared/api");
    let shared_arn = moto_create(&shared, "shared-value-1");
    let lookalike = format!("{base}/shared-x/api");
    moto_create(&lookalike, "lookalike-value-2");
    let elsewhere = format!("{base}/elsewhere/api");
    moto_create(&elsewhere, "elsewhere-value-3");
    // With nothing allowed, only root links.
    let a = w.link(&w.alice, "acme/platform", "SHARED", "aws_arn", &shared);
    refused(&a, &shared, &[&shared_arn]);
    let a = w.link(&w.ada, "acme", "SHARED", "aws_arn", &shared);
    refused(&a, &shared, &[&shared_arn]);
    // A refusal says nothing of existence: a name that does not exist answers the same.
    let ghost = format!("{base}/shared-x/ghost");
    let a = w.link(&w.alice, "acme/platform", "SHARED", "aws_arn", &ghost);
    refused(&a, &ghost, &[]);
    // Root allows `BASE/shared/` for acme (not globex).
    let out =
        w.e.run(&[
            "org",
            "allow-links",
            "acme",
            "--aws-prefix",
            &format!("{base}/shared/"),
        ])
        .ok()
        .to_string();
    assert!(out.contains(&format!("{base}/shared")), "{out}");
    let (s, _, t) = w.link(&w.alice, "acme/platform", "SHARED", "aws_arn", &shared);
    assert_eq!(s, 200, "{t}");
    let (s, v, t) = w.value(&w.alice, "acme/platform", "SHARED");
    assert_eq!(
        (s, v["value"].as_str()),
        (200, Some("shared-value-1")),
        "{t}"
    );
    // By ARN too.
    let (s, _, t) = w.link(
        &w.alice,
        "acme/platform",
        "SHARED_ARN",
        "aws_arn",
        &shared_arn,
    );
    assert_eq!(s, 200, "{t}");
    // Segment boundaries: `shared` does not allow `shared-x`; nor anything else.
    for r in [&lookalike, &elsewhere] {
        let a = w.link(&w.alice, "acme/platform", "OTHER", "aws_arn", r);
        refused(&a, r, &["value-"]);
    }
    // An admin of another organization gets nothing from acme's list.
    w.e.run(&["team", "create", "globex/ops"]).ok();
    let a = w.link(&w.gus, "globex", "SHARED", "aws_arn", &shared);
    refused(&a, &shared, &[&shared_arn]);
    // Root links anything, anywhere.
    let (s, _, t) = w.link(&w.root, "globex", "ELSEWHERE", "aws_arn", &elsewhere);
    assert_eq!(s, 200, "{t}");
    let (s, v, _) = w.value(&w.gus, "globex", "ELSEWHERE");
    assert_eq!((s, v["value"].as_str()), (200, Some("elsewhere-value-3")));
    // The policy over the API: root writes it, an admin of the org reads it, a member does not.
    let (s, v, t) = w.call(&w.ada, "GET", "/api/v1/orgs/acme/link-prefixes", None);
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        v["aws_prefixes"],
        serde_json::json!([format!("{base}/shared")]),
        "{t}"
    );
    assert_eq!(
        w.call(&w.alice, "GET", "/api/v1/orgs/acme/link-prefixes", None)
            .0,
        403
    );
    assert_eq!(
        w.call(&w.gus, "GET", "/api/v1/orgs/acme/link-prefixes", None)
            .0,
        404
    );
    let body =
        serde_json::json!({"aws_prefixes": [format!("{base}/elsewhere")], "vault_prefixes": []});
    assert_eq!(
        w.call(
            &w.ada,
            "PUT",
            "/api/v1/orgs/acme/link-prefixes",
            Some(body.clone())
        )
        .0,
        403
    );
    let (s, v, t) = w.call(
        &w.root,
        "PUT",
        "/api/v1/orgs/acme/link-prefixes",
        Some(body),
    );
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        v["aws_prefixes"],
        serde_json::json!([format!("{base}/elsewhere")])
    );
    // Audited.
    let audit = w.e.run(&["audit", "--json"]).ok().to_string();
    assert!(audit.contains("org.allow_links"), "{audit}");
    // Now `shared` is no longer allowed: the existing member link stops working.
    assert_eq!(w.value(&w.alice, "acme/platform", "SHARED").0, 403);
}

#[test]
fn a_bad_aws_link_made_before_is_refused_on_reveal_write_rollback_and_dispatch_and_doctor_reports_it()
 {
    let w = link_world("aws_sm");
    let base = format!("{}ext", sm_prefix(&w.e));
    let api = format!("{base}/apps/api");
    moto_create(&api, "api-value-1");
    w.e.run(&[
        "org",
        "allow-links",
        "acme",
        "--aws-prefix",
        &format!("{base}/apps"),
    ])
    .ok();
    // A member's link inside the prefix, and a root link to team b's own secret.
    let (s, _, t) = w.link(&w.alice, "acme/platform", "API", "aws_arn", &api);
    assert_eq!(s, 200, "{t}");
    let (s, _, t) = w.put(&w.alice, "acme/platform", "API", "api-value-2");
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        w.put(&w.bob, "acme/other", "DB_PW", "team-b-canary-5521").0,
        200
    );
    let b_name = format!("{}acme/other/DB_PW", sm_prefix(&w.e));
    let (s, _, t) = w.link(&w.root, "acme/platform", "FROM_B", "aws_arn", &b_name);
    assert_eq!(s, 200, "{t}");
    // What root linked, members may use.
    let (s, v, _) = w.value(&w.alice, "acme/platform", "FROM_B");
    assert_eq!((s, v["value"].as_str()), (200, Some("team-b-canary-5521")));
    // Root narrows the policy: the member's link is now outside it.
    w.e.run(&["org", "allow-links", "acme", "--none"]).ok();
    let a = w.value(&w.alice, "acme/platform", "API");
    refused(&a, "", &["api-value", &api]);
    let a = w.put(&w.alice, "acme/platform", "API", "api-value-3");
    refused(&a, "", &[&api]);
    let a = w.call(
        &w.alice,
        "POST",
        "/api/v1/secrets/API/rollback?scope=acme/platform",
        Some(serde_json::json!({"to": 1})),
    );
    refused(&a, "", &[&api]);
    // Dispatch through it fails closed.
    let (s, task, t) = w.call(
        &w.alice,
        "POST",
        "/api/v1/tasks",
        Some(serde_json::json!({"project": PROJECT, "secret_refs": ["API"]})),
    );
    assert_eq!(s, 201, "{t}");
    let id = task["id"].as_str().unwrap();
    let (s, _, t) = w.call(
        &w.alice,
        "POST",
        &format!("/api/v1/tasks/{id}/dispatch"),
        None,
    );
    assert!(s >= 400 && !t.contains("api-value"), "{s} {t}");
    // Root still reads it, and the value in AWS is the last one written.
    let (s, v, _) = w.value(&w.root, "acme/platform", "API");
    assert_eq!((s, v["value"].as_str()), (200, Some("api-value-2")));
    // A link from before the change, without root's approval: as if made by a member.
    w.e.sql("DELETE FROM link_approvals");
    let a = w.value(&w.alice, "acme/platform", "FROM_B");
    refused(&a, "", &["team-b-canary", &b_name]);
    let doctor = w.e.run(&["doctor"]);
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    for needle in ["acme/platform API", "acme/platform FROM_B"] {
        assert!(
            doctor.stdout.contains(needle) || doctor.stderr.contains(needle),
            "{needle}: {} {}",
            doctor.stdout,
            doctor.stderr
        );
    }
    assert!(!doctor.stdout.contains("team-b-canary") && !doctor.stderr.contains("team-b-canary"));
}

// ---- external writes are one step with the version check (issue 10, item 5) ----------

/// A suffix of names unique to this test's folder (Vault paths are shared by every test).
pub(crate) fn uniq(e: &Env) -> String {
    e.dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// Runs a Python snippet with boto3's Secrets Manager client as `sm` (moto's URL is
/// `sys.argv[1]`, the rest follow); its stdout as JSON.
fn aws_py(code: &str, args: &[&str]) -> serde_json::Value {
    let script = format!(
        "import boto3, json, sys\n\
         sm = boto3.client('secretsmanager', endpoint_url=sys.argv[1], region_name='us-east-1', \
         aws_access_key_id='test', aws_secret_access_key='test')\n{code}"
    );
    let out = Command::new(need("SECRETSTORE_TEST_PYTHON"))
        .arg("-c")
        .arg(script)
        .arg(need("SECRETSTORE_TEST_MOTO_URL"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&String::from_utf8_lossy(&out.stdout))
}

/// AWS's own view of a secret: the AWSCURRENT version id and value, and every version's
/// value (asked for by version id, so moto's quirks about labels do not matter).
pub(crate) fn aws_state(secret_id: &str) -> (String, String, Vec<String>) {
    let s = aws_py(
        "sid = sys.argv[2]\n\
         cur = sm.get_secret_value(SecretId=sid, VersionStage='AWSCURRENT')\n\
         ids = [v['VersionId'] for v in sm.list_secret_version_ids(SecretId=sid, IncludeDeprecated=True)['Versions']]\n\
         vals = [sm.get_secret_value(SecretId=sid, VersionId=i)['SecretString'] for i in ids]\n\
         print(json.dumps({'id': cur['VersionId'], 'value': cur['SecretString'], 'all': vals}))",
        &[secret_id],
    );
    let mut all: Vec<String> = s["all"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    all.sort();
    (
        s["id"].as_str().unwrap().to_owned(),
        s["value"].as_str().unwrap().to_owned(),
        all,
    )
}

/// Calls Vault's HTTP API as root; the answer as JSON (`Null` when empty) and the status.
pub(crate) fn vault_api(
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    vault_api_as(&need("SECRETSTORE_TEST_VAULT_TOKEN"), method, path, body)
}

fn vault_api_as(
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let addr = need("SECRETSTORE_TEST_VAULT_ADDR");
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H"])
        .arg(format!("X-Vault-Token: {token}"));
    if let Some(b) = body {
        c.arg("-d").arg(b.to_string());
    }
    let out = c.arg(format!("{addr}/v1/{path}")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.trim().parse().unwrap(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// Vault's own view of a KV entry: its current version, how many versions exist, and the
/// `value` field of the latest version (`None` when it is deleted or destroyed).
pub(crate) fn vault_state(path: &str) -> (u64, usize, Option<String>) {
    let (code, meta) = vault_api("GET", &format!("secret/metadata/{path}"), None);
    assert_eq!(code, 200, "{meta}");
    let current = meta["data"]["current_version"].as_u64().unwrap();
    let count = meta["data"]["versions"].as_object().unwrap().len();
    let (_, data) = vault_api("GET", &format!("secret/data/{path}"), None);
    let value = data["data"]["data"]["value"].as_str().map(str::to_owned);
    (current, count, value)
}

/// `n` concurrent `PUT`s of `NAME` at acme/platform, alternating between the servers,
/// each with its own value `{prefix}-{i}`; (value, status) of each.
pub(crate) fn race_puts(
    servers: &[&Server],
    root: &str,
    name: &str,
    prefix: &str,
    n: usize,
    expected: Option<i64>,
) -> Vec<(String, u16)> {
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let addr = addrs[i % addrs.len()].clone();
            let root = root.to_owned();
            let barrier = barrier.clone();
            let path = format!("/api/v1/secrets/{name}?scope=acme/platform");
            let value = format!("{prefix}-{i}");
            std::thread::spawn(move || {
                let mut body = serde_json::json!({ "value": value });
                if let Some(x) = expected {
                    body["expected_version"] = x.into();
                }
                barrier.wait();
                let (code, _, _) =
                    server::http(&addr, "PUT", &path, Some(&root), Some(&body.to_string()));
                (value, code)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Two `serve` processes on one database (one SQLite file, or PostgreSQL in postgres mode)
/// whose new secrets go to `backend`; the tree is created; the root token.
pub(crate) fn two_servers(e: &Env, backend: &str) -> (Server, Server, String) {
    let a = Server::start(e, &[("SECRET_BACKEND", backend)]);
    let root = a.root_token();
    let b = Server::start(e, &[("SECRET_BACKEND", backend)]);
    a.make_tree(&root);
    (a, b, root)
}

/// The current version and its backend version of a secret, as the database records them.
pub(crate) fn db_current(e: &Env, name: &str) -> (i64, String) {
    let row = e.sql(&format!(
        "SELECT s.current_version, v.backend_version FROM secrets s \
         JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
         WHERE s.name = '{name}'"
    ));
    let (v, bv) = row.trim().split_once('|').unwrap();
    (v.parse().unwrap(), bv.to_owned())
}

use crate::common::server::Server;

/// A Vault token that may read everything under secretstore/ but write only `writable`.
pub(crate) fn vault_token_writing_only(writable: &str) -> String {
    let policy_name = format!("ro-{}", writable.replace('/', "-").to_ascii_lowercase());
    let policy = format!(
        "path \"secret/data/secretstore/*\" {{ capabilities = [\"read\"] }}\n\
         path \"secret/metadata/secretstore/*\" {{ capabilities = [\"read\"] }}\n\
         path \"secret/data/{writable}\" {{ capabilities = [\"create\", \"read\", \"update\", \"patch\"] }}\n\
         path \"secret/destroy/{writable}\" {{ capabilities = [\"update\"] }}\n\
         path \"secret/metadata/{writable}\" {{ capabilities = [\"read\", \"delete\"] }}\n"
    );
    let (code, body) = vault_api(
        "PUT",
        &format!("sys/policies/acl/{policy_name}"),
        Some(serde_json::json!({ "policy": policy })),
    );
    assert!(code == 204 || code == 200, "{code} {body}");
    let (code, body) = vault_api(
        "POST",
        "auth/token/create",
        Some(serde_json::json!({ "policies": [policy_name], "ttl": "10m" })),
    );
    assert_eq!(code, 200, "{body}");
    body["auth"]["client_token"].as_str().unwrap().to_owned()
}

#[test]
fn an_import_that_creates_aws_and_vault_secrets_and_then_fails_deletes_them_again() {
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
    let (aws, vnew, readonly) = (format!("AWSN_{u}"), format!("VN_{u}"), format!("VRO_{u}"));
    set_with(&e, "vault", &readonly, "acme/platform", "vr-old").ok();
    let token = vault_token_writing_only(&format!("secretstore/acme/platform/{vnew}"));
    // A new secret goes to SECRET_BACKEND; the existing one stays in Vault, where the
    // token may not write it.
    for (backend, new, value) in [
        ("aws_sm", &aws, "aws-created"),
        ("vault", &vnew, "vault-created"),
    ] {
        std::fs::write(
            e.path("import.env"),
            format!("{new}={value}\n{readonly}=vr-new\n"),
        )
        .unwrap();
        let mut c = e.command(&[
            "secret",
            "import",
            "import.env",
            "--scope",
            "acme/platform",
            "--category",
            "agent",
        ]);
        c.env("VAULT_TOKEN", &token).env("SECRET_BACKEND", backend);
        run_with(&mut c, b"").fails(1, "the 1 external write already made was undone");
        assert!(
            e.sql(&format!("SELECT name FROM secrets WHERE name = '{new}'"))
                .trim()
                .is_empty()
        );
    }
    let out = aws_py(
        "try:\n  sm.describe_secret(SecretId=sys.argv[2]); print('true')\n\
         except sm.exceptions.ResourceNotFoundException: print('false')",
        &[&format!("{prefix}acme/platform/{aws}")],
    );
    assert_eq!(
        out,
        serde_json::json!(false),
        "the AWS secret this import created is gone"
    );
    let (code, _) = vault_api(
        "GET",
        &format!("secret/metadata/secretstore/acme/platform/{vnew}"),
        None,
    );
    assert_eq!(code, 404, "the Vault entry this import created is gone");
}

#[test]
fn a_brief_records_the_backend_versions_whose_values_it_handed_out() {
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
    let (aws, vault) = (format!("BA_{u}"), format!("BV_{u}"));
    set_with(&e, "aws_sm", &aws, "acme/platform", "aws-1").ok();
    set_with(&e, "vault", &vault, "acme/platform", "vault-1").ok();
    let task = e
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            &aws,
            "--ref",
            &vault,
        ])
        .ok()
        .trim()
        .to_string();
    // Written in the backends after secretstore recorded its versions.
    let secret_id = format!("{prefix}acme/platform/{aws}");
    aws_py(
        "sm.put_secret_value(SecretId=sys.argv[2], SecretString='aws-2'); print('null')",
        &[&secret_id],
    );
    vault_put(
        &format!("secretstore/acme/platform/{vault}"),
        serde_json::json!({"value": "vault-2"}),
    );
    let d = json(e.run(&["dispatch", &task, "--json"]).ok());
    assert_eq!(d["env"][&aws], "aws-2");
    assert_eq!(d["env"][&vault], "vault-2");
    let id = d["brief_id"].as_str().unwrap();
    let brief = json(e.run(&["brief", "show", id, "--json"]).ok());
    let (aws_now, _, _) = aws_state(&secret_id);
    let by_name = |n: &str| {
        brief["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name(&aws)["version"], 1);
    assert_eq!(by_name(&aws)["backend_version"], aws_now.as_str());
    assert_eq!(by_name(&vault)["backend_version"], "2");
    assert_eq!(
        e.sql(&format!(
            "SELECT backend_version FROM brief_secrets WHERE brief_id = '{id}' ORDER BY name"
        ))
        .trim(),
        format!("{aws_now}\n2")
    );
}

#[test]
fn an_aws_rollback_racing_writes_leaves_the_database_and_aws_agreeing() {
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
    let name = "ROLLED";
    for (value, category) in [("r1", Some("agent")), ("r2", None)] {
        let mut body = serde_json::json!({ "value": value });
        if let Some(c) = category {
            body["category"] = c.into();
        }
        let (code, _, text) = a.call(
            "PUT",
            &format!("/api/v1/secrets/{name}?scope=acme/platform"),
            Some(&root),
            Some(&body.to_string()),
        );
        assert_eq!(code, 200, "{text}");
    }
    let addrs = [a.addr.clone(), b.addr.clone()];
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let addr = addrs[i % 2].clone();
            let root = root.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let (method, path, body) = if i % 2 == 0 {
                    (
                        "POST",
                        format!("/api/v1/secrets/{name}/rollback?scope=acme/platform"),
                        serde_json::json!({ "to": 1 }),
                    )
                } else {
                    (
                        "PUT",
                        format!("/api/v1/secrets/{name}?scope=acme/platform"),
                        serde_json::json!({ "value": format!("w-{i}") }),
                    )
                };
                barrier.wait();
                let (code, _, text) =
                    server::http(&addr, method, &path, Some(&root), Some(&body.to_string()));
                (i, code, text)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        results.iter().all(|(_, c, _)| *c == 200),
        "rollbacks and writes wait for each other: {results:?}"
    );
    // moto 5.2.5 leaves AWSCURRENT on two versions after a PutSecretValue that follows an
    // UpdateSecretVersionStage (AWS itself moves the label): the database's current version
    // must carry the label and hold the value secretstore hands out.
    let secret_id = format!("{prefix}acme/platform/{name}");
    let labelled = aws_py(
        "stages = sm.describe_secret(SecretId=sys.argv[2])['VersionIdsToStages']\n\
         print(json.dumps(sorted(v for v, s in stages.items() if 'AWSCURRENT' in s)))",
        &[&secret_id],
    );
    let (version, backend_version) = db_current(&e, name);
    assert_eq!(version, 10);
    assert!(
        labelled
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == backend_version.as_str()),
        "the database's current version {backend_version} is AWSCURRENT: {labelled}"
    );
    let in_aws = aws_py(
        "print(json.dumps(sm.get_secret_value(SecretId=sys.argv[2], VersionId=sys.argv[3])['SecretString']))",
        &[&secret_id, &backend_version],
    );
    let (code, v, text) = a.call(
        "GET",
        &format!("/api/v1/secrets/{name}/value?scope=acme/platform"),
        Some(&root),
        None,
    );
    assert_eq!(code, 200, "{text}");
    let labelled = labelled.as_array().unwrap();
    if labelled.len() == 1 {
        assert_eq!(v["value"], in_aws);
    } else {
        // moto 5.2.5 leaves AWSCURRENT on two versions after UpdateSecretVersionStage and
        // then PutSecretValue (real AWS never does), and GetSecretValue answers either: the
        // value handed out must then be one of the versions AWS calls current.
        let current: Vec<serde_json::Value> = labelled
            .iter()
            .map(|id| {
                aws_py(
                    "print(json.dumps(sm.get_secret_value(SecretId=sys.argv[2], VersionId=sys.argv[3])['SecretString']))",
                    &[&secret_id, id.as_str().unwrap()],
                )
            })
            .collect();
        assert!(
            current.contains(&v["value"]),
            "{} not in {current:?}",
            v["value"]
        );
    }
}

#[test]
fn dispatches_racing_aws_writes_record_the_version_whose_value_they_handed_out() {
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
    let name = "HOT";
    let (code, _, text) = a.call(
        "PUT",
        &format!("/api/v1/secrets/{name}?scope=acme/platform"),
        Some(&root),
        Some(&serde_json::json!({"value": "hot-0", "category": "agent"}).to_string()),
    );
    assert_eq!(code, 200, "{text}");
    let (code, t, text) = a.call(
        "POST",
        "/api/v1/tasks",
        Some(&root),
        Some(&serde_json::json!({"project": PROJECT, "secret_refs": [name]}).to_string()),
    );
    assert_eq!(code, 201, "{text}");
    let task = t["id"].as_str().unwrap().to_owned();
    let addrs = [a.addr.clone(), b.addr.clone()];
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(12));
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let addr = addrs[i % 2].clone();
            let root = root.clone();
            let barrier = barrier.clone();
            let task = task.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut out = Vec::new();
                for round in 0..3 {
                    if i % 3 == 0 {
                        let body = serde_json::json!({ "value": format!("hot-{i}-{round}") });
                        let (code, _, text) = server::http(
                            &addr,
                            "PUT",
                            &format!("/api/v1/secrets/{name}?scope=acme/platform"),
                            Some(&root),
                            Some(&body.to_string()),
                        );
                        assert_eq!(code, 200, "{text}");
                    } else {
                        let (code, d, text) = server::http(
                            &addr,
                            "POST",
                            &format!("/api/v1/tasks/{task}/dispatch"),
                            Some(&root),
                            None,
                        );
                        assert_eq!(code, 200, "{text}");
                        out.push(d);
                    }
                }
                out
            })
        })
        .collect();
    let dispatches: Vec<serde_json::Value> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(dispatches.len(), 24);
    let secret_id = format!("{prefix}acme/platform/{name}");
    for d in &dispatches {
        let id = d["brief_id"].as_str().unwrap();
        let (code, brief, text) = a.call("GET", &format!("/api/v1/briefs/{id}"), Some(&root), None);
        assert_eq!(code, 200, "{text}");
        let bv = brief["secrets"][0]["backend_version"]
            .as_str()
            .unwrap_or_else(|| panic!("no backend_version in {brief}"));
        let in_aws = aws_py(
            "print(json.dumps(sm.get_secret_value(SecretId=sys.argv[2], VersionId=sys.argv[3])['SecretString']))",
            &[&secret_id, bv],
        );
        assert_eq!(
            d["env"][name], in_aws,
            "the brief names the AWS version whose value it handed out"
        );
    }
}

#[test]
fn a_record_that_fails_after_the_aws_write_undoes_the_aws_write() {
    // moto of our own, paused (SIGSTOP) while a write waits on it: the secret is deleted
    // from the database meanwhile, so recording the new version fails for real.
    let moto = Moto::start(&[]);
    let mut e = Env::new().with_tree();
    aws_vars(&mut e, &moto.url);
    let prefix = e
        .vars
        .iter()
        .find(|(k, _)| k == "AWS_SM_PREFIX")
        .unwrap()
        .1
        .clone();
    set_with(&e, "aws_sm", "PAUSED", "acme/platform", "before").ok();
    let secret_id = format!("{prefix}acme/platform/PAUSED");
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .arg(sig)
            .arg(moto.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    let mut c = e.command(&["secret", "set", "PAUSED", "--scope", "acme/platform"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut writer = c.spawn().unwrap();
    {
        use std::io::Write;
        writer.stdin.take().unwrap().write_all(b"after").unwrap();
    }
    // The writer holds the reservation and waits on AWS.
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.sql("SELECT COUNT(*) FROM write_reservations").trim() != "1" {
        assert!(Instant::now() < deadline, "the writer never reserved");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    e.run(&["secret", "delete", "PAUSED", "--scope", "acme/platform"])
        .ok();
    signal("-CONT");
    let out = writer.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: ") && stderr.contains("the change in aws_sm was undone"),
        "{stderr}"
    );
    // Back in AWS: AWSCURRENT holds the value from before the write.
    let current = Command::new(need("SECRETSTORE_TEST_PYTHON"))
        .args([
            "-c",
            "import boto3, sys; sm = boto3.client('secretsmanager', endpoint_url=sys.argv[1], \
             region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test'); \
             print(sm.get_secret_value(SecretId=sys.argv[2], VersionStage='AWSCURRENT')['SecretString'])",
            &moto.url,
            &secret_id,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&current.stdout).trim(), "before");
    assert_eq!(e.sql("SELECT COUNT(*) FROM write_reservations").trim(), "0");
}
