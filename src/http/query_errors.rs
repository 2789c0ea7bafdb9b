//! Malformed query strings, answered after the question of who is calling.
//!
//! actix runs a handler's extractors side by side. A query string parses at once, while the
//! caller's token is checked against the database, so a malformed query used to overtake a
//! revoked token or the wrong workstation and tell that caller about the route's parameters.
//! The query's own error is kept; on a route that needs a login, the caller is settled first.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpResponse, web};

use super::caller::Caller;
use super::error::ApiError;
use super::openapi::Document;

const INVALID_QUERY: &str = "invalid_query";

pub fn config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|e, _| ApiError::input(StatusCode::BAD_REQUEST, INVALID_QUERY, e.to_string(), None).into())
}

/// Middleware: a refused query on a protected route becomes the caller's own refusal (401, or
/// 403 for the wrong workstation) when there is one. Whether the role fits is the handler's
/// guard to say, so a caller who is admitted still hears about the query.
pub async fn caller_first(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let res = next.call(req).await?;
    let refused_query = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .is_some_and(|e| e.code() == INVALID_QUERY);
    if !refused_query {
        return Ok(res.map_into_left_body());
    }
    let request = res.request().clone();
    let public = request
        .app_data::<web::Data<Document>>()
        .is_some_and(|doc| doc.is_public(request.method().as_str(), request.path()));
    if public {
        return Ok(res.map_into_left_body());
    }
    match Caller::from_request(&request, &mut Payload::None).await {
        Ok(_) => Ok(res.map_into_left_body()),
        Err(refusal) => Ok(ServiceResponse::new(request, HttpResponse::from_error(refusal)).map_into_right_body()),
    }
}
