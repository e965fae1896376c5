//! Vault login as production runs it, against a real OpenBao of each test's own: AppRole
//! with tokens of a few seconds (renewed and replaced while dispatches keep succeeding),
//! a revoked token replaced by a new login, a wrong secret id failing closed, JWT and
//! Kubernetes-style login with a key pair the test makes and a token file that rotates.
//! OpenBao's own audit log (a file device, declared in a config file) shows the logins.

use crate::backends::assert_nowhere;
use crate::common::server::{Server, http};
use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rcgen::SigningKey;
use secretstore_testkit::bao::PrivateBao;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PROJECT: &str = "acme/platform/dev/agent-x";

/// A private OpenBao with a file audit device, and what the tests ask of it as root.
struct Bao {
    inner: PrivateBao,
    audit: PathBuf,
    /// Outside the folder secretstore works in: Vault's files, and the credential files
    /// (a token, a secret id) that secretstore reads but never writes.
    files: tempfile::TempDir,
}

impl Bao {
    fn start() -> Bao {
        let files = secretstore_testkit::scratch();
        let audit = files.path().join("bao-audit.log");
        let config = files.path().join("bao-audit.hcl");
        std::fs::write(
            &config,
            format!(
                "audit \"file\" \"test\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
                audit.display()
            ),
        )
        .unwrap();
        let inner = PrivateBao::start_with(&[&format!("-config={}", config.display())]);
        let bao = Bao {
            inner,
            audit,
            files,
        };
        // What secretstore's logins may do: the KV mount, nothing else.
        bao.ok(
            "PUT",
            "sys/policies/acl/secretstore",
            json!({"policy": "path \"secret/*\" { capabilities = [\"create\", \"read\", \"update\", \"patch\", \"delete\", \"list\"] }"}),
        );
        bao
    }

    /// A file outside secretstore's folder.
    fn file(&self, name: &str) -> PathBuf {
        self.files.path().join(name)
    }

    /// Calls the HTTP API as `token`; (status, JSON or Null).
    fn call_as(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut c = Command::new("curl");
        c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H"])
            .arg(format!("X-Vault-Token: {token}"));
        if let Some(b) = body {
            c.arg("-d").arg(b.to_string());
        }
        let out = c
            .arg(format!("{}/v1/{path}", self.inner.addr))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (
            code.trim().parse().unwrap(),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    }

    /// As root; panics unless it succeeds.
    fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (code, v) = self.call_as(&self.inner.token, method, path, Some(body));
        assert!((200..300).contains(&code), "{method} {path}: {code} {v}");
        v
    }

    /// AppRole `ss` with tokens of `ttl` renewable up to `max`: (role id, secret id).
    fn approle(&self, ttl: &str, max: &str) -> (String, String) {
        self.ok("POST", "sys/auth/approle", json!({"type": "approle"}));
        self.ok(
            "POST",
            "auth/approle/role/ss",
            json!({"token_policies": ["secretstore"], "token_ttl": ttl, "token_max_ttl": max}),
        );
        let role = self.ok("GET", "auth/approle/role/ss/role-id", Value::Null);
        let secret = self.ok("POST", "auth/approle/role/ss/secret-id", json!({}));
        (
            role["data"]["role_id"].as_str().unwrap().to_owned(),
            secret["data"]["secret_id"].as_str().unwrap().to_owned(),
        )
    }

    /// The audit log's responses to requests on `path` (an exact path, e.g.
    /// `auth/approle/login`).
    fn responses(&self, path: &str) -> Vec<Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "response" && v["request"]["path"] == path)
            .collect()
    }

    /// Every request the audit log shows answered with an error: path and error.
    fn refused(&self) -> Vec<String> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "response" && !v["error"].is_null())
            .map(|v| format!("{} {}", v["request"]["path"], v["error"]))
            .collect()
    }

    /// Revokes every token that a login at `login_path` made.
    fn revoke_tokens_of(&self, login_path: &str) -> usize {
        let list = self.ok("LIST", "auth/token/accessors", Value::Null);
        let mut revoked = 0;
        for a in list["data"]["keys"].as_array().unwrap() {
            let info = self.ok("POST", "auth/token/lookup-accessor", json!({"accessor": a}));
            if info["data"]["path"] == login_path {
                self.ok("POST", "auth/token/revoke-accessor", json!({"accessor": a}));
                revoked += 1;
            }
        }
        revoked
    }
}

