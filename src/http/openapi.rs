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

/// Every operation can fail in the ways the whole API fails; say so in each, so that a client
/// generated from the document knows every status it may meet (all as problem+json).
pub fn add_problem_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, ParameterIn};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    super::error::PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    let add = |op: &mut Operation| {
        let mut codes = vec![("500", "Server error; quote the request_id")];
        if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
            codes.push(("401", "Not logged in, or the token is invalid, expired or revoked"));
            codes.push(("403", "Not allowed for this caller, or not from this workstation"));
        }
        if op.request_body.is_some() {
            codes.push(("400", "The body is not JSON"));
            codes.push(("413", "The body is too large"));
            codes.push(("415", "The body is not application/json"));
            codes.push(("422", "A field is missing, unknown or invalid"));
        }
        let params = op.parameters.iter().flatten();
        let (mut in_path, mut in_query) = (false, false);
        for p in params {
            in_path |= p.parameter_in == ParameterIn::Path;
            in_query |= p.parameter_in == ParameterIn::Query;
        }
        if in_path {
            codes.push(("404", "No such thing"));
        }
        if in_query {
            codes.push(("400", "A query parameter is malformed"));
            codes.push(("422", "A query parameter is invalid"));
        }
        for (code, what) in codes {
            op.responses
                .responses
                .entry(code.to_string())
                .or_insert_with(|| problem(what));
        }
    };
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            add(op);
        }
    }
}

/// The document as served, shared by every worker.
pub struct Document {
    pub json: String,
    /// Each path template split into segments (`None` for a `{parameter}`), with its methods.
    pub routes: Vec<(Vec<Option<String>>, Vec<String>)>,
    /// The operations anyone may call (those without `security`), as segments and method.
    pub public: Vec<(Vec<Option<String>>, String)>,
}

type Segments = Vec<Option<String>>;

impl Document {
    pub fn new(doc: &utoipa::openapi::OpenApi) -> Document {
        let json = doc.to_json().unwrap_or_else(|_| "{}".into());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let (mut routes, mut public) = (vec![], vec![]);
        if let Some(paths) = value.get("paths").and_then(|p| p.as_object()) {
            for (path, ops) in paths {
                let segments: Segments = path
                    .trim_matches('/')
                    .split('/')
                    .map(|s| if s.starts_with('{') { None } else { Some(s.to_string()) })
                    .collect();
                let ops = ops.as_object().cloned().unwrap_or_default();
                for (method, op) in &ops {
                    if op
                        .get("security")
                        .is_none_or(|s| s.as_array().is_some_and(Vec::is_empty))
                    {
                        public.push((segments.clone(), method.to_uppercase()));
                    }
                }
                routes.push((segments, ops.keys().map(|m| m.to_uppercase()).collect()));
            }
        }
        Document { json, routes, public }
    }

    /// The methods a concrete path accepts, if any route matches it.
    pub fn methods_for(&self, path: &str) -> Option<Vec<String>> {
        let found: Vec<String> = self
            .routes
            .iter()
            .filter(|(segments, _)| template_matches(segments, path))
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        if found.is_empty() { None } else { Some(found) }
    }

    /// Whether anyone may call this method on this concrete path.
    pub fn is_public(&self, method: &str, path: &str) -> bool {
        self.public
            .iter()
            .any(|(segments, m)| m.eq_ignore_ascii_case(method) && template_matches(segments, path))
    }
}

fn template_matches(segments: &[Option<String>], path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    segments.len() == parts.len()
        && segments
            .iter()
            .zip(&parts)
            .all(|(s, p)| s.as_deref().is_none_or(|s| s == *p))
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
