//! The one place where every failure becomes an RFC 9457 problem document.
//!
//! Each layer has its own error enum (`domain::RuleError`, `db::DbError`); here they are
//! converted once into a status, a stable `code`, a human `detail`, the field at fault where
//! there is one, and the request id.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::request_id;
use crate::db::DbError;
use crate::domain::RuleError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Db(#[from] DbError),
    /// The request itself is malformed (syntax, types, unknown fields, size, media type).
    #[error("{detail}")]
    Input {
        status: StatusCode,
        code: &'static str,
        detail: String,
        field: Option<String>,
    },
    /// No valid credentials: 401.
    #[error("{detail}")]
    Unauthenticated { code: &'static str, detail: String },
    /// Valid credentials, but not for this: 403.
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Too many failed logins: 429 with Retry-After.
    #[error("{detail}")]
    Locked { detail: String, retry_after_secs: i64 },
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Storage answers that mean something to the client: a missing row is a 404 naming the thing,
/// a duplicate a 409 with the rule's own code. Use as `.map_err(missing("exam"))`.
pub fn missing(what: &'static str) -> impl FnOnce(DbError) -> ApiError {
    move |e| match e {
        DbError::NotFound => ApiError::NotFound(what),
        other => other.into(),
    }
}

pub fn taken(code: &'static str, detail: &'static str) -> impl FnOnce(DbError) -> ApiError {
    move |e| match e {
        DbError::Duplicate(_) => RuleError::conflict(code, detail).into(),
        other => other.into(),
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::Db(e.into())
    }
}

impl ApiError {
    pub fn input(status: StatusCode, code: &'static str, detail: impl Into<String>, field: Option<String>) -> Self {
        ApiError::Input {
            status,
            code,
            detail: detail.into(),
            field,
        }
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Forbidden {
            code,
            detail: detail.into(),
        }
    }

    pub fn unauthenticated(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Unauthenticated {
            code,
            detail: detail.into(),
        }
    }

    /// The status, code, detail and field the client sees.
    pub fn parts(&self) -> (StatusCode, &'static str, String, Option<String>) {
        match self {
            ApiError::Rule(RuleError::Invalid { code, field, detail }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, code, detail.clone(), field.clone())
            }
            ApiError::Rule(RuleError::Refused { code, detail }) => (StatusCode::FORBIDDEN, code, detail.clone(), None),
            ApiError::Rule(RuleError::Conflict { code, detail }) => (StatusCode::CONFLICT, code, detail.clone(), None),
            ApiError::Db(DbError::NotFound) => (StatusCode::NOT_FOUND, "not_found", "no such thing".into(), None),
            ApiError::Db(DbError::Duplicate(_)) => (
                StatusCode::CONFLICT,
                "already_exists",
                "that already exists".into(),
                None,
            ),
            ApiError::Db(DbError::Stale(what)) => (
                StatusCode::CONFLICT,
                "concurrent_change",
                format!("{what} changed a moment ago; look again and retry"),
                None,
            ),
            ApiError::Db(DbError::Guarded(code, message)) => (StatusCode::CONFLICT, code, message.clone(), None),
            ApiError::Db(DbError::Pool(_) | DbError::Lost(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database cannot be reached; try again shortly".into(),
                None,
            ),
            ApiError::Db(_) | ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "something went wrong on the server; it has been logged with this request id".into(),
                None,
            ),
            ApiError::Input {
                status,
                code,
                detail,
                field,
            } => (*status, code, detail.clone(), field.clone()),
            ApiError::Unauthenticated { code, detail } => (StatusCode::UNAUTHORIZED, code, detail.clone(), None),
            ApiError::Forbidden { code, detail } => (StatusCode::FORBIDDEN, code, detail.clone(), None),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, "not_found", format!("{what} not found"), None),
            ApiError::Locked { detail, .. } => (StatusCode::TOO_MANY_REQUESTS, "account_locked", detail.clone(), None),
            ApiError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not accept that method".into(),
                None,
            ),
        }
    }

    /// A refusal worth an audit entry: the caller was told no by a rule, not by bad syntax.
    /// Refusals are audited. So is a vault lookup that found nobody: probing admission numbers
    /// is a read of the identity vault, and every read of it leaves a trace.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ApiError::Rule(RuleError::Refused { .. } | RuleError::Conflict { .. })
                | ApiError::Rule(RuleError::Invalid {
                    code: "unknown_candidate",
                    ..
                })
                | ApiError::Forbidden { .. }
                | ApiError::Unauthenticated { .. }
                | ApiError::Locked { .. }
        )
    }

    pub fn code(&self) -> &'static str {
        self.parts().1
    }
}

/// RFC 9457 problem details, with markroom's extension members.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable reason.
    pub code: String,
    /// The request field at fault, as a path such as `criteria[1].max`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub request_id: String,
}

pub fn problem_response(status: StatusCode, code: &str, detail: String, field: Option<String>) -> HttpResponse {
    let body = Problem {
        kind: format!("https://markroom.invalid/problems/{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        code: code.to_string(),
        field,
        request_id: request_id::current(),
    };
    HttpResponse::build(status).content_type(PROBLEM_JSON).json(body)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, detail, field) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, code, request_id = %request_id::current(), "request failed");
        }
        let mut res = problem_response(status, code, detail, field);
        match self {
            ApiError::Locked { retry_after_secs, .. } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(&1).to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    res.headers_mut().insert(header::ALLOW, v);
                }
            }
            _ => {}
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}
