//! TLS to Vault as Vault's own CLI does it, through the real binary against a real
//! OpenBao of each test's own (`bao server -dev -dev-tls`, and a listener that requires
//! client certificates): `VAULT_CACERT`, `VAULT_CAPATH`, `VAULT_CLIENT_CERT` /
//! `VAULT_CLIENT_KEY`, `VAULT_TLS_SERVER_NAME`, the cert auth method, and the refusal of
//! `VAULT_SKIP_VERIFY`. Each server is killed when its guard drops, also when a test fails.

use crate::backends::set_with;
use crate::common::*;
use crate::serve::{Ca, ca};
use base64::Engine as _;
use secretstore_testkit::bao::{BaoTls, MtlsListener, PrivateBao};
use std::path::PathBuf;
use std::process::Command;

const SCOPE: &str = "acme/platform";
const PROJECT: &str = "acme/platform/dev/agent-x";

/// A `-dev-tls` OpenBao of the test's own, with its files in `dir` (kept as long as it).
struct TlsBao {
    bao: PrivateBao,
    _dir: tempfile::TempDir,
}

impl TlsBao {
    fn start() -> TlsBao {
        let dir = secretstore_testkit::scratch();
        let bao = PrivateBao::start_tls(&BaoTls {
            dir: dir.path(),
            mtls: None,
        });
        TlsBao { bao, _dir: dir }
    }

    fn ca(&self) -> String {
        self.bao.ca_cert.as_ref().unwrap().display().to_string()
    }
}

/// Certificates made for one test: a CA, Vault's certificate for `vault.test` only (not
/// 127.0.0.1), a client certificate, and a client certificate from a CA Vault does not
/// know; all written to `dir`.
struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
}

