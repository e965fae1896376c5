//! The web UI under `/ui/`: server-rendered HTML (askama templates compiled into the
//! binary), a stylesheet served by the binary itself, and no script at all.
//!
//! It signs in with an API token and then works with a session cookie; every operation
//! goes through the same [`Service`](secretstore_core::Service) calls as the API, so the
//! permissions are the API's. The page URLs, form names and `data-` attributes are a
//! contract that the browser tests rely on:
//!
//! | route | what |
//! |---|---|
//! | `GET /ui/login`, `POST /ui/login`, `POST /ui/logout` | sign in with an API token, sign out |
//! | `GET /ui/` | the organizations, teams, workspaces and projects the account may see |
//! | `POST /ui/scopes` | a new organization, team, workspace or project (`parent`, `name`) |
//! | `GET /ui/scopes/{path}` | the scope's secrets (`data-secret`), the inherited ones, the effective view, `?sort=age`: oldest first; a project's tasks (`data-task`) and recent briefs, for whoever may dispatch there |
//! | `POST /ui/scopes/{path}/secrets` | a new secret (`data-form="new-secret"`: `name`, `category`, `value`) |
//! | `GET /ui/scopes/{path}/secrets/{NAME}` | metadata (a generator: `data-generator`, its admin ref's name, grants, TTL and leases, in place of the value), the current version's age, who was handed it (`data-access`, `?since=`, paged by `?cursor=`), history (`data-version`), rotate, reveal, rollback |
//! | `POST …/secrets/{NAME}/rotate`, `/reveal`, `/rollback` | a new version, the value (audited), an old value again |
//! | `GET`, `POST …/secrets/{NAME}/delete` | the confirmation step, then the deletion |
//! | `GET /ui/briefs` | recent dispatches, running or completed (`data-brief`, linked to their pages), with the stale secrets of running ones |
//! | `GET /ui/briefs/{id}` | a brief: project, task, status, delivery, callback, revocation, the secrets handed out (`data-handed`: scope, version, `data-stale` while running), never a value |
//! | `POST /ui/briefs/{id}/revoke` | revokes it (`data-form="revoke-brief"`, for whoever may dispatch in its project), then back to its page |
//! | `GET /ui/leases[?open=1]` | the per-task credentials minted in the projects where the account may dispatch (`data-lease`, `data-state`), never a credential |
//! | `POST /ui/leases/{id}/revoke` | revokes one (`data-form="revoke-lease"`), then back to the leases page |
//! | `GET /ui/tasks/{id}` | a task: its project, what each ref resolves to now (`data-ref`: scope, version, category; no value), its briefs |
//! | `GET /ui/audit` | the audit log (root and organization admins) |
//! | `GET /ui/search?q=` | the secrets, scopes, tasks and briefs whose names match (`data-hit`), linked |
//! | `GET /ui/sessions`, `POST /ui/sessions/{id}/end` | live sign-in sessions (root: all; others: their own), and ending one (`data-session`) |
//! | `GET /ui/accounts` | root only (others: the 404 page): every account (`data-account-row`), its roles (`data-grant`), tokens (`data-token`, ids only) and live sessions |
//! | `POST /ui/accounts` | a new account (`data-form="new-account"`: `name`, `kind`) |
//! | `POST /ui/accounts/{name}/grants`, `…/grants/revoke` | grant or revoke a role (`role`, `scope`: as `secretstore grant NAME ROLE [SCOPE]`) |
//! | `POST /ui/accounts/{name}/tokens` | a new API token, shown once in the page that answers (`data-token-once`) |
//! | `POST /ui/accounts/{name}/tokens/{id}/revoke`, `…/sessions/end` | revoke a token; end every session of the account |
//!
//! Security: every response carries a strict Content-Security-Policy (no inline script or
//! style), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`, `nosniff` and
//! `Cache-Control: no-store`. Every POST form carries the session's CSRF token, checked in
//! constant time before anything else (see [`session`]); the GET forms (search, filters)
//! change nothing and carry no token, so no URL holds it. Values travel only in POST
//! bodies and in the page that a reveal answers; never in a URL, a redirect or a log.

mod pages;
pub mod session;
mod target;
mod views;

use crate::AppState;
use crate::error::{ErrorSummary, status_and_code};
use crate::wording::{self, Reader};
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secretstore_core::Error;
use std::sync::Arc;

pub use session::{CSRF_FIELD, SESSION_COOKIE, SESSION_TTL_SECS};

/// The Content-Security-Policy of every UI response: only the binary's own stylesheet
/// and icon; no script, no inline style, no framing, forms post only to this origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const APP_CSS: &str = include_str!("../../assets/app.css");
const FAVICON: &str = include_str!("../../assets/favicon.svg");

