//! `serve` on the wire: a request stalled on the database is answered 503 `timeout`
//! within the request timeout; idle connections neither stall other clients nor hold a
//! slot forever; the connection limit is enforced; bad wire settings are refused.

use crate::common::Env;
use crate::common::lock::TableLock;
use crate::common::server::{Server, http, read_response, request_bytes};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn put(s: &Server, root: &str, value: &str) -> (u16, serde_json::Value, String) {
    let body = format!(r#"{{"value": "{value}", "category": "provider"}}"#);
    s.call(
        "PUT",
        "/api/v1/secrets/API_KEY?scope=acme",
        Some(root),
        Some(&body),
    )
}

#[test]
fn a_request_stalled_on_the_database_is_answered_503_timeout_within_the_bound() {
    let e = Env::new();
    let s = Server::start(&e, &[("SECRETSTORE_REQUEST_TIMEOUT", "1s")]);
    let root = s.root_token();
    let (st, _, text) = s.call("PUT", "/api/v1/orgs/acme", Some(&root), None);
    assert!(st == 200 || st == 201, "{st} {text}");

    let lock = TableLock::take(&e);
    let started = Instant::now();
    let (st, body, text) = put(&s, &root, "first-value");
    let took = started.elapsed();
    assert_eq!(st, 503, "{text}");
    assert_eq!(body["error"]["code"], "timeout", "{text}");
    assert!(!text.contains("first-value"), "{text}");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    // Other clients were served meanwhile: the stalled request held up only itself.
    let (st, _, _) = http(&s.addr, "GET", "/healthz", None, None);
    assert_eq!(st, 200);

    // The lock released, the write answered 503 completes whole in the background (it
    // is never cut halfway), and the next one comes after it.
    drop(lock);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (st, body, text) = s.call(
            "GET",
            "/api/v1/secrets/API_KEY/value?scope=acme",
            Some(&root),
            None,
        );
        if st == 200 {
            assert_eq!(body["value"], "first-value", "{text}");
            assert_eq!(body["version"], 1, "{text}");
            break;
        }
        assert_eq!(st, 404, "{text}");
        assert!(
            Instant::now() < deadline,
            "the write answered 503 never completed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (st, body, text) = put(&s, &root, "second-value");
    assert!(st == 200 || st == 201, "{st} {text}");
    assert_eq!(body["version"], 2, "{text}");
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
}

/// `n` connections that are opened and never send a byte.
fn idle_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect()
}

/// `GET /healthz` on a new connection, waiting at most `limit` for the answer.
fn healthz_within(addr: &str, limit: Duration) -> Option<u16> {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(limit)).unwrap();
    c.write_all(&request_bytes(addr, "GET", "/healthz", None, None))
        .unwrap();
    let mut first = [0u8; 1];
    match c.read(&mut first) {
        Ok(1) => {}
        _ => return None,
    }
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let text = format!("{}{}", first[0] as char, String::from_utf8_lossy(&rest));
    text.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn two_thousand_idle_connections_do_not_stall_healthz() {
    let e = Env::new();
    let s = Server::start(&e, &[]);
    let held = idle_connections(&s.addr, 2000);
    let started = Instant::now();
    assert_eq!(
        healthz_within(&s.addr, Duration::from_secs(1)),
        Some(200),
        "healthz did not answer within a second with 2,000 idle connections held"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(held);
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
}

/// The accept loop waited for a free slot without listening for SIGHUP: while every slot
/// was taken, a certificate reload waited until a connection ended.
#[test]
fn sighup_is_answered_while_every_connection_slot_is_taken() {
    let e = Env::new();
    let s = Server::start(
        &e,
        &[
            ("SECRETSTORE_MAX_CONNECTIONS", "1"),
            ("SECRETSTORE_HEADER_READ_TIMEOUT", "60s"),
        ],
    );
    let held = idle_connections(&s.addr, 1);
    std::thread::sleep(Duration::from_millis(200));
    crate::serve::sighup(&s);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !s.stderr().contains("SIGHUP: no TLS certificate to reload") {
        assert!(
            Instant::now() < deadline,
            "SIGHUP was not answered while the only slot was taken: {}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(held);
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
}

#[test]
fn at_the_connection_limit_a_new_connection_waits_for_a_free_slot() {
    let e = Env::new();
    let s = Server::start(
        &e,
        &[
            ("SECRETSTORE_MAX_CONNECTIONS", "2"),
            ("SECRETSTORE_HEADER_READ_TIMEOUT", "60s"),
        ],
    );
    let mut held = idle_connections(&s.addr, 2);
    // Both slots are taken by connections that send nothing: a third waits.
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(&s.addr).unwrap();
    third
        .write_all(&request_bytes(&s.addr, "GET", "/healthz", None, None))
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert!(
        third.read(&mut buf).is_err(),
        "a third connection was served beyond SECRETSTORE_MAX_CONNECTIONS=2"
    );
    // One slot frees up: the waiting connection is served.
    drop(held.pop());
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (st, _, _) = read_response(&mut third);
    assert_eq!(st, 200);
    drop(held);
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
}

#[test]
fn a_connection_that_sends_no_whole_header_is_closed_after_the_header_read_timeout() {
    let e = Env::new();
    let s = Server::start(
        &e,
        &[
            ("SECRETSTORE_MAX_CONNECTIONS", "1"),
            ("SECRETSTORE_HEADER_READ_TIMEOUT", "1s"),
        ],
    );
    // A slowloris: half a request line, then nothing.
    let mut slow = TcpStream::connect(&s.addr).unwrap();
    slow.write_all(b"GET /healthz HT").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "the connection was still open after {took:?}"
    );
    // Its slot is free again: the only slot serves the next client.
    assert_eq!(healthz_within(&s.addr, Duration::from_secs(3)), Some(200));
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
}

#[test]
fn bad_wire_settings_are_refused_before_anything_is_written() {
    for (name, value, needle) in [
        (
            "SECRETSTORE_MAX_CONNECTIONS",
            "0",
            "SECRETSTORE_MAX_CONNECTIONS",
        ),
        (
            "SECRETSTORE_MAX_CONNECTIONS",
            "many",
            "SECRETSTORE_MAX_CONNECTIONS",
        ),
        (
            "SECRETSTORE_WORKER_THREADS",
            "0",
            "SECRETSTORE_WORKER_THREADS",
        ),
        (
            "SECRETSTORE_WORKER_THREADS",
            "-3",
            "SECRETSTORE_WORKER_THREADS",
        ),
        (
            "SECRETSTORE_REQUEST_TIMEOUT",
            "0",
            "SECRETSTORE_REQUEST_TIMEOUT",
        ),
        (
            "SECRETSTORE_REQUEST_TIMEOUT",
            "2h",
            "SECRETSTORE_REQUEST_TIMEOUT",
        ),
        (
            "SECRETSTORE_HEADER_READ_TIMEOUT",
            "soon",
            "SECRETSTORE_HEADER_READ_TIMEOUT",
        ),
    ] {
        let e = Env::bare();
        let mut c = e.command(&["serve"]);
        c.env(name, value).env("SECRETSTORE_LISTEN", "127.0.0.1:0");
        let r = crate::common::run_with(&mut c, b"");
        r.fails(1, needle);
        assert!(
            r.stderr.starts_with("error: "),
            "{name}={value}: {}",
            r.stderr
        );
        assert!(
            !e.path(".env").exists() && !e.path("secretstore.db").exists(),
            "{name}={value}: something was written"
        );
    }
}

#[test]
fn json_logs_are_one_object_per_line_with_the_fields_of_the_text_format_and_no_secret() {
    let e = Env::new();
    let s = Server::start(&e, &[("SECRETSTORE_LOG_FORMAT", "json")]);
    let root = s.root_token();
    s.call("PUT", "/api/v1/orgs/acme", Some(&root), None);
    let (st, _, text) = put(&s, &root, "json-log-canary-value");
    assert!(st == 200 || st == 201, "{st} {text}");
    let (st, _, _) = s.call("GET", "/api/v1/secrets/NOPE?scope=acme", Some(&root), None);
    assert_eq!(st, 404);
    let (code, stderr) = s.terminate();
    assert_eq!(code, 0);
    assert!(!stderr.contains("json-log-canary-value") && !stderr.contains(&root));
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let requests: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(requests.len() >= 3, "{stderr}");
    let put_line = requests
        .iter()
        .find(|l| l["method"] == "PUT" && l["route"] == "/api/v1/secrets/{name}")
        .unwrap_or_else(|| panic!("no line for the PUT: {stderr}"));
    assert!(put_line["status"].is_number(), "{put_line}");
    assert!(put_line["request_id"].is_string(), "{put_line}");
    assert!(put_line["latency_ms"].is_string() || put_line["latency_ms"].is_number());
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );
}
