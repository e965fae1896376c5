//! The UI's handlers. Each one calls the service with the session's principal, so what a
//! user sees and may do is exactly what the API allows them.

use super::pages::*;
use super::session::{
    self, Posted, Session, clear_login_cookie, clear_session_cookie, error_page, login_token,
    login_token_matches, over_tls, session_cookie,
};
use super::{NOT_FOUND_TEXT, error_parts, see_other};
use crate::{AppState, auth};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use secretstore_core::{
    Access, Action, Category, Error, Level, ScopePath, SecretMeta, SecretName, SecretValue,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::str::FromStr;
use zeroize::Zeroizing;

/// How many briefs and audit records a page shows.
const BRIEFS_SHOWN: i64 = 100;
const AUDIT_SHOWN: i64 = 200;

/// The session, if the request has a valid one.
pub struct MaybeSession(pub Option<Session>);

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Infallible> {
        Ok(MaybeSession(
            Session::from_request_parts(parts, st).await.ok(),
        ))
    }
}

/// `GET`/`POST /ui/{anything else}`: the 404 page.
pub async fn not_found(MaybeSession(s): MaybeSession) -> Response {
    error_page(s.as_ref(), StatusCode::NOT_FOUND, NOT_FOUND_TEXT)
}

/// Another method than the route takes: the 405 page.
pub async fn method_not_allowed(MaybeSession(s): MaybeSession) -> Response {
    error_page(
        s.as_ref(),
        StatusCode::METHOD_NOT_ALLOWED,
        "This address does not take that method.",
    )
}

fn err_not_found() -> Error {
    Error::NotFound("no such page".into())
}

// ---------------------------------------------------------------------------------------
// Sign-in and sign-out

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
pub async fn login_form(MaybeSession(s): MaybeSession, parts: Parts) -> Response {
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
pub async fn login(State(st): State<AppState>, req: Request) -> Response {
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
        Err(e) => {
            let (status, message) = error_parts(&e);
            error_page(None, status, &message)
        }
    }
}

#[derive(Deserialize)]
pub struct NoFields {}

/// `POST /ui/logout`: ends the session (CSRF-checked like every form).
pub async fn logout(
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

// ---------------------------------------------------------------------------------------
// Scopes

fn level_name(depth: usize) -> Option<&'static str> {
    [
        Level::Organization,
        Level::Team,
        Level::Workspace,
        Level::Project,
    ]
    .get(depth.wrapping_sub(1))
    .map(|l| l.as_str())
}

fn segment_name(path: &ScopePath) -> String {
    path.as_str()
        .rsplit('/')
        .next()
        .unwrap_or(path.as_str())
        .to_owned()
}

fn crumbs(path: &ScopePath) -> Vec<Crumb> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for seg in path.as_str().split('/') {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(seg);
        out.push(Crumb {
            path: acc.clone(),
            name: seg.to_owned(),
        });
    }
    out
}

fn tree(all: &[ScopePath], parent: Option<&ScopePath>) -> Vec<Node> {
    all.iter()
        .filter(|s| s.parent().as_ref() == parent)
        .map(|s| Node {
            path: s.to_string(),
            name: segment_name(s),
            level: s.level().as_str(),
            children: tree(all, Some(s)),
        })
        .collect()
}

