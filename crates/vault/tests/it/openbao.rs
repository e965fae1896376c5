//! The Vault backend against a real OpenBao dev server on loopback (started by
//! `scripts/services.sh start`, which `scripts/test.sh` runs). "Outside secretstore" is
//! the `bao` command line, the way an operator would rotate or delete a secret.

use secretstore_core::conformance::{self, Fixture};
use secretstore_core::{
    BackendError, Error, Fetch, ScopePath, SecretName, SecretValue, StoredMaterial, ValueBackend,
};
use secretstore_vault::{VaultBackend, VaultSettings};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---- the test server ----------------------------------------------------------------

struct Server {
    addr: String,
    token: String,
    bao: PathBuf,
}

fn server() -> Server {
    Server {
        addr: secretstore_testkit::services::vault_addr(),
        token: secretstore_testkit::services::vault_token(),
        bao: PathBuf::from(secretstore_testkit::services::bao()),
    }
}

impl Server {
    fn settings(&self, token: &str) -> VaultSettings {
        VaultSettings::new(self.addr.clone(), v(token))
    }

    fn backend(&self) -> Arc<VaultBackend> {
        Arc::new(VaultBackend::new(self.settings(&self.token)).expect("backend"))
    }

    fn backend_with_token(&self, token: &str) -> Arc<VaultBackend> {
        Arc::new(VaultBackend::new(self.settings(token)).expect("backend"))
    }

    /// Runs `bao ARGS` as root, with `stdin` piped in; returns stdout. Panics on failure.
    fn bao_in(&self, args: &[&str], stdin: Option<&str>, namespace: Option<&str>) -> String {
        use std::io::Write;
        let mut cmd = Command::new(&self.bao);
        cmd.args(args)
            .env("BAO_ADDR", &self.addr)
            .env("VAULT_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.token)
            .env("VAULT_TOKEN", &self.token)
            .env_remove("BAO_NAMESPACE")
            .env_remove("VAULT_NAMESPACE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(ns) = namespace {
            cmd.env("BAO_NAMESPACE", ns).env("VAULT_NAMESPACE", ns);
        }
        let mut child = cmd.spawn().expect("run bao");
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).expect("write to bao");
        }
        drop(pipe);
        let out = child.wait_with_output().expect("bao output");
        assert!(
            out.status.success(),
            "bao {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn bao(&self, args: &[&str]) -> String {
        self.bao_in(args, None, None)
    }

    /// A token (with the given id) that holds `policy` (written first) and `default`.
    fn token_with_policy(&self, policy_name: &str, policy: &str, id: &str) -> String {
        self.bao_in(&["policy", "write", policy_name, "-"], Some(policy), None);
        let id_arg = format!("-id={id}");
        let policy_arg = format!("-policy={policy_name}");
        self.bao(&["token", "create", &id_arg, &policy_arg, "-field=token"])
            .trim()
            .to_owned()
    }
}

fn v(s: &str) -> SecretValue {
    SecretValue::new(s.to_owned()).expect("value")
}

use secretstore_testkit::unique;

fn scope(s: &str) -> ScopePath {
    ScopePath::parse(s).expect("scope")
}

fn name(s: &str) -> SecretName {
    SecretName::parse(s).expect("name")
}

async fn get(
    b: &dyn ValueBackend,
    m: &StoredMaterial,
    which: Fetch,
) -> Result<String, BackendError> {
    b.fetch(&[m], which)
        .await
        .into_iter()
        .next()
        .expect("one result")
        .map(|s| s.value.expose_secret().to_owned())
}

#[track_caller]
fn assert_not_found(r: Result<String, BackendError>, says: &str) -> String {
    match r {
        Err(BackendError::NotFound(m)) => {
            assert!(m.contains(says), "NotFound without {says:?}: {m}");
            m
        }
        other => panic!("expected NotFound ({says}), got {other:?}"),
    }
}

