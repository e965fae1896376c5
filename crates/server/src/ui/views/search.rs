//! `GET /ui/search?q=`: the names of the secrets, scopes, tasks and briefs the account
//! may see, each linked to its page.

use crate::AppState;
use crate::ui::pages::{HitRow, Layout, SearchPage, render};
use crate::ui::{error_parts, error_summary};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use secretstore_core::Error;
use secretstore_core::search::{HitKind, SearchHit};
use serde::Deserialize;

use crate::ui::session::Session;

/// At most this many hits of each kind.
const HITS_SHOWN: i64 = 50;

#[derive(Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// The page a hit links to.
fn href(h: &SearchHit) -> String {
    match h.kind {
        HitKind::Secret => format!("/ui/scopes/{}/secrets/{}", h.scope, h.name),
        HitKind::Scope => format!("/ui/scopes/{}", h.name),
        HitKind::Task => format!("/ui/tasks/{}", h.name),
        HitKind::Brief => format!("/ui/briefs/{}", h.name),
    }
}

/// `GET /ui/search[?q=PATTERN]`: the form, and what the pattern finds (as the API's
/// search decides); a pattern the search refuses gets the form again with the reason.
pub(crate) async fn search(State(st): State<AppState>, s: Session, uri: Uri) -> Response {
    let Ok(query) = serde_urlencoded::from_str::<SearchQuery>(uri.query().unwrap_or("")) else {
        return s.error(&Error::Invalid("malformed query".into()));
    };
    let q = query.q.trim().to_owned();
    let mut layout = Layout::new("Search", Some(s.nav()), "search");
    let (hits, status, logged) = if q.is_empty() {
        (Vec::new(), StatusCode::OK, None)
    } else {
        match st.svc.search(&s.who, &q, Some(HITS_SHOWN)).await {
            Ok(h) => (h, StatusCode::OK, None),
            Err(e @ Error::Invalid(_)) => {
                let (status, message) = error_parts(&e);
                layout.error = Some(message);
                (Vec::new(), status, Some(error_summary(&e)))
            }
            Err(e) => return s.error(&e),
        }
    };
    let more = HitKind::ALL
        .iter()
        .any(|k| hits.iter().filter(|h| h.kind == *k).count() as i64 >= HITS_SHOWN);
    let page = SearchPage {
        layout,
        q,
        more,
        hits: hits
            .iter()
            .map(|h| HitRow {
                kind: h.kind.as_str(),
                name: h.name.clone(),
                scope: h.scope.to_string(),
                href: href(h),
            })
            .collect(),
    };
    let mut res = render(status, &page);
    if let Some(summary) = logged {
        summary.attach(&mut res);
    }
    res
}