/// `GET /ui/`: the scopes the account may see, as a tree.
pub async fn home(State(st): State<AppState>, s: Session) -> Response {
    let scopes = match st.svc.scopes(&s.who).await {
        Ok(v) => v,
        Err(e) => return s.error(&e),
    };
    // A member sees its organization only for its org-wide secrets: a tree still starts there.
    let page = HomePage {
        layout: Layout::new("Scopes", Some(s.nav()), "scopes"),
        csrf: s.csrf.clone(),
        roles: s.nav().roles,
        tree: tree(&scopes, None),
        can_create_org: s.who.is_root(),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct NewScope {
    #[serde(default)]
    parent: String,
    #[serde(default)]
    name: String,
}

/// `POST /ui/scopes`: a new organization, team, workspace or project.
pub async fn create_scope(
    State(st): State<AppState>,
    posted: Result<Posted<NewScope>, Response>,
) -> Response {
    let Posted { session: s, form } = match posted {
        Ok(p) => p,
        Err(r) => return r,
    };
    let name = form.name.trim();
    let path = if form.parent.is_empty() {
        name.to_owned()
    } else {
        format!("{}/{name}", form.parent)
    };
    let result = async {
        let parsed = ScopePath::parse(&path)?;
        st.svc
            .create_scope(&s.who, parsed.as_str(), parsed.level())
            .await
    }
    .await;
    match result {
        Ok(p) => see_other(&format!("/ui/scopes/{p}?done=scope-created")),
        Err(e) => s.error(&e),
    }
}

/// What a URL under `/ui/scopes/` names. Scope segments are lower case and secret names
/// upper case, so a name is never mistaken for a scope (and `secrets` as a segment is
/// only special where a name follows it, or at the end of a POST).
#[derive(Debug, PartialEq)]
enum Target<'a> {
    Scope(&'a str),
    Collection(&'a str),
    Secret(&'a str, &'a str),
    SecretAction(&'a str, &'a str, &'a str),
}

fn looks_like_name(s: &str) -> bool {
    s.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
}

fn parse_target(rest: &str, post: bool) -> Option<Target<'_>> {
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let prefix = |k: usize| -> Option<&str> {
        let len: usize = segs[..k].iter().map(|s| s.len()).sum::<usize>() + k.saturating_sub(1);
        (k > 0).then(|| &rest[..len])
    };
    if n >= 4
        && segs[n - 3] == "secrets"
        && looks_like_name(segs[n - 2])
        && let Some(a @ ("rotate" | "reveal" | "rollback" | "delete")) = segs.get(n - 1).copied()
    {
        return Some(Target::SecretAction(prefix(n - 3)?, segs[n - 2], a));
    }
    if n >= 3 && segs[n - 2] == "secrets" && looks_like_name(segs[n - 1]) {
        return Some(Target::Secret(prefix(n - 2)?, segs[n - 1]));
    }
    if post {
        return (n >= 2 && segs[n - 1] == "secrets")
            .then(|| Target::Collection(&rest[..rest.len() - "/secrets".len()]));
    }
    Some(Target::Scope(rest))
}

fn rest_of(uri: &Uri) -> &str {
    uri.path().strip_prefix("/ui/scopes/").unwrap_or("")
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
    name: Option<String>,
}

fn done_notice(uri: &Uri) -> Option<String> {
    let q: Done = serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let name = q
        .name
        .as_deref()
        .and_then(|n| SecretName::parse_existing(n).ok())
        .map(|n| n.to_string());
    Some(match (q.done.as_deref()?, name) {
        ("created", _) => "Secret created: version 1 is stored.".to_owned(),
        ("rotated", _) => "New version saved. The next dispatch gets it.".to_owned(),
        ("rolled-back", _) => "Rolled back: a new version now holds the earlier value.".to_owned(),
        ("deleted", Some(n)) => format!("Deleted {n} and its history."),
        ("scope-created", _) => "Created.".to_owned(),
        _ => return None,
    })
}

/// `GET /ui/scopes/…`: a scope, a secret, or the confirmation of a deletion.
pub async fn scope_get(State(st): State<AppState>, s: Session, uri: Uri) -> Response {
    let notice = done_notice(&uri);
    let result = match parse_target(rest_of(&uri), false) {
        Some(Target::Scope(p)) => {
            let extras = Extras {
                notice,
                ..Extras::default()
            };
            scope_view(&st, &s, p, extras).await
        }
        Some(Target::Secret(p, n)) => {
            let extras = Extras {
                notice,
                ..Extras::default()
            };
            secret_view(&st, &s, p, n, None, extras).await
        }
        Some(Target::SecretAction(p, n, "delete")) => delete_view(&st, &s, p, n).await,
        _ => Err(err_not_found()),
    };
    result.unwrap_or_else(|e| s.error(&e))
}

/// What a re-rendered page adds: a notice, or a form's error with its status.
#[derive(Default)]
struct Extras {
    notice: Option<String>,
    error: Option<(StatusCode, String)>,
    form_name: String,
    form_category: String,
}

impl Extras {
    fn failed(e: &Error) -> Self {
        let (status, message) = error_parts(e);
        Extras {
            error: Some((status, message)),
            ..Extras::default()
        }
    }

    fn layout(self, title: String, s: &Session) -> (Layout, StatusCode) {
        let mut layout = Layout::new(title, Some(s.nav()), "scopes");
        layout.notice = self.notice;
        let status = match self.error {
            Some((status, message)) => {
                layout.error = Some(message);
                status
            }
            None => StatusCode::OK,
        };
        (layout, status)
    }
}

/// Secrets of each scope of `chain`, narrowest first, that the user may read. A scope
/// of the chain the user may not read (or that is gone) is left out; any other error
/// stops the page.
async fn chain_lists(
    st: &AppState,
    s: &Session,
    chain: &[ScopePath],
) -> Result<Vec<(ScopePath, Vec<SecretMeta>)>, Error> {
    let mut out = Vec::with_capacity(chain.len());
    for c in chain {
        match st.svc.list(&s.who, c.as_str()).await {
            Ok(v) => out.push((c.clone(), v)),
            Err(Error::NotFound(_) | Error::Forbidden(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn version_label(m: &SecretMeta) -> String {
    format!("{} (v{})", m.scope, m.version)
}

async fn scope_view(
    st: &AppState,
    s: &Session,
    path: &str,
    extras: Extras,
) -> Result<Response, Error> {
    let scope = ScopePath::parse(path).map_err(|_| err_not_found())?;
    // One rule for every level: a scope is shown if it exists and the account sees it;
    // a hidden scope and a missing one get the same 404 page.
    let visible = st.svc.scopes(&s.who).await?;
    if !visible.contains(&scope) {
        return Err(err_not_found());
    }
    let holds_secrets = scope.level() != Level::Project;
    let chain = scope.resolution_chain();
    let lists = chain_lists(st, s, &chain).await?;
    let (own, broader): (Vec<_>, Vec<_>) = lists.into_iter().partition(|(c, _)| *c == scope);
    let own: Vec<SecretMeta> = own.into_iter().flat_map(|(_, v)| v).collect();

    // The winner of each name: the narrowest scope of the chain that holds it.
    let mut winners: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for m in own.iter().chain(broader.iter().flat_map(|(_, v)| v.iter())) {
        winners
            .entry(m.name.clone())
            .or_insert_with(|| (m.scope.clone(), m.version));
    }
    let own_rows = own
        .iter()
        .map(|m| OwnRow {
            name: m.name.clone(),
            category: m.category.to_string(),
            backend: m.backend.to_string(),
            version: m.version,
            updated: Stamp::new(&m.updated_at),
            by: m.updated_by.clone(),
            shadows: broader
                .iter()
                .flat_map(|(_, v)| v.iter())
                .filter(|b| b.name == m.name)
                .map(version_label)
                .collect(),
        })
        .collect();
    let inherited = broader
        .iter()
        .flat_map(|(_, v)| v.iter())
        .map(|m| InheritedRow {
            name: m.name.clone(),
            scope: m.scope.clone(),
            category: m.category.to_string(),
            backend: m.backend.to_string(),
            version: m.version,
            updated: Stamp::new(&m.updated_at),
            by: m.updated_by.clone(),
            shadowed_by: winners
                .get(&m.name)
                .filter(|(w, _)| *w != m.scope)
                .map(|(w, _)| w.clone()),
        })
        .collect();
    let effective = winners
        .into_iter()
        .map(|(name, (scope_of, version))| EffectiveRow {
            here: scope_of == scope.as_str(),
            name,
            scope: scope_of,
            version,
        })
        .collect();
    let children = visible
        .iter()
        .filter(|c| c.parent().as_ref() == Some(&scope))
        .map(|c| Crumb {
            path: c.to_string(),
            name: segment_name(c),
        })
        .collect();
    let child_level = ScopePath::parse(&format!("{scope}/x"))
        .ok()
        .filter(|child| s.who.check(Action::CreateScope, child) == Access::Allowed)
        .and_then(|child| level_name(child.depth()));
    let allowed = |a: Action| s.who.check(a, &scope) == Access::Allowed;
    let form_category = if extras.form_category.is_empty() {
        Category::Infrastructure.as_str().to_owned()
    } else {
        extras.form_category.clone()
    };
    let form_name = extras.form_name.clone();
    let (layout, status) = extras.layout(scope.to_string(), s);
    let page = ScopePage {
        layout,
        csrf: s.csrf.clone(),
        path: scope.to_string(),
        level: scope.level().as_str(),
        crumbs: crumbs(&scope),
        holds_secrets,
        own: own_rows,
        inherited,
        effective,
        children,
        child_level,
        can_write: holds_secrets && allowed(Action::Write),
        categories: Category::ALL.iter().map(|c| c.as_str()).collect(),
        form_name,
        form_category,
        audit_link: s.is_admin() && allowed(Action::ReadAudit),
    };
    Ok(render(status, &page))
}

async fn secret_view(
    st: &AppState,
    s: &Session,
    path: &str,
    name: &str,
    revealed: Option<Revealed>,
    extras: Extras,
) -> Result<Response, Error> {
    let meta = st.svc.metadata(&s.who, path, name).await?;
    let history = st.svc.history(&s.who, path, name).await?;
    let scope = ScopePath::parse(&meta.scope)?;
    let broader: Vec<ScopePath> = scope.resolution_chain().into_iter().skip(1).collect();
    let shadows = chain_lists(st, s, &broader)
        .await?
        .into_iter()
        .flat_map(|(_, v)| v)
        .filter(|m| m.name == meta.name)
        .map(|m| version_label(&m))
        .collect();
    let allowed = |a: Action| s.who.check(a, &scope) == Access::Allowed;
    let (layout, status) = extras.layout(format!("{} at {scope}", meta.name), s);
    let page = SecretPage {
        layout,
        csrf: s.csrf.clone(),
        crumbs: crumbs(&scope),
        scope: scope.to_string(),
        name: meta.name.clone(),
        category: meta.category.to_string(),
        backend: meta.backend.to_string(),
        version: meta.version,
        created: Stamp::new(&meta.created_at),
        updated: Stamp::new(&meta.updated_at),
        by: meta.updated_by.clone(),
        history: history
            .into_iter()
            .map(|v| VersionRow {
                version: v.version,
                at: Stamp::new(v.created_at),
                by: v.created_by,
                backend_version: v.backend_version,
                rollback_of: v.rollback_of,
                current: v.version == meta.version,
            })
            .collect(),
        can_write: allowed(Action::Write),
        can_reveal: allowed(Action::ReadValue),
        revealed,
        shadows,
    };
    Ok(render(status, &page))
}

async fn delete_view(
    st: &AppState,
    s: &Session,
    path: &str,
    name: &str,
) -> Result<Response, Error> {
    let meta = st.svc.metadata(&s.who, path, name).await?;
    let scope = ScopePath::parse(&meta.scope)?;
    s.who.require(Action::Write, &scope)?;
    let page = DeletePage {
        layout: Layout::new(format!("Delete {}", meta.name), Some(s.nav()), "scopes"),
        csrf: s.csrf.clone(),
        crumbs: crumbs(&scope),
        scope: scope.to_string(),
        name: meta.name,
        version: meta.version,
    };
    Ok(render(StatusCode::OK, &page))
}

// ---------------------------------------------------------------------------------------
// Secret forms

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
pub async fn scope_post(State(st): State<AppState>, req: Request) -> Response {
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
            .set_secret(&s.who, path, n.as_str(), &value, Some(cat), Some(0))
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
        let value = form_value(form.value)?;
        st.svc
            .set_secret(&s.who, &meta.scope, &meta.name, &value, None, expected)
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

// ---------------------------------------------------------------------------------------
// Briefs and audit

/// `GET /ui/briefs`: recent dispatches, with the secrets rotated since each.
pub async fn briefs(State(st): State<AppState>, s: Session) -> Response {
    let list = match st.svc.recent_briefs(&s.who, BRIEFS_SHOWN).await {
        Ok(v) => v,
        Err(e) => return s.error(&e),
    };
    let page = BriefsPage {
        layout: Layout::new("Briefs", Some(s.nav()), "briefs"),
        briefs: list
            .into_iter()
            .map(|b| BriefRow {
                id: b.brief_id,
                task_id: b.task_id,
                project: b.project,
                created: Stamp::new(b.created_at),
                status: b.status,
                completed: b.completed_at.map(Stamp::new),
                stale: b.stale,
            })
            .collect(),
    };
    render(StatusCode::OK, &page)
}

/// `GET /ui/sessions`: the live sessions the account may see (root: everyone's; others:
/// their own), each with an end button.
pub async fn sessions(State(st): State<AppState>, s: Session) -> Response {
    let list = match st.svc.sessions(&s.who).await {
        Ok(v) => v,
        Err(e) => return s.error(&e),
    };
    let page = SessionsPage {
        layout: Layout::new("Sessions", Some(s.nav()), "sessions"),
        csrf: s.csrf.clone(),
        all: s.who.is_root(),
        sessions: list
            .into_iter()
            .map(|x| SessionRow {
                current: x.id == s.public_id,
                id: x.id,
                account: x.account,
                token_id: x.token_id,
                created: Stamp::new(x.created_at),
                expires: Stamp::new(x.expires_at),
                source: x.source.unwrap_or_default(),
            })
            .collect(),
    };
    render(StatusCode::OK, &page)
}

/// `POST /ui/sessions/{id}/end`: ends a session (CSRF-checked); one's own current session
/// signs out.
pub async fn end_session(State(st): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let head = parts.clone();
    let req = Request::from_parts(parts, body);
    let id = head
        .uri
        .path()
        .strip_prefix("/ui/sessions/")
        .and_then(|r| r.strip_suffix("/end"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(str::to_owned);
    let posted = Posted::<NoFields>::from_request(req, &st).await;
    let Posted { session, .. } = match posted {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(id) = id else {
        return session.error(&err_not_found());
    };
    if let Err(e) = st.svc.end_session(&session.who, &id).await {
        return session.error(&e);
    }
    if id == session.public_id {
        let mut res = see_other("/ui/login");
        res.headers_mut()
            .append(header::SET_COOKIE, clear_session_cookie(over_tls(&head)));
        return res;
    }
    see_other("/ui/sessions")
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    scope: Option<String>,
}

/// `GET /ui/audit[?scope=PATH]`: the audit log, for root and organization admins.
pub async fn audit(State(st): State<AppState>, s: Session, uri: Uri) -> Response {
    if !s.is_admin() {
        return s.error(&Error::Forbidden(format!(
            "the audit log is for administrators (root or an organization's admin); {} is neither",
            s.who.account
        )));
    }
    let q: AuditQuery = match serde_urlencoded::from_str(uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(_) => {
            return s.error(&Error::Invalid("malformed query".into()));
        }
    };
    let scope = q.scope.filter(|v| !v.is_empty());
    let records = match st
        .svc
        .audit_log(&s.who, scope.as_deref(), AUDIT_SHOWN)
        .await
    {
        Ok(v) => v,
        Err(e) => return s.error(&e),
    };
    let opt = |v: Option<String>| v.unwrap_or_default();
    let page = AuditPage {
        layout: Layout::new("Audit log", Some(s.nav()), "audit"),
        scope,
        limit: AUDIT_SHOWN,
        records: records
            .into_iter()
            .rev()
            .map(|r| AuditRow {
                at: Stamp::new(r.at),
                actor: r.actor,
                action: r.action,
                scope: opt(r.scope),
                name: opt(r.name),
                version: r.version.map(|v| v.to_string()).unwrap_or_default(),
                target: opt(r.target),
                source: opt(r.source),
                detail: r.detail.map(|d| d.to_string()).unwrap_or_default(),
            })
            .collect(),
    };
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        use Target::*;
        assert_eq!(parse_target("acme", false), Some(Scope("acme")));
        assert_eq!(
            parse_target("acme/secrets", false),
            Some(Scope("acme/secrets"))
        );
        assert_eq!(parse_target("acme/secrets", true), Some(Collection("acme")));
        assert_eq!(
            parse_target("acme/secrets/secrets", true),
            Some(Collection("acme/secrets"))
        );
        assert_eq!(parse_target("acme/p", true), None);
        assert_eq!(
            parse_target("acme/p/secrets/DB_URL", false),
            Some(Secret("acme/p", "DB_URL"))
        );
        assert_eq!(
            parse_target("acme/p/secrets/DB_URL/rotate", true),
            Some(SecretAction("acme/p", "DB_URL", "rotate"))
        );
        assert_eq!(
            parse_target("acme/secrets/DB_URL/delete", false),
            Some(SecretAction("acme", "DB_URL", "delete"))
        );
        assert_eq!(
            parse_target("secrets/DB_URL", false),
            Some(Scope("secrets/DB_URL"))
        );
    }

    #[test]
    fn stamps_read_as_utc() {
        assert_eq!(
            Stamp::new("2026-11-29T14:00:05Z").to_string(),
            "2026-11-29 14:00 UTC"
        );
        assert_eq!(Stamp::new("odd").to_string(), "odd");
    }

    #[test]
    fn textarea_line_breaks_become_lf() {
        let v = form_value(Zeroizing::new("a\r\nb\r\n".into())).unwrap();
        assert_eq!(v.expose_secret(), "a\nb\n");
        assert!(form_value(Zeroizing::new(String::new())).is_err());
    }
}
