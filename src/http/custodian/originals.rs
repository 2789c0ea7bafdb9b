//! The original of a page that waits for treatment, for the custodian who treats it: the sealed
//! page as it was scanned (not turned, not masked), opened for a custodian on duty, audited.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

use super::duty::two_on_duty;
use super::images::page_context;
use crate::db;
use crate::domain::custody::check_treatable;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Custodian;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::state::AppState;

/// The page a script waiting for treatment was cut from, as scanned: the whole page, unmasked
/// and unturned, so that the custodian sees which way up it lies and what must be masked
/// (`POST /api/v1/scripts/{id}/treatment` takes the decision). Never cached.
///
/// Rules the schema cannot state: the caller and another custodian are on duty for the exam,
/// and the script needs treatment (state); every view is in the audit log.
#[utoipa::path(
    tag = "custody",
    params(("id" = String, Path, description = "Script id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The page as scanned", content_type = "image/png"),
        (status = 403, description = "Not on duty, or fewer than two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such script", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The script needs no treatment", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/scripts/{id}/original")]
pub async fn original_page(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let now = state.now();
    let me = custodian.id.clone();
    let audit = custodian.audit("script.original_view").object("script", &id);
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<(String, i32, String), ApiError> {
            let script = db::scripts::script(c, &id).map_err(missing("script"))?;
            two_on_duty(c, &script.exam_id, &me)?;
            check_treatable(&script.state)?;
            let page = db::scripts::page(c, &script.exam_id, &script.sheet_id, script.page)?;
            entry
                .exam(&script.exam_id)
                .details(serde_json::json!({ "sheet": script.sheet_id, "page": script.page }))
                .append(c, now)?;
            Ok((script.sheet_id, page.page, page.original_key))
        })
        .await;
    let (sheet_id, page, key) = audit_refusal(&state, audit, result).await?;
    let sealed = state
        .storage
        .get(&key)
        .await
        .map_err(|e| ApiError::Internal(format!("storage: {e}")))?;
    let png = state
        .vault
        .open(
            &sealed,
            &page_context(&sheet_id, usize::try_from(page).unwrap_or_default()),
        )
        .map_err(|e| ApiError::Internal(format!("original page: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/png"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(png))
}
