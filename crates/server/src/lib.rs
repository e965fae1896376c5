//! The secretstore HTTP API: `fn app(state) -> Router`, so tests call it without a socket.
//!
//! Every route but `/healthz`, the OpenAPI document and the callback authenticates with
//! `Authorization: Bearer <api token>`; what the caller may do is decided by the service
//! (`secretstore_core::authz`) inside every operation.
//!
//! ```no_run
//! # async fn demo(state: secretstore_server::AppState) {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, secretstore_server::app(state)).await.unwrap();
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod auth;
pub mod dto;
pub mod error;
pub mod limit;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod ui;
mod wording;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use error::{ApiError, ErrorSummary};
use routes::{
    accounts, audit, boot, briefs, health, leaks, leases, scopes, search, secrets, sessions, tasks,
};
use secretstore_core::Service;
use secretstore_store::SqlStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The database the server runs on.
pub type Db = SqlStore;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The largest body of a route that takes text to scan (a callback's `output`, a scan's
/// `text`): the text itself is at most 1 MiB, but JSON may escape each of its bytes in up
/// to six (`\u0000`).
pub const SCAN_BODY_LIMIT: usize = 7 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The secretstore service every operation goes through.
    pub svc: Arc<Service<Db>>,
    /// Failed authentications per client (brute-force protection).
    pub limiter: Arc<limit::Limiter>,
    /// Whose `X-Forwarded-For` is believed (`SECRETSTORE_TRUSTED_PROXIES`).
    pub proxies: Arc<auth::Networks>,
    /// How long one request may take before it is answered 503 `timeout`
    /// (`SECRETSTORE_REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
    /// Every metric of `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Who may read `/metrics` (`SECRETSTORE_METRICS_ALLOW`).
    pub metrics_allow: Arc<auth::Networks>,
    /// One permit per route running, answered or not (a route outlives a client that
    /// hung up, or its 503 `timeout`): past it, new requests are answered 503
    /// `overloaded` at once.
    pub in_flight: Arc<tokio::sync::Semaphore>,
}

/// How many routes may run at once, unless told otherwise (twice the default connection
/// limit: the routes of every connection, and as many again that outlived their answer).
pub const MAX_IN_FLIGHT: usize = 8192;

