//! AWS errors mapped to secretstore's three backend errors.
//!
//! `NotFound` only when AWS says so by code (a missing or deleted secret); credentials
//! and permission problems are `Refused`; everything else, including timeouts, throttling
//! after the SDK's retries, 5xx, a response that cannot be read and an unknown code, is
//! `Unavailable`. An answer that is neither clear "not found" nor clear "refused" must
//! never become "not found": a resolver would then serve a broader scope's value.
//!
//! Messages carry the operation, the secret's name or ARN, AWS's error code and message
//! and the transport's reason, never a request or response body (which may hold a value).

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use secretstore_core::BackendError;
use std::error::Error as StdError;

/// The three kinds of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    NotFound,
    Refused,
    Unavailable,
}

impl Class {
    pub(crate) fn error(self, message: String) -> BackendError {
        match self {
            Class::NotFound => BackendError::NotFound(message),
            Class::Refused => BackendError::Refused(message),
            Class::Unavailable => BackendError::Unavailable(message),
        }
    }
}

/// Codes that mean "these credentials, or this principal, may not do this".
const REFUSED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "DecryptionFailure",
    "ExpiredToken",
    "ExpiredTokenException",
    "IncompleteSignature",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "InvalidToken",
    "KMSAccessDeniedException",
    "MissingAuthenticationToken",
    "NotAuthorized",
    "RequestExpired",
    "SignatureDoesNotMatch",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
];

/// Classifies an AWS error code (of a whole call or of one item of a batch).
pub(crate) fn classify_code(code: &str, message: &str) -> Option<Class> {
    if code == "ResourceNotFoundException" {
        return Some(Class::NotFound);
    }
    // A secret scheduled for deletion answers InvalidRequestException ("... because it
    // was marked for deletion" / "... was deleted"): for secretstore it is gone.
    if code == "InvalidRequestException" {
        let m = message.to_ascii_lowercase();
        if m.contains("deleted") || m.contains("deletion") {
            return Some(Class::NotFound);
        }
        return None;
    }
    if REFUSED_CODES.contains(&code) {
        return Some(Class::Refused);
    }
    None
}

/// The class and a readable reason of a failed SDK call.
pub(crate) fn describe<E>(err: &SdkError<E, HttpResponse>) -> (Class, String)
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let by_status = |status: Option<u16>| match status {
        Some(401 | 403) => Class::Refused,
        _ => Class::Unavailable,
    };
    match err {
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("");
            let message = err.message().unwrap_or("");
            let class = classify_code(code, message).unwrap_or_else(|| by_status(status));
            let mut reason = match (code, message) {
                ("", "") => format!("HTTP {}", status.unwrap_or(0)),
                ("", m) => format!("HTTP {}: {m}", status.unwrap_or(0)),
                (c, "") => c.to_owned(),
                (c, m) => format!("{c}: {m}"),
            };
            if code.is_empty() && class == Class::Refused {
                reason.push_str(" (the credentials or their permissions were refused)");
            }
            (class, reason)
        }
        // The answer could not be read: the body is not quoted, it may hold a value.
        SdkError::ResponseError(_) => (
            by_status(status),
            format!(
                "unreadable answer (HTTP {}): is the endpoint an AWS API?",
                status.unwrap_or(0)
            ),
        ),
        SdkError::TimeoutError(_) => (
            Class::Unavailable,
            "timed out (the bound on one operation, retries included, was reached)".to_owned(),
        ),
        SdkError::DispatchFailure(d) => {
            let reason = chain(err);
            // Before a request is sent, the credential chain may find nothing usable.
            let class = if d.is_other() && reason.to_ascii_lowercase().contains("credential") {
                Class::Refused
            } else {
                Class::Unavailable
            };
            (class, reason)
        }
        _ => (Class::Unavailable, chain(err)),
    }
}

/// [`chain`], for the crate: an error and its sources in one line.
pub(crate) fn chain_text(err: &(dyn StdError + 'static)) -> String {
    chain(err)
}

/// An error and its sources, `: `-separated ("dispatch failure: io error: ...: Connection
/// refused (os error 111)"), each said once.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// A backend error for a failed Secrets Manager call: `op` on `target` (a name or ARN).
pub(crate) fn sm_error<E>(op: &str, target: &str, err: &SdkError<E, HttpResponse>) -> BackendError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let (class, reason) = describe(err);
    class.error(format!("AWS Secrets Manager {op} {target}: {reason}"))
}

/// STS codes that mean "this role, session policy or request will not be granted", beyond
/// [`REFUSED_CODES`]: asking again changes nothing (a role that does not exist, or may not
/// be assumed, answers `AccessDenied`).
const STS_REFUSED_CODES: &[&str] = &[
    // The session policy is not a valid IAM policy.
    "MalformedPolicyDocument",
    // The session policy and tags, packed, are over AWS's limit.
    "PackedPolicyTooLarge",
    // STS is not activated in the region of the endpoint.
    "RegionDisabledException",
    // A parameter AWS rejects, such as a duration over the role's MaxSessionDuration.
    "ValidationError",
];

/// True for an STS code that refuses the request for good.
fn sts_refused(code: &str) -> bool {
    STS_REFUSED_CODES.contains(&code) || classify_code(code, "") == Some(Class::Refused)
}

/// A backend error for a failed STS call: `op` on `target` (a role ARN). STS's messages
/// name the role and the session, never a key or token.
pub(crate) fn sts_error<E>(op: &str, target: &str, err: &SdkError<E, HttpResponse>) -> BackendError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let (class, reason) = describe(err);
    let class = match err {
        SdkError::ServiceError(_) if err.code().is_some_and(sts_refused) => Class::Refused,
        _ => class,
    };
    class.error(format!("AWS STS {op} {target}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_the_three_kinds_apart() {
        assert_eq!(
            classify_code("ResourceNotFoundException", "Secrets Manager can't find it"),
            Some(Class::NotFound)
        );
        assert_eq!(
            classify_code(
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for deletion."
            ),
            Some(Class::NotFound)
        );
        assert_eq!(
            classify_code("InvalidRequestException", "something else"),
            None
        );
        for c in [
            "AccessDeniedException",
            "UnrecognizedClientException",
            "InvalidSignatureException",
            "ExpiredTokenException",
            "InvalidClientTokenId",
        ] {
            assert_eq!(classify_code(c, ""), Some(Class::Refused), "{c}");
        }
        for c in [
            "ThrottlingException",
            "InternalServiceError",
            "ServiceUnavailable",
        ] {
            assert_eq!(classify_code(c, ""), None, "{c}");
        }
    }

    #[test]
    fn sts_refuses_a_bad_policy_or_duration_and_keeps_throttling_unavailable() {
        for c in [
            "AccessDenied",
            "InvalidClientTokenId",
            "ExpiredToken",
            "MalformedPolicyDocument",
            "PackedPolicyTooLarge",
            "RegionDisabledException",
            "ValidationError",
        ] {
            assert!(sts_refused(c), "{c}");
        }
        for c in ["Throttling", "InternalFailure", "ServiceUnavailable", ""] {
            assert!(!sts_refused(c), "{c}");
        }
    }
}
