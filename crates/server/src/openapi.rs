//! The OpenAPI 3 document, generated from the handlers' annotations.

use crate::{dto, error, routes};
use axum::Json;
use utoipa::openapi::RefOr;
use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{Object, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API's OpenAPI 3 document, served at `/api/v1/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "secretstore", description = "Scoped secrets for agent dispatch."),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        crate::metrics::metrics,
        routes::scopes::put_org,
        routes::scopes::get_link_prefixes,
        routes::scopes::put_link_prefixes,
        routes::scopes::put_team,
        routes::scopes::put_workspace,
        routes::scopes::put_project,
        routes::scopes::list,
        routes::secrets::put,
        routes::secrets::list,
        routes::secrets::get,
        routes::secrets::value,
        routes::secrets::versions,
        routes::secrets::rollback,
        routes::secrets::link,
        routes::secrets::delete,
        routes::secrets::put_generator,
        routes::leases::list,
        routes::leases::get,
        routes::leases::revoke,
        routes::leases::revoke_brief,
        routes::scopes::get_policy,
        routes::scopes::put_policy,
        routes::tasks::create,
        routes::tasks::get,
        routes::tasks::dispatch,
        routes::briefs::get,
        routes::briefs::callback,
        routes::briefs::revoke,
        routes::leaks::scan,
        routes::leaks::scan_brief,
        routes::leaks::due,
        routes::boot::boot,
        routes::audit::list,
        routes::audit::access,
        routes::search::search,
        routes::accounts::whoami,
        routes::accounts::create,
        routes::accounts::list,
        routes::accounts::get,
        routes::accounts::grant,
        routes::accounts::revoke_grant,
        routes::accounts::create_token,
        routes::accounts::list_tokens,
        routes::accounts::revoke_token,
        routes::sessions::list,
        routes::sessions::end,
        document,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, error::RefError, dto::Health, dto::Ready)),
    modifiers(&Security, &Shapes),
)]
pub struct ApiDoc;

struct Security;

/// Every operation of the document (the methods the API uses), with its path.
fn operations(
    doc: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&String, &mut utoipa::openapi::path::Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        .map(move |op| (path, op))
    })
}

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let comps = doc.components.get_or_insert_with(Default::default);
        comps.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        comps.add_security_scheme(
            "callback_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        comps.add_security_scheme(
            "boot_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        // Handlers share short names across modules (`list`, `get`): prefix the tag so
        // every operationId is unique.
        for (_, op) in operations(doc) {
            // Every route that authenticates can answer 429 (brute-force protection).
            if let Some(RefOr::T(unauthorized)) = op.responses.responses.get("401") {
                let mut limited = unauthorized.clone();
                limited.description = "Too many failed authentications from this client; \
                    retry after the `Retry-After` seconds"
                    .into();
                limited.headers.insert(
                    "Retry-After".into(),
                    Header::new(Object::with_type(Type::Integer)),
                );
                op.responses
                    .responses
                    .insert("429".into(), RefOr::T(limited));
            }
            let tag = op.tags.as_ref().and_then(|t| t.first()).cloned();
            if let (Some(tag), Some(id)) = (tag, op.operation_id.as_mut()) {
                *id = format!("{tag}_{id}");
            }
        }
    }
}

/// One segment of a scope path (SPEC §2).
const SEGMENT: &str = "[a-z0-9][a-z0-9_-]{0,62}";

/// The shape of each path and query parameter that names something, so that a client
/// (or schemathesis) can tell a well-formed request from one refused 400 before it is
/// sent. The same rules the service checks (`ScopePath`, `SecretName`,
/// `check_account_name`, `is_uuid`); the service stays the authority (unsafe names, the
/// reserved prefix and existence are checked there, not here).
fn shape(path: &str, param: &str) -> Option<(String, usize)> {
    let scope = |levels: usize| {
        (
            format!("^{SEGMENT}(/{SEGMENT}){{0,{}}}$", levels - 1),
            64 * levels - 1,
        )
    };
    let resource = path.strip_prefix("/api/v1/")?.split('/').next()?;
    match (resource, param) {
        // A lease list's `?project=`: a scope of any level (its tasks at or under it).
        ("leases", "project") => Some(scope(4)),
        (_, "org" | "team" | "workspace" | "project") => Some((format!("^{SEGMENT}$"), 63)),
        // `GET /api/v1/secrets?name=` is a pattern, shaped by its own parameter.
        ("secrets", "name") if path == "/api/v1/secrets" => None,
        ("secrets", "name") => Some(("^[A-Z_][A-Z0-9_]{0,127}$".into(), 128)),
        ("secrets", "scope") => Some(scope(3)),
        ("audit" | "accounts", "scope") => Some(scope(4)),
        ("accounts", "name") => Some(("^[a-z0-9][a-z0-9_.-]{0,62}$".into(), 63)),
        ("leases", "brief") | ("tasks" | "briefs" | "leases", "id") => Some((
            "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$".into(),
            36,
        )),
        _ => None,
    }
}

struct Shapes;

impl Modify for Shapes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, op) in operations(doc) {
            for p in op.parameters.iter_mut().flatten() {
                if let Some((pattern, max)) = shape(path, &p.name) {
                    let object = Object::builder()
                        .schema_type(Type::String)
                        .pattern(Some(pattern))
                        .min_length(Some(1))
                        .max_length(Some(max))
                        .build();
                    p.schema = Some(RefOr::T(object.into()));
                }
            }
        }
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3 document", body = Object)))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
