//! Sign-in and sign-out: the sign-in form with its double-submit token, the token check
//! that starts a session, and the CSRF-checked sign-out.

use super::{MaybeSession, NoFields};
use crate::ui::pages::{Layout, LoginPage, render};
use crate::ui::see_other;
use crate::ui::session::{
    self, Posted, clear_login_cookie, clear_session_cookie, error_page, error_response,
    login_token, login_token_matches, over_tls, session_cookie,
};
use crate::{AppState, auth};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use secretstore_core::Error;
use serde::Deserialize;
use zeroize::Zeroizing;

fn login_page(parts: &Parts, status: StatusCode, error: Option<&str>) -> Response {
    let secure = over_tls(parts);
    let (token, cookie) = login_token(secure);
    let mut layout = Layout::new("Sign in", None, "");
    layout.error = error.map(str::to_owned);
    let mut res = render(
        status,
        &LoginPage {
            layout,
            csrf: token,
        },
    );
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

/// `GET /ui/login`: the sign-in form (or the scopes, when already signed in).
pub(crate) async fn login_form(MaybeSession(s): MaybeSession, parts: Parts) -> Response {
    if s.is_some() {
        return see_other("/ui/");
    }
    login_page(&parts, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: Zeroizing<String>,
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/login`: checks the API token and starts a session. The token is never logged
/// nor shown back.
pub(crate) async fn login(State(st): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let head = parts.clone();
    if session::cross_site(&parts.headers) {
        return login_page(
            &head,
            StatusCode::FORBIDDEN,
            Some("a sign-in from another site is refused"),
        );
    }
    let bytes = match session::read_form(parts, body, &st).await {
        Ok(b) => b,
        Err((status, message)) => return error_page(None, status, message),
    };
    let form: LoginForm = match session::parse_form(&bytes) {
        Ok(f) => f,
        Err((status, message)) => return error_page(None, status, message),
    };
    if !login_token_matches(&head.headers, &form.csrf) {
        return login_page(
            &head,
            StatusCode::FORBIDDEN,
            Some(
                "The sign-in form expired or came from elsewhere; nothing was sent. Please sign in again.",
            ),
        );
    }
    let client = match auth::admit(&head, &st) {
        Ok(c) => c,
        Err(secs) => return session::too_many_attempts(secs),
    };
    match st
        .svc
        .login(form.token.trim(), &client.source, session::SESSION_TTL_SECS)
        .await
    {
        Ok(new) => {
            let secure = over_tls(&head);
            let mut res = see_other("/ui/");
            let h = res.headers_mut();
            h.append(
                header::SET_COOKIE,
                session_cookie(new.id.expose_secret(), secure),
            );
            h.append(header::SET_COOKIE, clear_login_cookie(secure));
            res
        }
        Err(Error::Unauthorized(_)) => {
            auth::failed(&st, &client, auth::Credential::SessionSignIn, None).await;
            login_page(
                &head,
                StatusCode::UNAUTHORIZED,
                Some("That API token is not valid: unknown or revoked."),
            )
        }
        Err(Error::Forbidden(m)) => login_page(&head, StatusCode::FORBIDDEN, Some(&m)),
        Err(e) => error_response(None, &e),
    }
}

/// `POST /ui/logout`: ends the session (CSRF-checked like every form).
pub(crate) async fn logout(
    State(st): State<AppState>,
    parts: Parts,
    posted: Result<Posted<NoFields>, Response>,
) -> Response {
    let Posted { session, .. } = match posted {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = st.svc.logout(&session.id).await {
        return session.error(&e);
    }
    let mut res = see_other("/ui/login");
    res.headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie(over_tls(&parts)));
    res
}
