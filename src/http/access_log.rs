//! One log line and one measurement per request: the request id, the route template (never the
//! path itself, whose segments can name a candidate), the status, the latency and the actor.
//! Tokens, passwords, keys and bodies never reach it.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use super::request_id::RequestId;

/// Who made the request, once their token has been read (set by `caller::authenticate`).
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// The method as a label: the standard ones by name, any other as "other" (actix takes any
/// token as a method, and each would otherwise be a series of its own, at a caller's choosing).
fn method_label(method: &actix_web::http::Method) -> String {
    use actix_web::http::Method;
    let known = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    if known.contains(method) {
        method.as_str()
    } else {
        "other"
    }
    .to_string()
}

/// Logs and counts the request once its answer is ready. Runs inside the request-id middleware,
/// so the id is known.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    let elapsed = started.elapsed();
    let request = res.request();
    // Unmatched paths share one label: a scanner's thousand paths must not become a thousand series.
    let route = request.match_pattern().unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16();
    let id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let actor = request
        .extensions()
        .get::<Actor>()
        .map(|a| a.0.clone())
        .unwrap_or_default();
    let latency_ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0;
    tracing::info!(
        target: "markroom::http",
        request_id = %id,
        method = %method,
        route = %route,
        status,
        latency_ms,
        actor = %actor,
        "request"
    );
    metrics::counter!(
        "markroom_http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("markroom_http_request_duration_seconds", "method" => method, "route" => route)
        .record(elapsed.as_secs_f64());
    Ok(res)
}
