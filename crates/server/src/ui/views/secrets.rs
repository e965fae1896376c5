//! The forms of the scope and secret pages: a new secret, rotate, reveal, roll back and
//! delete. A failed form is shown again on its page with the error; a value is never
//! shown back.

use super::scopes::{Extras, scope_view, secret_view};
use super::{MaybeSession, NoFields};
use crate::AppState;
use crate::ui::NOT_FOUND_TEXT;
use crate::ui::pages::Revealed;
use crate::ui::see_other;
use crate::ui::session::{Posted, Session, error_page};
use crate::ui::target::{Target, parse_target, rest_of};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use secretstore_core::{Category, Error, Expected, SecretName, SecretValue};
use serde::Deserialize;
use std::str::FromStr;
use zeroize::Zeroizing;

#[derive(Deserialize)]
struct NewSecret {
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    value: Zeroizing<String>,
}

#[derive(Deserialize)]
struct Rotate {
    #[serde(default)]
    value: Zeroizing<String>,
    expected_version: Option<String>,
}

#[derive(Deserialize)]
struct RollbackTo {
    #[serde(default)]
    to: String,
}

#[derive(Deserialize)]
struct ConfirmDelete {
    confirm: Option<String>,
}

/// A textarea's value as a secret value. Browsers send line breaks as CRLF whatever was
/// typed or pasted; they are stored as LF (the command line keeps bytes exactly).
fn form_value(raw: Zeroizing<String>) -> Result<SecretValue, Error> {
    let mut text = Zeroizing::new(raw.replace("\r\n", "\n"));
    SecretValue::new(std::mem::take(&mut *text))
}

fn secret_url(scope: &str, name: &str) -> String {
    format!("/ui/scopes/{scope}/secrets/{name}")
}

/// Whether an error is shown as a page of its own rather than on the form's page.
fn page_error(e: &Error) -> bool {
    matches!(
        e,
        Error::NotFound(_) | Error::Forbidden(_) | Error::Unauthorized(_)
    )
}

/// `POST /ui/scopes/…`: the forms of the scope and secret pages.
pub(crate) async fn scope_post(State(st): State<AppState>, req: Request) -> Response {
    let uri = req.uri().clone();
    let target = parse_target(rest_of(&uri), true);
    match target {
        Some(Target::Collection(p)) => match Posted::<NewSecret>::from_request(req, &st).await {
            Ok(Posted { session, form }) => create_secret(&st, &session, p, form).await,
            Err(r) => r,
        },
        Some(Target::SecretAction(p, n, "rotate")) => {
            match Posted::<Rotate>::from_request(req, &st).await {
                Ok(Posted { session, form }) => rotate(&st, &session, p, n, form).await,
                Err(r) => r,
            }
        }
        Some(Target::SecretAction(p, n, "reveal")) => {
            match Posted::<NoFields>::from_request(req, &st).await {
                Ok(Posted { session, .. }) => reveal(&st, &session, p, n).await,
                Err(r) => r,
            }
        }
        Some(Target::SecretAction(p, n, "rollback")) => {
            match Posted::<RollbackTo>::from_request(req, &st).await {
                Ok(Posted { session, form }) => rollback(&st, &session, p, n, form).await,
                Err(r) => r,
            }
        }
        Some(Target::SecretAction(p, n, "delete")) => {
            match Posted::<ConfirmDelete>::from_request(req, &st).await {
                Ok(Posted { session, form }) => delete(&st, &session, p, n, form).await,
                Err(r) => r,
            }
        }
        _ => {
            let (mut parts, _) = req.into_parts();
            let MaybeSession(s) = match MaybeSession::from_request_parts(&mut parts, &st).await {
                Ok(m) => m,
                Err(never) => match never {},
            };
            error_page(s.as_ref(), StatusCode::NOT_FOUND, NOT_FOUND_TEXT)
        }
    }
}