/// The root token of a first start, and the tree, a Vault secret and a task dispatching it.
fn world(server: &Server, value: &str) -> (String, String) {
    let root = server.root_token();
    server.make_tree(&root);
    let (code, _, text) = server.call(
        "PUT",
        "/api/v1/secrets/DB_URL?scope=acme/platform",
        Some(&root),
        Some(&json!({"value": value, "category": "infrastructure"}).to_string()),
    );
    assert_eq!(code, 200, "{text}");
    let (code, t, text) = server.call(
        "POST",
        "/api/v1/tasks",
        Some(&root),
        Some(&json!({"project": PROJECT, "secret_refs": ["DB_URL"]}).to_string()),
    );
    assert_eq!(code, 201, "{text}");
    (root, t["id"].as_str().unwrap().to_owned())
}

fn dispatch(server: &Server, root: &str, task: &str) -> (u16, Value, String) {
    server.call(
        "POST",
        &format!("/api/v1/tasks/{task}/dispatch"),
        Some(root),
        None,
    )
}

/// Dispatches every 300 ms for `how_long`; each must hand out `value`. How many ran.
fn dispatch_for(server: &Server, root: &str, task: &str, value: &str, how_long: Duration) -> u32 {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < how_long {
        let (code, d, text) = dispatch(server, root, task);
        assert_eq!(
            code,
            200,
            "dispatch {n} at {:?} failed: {text}",
            start.elapsed()
        );
        assert_eq!(d["env"]["DB_URL"], value);
        n += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    n
}

/// `DB_URL` at `scope` in the local backend, through the command line.
fn set_local(e: &Env, scope: &str, value: &str, extra: &[(&str, &str)]) {
    let mut c = e.command(&[
        "secret",
        "set",
        "DB_URL",
        "--scope",
        scope,
        "--category",
        "infrastructure",
    ]);
    c.env("SECRET_BACKEND", "local");
    for (k, v) in extra {
        c.env(k, v);
    }
    run_with(&mut c, value.as_bytes()).ok();
}

/// An env for `serve` with Vault as the default backend.
fn vault_env(bao: &Bao, e: &mut Env) {
    e.vars.push(("VAULT_ADDR".into(), bao.inner.addr.clone()));
    e.vars.push(("SECRET_BACKEND".into(), "vault".into()));
}

/// What must never be in anything secretstore printed or kept.
fn assert_not_in_logs(e: &Env, server: &Server, secrets: &[&str]) {
    let logs = format!("{}{}", server.stdout(), server.stderr());
    for s in secrets {
        assert!(!logs.contains(s), "{s} is in the server's output");
        assert_nowhere(e, s);
    }
}

#[test]
fn approle_tokens_of_seconds_are_renewed_and_replaced_while_dispatches_keep_succeeding() {
    let mut e = Env::new();
    let bao = Bao::start();
    let (role_id, secret_id) = bao.approle("4s", "10s");
    std::fs::write(bao.file("secret-id"), format!("{secret_id}\n")).unwrap();
    vault_env(&bao, &mut e);
    e.vars.push(("VAULT_ROLE_ID".into(), role_id));
    e.vars.push((
        "VAULT_SECRET_ID_FILE".into(),
        bao.file("secret-id").display().to_string(),
    ));
    let server = Server::start(&e, &[]);
    let value = "postgres://approle-canary-5521@db/app";
    let (root, task) = world(&server, value);

    // About 30 s: past several TTLs (4 s) and max TTLs (10 s).
    let n = dispatch_for(&server, &root, &task, value, Duration::from_secs(30));
    assert!(n >= 50, "only {n} dispatches");

    let logins = bao.responses("auth/approle/login");
    let renewals = bao.responses("auth/token/renew-self");
    assert!(
        logins.len() >= 3,
        "a new login past each max TTL: {} logins",
        logins.len()
    );
    assert!(logins.len() <= 8, "no login storm: {} logins", logins.len());
    assert!(
        renewals.len() >= 3,
        "renewed between logins: {} renewals",
        renewals.len()
    );
    // Every login succeeded (an error would be in the response).
    for l in &logins {
        assert!(l["error"].is_null(), "{l}");
    }
    // No token was used past its end, and no renewal was tried past the max TTL: the new
    // login came before, not after a 403.
    let refused = bao.refused();
    assert!(refused.is_empty(), "requests refused: {refused:?}");
    let out = server.stdout();
    let (code, server_logs) = server.terminate();
    assert_eq!(code, 0, "{server_logs}");
    assert!(
        !server_logs.contains(&secret_id) && !out.contains(&secret_id),
        "the secret id is logged"
    );
    assert_nowhere(&e, &secret_id);
    assert_nowhere(&e, value);
}

#[test]
fn the_command_line_logs_in_once_per_command() {
    let mut e = Env::new();
    let bao = Bao::start();
    let (role_id, secret_id) = bao.approle("1h", "2h");
    vault_env(&bao, &mut e);
    e.vars.push(("VAULT_ROLE_ID".into(), role_id));
    e.vars.push(("VAULT_SECRET_ID".into(), secret_id));
    e.run(&["org", "create", "acme"]).ok();
    assert_eq!(
        bao.responses("auth/approle/login").len(),
        0,
        "no login without Vault"
    );
    // A write is several requests to Vault (a read of the entry, the write): one login.
    e.set("API_KEY", "acme", "agent", "cli-login-canary-1170")
        .ok();
    assert_eq!(bao.responses("auth/approle/login").len(), 1);
    let got = e.run(&["secret", "get", "API_KEY", "--scope", "acme"]);
    assert_eq!(got.ok(), "cli-login-canary-1170");
    assert_eq!(bao.responses("auth/approle/login").len(), 2);
}

#[test]
fn a_revoked_token_is_replaced_by_a_new_login_and_the_dispatch_succeeds() {
    let mut e = Env::new();
    let bao = Bao::start();
    let (role_id, secret_id) = bao.approle("1h", "2h");
    vault_env(&bao, &mut e);
    e.vars.push(("VAULT_ROLE_ID".into(), role_id));
    e.vars.push(("VAULT_SECRET_ID".into(), secret_id.clone()));
    let server = Server::start(&e, &[]);
    let value = "revoked-token-canary-8812";
    let (root, task) = world(&server, value);
    assert_eq!(bao.responses("auth/approle/login").len(), 1);

    // Someone revokes secretstore's token (an incident response, a lease cleanup).
    assert_eq!(bao.revoke_tokens_of("auth/approle/login"), 1);
    let (code, d, text) = dispatch(&server, &root, &task);
    assert_eq!(code, 200, "{text}");
    assert_eq!(d["env"]["DB_URL"], value);
    assert_eq!(
        bao.responses("auth/approle/login").len(),
        2,
        "one new login"
    );
    // Several at once after another revocation: still one login between them.
    assert_eq!(bao.revoke_tokens_of("auth/approle/login"), 1);
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (addr, root, task) = (server.addr.clone(), root.clone(), task.clone());
            std::thread::spawn(move || {
                http(
                    &addr,
                    "POST",
                    &format!("/api/v1/tasks/{task}/dispatch"),
                    Some(&root),
                    None,
                )
            })
        })
        .collect();
    for h in handles {
        let (code, d, text) = h.join().unwrap();
        assert_eq!(code, 200, "{text}");
        assert_eq!(d["env"]["DB_URL"], value);
    }
    assert_eq!(bao.responses("auth/approle/login").len(), 3);
    assert_not_in_logs(&e, &server, &[&secret_id]);
}

