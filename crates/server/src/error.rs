//! Errors as HTTP answers: always `{"error": {"code", "message"}}` with the fitting status.
//! A 500 says only "internal error"; the detail goes to the log.
//!
//! Turning an error into a response has no side effect (axum's `examples/error-handling`):
//! the response carries an `ErrorSummary` in its extensions, and the request-logging
//! middleware (`log_requests` in the crate root) logs it once, with the route template.

use crate::wording::{self, Reader};
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secretstore_core::{BackendError, Error, RefFailure, RefFailureReason};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`) and for people (`message`).
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code: `invalid_request`, `invalid_json`, `unauthorized`,
    /// `forbidden`, `not_found`, `method_not_allowed`, `conflict`, `already_exists`,
    /// `payload_too_large`, `too_many_requests`, `too_many_refs`, `missing_secrets`,
    /// `backend_unavailable`, `timeout` (the request took longer than the server allows),
    /// `not_configured` (a backend the request needs is not configured on this server),
    /// `database_unavailable`, `brief_store_unavailable` (a dispatch's brief could not be
    /// stored: nothing was dispatched),
    /// `callback_replayed`, `internal`.
    pub code: String,
    /// For people; never a secret value.
    pub message: String,
    /// For a failed dispatch: each failing ref.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refs: Option<Vec<RefError>>,
}

/// One ref of a failed dispatch.
#[derive(Serialize, ToSchema)]
pub struct RefError {
    /// The secret name as the task's `secret_refs` wrote it.
    pub name: String,
    /// `missing`, `not_found`, `refused`, `unavailable`, `not_configured` (the secret's
    /// backend is not configured on this server), `unsafe_name` (a name refused as an
    /// unsafe environment name since the task was stored) or `collision` (a file-delivered
    /// `X` and an env-delivered `X_FILE` of the same task: both are named).
    pub reason: String,
    /// The scope whose secret's backend failed (`not_found`, `refused`, `unavailable`,
    /// `not_configured`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// What the log keeps of an error answer: put into the response's extensions when the
/// error becomes a response, logged once by the request-logging middleware. Cheap to
/// clone; never a secret value (the domain's messages never hold one).
#[derive(Clone, Debug)]
pub(crate) struct ErrorSummary {
    /// The answer's status.
    pub(crate) status: StatusCode,
    /// The answer's code (`internal`, `backend_unavailable`, …).
    pub(crate) code: &'static str,
    /// The message the client got or, for an internal error, the detail it did not get.
    pub(crate) message: Arc<str>,
}

impl ErrorSummary {
    /// Puts this summary on `res`, for the logging middleware.
    pub(crate) fn attach(self, res: &mut Response) {
        res.extensions_mut().insert(self);
    }
}

/// The status and code of a service error, the same for the API and the web UI.
pub(crate) fn status_and_code(e: &Error) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match e {
        Error::Invalid(_) | Error::CategoryRequired { .. } => (S::BAD_REQUEST, "invalid_request"),
        Error::TooManyRefs { .. } => (S::BAD_REQUEST, "too_many_refs"),
        Error::NotFound(_) | Error::ParentMissing { .. } => (S::NOT_FOUND, "not_found"),
        Error::AlreadyExists(_) => (S::CONFLICT, "already_exists"),
        Error::Conflict(_) => (S::CONFLICT, "conflict"),
        Error::Gone { code, .. } => (S::GONE, code),
        Error::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
        Error::Unauthorized(_) => (S::UNAUTHORIZED, "unauthorized"),
        Error::Backend(_) | Error::Crypto(_) => (S::BAD_GATEWAY, "backend_unavailable"),
        // A setting is missing or wrong on the server (a backend that is not configured):
        // no retry of the client's helps until the operator changes it.
        Error::Config { .. } | Error::NotConfigured { .. } => {
            (S::SERVICE_UNAVAILABLE, "not_configured")
        }
        Error::Dispatch(failures) => dispatch_status(failures),
        Error::Storage(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
        // A dependency is down, not a bug: a retry later may succeed.
        Error::BriefStore(_) => (S::SERVICE_UNAVAILABLE, "brief_store_unavailable"),
        // The database cannot be reached: a retry later may succeed (load balancers take
        // the server out of rotation through `/readyz`).
        Error::DatabaseUnavailable(_) => (S::SERVICE_UNAVAILABLE, "database_unavailable"),
    }
}

/// A failed dispatch: 400 if a ref is an unsafe name, 409 if a file-delivered `X` and an
/// env-delivered `X_FILE` collide, 404 if every ref is missing, 502 if
/// a backend failed, 503 if the only other faults are backends this server has not
/// configured.
fn dispatch_status(failures: &[RefFailure]) -> (StatusCode, &'static str) {
    let any = |p: fn(&RefFailureReason) -> bool| failures.iter().any(|f| p(&f.reason));
    if any(|r| matches!(r, RefFailureReason::UnsafeName(_))) {
        (StatusCode::BAD_REQUEST, "invalid_request")
    } else if any(|r| {
        matches!(
            r,
            RefFailureReason::Collision { .. } | RefFailureReason::Clash { .. }
        )
    }) {
        (StatusCode::CONFLICT, "conflict")
    } else if any(|r| matches!(r, RefFailureReason::Backend { .. })) {
        (StatusCode::BAD_GATEWAY, "backend_unavailable")
    } else if any(|r| matches!(r, RefFailureReason::NotConfigured { .. })) {
        (StatusCode::SERVICE_UNAVAILABLE, "not_configured")
    } else {
        (StatusCode::NOT_FOUND, "missing_secrets")
    }
}

/// One failing ref as the API names it.
fn ref_error(f: &RefFailure) -> RefError {
    let (reason, scope) = match &f.reason {
        RefFailureReason::Missing => ("missing", None),
        RefFailureReason::Backend { scope, error } => (
            match error {
                BackendError::NotFound(_) => "not_found",
                BackendError::Refused(_) => "refused",
                BackendError::Unavailable(_) => "unavailable",
            },
            Some(scope.clone()),
        ),
        RefFailureReason::NotConfigured { scope, .. } => ("not_configured", Some(scope.clone())),
        RefFailureReason::UnsafeName(_) => ("unsafe_name", None),
        RefFailureReason::Collision { .. } | RefFailureReason::Clash { .. } => ("collision", None),
    };
    RefError {
        name: f.name.clone(),
        reason: reason.into(),
        scope,
    }
}

/// An error answer.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    refs: Option<Vec<RefError>>,
    /// Seconds for a `Retry-After` header (a 429).
    retry_after: Option<u64>,
    /// What the log gets instead of `message` (an internal error's detail).
    detail: Option<String>,
}

impl ApiError {
    /// An answer with this status, code and message (a message for people, never a value).
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            refs: None,
            retry_after: None,
            detail: None,
        }
    }

    /// 429: too many failed authentications from this client; try again in `secs`.
    pub fn too_many_requests(secs: u64) -> Self {
        ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("too many failed authentications from this address; try again in {secs} s"),
            )
        }
    }

    /// The answer's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = status_and_code(&e);
        let message = match &e {
            Error::Invalid(m)
            | Error::NotFound(m)
            | Error::AlreadyExists(m)
            | Error::Conflict(m)
            | Error::Forbidden(m)
            | Error::Unauthorized(m)
            | Error::Gone { message: m, .. }
            | Error::Crypto(m) => m.clone(),
            Error::CategoryRequired { .. }
            | Error::TooManyRefs { .. }
            | Error::Backend(_)
            | Error::Dispatch(_) => e.to_string(),
            Error::ParentMissing { level, parent } => {
                wording::parent_missing(level, parent, Reader::Api)
            }
            // The hint is for the server's operator (an environment variable to set): the
            // client gets its own.
            Error::Config { message, .. } | Error::NotConfigured { message, .. } => {
                wording::not_configured(message)
            }
            Error::Storage(_) => "internal error".into(),
            Error::BriefStore(_) => wording::BRIEF_STORE_UNAVAILABLE.into(),
            Error::DatabaseUnavailable(_) => wording::DATABASE_UNAVAILABLE.into(),
        };
        let refs = if let Error::Dispatch(failures) = &e {
            Some(failures.iter().map(ref_error).collect())
        } else {
            None
        };
        // What the log gets (the database's own words, never a value): the answer says
        // less.
        let detail = (status == StatusCode::INTERNAL_SERVER_ERROR
            || matches!(e, Error::DatabaseUnavailable(_) | Error::BriefStore(_)))
        .then(|| e.to_string());
        ApiError {
            status,
            code,
            message,
            refs,
            retry_after: None,
            detail,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let summary = ErrorSummary {
            status: self.status,
            code: self.code,
            message: Arc::from(self.detail.as_deref().unwrap_or(&self.message)),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
                refs: self.refs,
            },
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        summary.attach(&mut res);
        res
    }
}

/// A JSON body parsed with the app's own errors: serde's messages can quote the input
/// (a value), so only the position of a problem is reported.
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json_type {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        let bytes = zeroize::Zeroizing::new(bytes.to_vec());
        json_body(&bytes).map(AppJson)
    }
}

/// A body that could not be read: too large (413), or cut off.
fn body_rejection(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than this route takes (1 MiB; 7 MiB for a scan or a callback, whose text is at most 1 MiB)",
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "cannot read the request body",
        )
    }
}

/// An optional JSON body (`Option<AppJson<T>>`): an empty body is `None`; any other is
/// read as [`AppJson`] reads it (a JSON content type, the product's words for a mistake).
impl<S, T> axum::extract::OptionalFromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let req = Request::from_parts(parts.clone(), body);
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        <AppJson<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Reads a JSON body; a mistake is named by where it is (`project`, `secret_refs[2]`, a
/// missing field's name) in the product's words, never with serde's text, which can
/// quote the value sent (a secret, in a value field).
fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| (e.path().to_string(), e.into_inner()))
        .and_then(|v| de.end().map(|()| v).map_err(|e| (".".to_owned(), e)));
    parsed.map_err(|(path, inner)| {
        let at = format!("line {}, column {}", inner.line(), inner.column());
        let message = match inner.classify() {
            serde_json::error::Category::Data => {
                let text = inner.to_string();
                if let Some(field) = missing_field(&text) {
                    format!("the request body lacks the field {field}")
                } else if text.starts_with("unknown field") {
                    format!("the request body has a field this call does not take ({at})")
                } else if path == "." || path.starts_with('[') {
                    format!("the request body is not the object this call takes ({at})")
                } else {
                    format!("the field {path} of the request body is of the wrong kind or out of range ({at})")
                }
            }
            _ => format!("the request body is not valid JSON ({at})"),
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("{message}; see /api/v1/openapi.json"),
        )
    })
}

/// The name in serde's ``missing field `name` `` (a field of our own types, never the
/// caller's text).
fn missing_field(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("missing field `")?;
    let name = &rest[..rest.find('`')?];
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(name)
}

