//! `secretstore serve` as a user runs it: the real binary on a loopback port.

use crate::common::server::*;
use crate::common::*;
use serde_json::{Value, json};
use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

#[test]
fn first_start_needs_no_setup_and_the_readme_walkthrough_works() {
    let env = Env::bare();
    let server = Server::start(&env, &[]);
    let root = server.root_token();
    assert!(server.stdout().contains(&format!("http://{}", server.addr)));
    let dotenv = std::fs::read_to_string(env.path(".env")).unwrap();
    assert!(dotenv.starts_with("FERNET_SECRET_KEY="));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(env.path(".env"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    assert!(
        server.stderr().contains("development"),
        "the local backend warns: {}",
        server.stderr()
    );

    let (code, _, _) = server.call("GET", "/healthz", None, None);
    assert_eq!(code, 200);
    server.make_tree(&root);
    // The platform admin sets up people and the controller from the command line…
    env.run(&["account", "create", "alice"]).ok();
    env.run(&["grant", "alice", "member", "acme/platform"]).ok();
    let alice = env
        .run(&["token", "create", "alice"])
        .ok()
        .trim()
        .to_string();
    env.run(&["account", "create", "controller", "--service"])
        .ok();
    env.run(&["grant", "controller", "dispatcher", "acme"]).ok();
    let ctl = env
        .run(&["token", "create", "controller"])
        .ok()
        .trim()
        .to_string();
    let accounts = env.run(&["account", "list"]).ok().to_string();
    assert!(
        accounts.contains("dispatcher acme") && accounts.contains("member acme/platform"),
        "{accounts}"
    );

    // …a team member manages the team's secrets over HTTP…
    let (code, _, text) = server.call(
        "PUT",
        "/api/v1/secrets/DB_URL?scope=acme/platform/dev",
        Some(&alice),
        Some(&json!({"value": "postgres://walkthrough", "category": "infrastructure"}).to_string()),
    );
    assert_eq!(code, 200, "{text}");
    let (code, _, _) = server.call(
        "PUT",
        "/api/v1/secrets/ORG_KEY?scope=acme",
        Some(&alice),
        Some(&json!({"value": "nope", "category": "provider"}).to_string()),
    );
    assert_eq!(code, 403, "a member cannot write organization-wide");

    // …the controller creates and dispatches a task, and cannot read a value directly…
    let (code, task, text) = server.call(
        "POST",
        "/api/v1/tasks",
        Some(&ctl),
        Some(
            &json!({"project": "acme/platform/dev/agent-x", "secret_refs": ["DB_URL"]}).to_string(),
        ),
    );
    assert_eq!(code, 201, "{text}");
    let (code, _, _) = server.call(
        "GET",
        "/api/v1/secrets/DB_URL/value?scope=acme/platform/dev",
        Some(&ctl),
        None,
    );
    assert_eq!(code, 403);
    let (code, d, text) = server.call(
        "POST",
        &format!("/api/v1/tasks/{}/dispatch", task["id"].as_str().unwrap()),
        Some(&ctl),
        None,
    );
    assert_eq!(code, 200, "{text}");
    assert_eq!(d["env"]["DB_URL"], "postgres://walkthrough");
    let brief = d["brief_id"].as_str().unwrap();
    let cb_token = d["env"]["SECRETSTORE_CALLBACK_TOKEN"].as_str().unwrap();

    // …the agent calls back…
    let (code, _, _) = server.call(
        "POST",
        &format!("/api/v1/briefs/{brief}/callback"),
        Some(cb_token),
        None,
    );
    assert_eq!(code, 200);
    let (_, b, _) = server.call("GET", &format!("/api/v1/briefs/{brief}"), Some(&ctl), None);
    assert_eq!(b["status"], "completed");

    // …and admins read the audit log, over HTTP and on the command line.
    let (code, log, _) = server.call("GET", "/api/v1/audit", Some(&root), None);
    assert_eq!(code, 200);
    let actions: Vec<&str> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for a in [
        "account.create",
        "account.grant",
        "token.create",
        "secret.set",
        "task.dispatch",
        "brief.callback",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    let cli_log = env
        .run(&["audit", "--scope", "acme/platform", "--json"])
        .ok()
        .to_string();
    let cli_log: Value = serde_json::from_str(&cli_log).unwrap();
    assert!(
        cli_log
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["actor"] == "alice" && r["action"] == "secret.set")
    );

    // A token revoked from the command line (another process) answers 401 within the
    // server's one-second memory of verified tokens (README, "Who may do what").
    let tokens: Value =
        serde_json::from_str(env.run(&["token", "list", "alice", "--json"]).ok()).unwrap();
    env.run(&["token", "revoke", tokens[0]["id"].as_str().unwrap()])
        .ok();
    let revoked = std::time::Instant::now();
    while server.call("GET", "/api/v1/whoami", Some(&alice), None).0 != 401 {
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "a revoked token still worked after {:?}",
            revoked.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let (code, stderr) = server.terminate();
    assert_eq!(code, 0, "{stderr}");

    // A second start creates nothing and prints no token.
    let again = Server::start(&env, &[]);
    assert!(!again.stdout().contains("sst_"), "{}", again.stdout());
    assert_eq!(
        again.call("GET", "/api/v1/whoami", Some(&root), None).0,
        200
    );
}

#[test]
fn trace_logs_hold_no_value_token_or_body() {
    let env = Env::bare();
    let server = Server::start(&env, &[("RUST_LOG", "trace")]);
    let root = server.root_token();
    for p in [
        "orgs/acme",
        "teams/acme/t",
        "workspaces/acme/t/w",
        "projects/acme/t/w/p",
    ] {
        server.call("PUT", &format!("/api/v1/{p}"), Some(&root), None);
    }
    let canary = "canary-trace-5521";
    let (code, _, _) = server.call(
        "PUT",
        "/api/v1/secrets/C?scope=acme",
        Some(&root),
        Some(&json!({"value": canary, "category": "agent"}).to_string()),
    );
    assert_eq!(code, 200);
    let malformed = format!("{{\"value\": \"{canary}-malformed\", \"category\": ");
    let (code, _, text) = server.call(
        "PUT",
        "/api/v1/secrets/D?scope=acme",
        Some(&root),
        Some(&malformed),
    );
    assert_eq!(code, 400);
    assert!(!text.contains(canary));
    let (_, task, _) = server.call(
        "POST",
        "/api/v1/tasks",
        Some(&root),
        Some(&json!({"project": "acme/t/w/p", "secret_refs": ["C"]}).to_string()),
    );
    let (_, d, _) = server.call(
        "POST",
        &format!("/api/v1/tasks/{}/dispatch", task["id"].as_str().unwrap()),
        Some(&root),
        None,
    );
    let cb = d["env"]["SECRETSTORE_CALLBACK_TOKEN"]
        .as_str()
        .unwrap()
        .to_string();
    server.call(
        "GET",
        "/api/v1/secrets/C/value?scope=acme",
        Some(&root),
        None,
    );
    // A value pasted where a name goes, and a path no route has: the log holds the route
    // template and a fixed word, never the raw path.
    let pasted = "PASTED_VALUE_LOOKS_LIKE_A_NAME_9931";
    server.call(
        "GET",
        &format!("/api/v1/secrets/{pasted}?scope=acme"),
        Some(&root),
        None,
    );
    server.call("GET", &format!("/no/such/{pasted}/route"), None, None);
    let (code, logs) = server.terminate();
    assert_eq!(code, 0);
    assert!(!logs.contains(pasted), "the raw path is in the log: {logs}");
    assert!(
        logs.contains("route=/api/v1/secrets/{name}") && logs.contains("route=unmatched"),
        "the route template is logged: {logs}"
    );
    assert!(
        logs.contains("request_id") && logs.contains("status=200"),
        "one line per request: {logs}"
    );
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "trace level is on: {logs}"
    );
    for secret in [
        canary,
        root.as_str(),
        cb.as_str(),
        "Bearer",
        "authorization",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let env = Env::bare();
    let server = Server::start(&env, &[]);
    let root = server.root_token();
    server.call("PUT", "/api/v1/orgs/acme", Some(&root), None);
    // Send the headers and half the body, then SIGTERM, then the rest: the request is in
    // flight and must still be answered.
    let body = json!({"value": "x".repeat(60_000), "category": "agent"}).to_string();
    let bytes = request_bytes(
        &server.addr,
        "PUT",
        "/api/v1/secrets/SLOW?scope=acme",
        Some(&root),
        Some(&body),
    );
    let mut s = TcpStream::connect(&server.addr).unwrap();
    let half = bytes.len() / 2;
    s.write_all(&bytes[..half]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&bytes[half..]).unwrap();
    let (code, v, text) = read_response(&mut s);
    assert_eq!(code, 200, "{text}");
    assert_eq!(v["version"], 1);
    let (code, logs) = server.terminate();
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("shutting down"), "{logs}");
}

/// CI, 2026-12-07: a SIGTERM sent right after `listening on` killed the server with the
/// signal (exit -1), because the handler was installed only when the accept loop first
/// ran. The handlers are now installed before anything else: a SIGTERM at any moment of
/// the start (here while the new database is being set up) is a clean stop, exit 0.
#[test]
fn sigterm_during_start_killed_the_server_instead_of_stopping_it() {
    let env = Env::bare();
    let addr = format!("127.0.0.1:{}", secretstore_testkit::free_port());
    let (out, err) = (env.path("early-term.out"), env.path("early-term.err"));
    let child = env
        .command(&["serve"])
        .env("SECRETSTORE_LISTEN", &addr)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    // Dropped (killed) also when the test fails.
    let mut server = Server {
        child,
        addr,
        out,
        err,
    };
    // Its first line, before the database is opened.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !server.stderr().contains("wrote .env") {
        assert!(
            std::time::Instant::now() < deadline,
            "serve printed nothing"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(secretstore_testkit::signal(server.child.id(), "TERM"));
    let code = wait_with_timeout(&mut server.child, Duration::from_secs(20));
    assert_eq!(code, 0, "{}", server.stderr());
}

// ---------------------------------------------------------------------------------------
// TLS

/// A certificate authority made for one test.
pub(crate) struct Ca {
    pub(crate) issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub(crate) pem: String,
}

pub(crate) fn ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_string());
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: rcgen::Issuer::new(p, key),
    }
}