impl Pki {
    fn new() -> Pki {
        let dir = secretstore_testkit::scratch();
        let ca = ca("secretstore test CA");
        std::fs::write(dir.path().join("ca.pem"), &ca.pem).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["vault.test".to_owned()])
            .unwrap()
            .signed_by(&key, &ca.issuer)
            .unwrap();
        std::fs::write(dir.path().join("listener.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("listener-key.pem"), key.serialize_pem()).unwrap();
        let (cert, key) = client_cert(&ca, "agent-x");
        std::fs::write(dir.path().join("client.pem"), cert).unwrap();
        std::fs::write(dir.path().join("client-key.pem"), &key).unwrap();
        std::fs::write(dir.path().join("client-key-sec1.pem"), sec1(&key)).unwrap();
        let stranger = crate::serve::ca("a CA Vault does not know");
        let (cert, key) = client_cert(&stranger, "stranger");
        std::fs::write(dir.path().join("stranger.pem"), cert).unwrap();
        std::fs::write(dir.path().join("stranger-key.pem"), key).unwrap();
        Pki { dir, ca }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// An OpenBao whose `mtls_addr` requires a client certificate signed by this CA.
    fn bao(&self) -> PrivateBao {
        PrivateBao::start_tls(&BaoTls {
            dir: self.dir.path(),
            mtls: Some(MtlsListener {
                cert_file: &self.path("listener.pem"),
                key_file: &self.path("listener-key.pem"),
                client_ca_file: &self.path("ca.pem"),
            }),
        })
    }
}

/// A client certificate (for client authentication) signed by `ca`: (cert PEM, PKCS#8
/// key PEM).
fn client_cert(ca: &Ca, name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_owned());
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// One DER element of `b`: its content and what follows it.
fn der(b: &[u8]) -> (&[u8], &[u8]) {
    let (len, at) = match b[1] {
        n if n < 0x80 => (usize::from(n), 2),
        0x81 => (usize::from(b[2]), 3),
        0x82 => (usize::from(b[2]) << 8 | usize::from(b[3]), 4),
        _ => panic!("DER element too long for this test"),
    };
    (&b[at..at + len], &b[at + len..])
}

/// The SEC1 (`EC PRIVATE KEY`) form of a PKCS#8 ECDSA key, as `openssl ec` writes it.
fn sec1(pkcs8_pem: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let body: String = pkcs8_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let pkcs8 = b64.decode(body).unwrap();
    let (seq, _) = der(&pkcs8);
    let rest = der(seq).1; // version
    let rest = der(rest).1; // algorithm
    let (ec_private_key, _) = der(rest);
    let text = b64.encode(ec_private_key);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// Calls the API of `bao` as root over its plain-HTTP admin listener; (status, JSON).
fn admin(
    bao: &PrivateBao,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H"])
        .arg(format!("X-Vault-Token: {}", bao.token));
    if let Some(b) = body {
        c.arg("-d").arg(b.to_string());
    }
    let out = c
        .arg(format!("{}/v1/{path}", bao.admin_addr))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.trim().parse().unwrap(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// The `value` field of `secretstore/<scope>/<name>` in `bao`'s KV, as Vault itself has
/// it (`None`: no such entry).
fn stored(bao: &PrivateBao, name: &str) -> Option<String> {
    let (code, body) = admin(
        bao,
        "GET",
        &format!("secret/data/secretstore/{SCOPE}/{name}"),
        None,
    );
    match code {
        200 => Some(body["data"]["data"]["value"].as_str().unwrap().to_owned()),
        404 => None,
        other => panic!("reading the entry from Vault: HTTP {other}: {body}"),
    }
}

/// A folder with `init` run and the tree made, talking to Vault at `addr`.
fn env_for(addr: &str, vars: &[(&str, &str)]) -> Env {
    let mut e = Env::new().with_tree();
    revault(&mut e, addr, vars);
    e
}

/// The same folder (its database, its secrets) with other Vault settings: every `VAULT_*`
/// variable replaced.
fn revault(e: &mut Env, addr: &str, vars: &[(&str, &str)]) {
    e.vars.retain(|(k, _)| !k.starts_with("VAULT_"));
    e.vars.push(("VAULT_ADDR".into(), addr.to_owned()));
    for (k, v) in vars {
        e.vars.push(((*k).to_owned(), (*v).to_owned()));
    }
}

fn set(e: &Env, name: &str, value: &str) -> Run {
    set_with(e, "vault", name, SCOPE, value)
}

fn get(e: &Env, name: &str) -> Run {
    e.run(&["secret", "get", name, "--scope", SCOPE])
}

/// A task referencing `name`, dispatched: the value in its env.
fn dispatched(e: &Env, name: &str) -> String {
    let task = e
        .run(&["task", "create", "--project", PROJECT, "--ref", name])
        .ok()
        .trim()
        .to_owned();
    let d: serde_json::Value =
        serde_json::from_str(e.run(&["dispatch", &task, "--json"]).ok()).unwrap();
    d["env"][name].as_str().unwrap().to_owned()
}

fn no_leak(r: &Run, canary: &str) {
    assert!(
        !r.stdout.contains(canary) && !r.stderr.contains(canary),
        "{canary} in the output:\n{}\n{}",
        r.stdout,
        r.stderr
    );
}

/// Whether the output says "no key material": no PEM body or header of a key.
fn no_key_material(r: &Run) {
    for needle in ["PRIVATE KEY", "MII", "MHc"] {
        assert!(
            !r.stderr.contains(needle) && !r.stdout.contains(needle),
            "{needle} in the output: {}",
            r.stderr
        );
    }
}

#[test]
fn dev_tls_with_its_ca_as_vault_cacert_sets_reads_and_dispatches_through_https_and_doctor_says_ok()
{
    let tls = TlsBao::start();
    let ca = tls.ca();
    let e = env_for(
        &tls.bao.addr,
        &[("VAULT_TOKEN", "root"), ("VAULT_CACERT", &ca)],
    );
    set(&e, "TLS_DB_URL", "tls-canary-1").ok();
    assert_eq!(
        stored(&tls.bao, "TLS_DB_URL").as_deref(),
        Some("tls-canary-1"),
        "the value is in Vault"
    );
    assert_eq!(get(&e, "TLS_DB_URL").ok(), "tls-canary-1");
    assert_eq!(dispatched(&e, "TLS_DB_URL"), "tls-canary-1");
    let doctor = e.run(&["doctor"]);
    let out = doctor.ok();
    assert!(out.contains("vault: ok"), "{out}");
    assert!(
        out.contains(&tls.bao.addr),
        "doctor names the https address: {out}"
    );
}

#[test]
fn without_vault_cacert_the_dev_tls_certificate_is_not_trusted_the_error_names_vault_cacert_and_nothing_is_written()
 {
    let tls = TlsBao::start();
    let e = env_for(&tls.bao.addr, &[("VAULT_TOKEN", "root")]);
    let r = set(&e, "UNTRUSTED", "untrusted-canary-2");
    r.fails(1, "not trusted");
    r.fails(1, "VAULT_CACERT");
    no_leak(&r, "untrusted-canary-2");
    assert_eq!(stored(&tls.bao, "UNTRUSTED"), None, "nothing reached Vault");
    assert_eq!(
        e.sql("SELECT count(*) FROM secrets").trim(),
        "0",
        "nothing in the database"
    );
    // doctor says the same, and fails.
    let d = e.run(&["doctor"]);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    assert!(
        format!("{}{}", d.stdout, d.stderr).contains("VAULT_CACERT"),
        "{}\n{}",
        d.stdout,
        d.stderr
    );

    // A CA that did not sign Vault's certificate: the error names the file given.
    let pki = Pki::new();
    let mut e = e;
    e.vars.push(("VAULT_CACERT".into(), pki.file("ca.pem")));
    set(&e, "UNTRUSTED", "untrusted-canary-2").fails(
        1,
        &format!("no CA of VAULT_CACERT ({})", pki.file("ca.pem")),
    );
    assert_eq!(stored(&tls.bao, "UNTRUSTED"), None);
}

#[test]
fn vault_capath_trusts_the_cas_of_every_file_in_the_folder() {
    let tls = TlsBao::start();
    let folder = secretstore_testkit::scratch();
    // Another CA first, and bao's: every file counts.
    std::fs::write(folder.path().join("00-other.pem"), ca("other CA").pem).unwrap();
    std::fs::copy(
        tls.bao.ca_cert.as_ref().unwrap(),
        folder.path().join("vault-ca.pem"),
    )
    .unwrap();
    let capath = folder.path().display().to_string();
    let e = env_for(
        &tls.bao.addr,
        &[("VAULT_TOKEN", "root"), ("VAULT_CAPATH", &capath)],
    );
    set(&e, "CAPATH_KEY", "capath-canary-3").ok();
    assert_eq!(get(&e, "CAPATH_KEY").ok(), "capath-canary-3");
    assert_eq!(
        stored(&tls.bao, "CAPATH_KEY").as_deref(),
        Some("capath-canary-3")
    );

    // Without bao's CA in the folder: not trusted, and the folder is named.
    std::fs::remove_file(folder.path().join("vault-ca.pem")).unwrap();
    set(&e, "CAPATH_KEY2", "capath-canary-4")
        .fails(1, &format!("no CA in VAULT_CAPATH ({capath})"));
    // A file in the folder that is no certificate: a config error naming it.
    std::fs::write(folder.path().join("notes.txt"), "not a certificate\n").unwrap();
    set(&e, "CAPATH_KEY2", "capath-canary-4").fails(1, "notes.txt holds no PEM certificate");
    assert_eq!(stored(&tls.bao, "CAPATH_KEY2"), None);
}

#[test]
fn vault_tls_server_name_is_checked_instead_of_the_address_host() {
    let tls = TlsBao::start();
    let ca = tls.ca();
    // bao's dev certificate is for localhost, localhost4/6, the host name and 127.0.0.1.
    let mut e = env_for(
        &tls.bao.addr,
        &[
            ("VAULT_TOKEN", "root"),
            ("VAULT_CACERT", &ca),
            ("VAULT_TLS_SERVER_NAME", "vault.example.com"),
        ],
    );
    let r = set(&e, "SNI_KEY", "sni-canary-5");
    r.fails(
        1,
        "Vault's certificate is not valid for \"vault.example.com\", the name of VAULT_TLS_SERVER_NAME",
    );
    r.fails(1, "localhost");
    assert_eq!(stored(&tls.bao, "SNI_KEY"), None);
    // A name it carries, with the address at 127.0.0.1: works.
    e.vars.retain(|(k, _)| k != "VAULT_TLS_SERVER_NAME");
    e.vars
        .push(("VAULT_TLS_SERVER_NAME".into(), "localhost".into()));
    set(&e, "SNI_KEY", "sni-canary-5").ok();
    assert_eq!(get(&e, "SNI_KEY").ok(), "sni-canary-5");
    // A value that is no name at all: a config error.
    e.vars.retain(|(k, _)| k != "VAULT_TLS_SERVER_NAME");
    e.vars
        .push(("VAULT_TLS_SERVER_NAME".into(), "not a name!".into()));
    get(&e, "SNI_KEY").fails(1, "VAULT_TLS_SERVER_NAME \"not a name!\" is not a DNS name");
}

#[test]
fn vault_skip_verify_is_refused_and_tls_settings_need_an_https_address() {
    let tls = TlsBao::start();
    let ca = tls.ca();
    for skip in ["true", "1", "yes"] {
        let e = env_for(
            &tls.bao.addr,
            &[
                ("VAULT_TOKEN", "root"),
                ("VAULT_CACERT", &ca),
                ("VAULT_SKIP_VERIFY", skip),
            ],
        );
        let r = set(&e, "SKIP_KEY", "skip-canary-6");
        r.fails(1, "VAULT_SKIP_VERIFY");
        r.fails(1, "never switches off the verification");
        assert_eq!(stored(&tls.bao, "SKIP_KEY"), None);
    }
    // VAULT_SKIP_VERIFY=false is the default, and harmless.
    let e = env_for(
        &tls.bao.addr,
        &[
            ("VAULT_TOKEN", "root"),
            ("VAULT_CACERT", &ca),
            ("VAULT_SKIP_VERIFY", "false"),
        ],
    );
    set(&e, "SKIP_KEY", "skip-canary-6").ok();
    // TLS settings with an http:// address: refused, not ignored.
    for (k, v) in [
        ("VAULT_CACERT", ca.as_str()),
        ("VAULT_TLS_SERVER_NAME", "localhost"),
    ] {
        let e = env_for(&tls.bao.admin_addr, &[("VAULT_TOKEN", "root"), (k, v)]);
        set(&e, "PLAIN_KEY", "plain-canary-7").fails(1, "is not an https:// address");
    }
    assert_eq!(stored(&tls.bao, "PLAIN_KEY"), None);
}

#[test]
fn an_mtls_listener_refuses_a_client_without_a_certificate_and_accepts_vault_client_cert() {
    let pki = Pki::new();
    let bao = pki.bao();
    let mtls = bao.mtls_addr.clone().unwrap();
    let (ca_file, cert, key) = (
        pki.file("ca.pem"),
        pki.file("client.pem"),
        pki.file("client-key.pem"),
    );
    let base = [
        ("VAULT_TOKEN", "root"),
        ("VAULT_CACERT", ca_file.as_str()),
        ("VAULT_TLS_SERVER_NAME", "vault.test"),
    ];

    // No client certificate: the listener refuses, and the error says what to set.
    let e = env_for(&mtls, &base);
    let r = set(&e, "MTLS_KEY", "mtls-canary-8");
    r.fails(1, "requires a client certificate");
    r.fails(1, "VAULT_CLIENT_CERT");
    assert_eq!(stored(&bao, "MTLS_KEY"), None);

    // A client certificate of a CA the listener does not know: refused, named.
    let mut stranger = base.to_vec();
    let (s_cert, s_key) = (pki.file("stranger.pem"), pki.file("stranger-key.pem"));
    stranger.extend([
        ("VAULT_CLIENT_CERT", s_cert.as_str()),
        ("VAULT_CLIENT_KEY", s_key.as_str()),
    ]);
    let e = env_for(&mtls, &stranger);
    set(&e, "MTLS_KEY", "mtls-canary-8").fails(
        1,
        &format!("Vault refused the client certificate of VAULT_CLIENT_CERT ({s_cert})"),
    );
    assert_eq!(stored(&bao, "MTLS_KEY"), None);

    // The right one (a PKCS#8 key): set, read and dispatched.
    let mut good = base.to_vec();
    good.extend([
        ("VAULT_CLIENT_CERT", cert.as_str()),
        ("VAULT_CLIENT_KEY", key.as_str()),
    ]);
    let mut e = env_for(&mtls, &good);
    set(&e, "MTLS_KEY", "mtls-canary-8").ok();
    assert_eq!(stored(&bao, "MTLS_KEY").as_deref(), Some("mtls-canary-8"));
    assert_eq!(get(&e, "MTLS_KEY").ok(), "mtls-canary-8");
    assert_eq!(dispatched(&e, "MTLS_KEY"), "mtls-canary-8");
    assert!(e.run(&["doctor"]).ok().contains("vault: ok"));

    // This certificate is for vault.test only: without VAULT_TLS_SERVER_NAME the address's
    // host, 127.0.0.1, is checked, and fails.
    revault(
        &mut e,
        &mtls,
        &good
            .iter()
            .copied()
            .filter(|(k, _)| *k != "VAULT_TLS_SERVER_NAME")
            .collect::<Vec<_>>(),
    );
    let r = get(&e, "MTLS_KEY");
    r.fails(
        1,
        "Vault's certificate is not valid for \"127.0.0.1\", the host of VAULT_ADDR (it is for vault.test)",
    );
    r.fails(1, "VAULT_TLS_SERVER_NAME");

    // A key that is not the certificate's: a config error, without the key.
    let mut wrong = base.to_vec();
    wrong.extend([
        ("VAULT_CLIENT_CERT", cert.as_str()),
        ("VAULT_CLIENT_KEY", s_key.as_str()),
    ]);
    revault(&mut e, &mtls, &wrong);
    let r = get(&e, "MTLS_KEY");
    r.fails(
        1,
        "is not the private key of the certificate in VAULT_CLIENT_CERT",
    );
    no_key_material(&r);
    // A missing key file: named with its setting.
    let mut missing = base.to_vec();
    missing.extend([
        ("VAULT_CLIENT_CERT", cert.as_str()),
        ("VAULT_CLIENT_KEY", "/nonexistent/client-key.pem"),
    ]);
    revault(&mut e, &mtls, &missing);
    get(&e, "MTLS_KEY").fails(
        1,
        "VAULT_CLIENT_KEY: cannot read /nonexistent/client-key.pem",
    );
}

#[test]
fn the_cert_auth_method_logs_in_with_the_client_certificate_and_sets_and_reads_a_secret() {
    let pki = Pki::new();
    let bao = pki.bao();
    let mtls = bao.mtls_addr.clone().unwrap();
    // auth/cert trusts the test CA for role `agent`, with a policy for secretstore's paths.
    let (code, body) = admin(
        &bao,
        "POST",
        "sys/policy/secretstore-agent",
        Some(
            serde_json::json!({"policy": "path \"secret/data/secretstore/*\" { capabilities = [\"create\", \"read\", \"update\", \"patch\"] }\npath \"secret/metadata/secretstore/*\" { capabilities = [\"read\", \"delete\"] }\n"}),
        ),
    );
    assert!(code == 204 || code == 200, "{code} {body}");
    let (code, body) = admin(
        &bao,
        "POST",
        "sys/auth/cert",
        Some(serde_json::json!({"type": "cert"})),
    );
    assert_eq!(code, 204, "{body}");
    let (code, body) = admin(
        &bao,
        "POST",
        "auth/cert/certs/agent",
        Some(serde_json::json!({
            "certificate": pki.ca.pem,
            "token_policies": "secretstore-agent",
            "token_ttl": "1h",
        })),
    );
    assert_eq!(code, 204, "{body}");

    let (ca_file, cert, key) = (
        pki.file("ca.pem"),
        pki.file("client.pem"),
        pki.file("client-key-sec1.pem"),
    );
    let vars = [
        ("VAULT_AUTH_METHOD", "cert"),
        ("VAULT_AUTH_ROLE", "agent"),
        ("VAULT_CACERT", ca_file.as_str()),
        ("VAULT_TLS_SERVER_NAME", "vault.test"),
        ("VAULT_CLIENT_CERT", cert.as_str()),
        // A SEC1 key (`EC PRIVATE KEY`), as openssl and bao write them.
        ("VAULT_CLIENT_KEY", key.as_str()),
    ];
    let mut e = env_for(&mtls, &vars);
    set(&e, "CERT_AUTH_KEY", "cert-canary-9").ok();
    assert_eq!(
        stored(&bao, "CERT_AUTH_KEY").as_deref(),
        Some("cert-canary-9")
    );
    assert_eq!(get(&e, "CERT_AUTH_KEY").ok(), "cert-canary-9");
    // doctor shows the identity: the cert method and the role's policy.
    let out = e.run(&["doctor"]);
    let text = out.ok();
    assert!(text.contains("vault: ok"), "{text}");
    assert!(text.contains("cert"), "{text}");
    assert!(text.contains("secretstore-agent"), "{text}");

    // Without a client certificate the method cannot work: a config error before any request.
    revault(
        &mut e,
        &mtls,
        &vars
            .iter()
            .copied()
            .filter(|(k, _)| !k.starts_with("VAULT_CLIENT_"))
            .collect::<Vec<_>>(),
    );
    get(&e, "CERT_AUTH_KEY").fails(1, "VAULT_AUTH_METHOD=cert needs VAULT_CLIENT_CERT");
    // A role the certificate does not match: Vault refuses the login, and says so.
    revault(
        &mut e,
        &mtls,
        &vars
            .iter()
            .copied()
            .map(|(k, v)| {
                if k == "VAULT_AUTH_ROLE" {
                    (k, "nobody")
                } else {
                    (k, v)
                }
            })
            .collect::<Vec<_>>(),
    );
    get(&e, "CERT_AUTH_KEY").fails(1, "Vault login (TLS certificate at auth/cert) failed");
}

/// Moves `content` into `path` the way cert-manager and Vault Agent renew files: a new file
/// renamed into place.
fn renew_file(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_client_certificate_renewed_in_place_is_presented_by_a_running_server_without_a_restart() {
    let pki = Pki::new();
    let bao = pki.bao();
    let mtls = bao.mtls_addr.clone().unwrap();
    // The files secretstore presents, renewed in place by the test.
    let files = secretstore_testkit::scratch();
    let (cert, key) = (files.path().join("tls.crt"), files.path().join("tls.key"));
    let copy = |name: &str| std::fs::read_to_string(pki.path(name)).unwrap();
    renew_file(&cert, &copy("client.pem"));
    renew_file(&key, &copy("client-key.pem"));
    let (ca_file, cert_s, key_s) = (
        pki.file("ca.pem"),
        cert.display().to_string(),
        key.display().to_string(),
    );
    let vars = [
        ("VAULT_TOKEN", "root"),
        ("VAULT_CACERT", ca_file.as_str()),
        ("VAULT_TLS_SERVER_NAME", "vault.test"),
        ("VAULT_CLIENT_CERT", cert_s.as_str()),
        ("VAULT_CLIENT_KEY", key_s.as_str()),
    ];
    let mut e = env_for(&mtls, &vars);
    e.vars.push(("SECRET_BACKEND".into(), "vault".into()));
    // Eight refs: a dispatch fetches them side by side, so it needs new connections
    // beside the one the server keeps from before.
    let names: Vec<String> = (0..8).map(|i| format!("RENEWED_{i}")).collect();
    for n in &names {
        set(&e, n, &format!("renewed-canary-{n}")).ok();
    }
    let mut args = vec!["task", "create", "--project", PROJECT];
    for n in &names {
        args.extend(["--ref", n.as_str()]);
    }
    let task = e.run(&args).ok().trim().to_owned();
    let one = e
        .run(&["task", "create", "--project", PROJECT, "--ref", "RENEWED_0"])
        .ok()
        .trim()
        .to_owned();
    let server = server::Server::start(&e, &[]);
    let root = server.root_token();
    let dispatch_of = |task: &str| {
        server.call(
            "POST",
            &format!("/api/v1/tasks/{task}/dispatch"),
            Some(&root),
            None,
        )
    };
    let dispatch = || dispatch_of(&task);
    // One ref: the server keeps one connection, made with the first certificate.
    let (code, d, text) = dispatch_of(&one);
    assert_eq!(code, 200, "{text}");
    assert_eq!(d["env"]["RENEWED_0"], "renewed-canary-RENEWED_0");

    // Renewed by a CA that Vault does not trust: new connections present it, and Vault
    // refuses them (which shows the files were read again).
    renew_file(&cert, &copy("stranger.pem"));
    renew_file(&key, &copy("stranger-key.pem"));
    std::thread::sleep(std::time::Duration::from_secs(6));
    let (code, _, text) = dispatch();
    assert_eq!(code, 502, "the renewed files were not read: {text}");
    assert!(text.contains("client certificate"), "{text}");

    // Renewed again, by the right CA: the server presents it, no restart.
    let (good, good_key) = client_cert(&pki.ca, "agent-x-renewed");
    renew_file(&cert, &good);
    renew_file(&key, &good_key);
    std::thread::sleep(std::time::Duration::from_secs(6));
    for _ in 0..3 {
        let (code, d, text) = dispatch();
        assert_eq!(code, 200, "{text}");
        assert_eq!(d["env"]["RENEWED_7"], "renewed-canary-RENEWED_7");
    }
    let logs = server.stderr();
    assert!(
        logs.contains("read the Vault client certificate again"),
        "{logs}"
    );
    assert!(!logs.contains("PRIVATE KEY"), "{logs}");
}
