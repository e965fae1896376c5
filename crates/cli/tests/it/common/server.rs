//! `secretstore serve` on a loopback port, and a minimal HTTP/1.1 client for it.

use super::Env;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
    pub(crate) out: std::path::PathBuf,
    pub(crate) err: std::path::PathBuf,
}

impl Server {
    pub(crate) fn start(env: &Env, extra: &[(&str, &str)]) -> Server {
        Server::start_on(env, "127.0.0.1", extra)
    }

    /// Listens on `host` (e.g. `0.0.0.0`, `[::1]`) at a free port; the tests talk to it on
    /// loopback only (`addr`: 127.0.0.1 for `0.0.0.0`).
    pub(crate) fn start_on(env: &Env, host: &str, extra: &[(&str, &str)]) -> Server {
        let port = secretstore_testkit::free_port();
        let listen = format!("{host}:{port}");
        let addr = match host {
            "0.0.0.0" => format!("127.0.0.1:{port}"),
            _ => listen.clone(),
        };
        let n = std::fs::read_dir(env.dir.path()).unwrap().count();
        let out = env.path(&format!("serve-{n}.out"));
        let err = env.path(&format!("serve-{n}.err"));
        let mut c: Command = env.command(&["serve"]);
        c.env("SECRETSTORE_LISTEN", &listen)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        for (k, v) in extra {
            c.env(k, v);
        }
        let child = c.spawn().unwrap();
        let s = Server {
            child,
            addr,
            out,
            err,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            // Ready when it says so (after the root token, if any, was printed).
            if s.stdout().contains("listening on") && TcpStream::connect(&s.addr).is_ok() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "server did not start: {}",
            std::fs::read_to_string(&s.err).unwrap_or_default()
        );
    }

    pub(crate) fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap()
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap()
    }

    /// The root token printed at first start.
    pub(crate) fn root_token(&self) -> String {
        self.stdout()
            .split_whitespace()
            .find(|w| w.starts_with("sst_"))
            .expect("a root token on stdout")
            .to_string()
    }

    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value, String) {
        http(&self.addr, method, path, token, body)
    }

    /// Creates organization `acme`, team `acme/platform`, workspace `acme/platform/dev`
    /// and project `acme/platform/dev/agent-x` over the API, as `token`.
    pub(crate) fn make_tree(&self, token: &str) {
        for p in [
            "orgs/acme",
            "teams/acme/platform",
            "workspaces/acme/platform/dev",
            "projects/acme/platform/dev/agent-x",
        ] {
            let (code, _, text) = self.call("PUT", &format!("/api/v1/{p}"), Some(token), None);
            assert_eq!(code, 201, "{p}: {text}");
        }
    }

    pub(crate) fn terminate(mut self) -> (i32, String) {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        let code = wait_with_timeout(&mut self.child, Duration::from_secs(20));
        (code, self.stderr())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn wait_with_timeout(child: &mut Child, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn request_bytes(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req.into_bytes()
}

/// A minimal HTTP/1.1 client (Connection: close), enough for these tests.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&request_bytes(addr, method, path, token, body))
        .unwrap();
    read_response(&mut s)
}

pub(crate) fn read_response(s: &mut TcpStream) -> (u16, Value, String) {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::Null),
        body,
    )
}

pub(crate) fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// Like [`http`], but `None` when the server cannot be reached or hangs up before a whole
/// answer (a server killed under the request): for clients that race a kill -9.
pub(crate) fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Option<(u16, Value, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    s.write_all(&request_bytes(addr, method, path, token, body))
        .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        if !body.ends_with("0\r\n\r\n") {
            return None;
        }
        dechunk(body)
    } else {
        // A body cut short by the kill is no answer.
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(body.len());
        if body.len() < length {
            return None;
        }
        body.to_string()
    };
    Some((
        status,
        serde_json::from_str(&body).unwrap_or(Value::Null),
        body,
    ))
}