/// A server certificate for localhost and 127.0.0.1 signed by `ca`: (cert PEM, key PEM).
pub(crate) fn server_cert(ca: &Ca) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let p = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A client that trusts only `ca`.
fn client_trusting(ca: &Ca) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Every connection does a full handshake: a resumed session would not show the
    // server's current certificate.
    cfg.resumption = rustls::client::Resumption::disabled();
    std::sync::Arc::new(cfg)
}

/// One TLS connection, kept alive across requests.
struct TlsConn(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl TlsConn {
    /// Connects and completes the handshake (an error if the certificate is not trusted).
    fn open(addr: &str, cfg: &std::sync::Arc<rustls::ClientConfig>) -> std::io::Result<TlsConn> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn =
            rustls::ClientConnection::new(cfg.clone(), name).map_err(std::io::Error::other)?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(TlsConn(s))
    }

    /// `GET path` on this connection (keep-alive): status and body.
    fn get(&mut self, path: &str, token: Option<&str>) -> (u16, String) {
        use std::io::Read;
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        write!(
            self.0,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n"
        )
        .unwrap();
        self.0.flush().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            self.0.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .expect("a content-length");
        let mut body = vec![0u8; len];
        self.0.read_exact(&mut body).unwrap();
        (status, String::from_utf8(body).unwrap())
    }
}

