//! `GET /metrics`: the server's metrics in the Prometheus text format
//! (`prometheus-client`, the Prometheus project's own client), for the addresses of
//! `SECRETSTORE_METRICS_ALLOW` only (default: loopback).
//!
//! Labels have bounded values, taken from fixed lists: the route template (never the raw
//! path: a name or scope in it may be a value pasted in the wrong place), the method, the
//! status, the backend's kind, the operation. No metric holds a secret's name, a scope, a
//! value, a token or an address.

use crate::AppState;
use crate::auth::{self, Networks};
use crate::error::{ApiError, ErrorBody};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use secretstore_core::{
    BackendError, BackendKind, BoxFuture, Fetch, Fetched, ScopePath, SecretName, SecretValue,
    StoredMaterial, ValueBackend, Written,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latency buckets in seconds: 250 µs to 30 s (the request timeout).
const BUCKETS: [f64; 16] = [
    0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Arc<str>,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: &'static str,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendErrorLabels {
    backend: &'static str,
    operation: &'static str,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabels {
    credential: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Every metric of the server, registered once.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    backend_calls: Family<BackendLabels, Counter>,
    backend_errors: Family<BackendErrorLabels, Counter>,
    backend_latency: Family<BackendLabels, Histogram>,
    pool: Family<PoolLabels, Gauge>,
    auth_failures: Family<CredentialLabels, Counter>,
    leaks: Family<LeakLabels, Counter>,
    due: Family<DueLabels, Gauge>,
    due_counted: std::sync::Mutex<Option<Instant>>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeakLabels {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DueLabels {
    reason: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("secretstore");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(histogram as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template (reads: GET /api/v1/secrets/{name}/value; dispatches: POST /api/v1/tasks/{id}/dispatch)",
            latency.clone(),
        );
        let backend_calls = Family::<BackendLabels, Counter>::default();
        registry.register(
            "backend_calls",
            "Calls to a value backend, by backend and operation",
            backend_calls.clone(),
        );
        let backend_errors = Family::<BackendErrorLabels, Counter>::default();
        registry.register(
            "backend_errors",
            "Failed calls to a value backend (one per failed item of a batch), by backend, operation and kind (not_found, refused, unavailable)",
            backend_errors.clone(),
        );
        let backend_latency =
            Family::<BackendLabels, Histogram>::new_with_constructor(histogram as fn() -> _);
        registry.register(
            "backend_call_duration_seconds",
            "Time of a call to a value backend, by backend and operation",
            backend_latency.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections of this server's pool: in_use, idle, max",
            pool.clone(),
        );
        let auth_failures = Family::<CredentialLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Failed authentications, by the credential tried (api_token, session_sign_in, callback_token)",
            auth_failures.clone(),
        );
        let leaks = Family::<LeakLabels, Counter>::default();
        registry.register(
            "leaks_found",
            "Secret versions found in text that was scanned, by where the text came from (callback: an agent's output; brief_scan: a brief's transcript or artifact; scan: POST /api/v1/scan, which marks nothing)",
            leaks.clone(),
        );
        let due = Family::<DueLabels, Gauge>::default();
        registry.register(
            "secrets_due",
            "Secrets whose rotation is due, by reason (age: past their maximum age; leaked: marked leaked), as of the last count (at most a minute old)",
            due.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The server's version", build);
        Metrics {
            registry,
            requests,
            latency,
            backend_calls,
            backend_errors,
            backend_latency,
            pool,
            auth_failures,
            leaks,
            due,
            due_counted: std::sync::Mutex::new(None),
        }
    }

    /// Counts the secret versions of one scan's findings (each once).
    pub(crate) fn leaks(&self, source: &'static str, findings: &[secretstore_core::LeakFinding]) {
        let distinct: std::collections::BTreeSet<(String, &str, i64)> = findings
            .iter()
            .map(|f| (f.scope.to_string(), f.name.as_str(), f.version))
            .collect();
        if !distinct.is_empty() {
            self.leaks
                .get_or_create(&LeakLabels { source })
                .inc_by(distinct.len() as u64);
        }
    }

    /// Sets the gauges of the secrets due.
    pub(crate) fn set_due(&self, age: usize, leaked: usize) {
        for (reason, n) in [("age", age), ("leaked", leaked)] {
            self.due
                .get_or_create(&DueLabels { reason })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Counts one answered request.
    pub(crate) fn request(&self, method: &Method, route: &Arc<str>, status: u16, took: Duration) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: Arc::clone(route),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: Arc::clone(route),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts one failed authentication.
    pub(crate) fn auth_failure(&self, credential: &'static str) {
        self.auth_failures
            .get_or_create(&CredentialLabels { credential })
            .inc();
    }

    fn backend_call(
        &self,
        backend: BackendKind,
        operation: &'static str,
        took: Duration,
        errors: impl IntoIterator<Item = &'static str>,
    ) {
        let labels = BackendLabels {
            backend: backend.as_str(),
            operation,
        };
        self.backend_calls.get_or_create(&labels).inc();
        self.backend_latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        for kind in errors {
            self.backend_errors
                .get_or_create(&BackendErrorLabels {
                    backend: labels.backend,
                    operation,
                    kind,
                })
                .inc();
        }
    }

    /// The text exposition, with the pool's gauges read now.
    pub fn render(&self, pool: (u32, u32, u32)) -> String {
        let (in_use, idle, max) = pool;
        for (state, n) in [("in_use", in_use), ("idle", idle), ("max", max)] {
            self.pool
                .get_or_create(&PoolLabels { state })
                .set(i64::from(n));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// `backend` with each call counted and timed here.
    pub fn metered(self: &Arc<Self>, backend: Arc<dyn ValueBackend>) -> Arc<dyn ValueBackend> {
        Arc::new(Metered {
            inner: backend,
            metrics: Arc::clone(self),
        })
    }
}

/// The method as a label: one of the methods the API serves, else `other` (an unknown
/// method must not make a new series).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn error_kind(e: &BackendError) -> &'static str {
    match e {
        BackendError::NotFound(_) => "not_found",
        BackendError::Refused(_) => "refused",
        BackendError::Unavailable(_) => "unavailable",
    }
}

/// A value backend whose calls are counted and timed.
struct Metered {
    inner: Arc<dyn ValueBackend>,
    metrics: Arc<Metrics>,
}

impl Metered {
    /// Runs one single-result call of `operation`, counting its failure by kind.
    fn single<'a, T: Send + 'a>(
        &'a self,
        operation: &'static str,
        call: BoxFuture<'a, Result<T, BackendError>>,
    ) -> BoxFuture<'a, Result<T, BackendError>> {
        Box::pin(async move {
            let started = Instant::now();
            let out = call.await;
            let errors = out.as_ref().err().map(error_kind);
            self.metrics
                .backend_call(self.inner.kind(), operation, started.elapsed(), errors);
            out
        })
    }
}

impl ValueBackend for Metered {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }

    fn write<'a>(
        &'a self,
        scope: &'a ScopePath,
        name: &'a SecretName,
        value: &'a SecretValue,
        previous: Option<&'a StoredMaterial>,
    ) -> BoxFuture<'a, Result<Written, BackendError>> {
        self.single("write", self.inner.write(scope, name, value, previous))
    }

    fn fetch<'a>(
        &'a self,
        items: &'a [&'a StoredMaterial],
        which: Fetch,
    ) -> BoxFuture<'a, Vec<Result<Fetched, BackendError>>> {
        Box::pin(async move {
            let started = Instant::now();
            let out = self.inner.fetch(items, which).await;
            let errors = out.iter().filter_map(|r| r.as_ref().err().map(error_kind));
            self.metrics
                .backend_call(self.inner.kind(), "fetch", started.elapsed(), errors);
            out
        })
    }

    fn link<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, secretstore_core::Result<StoredMaterial>> {
        Box::pin(async move {
            let started = Instant::now();
            let out = self.inner.link(reference).await;
            let errors = match &out {
                Err(secretstore_core::Error::Backend(e)) => Some(error_kind(e)),
                _ => None,
            };
            self.metrics
                .backend_call(self.inner.kind(), "link", started.elapsed(), errors);
            out
        })
    }

    fn restore<'a>(
        &'a self,
        scope: &'a ScopePath,
        name: &'a SecretName,
        target: &'a StoredMaterial,
    ) -> BoxFuture<'a, Result<Written, BackendError>> {
        self.single("restore", self.inner.restore(scope, name, target))
    }

    fn undo<'a>(&'a self, written: &'a Written) -> BoxFuture<'a, Result<(), BackendError>> {
        self.single("undo", self.inner.undo(written))
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, BackendError>> {
        self.single("check", self.inner.check())
    }

    fn link_forms(&self, reference: &str) -> secretstore_core::Result<Vec<String>> {
        self.inner.link_forms(reference)
    }

    fn reference_of(&self, material: &StoredMaterial) -> Option<String> {
        self.inner.reference_of(material)
    }

    fn owner_scope(&self, reference: &str) -> Option<ScopePath> {
        self.inner.owner_scope(reference)
    }
}