/// An address on loopback where nothing listens.
fn closed_port_addr() -> String {
    format!("http://127.0.0.1:{}", secretstore_testkit::closed_port())
}

// ---- 1. the conformance suite --------------------------------------------------------

#[tokio::test]
async fn conformance_suite() {
    let s = server();
    let external_path = format!("external/conformance-{}", unique());
    let external_value = "external value ü 😀 \"quoted\" $HOME";
    s.bao(&[
        "kv",
        "put",
        "-mount=secret",
        &external_path,
        &format!("value={external_value}"),
        "other=unrelated",
    ]);
    let unavailable =
        VaultBackend::new(VaultSettings::new(closed_port_addr(), v(&s.token))).expect("backend");
    conformance::run(&Fixture {
        backend: s.backend(),
        refused: Some(s.backend_with_token("not-a-valid-token")),
        unavailable: Some(Arc::new(unavailable)),
        missing_reference: Some("secret/secretstore/nope/NOPE#value".into()),
        external: Some((
            format!("secret/{external_path}#value"),
            external_value.to_owned(),
        )),
    })
    .await;
}

// ---- materials and paths ---------------------------------------------------------------

#[tokio::test]
async fn a_new_secret_goes_to_its_secretstore_path_and_the_value_stays_in_vault() {
    let s = server();
    let b = s.backend();
    let sc = scope(&format!("acme/t{}", unique()));
    let m = b
        .write(&sc, &name("DB_URL"), &v("postgres://u:pw@db/prod"), None)
        .await
        .expect("write")
        .material;
    let path = format!("secretstore/{sc}/DB_URL");
    assert_eq!(m.backend_ref, Some(format!("secret/{path}#value")));
    assert_eq!(m.backend_version.as_deref(), Some("1"));
    assert_eq!(m.ciphertext, None);
    let seen = s.bao(&["kv", "get", "-mount=secret", "-field=value", &path]);
    assert_eq!(seen.trim_end(), "postgres://u:pw@db/prod");
}

// ---- 2. refused ------------------------------------------------------------------------

#[tokio::test]
async fn a_token_that_may_not_read_is_refused_and_never_named() {
    let s = server();
    let b = s.backend();
    let sc = scope(&format!("acme/t{}", unique()));
    let m = b
        .write(&sc, &name("API_KEY"), &v("canary-value-9f3"), None)
        .await
        .expect("write")
        .material;

    // May read metadata (so link works) but not data.
    let token_id = format!("canary-token-{}", unique());
    let policy_name = format!("secretstore-metadata-only-{}", unique());
    let token = s.token_with_policy(
        &policy_name,
        r#"path "secret/metadata/*" { capabilities = ["read", "list"] }"#,
        &token_id,
    );
    assert_eq!(token, token_id);
    let limited = s.backend_with_token(&token);

    let mut messages = Vec::new();
    match get(limited.as_ref(), &m, Fetch::Current).await {
        Err(BackendError::Refused(msg)) => messages.push(msg),
        other => panic!("fetch without read: expected Refused, got {other:?}"),
    }
    match get(limited.as_ref(), &m, Fetch::Recorded).await {
        Err(BackendError::Refused(msg)) => messages.push(msg),
        other => panic!("recorded fetch without read: expected Refused, got {other:?}"),
    }
    match limited
        .write(&sc, &name("API_KEY"), &v("x"), Some(&m))
        .await
    {
        Err(BackendError::Refused(msg)) => messages.push(msg),
        other => panic!("write without write access: expected Refused, got {other:?}"),
    }
    // Link reads only metadata: allowed.
    let linked = limited
        .link(m.backend_ref.as_deref().expect("ref"))
        .await
        .expect("link with metadata access");
    assert_eq!(linked.backend_version.as_deref(), Some("1"));
    // The check passes (the token is valid) but says what it cannot do.
    let line = limited.check().await.expect("check of a valid token");
    assert!(line.contains("lacks read, create, update, patch"), "{line}");
    messages.push(line);

    // A bad token.
    let bad = s.backend_with_token("canary-bad-token-x1");
    for r in [
        get(bad.as_ref(), &m, Fetch::Current).await,
        get(bad.as_ref(), &m, Fetch::Recorded).await,
    ] {
        match r {
            Err(BackendError::Refused(msg)) => messages.push(msg),
            other => panic!("bad token: expected Refused, got {other:?}"),
        }
    }
    match bad.link(m.backend_ref.as_deref().expect("ref")).await {
        Err(Error::Backend(BackendError::Refused(msg))) => messages.push(msg),
        other => panic!("link with a bad token: expected Refused, got {other:?}"),
    }
    match bad.check().await {
        Err(BackendError::Refused(msg)) => {
            assert!(msg.contains("token is not valid"), "{msg}");
            messages.push(msg)
        }
        other => panic!("check with a bad token: expected Refused, got {other:?}"),
    }

    for msg in &messages {
        assert!(!msg.contains("canary-token"), "token in an error: {msg}");
        assert!(
            !msg.contains("canary-bad-token"),
            "token in an error: {msg}"
        );
        assert!(!msg.contains("canary-value"), "value in an error: {msg}");
    }
}

