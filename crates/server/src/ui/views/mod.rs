//! The UI's handlers. Each one calls the service with the session's principal, so what a
//! user sees and may do is exactly what the API allows them.
//!
//! One file per part of the UI: [`auth`] (sign-in and sign-out), [`scopes`] (the scope
//! tree and the scope, secret and deletion pages), [`secrets`] (the forms of those pages)
//! [`activity`] (briefs, sessions and the audit log), [`objects`] (a brief's and a task's
//! pages), [`search`] (the search page) and [`accounts`] (root's accounts, roles and
//! tokens). This module holds what they share.

pub(crate) mod accounts;
pub(crate) mod activity;
pub(crate) mod auth;
pub(crate) mod objects;
pub(crate) mod scopes;
pub(crate) mod search;
pub(crate) mod secrets;

use super::NOT_FOUND_TEXT;
use super::session::{Session, error_page};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use secretstore_core::Error;
use serde::Deserialize;
use std::convert::Infallible;

/// The session, if the request has a valid one.
pub(crate) struct MaybeSession(pub(crate) Option<Session>);

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Infallible> {
        Ok(MaybeSession(
            Session::from_request_parts(parts, st).await.ok(),
        ))
    }
}

/// `GET`/`POST /ui/{anything else}`: the 404 page.
pub(crate) async fn not_found(MaybeSession(s): MaybeSession) -> Response {
    error_page(s.as_ref(), StatusCode::NOT_FOUND, NOT_FOUND_TEXT)
}

/// Another method than the route takes: the 405 page.
pub(crate) async fn method_not_allowed(MaybeSession(s): MaybeSession) -> Response {
    error_page(
        s.as_ref(),
        StatusCode::METHOD_NOT_ALLOWED,
        "This address does not take that method.",
    )
}

pub(super) fn err_not_found() -> Error {
    Error::NotFound("no such page".into())
}

/// A form with nothing but its CSRF token (sign-out, reveal, ending a session).
#[derive(Deserialize)]
pub(crate) struct NoFields {}
