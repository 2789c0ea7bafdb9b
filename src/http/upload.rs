//! Uploads that are not JSON objects: candidate lists (a JSON array or CSV) and scanned sheets
//! (multipart). Like `Json`, extraction never fails by itself: the caller's authentication is
//! answered first, and the handler calls `into_inner()?`.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;

use super::error::ApiError;
use super::state::AppState;

/// A whole request body with its media type, within `http.max_upload_bytes`.
pub struct Upload(Result<(String, web::Bytes), ApiError>);

impl Upload {
    /// The media type (lower case, no parameters) and the bytes.
    pub fn into_inner(self) -> Result<(String, web::Bytes), ApiError> {
        self.0
    }
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError::input(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the upload is larger than {limit} bytes"),
        None,
    )
}

impl FromRequest for Upload {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.http.max_upload_bytes)
            .unwrap_or(64 << 20);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mime = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .unwrap_or_default();
        let mut payload = payload.take();
        Box::pin(async move {
            let read = async {
                if declared.is_some_and(|n| n > limit) {
                    return Err(too_large(limit));
                }
                let mut body = web::BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|e| {
                        ApiError::input(StatusCode::BAD_REQUEST, "unreadable_body", e.to_string(), None)
                    })?;
                    if body.len() + chunk.len() > limit {
                        return Err(too_large(limit));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok((mime, body.freeze()))
            };
            Ok(Upload(read.await))
        })
    }
}
