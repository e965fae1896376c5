//! The pages of the scope tree: the scopes the account may see, a new scope, and under
//! `/ui/scopes/…` a scope (its secrets, the inherited ones, the effective view), a secret
//! (metadata and history) and the confirmation of a deletion.

use super::activity::brief_row;
use super::err_not_found;
use super::objects::OBJECTS_SHOWN;
use crate::AppState;
use crate::error::ErrorSummary;
use crate::ui::pages::{
    AccessList, AccessRow, Age, Crumb, DeletePage, EffectiveRow, GeneratorView, HomePage,
    InheritedRow, Layout, LeaseRow, Node, OwnRow, ProjectWork, Revealed, ScopePage, SecretPage,
    Stamp, TaskRow, VersionRow, render, ttl_text,
};
use crate::ui::see_other;
use crate::ui::session::{Posted, Session};
use crate::ui::target::{Target, parse_target, rest_of};
use crate::ui::{error_parts, error_summary};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use secretstore_core::audit::{self, AuditFilter, PageFrom};
use secretstore_core::{Access, Action, Category, Error, Level, ScopePath, SecretMeta, SecretName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
pub(crate) async fn home(State(st): State<AppState>, s: Session) -> Response {
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
pub(crate) struct NewScope {
    #[serde(default)]
    parent: String,
    #[serde(default)]
    name: String,
}

/// `POST /ui/scopes`: a new organization, team, workspace or project.
pub(crate) async fn create_scope(
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

/// What a scope or secret page's query may choose: the order of a scope's secrets
/// (`sort=age`), and the time filter and page of a secret's access list.
#[derive(Deserialize, Serialize, Default, Clone)]
pub(super) struct ViewQuery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    sort: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    since: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    cursor: String,
}

/// How many accesses a secret's page shows.
const ACCESS_SHOWN: i64 = 20;

/// `GET /ui/scopes/…`: a scope, a secret, or the confirmation of a deletion.
pub(crate) async fn scope_get(State(st): State<AppState>, s: Session, uri: Uri) -> Response {
    let notice = done_notice(&uri);
    let Ok(view) = serde_urlencoded::from_str::<ViewQuery>(uri.query().unwrap_or("")) else {
        return s.error(&Error::Invalid("malformed query".into()));
    };
    let result = match parse_target(rest_of(&uri), false) {
        Some(Target::Scope(p)) => {
            let extras = Extras {
                notice,
                view,
                ..Extras::default()
            };
            scope_view(&st, &s, p, extras).await
        }
        Some(Target::Secret(p, n)) => {
            let extras = Extras {
                notice,
                view,
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
pub(super) struct Extras {
    pub(super) notice: Option<String>,
    pub(super) error: Option<(StatusCode, String)>,
    pub(super) form_name: String,
    pub(super) form_category: String,
    /// What the log keeps of the form's error.
    pub(super) logged: Option<ErrorSummary>,
    /// The page's query.
    pub(super) view: ViewQuery,
}

impl Extras {
    pub(super) fn failed(e: &Error) -> Self {
        let (status, message) = error_parts(e);
        Extras {
            error: Some((status, message)),
            logged: Some(error_summary(e)),
            ..Extras::default()
        }
    }

    /// The page's layout and status, and what the log keeps of its error.
    fn layout(self, title: String, s: &Session) -> (Layout, StatusCode, Option<ErrorSummary>) {
        let mut layout = Layout::new(title, Some(s.nav()), "scopes");
        layout.notice = self.notice;
        let status = match self.error {
            Some((status, message)) => {
                layout.error = Some(message);
                status
            }
            None => StatusCode::OK,
        };
        (layout, status, self.logged)
    }
}

/// `res` with what the log keeps of the error it shows, if any.
fn with_logged(mut res: Response, logged: Option<ErrorSummary>) -> Response {
    if let Some(summary) = logged {
        summary.attach(&mut res);
    }
    res
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

pub(super) async fn scope_view(
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
            .or_insert_with(|| (m.scope.to_string(), m.version));
    }
    let by_age = extras.view.sort == "age";
    let policies = st.svc.rotation_policies(&s.who).await?;
    let now = secretstore_core::timestamp::now();
    let past_age = |m: &SecretMeta| {
        m.generator.is_none()
            && secretstore_core::service::due(m, &policies, now)
                .is_some_and(|d| d.reasons.contains(&"age"))
    };
    let mut own_rows: Vec<OwnRow> = own
        .iter()
        .map(|m| OwnRow {
            name: m.name.clone(),
            category: m.category.to_string(),
            backend: m.backend.to_string(),
            version: m.version,
            updated: Stamp::new(m.updated_at),
            age: Age::since(m.updated_at),
            by: m.updated_by.clone(),
            shadows: broader
                .iter()
                .flat_map(|(_, v)| v.iter())
                .filter(|b| b.name == m.name)
                .map(version_label)
                .collect(),
            leaked: m.leaked_at.is_some(),
            due: past_age(m),
        })
        .collect();
    let mut inherited: Vec<InheritedRow> = broader
        .iter()
        .flat_map(|(_, v)| v.iter())
        .map(|m| InheritedRow {
            name: m.name.clone(),
            scope: m.scope.to_string(),
            category: m.category.to_string(),
            backend: m.backend.to_string(),
            version: m.version,
            updated: Stamp::new(m.updated_at),
            age: Age::since(m.updated_at),
            by: m.updated_by.clone(),
            shadowed_by: winners
                .get(&m.name)
                .filter(|(w, _)| m.scope != w.as_str())
                .map(|(w, _)| w.clone()),
            leaked: m.leaked_at.is_some(),
            due: past_age(m),
        })
        .collect();
    if by_age {
        // Oldest first; a stable sort keeps the names' order among equal ages.
        own_rows.sort_by_key(|r| std::cmp::Reverse(r.age.secs));
        inherited.sort_by_key(|r| std::cmp::Reverse(r.age.secs));
    }
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
    let work = project_work(st, s, &scope).await?;
    let form_name = extras.form_name.clone();
    let (layout, status, logged) = extras.layout(scope.to_string(), s);
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
        audit_link: allowed(Action::ReadAudit),
        sort: if by_age { "age" } else { "name" },
        work,
    };
    Ok(with_logged(render(status, &page), logged))
}

/// A project's tasks and recent briefs, if the user may see them: those who may dispatch
/// there (as the service decides; the check here only keeps the section off the page of
/// those it would refuse).
async fn project_work(
    st: &AppState,
    s: &Session,
    scope: &ScopePath,
) -> Result<Option<ProjectWork>, Error> {
    if scope.level() != Level::Project || s.who.check(Action::Dispatch, scope) != Access::Allowed {
        return Ok(None);
    }
    let tasks = st
        .svc
        .project_tasks(&s.who, scope.as_str(), OBJECTS_SHOWN)
        .await?;
    let briefs = st
        .svc
        .project_briefs(&s.who, scope.as_str(), OBJECTS_SHOWN)
        .await?;
    Ok(Some(ProjectWork {
        tasks: tasks
            .into_iter()
            .map(|t| TaskRow {
                id: t.id.to_string(),
                created: Stamp::new(t.created_at),
                by: t.created_by,
                refs: t.secret_refs.join(", "),
            })
            .collect(),
        briefs: briefs.into_iter().map(brief_row).collect(),
        limit: OBJECTS_SHOWN,
    }))
}

pub(super) async fn secret_view(
    st: &AppState,
    s: &Session,
    path: &str,
    name: &str,
    revealed: Option<Revealed>,
    extras: Extras,
) -> Result<Response, Error> {
    let meta = st.svc.metadata(&s.who, path, name).await?;
    let history = st.svc.history(&s.who, path, name).await?;
    let scope = meta.scope.clone();
    let broader: Vec<ScopePath> = scope.resolution_chain().into_iter().skip(1).collect();
    let shadows = chain_lists(st, s, &broader)
        .await?
        .into_iter()
        .flat_map(|(_, v)| v)
        .filter(|m| m.name == meta.name)
        .map(|m| version_label(&m))
        .collect();
    let allowed = |a: Action| s.who.check(a, &scope) == Access::Allowed;
    let access = if allowed(Action::ReadAudit) {
        Some(access_list(st, s, &meta, &extras.view).await?)
    } else {
        None
    };
    let generator = match meta.generator {
        Some(_) => Some(generator_view(st, s, &meta).await?),
        None => None,
    };
    let policies = st.svc.rotation_policies(&s.who).await?;
    let due = meta.generator.is_none()
        && secretstore_core::service::due(&meta, &policies, secretstore_core::timestamp::now())
            .is_some_and(|d| d.reasons.contains(&"age"));
    let rotate_every = secretstore_core::service::max_age(&meta, &policies)
        .map(|(secs, from)| (crate::dto::duration_text(secs), from));
    let (layout, status, logged) = extras.layout(format!("{} at {scope}", meta.name), s);
    let page = SecretPage {
        leaked_at: meta.leaked_at.map(Stamp::new),
        rotate_every,
        due,
        layout,
        csrf: s.csrf.clone(),
        crumbs: crumbs(&scope),
        scope: scope.to_string(),
        name: meta.name.clone(),
        category: meta.category.to_string(),
        backend: meta.backend.to_string(),
        delivery: meta.delivery.to_string(),
        version: meta.version,
        created: Stamp::new(meta.created_at),
        updated: Stamp::new(meta.updated_at),
        age: Age::since(meta.updated_at),
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
        access,
        generator,
    };
    Ok(with_logged(render(status, &page), logged))
}

/// How many leases a generator's page shows.
const LEASES_SHOWN: i64 = 50;

/// A generator's spec (its current version, read after the metadata check allowed the
/// account to see it) and the leases of it the account may see.
async fn generator_view(
    st: &AppState,
    s: &Session,
    meta: &SecretMeta,
) -> Result<GeneratorView, Error> {
    use secretstore_core::GeneratorSpec;
    use secretstore_core::ports::SecretStore;
    let name = SecretName::parse_existing(&meta.name)?;
    let (_, _, material) = st.svc.store.material(&meta.scope, &name, None).await?;
    let spec = material
        .generator
        .ok_or_else(|| Error::Invalid(format!("{name} is no longer a generator")))?;
    let leases = st
        .svc
        .generator_leases(&s.who, meta.scope.as_str(), &meta.name, LEASES_SHOWN)
        .await?;
    let mut view = GeneratorView {
        kind: spec.kind().as_str(),
        admin_ref: None,
        grants: Vec::new(),
        creation: 0,
        revocation: 0,
        role_arn: None,
        session_policy: false,
        ttl: ttl_text(spec.ttl_secs()),
        leases: leases.into_iter().map(LeaseRow::new).collect(),
    };
    match spec {
        GeneratorSpec::Postgres(p) => {
            view.admin_ref = Some(p.admin_ref);
            view.grants = p.grants;
            view.creation = p.creation.len();
            view.revocation = p.revocation.len();
        }
        GeneratorSpec::AwsSts(a) => {
            view.role_arn = Some(a.role_arn);
            view.session_policy = a.session_policy.is_some();
        }
    }
    Ok(view)
}

/// The secret's accesses, a page at a time (as [`Service::secret_access_report`] decides,
/// for whoever may read the audit log of its scope).
///
/// [`Service::secret_access_report`]: secretstore_core::Service::secret_access_report
async fn access_list(
    st: &AppState,
    s: &Session,
    meta: &SecretMeta,
    q: &ViewQuery,
) -> Result<AccessList, Error> {
    let given = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    let filter = AuditFilter {
        since: given(&q.since)
            .map(|t| audit::parse_time_bound(&t))
            .transpose()?,
        from: match given(&q.cursor) {
            Some(c) => PageFrom::parse_cursor(&c)?,
            None => PageFrom::Newest,
        },
        limit: ACCESS_SHOWN,
        ..AuditFilter::default()
    };
    let report = st
        .svc
        .secret_access_report(&s.who, meta.scope.as_str(), &meta.name, filter)
        .await?;
    let link = |cursor: Option<String>| {
        let q = ViewQuery {
            cursor: cursor?,
            since: q.since.clone(),
            sort: String::new(),
        };
        Some(format!(
            "/ui/scopes/{}/secrets/{}?{}#access-h",
            meta.scope,
            meta.name,
            serde_urlencoded::to_string(&q).unwrap_or_default()
        ))
    };
    Ok(AccessList {
        since: q.since.clone(),
        older: link(report.page.next_cursor()),
        newer: link(report.page.prev_cursor()),
        rows: report
            .page
            .records
            .into_iter()
            .map(|r| AccessRow {
                at: Stamp::new(r.entry.at),
                kind: if r.entry.action == "task.dispatch" {
                    "dispatch"
                } else {
                    "reveal"
                },
                actor: r.entry.actor,
                version: r.entry.version,
                brief: r.entry.target,
                status: r.brief,
                holds_old: r.holds_old,
                source: r.entry.source.unwrap_or_default(),
            })
            .collect(),
    })
}

async fn delete_view(
    st: &AppState,
    s: &Session,
    path: &str,
    name: &str,
) -> Result<Response, Error> {
    let meta = st.svc.metadata(&s.who, path, name).await?;
    let scope = meta.scope.clone();
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
