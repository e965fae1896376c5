//! The pages: one askama template each (crates/server/templates/), compiled into the
//! binary. Every template escapes what it prints (HTML-escaping is askama's default for
//! `.html` templates); none of them holds a value except the secret page after a reveal.

use super::html;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::fmt;
use zeroize::Zeroizing;

/// Renders a page; a template error is a 500 (and a log line, never the page's content).
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "template error");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The navigation bar of a signed-in user.
pub struct Nav {
    pub account: String,
    pub roles: String,
    pub csrf: String,
    /// Whether to link the audit log.
    pub audit: bool,
}

/// What every page has around its content.
pub struct Layout {
    pub title: String,
    pub nav: Option<Nav>,
    /// Which top-level section is current: `scopes`, `briefs`, `audit` or none.
    pub section: &'static str,
    /// A confirmation of what was just done.
    pub notice: Option<String>,
    /// What went wrong with the last form.
    pub error: Option<String>,
}

impl Layout {
    pub fn new(title: impl Into<String>, nav: Option<Nav>, section: &'static str) -> Self {
        Layout {
            title: title.into(),
            nav,
            section,
            notice: None,
            error: None,
        }
    }
}

/// A timestamp (`2026-11-29T14:00:00Z`), shown as `2026-11-29 14:00 UTC`.
pub struct Stamp {
    pub iso: String,
}

impl Stamp {
    pub fn new(iso: impl Into<String>) -> Self {
        Stamp { iso: iso.into() }
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.iso.get(..10), self.iso.get(11..16)) {
            (Some(d), Some(t)) if self.iso.ends_with('Z') => write!(f, "{d} {t} UTC"),
            _ => f.write_str(&self.iso),
        }
    }
}

/// A link to a scope.
pub struct Crumb {
    pub path: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub heading: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    /// The sign-in form's double-submit token.
    pub csrf: String,
}

/// One scope of the tree, with the scopes under it.
pub struct Node {
    pub path: String,
    pub name: String,
    pub level: &'static str,
    pub children: Vec<Node>,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub layout: Layout,
    pub csrf: String,
    pub roles: String,
    pub tree: Vec<Node>,
    pub can_create_org: bool,
}

/// A secret stored at the scope shown.
pub struct OwnRow {
    pub name: String,
    pub category: String,
    pub backend: String,
    pub version: i64,
    pub updated: Stamp,
    pub by: String,
    /// The broader scopes' secrets of the same name that this one hides: `acme (v2)`.
    pub shadows: Vec<String>,
}

/// A secret of a broader scope, as seen from the scope shown.
pub struct InheritedRow {
    pub name: String,
    pub scope: String,
    pub category: String,
    pub backend: String,
    pub version: i64,
    pub updated: Stamp,
    pub by: String,
    /// The narrower scope whose secret of the same name wins over this one.
    pub shadowed_by: Option<String>,
}

/// What a task under the scope shown gets for one name.
pub struct EffectiveRow {
    pub name: String,
    pub scope: String,
    pub version: i64,
    /// Whether the winner is stored at the scope shown.
    pub here: bool,
}

#[derive(Template)]
#[template(path = "scope.html")]
pub struct ScopePage {
    pub layout: Layout,
    pub csrf: String,
    pub path: String,
    pub level: &'static str,
    pub crumbs: Vec<Crumb>,
    /// Projects hold no secrets: only the effective view.
    pub holds_secrets: bool,
    pub own: Vec<OwnRow>,
    pub inherited: Vec<InheritedRow>,
    pub effective: Vec<EffectiveRow>,
    pub children: Vec<Crumb>,
    /// The level of a new child scope, if the user may create one here.
    pub child_level: Option<&'static str>,
    pub can_write: bool,
    pub categories: Vec<&'static str>,
    /// The new-secret form's name and category after a failed attempt (never the value).
    pub form_name: String,
    pub form_category: String,
    pub audit_link: bool,
}

/// One version of a secret's history.
pub struct VersionRow {
    pub version: i64,
    pub at: Stamp,
    pub by: String,
    pub backend_version: Option<String>,
    pub rollback_of: Option<i64>,
    pub current: bool,
}

/// The value that a reveal answered (audited): only in the page that answers the POST.
pub struct Revealed {
    pub version: i64,
    pub value: Zeroizing<String>,
}

#[derive(Template)]
#[template(path = "secret.html")]
pub struct SecretPage {
    pub layout: Layout,
    pub csrf: String,
    pub scope: String,
    pub crumbs: Vec<Crumb>,
    pub name: String,
    pub category: String,
    pub backend: String,
    pub version: i64,
    pub created: Stamp,
    pub updated: Stamp,
    pub by: String,
    pub history: Vec<VersionRow>,
    pub can_write: bool,
    pub can_reveal: bool,
    pub revealed: Option<Revealed>,
    /// Broader scopes holding the same name, which this secret shadows: `acme (v1)`.
    pub shadows: Vec<String>,
}

#[derive(Template)]
#[template(path = "delete.html")]
pub struct DeletePage {
    pub layout: Layout,
    pub csrf: String,
    pub scope: String,
    pub crumbs: Vec<Crumb>,
    pub name: String,
    pub version: i64,
}

/// One dispatch.
pub struct BriefRow {
    pub id: String,
    pub task_id: String,
    pub project: String,
    pub created: Stamp,
    pub status: String,
    pub completed: Option<Stamp>,
    pub stale: Vec<String>,
}

impl BriefRow {
    pub fn running(&self) -> bool {
        self.status == "running"
    }

    /// The first block of the brief id: enough to tell briefs apart on the page (the whole
    /// id is the cell's title and the row's `data-brief`).
    pub fn short_id(&self) -> String {
        short(&self.id)
    }

    pub fn short_task(&self) -> String {
        short(&self.task_id)
    }

    pub fn stale_names(&self) -> String {
        self.stale.join(" ")
    }
}

fn short(id: &str) -> String {
    match id.split_once('-') {
        Some((head, _)) => format!("{head}…"),
        None => id.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "briefs.html")]
pub struct BriefsPage {
    pub layout: Layout,
    pub briefs: Vec<BriefRow>,
}

/// One audit record.
pub struct AuditRow {
    pub at: Stamp,
    pub actor: String,
    pub action: String,
    pub scope: String,
    pub name: String,
    pub version: String,
    pub target: String,
    pub source: String,
    pub detail: String,
}

impl AuditRow {
    /// A task or brief id, shortened like the briefs page does; other targets as they are.
    pub fn short_target(&self) -> String {
        if self.target.len() == 36 && self.target.matches('-').count() == 4 {
            short(&self.target)
        } else {
            self.target.clone()
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub scope: Option<String>,
    pub limit: i64,
    pub records: Vec<AuditRow>,
}

/// One web UI session.
pub struct SessionRow {
    pub id: String,
    pub account: String,
    pub token_id: String,
    pub created: Stamp,
    pub expires: Stamp,
    pub source: String,
    /// The session of this very page.
    pub current: bool,
}

impl SessionRow {
    pub fn short_token(&self) -> String {
        short(&self.token_id)
    }
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub struct SessionsPage {
    pub layout: Layout,
    pub csrf: String,
    /// Root's view: every account's sessions.
    pub all: bool,
    pub sessions: Vec<SessionRow>,
}
