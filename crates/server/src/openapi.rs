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
        routes::tasks::create,
        routes::tasks::get,
        routes::tasks::dispatch,
        routes::briefs::get,
        routes::briefs::callback,
        routes::briefs::revoke,
        routes::audit::list,
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
    modifiers(&Security),
)]
pub struct ApiDoc;

struct Security;

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
        // Handlers share short names across modules (`list`, `get`): prefix the tag so
        // every operationId is unique.
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
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
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3 document", body = Object)))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
