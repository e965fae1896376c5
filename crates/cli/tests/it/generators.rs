//! Per-task credentials (issue #16) with the real binaries, the real PostgreSQL of the test
//! command and moto's IAM and STS: a role minted at dispatch works inside the agent and
//! does only what its grants allow; the callback drops it and ends its sessions; a lease
//! past its TTL is swept by `serve`; a failing mint fails the dispatch as a whole and
//! leaves no role behind; an STS session names the brief. No credential reaches the
//! database, a brief or a log.

use crate::common::server::*;
use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "acme/platform/dev/agent-x";

/// A scratch database on the test PostgreSQL server with a granted table `items` (two
/// rows) and a table `payroll` that no grant names; its admin URL.
fn target_database() -> String {
    let url = new_pg_database();
    psql_ok(
        &url,
        "CREATE TABLE items (id int); INSERT INTO items VALUES (1), (2); \
         CREATE TABLE payroll (salary int); INSERT INTO payroll VALUES (100);",
    );
    url
}

/// Runs SQL with psql; (success, stdout, stderr).
fn psql(url: &str, sql: &str) -> (bool, String, String) {
    let out = Command::new("psql")
        .args([url, "-Atq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .expect("psql (scripts/setup.sh installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn psql_ok(url: &str, sql: &str) -> String {
    let (ok, out, err) = psql(url, sql);
    assert!(ok, "psql {sql}: {err}");
    out
}

/// True if the role exists on the server (roles are the whole server's: other tests'
/// roles are there too, so each test asks about its own).
fn role_exists(admin: &str, role: &str) -> bool {
    assert!(
        role.starts_with("ss_") && role.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    );
    psql_ok(
        admin,
        &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{role}'"),
    ) == "1"
}

/// The user and password of a postgres URL.
fn credentials(url: &str) -> (String, String) {
    // postgres://USER:PASSWORD@HOST:PORT/DB: a minted password is letters and digits.
    let rest = url.strip_prefix("postgres://").expect("a postgres URL");
    let (userinfo, _) = rest.split_once('@').expect("user info in the URL");
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    (user.to_owned(), password.to_owned())
}

/// A folder with the tree, the admin URL stored at the team, and a postgres generator
/// `APP_DB` granted SELECT on `items`; a task naming it: (env, admin URL, task id).
fn postgres_setup(extra_vars: &[(&str, &str)]) -> (Env, String, String) {
    let mut env = Env::new().with_tree();
    for (k, v) in extra_vars {
        env.vars.push(((*k).into(), (*v).into()));
    }
    let admin = target_database();
    env.set("PG_ADMIN_URL", "acme/platform", "infrastructure", &admin)
        .ok();
    let out = env.run(&[
        "secret",
        "generator",
        "APP_DB",
        "--scope",
        "acme/platform",
        "--category",
        "agent",
        "--postgres",
        "PG_ADMIN_URL",
        "--grant",
        "GRANT SELECT ON items TO {{name}}",
        "--ttl",
        "10m",
    ]);
    assert!(
        out.ok().contains("postgres generator, version 1"),
        "{}",
        out.stdout
    );
    let task = env
        .run(&["task", "create", "--project", PROJECT, "--ref", "APP_DB"])
        .ok()
        .trim()
        .to_owned();
    (env, admin, task)
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// `lease list --json` of the folder.
fn leases(env: &Env) -> Vec<serde_json::Value> {
    json(env.run(&["lease", "list", "--json"]).ok())
        .as_array()
        .cloned()
        .unwrap()
}

/// Asserts that no byte of the folder (database, briefs, logs) nor of the texts holds
/// `secret`.
fn nowhere(env: &Env, secret: &str, texts: &[&str]) {
    for (path, bytes) in env.all_bytes() {
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "a credential in {}",
            path.display()
        );
    }
    for t in texts {
        assert!(!t.contains(secret), "a credential in {t}");
    }
}

#[test]
fn a_minted_postgres_role_works_in_the_agent_only_as_granted_and_the_callback_drops_it() {
    let (env, admin, task) = postgres_setup(&[]);
    let server = Server::start(&env, &[]);
    let d = env.run(&["dispatch", &task, "--json"]);
    let doc = json(d.ok());
    let url = doc["env"]["APP_DB"].as_str().unwrap().to_owned();
    let brief = doc["brief_id"].as_str().unwrap().to_owned();
    let callback = doc["env"]["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap()
        .to_owned();
    let (role, password) = credentials(&url);
    assert!(role.starts_with("ss_") && role.len() == 15, "{role}");
    assert_eq!(password.len(), 32);
    assert_ne!(url, admin);

    // What the grants allow, and nothing else.
    assert_eq!(psql_ok(&url, "SELECT count(*) FROM items"), "2");
    let (ok, _, err) = psql(&url, "SELECT * FROM payroll");
    assert!(!ok && err.contains("permission denied"), "{err}");
    let (ok, _, err) = psql(&url, "CREATE TABLE mine (x int)");
    assert!(!ok && err.contains("permission denied"), "{err}");
    // VALID UNTIL is the lease's expiry: the backstop when secretstore is down.
    let valid_until = psql_ok(
        &admin,
        &format!("SELECT rolvaliduntil IS NOT NULL FROM pg_roles WHERE rolname = '{role}'"),
    );
    assert_eq!(valid_until, "t");

    // The brief names the lease; the lease list shows it active.
    let shown = json(env.run(&["brief", "show", &brief, "--json"]).ok());
    let s = &shown["secrets"][0];
    assert_eq!(s["name"], "APP_DB");
    assert_eq!(s["scope"], "acme/platform");
    assert_eq!(s["generator"], "postgres");
    let lease_id = s["lease_id"].as_str().unwrap().to_owned();
    assert!(s["expires_at"].is_string());
    let list = leases(&env);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], lease_id.as_str());
    assert_eq!(list[0]["state"], "active");
    assert_eq!(list[0]["principal"], role.as_str());

    // A session of the role open across the callback is terminated by it.
    let mut open = Command::new("psql")
        .args([url.as_str(), "-Atq", "-c", "SELECT pg_sleep(60)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while psql_ok(
        &admin,
        &format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{role}'"),
    ) != "1"
    {
        assert!(
            Instant::now() < deadline,
            "the agent's session never opened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let (status, body, raw) = server.call(
        "POST",
        &format!("/api/v1/briefs/{brief}/callback"),
        Some(&callback),
        None,
    );
    assert!(status < 300, "{status} {body} {raw}");
    let code = wait_with_timeout(&mut open, Duration::from_secs(10));
    assert_ne!(code, 0, "the open session survived the callback");
    let (ok, _, _) = psql(&url, "SELECT 1");
    assert!(!ok, "the role still logs in after the callback");
    assert!(!role_exists(&admin, &role));
    let list = leases(&env);
    assert_eq!(list[0]["state"], "revoked");
    assert_eq!(list[0]["revoke_reason"], "callback");

    // Audited, never with the credential.
    let audit = env.run(&["audit", "--json"]).ok().to_owned();
    assert!(
        audit.contains("lease.mint") && audit.contains("lease.revoke"),
        "{audit}"
    );
    let (_, log) = server.terminate();
    nowhere(&env, &password, &[&audit, &log]);
}

#[test]
fn a_lease_past_its_ttl_is_swept_by_serve() {
    // The task lives 3 s, so the lease does too (never longer than its task).
    let (env, admin, task) = postgres_setup(&[("SECRETSTORE_CALLBACK_TTL", "3s")]);
    let _server = Server::start(&env, &[]);
    let doc = json(env.run(&["dispatch", &task, "--json"]).ok());
    let url = doc["env"]["APP_DB"].as_str().unwrap().to_owned();
    assert_eq!(psql_ok(&url, "SELECT count(*) FROM items"), "2");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = leases(&env);
        if list[0]["state"] == "revoked" {
            assert_eq!(list[0]["revoke_reason"], "expired");
            break;
        }
        assert!(Instant::now() < deadline, "not swept: {list:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!role_exists(&admin, &credentials(&url).0));
    assert!(!psql(&url, "SELECT 1").0);
}

#[test]
fn an_admin_database_that_is_down_fails_the_dispatch_naming_the_ref_and_leaves_no_role() {
    let (env, admin, _) = postgres_setup(&[]);
    let down = format!(
        "postgres://postgres@127.0.0.1:{}/postgres",
        secretstore_testkit::free_port()
    );
    env.set("DOWN_ADMIN_URL", "acme/platform", "infrastructure", &down)
        .ok();
    env.run(&[
        "secret",
        "generator",
        "REPORTS_DB",
        "--scope",
        "acme/platform",
        "--postgres",
        "DOWN_ADMIN_URL",
        "--grant",
        "GRANT SELECT ON items TO {{name}}",
    ])
    .ok();
    let task = env
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "APP_DB",
            "--ref",
            "REPORTS_DB",
        ])
        .ok()
        .trim()
        .to_owned();
    let out = env.run(&["dispatch", &task, "--json"]);
    out.fails(1, "REPORTS_DB");
    assert!(!out.stderr.contains("APP_DB ("), "{}", out.stderr);
    // The role minted for APP_DB was dropped before the error came back; no brief.
    let list = leases(&env);
    assert_eq!(list.len(), 2, "{list:?}");
    for l in &list {
        assert!(
            !role_exists(&admin, l["principal"].as_str().unwrap()),
            "{l}"
        );
        assert_eq!(l["revoke_reason"], "dispatch_failed", "{l}");
        // The one whose server is down cannot be revoked yet (a mint that timed out may
        // have made the role): kept with its error, retried by the sweeper.
        let want = if l["name"] == "APP_DB" {
            "revoked"
        } else {
            "revoking"
        };
        assert_eq!(l["state"], want, "{l}");
    }
    assert_eq!(
        std::fs::read_dir(env.path("briefs"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

#[test]
fn run_revokes_what_was_minted_when_the_command_ends() {
    let (env, admin, task) = postgres_setup(&[]);
    let out = env.run(&[
        "run",
        "--task",
        &task,
        "--",
        "sh",
        "-c",
        "psql \"$APP_DB\" -Atqc 'SELECT count(*) FROM items'",
    ]);
    assert_eq!(out.ok().trim(), "2");
    let list = leases(&env);
    assert_eq!(list[0]["state"], "revoked", "{list:?}");
    assert!(!role_exists(&admin, list[0]["principal"].as_str().unwrap()));
}

/// Creates an IAM role in moto (its query API, with a made-up signature that names IAM:
/// moto routes by the credential scope and checks no signature by default); its ARN.
fn moto_role(moto: &str, name: &str) -> String {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST"])
        .args([
            "-H",
            "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        ])
        .args(["--data-urlencode", "Action=CreateRole"])
        .args(["--data-urlencode", "Version=2010-05-08"])
        .args(["--data-urlencode", &format!("RoleName={name}")])
        .args(["--data-urlencode", &format!("AssumeRolePolicyDocument={trust}")])
        .arg(format!("{moto}/"))
        .output()
        .unwrap();
    assert!(out.status.success(), "moto CreateRole failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find("<Arn>").expect("an ARN") + 5;
    let end = text[start..].find("</Arn>").unwrap() + start;
    text[start..end].to_owned()
}

#[test]
fn an_aws_sts_generator_hands_the_agent_a_session_named_after_the_brief() {
    let moto = need("SECRETSTORE_TEST_MOTO_URL");
    let mut env = Env::new().with_tree();
    crate::backends::aws_vars(&mut env, &moto);
    let role = format!(
        "agent-{}",
        &env.dir.path().file_name().unwrap().to_string_lossy()[4..]
    );
    let arn = moto_role(&moto, &role);
    std::fs::write(
        env.path("policy.json"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    )
    .unwrap();
    let policy = env.path("policy.json");
    env.run(&[
        "secret",
        "generator",
        "AWS_AGENT",
        "--scope",
        "acme/platform",
        "--aws-role-arn",
        &arn,
        "--session-policy",
        policy.to_str().unwrap(),
        "--ttl",
        "15m",
    ])
    .ok();
    let task = env
        .run(&["task", "create", "--project", PROJECT, "--ref", "AWS_AGENT"])
        .ok()
        .trim()
        .to_owned();
    let doc = json(env.run(&["dispatch", &task, "--json"]).ok());
    let brief = doc["brief_id"].as_str().unwrap();
    let var = |k: &str| doc["env"][k].as_str().unwrap_or_default().to_owned();
    let (key, secret, token) = (
        var("AWS_ACCESS_KEY_ID"),
        var("AWS_SECRET_ACCESS_KEY"),
        var("AWS_SESSION_TOKEN"),
    );
    assert!(
        !key.is_empty() && !secret.is_empty() && !token.is_empty(),
        "{doc}"
    );
    assert!(doc["env"].get("AWS_AGENT").is_none(), "{doc}");
    // The credentials work against moto's STS, and are the role's session for this brief.
    let who = Command::new(need("SECRETSTORE_TEST_PYTHON"))
        .args([
            "-c",
            "import boto3, sys; print(boto3.client('sts', endpoint_url=sys.argv[1], region_name='us-east-1', \
             aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], aws_session_token=sys.argv[4]) \
             .get_caller_identity()['Arn'])",
            &moto,
            &key,
            &secret,
            &token,
        ])
        .output()
        .unwrap();
    let caller = String::from_utf8_lossy(&who.stdout).trim().to_owned();
    assert!(
        caller.ends_with(&format!(":assumed-role/{role}/ss-{brief}")),
        "{caller} {}",
        String::from_utf8_lossy(&who.stderr)
    );
    let list = leases(&env);
    assert_eq!(list[0]["provider"], "aws_sts");
    assert_eq!(list[0]["principal"], caller.as_str());
    // Two aws_sts refs in one task would set the same variables: refused at dispatch.
    env.run(&[
        "secret",
        "generator",
        "AWS_OTHER",
        "--scope",
        "acme/platform",
        "--aws-role-arn",
        &arn,
    ])
    .ok();
    let two = env
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "AWS_AGENT",
            "--ref",
            "AWS_OTHER",
        ])
        .ok()
        .trim()
        .to_owned();
    env.run(&["dispatch", &two]).fails(1, "AWS_ACCESS_KEY_ID");
    let audit = env.run(&["audit", "--json"]).ok().to_owned();
    nowhere(&env, &secret, &[&audit]);
    nowhere(&env, &token, &[&audit]);
}

/// The agent of the leak tests: prints `TOKEN_A` in base64 and `TOKEN_B` in hex, then
/// calls back with what it printed as its output, and prints the callback's answer.
const LEAKY_AGENT: &str = r#"
import base64, binascii, json, os, sys, urllib.request
out = "step 1: " + base64.b64encode(os.environ["TOKEN_A"].encode()).decode() + "\n"
out += "step 2: " + binascii.hexlify(os.environ["TOKEN_B"].encode()).decode() + "\n"
sys.stdout.write(out)
req = urllib.request.Request(
    "http://" + os.environ["AGENT_SERVER"] + "/api/v1/briefs/" + os.environ["SECRETSTORE_BRIEF_ID"] + "/callback",
    data=json.dumps({"status": "succeeded", "output": out}).encode(),
    headers={"Authorization": "Bearer " + os.environ["SECRETSTORE_CALLBACK_TOKEN"],
             "Content-Type": "application/json"},
    method="POST")
with urllib.request.urlopen(req, timeout=30) as r:
    sys.stdout.write("callback: " + r.read().decode() + "\n")
"#;

#[test]
fn an_agent_that_printed_a_value_in_base64_and_another_in_hex_was_not_caught() {
    const TOKEN_A: &str = "ghp_AgentLeakAlpha_5521x";
    const TOKEN_B: &str = "sk-live-agent-bravo/+=9913";
    let (env, admin, _) = postgres_setup(&[]);
    env.set("TOKEN_A", "acme/platform", "provider", TOKEN_A)
        .ok();
    env.set("TOKEN_B", "acme/platform/dev", "provider", TOKEN_B)
        .ok();
    let task = env
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "TOKEN_A",
            "--ref",
            "TOKEN_B",
            "--ref",
            "APP_DB",
        ])
        .ok()
        .trim()
        .to_owned();
    let server = Server::start(&env, &[]);
    let mut c = env.command(&["run", "--task", &task, "--", "python3", "-c", LEAKY_AGENT]);
    c.env("AGENT_SERVER", &server.addr);
    let run = run_with(&mut c, b"");
    let printed = run.ok().to_owned();
    // The callback's answer names both, by encoding; `run` masked what the agent printed.
    let answer = printed
        .lines()
        .find_map(|l| l.strip_prefix("callback: "))
        .unwrap_or_else(|| panic!("no callback answer: {printed} {}", run.stderr));
    let answer = json(answer);
    let mut found: Vec<(String, String)> = answer["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["encoding"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("TOKEN_A".to_owned(), "base64".to_owned()),
            ("TOKEN_B".to_owned(), "hex".to_owned())
        ],
        "{answer}"
    );
    assert_eq!(answer["status"], "completed", "{answer}");

    // Both marked leaked (list, JSON); the brief too; the minted role revoked as leaked.
    let listed = json(
        env.run(&["secret", "list", "--scope", "acme/platform", "--json"])
            .ok(),
    );
    let a = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "TOKEN_A")
        .cloned()
        .unwrap();
    assert!(a["leaked_at"].is_string(), "{listed}");
    let (_, b, raw) = server.call(
        "GET",
        "/api/v1/secrets/TOKEN_B?scope=acme/platform/dev",
        Some(&server.root_token()),
        None,
    );
    assert_eq!(b["leaked"], true, "{raw}");
    let list = leases(&env);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["state"], "revoked", "{list:?}");
    assert_eq!(list[0]["revoke_reason"], "leaked", "{list:?}");
    let role = list[0]["principal"].as_str().unwrap().to_owned();
    assert!(
        !role_exists(&admin, &role),
        "the leaked brief's role survived"
    );
    let brief = list[0]["brief_id"].as_str().unwrap().to_owned();
    let (_, shown, raw) = server.call(
        "GET",
        &format!("/api/v1/briefs/{brief}"),
        Some(&server.root_token()),
        None,
    );
    assert_eq!(shown["leaked"], true, "{raw}");

    // Audited, never with a value; no value (in any form) in any byte or log.
    let audit = env.run(&["audit", "--json"]).ok().to_owned();
    assert_eq!(audit.matches("secret.leaked").count(), 2, "{audit}");
    let (_, log) = server.terminate();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(TOKEN_A);
    let hex: String = TOKEN_B.bytes().map(|b| format!("{b:02x}")).collect();
    for v in [TOKEN_A, TOKEN_B, b64.as_str(), hex.as_str()] {
        nowhere(&env, v, &[&audit, &log, &answer.to_string(), &run.stderr]);
    }
    assert!(
        !printed.contains(TOKEN_A) && !printed.contains(TOKEN_B),
        "{printed}"
    );
}

#[test]
fn doctor_checks_each_generator_without_minting_and_names_those_that_could_not_mint() {
    let (env, admin, _) = postgres_setup(&[]);
    let out = env.run(&["doctor"]);
    let line = out
        .ok()
        .lines()
        .find(|l| l.starts_with("generators: "))
        .unwrap_or_else(|| panic!("no generators line: {}", out.stdout))
        .to_owned();
    assert!(line.starts_with("generators: ok (1 generator(s)"), "{line}");
    assert!(leases(&env).is_empty(), "doctor minted something");

    // A role that may log in but not create roles, and a server that is down.
    let (user, password) = credentials(&admin);
    let plain = format!("plain_{}", crate::backends::uniq(&env).to_ascii_lowercase());
    psql_ok(
        &admin,
        &format!("CREATE ROLE {plain} LOGIN PASSWORD 'plain-canary-pw-31'"),
    );
    let userinfo = if password.is_empty() {
        user.clone()
    } else {
        format!("{user}:{password}")
    };
    let plain_url = admin.replacen(
        &format!("//{userinfo}@"),
        &format!("//{plain}:plain-canary-pw-31@"),
        1,
    );
    assert_ne!(plain_url, admin);
    env.set(
        "PLAIN_ADMIN_URL",
        "acme/platform",
        "infrastructure",
        &plain_url,
    )
    .ok();
    let down = format!(
        "postgres://postgres:down-canary-pw-32@127.0.0.1:{}/postgres",
        secretstore_testkit::free_port()
    );
    env.set("DOWN_ADMIN_URL", "acme/platform", "infrastructure", &down)
        .ok();
    for (name, admin_ref) in [
        ("PLAIN_DB", "PLAIN_ADMIN_URL"),
        ("DOWN_DB", "DOWN_ADMIN_URL"),
    ] {
        env.run(&[
            "secret",
            "generator",
            name,
            "--scope",
            "acme/platform",
            "--postgres",
            admin_ref,
            "--grant",
            "GRANT SELECT ON items TO {{name}}",
        ])
        .ok();
    }
    let out = env.run(&["doctor", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let doc = json(&out.stdout);
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "generators")
        .unwrap()
        .clone();
    assert_eq!(check["ok"], false, "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.contains("2 of 3 generator(s)"), "{detail}");
    assert!(
        detail.contains("PLAIN_DB at acme/platform") && detail.contains("may not create roles"),
        "{detail}"
    );
    assert!(detail.contains("DOWN_DB"), "{detail}");
    assert!(!detail.contains("APP_DB"), "{detail}");
    for pw in ["plain-canary-pw-31", "down-canary-pw-32", password.as_str()] {
        if !pw.is_empty() {
            assert!(!out.stdout.contains(pw) && !out.stderr.contains(pw), "{pw}");
        }
    }
    assert!(leases(&env).is_empty(), "doctor minted something");
    psql_ok(&admin, &format!("DROP ROLE {plain}"));
}