#[test]
fn a_revoked_static_token_fails_the_dispatch_closed_and_says_it_cannot_be_replaced() {
    let mut e = Env::new();
    let bao = Bao::start();
    let created = bao.ok(
        "POST",
        "auth/token/create",
        json!({"policies": ["secretstore"], "ttl": "1h"}),
    );
    let token = created["auth"]["client_token"].as_str().unwrap().to_owned();
    vault_env(&bao, &mut e);
    e.vars.push(("VAULT_TOKEN".into(), token.clone()));
    let server = Server::start(&e, &[]);
    let (root, task) = world(&server, "static-token-canary-7310");
    // A broader value that must never be handed out instead.
    set_local(&e, "acme", "broader-canary-7311", &[]);
    bao.ok("POST", "auth/token/revoke", json!({"token": token.clone()}));
    let (code, d, text) = dispatch(&server, &root, &task);
    assert_eq!(code, 502, "{text}");
    assert_eq!(d["error"]["code"], "backend_unavailable", "{text}");
    assert!(text.contains("DB_URL"), "{text}");
    assert!(text.contains("cannot be replaced"), "{text}");
    assert!(!text.contains("canary"), "{text}");
    assert_not_in_logs(&e, &server, &[&token]);
}

#[test]
fn a_token_file_is_renewed_and_read_again_when_vault_no_longer_knows_its_token() {
    let mut e = Env::new();
    let bao = Bao::start();
    let token = |ttl: &str| {
        let t = bao.ok(
            "POST",
            "auth/token/create",
            json!({"policies": ["secretstore"], "ttl": ttl, "explicit_max_ttl": "1h", "renewable": true}),
        );
        t["auth"]["client_token"].as_str().unwrap().to_owned()
    };
    let first = token("3s");
    let file = bao.file("vault-token");
    replace_file(&file, &format!("{first}\n"));
    vault_env(&bao, &mut e);
    e.vars
        .push(("VAULT_TOKEN_FILE".into(), file.display().to_string()));
    let server = Server::start(&e, &[]);
    let value = "token-file-canary-2290";
    let (root, task) = world(&server, value);
    // A 3 s token, renewable: renewed while dispatches go on.
    dispatch_for(&server, &root, &task, value, Duration::from_secs(8));
    assert!(
        bao.responses("auth/token/renew-self").len() >= 2,
        "the token was renewed"
    );
    // Vault Agent writes a new token and the old one is revoked: the file is read again.
    let second = token("1h");
    replace_file(&file, &format!("{second}\n"));
    bao.ok("POST", "auth/token/revoke", json!({"token": first.clone()}));
    let (code, d, text) = dispatch(&server, &root, &task);
    assert_eq!(code, 200, "{text}");
    assert_eq!(d["env"]["DB_URL"], value);
    assert_not_in_logs(&e, &server, &[&first, &second]);
}