/// The default of `SECRETSTORE_METRICS_ALLOW`: loopback only.
pub const DEFAULT_METRICS_ALLOW: &str = "127.0.0.1/8, ::1";

/// The metrics, in the Prometheus text format (version 0.0.4), for the addresses of
/// `SECRETSTORE_METRICS_ALLOW` (default: loopback only; the client address is decided as
/// everywhere, through `SECRETSTORE_TRUSTED_PROXIES`). No authentication: a scraper
/// holds no token. Nothing in it names a secret, a scope, a value, a token or an address.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses(
        (status = 200, description = "The metrics (text/plain; version=0.0.4)", body = String,
            content_type = "text/plain"),
        (status = 403, description = "The client's address is not in `SECRETSTORE_METRICS_ALLOW`",
            body = ErrorBody),
    ))]
pub async fn metrics(State(st): State<AppState>, parts: Parts) -> Response {
    if !allowed(&parts, &st.proxies, &st.metrics_allow) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this address may not read the metrics (SECRETSTORE_METRICS_ALLOW)",
        )
        .into_response();
    }
    refresh_due(&st).await;
    let text = st.metrics.render(st.svc.store.pool_state());
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// How often the secrets due are counted again for `/metrics` (a count reads every
/// secret's metadata).
const DUE_REFRESH: Duration = Duration::from_secs(60);

