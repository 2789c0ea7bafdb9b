//! The OpenAPI document. Paths are collected from the handlers themselves as they are mounted
//! (utoipa-actix-web), so a route cannot exist without being described.

use actix_web::{HttpRequest, HttpResponse, get, web};
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use super::error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "markroom",
        description = "The closed marking room of an exam. Errors are application/problem+json (RFC 9457) with a stable `code` and the `request_id`."
    ),
    modifiers(&BearerAuth),
    components(schemas(super::error::Problem))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document as served, shared by every worker.
pub struct Document {
    pub json: String,
    /// Each path template split into segments (`None` for a `{parameter}`), with its methods.
    pub routes: Vec<(Vec<Option<String>>, Vec<String>)>,
}

impl Document {
    pub fn new(doc: &utoipa::openapi::OpenApi) -> Document {
        let json = doc.to_json().unwrap_or_else(|_| "{}".into());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let mut routes = vec![];
        if let Some(paths) = value.get("paths").and_then(|p| p.as_object()) {
            for (path, ops) in paths {
                let segments = path
                    .trim_matches('/')
                    .split('/')
                    .map(|s| if s.starts_with('{') { None } else { Some(s.to_string()) })
                    .collect();
                let methods = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                    .unwrap_or_default();
                routes.push((segments, methods));
            }
        }
        Document { json, routes }
    }

    /// The methods a concrete path accepts, if any route matches it.
    pub fn methods_for(&self, path: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut found: Vec<String> = vec![];
        for (segments, methods) in &self.routes {
            let matches = segments.len() == parts.len()
                && segments
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| s.as_deref().is_none_or(|s| s == *p));
            if matches {
                found.extend(methods.iter().cloned());
            }
        }
        if found.is_empty() { None } else { Some(found) }
    }
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(openapi_json);
}

/// This document.
#[utoipa::path(tag = "meta", responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
#[get("/openapi.json")]
pub async fn openapi_json(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.json.clone())
}

/// Unknown paths get 404; known paths with the wrong method get 405 with `Allow`.
pub async fn fallback(req: HttpRequest, doc: web::Data<Document>) -> Result<HttpResponse, ApiError> {
    match doc.methods_for(req.path()) {
        Some(methods) => Err(ApiError::MethodNotAllowed {
            allow: methods.join(", "),
        }),
        None => Err(ApiError::NotFound("route")),
    }
}