#[test]
fn a_wrong_secret_id_fails_the_dispatch_closed_naming_the_ref_never_a_broader_value() {
    let mut e = Env::new();
    let bao = Bao::start();
    let (role_id, secret_id) = bao.approle("1h", "2h");
    vault_env(&bao, &mut e);
    e.vars.push(("VAULT_ROLE_ID".into(), role_id.clone()));
    // First with the right secret id: the tree, the Vault secret, a broader local one.
    let (root, task) = {
        let server = Server::start(&e, &[("VAULT_SECRET_ID", secret_id.as_str())]);
        let (root, task) = world(&server, "vault-canary-4410");
        set_local(
            &e,
            "acme",
            "broader-canary-4411",
            &[("VAULT_SECRET_ID", secret_id.as_str())],
        );
        let (code, _) = server.terminate();
        assert_eq!(code, 0);
        (root, task)
    };
    let wrong = "00000000-1111-2222-3333-444444444444";
    let server = Server::start(&e, &[("VAULT_SECRET_ID", wrong)]);
    let (code, d, text) = dispatch(&server, &root, &task);
    assert_eq!(code, 502, "{text}");
    assert_eq!(d["error"]["code"], "backend_unavailable", "{text}");
    assert!(text.contains("DB_URL"), "{text}");
    assert!(text.contains("AppRole"), "{text}");
    assert!(!text.contains("canary"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    // Dispatches in a burst: each fails closed, and they do not each try a login (a
    // failed login is not tried again for a second).
    let before = bao.responses("auth/approle/login").len();
    let started = Instant::now();
    for _ in 0..20 {
        let (code, _, text) = dispatch(&server, &root, &task);
        assert_eq!(code, 502, "{text}");
    }
    let tried = bao.responses("auth/approle/login").len() - before;
    let secs = started.elapsed().as_secs() as usize;
    assert!(
        tried <= 2 * (secs + 2),
        "{tried} login attempts for 20 dispatches in {secs} s"
    );
    // doctor says the same, and fails; --json for probes.
    let mut c = e.command(&["doctor"]);
    c.env("VAULT_SECRET_ID", wrong);
    let out = run_with(&mut c, b"");
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("vault: FAILED") && l.contains("AppRole")),
        "{}",
        out.stdout
    );
    let mut c = e.command(&["doctor", "--json"]);
    c.env("VAULT_SECRET_ID", wrong);
    let out = run_with(&mut c, b"");
    assert_eq!(out.code, 1, "{}", out.stdout);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    let vault = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "vault")
        .unwrap();
    assert_eq!(vault["ok"], false);
    assert!(
        vault["detail"]
            .as_str()
            .unwrap()
            .contains("invalid role or secret ID"),
        "{vault}"
    );
    assert!(!out.stdout.contains(wrong));
    assert_not_in_logs(&e, &server, &[wrong, &secret_id]);
}