/// Counts the secrets due (as root sees them) if the last count is older than
/// [`DUE_REFRESH`]; a failure keeps the last count.
async fn refresh_due(st: &AppState) {
    let stale = {
        let last = st
            .metrics
            .due_counted
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        last.is_none_or(|at| at.elapsed() >= DUE_REFRESH)
    };
    if !stale {
        return;
    }
    let root = secretstore_core::Principal {
        account: "secretstore:metrics".to_owned(),
        roles: vec![secretstore_core::Role::Root],
        source: "metrics".to_owned(),
    };
    if let Ok(due) = st.svc.due_secrets(&root, None).await {
        let age = due.iter().filter(|d| d.reasons.contains(&"age")).count();
        let leaked = due.iter().filter(|d| d.reasons.contains(&"leaked")).count();
        st.metrics.set_due(age, leaked);
        *st.metrics
            .due_counted
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
}

fn allowed(parts: &Parts, proxies: &Networks, allow: &Networks) -> bool {
    auth::client(parts, proxies)
        .ip
        .is_some_and(|ip| allow.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_only_loopback_may_read_the_metrics() {
        let allow = Networks::parse(DEFAULT_METRICS_ALLOW).unwrap();
        for ip in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(allow.contains(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["10.0.0.1", "192.168.1.1", "::2", "0.0.0.0"] {
            assert!(!allow.contains(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn an_unknown_method_does_not_make_a_series_of_its_own() {
        let m = Metrics::new();
        let route: Arc<str> = Arc::from("unmatched");
        for method in ["BREW", "WHEN", "GET"] {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            m.request(&method, &route, 405, Duration::from_millis(1));
        }
        let text = m.render((0, 1, 4));
        assert!(text.contains(r#"secretstore_http_requests_total{method="other",route="unmatched",status="405"} 2"#), "{text}");
        assert!(!text.contains("BREW"), "{text}");
        assert!(
            text.contains(r#"secretstore_db_pool_connections{state="max"} 4"#),
            "{text}"
        );
    }
}