pub(crate) fn sighup(server: &Server) {
    let ok = Command::new("kill")
        .arg("-HUP")
        .arg(server.child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn serve_speaks_https_and_sighup_swaps_the_certificate_without_dropping_connections() {
    let env = Env::bare();
    let (ca1, ca2) = (ca("test CA one"), ca("test CA two"));
    let (cert, key) = server_cert(&ca1);
    let (cert_path, key_path) = (env.path("tls.crt"), env.path("tls.key"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    std::fs::write(env.path("ca1.pem"), &ca1.pem).unwrap();
    let server = Server::start(
        &env,
        &[
            ("SECRETSTORE_TLS_CERT", cert_path.to_str().unwrap()),
            ("SECRETSTORE_TLS_KEY", key_path.to_str().unwrap()),
        ],
    );
    let root = server.root_token();
    assert!(
        server
            .stdout()
            .contains(&format!("https://{}", server.addr)),
        "{}",
        server.stdout()
    );
    assert!(!server.stdout().contains("http://"), "{}", server.stdout());

    // A real client (curl) over HTTPS: /healthz and an authenticated call.
    let url = format!("https://{}", server.addr);
    let curl = |path: &str, extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(env.path("ca1.pem"))
            .args(extra)
            .args(["-w", "\n%{http_code}"])
            .arg(format!("{url}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(curl("/healthz", &[]).ends_with("\n200"));
    let auth = format!("Authorization: Bearer {root}");
    let whoami = curl("/api/v1/whoami", &["-H", &auth]);
    assert!(
        whoami.ends_with("\n200") && whoami.contains("root"),
        "{whoami}"
    );

    // The session cookie is Secure over serve's own TLS.
    let page = curl("/ui/login", &["-i"]);
    assert!(
        page.lines().any(
            |l| l.to_ascii_lowercase().starts_with("set-cookie: ss_login=")
                && l.contains("; Secure")
        ),
        "{page}"
    );
    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(&server.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(&request_bytes(&server.addr, "GET", "/healthz", None, None))
        .unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");

    // A keep-alive connection opened before the reload.
    let (trust1, trust2) = (client_trusting(&ca1), client_trusting(&ca2));
    let mut before = TlsConn::open(&server.addr, &trust1).unwrap();
    assert_eq!(before.get("/healthz", None).0, 200);
    assert!(TlsConn::open(&server.addr, &trust2).is_err());

    // Another CA's certificate in the files, then SIGHUP.
    let (cert2, key2) = server_cert(&ca2);
    std::fs::write(&cert_path, cert2).unwrap();
    std::fs::write(&key_path, key2).unwrap();
    sighup(&server);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut after = loop {
        if let Ok(c) = TlsConn::open(&server.addr, &trust2) {
            break c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reload: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(after.get("/api/v1/whoami", Some(&root)).0, 200);
    assert!(
        TlsConn::open(&server.addr, &trust1).is_err(),
        "the old certificate is gone"
    );
    // The connection from before the reload still works.
    let (code, body) = before.get("/api/v1/whoami", Some(&root));
    assert_eq!(code, 200, "{body}");

    // A reload that fails keeps the certificate in use and says why.
    std::fs::write(&cert_path, "not a certificate").unwrap();
    sighup(&server);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.stderr().contains("cannot reload") {
        assert!(std::time::Instant::now() < deadline, "{}", server.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        TlsConn::open(&server.addr, &trust2)
            .unwrap()
            .get("/healthz", None)
            .0,
        200
    );
    assert_eq!(after.get("/healthz", None).0, 200);

    drop((before, after));
    let (code, stderr) = server.terminate();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("plain HTTP"), "{stderr}");
}

#[test]
fn a_bad_tls_setting_is_a_clear_error_at_start() {
    let env = Env::new();
    let ca1 = ca("test CA");
    let (cert, key) = server_cert(&ca1);
    let (_, other_key) = server_cert(&ca1);
    for (name, text) in [
        ("good.crt", cert.as_str()),
        ("good.key", key.as_str()),
        ("other.key", other_key.as_str()),
        (
            "bad.crt",
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        ),
        ("empty.pem", ""),
    ] {
        std::fs::write(env.path(name), text).unwrap();
    }
    let p = |n: &str| env.path(n).to_str().unwrap().to_string();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![("SECRETSTORE_TLS_CERT", p("good.crt"))], "go together"),
        (vec![("SECRETSTORE_TLS_KEY", p("good.key"))], "go together"),
        (
            vec![
                ("SECRETSTORE_TLS_CERT", p("missing.crt")),
                ("SECRETSTORE_TLS_KEY", p("good.key")),
            ],
            "SECRETSTORE_TLS_CERT: cannot read",
        ),
        (
            vec![
                ("SECRETSTORE_TLS_CERT", p("bad.crt")),
                ("SECRETSTORE_TLS_KEY", p("good.key")),
            ],
            "SECRETSTORE_TLS",
        ),
        (
            vec![
                ("SECRETSTORE_TLS_CERT", p("empty.pem")),
                ("SECRETSTORE_TLS_KEY", p("good.key")),
            ],
            "holds no PEM certificate",
        ),
        (
            vec![
                ("SECRETSTORE_TLS_CERT", p("good.crt")),
                ("SECRETSTORE_TLS_KEY", p("empty.pem")),
            ],
            "SECRETSTORE_TLS_KEY",
        ),
        (
            vec![
                ("SECRETSTORE_TLS_CERT", p("good.crt")),
                ("SECRETSTORE_TLS_KEY", p("other.key")),
            ],
            "does not belong",
        ),
    ];
    for (vars, needle) in cases {
        let mut c = env.command(&["serve"]);
        c.env("SECRETSTORE_LISTEN", "127.0.0.1:0");
        for (k, v) in &vars {
            c.env(k, v);
        }
        let r = run_with(&mut c, b"");
        r.fails(1, needle);
        assert!(!r.stderr.contains("PRIVATE KEY"), "{}", r.stderr);
    }
}

#[test]
fn plain_http_beyond_loopback_warns_at_start_and_loopback_does_not() {
    let env = Env::bare();
    let wide = Server::start_on(&env, "0.0.0.0", &[]);
    // Traffic only to 127.0.0.1.
    assert_eq!(wide.call("GET", "/healthz", None, None).0, 200);
    let (code, stderr) = wide.terminate();
    assert_eq!(code, 0);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("WARN") && l.contains("plain HTTP on 0.0.0.0")),
        "{stderr}"
    );
    for host in ["127.0.0.1", "[::1]"] {
        if host == "[::1]" && std::net::TcpListener::bind("[::1]:0").is_err() {
            continue; // no IPv6 loopback here
        }
        let local = Server::start_on(&env, host, &[]);
        let (code, stderr) = local.terminate();
        assert_eq!(code, 0);
        assert!(!stderr.contains("plain HTTP"), "{host}: {stderr}");
    }
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let env = Env::bare();
    let server = Server::start(&env, &[]);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let started = std::time::Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let read = std::io::Read::read_to_end(&mut s, &mut answer);
    let waited = started.elapsed();
    assert!(
        read.is_ok(),
        "the server kept the connection open: {read:?}"
    );
    assert!(
        waited >= Duration::from_secs(25) && waited < Duration::from_secs(50),
        "{waited:?}"
    );
    // The server still answers others.
    assert_eq!(server.call("GET", "/healthz", None, None).0, 200);
}
