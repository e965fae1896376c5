//! Tasks and their dispatch.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{CreateTask, DispatchDto, TaskDto};
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// Creates a task. Its refs are checked for shape only; they are resolved at dispatch.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks",
    request_body = CreateTask,
    responses((status = 201, body = TaskDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppJson(body): AppJson<CreateTask>,
) -> Result<(StatusCode, Json<TaskDto>), ApiError> {
    let task = st
        .svc
        .create_task(&who, &body.project, &body.secret_refs, body.payload)
        .await?;
    Ok((StatusCode::CREATED, Json(task.into())))
}

/// A task.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = String, Path)),
    responses((status = 200, body = TaskDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<TaskDto>, ApiError> {
    Ok(Json(st.svc.task(&who, &id).await?.into()))
}

/// Dispatches a task: resolves and fetches every ref, stores the brief, issues a callback
/// token and returns the env for the agent, and the file-delivered secrets under `files`.
/// All or nothing.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/dispatch", tag = "tasks",
    params(("id" = String, Path)),
    responses((status = 200, body = DispatchDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown task, or missing secrets (each named)", body = ErrorBody),
        (status = 409, description = "A file-delivered `X` and an env-delivered `X_FILE` would set the same variable (both named): nothing was dispatched", body = ErrorBody),
        (status = 502, description = "A backend failed (each ref named)", body = ErrorBody),
        (status = 503, description = "A backend is not configured (each ref named), the database or the brief store is unavailable: nothing was dispatched", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn dispatch(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<DispatchDto>, ApiError> {
    let d = st.svc.dispatch(&who, &id).await?;
    let map =
        |pairs: &[(String, secretstore_core::SecretValue)]| -> BTreeMap<String, Zeroizing<String>> {
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), Zeroizing::new(v.expose_secret().to_owned())))
                .collect()
        };
    Ok(Json(DispatchDto {
        brief_id: d.brief.brief_id.to_string(),
        task_id: d.brief.task_id.to_string(),
        env: map(&d.env),
        files: map(&d.files),
    }))
}
