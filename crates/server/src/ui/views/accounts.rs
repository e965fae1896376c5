//! The accounts page, root only: every account with its roles, API tokens and live
//! sessions, and the forms that create an account, grant and revoke a role, make a token
//! (shown once, in the page that answers the POST), revoke a token and end an account's
//! sessions.
//!
//! Anyone else gets the UI's 404 page, the very page of a missing address, for the page
//! and for every form, before the form's CSRF token is even looked at. The service
//! decides all the same ([`Service::require_root`](secretstore_core::Service)): the
//! check here only picks the answer.

use super::{MaybeSession, NoFields};
use crate::AppState;
use crate::ui::pages::{Layout, Stamp, render};
use crate::ui::session::{Posted, Session, clear_session_cookie, error_page, over_tls};
use crate::ui::{NOT_FOUND_TEXT, error_parts, error_summary, see_other};
use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use secretstore_core::accounts::check_account_name;
use secretstore_core::{AccountKind, Error, Role, ScopePath};
use serde::Deserialize;
use std::collections::HashMap;
use zeroize::Zeroizing;

/// One role of an account, with what its revoke form sends back.
pub(crate) struct RoleRow {
    pub(crate) role: &'static str,
    pub(crate) scope: String,
    /// As the command line writes it: `member acme/platform`.
    pub(crate) shown: String,
}

/// One API token's public facts (never the token).
pub(crate) struct TokenRow {
    pub(crate) id: String,
    pub(crate) created: Stamp,
    pub(crate) revoked: Option<Stamp>,
}

/// One account.
pub(crate) struct AccountRow {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) created: Stamp,
    pub(crate) roles: Vec<RoleRow>,
    pub(crate) tokens: Vec<TokenRow>,
    /// How many live web UI sessions it has.
    pub(crate) sessions: usize,
    /// The account signed in on this page.
    pub(crate) is_me: bool,
}

/// A token just made: only in the page that answers its POST.
pub(crate) struct Minted {
    pub(crate) account: String,
    pub(crate) id: String,
    pub(crate) token: Zeroizing<String>,
}

#[derive(Template)]
#[template(path = "accounts.html")]
pub(crate) struct AccountsPage {
    pub(crate) layout: Layout,
    pub(crate) csrf: String,
    pub(crate) accounts: Vec<AccountRow>,
    pub(crate) minted: Option<Minted>,
    /// The new-account form after a failed attempt (the name only when it is a valid one).
    pub(crate) form_name: String,
    pub(crate) form_kind: String,
}

/// What the page shows besides the accounts.
#[derive(Default)]
struct Extras {
    notice: Option<String>,
    error: Option<Error>,
    minted: Option<Minted>,
    form_name: String,
    form_kind: String,
}

/// Anyone but root: the 404 page of a missing address.
fn not_root(s: &Session) -> Option<Response> {
    (!s.who.is_root()).then(|| missing(Some(s)))
}

fn missing(s: Option<&Session>) -> Response {
    error_page(s, StatusCode::NOT_FOUND, NOT_FOUND_TEXT)
}

/// `GET /ui/accounts[?done=…&account=…]`.
pub(crate) async fn page(State(st): State<AppState>, s: Session, uri: Uri) -> Response {
    if let Some(r) = not_root(&s) {
        return r;
    }
    let extras = Extras {
        notice: done_notice(&uri),
        ..Extras::default()
    };
    view(&st, &s, extras).await
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
    account: Option<String>,
    n: Option<usize>,
}

/// The notice of a redirect after a form: from fixed words and a valid account name only.
fn done_notice(uri: &Uri) -> Option<String> {
    let q: Done = serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let a = q.account.filter(|a| check_account_name(a).is_ok())?;
    Some(match q.done.as_deref()? {
        "created" => format!("Account {a} created. It has no role and no token yet."),
        "granted" => format!("Role granted to {a}."),
        "grant-revoked" => format!("Role revoked from {a}."),
        "token-revoked" => {
            format!("Token of {a} revoked: it no longer works, and its sessions ended.")
        }
        "sessions-ended" => match q.n.unwrap_or(0) {
            1 => format!("Ended 1 session of {a}."),
            n => format!("Ended {n} sessions of {a}."),
        },
        _ => return None,
    })
}