// ---- 3. rotation outside secretstore ------------------------------------------------

#[tokio::test]
async fn a_rotation_with_bao_kv_put_takes_effect_at_the_next_fetch() {
    let s = server();
    let b = s.backend();
    let sc = scope(&format!("acme/t{}", unique()));
    let m1 = b
        .write(&sc, &name("TOKEN"), &v("before rotation"), None)
        .await
        .expect("write")
        .material;
    assert_eq!(
        get(b.as_ref(), &m1, Fetch::Current).await.unwrap(),
        "before rotation"
    );

    s.bao(&[
        "kv",
        "put",
        "-mount=secret",
        &format!("secretstore/{sc}/TOKEN"),
        "value=after rotation",
    ]);
    assert_eq!(
        get(b.as_ref(), &m1, Fetch::Current).await.unwrap(),
        "after rotation"
    );
    assert_eq!(
        get(b.as_ref(), &m1, Fetch::Recorded).await.unwrap(),
        "before rotation"
    );

    // The next write through secretstore builds on the rotated entry.
    let m3 = b
        .write(&sc, &name("TOKEN"), &v("third"), Some(&m1))
        .await
        .expect("write after rotation")
        .material;
    assert_eq!(m3.backend_version.as_deref(), Some("3"));
}

// ---- 4. deleted, destroyed, missing field --------------------------------------------

