//! The pages: one askama template each (crates/server/templates/), compiled into the
//! binary. Every template escapes what it prints (HTML-escaping is askama's default for
//! `.html` templates); none of them holds a value except the secret page after a reveal.

use super::html;
use crate::error::ErrorSummary;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secretstore_core::BriefStatus;
use secretstore_core::timestamp::{self, OffsetDateTime};
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Renders a page; a template error is a 500 (and a log line, never the page's content:
/// the error goes into the response's extensions for the request-logging middleware).
pub(crate) fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            let mut res = (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            ErrorSummary {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                message: Arc::from(format!("template error: {e}")),
            }
            .attach(&mut res);
            res
        }
    }
}

/// The navigation bar of a signed-in user.
pub(crate) struct Nav {
    pub(crate) account: String,
    pub(crate) roles: String,
    pub(crate) csrf: String,
    /// Whether to link the audit log.
    pub(crate) audit: bool,
    /// Whether to link the accounts page (root).
    pub(crate) accounts: bool,
}

/// What every page has around its content.
pub(crate) struct Layout {
    pub(crate) title: String,
    pub(crate) nav: Option<Nav>,
    /// Which top-level section is current: `scopes`, `briefs`, `audit` or none.
    pub(crate) section: &'static str,
    /// A confirmation of what was just done.
    pub(crate) notice: Option<String>,
    /// What went wrong with the last form.
    pub(crate) error: Option<String>,
}