/// Query parameters with the app's own error shape.
pub struct AppQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| AppQuery(q.0))
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    query_problem(&e.body_text()),
                )
            })
    }
}

/// A query string that does not read as its route's parameters, in the product's words:
/// which parameter, and what it must be (axum and serde word it as "Failed to deserialize
/// query string: limit: invalid digit found in string").
fn query_problem(text: &str) -> String {
    let text = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|t| t.strip_suffix('`'))
    {
        return format!("the query parameter {field} is required; see /api/v1/openapi.json");
    }
    let (field, why) = text.split_once(": ").unwrap_or(("", text));
    let why = if why.contains("digit") || why.contains("integer") || why.contains("number") {
        "must be a whole number"
    } else if why.contains("bool") {
        "must be true or false"
    } else {
        "is not valid"
    };
    let field = field.trim_matches('`');
    if field.is_empty()
        || !field
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return "the query string does not match this route's parameters; see /api/v1/openapi.json"
            .into();
    }
    format!("the query parameter {field} {why}; see /api/v1/openapi.json")
}

/// Path parameters with the app's own error shape.
pub struct AppPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| AppPath(p.0))
            .map_err(|_| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", "malformed path")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn query_problems_name_the_parameter_not_the_parser() {
        for (axum, ours) in [
            (
                "Failed to deserialize query string: limit: invalid digit found in string",
                "the query parameter limit must be a whole number; see /api/v1/openapi.json",
            ),
            (
                "Failed to deserialize query string: missing field `scope`",
                "the query parameter scope is required; see /api/v1/openapi.json",
            ),
            (
                "Failed to deserialize query string: version: number too large to fit in target type",
                "the query parameter version must be a whole number; see /api/v1/openapi.json",
            ),
            (
                "Failed to deserialize query string: something odd",
                "the query string does not match this route's parameters; see /api/v1/openapi.json",
            ),
        ] {
            assert_eq!(query_problem(axum), ours);
        }
    }

    async fn answer(e: Error) -> (StatusCode, serde_json::Value, Option<ErrorSummary>) {
        let res = ApiError::from(e).into_response();
        let status = res.status();
        let summary = res.extensions().get::<ErrorSummary>().cloned();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap(), summary)
    }

    #[tokio::test]
    async fn a_backend_that_is_not_configured_is_503_not_configured() {
        let e = Error::config("Vault is not configured", "set VAULT_ADDR and VAULT_TOKEN");
        let (status, body, summary) = answer(e).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "not_configured");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("Vault is not configured"), "{message}");
        // The operator's hint (an environment variable) is not the client's.
        assert!(!message.contains("VAULT_ADDR"), "{message}");
        let summary = summary.unwrap();
        assert_eq!(summary.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(summary.code, "not_configured");
    }

    #[tokio::test]
    async fn an_internal_error_keeps_its_detail_for_the_log_only() {
        let (status, body, summary) = answer(Error::Storage("disk I/O error".into())).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(body["error"]["message"], "internal error");
        assert_eq!(&*summary.unwrap().message, "disk I/O error");
    }

    #[tokio::test]
    async fn every_error_answer_carries_its_summary() {
        let (status, body, summary) = answer(Error::NotFound("no such secret".into())).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["message"], "no such secret");
        let summary = summary.unwrap();
        assert_eq!((summary.status, summary.code), (status, "not_found"));
        let res = ApiError::too_many_requests(7).into_response();
        assert!(res.extensions().get::<ErrorSummary>().is_some());
        assert_eq!(res.headers()[axum::http::header::RETRY_AFTER], "7");
    }

    #[tokio::test]
    async fn no_command_line_flag_reaches_an_api_client() {
        let e = Error::CategoryRequired {
            scope: "acme".into(),
            name: "DB_URL".into(),
        };
        let (status, body, _) = answer(e).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("category is required"), "{message}");
        assert!(!message.contains("--"), "{message}");
    }

    #[tokio::test]
    async fn a_dispatch_names_each_ref() {
        let failures = vec![
            RefFailure {
                name: "A".into(),
                reason: RefFailureReason::Missing,
            },
            RefFailure {
                name: "B".into(),
                reason: RefFailureReason::Backend {
                    scope: "acme".into(),
                    error: BackendError::Refused("bad token".into()),
                },
            },
        ];
        let (status, body, _) = answer(Error::Dispatch(failures)).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(body["error"]["code"], "backend_unavailable");
        assert_eq!(body["error"]["refs"][0]["reason"], "missing");
        assert_eq!(body["error"]["refs"][1]["reason"], "refused");
        assert_eq!(body["error"]["refs"][1]["scope"], "acme");
    }
}
