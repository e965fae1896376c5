//! Sessions, cookies and CSRF for the web UI.
//!
//! - The session cookie (`ss_session`) holds a random session id (`sss_…`); the database
//!   keeps only its SHA-256. It is `HttpOnly; SameSite=Strict; Path=/ui`, lives as long as
//!   the session (8 hours), and is `Secure` when the request came over TLS: `serve`'s own
//!   (`SECRETSTORE_TLS_CERT`, marked [`OverTls`] on the request), or a proxy in front that
//!   says so with `X-Forwarded-Proto: https` (or `Forwarded: proto=https`). The header can only add
//!   `Secure`, never remove it from a TLS connection's cookie, so a forged one does no harm.
//! - Every form holds the session's CSRF token in a hidden field named `csrf`. A POST
//!   reaches its handler only through `Posted`, which checks the token (in constant time)
//!   before the form is even parsed into its type: missing or wrong → 403, nothing changed.
//! - The sign-in form has no session yet: it gets a double-submit token instead, a random
//!   value both in a short-lived cookie (`ss_login`, `Path=/ui/login`) and in the form.
//! - A `Sec-Fetch-Site: cross-site` POST is refused as well (SameSite=Strict already keeps
//!   the cookie out of it; this is a second fence).

use super::{error_parts, error_summary, pages, see_other};
use crate::AppState;
use crate::auth;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use secretstore_core::{Error, Principal, Role};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ss_session";
/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "ss_login";
/// The name of the hidden CSRF field of every form.
pub const CSRF_FIELD: &str = "csrf";
/// How long a session lasts: 8 hours.
pub const SESSION_TTL_SECS: i64 = 8 * 3600;
/// How long a sign-in form stays valid: 1 hour.
const LOGIN_TTL_SECS: i64 = 3600;

/// A signed-in user of the UI.
pub(crate) struct Session {
    /// The session id from the cookie (for sign-out).
    pub(crate) id: Zeroizing<String>,
    pub(crate) who: Principal,
    /// This session's CSRF token, for the forms of the pages it renders.
    pub(crate) csrf: String,
    /// The session's public id (the sessions page marks the current one).
    pub(crate) public_id: String,
}

impl Session {
    /// Whether `given` is this session's CSRF token, compared in constant time.
    pub(crate) fn csrf_matches(&self, given: Option<&str>) -> bool {
        given.is_some_and(|g| ct_eq(g, &self.csrf))
    }

    /// Root, an organization's admin or a team's member: who may read some audit log
    /// (as the API decides: a dispatcher reads none).
    pub(crate) fn reads_audit(&self) -> bool {
        self.who
            .roles
            .iter()
            .any(|r| matches!(r, Role::Root | Role::Admin(_) | Role::Member(_)))
    }

    /// The navigation bar's facts.
    pub(crate) fn nav(&self) -> pages::Nav {
        pages::Nav {
            account: self.who.account.clone(),
            roles: self
                .who
                .roles
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            csrf: self.csrf.clone(),
            audit: self.reads_audit(),
            accounts: self.who.is_root(),
        }
    }

    /// An error page for this session.
    pub(crate) fn error(&self, e: &Error) -> Response {
        error_response(Some(self), e)
    }
}

/// The page of a failed operation, with what the log keeps of it in its extensions (the
/// request-logging middleware logs it).
pub(crate) fn error_response(session: Option<&Session>, e: &Error) -> Response {
    let (status, message) = error_parts(e);
    let mut res = error_page(session, status, &message);
    error_summary(e).attach(&mut res);
    res
}

/// An error page, with the navigation bar when signed in.
pub(crate) fn error_page(session: Option<&Session>, status: StatusCode, message: &str) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::BAD_REQUEST => "Bad request",
        StatusCode::CONFLICT => "Conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "Too large",
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
        StatusCode::BAD_GATEWAY => "Backend unavailable",
        StatusCode::SERVICE_UNAVAILABLE => "Not configured",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        _ => "Error",
    };
    let page = pages::ErrorPage {
        layout: pages::Layout::new(title, session.map(Session::nav), ""),
        status: status.as_u16(),
        heading: title,
        message: message.to_owned(),
    };
    pages::render(status, &page)
}