#[tokio::test]
async fn deleted_and_destroyed_versions_and_missing_fields_are_not_found() {
    let s = server();
    let b = s.backend();
    let sc = scope(&format!("acme/t{}", unique()));
    let n = name("PASSWORD");
    let path = format!("secretstore/{sc}/PASSWORD");
    let m1 = b
        .write(&sc, &n, &v("one"), None)
        .await
        .expect("v1")
        .material;
    let m2 = b
        .write(&sc, &n, &v("two"), Some(&m1))
        .await
        .expect("v2")
        .material;

    // Soft delete of the latest version (DELETE /v1/secret/data/PATH).
    s.bao(&["kv", "delete", "-mount=secret", &path]);
    let msg = assert_not_found(get(b.as_ref(), &m2, Fetch::Current).await, "deleted");
    assert!(msg.contains(&path), "{msg}");
    assert_not_found(
        get(b.as_ref(), &m2, Fetch::Recorded).await,
        "version 2 is deleted",
    );
    assert_eq!(get(b.as_ref(), &m1, Fetch::Recorded).await.unwrap(), "one");
    // Linking a secret whose latest version is deleted fails as NotFound too.
    match b.link(&format!("secret/{path}#value")).await {
        Err(Error::Backend(BackendError::NotFound(m))) => assert!(m.contains("deleted"), "{m}"),
        other => panic!("link of a deleted latest version: got {other:?}"),
    }

    // Destroyed.
    s.bao(&["kv", "destroy", "-mount=secret", "-versions=1", &path]);
    assert_not_found(
        get(b.as_ref(), &m1, Fetch::Recorded).await,
        "version 1 is destroyed",
    );

    // A version that never existed.
    let future = StoredMaterial {
        backend_version: Some("99".into()),
        ..m1.clone()
    };
    assert_not_found(
        get(b.as_ref(), &future, Fetch::Recorded).await,
        "version 99",
    );

    // secretstore's own path may be written again over a deleted latest version.
    let m3 = b
        .write(&sc, &n, &v("three"), Some(&m2))
        .await
        .expect("v3")
        .material;
    assert_eq!(m3.backend_version.as_deref(), Some("3"));
    assert_eq!(get(b.as_ref(), &m3, Fetch::Current).await.unwrap(), "three");

    // The whole entry gone (metadata delete): a write recreates it.
    s.bao(&["kv", "metadata", "delete", "-mount=secret", &path]);
    assert_not_found(get(b.as_ref(), &m3, Fetch::Current).await, "no such secret");
    let m4 = b
        .write(&sc, &n, &v("four"), Some(&m3))
        .await
        .expect("recreate")
        .material;
    assert_eq!(m4.backend_version.as_deref(), Some("1"));

    // A missing field: link checks only that the entry exists; the fetch says NotFound.
    let other = format!("external/fields-{}", unique());
    s.bao(&["kv", "put", "-mount=secret", &other, "user=u"]);
    let linked = b
        .link(&format!("secret/{other}#password"))
        .await
        .expect("link (the field is not checked)");
    let msg = assert_not_found(get(b.as_ref(), &linked, Fetch::Current).await, "no field");
    assert!(msg.contains("\"password\""), "{msg}");
    assert_not_found(
        get(b.as_ref(), &linked, Fetch::Recorded).await,
        "no field \"password\"",
    );

    // A mount that does not exist.
    let nowhere = StoredMaterial {
        ciphertext: None,
        backend_ref: Some("no-such-mount/app#value".into()),
        backend_version: None,
        generator: None,
    };
    assert_not_found(
        get(b.as_ref(), &nowhere, Fetch::Current).await,
        "no-such-mount",
    );
    // A material without a recorded version cannot be read "as recorded".
    assert_not_found(
        get(b.as_ref(), &nowhere, Fetch::Recorded).await,
        "no KV version",
    );
}

// ---- 5. a linked secret with several fields ----------------------------------------

