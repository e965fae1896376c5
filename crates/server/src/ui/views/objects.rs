//! The pages of the things a dispatch makes: a brief (what it handed out, its callback
//! and revocation, and the revoke button) and a task (what its refs resolve to now, and
//! its briefs). A project's tasks and briefs are on its scope page ([`super::scopes`]).

use super::activity::brief_row;
use super::{NoFields, err_not_found};
use crate::AppState;
use crate::ui::pages::{BootLine, BriefPage, HandedRow, Layout, RefRow, Stamp, TaskPage, render};
use crate::ui::see_other;
use crate::ui::session::{Posted, Session};
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use secretstore_core::{Access, Action, BriefId, BriefStatus, Error, TaskId};
use serde::Deserialize;

/// How many briefs a task page, and how many tasks and briefs a project page, show.
pub(crate) const OBJECTS_SHOWN: i64 = 50;

/// The id in `path` between `prefix` and `suffix`, if it is one segment.
fn id_in<'a>(path: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(suffix))
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// A brief id from the address; anything else is the 404 page (as a missing brief).
fn brief_id(path: &str, suffix: &str) -> Result<BriefId, Error> {
    id_in(path, "/ui/briefs/", suffix)
        .and_then(|id| BriefId::parse(id).ok())
        .ok_or_else(err_not_found)
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

/// `GET /ui/briefs/{id}`: the brief, for whoever may read it (else the 404 page).
pub(crate) async fn brief(State(st): State<AppState>, s: Session, uri: Uri) -> Response {
    let id = match brief_id(uri.path(), "") {
        Ok(id) => id,
        Err(e) => return s.error(&e),
    };
    let d = match st.svc.brief_detail(&s.who, id.as_str()).await {
        Ok(d) => d,
        Err(e) => return s.error(&e),
    };
    // The states of its leases (the brief's reader may dispatch in its project: it sees
    // them all).
    let leases = if d.brief.secrets.iter().any(|x| x.lease_id.is_some()) {
        match st
            .svc
            .leases(&s.who, None, Some(id.as_str()), false, 1000)
            .await
        {
            Ok(v) => v,
            Err(e) => return s.error(&e),
        }
    } else {
        Vec::new()
    };
    let now = secretstore_core::timestamp::now();
    let done: Done = serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let mut layout = Layout::new(format!("Brief {id}"), Some(s.nav()), "briefs");
    layout.notice = match done.done.as_deref() {
        Some("revoked") => Some("Revoked: its callback token no longer works.".to_owned()),
        Some("not-running") => {
            Some("This brief was no longer running: nothing was changed.".to_owned())
        }
        _ => None,
    };
    let running = d.record.status == BriefStatus::Running;
    let page = BriefPage {
        layout,
        csrf: s.csrf.clone(),
        id: id.to_string(),
        task_id: d.record.task_id.to_string(),
        project: d.record.project.to_string(),
        status: d.record.status,
        created: Stamp::new(d.record.created_at),
        completed: d.record.completed_at.map(Stamp::new),
        revoked_at: d.record.revoked_at.map(Stamp::new),
        leaked_at: d.record.leaked_at.map(Stamp::new),
        expires: Stamp::new(d.record.expires_at),
        delivery: d.record.delivery.as_str(),
        boot: d.record.boot.as_ref().map(|b| BootLine {
            state: b.state(secretstore_core::timestamp::now()).as_str(),
            expires: Stamp::new(b.expires_at),
            redeemed: b
                .redeemed
                .as_ref()
                .map(|(at, from)| (Stamp::new(*at), from.clone())),
            replayed: b
                .replayed
                .as_ref()
                .map(|(at, from)| (Stamp::new(*at), from.clone())),
        }),
        secrets: d
            .brief
            .secrets
            .into_iter()
            .map(|x| HandedRow {
                generator: x.generator.map(|g| g.as_str()),
                lease: x.lease_id.as_ref().map(|l| {
                    let state = leases
                        .iter()
                        .find(|lease| lease.id == *l)
                        .map_or("unknown", |lease| lease.state(now));
                    (l.to_string(), state)
                }),
                expires: x.expires_at.map(Stamp::new),
                stale: running && d.stale.contains(&x.name),
                name: x.name,
                scope: x.scope.to_string(),
                version: x.version,
                category: x.category.to_string(),
                backend: x.backend.to_string(),
            })
            .collect(),
        // Revoking takes what reading takes (dispatch rights in the project): asked the
        // same way, so the button is never offered to whom the service would refuse.
        can_revoke: running && s.who.check(Action::Dispatch, &d.record.project) == Access::Allowed,
    };
    render(StatusCode::OK, &page)
}

/// `POST /ui/briefs/{id}/revoke`: revokes the brief (CSRF-checked first), then back to
/// its page with a notice.
pub(crate) async fn revoke_brief(State(st): State<AppState>, req: Request) -> Response {
    let id = brief_id(req.uri().path(), "/revoke");
    let Posted { session, .. } = match Posted::<NoFields>::from_request(req, &st).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let id = match id {
        Ok(id) => id,
        Err(e) => return session.error(&e),
    };
    match st.svc.revoke_brief(&session.who, id.as_str()).await {
        Ok((_, true)) => see_other(&format!("/ui/briefs/{id}?done=revoked")),
        Ok((_, false)) => see_other(&format!("/ui/briefs/{id}?done=not-running")),
        Err(e) => session.error(&e),
    }
}

/// `GET /ui/tasks/{id}`: the task, what its refs resolve to now (never a value) and its
/// briefs, for whoever may dispatch in its project (else the 404 page).
pub(crate) async fn task(State(st): State<AppState>, s: Session, uri: Uri) -> Response {
    let Some(id) = id_in(uri.path(), "/ui/tasks/", "").and_then(|id| TaskId::parse(id).ok()) else {
        return s.error(&err_not_found());
    };
    let result = async {
        let task = st.svc.task(&s.who, id.as_str()).await?;
        let resolved = st
            .svc
            .resolve(&s.who, task.project.as_str(), &task.secret_refs)
            .await?;
        let briefs = st
            .svc
            .task_briefs(&s.who, id.as_str(), OBJECTS_SHOWN)
            .await?;
        Ok::<_, Error>((task, resolved, briefs))
    }
    .await;
    let (task, resolved, briefs) = match result {
        Ok(v) => v,
        Err(e) => return s.error(&e),
    };
    let page = TaskPage {
        layout: Layout::new(format!("Task {id}"), Some(s.nav()), "briefs"),
        id: id.to_string(),
        project: task.project.to_string(),
        created: Stamp::new(task.created_at),
        by: task.created_by,
        refs: resolved
            .iter()
            .map(|r| {
                let e = r.explain();
                RefRow {
                    winner: match (e.scope, e.version, e.category) {
                        (Some(sc), Some(v), Some(c)) => Some((sc, v, c.to_string())),
                        _ => None,
                    },
                    shadows: e
                        .shadows
                        .iter()
                        .map(|x| format!("{} (v{})", x.scope, x.version))
                        .collect(),
                    name: e.name,
                }
            })
            .collect(),
        briefs: briefs.into_iter().map(brief_row).collect(),
        limit: OBJECTS_SHOWN,
    };
    render(StatusCode::OK, &page)
}