/// 429: too many failed authentications from this address, with `Retry-After`.
pub(crate) fn too_many_attempts(secs: u64) -> Response {
    let mut res = error_page(
        None,
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Too many failed sign-ins from this address. Try again in {secs} seconds."),
    );
    res.headers_mut().insert(header::RETRY_AFTER, secs.into());
    res
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The value of cookie `name`, from every `Cookie` header of the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The mark `serve` puts on every request that came over its own TLS.
#[derive(Clone, Copy, Debug)]
pub struct OverTls;

/// Whether the request came over TLS: `serve`'s own TLS ([`OverTls`]), an `https` URI, or a proxy's
/// `X-Forwarded-Proto: https` / `Forwarded: proto=https`.
pub(crate) fn over_tls(parts: &Parts) -> bool {
    if parts.extensions.get::<OverTls>().is_some() || parts.uri.scheme_str() == Some("https") {
        return true;
    }
    let first = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
    };
    if first(header::HeaderName::from_static("x-forwarded-proto")).as_deref() == Some("https") {
        return true;
    }
    first(header::FORWARDED).is_some_and(|v| {
        v.split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .any(|(k, v)| k.trim() == "proto" && v.trim().trim_matches('"') == "https")
    })
}

/// A `Set-Cookie` value. `max_age` 0 removes the cookie.
fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session cookie for a new session.
pub(crate) fn session_cookie(id: &str, secure: bool) -> HeaderValue {
    set_cookie(SESSION_COOKIE, id, "/ui", SESSION_TTL_SECS, secure)
}

/// Removes the session cookie.
pub(crate) fn clear_session_cookie(secure: bool) -> HeaderValue {
    set_cookie(SESSION_COOKIE, "", "/ui", 0, secure)
}

/// A new sign-in token and its cookie.
pub(crate) fn login_token(secure: bool) -> (String, HeaderValue) {
    let mut raw = [0u8; 32];
    secretstore_core::random::fill(&mut raw);
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let cookie = set_cookie(LOGIN_COOKIE, &token, "/ui/login", LOGIN_TTL_SECS, secure);
    (token, cookie)
}

/// Removes the sign-in cookie.
pub(crate) fn clear_login_cookie(secure: bool) -> HeaderValue {
    set_cookie(LOGIN_COOKIE, "", "/ui/login", 0, secure)
}

/// Whether the sign-in form's token matches its cookie (constant time).
pub(crate) fn login_token_matches(headers: &HeaderMap, given: &str) -> bool {
    cookie(headers, LOGIN_COOKIE).is_some_and(|c| !c.is_empty() && ct_eq(c, given))
}

/// To the sign-in page, dropping a session cookie that no longer works.
fn to_login(parts: &Parts, had_cookie: bool) -> Response {
    let mut res = see_other("/ui/login");
    if had_cookie {
        res.headers_mut()
            .append(header::SET_COOKIE, clear_session_cookie(over_tls(parts)));
    }
    res
}

impl FromRequestParts<AppState> for Session {
    /// Without a valid session: a 303 to the sign-in page.
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE).filter(|v| !v.is_empty()) else {
            return Err(to_login(parts, false));
        };
        let id = Zeroizing::new(id.to_owned());
        let client = auth::admit(parts, st).map_err(too_many_attempts)?;
        match st.svc.session(&id, &client.source).await {
            Ok(found) => Ok(Session {
                id,
                who: found.who,
                csrf: found.csrf,
                public_id: found.public_id,
            }),
            Err(Error::Unauthorized(_)) => Err(to_login(parts, true)),
            Err(e) => Err(error_response(None, &e)),
        }
    }
}

