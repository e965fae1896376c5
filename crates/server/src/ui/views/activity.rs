//! What happened: recent briefs (dispatches), the live sign-in sessions (and ending one),
//! and the audit log.

use super::{NoFields, err_not_found};
use crate::AppState;
use crate::ui::pages::{
    AuditPage, AuditRow, BriefRow, BriefsPage, Layout, LeaseRow, LeasesPage, SessionRow,
    SessionsPage, Stamp, render,
};
use crate::ui::see_other;
use crate::ui::session::{Posted, Session, clear_session_cookie, over_tls};
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use secretstore_core::audit::{self, AuditFilter, PageFrom};
use secretstore_core::{BriefSummary, Error};
use serde::{Deserialize, Serialize};

/// How many briefs and audit records a page shows.
const BRIEFS_SHOWN: i64 = 100;
const AUDIT_SHOWN: i64 = 200;

/// `GET /ui/briefs`: recent dispatches, with the secrets rotated since each.
pub(crate) async fn briefs(State(st): State<AppState>, s: Session) -> Response {
    let list = match st.svc.recent_briefs(&s.who, BRIEFS_SHOWN).await {
        Ok(v) => v,
        Err(e) => return s.error(&e),
    };
    let page = BriefsPage {
        layout: Layout::new("Briefs", Some(s.nav()), "briefs"),
        briefs: list.into_iter().map(brief_row).collect(),
    };
    render(StatusCode::OK, &page)
}

/// How many leases the leases page shows.
const LEASES_SHOWN: i64 = 200;

#[derive(Deserialize, Default)]
struct LeasesQuery {
    /// `1`: only the leases not revoked yet.
    #[serde(default)]
    open: String,
    /// What the last revocation did: `revoked`, `ended` or `failed`.
    #[serde(default)]
    done: String,
}

/// `GET /ui/leases[?open=1]`: the leases of the projects where the account may dispatch,
/// newest first, each with a revoke button while it is not revoked.
pub(crate) async fn leases(State(st): State<AppState>, s: Session, uri: Uri) -> Response {
    let q: LeasesQuery = serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let open_only = q.open == "1";
    let list = match st
        .svc
        .leases(&s.who, None, None, open_only, LEASES_SHOWN)
        .await
    {
        Ok(v) => v,
        Err(e) => return s.error(&e),
    };
    let mut layout = Layout::new("Leases", Some(s.nav()), "leases");
    layout.notice = match q.done.as_str() {
        "revoked" => Some("Revoked: the credential no longer works.".to_owned()),
        "ended" => Some("This lease had already ended: nothing was changed.".to_owned()),
        _ => None,
    };
    if q.done == "failed" {
        layout.error = Some(
            "The provider could not revoke it: it stays revoking, and is retried within seconds."
                .to_owned(),
        );
    }
    let page = LeasesPage {
        layout,
        csrf: s.csrf.clone(),
        open_only,
        leases: list.into_iter().map(LeaseRow::new).collect(),
        limit: LEASES_SHOWN,
    };
    render(StatusCode::OK, &page)
}

/// `POST /ui/leases/{id}/revoke`: revokes one lease (CSRF-checked first), then back to
/// the leases page with what happened.
pub(crate) async fn revoke_lease(State(st): State<AppState>, req: Request) -> Response {
    let id = req
        .uri()
        .path()
        .strip_prefix("/ui/leases/")
        .and_then(|r| r.strip_suffix("/revoke"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(str::to_owned);
    let Posted { session, .. } = match Posted::<NoFields>::from_request(req, &st).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(id) = id else {
        return session.error(&err_not_found());
    };
    // A malformed id is a missing page, as a lease the account may not see.
    if secretstore_core::LeaseId::parse(&id).is_err() {
        return session.error(&err_not_found());
    }
    match st.svc.revoke_lease(&session.who, &id).await {
        Ok((lease, ended)) if ended.revoked.contains(&lease.id) => {
            see_other("/ui/leases?done=revoked")
        }
        Ok((_, ended)) if !ended.failed.is_empty() => see_other("/ui/leases?done=failed"),
        Ok(_) => see_other("/ui/leases?done=ended"),
        Err(e) => session.error(&e),
    }
}

/// A brief as the lists show it (the briefs page, a task's and a project's briefs).
pub(super) fn brief_row(b: BriefSummary) -> BriefRow {
    BriefRow {
        id: b.brief_id,
        task_id: b.task_id,
        project: b.project.to_string(),
        created: Stamp::new(b.created_at),
        status: b.status,
        completed: b.completed_at.map(Stamp::new),
        stale: b.stale,
        leaked: b.leaked_at.is_some(),
        delivery: b.delivery.as_str(),
        boot: b.boot.map(|s| s.as_str()),
    }
}

/// `GET /ui/sessions`: the live sessions the account may see (root: everyone's; others:
/// their own), each with an end button.
pub(crate) async fn sessions(State(st): State<AppState>, s: Session) -> Response {
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
pub(crate) async fn end_session(State(st): State<AppState>, req: Request) -> Response {
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

/// The filters of the audit page, as its form sends them (empty fields: not given).
#[derive(Deserialize, Serialize, Default, Clone)]
struct AuditQuery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    scope: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    actor: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    since: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    until: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    cursor: String,
}

impl AuditQuery {
    fn filter(&self) -> secretstore_core::Result<AuditFilter> {
        let given = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let time = |s: &str| given(s).map(|s| audit::parse_time_bound(&s)).transpose();
        Ok(AuditFilter {
            scope: given(&self.scope),
            name: given(&self.name),
            actor: given(&self.actor),
            action: given(&self.action),
            since: time(&self.since)?,
            until: time(&self.until)?,
            from: match given(&self.cursor) {
                Some(c) => PageFrom::parse_cursor(&c)?,
                None => PageFrom::Newest,
            },
            limit: AUDIT_SHOWN,
        })
    }

    /// The link to the page at `cursor` under the same filters.
    fn link(&self, cursor: Option<String>) -> Option<String> {
        let q = AuditQuery {
            cursor: cursor?,
            ..self.clone()
        };
        Some(format!(
            "/ui/audit?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        ))
    }
}

/// `GET /ui/audit[?scope=&name=&actor=&action=&since=&until=&cursor=]`: the audit log the
/// caller may read (as the API decides), filtered, newest first, a page at a time.
pub(crate) async fn audit(State(st): State<AppState>, s: Session, uri: Uri) -> Response {
    let q: AuditQuery = match serde_urlencoded::from_str(uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(_) => {
            return s.error(&Error::Invalid("malformed query".into()));
        }
    };
    let page = match q.filter() {
        Ok(f) => st.svc.audit_log(&s.who, f).await,
        Err(e) => Err(e),
    };
    let page = match page {
        Ok(p) => p,
        Err(e) => return s.error(&e),
    };
    let older = q.link(page.next_cursor());
    let newer = q.link(page.prev_cursor());
    let opt = |v: Option<String>| v.unwrap_or_default();
    let page = AuditPage {
        layout: Layout::new("Audit log", Some(s.nav()), "audit"),
        filtered: [&q.scope, &q.name, &q.actor, &q.action, &q.since, &q.until]
            .iter()
            .any(|v| !v.is_empty()),
        scope: q.scope,
        name: q.name,
        actor: q.actor,
        action: q.action,
        since: q.since,
        until: q.until,
        limit: AUDIT_SHOWN,
        older,
        newer,
        records: page
            .records
            .into_iter()
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