fn role_row(r: &Role) -> RoleRow {
    RoleRow {
        role: r.name(),
        scope: r.scope().map(|s| s.to_string()).unwrap_or_default(),
        shown: r.to_string(),
    }
}

/// The accounts page with `extras`; its status is the error's, if there is one.
async fn view(st: &AppState, s: &Session, extras: Extras) -> Response {
    let rows = async {
        let accounts = st.svc.accounts(&s.who).await?;
        let mut sessions: HashMap<String, usize> = HashMap::new();
        for x in st.svc.sessions(&s.who).await? {
            *sessions.entry(x.account).or_default() += 1;
        }
        let mut rows = Vec::with_capacity(accounts.len());
        for a in accounts {
            let tokens = st.svc.tokens(&s.who, &a.name).await?;
            rows.push(AccountRow {
                kind: a.kind.as_str(),
                created: Stamp::new(a.created_at),
                roles: a.roles.iter().map(role_row).collect(),
                tokens: tokens
                    .into_iter()
                    .map(|t| TokenRow {
                        id: t.id,
                        created: Stamp::new(t.created_at),
                        revoked: t.revoked_at.map(Stamp::new),
                    })
                    .collect(),
                sessions: sessions.get(&a.name).copied().unwrap_or(0),
                is_me: a.name == s.who.account,
                name: a.name,
            });
        }
        Ok::<_, Error>(rows)
    }
    .await;
    let rows = match rows {
        Ok(r) => r,
        Err(e @ Error::Forbidden(_)) => {
            let mut res = missing(Some(s));
            error_summary(&e).attach(&mut res);
            return res;
        }
        Err(e) => return s.error(&e),
    };
    let mut layout = Layout::new("Accounts", Some(s.nav()), "accounts");
    layout.notice = extras.notice;
    let mut status = StatusCode::OK;
    if let Some(e) = &extras.error {
        let (st, message) = match e {
            // Root may see every account and scope: what is missing is named (by
            // checked names only: the service's own words).
            Error::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            _ => error_parts(e),
        };
        status = st;
        layout.error = Some(message);
    }
    let page = AccountsPage {
        layout,
        csrf: s.csrf.clone(),
        accounts: rows,
        minted: extras.minted,
        form_name: extras.form_name,
        form_kind: extras.form_kind,
    };
    let mut res = render(status, &page);
    if let Some(e) = &extras.error {
        error_summary(e).attach(&mut res);
    }
    res
}

/// A failed form: the accounts page again, with the error in the product's words.
async fn failed(st: &AppState, s: &Session, e: Error) -> Response {
    let extras = Extras {
        error: Some(e),
        ..Extras::default()
    };
    view(st, s, extras).await
}