/// Reads a form body: `application/x-www-form-urlencoded`, into zeroizing memory. Any
/// failure is a fixed message: the body is never echoed.
pub(crate) async fn read_form(
    parts: Parts,
    body: axum::body::Body,
    st: &AppState,
) -> Result<Zeroizing<Vec<u8>>, (StatusCode, &'static str)> {
    let form_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form_type {
        return Err((
            StatusCode::BAD_REQUEST,
            "expected a form (application/x-www-form-urlencoded)",
        ));
    }
    let req = Request::from_parts(parts, body);
    let bytes = Bytes::from_request(req, st).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the form is larger than 1 MiB",
            )
        } else {
            (StatusCode::BAD_REQUEST, "cannot read the form")
        }
    })?;
    Ok(Zeroizing::new(bytes.to_vec()))
}

/// Parses a form body into `T`; a malformed one gets a fixed message.
pub(crate) fn parse_form<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, (StatusCode, &'static str)> {
    serde_urlencoded::from_bytes(bytes)
        .map_err(|_| (StatusCode::BAD_REQUEST, "the form is malformed"))
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

/// A POSTed form of a signed-in user whose CSRF token was checked. The only way for a
/// POST handler (but sign-in) to get a form, so no handler can forget the check.
pub(crate) struct Posted<T> {
    pub(crate) session: Session,
    pub(crate) form: T,
}

/// Whether a browser says the request comes from another site.
pub(crate) fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Response> {
        Self::gated(req, st, |_| None).await
    }
}

impl<T: DeserializeOwned + Send> Posted<T> {
    /// Like the extractor, with `gate` asked about the session before anything else (the
    /// CSRF check included): a page only some accounts may reach refuses the others the
    /// same way whatever their form holds (`Some(answer)`: refused with that answer).
    pub(crate) async fn gated(
        req: Request,
        st: &AppState,
        gate: impl FnOnce(&Session) -> Option<Response> + Send,
    ) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, st).await?;
        if let Some(refused) = gate(&session) {
            return Err(refused);
        }
        if cross_site(&parts.headers) {
            return Err(error_page(
                Some(&session),
                StatusCode::FORBIDDEN,
                "a form from another site is refused",
            ));
        }
        let fail =
            |(status, message): (StatusCode, &str)| error_page(Some(&session), status, message);
        let bytes = read_form(parts, body, st).await.map_err(fail)?;
        let token: CsrfOnly = parse_form(&bytes).map_err(fail)?;
        if !session.csrf_matches(token.csrf.as_deref()) {
            return Err(error_page(
                Some(&session),
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or wrong; nothing was changed. Reload the page and try again.",
            ));
        }
        let form: T = parse_form(&bytes).map_err(fail)?;
        Ok(Posted { session, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().uri("/ui/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cookies_are_found_among_others() {
        let p = parts(&[("cookie", "a=1; ss_session=sss_x ; b=2"), ("cookie", "c=3")]);
        assert_eq!(cookie(&p.headers, SESSION_COOKIE), Some("sss_x"));
        assert_eq!(cookie(&p.headers, "c"), Some("3"));
        assert_eq!(cookie(&p.headers, "ss"), None);
    }

    #[test]
    fn tls_is_taken_from_the_proxy_headers() {
        assert!(!over_tls(&parts(&[])));
        assert!(over_tls(&parts(&[("x-forwarded-proto", "https")])));
        assert!(over_tls(&parts(&[("x-forwarded-proto", "HTTPS, http")])));
        assert!(!over_tls(&parts(&[("x-forwarded-proto", "http")])));
        assert!(over_tls(&parts(&[(
            "forwarded",
            "for=1.2.3.4;proto=https;by=x"
        )])));
        assert!(!over_tls(&parts(&[("forwarded", "proto=http")])));
    }

    #[test]
    fn cookie_attributes() {
        let c = session_cookie("sss_abc", true);
        assert_eq!(
            c.to_str().unwrap(),
            "ss_session=sss_abc; Path=/ui; Max-Age=28800; HttpOnly; SameSite=Strict; Secure"
        );
        let c = clear_session_cookie(false);
        assert_eq!(
            c.to_str().unwrap(),
            "ss_session=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict"
        );
    }
}
