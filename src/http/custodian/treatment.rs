//! Technical treatment (R9): a page whose anchor could not be found is turned and masked by a
//! custodian on duty, from the sealed original, producing new masked images.

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::duty::two_on_duty;
use super::images::{page_context, put_content};
use crate::db;
use crate::domain::RuleError;
use crate::domain::custody::check_treatable;
use crate::domain::template::Region;
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::Custodian;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::leader::exam_by_code;
use crate::http::state::AppState;
use crate::scans::{PageInput, decode_page, treat_page};

#[derive(Debug, Serialize, ToSchema)]
pub struct TreatmentItem {
    pub script_id: String,
    pub question: String,
    pub sheet_id: String,
    pub page: i32,
}

/// Scripts that need technical treatment before they may go out (custodians on duty).
#[utoipa::path(
    tag = "custody",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Scripts needing treatment, oldest first", body = Vec<TreatmentItem>),
        (status = 403, description = "Not on duty, or fewer than two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/treatment")]
pub async fn treatment_list(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
) -> Result<web::Json<Vec<TreatmentItem>>, ApiError> {
    let code = path.into_inner();
    let me = custodian.id.clone();
    let audit = custodian.audit("treatment.list").object("exam_code", &code);
    let result = state
        .db
        .read(move |c| -> Result<Vec<TreatmentItem>, ApiError> {
            let exam = exam_by_code(c, &code)?;
            two_on_duty(c, &exam.id, &me)?;
            let codes: Vec<(String, String)> = db::exams::questions_of(c, &exam.id)?
                .into_iter()
                .map(|q| (q.id, q.code))
                .collect();
            let code_of = |id: &str| {
                codes
                    .iter()
                    .find(|(q, _)| q == id)
                    .map(|(_, c)| c.clone())
                    .unwrap_or_default()
            };
            Ok(db::scripts::scripts_in_state(c, &exam.id, "needs_treatment")?
                .into_iter()
                .map(|s| TreatmentItem {
                    question: code_of(&s.question_id),
                    script_id: s.id,
                    sheet_id: s.sheet_id,
                    page: s.page,
                })
                .collect())
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Treatment {
    /// Turn the page (as stored) by 180°.
    pub turn: bool,
    /// Extra rectangles to paint black on this page, in page fractions (after the turn).
    #[serde(default)]
    #[schema(max_items = 32)]
    pub masks: Vec<Region>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Treated {
    /// Every script cut from the treated page, now `held` (or `awaiting` when its batch is
    /// released already), with new masked images.
    pub scripts: Vec<String>,
}

/// Treat the page a script was cut from: turn it and/or add mask rectangles; every script of
/// that page gets new masked images and its old image links stop working.
///
/// Rules the schema cannot state: the caller and another custodian are on duty, the masks lie
/// on the page (across fields and state).
#[utoipa::path(
    tag = "custody",
    params(("id" = String, Path, description = "Script id")),
    request_body = Treatment,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Treated", body = Treated),
        (status = 403, description = "Not on duty, or fewer than two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such script", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A mask off the page", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/scripts/{id}/treatment")]
pub async fn treat_script(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
    body: crate::http::json::Json<Treatment>,
) -> Result<web::Json<Treated>, ApiError> {
    let id = path.into_inner();
    let t = body.into_inner()?;
    let audit = custodian.audit("script.treatment").object("script", &id);
    let result = treat(&state, &custodian.id, &id, t, audit.clone()).await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

async fn treat(state: &AppState, me: &str, script_id: &str, t: Treatment, audit: Audit) -> Result<Treated, ApiError> {
    let (who, sid) = (me.to_string(), script_id.to_string());
    let (script, page, template) = state
        .db
        .read(move |c| -> Result<_, ApiError> {
            let script = db::scripts::script(c, &sid).map_err(missing("script"))?;
            two_on_duty(c, &script.exam_id, &who)?;
            check_treatable(&script.state)?;
            let page = db::scripts::page(c, &script.exam_id, &script.sheet_id, script.page)?;
            let template = db::exams::template_of(c, &script.exam_id)?.ok_or(ApiError::NotFound("template"))?;
            Ok((script, page, template))
        })
        .await?;
    for (i, m) in t.masks.iter().enumerate() {
        let inside = m.page as i32 == page.page
            && m.width > 0.0
            && m.height > 0.0
            && m.x >= 0.0
            && m.y >= 0.0
            && m.x + m.width <= 1.0 + 1e-9
            && m.y + m.height <= 1.0 + 1e-9;
        if !inside {
            return Err(RuleError::invalid(
                "invalid_mask",
                format!("masks[{i}]"),
                "a mask lies on the treated page, inside it",
            )
            .into());
        }
    }
    let sealed = state
        .storage
        .get(&page.original_key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let png = state
        .vault
        .open(
            &sealed,
            &page_context(&script.sheet_id, usize::try_from(page.page).unwrap_or_default()),
        )
        .map_err(|e| ApiError::Internal(format!("original page: {e}")))?;
    let limits = state.settings.scans.limits();
    let (index, turn, masks) = (u32::try_from(page.page).unwrap_or_default(), t.turn, t.masks.clone());
    let cuts = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let image = decode_page(&png, &limits).map_err(|e| ApiError::Internal(e.to_string()))?;
        let (_, cuts) = treat_page(
            index,
            PageInput {
                image,
                turn: Some(turn),
            },
            &template,
            &masks,
        )
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(cuts)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let mut images = vec![];
    for cut in cuts {
        let (key, _) = put_content(&state.storage, "images", cut.png).await?;
        images.push((cut.code, key));
    }
    record(state, me, &script, t, images, audit).await
}

async fn record(
    state: &AppState,
    me: &str,
    script: &db::scripts::ScriptRow,
    t: Treatment,
    images: Vec<(String, String)>,
    audit: Audit,
) -> Result<Treated, ApiError> {
    let now = state.now();
    let (exam_id, sheet_id, page) = (script.exam_id.clone(), script.sheet_id.clone(), script.page);
    let me = me.to_string();
    let masks = serde_json::to_string(&t.masks).map_err(|e| ApiError::Internal(e.to_string()))?;
    let defaults = state.settings.rules.clone();
    state
        .db
        .write(move |c| -> Result<Treated, ApiError> {
            let sheet = db::scripts::sheet(c, &sheet_id)?;
            let batch = db::custody::batch_locked(c, &sheet.batch_id)?;
            // Treated scripts wait in the open batch for its two-person release, like any other;
            // a script withdrawn from marking (identity exposed) goes back to marking afresh.
            let released = batch.status()? == crate::domain::custody::BatchStatus::Released;
            if !released {
                crate::domain::custody::check_batch_open(batch.status()?)?;
            }
            two_on_duty(c, &exam_id, &me)?;
            let next = if released { "awaiting" } else { "held" };
            let codes: Vec<(String, String)> = db::exams::questions_of(c, &exam_id)?
                .into_iter()
                .map(|q| (q.code, q.id))
                .collect();
            let mut done = vec![];
            for s in db::scripts::scripts_of_sheet(c, &exam_id, &sheet_id)?
                .into_iter()
                .filter(|s| s.page == page && s.state == "needs_treatment")
            {
                let code = codes
                    .iter()
                    .find(|(_, id)| id == &s.question_id)
                    .map(|(c, _)| c.as_str())
                    .unwrap_or_default();
                let Some((_, key)) = images.iter().find(|(c, _)| c == code) else {
                    continue;
                };
                db::scripts::set_image(c, &exam_id, &s.id, key, next)?;
                // Whoever held a link to the old image loses it now.
                db::scripts::revoke_image_tokens(c, &exam_id, &s.id)?;
                done.push(s.id);
            }
            db::scripts::treat_page(c, &exam_id, &sheet_id, page, t.turn, &masks)?;
            if released {
                let rules = db::exams::by_id(c, &exam_id)?.rules(&defaults)?;
                for id in &done {
                    crate::http::resolution::settle(c, &exam_id, id, &rules, None, now)?;
                }
            }
            audit
                .exam(&exam_id)
                .details(serde_json::json!({ "turn": t.turn, "masks": t.masks.len(), "scripts": done }))
                .append(c, now)?;
            Ok(Treated { scripts: done })
        })
        .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageLink {
    /// Server-relative URL of the script's masked image; works until `expires_at`, or until
    /// the image is redone.
    pub url: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// A short-lived link to a script's masked image, for a custodian on duty checking the masking.
#[utoipa::path(
    tag = "custody",
    params(("id" = String, Path, description = "Script id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A link", body = ImageLink),
        (status = 403, description = "Not on duty, or fewer than two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such script", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/scripts/{id}/image-link")]
pub async fn image_link(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
) -> Result<web::Json<ImageLink>, ApiError> {
    let id = path.into_inner();
    let now = state.now();
    let life = chrono::Duration::minutes(state.settings.scans.image_link_minutes);
    let me = custodian.id.clone();
    let audit = custodian.audit("script.image_link").object("script", &id);
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<ImageLink, ApiError> {
            let script = db::scripts::script(c, &id).map_err(missing("script"))?;
            two_on_duty(c, &script.exam_id, &me)?;
            if script.image_key.is_empty() {
                return Err(RuleError::conflict(
                    "no_image",
                    "the script waits for treatment: it has no masked image yet",
                )
                .into());
            }
            let (url, expires_at) = crate::http::image_links::mint(c, &script, &me, now, life)?;
            entry.exam(&script.exam_id).append(c, now)?;
            Ok(ImageLink { url, expires_at })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