#[derive(Deserialize)]
struct NewAccount {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

/// `POST /ui/accounts`: a new account (`name`, `kind`: person or service).
pub(crate) async fn create_account(State(st): State<AppState>, req: Request) -> Response {
    let Posted { session: s, form } = match Posted::<NewAccount>::gated(req, &st, not_root).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let name = form.name.trim();
    let kind = match form.kind.trim() {
        "" => "person",
        k => k,
    };
    let result = async {
        // Said without the input: someone may have pasted a token into the field.
        check_account_name(name).map_err(|_| {
            Error::Invalid(
                "invalid account name: must match [a-z0-9][a-z0-9_.-]{0,62} (lower-case \
                 letters, digits, _, . and -, like alice)"
                    .into(),
            )
        })?;
        let kind = AccountKind::parse(kind)
            .map_err(|_| Error::Invalid("unknown account kind: person or service".into()))?;
        st.svc.create_account(&s.who, name, kind).await
    }
    .await;
    match result {
        Ok(a) => see_other(&format!("/ui/accounts?done=created&account={}", a.name)),
        Err(e) => {
            // The name is shown back only when it is a valid one: it is never a token.
            let extras = Extras {
                form_name: check_account_name(name)
                    .map(|()| name.to_owned())
                    .unwrap_or_default(),
                form_kind: AccountKind::parse(kind)
                    .map(|k| k.as_str().to_owned())
                    .unwrap_or_default(),
                error: Some(e),
                ..Extras::default()
            };
            view(&st, &s, extras).await
        }
    }
}

/// What a URL under `/ui/accounts/` names: an account and one of its forms.
#[derive(Debug, PartialEq)]
enum Action<'a> {
    Grant,
    RevokeGrant,
    MintToken,
    RevokeToken(&'a str),
    EndSessions,
}

/// `alice/grants` → (`alice`, [`Action::Grant`]); the name is checked, an unknown shape
/// is `None`.
fn parse_action(rest: &str) -> Option<(&str, Action<'_>)> {
    let segs: Vec<&str> = rest.split('/').collect();
    let action = match segs.get(1..)? {
        ["grants"] => Action::Grant,
        ["grants", "revoke"] => Action::RevokeGrant,
        ["tokens"] => Action::MintToken,
        ["tokens", id, "revoke"] if secretstore_core::random::is_uuid(id) => {
            Action::RevokeToken(id)
        }
        ["sessions", "end"] => Action::EndSessions,
        _ => return None,
    };
    let name = segs[0];
    check_account_name(name).ok()?;
    Some((name, action))
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    scope: String,
}

impl RoleForm {
    /// The role as the command line and the API take it: `ROLE [SCOPE]`. What is not a
    /// role name or a scope path is refused without being shown back (a token pasted into
    /// the field is never echoed); the rest is the service's words.
    fn role(&self) -> Result<Role, Error> {
        let role = self.role.trim();
        if !matches!(role, "root" | "admin" | "member" | "dispatcher") {
            return Err(Error::Invalid(
                "unknown role: one of root, admin ORG, member ORG/TEAM, dispatcher ORG".into(),
            ));
        }
        let scope = self.scope.trim();
        if !scope.is_empty() && ScopePath::parse(scope).is_err() {
            return Err(Error::Invalid(
                "invalid scope: a path of lower-case segments ([a-z0-9][a-z0-9_-]{0,62}) \
                 separated by /, like acme/platform"
                    .into(),
            ));
        }
        Role::parse(role, (!scope.is_empty()).then_some(scope))
    }
}

/// `POST /ui/accounts/{name}/…`: the forms of one account.
pub(crate) async fn account_post(State(st): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let target = path
        .strip_prefix("/ui/accounts/")
        .and_then(parse_action)
        .map(|(n, a)| (n.to_owned(), a));
    let Some((name, action)) = target else {
        // An unknown address: the 404 page, exactly like any missing page.
        let (mut parts, _) = req.into_parts();
        let MaybeSession(s) = match MaybeSession::from_request_parts(&mut parts, &st).await {
            Ok(m) => m,
            Err(never) => match never {},
        };
        return missing(s.as_ref());
    };
    match action {
        Action::Grant | Action::RevokeGrant => {
            let Posted { session: s, form } =
                match Posted::<RoleForm>::gated(req, &st, not_root).await {
                    Ok(p) => p,
                    Err(r) => return r,
                };
            let revoke = action == Action::RevokeGrant;
            let result = async {
                let role = form.role()?;
                if revoke {
                    st.svc.revoke_grant(&s.who, &name, &role).await
                } else {
                    st.svc.grant(&s.who, &name, &role).await
                }
            }
            .await;
            let done = if revoke { "grant-revoked" } else { "granted" };
            match result {
                Ok(_) => see_other(&format!("/ui/accounts?done={done}&account={name}")),
                Err(e) => failed(&st, &s, e).await,
            }
        }
        Action::MintToken => {
            let Posted { session: s, .. } =
                match Posted::<NoFields>::gated(req, &st, not_root).await {
                    Ok(p) => p,
                    Err(r) => return r,
                };
            match st.svc.create_token(&s.who, &name).await {
                // The answer to this POST is the only page that ever holds the token:
                // never a redirect, and the page is `no-store`.
                Ok((info, token)) => {
                    let extras = Extras {
                        notice: Some(format!(
                            "New API token for {name} made. Copy it now: it will not be shown again."
                        )),
                        minted: Some(Minted {
                            account: info.account,
                            id: info.id,
                            token: Zeroizing::new(token.expose_secret().to_owned()),
                        }),
                        ..Extras::default()
                    };
                    view(&st, &s, extras).await
                }
                Err(e) => failed(&st, &s, e).await,
            }
        }
        Action::RevokeToken(id) => {
            let id = id.to_owned();
            let Posted { session: s, .. } =
                match Posted::<NoFields>::gated(req, &st, not_root).await {
                    Ok(p) => p,
                    Err(r) => return r,
                };
            let result = async {
                // Only a token of the account the form was for: a stale page never
                // revokes someone else's.
                let tokens = st.svc.tokens(&s.who, &name).await?;
                if !tokens.iter().any(|t| t.id == id && t.revoked_at.is_none()) {
                    return Err(Error::NotFound(format!("{name} has no active token {id}")));
                }
                st.svc.revoke_token(&s.who, &id).await
            }
            .await;
            match result {
                Ok(()) => see_other(&format!("/ui/accounts?done=token-revoked&account={name}")),
                Err(Error::NotFound(_)) => {
                    failed(
                        &st,
                        &s,
                        Error::Invalid(format!(
                            "{name} has no active token {id}: it may have been revoked already; nothing was changed"
                        )),
                    )
                    .await
                }
                Err(e) => failed(&st, &s, e).await,
            }
        }
        Action::EndSessions => {
            let (parts, body) = req.into_parts();
            let tls = over_tls(&parts);
            let req = Request::from_parts(parts, body);
            let Posted { session: s, .. } =
                match Posted::<NoFields>::gated(req, &st, not_root).await {
                    Ok(p) => p,
                    Err(r) => return r,
                };
            match st.svc.end_account_sessions(&s.who, &name).await {
                Ok(ended) if ended.contains(&s.public_id) => {
                    // This very session ended too: signed out.
                    let mut res = see_other("/ui/login");
                    res.headers_mut()
                        .append(header::SET_COOKIE, clear_session_cookie(tls));
                    res
                }
                Ok(ended) => see_other(&format!(
                    "/ui/accounts?done=sessions-ended&account={name}&n={}",
                    ended.len()
                )),
                Err(e) => failed(&st, &s, e).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_urls_name_an_account_and_a_form() {
        let id = "0b7c5f0e-2a61-4c1e-9f43-3d1b2a4c5e6f";
        assert_eq!(parse_action("alice/grants"), Some(("alice", Action::Grant)));
        assert_eq!(
            parse_action("a.b-c/grants/revoke"),
            Some(("a.b-c", Action::RevokeGrant))
        );
        assert_eq!(parse_action("ci/tokens"), Some(("ci", Action::MintToken)));
        assert_eq!(
            parse_action(&format!("ci/tokens/{id}/revoke")),
            Some(("ci", Action::RevokeToken(id)))
        );
        assert_eq!(
            parse_action("ci/sessions/end"),
            Some(("ci", Action::EndSessions))
        );
        for bad in [
            "",
            "alice",
            "alice/",
            "Alice/grants",
            "alice/grants/x",
            "alice/tokens/not-an-id/revoke",
            "alice/tokens/sst_AAAA/revoke",
            "../grants",
            "alice/sessions",
            "%61lice/grants",
        ] {
            assert_eq!(parse_action(bad), None, "{bad}");
        }
    }

    #[test]
    fn notices_come_from_fixed_words_and_valid_names_only() {
        let n = |q: &str| done_notice(&format!("/ui/accounts?{q}").parse::<Uri>().unwrap());
        assert_eq!(
            n("done=granted&account=alice").as_deref(),
            Some("Role granted to alice.")
        );
        assert_eq!(
            n("done=sessions-ended&account=bob&n=2").as_deref(),
            Some("Ended 2 sessions of bob.")
        );
        assert_eq!(n("done=granted&account=%3Cb%3E"), None);
        assert_eq!(n("done=other&account=alice"), None);
        assert_eq!(n("account=alice"), None);
    }
}
