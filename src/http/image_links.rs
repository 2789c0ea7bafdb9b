//! Image links: a random, unguessable URL for one masked image for one holder, recorded so it
//! can be revoked at once (the marking issue revokes them when a lease ends). The URL is the
//! capability; only its hash is stored.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Duration, Utc};

use crate::db::{self, DbConn};
use crate::http::error::{ApiError, Problem};
use crate::http::state::AppState;
use crate::secrets::{random_key, sha256_hex};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(image);
}

/// Mints a link to a script's current masked image for `holder`, valid for `life`. Returns the
/// server-relative URL.
pub fn mint(
    c: &mut DbConn,
    script: &db::scripts::ScriptRow,
    holder: &str,
    now: DateTime<Utc>,
    life: Duration,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let of = db::scripts::ImageOf::Script(&script.id);
    mint_for(c, &script.exam_id, of, &script.image_key, holder, now + life)
}

/// Mints a link to one stored masked image, of a live or a pre-scored script.
pub fn mint_for(
    c: &mut DbConn,
    exam_id: &str,
    of: db::scripts::ImageOf<'_>,
    image_key: &str,
    holder: &str,
    expires: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let (link, hash) = fresh_link();
    db::scripts::insert_image_token(c, exam_id, &hash, of, image_key, holder, expires)?;
    Ok((link, expires))
}

/// A new link: its server-relative URL, and the hash of its token that is stored instead.
pub fn fresh_link() -> (String, String) {
    let token = random_key();
    (format!("/api/v1/images/{token}"), sha256_hex(token.as_bytes()))
}

fn gone() -> ApiError {
    ApiError::NotFound("image")
}

/// One masked image, for whoever holds the link while it lives: 404 once it expired or was
/// revoked, and for a made-up token. Never cached.
#[utoipa::path(
    tag = "images",
    params(("token" = String, Path, description = "The capability in the link")),
    responses(
        (status = 200, description = "The image", content_type = "image/png"),
        (status = 404, description = "Expired, revoked or unknown", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/images/{token}")]
pub async fn image(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    if token.len() != 43 {
        return Err(gone());
    }
    let now = state.now();
    let hash = sha256_hex(token.as_bytes());
    let found = state
        .db
        .read(move |c| db::scripts::image_for_token(c, &hash, now).map_err(ApiError::from))
        .await?;
    let Some(key) = found else {
        return Err(gone());
    };
    let bytes = state.storage.get(&key).await.map_err(|_| gone())?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/png"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}