async fn create_secret(st: &AppState, s: &Session, path: &str, form: NewSecret) -> Response {
    let NewSecret {
        name,
        category,
        value,
    } = form;
    // The name field is never shown back unless it is a valid name: someone may have
    // pasted the value into it.
    let shown_name = SecretName::parse_existing(&name)
        .map(|n| n.to_string())
        .unwrap_or_default();
    let result = async {
        let n = SecretName::parse_existing(&name).map_err(|_| {
            Error::Invalid(
                "invalid secret name: use upper-case letters, digits and _ (like DB_URL), \
                 not starting with a digit or SECRETSTORE_"
                    .into(),
            )
        })?;
        // A well-formed name may still be refused (an unsafe environment name): say why.
        let n = SecretName::parse(n.as_str())?;
        let cat = Category::from_str(&category)?;
        let value = form_value(value)?;
        st.svc
            .set_secret(
                &s.who,
                path,
                n.as_str(),
                &value,
                Some(cat),
                Some(Expected::Absent),
            )
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict(format!(
                    "{n} already exists at {path}: open it to rotate it; nothing was changed"
                )),
                other => other,
            })?;
        Ok::<_, Error>(n)
    }
    .await;
    match result {
        Ok(n) => see_other(&format!("{}?done=created", secret_url(path, n.as_str()))),
        Err(e) if page_error(&e) => s.error(&e),
        Err(e) => {
            let mut extras = Extras::failed(&e);
            extras.form_name = shown_name;
            extras.form_category = Category::from_str(&category)
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default();
            scope_view(st, s, path, extras)
                .await
                .unwrap_or_else(|e2| s.error(&e2))
        }
    }
}

/// Shows an error on the secret's page (or as a page of its own).
async fn secret_failed(st: &AppState, s: &Session, path: &str, name: &str, e: Error) -> Response {
    if page_error(&e) {
        return s.error(&e);
    }
    secret_view(st, s, path, name, None, Extras::failed(&e))
        .await
        .unwrap_or_else(|e2| s.error(&e2))
}

async fn rotate(st: &AppState, s: &Session, path: &str, name: &str, form: Rotate) -> Response {
    let result = async {
        let meta = st.svc.metadata(&s.who, path, name).await?;
        let expected = match form.expected_version.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(
                v.parse::<i64>()
                    .map_err(|_| Error::Invalid("the expected version is not a number".into()))?,
            ),
        };
        let expected = crate::dto::expected(expected);
        let value = form_value(form.value)?;
        st.svc
            .set_secret(&s.who, meta.scope.as_str(), &meta.name, &value, None, expected)
            .await
            .map_err(|e| match e {
                Error::Conflict(m) => Error::Conflict(format!(
                    "{m}. Someone wrote a new version after this page was loaded: check the history, then rotate again."
                )),
                other => other,
            })
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("{}?done=rotated", secret_url(path, name))),
        Err(e) => secret_failed(st, s, path, name, e).await,
    }
}

async fn reveal(st: &AppState, s: &Session, path: &str, name: &str) -> Response {
    match st.svc.reveal(&s.who, path, name, None).await {
        Ok((value, version)) => {
            let revealed = Revealed {
                version,
                value: Zeroizing::new(value.expose_secret().to_owned()),
            };
            secret_view(st, s, path, name, Some(revealed), Extras::default())
                .await
                .unwrap_or_else(|e| s.error(&e))
        }
        Err(e) => secret_failed(st, s, path, name, e).await,
    }
}

async fn rollback(
    st: &AppState,
    s: &Session,
    path: &str,
    name: &str,
    form: RollbackTo,
) -> Response {
    let result = async {
        let to = form
            .to
            .trim()
            .parse::<i64>()
            .map_err(|_| Error::Invalid("choose a version to roll back to".into()))?;
        st.svc.rollback(&s.who, path, name, to).await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("{}?done=rolled-back", secret_url(path, name))),
        Err(e) => secret_failed(st, s, path, name, e).await,
    }
}

async fn delete(
    st: &AppState,
    s: &Session,
    path: &str,
    name: &str,
    form: ConfirmDelete,
) -> Response {
    if form.confirm.as_deref() != Some(name) {
        return s.error(&Error::Invalid(
            "confirm the deletion on its confirmation page; nothing was deleted".into(),
        ));
    }
    match st.svc.delete(&s.who, path, name).await {
        Ok(()) => see_other(&format!("/ui/scopes/{path}?done=deleted&name={name}")),
        Err(e) => secret_failed(st, s, path, name, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textarea_line_breaks_become_lf() {
        let v = form_value(Zeroizing::new("a\r\nb\r\n".into())).unwrap();
        assert_eq!(v.expose_secret(), "a\nb\n");
        assert!(form_value(Zeroizing::new(String::new())).is_err());
    }
}