#[tokio::test]
async fn a_write_to_a_linked_secret_changes_only_its_field() {
    let s = server();
    let b = s.backend();
    let path = format!("legacy/app-{}", unique());
    s.bao(&[
        "kv",
        "put",
        "-mount=secret",
        &path,
        "username=app",
        "password=old-password",
        "host=db.internal",
    ]);
    let linked = b
        .link(&format!("secret/{path}#password"))
        .await
        .expect("link");
    assert_eq!(linked.backend_ref, Some(format!("secret/{path}#password")));
    assert_eq!(linked.backend_version.as_deref(), Some("1"));
    assert_eq!(linked.ciphertext, None);

    let sc = scope(&format!("acme/t{}", unique()));
    let n = name("DB_PASSWORD");
    let m2 = b
        .write(&sc, &n, &v("new-password"), Some(&linked))
        .await
        .expect("write to the linked path")
        .material;
    assert_eq!(
        m2.backend_ref, linked.backend_ref,
        "the linked path is kept"
    );
    assert_eq!(m2.backend_version.as_deref(), Some("2"));

    let field = |f: &str| s.bao(&["kv", "get", "-mount=secret", &format!("-field={f}"), &path]);
    assert_eq!(field("password").trim_end(), "new-password");
    assert_eq!(field("username").trim_end(), "app");
    assert_eq!(field("host").trim_end(), "db.internal");
    assert_eq!(
        get(b.as_ref(), &linked, Fetch::Recorded).await.unwrap(),
        "old-password"
    );

    // Nothing was written at secretstore's own path for (scope, name).
    let own = StoredMaterial {
        ciphertext: None,
        backend_ref: Some(format!("secret/secretstore/{sc}/DB_PASSWORD#value")),
        backend_version: None,
        generator: None,
    };
    assert_not_found(
        get(b.as_ref(), &own, Fetch::Current).await,
        "no such secret",
    );

    // Rollback: the old password becomes a new version; the other fields stay.
    let m3 = b.restore(&sc, &n, &linked).await.expect("restore").material;
    assert_eq!(m3.backend_ref, linked.backend_ref);
    assert_eq!(m3.backend_version.as_deref(), Some("3"));
    assert_eq!(field("password").trim_end(), "old-password");
    assert_eq!(field("username").trim_end(), "app");

    // Someone adds a field outside; a write through secretstore keeps it.
    s.bao(&["kv", "patch", "-mount=secret", &path, "port=5432"]);
    b.write(&sc, &n, &v("newest"), Some(&m3))
        .await
        .expect("write");
    assert_eq!(field("port").trim_end(), "5432");
    assert_eq!(field("password").trim_end(), "newest");

    // A linked secret whose latest version was deleted is not overwritten (that would
    // drop its other fields).
    s.bao(&["kv", "delete", "-mount=secret", &path]);
    match b.write(&sc, &n, &v("x"), Some(&m3)).await {
        Err(BackendError::NotFound(m)) => assert!(m.contains("undelete"), "{m}"),
        other => panic!("write over a deleted linked secret: got {other:?}"),
    }
    s.bao(&["kv", "undelete", "-mount=secret", "-versions=5", &path]);
    assert_eq!(field("username").trim_end(), "app");
}

#[tokio::test]
async fn link_rejects_malformed_references_and_reports_missing_ones() {
    let s = server();
    let b = s.backend();
    for bad in [
        "",
        "secret/app",
        "secret/app#",
        "#password",
        "secret#password",
        "secret/#password",
        "secret//app#password",
        "secret/../sys/app#password",
        "secret/app/..#password",
        "secret/app#a#b",
    ] {
        match b.link(bad).await {
            Err(Error::Invalid(m)) => assert!(m.contains("MOUNT/PATH#FIELD"), "{m}"),
            other => panic!("link {bad:?}: expected Invalid, got {other:?}"),
        }
    }
    match b
        .link(&format!("secret/nothing/here-{}#value", unique()))
        .await
    {
        Err(Error::Backend(BackendError::NotFound(_))) => {}
        other => panic!("link of a missing path: expected NotFound, got {other:?}"),
    }
    match b.link("no-such-mount/app#value").await {
        Err(Error::Backend(BackendError::NotFound(_))) => {}
        other => panic!("link in a missing mount: expected NotFound, got {other:?}"),
    }
}

// ---- 6. many refs at once ------------------------------------------------------------

#[tokio::test]
async fn thirty_refs_are_fetched_in_order_with_a_bound() {
    let s = server();
    let mut settings = s.settings(&s.token);
    settings.concurrency = 4;
    let b = VaultBackend::new(settings).expect("backend");
    let sc = scope(&format!("acme/t{}", unique()));
    let mut mats = Vec::new();
    for i in 0..30 {
        mats.push(
            b.write(
                &sc,
                &name(&format!("MANY_{i}")),
                &v(&format!("value-{i}")),
                None,
            )
            .await
            .expect("write")
            .material,
        );
    }
    // One missing ref in the middle fails alone, in its place.
    mats.insert(
        17,
        StoredMaterial {
            ciphertext: None,
            backend_ref: Some(format!("secret/secretstore/{sc}/NOT_THERE#value")),
            backend_version: Some("1".into()),
            generator: None,
        },
    );
    let refs: Vec<&StoredMaterial> = mats.iter().collect();
    for which in [Fetch::Current, Fetch::Recorded] {
        let got = b.fetch(&refs, which).await;
        assert_eq!(got.len(), 31);
        for (i, r) in got.into_iter().enumerate() {
            match (i, r) {
                (17, Err(BackendError::NotFound(_))) => {}
                (17, other) => panic!("the missing ref: got {other:?}"),
                (i, Ok(val)) => {
                    let want = format!("value-{}", if i < 17 { i } else { i - 1 });
                    assert_eq!(val.value.expose_secret(), want, "item {i}");
                }
                (i, Err(e)) => panic!("item {i}: {e}"),
            }
        }
    }
    assert!(b.fetch(&[], Fetch::Current).await.is_empty());
}