/// The UI's routes, with full paths, to be merged into the app.
pub fn router() -> Router<AppState> {
    // Every route answers other methods with the UI's own 405 page (and its headers).
    use views::{accounts, activity, auth, objects, scopes, search, secrets};
    let m405 = views::method_not_allowed;
    Router::new()
        .route("/ui", get(|| async { see_other("/ui/") }).fallback(m405))
        .route("/ui/", get(scopes::home).fallback(m405))
        .route(
            "/ui/login",
            get(auth::login_form).post(auth::login).fallback(m405),
        )
        .route("/ui/logout", post(auth::logout).fallback(m405))
        .route(
            "/ui/scopes",
            get(|| async { see_other("/ui/") })
                .post(scopes::create_scope)
                .fallback(m405),
        )
        .route(
            "/ui/scopes/{*rest}",
            get(scopes::scope_get)
                .post(secrets::scope_post)
                .fallback(m405),
        )
        .route("/ui/briefs", get(activity::briefs).fallback(m405))
        .route("/ui/briefs/{id}", get(objects::brief).fallback(m405))
        .route(
            "/ui/briefs/{id}/revoke",
            post(objects::revoke_brief).fallback(m405),
        )
        .route("/ui/leases", get(activity::leases).fallback(m405))
        .route(
            "/ui/leases/{id}/revoke",
            post(activity::revoke_lease).fallback(m405),
        )
        .route("/ui/tasks/{id}", get(objects::task).fallback(m405))
        .route("/ui/audit", get(activity::audit).fallback(m405))
        .route("/ui/search", get(search::search).fallback(m405))
        .route("/ui/sessions", get(activity::sessions).fallback(m405))
        .route(
            "/ui/sessions/{id}/end",
            post(activity::end_session).fallback(m405),
        )
        .route(
            "/ui/accounts",
            get(accounts::page)
                .post(accounts::create_account)
                .fallback(m405),
        )
        .route(
            "/ui/accounts/{*rest}",
            get(views::not_found)
                .post(accounts::account_post)
                .fallback(m405),
        )
        .route("/ui/assets/app.css", get(css).fallback(m405))
        .route("/ui/assets/favicon.svg", get(favicon).fallback(m405))
        .route("/ui/{*rest}", axum::routing::any(views::not_found))
        .layer(axum::middleware::map_response(security_headers))
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], FAVICON).into_response()
}

/// The headers of every UI response, pages, redirects, errors and assets alike.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// A 303 to `location`: after a POST the browser follows with a GET, so a reload never
/// posts again. Locations are built from validated scope paths and names only.
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// An HTML answer.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// What a failed operation shows: the status and a message that never holds a value
/// (service errors never do), worded for a person (no command-line flag). "Not found" is
/// one fixed text, so a hidden scope and a missing one give the same page. The status is
/// the API's for the same error.
pub(crate) fn error_parts(e: &Error) -> (StatusCode, String) {
    let (status, message, _) = shown(e);
    (status, message)
}

/// What the log keeps of a failed operation's page: see [`crate::error::ErrorSummary`].
pub(crate) fn error_summary(e: &Error) -> ErrorSummary {
    let (status, message, detail) = shown(e);
    let (_, code) = status_and_code(e);
    ErrorSummary {
        status,
        code,
        message: Arc::from(detail.unwrap_or(message)),
    }
}

/// The status, the message shown and, for an internal error, the detail kept for the log.
fn shown(e: &Error) -> (StatusCode, String, Option<String>) {
    let (status, _) = status_and_code(e);
    let internal = || {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error".to_owned(),
            Some(e.to_string()),
        )
    };
    let message = match e {
        Error::Invalid(m)
        | Error::AlreadyExists(m)
        | Error::Conflict(m)
        | Error::Forbidden(m)
        | Error::Gone { message: m, .. }
        | Error::Crypto(m) => m.clone(),
        Error::CategoryRequired { .. } | Error::TooManyRefs { .. } | Error::Backend(_) => {
            e.to_string()
        }
        Error::ParentMissing { level, parent } => {
            wording::parent_missing(level, parent, Reader::Ui)
        }
        Error::NotFound(_) => NOT_FOUND_TEXT.into(),
        Error::Unauthorized(_) => "sign in again".into(),
        Error::Config { message, .. } | Error::NotConfigured { message, .. } => {
            wording::not_configured(message)
        }
        Error::DatabaseUnavailable(_) => {
            return (
                status,
                wording::DATABASE_UNAVAILABLE.into(),
                Some(e.to_string()),
            );
        }
        // No page dispatches: a dispatch's error here would be a bug.
        Error::Dispatch(_) | Error::Storage(_) | Error::BriefStore(_) => return internal(),
    };
    (status, message, None)
}

/// The one text of every 404 page.
pub(crate) const NOT_FOUND_TEXT: &str =
    "There is nothing at this address, or your account may not see it.";
