//! Tasks and their dispatch.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{
    CreateTask, DispatchAnswer, DispatchBody, DispatchDto, SealedDispatchDto, TaskDto,
};
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secretstore_core::{Delivered, timestamp};
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
/// All or nothing. With `{"delivery": "sealed"}` the answer holds no value: only a
/// single-use boot token, which `secretstore boot` redeems once inside the agent (`POST
/// /api/v1/boot`). An organization that requires sealed delivery refuses any other (403).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/dispatch", tag = "tasks",
    params(("id" = String, Path)),
    request_body(content = Option<DispatchBody>, description = "Optional: `{\"delivery\": \"sealed\"}` for a boot token instead of the env"),
    responses((status = 200, body = DispatchAnswer), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not allowed, or the organization requires sealed delivery", body = ErrorBody),
        (status = 404, description = "Unknown task, or missing secrets (each named)", body = ErrorBody),
        (status = 409, description = "A file-delivered `X` and an env-delivered `X_FILE` would set the same variable (both named): nothing was dispatched", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 502, description = "A backend failed (each ref named)", body = ErrorBody),
        (status = 503, description = "A backend is not configured (each ref named), the database or the brief store is unavailable: nothing was dispatched", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn dispatch(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
    body: Option<AppJson<DispatchBody>>,
) -> Result<Json<DispatchAnswer>, ApiError> {
    let delivery = body.and_then(|AppJson(b)| b.delivery).unwrap_or_default();
    Ok(Json(
        match st.svc.dispatch_as(&who, &id, delivery).await? {
            Delivered::Env(d) => DispatchAnswer::Env(DispatchDto {
                brief_id: d.brief.brief_id.to_string(),
                task_id: d.brief.task_id.to_string(),
                env: exposed(&d.env),
                files: exposed(&d.files),
            }),
            Delivered::Sealed(d) => DispatchAnswer::Sealed(SealedDispatchDto {
                brief_id: d.brief.brief_id.to_string(),
                task_id: d.brief.task_id.to_string(),
                boot_token: Zeroizing::new(d.boot_token.expose_secret().to_owned()),
                expires_at: timestamp::format(d.expires_at),
            }),
        },
    ))
}

/// Names and values as the answer carries them (zeroized when the answer is dropped).
pub(crate) fn exposed(
    pairs: &[(String, secretstore_core::SecretValue)],
) -> BTreeMap<String, Zeroizing<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), Zeroizing::new(v.expose_secret().to_owned())))
        .collect()
}