/// How long one request may take, unless told otherwise.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl AppState {
    /// The state over `svc`, with the default limits; every backend call of `svc` is
    /// counted in the metrics.
    pub fn new(mut svc: Service<Db>) -> AppState {
        let metrics = Arc::new(metrics::Metrics::new());
        svc.backends = svc.backends.map_each(|b| metrics.metered(b));
        AppState {
            svc: Arc::new(svc),
            limiter: Arc::new(limit::Limiter::default()),
            proxies: Arc::new(auth::Networks::default()),
            request_timeout: REQUEST_TIMEOUT,
            metrics,
            metrics_allow: Arc::new(default_metrics_allow()),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// At most `n` routes run at once (at least one).
    pub fn with_in_flight_limit(mut self, n: usize) -> AppState {
        self.in_flight = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
        self
    }

    /// Lets these addresses and networks read `/metrics` (instead of loopback only).
    pub fn with_metrics_allow(mut self, allow: auth::Networks) -> AppState {
        self.metrics_allow = Arc::new(allow);
        self
    }

    /// Answers a request that takes longer than `limit` with 503 `timeout`.
    pub fn with_request_timeout(mut self, limit: Duration) -> AppState {
        self.request_timeout = limit;
        self
    }

    /// Believes `X-Forwarded-For` from these proxies.
    pub fn with_trusted_proxies(mut self, proxies: auth::Networks) -> AppState {
        self.proxies = Arc::new(proxies);
        self
    }

    /// With other brute-force limits.
    pub fn with_limits(mut self, limits: limit::Limits) -> AppState {
        self.limiter = Arc::new(limit::Limiter::new(limits));
        self
    }
}

fn default_metrics_allow() -> auth::Networks {
    // The constant parses (a unit test says so); never a panic in the server.
    auth::Networks::parse(metrics::DEFAULT_METRICS_ALLOW).unwrap_or_default()
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/orgs/{org}", put(scopes::put_org))
        .route(
            "/orgs/{org}/link-prefixes",
            get(scopes::get_link_prefixes).put(scopes::put_link_prefixes),
        )
        .route(
            "/orgs/{org}/policy",
            get(scopes::get_policy).put(scopes::put_policy),
        )
        .route("/teams/{org}/{team}", put(scopes::put_team))
        .route(
            "/workspaces/{org}/{team}/{workspace}",
            put(scopes::put_workspace),
        )
        .route(
            "/projects/{org}/{team}/{workspace}/{project}",
            put(scopes::put_project),
        )
        .route("/scopes", get(scopes::list))
        .route("/secrets", get(secrets::list))
        .route(
            "/secrets/{name}",
            put(secrets::put).get(secrets::get).delete(secrets::delete),
        )
        .route("/secrets/{name}/value", get(secrets::value))
        .route("/secrets/{name}/versions", get(secrets::versions))
        .route("/secrets/{name}/access", get(audit::access))
        .route("/secrets/{name}/rollback", post(secrets::rollback))
        .route("/secrets/{name}/link", post(secrets::link))
        .route("/secrets/{name}/generator", put(secrets::put_generator))
        .route("/tasks", post(tasks::create))
        .route("/tasks/{id}", get(tasks::get))
        .route("/tasks/{id}/dispatch", post(tasks::dispatch))
        .route("/briefs/{id}", get(briefs::get))
        .route(
            "/briefs/{id}/callback",
            post(briefs::callback).layer(DefaultBodyLimit::max(SCAN_BODY_LIMIT)),
        )
        .route(
            "/briefs/{id}/scan",
            post(leaks::scan_brief).layer(DefaultBodyLimit::max(SCAN_BODY_LIMIT)),
        )
        .route(
            "/scan",
            post(leaks::scan).layer(DefaultBodyLimit::max(SCAN_BODY_LIMIT)),
        )
        .route("/due", get(leaks::due))
        .route("/briefs/{id}/revoke", post(briefs::revoke))
        .route("/briefs/{id}/leases/revoke", post(leases::revoke_brief))
        .route("/leases", get(leases::list))
        .route("/leases/{id}", get(leases::get).delete(leases::revoke))
        .route("/boot", post(boot::boot))
        .route("/audit", get(audit::list))
        .route("/search", get(search::search))
        .route("/whoami", get(accounts::whoami))
        .route("/accounts", post(accounts::create).get(accounts::list))
        .route("/accounts/{name}", get(accounts::get))
        .route(
            "/accounts/{name}/grants",
            post(accounts::grant).delete(accounts::revoke_grant),
        )
        .route(
            "/accounts/{name}/tokens",
            post(accounts::create_token).get(accounts::list_tokens),
        )
        .route(
            "/tokens/{id}",
            axum::routing::delete(accounts::revoke_token),
        )
        .route("/sessions", get(sessions::list))
        .route("/sessions/{id}", axum::routing::delete(sessions::end))
        .route("/openapi.json", get(openapi::document));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/v1", api)
        .merge(ui::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            bound_request_time,
        ))
        .route_layer(middleware::from_fn(note_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            log_requests,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// Runs the route to completion in a task of its own, and answers 503 `timeout` when it
/// takes longer than the request timeout: a stalled database or backend holds up one
/// request for a bounded time, never a client forever.
///
/// The route is never cancelled halfway, neither by the timeout nor by a client that
/// hangs up: a write to AWS or Vault whose version is not yet recorded, a dispatch between
/// its record and its answer, would otherwise be cut between two steps that must go
/// together. A route that outlives its answer finishes (or fails, changing nothing) on its
/// own; the 503 says so.
async fn bound_request_time(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Ok(permit) = Arc::clone(&st.in_flight).try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests are running on this server; try again shortly",
        )
        .into_response();
    };
    let route = tokio::spawn(async move {
        let res = next.run(req).await;
        drop(permit);
        res
    });
    match tokio::time::timeout(st.request_timeout, route).await {
        Ok(Ok(res)) => res,
        Ok(Err(e)) => ApiError::from(secretstore_core::Error::storage(if e.is_panic() {
            "the route panicked"
        } else {
            "the route was cancelled"
        }))
        .into_response(),
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than {} s; it goes on in the background and either completes whole or changes nothing: read before you retry",
                st.request_timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

/// The route template a request matched, handed from [`note_route`] to [`log_requests`].
#[derive(Clone)]
struct RouteTemplate(Arc<str>);

/// Notes the matched route's template (`/api/v1/secrets/{name}`) on the response.
async fn note_route(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if let Some(m) = matched {
        res.extensions_mut()
            .insert(RouteTemplate(Arc::from(m.as_str())));
    }
    res
}

/// One log line per request: request id, method, the route template (never the raw path:
/// a name or scope in it may be a value pasted in the wrong place; `unmatched` when no route
/// matched), status and latency. Never headers (the Authorization header), never bodies.
///
/// The one place where error answers are logged, too: an answer that carries an
/// [`ErrorSummary`] (put there when an error became the response) gets a line of its own,
/// with the same request id and route (see [`log_error`]).
///
/// Each request is counted in the metrics here too (method, route template, status,
/// latency).
async fn log_requests(
    axum::extract::State(metrics): axum::extract::State<Arc<metrics::Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = secretstore_core::random::uuid_v4();
    let method = req.method().clone();
    let mut res = next.run(req).await;
    let route = res
        .extensions_mut()
        .remove::<RouteTemplate>()
        .map_or(Arc::from("unmatched"), |r| r.0);
    if let Some(err) = res.extensions_mut().remove::<ErrorSummary>() {
        log_error(&id, &route, &err);
    }
    let status = res.status();
    let took = started.elapsed();
    metrics.request(&method, &route, status.as_u16(), took);
    let latency_ms = took.as_secs_f64() * 1000.0;
    tracing::info!(
        target: "secretstore::http",
        request_id = %id,
        %method,
        route = %route,
        status = status.as_u16(),
        latency_ms = format_args!("{latency_ms:.2}"),
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    res.into_response()
}

/// One error answer in the log: an internal error (500) at `error` with its detail, any
/// other 5xx (a backend unavailable or not configured) at `warn` with its message, a 4xx at
/// `debug` with its code only (an invalid-input message may echo what was sent in the
/// wrong place, a value pasted as a name).
fn log_error(request_id: &str, route: &str, err: &ErrorSummary) {
    let status = err.status.as_u16();
    let code = err.code;
    if err.status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(
            target: "secretstore::http",
            request_id,
            route,
            status,
            code,
            error = %err.message,
            "internal error"
        );
    } else if err.status.is_server_error() {
        tracing::warn!(
            target: "secretstore::http",
            request_id,
            route,
            status,
            code,
            error = %err.message,
            "error answer"
        );
    } else {
        tracing::debug!(
            target: "secretstore::http",
            request_id,
            route,
            status,
            code,
            "error answer"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_logging_middleware_takes_the_error_summary_off_the_answer() {
        let app = Router::new()
            .route(
                "/boom/{x}",
                get(|| async { ApiError::from(secretstore_core::Error::Storage("x".into())) }),
            )
            .route_layer(middleware::from_fn(note_route))
            .layer(middleware::from_fn_with_state(
                Arc::new(metrics::Metrics::new()),
                log_requests,
            ));
        let req = Request::get("/boom/1").body(Body::empty()).unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(res.extensions().get::<ErrorSummary>().is_none());
        assert!(res.extensions().get::<RouteTemplate>().is_none());
        assert!(res.headers().contains_key("x-request-id"));
    }
}
