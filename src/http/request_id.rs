//! Every request gets a random id, returned in `X-Request-Id`, written into every problem
//! document and every audit entry, so a complaint at a workstation can be traced to the log.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};

use super::error::{PROBLEM_JSON, problem_response};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id of the request being served, or "-" outside a request.
pub fn current() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_else(|_| "-".into())
}

/// Assigns the id, and turns any error response that did not come from `ApiError` (the
/// framework's own) into a problem document too, so that clients meet one error format.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let res = REQUEST_ID.scope(id.clone(), next.call(req)).await?;
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let status = res.status();
    let mut res = if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let detail = status.canonical_reason().unwrap_or("error").to_string();
        let code = match status.as_u16() {
            404 => "not_found",
            405 => "method_not_allowed",
            413 => "body_too_large",
            415 => "unsupported_media_type",
            s if s >= 500 => "internal",
            _ => "bad_request",
        };
        let problem = REQUEST_ID.sync_scope(id.clone(), || problem_response(status, code, detail, None));
        res.into_response(problem).map_into_right_body()
    } else {
        res.map_into_left_body()
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, v);
    }
    // The server's clock, not the host's: the pages count leases down against it, so a
    // workstation whose own clock is wrong still warns in time.
    let now = res
        .request()
        .app_data::<actix_web::web::Data<super::state::AppState>>()
        .map(|s| s.now());
    if let Some(now) = now {
        let date = header::HttpDate::from(std::time::SystemTime::from(now));
        if let Ok(v) = HeaderValue::from_str(&date.to_string()) {
            res.headers_mut().insert(header::DATE, v);
        }
    }
    Ok(res)
}