// ---- unavailable: closed port, timeout, 5xx, sealed ---------------------------------

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let b = VaultBackend::new(VaultSettings::new(closed_port_addr(), v("root"))).expect("backend");
    let m = StoredMaterial {
        ciphertext: None,
        backend_ref: Some("secret/app#value".into()),
        backend_version: Some("1".into()),
        generator: None,
    };
    match get(&b, &m, Fetch::Current).await {
        Err(BackendError::Unavailable(msg)) => assert!(msg.contains("cannot connect"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match b.link("secret/app#value").await {
        Err(Error::Backend(BackendError::Unavailable(_))) => {}
        other => panic!("link: expected Unavailable, got {other:?}"),
    }
    assert!(matches!(b.check().await, Err(BackendError::Unavailable(_))));
}

/// A loopback server that answers every connection with `response` (or, when None,
/// accepts and never answers).
async fn fake_server(response: Option<&'static str>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = format!("http://{}", l.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut sock, _)) = l.accept().await else {
                return;
            };
            match response {
                Some(resp) => {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let _ = sock.read(&mut buf).await;
                        let _ = sock.write_all(resp.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    });
                }
                None => held.push(sock),
            }
        }
    });
    addr
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_unavailable_within_the_timeout() {
    let addr = fake_server(None).await;
    let mut settings = VaultSettings::new(addr, v("root"));
    settings.timeout = Duration::from_millis(300);
    let b = VaultBackend::new(settings).expect("backend");
    let m = StoredMaterial {
        ciphertext: None,
        backend_ref: Some("secret/app#value".into()),
        backend_version: Some("1".into()),
        generator: None,
    };
    let started = Instant::now();
    let got = b.fetch(&[&m, &m, &m], Fetch::Current).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for r in got {
        match r {
            Err(BackendError::Unavailable(msg)) => assert!(msg.contains("300 ms"), "{msg}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    let sc = scope("acme");
    assert!(matches!(
        b.write(&sc, &name("X"), &v("x"), None).await,
        Err(BackendError::Unavailable(_))
    ));
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    const ERR_500: &str = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: 32\r\nconnection: close\r\n\r\n{\"errors\":[\"internal failure\"]}\n";
    const SEALED: &str = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 30\r\nconnection: close\r\n\r\n{\"errors\":[\"Vault is sealed\"]}";
    const NOT_JSON: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 6\r\nconnection: close\r\n\r\n<html>";
    let m = StoredMaterial {
        ciphertext: None,
        backend_ref: Some("secret/app#value".into()),
        backend_version: Some("1".into()),
        generator: None,
    };
    for (resp, says) in [
        (ERR_500, "HTTP 500"),
        (SEALED, "sealed"),
        (NOT_JSON, "not the expected JSON"),
    ] {
        let b = VaultBackend::new(VaultSettings::new(fake_server(Some(resp)).await, v("root")))
            .expect("backend");
        match get(&b, &m, Fetch::Current).await {
            Err(BackendError::Unavailable(msg)) => assert!(msg.contains(says), "{msg}"),
            other => panic!("{says}: expected Unavailable, got {other:?}"),
        }
    }
}

/// A dev server of our own (so sealing it disturbs no other test), killed on drop.
struct OwnServer(Child, PathBuf);

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// Starts another dev server on a free loopback port; returns it and its port once it
/// accepts connections.
async fn start_own_server(bao: &PathBuf, extra: &[&str]) -> (OwnServer, u16) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dir = std::env::temp_dir().join(format!("secretstore-vault-test-{}", unique()));
    std::fs::create_dir_all(&dir).expect("a directory for -dev-tls files");
    let child = Command::new(bao)
        .args([
            "server",
            "-dev",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-root-token-id=root",
            "-dev-no-store-token",
            &format!("-dev-tls-cert-dir={}", dir.display()),
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a second OpenBao dev server");
    let guard = OwnServer(child, dir);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the second OpenBao did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (guard, port)
}

#[tokio::test]
async fn a_sealed_vault_is_unavailable() {
    let s = server();
    let (_guard, port) = start_own_server(&s.bao, &[]).await;
    let own = Server {
        addr: format!("http://127.0.0.1:{port}"),
        token: "root".into(),
        bao: s.bao.clone(),
    };
    let b = own.backend();
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.check().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the second OpenBao did not get ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = b
        .write(&scope("acme"), &name("SEALED"), &v("v"), None)
        .await
        .expect("write")
        .material;
    own.bao(&["operator", "seal"]);
    match get(b.as_ref(), &m, Fetch::Current).await {
        Err(BackendError::Unavailable(msg)) => assert!(msg.contains("sealed"), "{msg}"),
        other => panic!("sealed: expected Unavailable, got {other:?}"),
    }
    assert!(matches!(
        b.write(&scope("acme"), &name("SEALED"), &v("w"), Some(&m))
            .await,
        Err(BackendError::Unavailable(_))
    ));
    assert!(matches!(b.check().await, Err(BackendError::Unavailable(_))));
}

#[tokio::test]
async fn https_checks_the_certificate() {
    let s = server();
    // -dev-tls: a certificate from a throwaway CA that the system store does not trust.
    let (_guard, port) = start_own_server(&s.bao, &["-dev-tls"]).await;
    let b = match VaultBackend::new(VaultSettings::new(
        format!("https://127.0.0.1:{port}"),
        v("root"),
    )) {
        Ok(b) => b,
        // A host without a CA bundle cannot make https clients at all; nothing to test.
        Err(Error::Config { .. }) => return,
        Err(e) => panic!("https backend: {e}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match b.check().await {
            Err(BackendError::Unavailable(msg)) if msg.contains("certificate") => break,
            Ok(line) => panic!("an untrusted certificate was accepted: {line}"),
            Err(e) => {
                assert!(Instant::now() < deadline, "no certificate error: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // Plain HTTP to the TLS port is not silently "upgraded" either.
    let plain = VaultBackend::new(VaultSettings::new(
        format!("http://127.0.0.1:{port}"),
        v("root"),
    ))
    .expect("backend");
    assert!(plain.check().await.is_err());
}

// ---- check, mounts, namespaces -------------------------------------------------------

#[tokio::test]
async fn check_reports_the_token_and_the_mount() {
    let s = server();
    let line = s.backend().check().await.expect("check");
    assert!(line.starts_with(&format!("Vault at {}", s.addr)), "{line}");
    assert!(line.contains("token valid"), "{line}");
    assert!(line.contains("mount secret/ (kv v2)"), "{line}");

    let mut missing = s.settings(&s.token);
    missing.kv_mount = format!("nope-{}", unique());
    match VaultBackend::new(missing).expect("backend").check().await {
        Err(BackendError::NotFound(m)) => assert!(m.contains("no mount"), "{m}"),
        other => panic!("missing mount: got {other:?}"),
    }

    let kv1 = format!("kv1-{}", unique());
    s.bao(&[
        "secrets",
        "enable",
        &format!("-path={kv1}"),
        "-version=1",
        "kv",
    ]);
    let mut v1 = s.settings(&s.token);
    v1.kv_mount = kv1.clone();
    match VaultBackend::new(v1).expect("backend").check().await {
        Err(BackendError::NotFound(m)) => assert!(m.contains("kv version 1"), "{m}"),
        other => panic!("kv v1 mount: got {other:?}"),
    }

    // A token limited to secretstore's paths: valid, with its capabilities reported.
    let policy_name = format!("secretstore-rw-{}", unique());
    let token = s.token_with_policy(
        &policy_name,
        r#"
path "secret/data/secretstore/*" { capabilities = ["create", "read", "update", "patch"] }
path "secret/metadata/secretstore/*" { capabilities = ["read"] }
"#,
        &format!("rw-{}", unique()),
    );
    let line = s.backend_with_token(&token).check().await.expect("check");
    assert!(
        line.contains("can read and write under secret/secretstore/"),
        "{line}"
    );
    assert!(line.contains(&policy_name), "{line}");
    assert!(!line.contains(&token), "{line}");

    // Without patch: valid, but the line says writes will fail.
    let policy_name = format!("secretstore-ro-{}", unique());
    let token = s.token_with_policy(
        &policy_name,
        r#"path "secret/data/secretstore/*" { capabilities = ["read"] }"#,
        &format!("ro-{}", unique()),
    );
    let line = s.backend_with_token(&token).check().await.expect("check");
    assert!(line.contains("lacks create, update, patch"), "{line}");
}

#[tokio::test]
async fn a_namespace_is_sent_with_every_request() {
    let s = server();
    let ns = format!("ns-{}", unique());
    s.bao(&["namespace", "create", &ns]);
    s.bao_in(
        &["secrets", "enable", "-path=secret", "kv-v2"],
        None,
        Some(&ns),
    );

    let mut settings = s.settings(&s.token);
    settings.namespace = Some(ns.clone());
    let b = VaultBackend::new(settings).expect("backend");
    let line = b.check().await.expect("check in the namespace");
    assert!(line.contains(&format!("namespace {ns}")), "{line}");
    let sc = scope(&format!("acme/t{}", unique()));
    let m = b
        .write(&sc, &name("IN_NS"), &v("namespaced"), None)
        .await
        .expect("write in the namespace")
        .material;
    assert_eq!(get(&b, &m, Fetch::Current).await.unwrap(), "namespaced");
    let seen = s.bao_in(
        &[
            "kv",
            "get",
            "-mount=secret",
            "-field=value",
            &format!("secretstore/{sc}/IN_NS"),
        ],
        None,
        Some(&ns),
    );
    assert_eq!(seen.trim_end(), "namespaced");

    // Outside the namespace, the same reference names nothing.
    assert_not_found(
        get(s.backend().as_ref(), &m, Fetch::Current).await,
        "no such secret",
    );
}

#[tokio::test]
async fn values_of_every_shape_round_trip() {
    let s = server();
    let b = s.backend();
    let sc = scope(&format!("acme/t{}", unique()));
    let pem =
        "-----BEGIN PRIVATE KEY-----\nMIIB\r\n\tü€😀 \\ \" ' $X `y`\n-----END PRIVATE KEY-----\n";
    let big = "x".repeat(secretstore_core::value::MAX_VALUE_BYTES);
    for (i, val) in [pem, "{\"json\": [1, 2]}", "  spaces  ", big.as_str()]
        .into_iter()
        .enumerate()
    {
        let m = b
            .write(&sc, &name(&format!("SHAPE_{i}")), &v(val), None)
            .await
            .expect("write")
            .material;
        assert!(
            get(b.as_ref(), &m, Fetch::Current).await.unwrap() == val,
            "shape {i}"
        );
    }

    // A non-string field written through the API reads as its JSON text.
    let path = format!("external/typed-{}", unique());
    s.bao_in(
        &["kv", "put", "-mount=secret", &path, "-"],
        Some(r#"{"port": 5432, "on": true}"#),
        None,
    );
    let linked = b.link(&format!("secret/{path}#port")).await.expect("link");
    assert_eq!(
        get(b.as_ref(), &linked, Fetch::Current).await.unwrap(),
        "5432"
    );
}
