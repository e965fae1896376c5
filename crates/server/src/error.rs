//! Errors as HTTP answers: always `{"error": {"code", "message"}}` with the fitting status.
//! A 500 says only "internal error"; the detail goes to the log.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secretstore_core::{BackendError, Error, RefFailureReason};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code: `invalid_request`, `invalid_json`, `unauthorized`,
    /// `forbidden`, `not_found`, `conflict`, `already_exists`, `payload_too_large`,
    /// `too_many_requests`,
    /// `missing_secrets`, `backend_unavailable`, `callback_replayed`, `internal`.
    pub code: String,
    /// For people; never a secret value.
    pub message: String,
    /// For a failed dispatch: each failing ref.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refs: Option<Vec<RefError>>,
}

#[derive(Serialize, ToSchema)]
pub struct RefError {
    pub name: String,
    /// `missing`, `not_found`, `refused`, `unavailable` or `unsafe_name` (a name refused
    /// as an unsafe environment name since the task was stored).
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// An error answer.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    refs: Option<Vec<RefError>>,
    /// Seconds for a `Retry-After` header (a 429).
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            refs: None,
            retry_after: None,
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

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        match e {
            Error::Invalid(m) => ApiError::new(S::BAD_REQUEST, "invalid_request", m),
            Error::NotFound(m) => ApiError::new(S::NOT_FOUND, "not_found", m),
            Error::AlreadyExists(m) => ApiError::new(S::CONFLICT, "already_exists", m),
            Error::Conflict(m) => ApiError::new(S::CONFLICT, "conflict", m),
            Error::Forbidden(m) => ApiError::new(S::FORBIDDEN, "forbidden", m),
            Error::Unauthorized(m) => ApiError::new(S::UNAUTHORIZED, "unauthorized", m),
            Error::Backend(b) => {
                ApiError::new(S::BAD_GATEWAY, "backend_unavailable", b.to_string())
            }
            e @ Error::CategoryRequired { .. } => {
                ApiError::new(S::BAD_REQUEST, "invalid_request", e.to_string())
            }
            e @ Error::ParentMissing { .. } => {
                ApiError::new(S::NOT_FOUND, "not_found", e.to_string())
            }
            Error::Config { message, .. } => {
                ApiError::new(S::BAD_GATEWAY, "backend_unavailable", message)
            }
            Error::NotConfigured { message, .. } => {
                ApiError::new(S::SERVICE_UNAVAILABLE, "not_configured", message)
            }
            Error::Crypto(m) => ApiError::new(S::BAD_GATEWAY, "backend_unavailable", m),
            Error::Dispatch(failures) => {
                let only_missing = failures
                    .iter()
                    .all(|f| matches!(f.reason, RefFailureReason::Missing));
                let any_unsafe = failures
                    .iter()
                    .any(|f| matches!(f.reason, RefFailureReason::UnsafeName(_)));
                let message = Error::Dispatch(failures.clone()).to_string();
                let refs = failures
                    .into_iter()
                    .map(|f| {
                        let (reason, scope) = match f.reason {
                            RefFailureReason::Missing => ("missing", None),
                            RefFailureReason::Backend { scope, error } => (
                                match error {
                                    BackendError::NotFound(_) => "not_found",
                                    BackendError::Refused(_) => "refused",
                                    BackendError::Unavailable(_) => "unavailable",
                                },
                                Some(scope),
                            ),
                            RefFailureReason::UnsafeName(_) => ("unsafe_name", None),
                        };
                        RefError {
                            name: f.name,
                            reason: reason.into(),
                            scope,
                        }
                    })
                    .collect();
                let (status, code) = if any_unsafe {
                    (S::BAD_REQUEST, "invalid_request")
                } else if only_missing {
                    (S::NOT_FOUND, "missing_secrets")
                } else {
                    (S::BAD_GATEWAY, "backend_unavailable")
                };
                ApiError {
                    status,
                    code,
                    message,
                    refs: Some(refs),
                    retry_after: None,
                }
            }
            other @ Error::Storage(_) => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
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
        let bytes =
            axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|e: BytesRejection| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "payload_too_large",
                            "the request body is larger than 1 MiB",
                        )
                    } else {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "invalid_json",
                            "cannot read the request body",
                        )
                    }
                })?;
        let bytes = zeroize::Zeroizing::new(bytes.to_vec());
        serde_json::from_slice(&bytes).map(AppJson).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => "does not match the expected shape",
                _ => "is not valid JSON",
            };
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!(
                    "the request body {what} (line {}, column {}); see /api/v1/openapi.json",
                    e.line(),
                    e.column()
                ),
            )
        })
    }
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
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))
    }
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