/// An Ed25519 key pair made for one test, and JWTs signed with it.
struct Signer(rcgen::KeyPair);

impl Signer {
    fn new() -> Signer {
        Signer(rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap())
    }

    fn public_pem(&self) -> String {
        self.0.public_key_pem()
    }

    /// A JWT for `sub`, valid from a minute ago for `valid_for`.
    fn jwt(&self, sub: &str, valid_for: Duration) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "typ": "JWT"}).to_string());
        let claims = URL_SAFE_NO_PAD.encode(
            json!({
                "iss": "https://issuer.test",
                "aud": "secretstore",
                "sub": sub,
                "iat": now - 60,
                "nbf": now - 60,
                "exp": now + valid_for.as_secs(),
            })
            .to_string(),
        );
        let signed = format!("{header}.{claims}");
        let sig = self.0.sign(signed.as_bytes()).unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// The JWT auth method at `mount`, trusting `signer`, with role `agent` (tokens of
/// `ttl`, renewable up to `max`; no leeway on the JWT's expiry).
fn jwt_method(bao: &Bao, mount: &str, signer: &Signer, ttl: &str, max: &str) {
    bao.ok("POST", &format!("sys/auth/{mount}"), json!({"type": "jwt"}));
    bao.ok(
        "POST",
        &format!("auth/{mount}/config"),
        json!({"jwt_validation_pubkeys": [signer.public_pem()], "bound_issuer": "https://issuer.test"}),
    );
    bao.ok(
        "POST",
        &format!("auth/{mount}/role/agent"),
        json!({
            "role_type": "jwt",
            "bound_audiences": ["secretstore"],
            "user_claim": "sub",
            "token_policies": ["secretstore"],
            "token_ttl": ttl,
            "token_max_ttl": max,
            "expiration_leeway": -1,
            "clock_skew_leeway": -1,
            "not_before_leeway": -1,
        }),
    );
}

