//! The probes a load balancer watches: `/readyz` fails while the database is down and
//! recovers when it is back (no restart), requests meanwhile are answered 503
//! `database_unavailable` within seconds (never a hung request, never a 500), and
//! `/healthz` stays a liveness check that does not touch the database.

use crate::common::Env;
use crate::common::server::{Server, http};
use secretstore_testkit::pg::PrivatePostgres;
use std::time::{Duration, Instant};

/// The first answer of `/readyz` with status `want` within `limit`, or a failure naming
/// the last one.
fn readyz_becomes(s: &Server, want: u16, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let (st, body, text) = http(&s.addr, "GET", "/readyz", None, None);
        if st == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz did not answer {want} within {limit:?}: {st} {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn postgres_stopped_under_load_answers_503_database_unavailable_and_recovers_without_a_restart() {
    let pg = PrivatePostgres::start();
    let mut e = Env::bare();
    e.vars.retain(|(k, _)| k != "DATABASE_URL");
    e.vars.push(("DATABASE_URL".into(), pg.url()));
    e.run(&["init"]).ok();
    let s = Server::start(&e, &[("DATABASE_ACQUIRE_TIMEOUT", "2s")]);
    let root = s.root_token();
    let body = readyz_becomes(&s, 200, Duration::from_secs(5));
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    let (st, _, text) = s.call("PUT", "/api/v1/orgs/acme", Some(&root), None);
    assert!(st == 200 || st == 201, "{st} {text}");
    let put = |value: &str| {
        let body = format!(r#"{{"value": "{value}", "category": "provider"}}"#);
        s.call(
            "PUT",
            "/api/v1/secrets/API_KEY?scope=acme",
            Some(&root),
            Some(&body),
        )
    };
    let (st, _, text) = put("value-before-the-outage");
    assert!(st == 200 || st == 201, "{st} {text}");

    // Readers keep the server busy while the database goes away.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let answers = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut seen = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let started = Instant::now();
                        let (st, body, text) = s.call(
                            "GET",
                            "/api/v1/secrets/API_KEY?scope=acme",
                            Some(&root),
                            None,
                        );
                        seen.push((st, body["error"]["code"].clone(), started.elapsed(), text));
                    }
                    seen
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        pg.stop();
        let stopped = Instant::now();
        let body = readyz_becomes(&s, 503, Duration::from_secs(5));
        assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
        assert!(stopped.elapsed() < Duration::from_secs(5));
        // A write while it is down: answered within seconds, nothing written.
        let started = Instant::now();
        let (st, body, text) = put("value-during-the-outage");
        assert_eq!(st, 503, "{text}");
        assert_eq!(body["error"]["code"], "database_unavailable", "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
        // Liveness does not depend on the database.
        let (st, _, _) = http(&s.addr, "GET", "/healthz", None, None);
        assert_eq!(st, 200);
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        readers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect::<Vec<_>>()
    });
    // Every read was answered, within the acquire timeout and a margin, with its value
    // or 503 `database_unavailable`: never a 500, never a hung request.
    assert!(
        answers.iter().any(|(st, ..)| *st == 503),
        "no read saw the outage"
    );
    for (st, code, took, text) in &answers {
        assert!(
            *st == 200 || (*st == 503 && code == "database_unavailable"),
            "{st} {text}"
        );
        assert!(*took < Duration::from_secs(8), "{took:?} {text}");
        assert!(
            !text.contains("127.0.0.1"),
            "an address in the answer: {text}"
        );
    }

    // The database is back: readiness recovers, and so do reads and writes.
    pg.resume();
    readyz_becomes(&s, 200, Duration::from_secs(15));
    let (st, _, text) = put("value-after-the-outage");
    assert!(st == 200 || st == 201, "{st} {text}");
    let (st, body, text) = s.call(
        "GET",
        "/api/v1/secrets/API_KEY/versions?scope=acme",
        Some(&root),
        None,
    );
    assert_eq!(st, 200, "{text}");
    assert_eq!(
        body["versions"].as_array().map(Vec::len),
        Some(2),
        "the write during the outage left nothing: {text}"
    );
    let (code, err) = s.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("value-"), "a value in the log: {err}");
}

/// The value of the sample `series` (a metric's name with its labels, as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_count_requests_backend_calls_and_failed_logins_and_hold_no_name_value_or_token() {
    let e = Env::new().with_tree();
    e.set(
        "OPENAI_API_KEY",
        "acme/platform",
        "provider",
        "sk-metrics-value-1",
    )
    .ok();
    let s = Server::start(&e, &[]);
    let root = s.root_token();
    let (st, _, text) = s.call(
        "GET",
        "/api/v1/secrets/OPENAI_API_KEY/value?scope=acme/platform",
        Some(&root),
        None,
    );
    assert_eq!(st, 200, "{text}");
    let (st, task, text) = s.call(
        "POST",
        "/api/v1/tasks",
        Some(&root),
        Some(r#"{"project": "acme/platform/dev/agent-x", "secret_refs": ["OPENAI_API_KEY"]}"#),
    );
    assert_eq!(st, 201, "{text}");
    let dispatch = format!("/api/v1/tasks/{}/dispatch", task["id"].as_str().unwrap());
    let (st, _, text) = s.call("POST", &dispatch, Some(&root), Some("{}"));
    assert_eq!(st, 200, "{text}");
    let (st, _, _) = s.call("GET", "/api/v1/whoami", Some("sst_not-a-real-token"), None);
    assert_eq!(st, 401);

    let (st, _, m) = s.call("GET", "/metrics", None, None);
    assert_eq!(st, 200, "{m}");
    let count = |series: &str| sample(&m, series).unwrap_or_else(|| panic!("no {series} in\n{m}"));
    assert_eq!(
        count(
            r#"secretstore_http_requests_total{method="GET",route="/api/v1/secrets/{name}/value",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        count(
            r#"secretstore_http_request_duration_seconds_count{method="POST",route="/api/v1/tasks/{id}/dispatch"}"#
        ),
        1.0
    );
    // One fetch for the reveal, one for the dispatch, on the local backend.
    assert_eq!(
        count(r#"secretstore_backend_calls_total{backend="local",operation="fetch"}"#),
        2.0
    );
    assert_eq!(
        count(r#"secretstore_auth_failures_total{credential="api_token"}"#),
        1.0
    );
    assert!(count(r#"secretstore_db_pool_connections{state="max"}"#) >= 1.0);
    assert!(count(r#"secretstore_db_pool_connections{state="idle"}"#) >= 0.0);
    for secret in [
        "sk-metrics-value-1",
        "OPENAI_API_KEY",
        "acme",
        &root,
        "not-a-real-token",
    ] {
        assert!(!m.contains(secret), "{secret} in the metrics:\n{m}");
    }
    drop(s);

    // Only the addresses allowed may read them.
    let s = Server::start(&e, &[("SECRETSTORE_METRICS_ALLOW", "10.0.0.0/8")]);
    let (st, body, text) = s.call("GET", "/metrics", None, None);
    assert_eq!(st, 403, "{text}");
    assert_eq!(body["error"]["code"], "forbidden", "{text}");
    drop(s);
    e.command(&["serve"])
        .env("SECRETSTORE_METRICS_ALLOW", "10.0.0.0/33")
        .env(
            "SECRETSTORE_LISTEN",
            format!("127.0.0.1:{}", secretstore_testkit::free_port()),
        )
        .output()
        .map(|o| {
            assert_eq!(o.status.code(), Some(1), "{o:?}");
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("error: SECRETSTORE_METRICS_ALLOW: entry 1"),
                "{err}"
            );
        })
        .unwrap();
}
