//! Request bodies. One extractor reads every JSON body so that every malformed input gets the
//! same clear answer: the wrong media type (415), too large (413), not JSON (400
//! `malformed_json`), an unknown field, a missing field, a wrong type or value (422 naming the
//! field, found with serde_path_to_error).
//!
//! Extraction itself never fails: actix runs a handler's extractors side by side, and a body
//! error must not overtake the caller's authentication (an anonymous caller learns nothing about
//! a route's body). The handler calls `into_inner()?` once the caller is known.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;

/// A JSON body that must be present.
pub struct Json<T>(Result<T, ApiError>);

/// A JSON body that may be left out (an empty body reads as `T::default()`).
pub struct JsonOrEmpty<T>(Result<T, ApiError>);

impl<T> Json<T> {
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T> JsonOrEmpty<T> {
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let parsed = body.await.and_then(|bytes| {
                if bytes.is_empty() {
                    Err(ApiError::input(
                        StatusCode::BAD_REQUEST,
                        "missing_body",
                        "this request needs a JSON body",
                        None,
                    ))
                } else {
                    parse(&bytes)
                }
            });
            Ok(Json(parsed))
        })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for JsonOrEmpty<T> {
    type Error = ApiError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let parsed = body.await.and_then(|bytes| {
                // No body, or JSON's own word for nothing: the defaults.
                if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
                    Ok(T::default())
                } else {
                    parse(&bytes)
                }
            });
            Ok(JsonOrEmpty(parsed))
        })
    }
}

fn read_body(req: &HttpRequest, payload: &mut Payload) -> Boxed<web::BytesMut> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.http.max_json_bytes)
        .unwrap_or(1 << 20);
    let too_large = move || {
        ApiError::input(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {limit} bytes"),
            None,
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let json = content_type.as_deref().is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or("").trim();
        mime == "application/json" || mime.ends_with("+json")
    });
    let mut payload = payload.take();
    Box::pin(async move {
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::input(StatusCode::BAD_REQUEST, "unreadable_body", e.to_string(), None))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if !body.is_empty() && !json {
            return Err(ApiError::input(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
                None,
            ));
        }
        Ok(body)
    })
}

/// Parses a body, naming the field at fault when the JSON is well formed but wrong.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |e: serde_json::Error| {
        ApiError::input(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
            None,
        )
    };
    // serde would read a struct from an array too; every body here is an object.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => ApiError::input(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_type",
                "the body must be a JSON object",
                None,
            ),
            Err(e) => malformed(e),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    if value.is_ok() {
        de.end().map_err(malformed)?;
    }
    value.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => malformed(inner),
            Category::Data => {
                let message = inner.to_string();
                let code = if message.starts_with("unknown field") {
                    "unknown_field"
                } else if message.starts_with("missing field") {
                    "missing_field"
                } else if message.starts_with("invalid type") {
                    "invalid_type"
                } else {
                    "invalid_value"
                };
                let field = if code == "missing_field" {
                    let name = message.split('`').nth(1).unwrap_or_default();
                    Some(if path == "." {
                        name.to_string()
                    } else {
                        format!("{path}.{name}")
                    })
                } else {
                    Some(path).filter(|p| p != ".")
                };
                let message = message.split(" at line ").next().unwrap_or(&message).to_string();
                ApiError::input(StatusCode::UNPROCESSABLE_ENTITY, code, message, field)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Score;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        score: Score,
    }

    #[test]
    fn trailing_input_is_malformed() {
        let e = parse::<Body>(br#"{"score": 1} {}"#).unwrap_err();
        assert_eq!(e.code(), "malformed_json", "{e:?}");
    }
}