/// Writes `content` to `path` the way the kubelet does: a new file renamed into place.
fn replace_file(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn jwt_login_with_the_tests_own_key_reads_the_token_file_again_at_every_login() {
    let mut e = Env::new();
    let bao = Bao::start();
    let signer = Signer::new();
    jwt_method(&bao, "jwt", &signer, "3s", "6s");
    let jwt_file = bao.file("sa-token");
    // The first JWT expires in 8 s: logins after that need the rotated file.
    let first = signer.jwt("agent-one", Duration::from_secs(8));
    replace_file(&jwt_file, &first);
    vault_env(&bao, &mut e);
    for (k, v) in [
        ("VAULT_AUTH_METHOD", "jwt"),
        ("VAULT_AUTH_ROLE", "agent"),
        ("VAULT_JWT_FILE", &jwt_file.display().to_string()),
    ] {
        e.vars.push((k.into(), v.into()));
    }
    let server = Server::start(&e, &[]);
    let value = "jwt-login-canary-6620";
    let (root, task) = world(&server, value);
    dispatch_for(&server, &root, &task, value, Duration::from_secs(4));
    let second = signer.jwt("agent-two", Duration::from_secs(600));
    replace_file(&jwt_file, &second);
    dispatch_for(&server, &root, &task, value, Duration::from_secs(16));

    let logins = bao.responses("auth/jwt/login");
    let names: Vec<&str> = logins
        .iter()
        .filter_map(|l| l["auth"]["display_name"].as_str())
        .collect();
    assert!(logins.len() >= 3, "{} logins", logins.len());
    assert!(
        names.iter().any(|n| n.contains("agent-one"))
            && names.iter().any(|n| n.contains("agent-two")),
        "the rotated file was read at a later login: {names:?}"
    );
    let refused = bao.refused();
    assert!(refused.is_empty(), "requests refused: {refused:?}");
    assert_not_in_logs(&e, &server, &[&first, &second]);
}

#[test]
fn kubernetes_login_sends_the_service_account_token_to_auth_kubernetes() {
    // The Kubernetes method needs a cluster to review tokens; the JWT method mounted at
    // `kubernetes` takes the same login request ({"role", "jwt"} at
    // auth/kubernetes/login), so it stands in for it here.
    let mut e = Env::new();
    let bao = Bao::start();
    let signer = Signer::new();
    jwt_method(&bao, "kubernetes", &signer, "1h", "2h");
    let jwt_file = bao.file("token");
    let jwt = signer.jwt(
        "system:serviceaccount:agents:secretstore",
        Duration::from_secs(600),
    );
    replace_file(&jwt_file, &jwt);
    vault_env(&bao, &mut e);
    for (k, v) in [
        ("VAULT_AUTH_METHOD", "kubernetes"),
        ("VAULT_AUTH_ROLE", "agent"),
        ("VAULT_JWT_FILE", &jwt_file.display().to_string()),
    ] {
        e.vars.push((k.into(), v.into()));
    }
    let server = Server::start(&e, &[]);
    let value = "k8s-login-canary-3391";
    let (root, task) = world(&server, value);
    let (code, d, text) = dispatch(&server, &root, &task);
    assert_eq!(code, 200, "{text}");
    assert_eq!(d["env"]["DB_URL"], value);
    assert_eq!(bao.responses("auth/kubernetes/login").len(), 1);
    // doctor names the method and what the token is, never the token.
    let out = e.run(&["doctor"]);
    let text = out.ok();
    assert!(text.contains("login kubernetes"), "{text}");
    assert!(text.contains("expires in"), "{text}");
    assert!(text.contains("policies: default, secretstore"), "{text}");
    let doc: Value = serde_json::from_str(e.run(&["doctor", "--json"]).ok()).unwrap();
    assert_eq!(doc["ok"], true, "{doc}");
    let names: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "database",
            "local",
            "vault",
            "briefs",
            "links",
            "names",
            "generators"
        ]
    );
    assert_not_in_logs(&e, &server, &[&jwt]);
}

#[test]
fn contradicting_or_missing_vault_login_settings_are_refused_before_anything_is_written() {
    let e = Env::new();
    let base = [("VAULT_ADDR", "http://127.0.0.1:9")];
    for (extra, needle) in [
        (
            vec![("VAULT_TOKEN", "t"), ("VAULT_ROLE_ID", "r")],
            "both VAULT_TOKEN and VAULT_ROLE_ID",
        ),
        (vec![], "no way to log in"),
        (vec![("VAULT_AUTH_METHOD", "ldap")], "not a login method"),
        (vec![("VAULT_ROLE_ID", "r")], "VAULT_SECRET_ID"),
        (
            vec![
                ("VAULT_AUTH_METHOD", "approle"),
                ("VAULT_ROLE_ID", "r"),
                ("VAULT_SECRET_ID", "s"),
                ("VAULT_TOKEN", "t"),
            ],
            "VAULT_TOKEN is set, but VAULT_AUTH_METHOD is approle",
        ),
        (vec![("VAULT_AUTH_METHOD", "jwt")], "VAULT_AUTH_ROLE"),
        (
            vec![
                ("VAULT_SECRET_ID", "s"),
                ("VAULT_SECRET_ID_FILE", "/x"),
                ("VAULT_ROLE_ID", "r"),
            ],
            "both VAULT_SECRET_ID and VAULT_SECRET_ID_FILE",
        ),
        (
            vec![("VAULT_TOKEN_FILE", "/nonexistent/token")],
            "VAULT_TOKEN_FILE",
        ),
    ] {
        let mut c = e.command(&["secret", "list", "--scope", "acme"]);
        for (k, v) in base.iter().chain(extra.iter()) {
            c.env(k, v);
        }
        let out = run_with(&mut c, b"");
        out.fails(1, needle);
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    }
}
