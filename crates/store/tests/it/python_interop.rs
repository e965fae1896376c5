//! Fernet tokens made by secretstore open in Python's `cryptography`, and the other way
//! round, including `MultiFernet` key lists and tokens stamped in the future; and a value
//! written by Python into the database is read by the local backend.
//!
//! Needs a Python with `cryptography`: `scripts/test.sh` makes a venv and sets
//! `SECRETSTORE_TEST_PYTHON`; otherwise `python3` is used if it has the package.

use secretstore_core::{
    AuditEntry, BackendKind, Category, NewVersion, Principal, ScopePath, ScopeStore, SecretName,
    SecretStore, StoredMaterial, ValueBackend,
};
use secretstore_store::{Keyring, LocalBackend, SqlStore};
use std::io::Write;
use std::process::{Command, Stdio};

fn python() -> String {
    let py = std::env::var("SECRETSTORE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import cryptography.fernet"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{py} lacks the `cryptography` package: run scripts/test.sh, or set SECRETSTORE_TEST_PYTHON"
    );
    py
}

/// Runs a Python script with `input` on stdin; returns stdout.
fn py(script: &str, input: &str) -> String {
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn samples() -> Vec<String> {
    vec![
        "hello".into(),
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\r\n-----END RSA PRIVATE KEY-----\n".into(),
        "ünïcödé € 😀 \t".into(),
        "x".repeat(65_536),
        "sixteen-bytes!!!".into(),
    ]
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn python_decrypts_what_we_encrypt() {
    let key = Keyring::generate_key();
    let ring = Keyring::parse(&key).unwrap();
    let lines: Vec<String> = samples()
        .iter()
        .map(|s| ring.encrypt(s.as_bytes()))
        .collect();
    let out = py(
        r#"
import sys, base64
from cryptography.fernet import Fernet
lines = sys.stdin.read().split("\n")
f = Fernet(lines[0].encode())
for t in lines[1:]:
    if t:
        print(base64.b64encode(f.decrypt(t.encode())).decode())
"#,
        &format!("{key}\n{}\n", lines.join("\n")),
    );
    let got: Vec<&str> = out.lines().collect();
    let want: Vec<String> = samples().iter().map(|s| b64(s.as_bytes())).collect();
    assert_eq!(got, want);
}

#[test]
fn we_decrypt_what_python_encrypts_including_future_timestamps() {
    let key = Keyring::generate_key();
    let ring = Keyring::parse(&key).unwrap();
    let input: Vec<String> = samples().iter().map(|s| b64(s.as_bytes())).collect();
    let out = py(
        r#"
import sys, base64, time
from cryptography.fernet import Fernet
lines = sys.stdin.read().split("\n")
f = Fernet(lines[0].encode())
for i, v in enumerate(l for l in lines[1:] if l):
    data = base64.b64decode(v)
    # every other token is stamped an hour ahead, as a writer with a fast clock would
    tok = f.encrypt_at_time(data, int(time.time()) + 3600) if i % 2 else f.encrypt(data)
    print(tok.decode())
"#,
        &format!("{key}\n{}\n", input.join("\n")),
    );
    let tokens: Vec<&str> = out.lines().collect();
    assert_eq!(tokens.len(), samples().len());
    for (t, s) in tokens.iter().zip(samples()) {
        assert_eq!(ring.decrypt(t).unwrap().as_slice(), s.as_bytes());
    }
}

#[test]
fn multifernet_lists_agree_in_both_directions() {
    let (old, new) = (Keyring::generate_key(), Keyring::generate_key());
    let ring = Keyring::parse(&format!("{new},{old}")).unwrap();
    let ours_old = Keyring::parse(&old)
        .unwrap()
        .encrypt(b"made with the old key");
    let ours_new = ring.encrypt(b"made with the new key");
    let out = py(
        r#"
import sys
from cryptography.fernet import Fernet, MultiFernet
new, old, t_old, t_new = sys.stdin.read().split()
m = MultiFernet([Fernet(new.encode()), Fernet(old.encode())])
print(m.decrypt(t_old.encode()).decode())
print(m.decrypt(t_new.encode()).decode())
print(Fernet(new.encode()).decrypt(t_new.encode()).decode())
print(Fernet(old.encode()).encrypt(b"python old").decode())
"#,
        &format!("{new}\n{old}\n{ours_old}\n{ours_new}\n"),
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        &l[..3],
        [
            "made with the old key",
            "made with the new key",
            "made with the new key"
        ]
    );
    let (plain, idx) = ring.decrypt_with_index(l[3]).unwrap();
    assert_eq!(plain.as_slice(), b"python old");
    assert_eq!(idx, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_token_written_by_python_into_the_database_is_read_back() {
    let key = Keyring::generate_key();
    let token = py(
        r#"
import sys
from cryptography.fernet import Fernet
k = sys.stdin.read().strip()
print(Fernet(k.encode()).encrypt("postgres://from-python\n".encode()).decode())
"#,
        &key,
    );
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqlStore::open(&url, 1).await.unwrap();
    let who = Principal {
        account: "test".into(),
        roles: Vec::new(),
        source: "test".into(),
    };
    let org = ScopePath::parse("acme").unwrap();
    store
        .create_scope(&org, AuditEntry::new(&who, "organization.create"))
        .await
        .unwrap();
    let name = SecretName::parse("DB_URL").unwrap();
    store
        .write_versions(vec![NewVersion {
            rotate_every_secs: None,
            scope: org.clone(),
            name: name.clone(),
            category: Some(Category::Infrastructure),
            backend: BackendKind::Local,
            delivery: None,
            material: StoredMaterial {
                ciphertext: Some(token.trim().to_string()),
                ..Default::default()
            },
            expected: None,
            rollback_of: None,
            by: who.account.clone(),
            audit: AuditEntry::new(&who, "secret.set"),
            reservation: None,
        }])
        .await
        .unwrap();
    let (_, _, material) = store.material(&org, &name, None).await.unwrap();
    let local = LocalBackend::new(Keyring::parse(&key).unwrap());
    let values = local
        .fetch(&[&material], secretstore_core::Fetch::Current)
        .await;
    assert_eq!(
        values[0].as_ref().unwrap().value.expose_secret(),
        "postgres://from-python\n"
    );
}
