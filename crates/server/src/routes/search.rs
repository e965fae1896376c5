//! Finding secrets, scopes, tasks and briefs by name.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{HitDto, SearchList};
use crate::error::{ApiError, AppQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
/// `?q=PATTERN[&limit=N]`: what to look for.
pub struct SearchParams {
    /// A part of a name (`stripe` finds `STRIPE_KEY`; `pay` finds `acme/payments`; the
    /// first characters of an id find its task or brief), or a whole name with `*` for
    /// any run of characters (`STRIPE_*`). Letters match in either case.
    #[param(min_length = 1, max_length = 256)]
    pub q: String,
    /// At most this many of each kind (default and most: 1000).
    pub limit: Option<i64>,
}

/// The secrets, scopes, tasks and briefs whose name (an id for tasks and briefs)
/// matches, among every scope the caller may see (the invisible are not there at all).
#[utoipa::path(get, path = "/api/v1/search", tag = "search",
    params(SearchParams),
    responses((status = 200, body = SearchList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppQuery(q): AppQuery<SearchParams>,
) -> Result<Json<SearchList>, ApiError> {
    let hits = st.svc.search(&who, &q.q, q.limit).await?;
    Ok(Json(SearchList {
        hits: hits.into_iter().map(HitDto::from).collect(),
    }))
}