impl Layout {
    pub(crate) fn new(title: impl Into<String>, nav: Option<Nav>, section: &'static str) -> Self {
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
pub(crate) struct Stamp {
    pub(crate) iso: String,
}

impl Stamp {
    pub(crate) fn new(at: OffsetDateTime) -> Self {
        Stamp {
            iso: timestamp::format(at),
        }
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

/// How long ago something happened, in the largest whole unit (`just now`, `5 min`,
/// `3 h`, `12 days`); `secs` is the exact age for sorting and for the page's
/// `data-age`.
pub(crate) struct Age {
    pub(crate) secs: i64,
}

impl Age {
    pub(crate) fn since(at: OffsetDateTime) -> Self {
        Age {
            secs: (timestamp::now() - at).whole_seconds().max(0),
        }
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIN: i64 = 60;
        const HOUR: i64 = 60 * MIN;
        const DAY: i64 = 24 * HOUR;
        match self.secs {
            s if s < MIN => f.write_str("just now"),
            s if s < HOUR => write!(f, "{} min", s / MIN),
            s if s < DAY => write!(f, "{} h", s / HOUR),
            s if s < 2 * DAY => f.write_str("1 day"),
            s => write!(f, "{} days", s / DAY),
        }
    }
}

/// A link to a scope.
pub(crate) struct Crumb {
    pub(crate) path: String,
    pub(crate) name: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub(crate) layout: Layout,
    pub(crate) status: u16,
    pub(crate) heading: &'static str,
    pub(crate) message: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub(crate) layout: Layout,
    /// The sign-in form's double-submit token.
    pub(crate) csrf: String,
}

/// One scope of the tree, with the scopes under it.
pub(crate) struct Node {
    pub(crate) path: String,
    pub(crate) name: String,
    pub(crate) level: &'static str,
    pub(crate) children: Vec<Node>,
}

#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct HomePage {
    pub(crate) layout: Layout,
    pub(crate) csrf: String,
    pub(crate) roles: String,
    pub(crate) tree: Vec<Node>,
    pub(crate) can_create_org: bool,
}

/// A secret stored at the scope shown.
pub(crate) struct OwnRow {
    pub(crate) name: String,
    pub(crate) category: String,
    pub(crate) backend: String,
    pub(crate) version: i64,
    pub(crate) updated: Stamp,
    /// The age of the current version.
    pub(crate) age: Age,
    pub(crate) by: String,
    /// The broader scopes' secrets of the same name that this one hides: `acme (v2)`.
    pub(crate) shadows: Vec<String>,
    /// Its current version was found leaked.
    pub(crate) leaked: bool,
    /// Past its maximum age.
    pub(crate) due: bool,
}

/// A secret of a broader scope, as seen from the scope shown.
pub(crate) struct InheritedRow {
    pub(crate) name: String,
    pub(crate) scope: String,
    pub(crate) category: String,
    pub(crate) backend: String,
    pub(crate) version: i64,
    pub(crate) updated: Stamp,
    /// The age of the current version.
    pub(crate) age: Age,
    pub(crate) by: String,
    /// The narrower scope whose secret of the same name wins over this one.
    pub(crate) shadowed_by: Option<String>,
    /// Its current version was found leaked.
    pub(crate) leaked: bool,
    /// Past its maximum age.
    pub(crate) due: bool,
}

/// What a task under the scope shown gets for one name.
pub(crate) struct EffectiveRow {
    pub(crate) name: String,
    pub(crate) scope: String,
    pub(crate) version: i64,
    /// Whether the winner is stored at the scope shown.
    pub(crate) here: bool,
}

#[derive(Template)]
#[template(path = "scope.html")]
pub(crate) struct ScopePage {
    pub(crate) layout: Layout,
    pub(crate) csrf: String,
    pub(crate) path: String,
    pub(crate) level: &'static str,
    pub(crate) crumbs: Vec<Crumb>,
    /// Projects hold no secrets: only the effective view.
    pub(crate) holds_secrets: bool,
    pub(crate) own: Vec<OwnRow>,
    pub(crate) inherited: Vec<InheritedRow>,
    pub(crate) effective: Vec<EffectiveRow>,
    pub(crate) children: Vec<Crumb>,
    /// The level of a new child scope, if the user may create one here.
    pub(crate) child_level: Option<&'static str>,
    pub(crate) can_write: bool,
    pub(crate) categories: Vec<&'static str>,
    /// The new-secret form's name and category after a failed attempt (never the value).
    pub(crate) form_name: String,
    pub(crate) form_category: String,
    pub(crate) audit_link: bool,
    /// The secrets' order: by `name` (the default) or by `age`, oldest first.
    pub(crate) sort: &'static str,
    /// A project's tasks and recent briefs, newest first, for those who may see them
    /// (`None`: not a project, or the user may not).
    pub(crate) work: Option<ProjectWork>,
}

/// What was asked of a project: its tasks and recent dispatches.
pub(crate) struct ProjectWork {
    pub(crate) tasks: Vec<TaskRow>,
    pub(crate) briefs: Vec<BriefRow>,
    pub(crate) limit: i64,
}

/// One version of a secret's history.
pub(crate) struct VersionRow {
    pub(crate) version: i64,
    pub(crate) at: Stamp,
    pub(crate) by: String,
    pub(crate) backend_version: Option<String>,
    pub(crate) rollback_of: Option<i64>,
    pub(crate) current: bool,
}

/// The value that a reveal answered (audited): only in the page that answers the POST.
pub(crate) struct Revealed {
    pub(crate) version: i64,
    pub(crate) value: Zeroizing<String>,
}

#[derive(Template)]
#[template(path = "secret.html")]
pub(crate) struct SecretPage {
    pub(crate) layout: Layout,
    pub(crate) csrf: String,
    pub(crate) scope: String,
    pub(crate) crumbs: Vec<Crumb>,
    pub(crate) name: String,
    pub(crate) category: String,
    pub(crate) backend: String,
    /// `env` or `file`.
    pub(crate) delivery: String,
    pub(crate) version: i64,
    pub(crate) created: Stamp,
    pub(crate) updated: Stamp,
    /// The age of the current version.
    pub(crate) age: Age,
    pub(crate) by: String,
    pub(crate) history: Vec<VersionRow>,
    pub(crate) can_write: bool,
    pub(crate) can_reveal: bool,
    pub(crate) revealed: Option<Revealed>,
    /// Broader scopes holding the same name, which this secret shadows: `acme (v1)`.
    pub(crate) shadows: Vec<String>,
    /// Who was handed the value, for those who may read the audit log here.
    pub(crate) access: Option<AccessList>,
    /// A generator's spec and its leases (a generator has no value to reveal or rotate).
    pub(crate) generator: Option<GeneratorView>,
    /// When its current version was found leaked.
    pub(crate) leaked_at: Option<Stamp>,
    /// The maximum age that applies (`90d`) and where it comes from.
    pub(crate) rotate_every: Option<(String, String)>,
    /// Past its maximum age.
    pub(crate) due: bool,
}

/// A generator on its secret's page: what it mints, never a value (the admin ref is a
/// secret's name; grants are the admin's SQL, not secrets).
pub(crate) struct GeneratorView {
    /// `postgres` or `aws_sts`.
    pub(crate) kind: &'static str,
    /// postgres: the secret that holds the admin connection URL.
    pub(crate) admin_ref: Option<String>,
    /// postgres: the statements run after the role is created.
    pub(crate) grants: Vec<String>,
    /// postgres: how many creation and revocation statements replace the defaults.
    pub(crate) creation: usize,
    pub(crate) revocation: usize,
    /// aws_sts: the role assumed, and whether a session policy narrows it.
    pub(crate) role_arn: Option<String>,
    pub(crate) session_policy: bool,
    /// The longest a lease lives: `1h`, `15m`, `90s`.
    pub(crate) ttl: String,
    /// Its leases the account may see, newest first.
    pub(crate) leases: Vec<LeaseRow>,
}

/// One lease: a credential minted for one ref of one brief. Never the credential.
pub(crate) struct LeaseRow {
    pub(crate) id: String,
    pub(crate) brief_id: String,
    pub(crate) project: String,
    pub(crate) scope: String,
    pub(crate) name: String,
    pub(crate) provider: &'static str,
    pub(crate) principal: String,
    /// `active`, `revoked`, `expired` or `revoking`.
    pub(crate) state: &'static str,
    pub(crate) created: Stamp,
    pub(crate) expires: Stamp,
    pub(crate) revoked: Option<Stamp>,
    pub(crate) reason: Option<&'static str>,
    pub(crate) last_error: Option<String>,
}

impl LeaseRow {
    pub(crate) fn new(l: secretstore_core::Lease) -> Self {
        LeaseRow {
            state: l.state(timestamp::now()),
            id: l.id.to_string(),
            brief_id: l.brief_id.to_string(),
            project: l.project.to_string(),
            scope: l.scope.to_string(),
            name: l.name,
            provider: l.provider.as_str(),
            principal: l.principal,
            created: Stamp::new(l.created_at),
            expires: Stamp::new(l.expires_at),
            revoked: l.revoked_at.map(Stamp::new),
            reason: l.revoke_reason.map(|r| r.as_str()),
            last_error: l.last_error,
        }
    }

    /// The tag class of its state.
    pub(crate) fn state_class(&self) -> &'static str {
        match self.state {
            "active" => "running",
            "revoked" => "ok",
            _ => "revoked",
        }
    }

    /// Whether a revocation may still do something (not revoked yet).
    pub(crate) fn open(&self) -> bool {
        self.state != "revoked"
    }

    pub(crate) fn short_id(&self) -> String {
        short(&self.id)
    }

    pub(crate) fn short_brief(&self) -> String {
        short(&self.brief_id)
    }
}

/// A lease's longest life in its largest exact unit: `12h`, `15m`, `90s`.
pub(crate) fn ttl_text(secs: u64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[derive(Template)]
#[template(path = "leases.html")]
pub(crate) struct LeasesPage {
    pub(crate) layout: Layout,
    pub(crate) csrf: String,
    /// Only the leases not revoked yet.
    pub(crate) open_only: bool,
    pub(crate) leases: Vec<LeaseRow>,
    pub(crate) limit: i64,
}

/// A page of a secret's accesses on its page.
pub(crate) struct AccessList {
    /// The time filter, as the form shows it (empty: none).
    pub(crate) since: String,
    pub(crate) rows: Vec<AccessRow>,
    /// The links to the older and newer pages, if there are such.
    pub(crate) older: Option<String>,
    pub(crate) newer: Option<String>,
}

/// One reveal or dispatch of a secret.
pub(crate) struct AccessRow {
    pub(crate) at: Stamp,
    /// `reveal` or `dispatch`.
    pub(crate) kind: &'static str,
    pub(crate) actor: String,
    pub(crate) version: Option<i64>,
    /// The brief a dispatch handed the value to.
    pub(crate) brief: Option<String>,
    /// That brief's status, if the account may see it.
    pub(crate) status: Option<BriefStatus>,
    /// A running brief holding an older version than the current one.
    pub(crate) holds_old: bool,
    pub(crate) source: String,
}

impl AccessRow {
    pub(crate) fn short_brief(&self) -> String {
        self.brief.as_deref().map(short).unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "delete.html")]
pub(crate) struct DeletePage {
    pub(crate) layout: Layout,
    pub(crate) csrf: String,
    pub(crate) scope: String,
    pub(crate) crumbs: Vec<Crumb>,
    pub(crate) name: String,
    pub(crate) version: i64,
}

/// One dispatch.
pub(crate) struct BriefRow {
    pub(crate) id: String,
    pub(crate) task_id: String,
    pub(crate) project: String,
    pub(crate) created: Stamp,
    pub(crate) status: BriefStatus,
    pub(crate) completed: Option<Stamp>,
    pub(crate) stale: Vec<String>,
    /// `env` or `sealed`.
    pub(crate) delivery: &'static str,
    /// A sealed brief's boot token: `waiting`, `redeemed`, `replayed` or `expired`.
    pub(crate) boot: Option<&'static str>,
    /// A value it handed out was found in what its agent produced.
    pub(crate) leaked: bool,
}

impl BriefRow {
    /// The tag class of a boot token's state: replayed and expired stand out.
    pub(crate) fn boot_class(&self) -> &'static str {
        match self.boot {
            Some("replayed" | "expired") => "revoked",
            Some("waiting") => "running",
            _ => "ok",
        }
    }

    pub(crate) fn running(&self) -> bool {
        self.status == BriefStatus::Running
    }

    pub(crate) fn revoked(&self) -> bool {
        self.status == BriefStatus::Revoked
    }

    /// The first block of the brief id: enough to tell briefs apart on the page (the whole
    /// id is the cell's title and the row's `data-brief`).
    pub(crate) fn short_id(&self) -> String {
        short(&self.id)
    }

    pub(crate) fn short_task(&self) -> String {
        short(&self.task_id)
    }

    pub(crate) fn stale_names(&self) -> String {
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
pub(crate) struct BriefsPage {
    pub(crate) layout: Layout,
    pub(crate) briefs: Vec<BriefRow>,
}

/// One secret a brief handed out: which one and which version, never its value.
pub(crate) struct HandedRow {
    pub(crate) name: String,
    pub(crate) scope: String,
    pub(crate) version: i64,
    pub(crate) category: String,
    pub(crate) backend: String,
    /// Rotated or deleted since, while the brief runs.
    pub(crate) stale: bool,
    /// A credential minted for the brief: `postgres` or `aws_sts`.
    pub(crate) generator: Option<&'static str>,
    /// Its lease's id and state (`active`, `revoked`, …), if the account may see it.
    pub(crate) lease: Option<(String, &'static str)>,
    /// When the minted credential stops working.
    pub(crate) expires: Option<Stamp>,
}

impl HandedRow {
    /// The tag class of its lease's state.
    pub(crate) fn lease_class(&self) -> &'static str {
        match self.lease.as_ref().map(|(_, s)| *s) {
            Some("active") => "running",
            Some("revoked") => "ok",
            _ => "revoked",
        }
    }
}

#[derive(Template)]
#[template(path = "brief.html")]
pub(crate) struct BriefPage {
    pub(crate) layout: Layout,
    pub(crate) csrf: String,
    pub(crate) id: String,
    pub(crate) task_id: String,
    pub(crate) project: String,
    pub(crate) status: BriefStatus,
    pub(crate) created: Stamp,
    /// When its callback came (completed or failed), if it came.
    pub(crate) completed: Option<Stamp>,
    /// When it was revoked, if it was.
    pub(crate) revoked_at: Option<Stamp>,
    /// Until when the callback token is accepted.
    pub(crate) expires: Stamp,
    /// How the values were handed out (`env`: the dispatch's answer; `sealed`: a boot
    /// token).
    pub(crate) delivery: &'static str,
    /// A sealed brief's boot token: what became of it.
    pub(crate) boot: Option<BootLine>,
    pub(crate) secrets: Vec<HandedRow>,
    /// Whether to show the revoke button (running, and the user may revoke).
    pub(crate) can_revoke: bool,
    /// When a value it handed out was found in what its agent produced.
    pub(crate) leaked_at: Option<Stamp>,
}

impl BriefPage {
    pub(crate) fn running(&self) -> bool {
        self.status == BriefStatus::Running
    }

    pub(crate) fn called_back(&self) -> bool {
        matches!(self.status, BriefStatus::Completed | BriefStatus::Failed)
    }

    pub(crate) fn stale_count(&self) -> usize {
        self.secrets.iter().filter(|s| s.stale).count()
    }
}

/// A sealed brief's boot token on its page: `waiting`, `redeemed`, `replayed` or
/// `expired`, with when and from where.
pub(crate) struct BootLine {
    pub(crate) state: &'static str,
    pub(crate) expires: Stamp,
    pub(crate) redeemed: Option<(Stamp, String)>,
    pub(crate) replayed: Option<(Stamp, String)>,
}

/// What one ref of a task resolves to now (no value).
pub(crate) struct RefRow {
    pub(crate) name: String,
    /// The winner's scope, version and category; `None` when no scope of the chain has it.
    pub(crate) winner: Option<(String, i64, String)>,
    /// Broader scopes holding the same name, which the winner shadows: `acme (v1)`.
    pub(crate) shadows: Vec<String>,
}

/// A task, as the lists link it.
pub(crate) struct TaskRow {
    pub(crate) id: String,
    pub(crate) created: Stamp,
    pub(crate) by: String,
    pub(crate) refs: String,
}

impl TaskRow {
    pub(crate) fn short_id(&self) -> String {
        short(&self.id)
    }
}

#[derive(Template)]
#[template(path = "task.html")]
pub(crate) struct TaskPage {
    pub(crate) layout: Layout,
    pub(crate) id: String,
    pub(crate) project: String,
    pub(crate) created: Stamp,
    pub(crate) by: String,
    pub(crate) refs: Vec<RefRow>,
    /// Its dispatches, newest first.
    pub(crate) briefs: Vec<BriefRow>,
    /// How many briefs the page shows at most.
    pub(crate) limit: i64,
}

/// One audit record.
pub(crate) struct AuditRow {
    pub(crate) at: Stamp,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) scope: String,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) target: String,
    pub(crate) source: String,
    pub(crate) detail: String,
}

impl AuditRow {
    /// A task or brief id, shortened like the briefs page does; other targets as they are.
    pub(crate) fn short_target(&self) -> String {
        if self.target.len() == 36 && self.target.matches('-').count() == 4 {
            short(&self.target)
        } else {
            self.target.clone()
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
pub(crate) struct AuditPage {
    pub(crate) layout: Layout,
    /// The filters, as the form shows them (empty: not given).
    pub(crate) scope: String,
    pub(crate) name: String,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) since: String,
    pub(crate) until: String,
    /// Whether any filter is given.
    pub(crate) filtered: bool,
    pub(crate) limit: i64,
    /// The links to the older and newer pages, if there are such.
    pub(crate) older: Option<String>,
    pub(crate) newer: Option<String>,
    pub(crate) records: Vec<AuditRow>,
}

/// One thing a search found, with the page it links to.
pub(crate) struct HitRow {
    /// `secret`, `scope`, `task` or `brief`.
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) scope: String,
    pub(crate) href: String,
}

#[derive(Template)]
#[template(path = "search.html")]
pub(crate) struct SearchPage {
    pub(crate) layout: Layout,
    /// What was asked (empty: nothing yet).
    pub(crate) q: String,
    pub(crate) hits: Vec<HitRow>,
    /// Whether the list stops at its length: more may match.
    pub(crate) more: bool,
}

/// One web UI session.
pub(crate) struct SessionRow {
    pub(crate) id: String,
    pub(crate) account: String,
    pub(crate) token_id: String,
    pub(crate) created: Stamp,
    pub(crate) expires: Stamp,
    pub(crate) source: String,
    /// The session of this very page.
    pub(crate) current: bool,
}

impl SessionRow {
    pub(crate) fn short_token(&self) -> String {
        short(&self.token_id)
    }
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub(crate) struct SessionsPage {
    pub(crate) layout: Layout,
    pub(crate) csrf: String,
    /// Root's view: every account's sessions.
    pub(crate) all: bool,
    pub(crate) sessions: Vec<SessionRow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_their_largest_whole_unit() {
        for (secs, shown) in [
            (0, "just now"),
            (59, "just now"),
            (60, "1 min"),
            (3599, "59 min"),
            (3600, "1 h"),
            (86_399, "23 h"),
            (86_400, "1 day"),
            (2 * 86_400, "2 days"),
            (400 * 86_400, "400 days"),
        ] {
            assert_eq!(Age { secs }.to_string(), shown, "{secs}");
        }
        for (secs, shown) in [
            (3600, "1h"),
            (43_200, "12h"),
            (900, "15m"),
            (90, "90s"),
            (5400, "90m"),
        ] {
            assert_eq!(ttl_text(secs), shown);
        }
        let future = timestamp::in_secs(3600);
        assert_eq!(Age::since(future).secs, 0, "a clock ahead reads as now");
    }

    #[test]
    fn stamps_read_as_utc() {
        assert_eq!(
            Stamp::new(timestamp::parse("2026-11-29T14:00:05Z").unwrap()).to_string(),
            "2026-11-29 14:00 UTC"
        );
        let odd = Stamp { iso: "odd".into() };
        assert_eq!(odd.to_string(), "odd");
    }
}
