//! Pre-scored scripts (R6): a leader uploads a scanned sheet with the definitive score of one
//! question's answer; it goes through the scan pipeline (upright, masked, cut) but links to no
//! candidate. Calibration scripts make the qualification test; seeds go into live marking.
//! Definitive scores appear only in leaders' answers.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::exams::{exam_by_code, not_related};
use crate::db::exams::QuestionRow;
use crate::db::{self, DbConn};
use crate::domain::question::Question;
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Leader;
use crate::http::custodian::images::put_content;
use crate::http::custodian::sheets::{scan_problem, treat_pages};
use crate::http::error::{ApiError, Problem};
use crate::http::page_form;
use crate::http::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Prescored {
    pub id: String,
    pub question: String,
    /// `calibration` or `seed`.
    pub role: String,
    /// The definitive score.
    #[schema(value_type = f64)]
    pub score: Score,
    pub created_at: DateTime<Utc>,
}

/// The exam's question named in the path, for a leader with no relative sitting the exam.
pub fn question_for_leader(c: &mut DbConn, leader: &str, exam: &str, q: &str) -> Result<QuestionRow, ApiError> {
    let exam = exam_by_code(c, exam)?;
    not_related(c, &exam.id, leader)?;
    db::exams::questions_of(c, &exam.id)?
        .into_iter()
        .find(|row| row.code == q)
        .ok_or(ApiError::NotFound("question"))
}

fn role(text: &str) -> Result<&'static str, RuleError> {
    match text {
        "calibration" => Ok("calibration"),
        "seed" => Ok("seed"),
        _ => Err(RuleError::invalid(
            "invalid_field",
            "role",
            "role is calibration or seed",
        )),
    }
}

fn definitive(text: &str, q: &Question) -> Result<Score, RuleError> {
    let score = Score::parse(text).map_err(|e| RuleError::invalid("invalid_score", "score", e.to_string()))?;
    q.check_score("score", score)?;
    Ok(score)
}

/// Upload a pre-scored script (multipart: `score`, the definitive score; `role`, calibration or
/// seed; one `page` part per template page in order, PNG, JPEG or TIFF). Only the question's
/// masked answer is kept. A page that needs treatment (its anchor not found) is refused: rescan it.
///
/// Refused by rules of the content and of state: `invalid_image`, `unsupported_image_format` and
/// `image_too_large` (a page that is not a readable PNG, JPEG or TIFF within the limits),
/// `page_count_mismatch` (not the template's pages), `needs_treatment` (an anchor not found),
/// `template_incomplete` (no template yet), `invalid_score` (off the question's scale or step).
#[utoipa::path(
    tag = "markers",
    params(("exam" = String, Path, description = "Exam code"), ("q" = String, Path, description = "Question code")),
    request_body(content = crate::http::schemas::PrescoredUpload, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = Prescored),
        (status = 403, description = "A relative sits the exam", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam or question", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A score off the question's scale, an unknown role, a bad image, pages not matching the template", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/questions/{q}/prescored")]
pub async fn upload_prescored(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<(String, String)>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let (exam, q) = path.into_inner();
    let audit = leader
        .audit("prescored.upload")
        .details(serde_json::json!({ "exam": exam, "question": q }));
    let result = upload(&state, &leader.id, exam, q, form, audit.clone()).await;
    let created = audit_refusal(&state, audit, result).await?;
    Ok(HttpResponse::Created().json(created))
}

async fn upload(
    state: &AppState,
    me: &str,
    exam: String,
    q: String,
    form: Multipart,
    audit: crate::http::audit_entry::Audit,
) -> Result<Prescored, ApiError> {
    let s = &state.settings;
    let form = page_form::read(
        form,
        &["score", "role"],
        s.scans.max_page_bytes,
        s.http.max_upload_bytes,
    )
    .await?;
    let role = role(form.required("role")?)?;
    let who = me.to_string();
    let (row, template) = state
        .db
        .read(move |c| -> Result<_, ApiError> {
            let row = question_for_leader(c, &who, &exam, &q)?;
            let template = db::exams::template_of(c, &row.exam_id)?.ok_or_else(|| {
                RuleError::invalid("template_incomplete", "template", "the exam has no sheet template")
            })?;
            Ok((row, template))
        })
        .await?;
    let question = row.question()?;
    let score = definitive(form.required("score")?, &question)?;
    if form.pages.len() != template.pages as usize {
        let e = crate::scans::ScanError::PageCountMismatch {
            given: form.pages.len(),
            expected: template.pages,
        };
        return Err(scan_problem(e, "page"));
    }
    let treated = treat_pages(form.pages, template, state).await?;
    let cut = treated
        .questions
        .into_iter()
        .find(|c| c.code == row.code)
        .ok_or_else(|| {
            RuleError::invalid(
                "template_incomplete",
                "template",
                "the template does not place this question",
            )
        })?;
    if cut.needs_treatment {
        return Err(RuleError::invalid(
            "needs_treatment",
            "page",
            "the page's anchor square was not found, so its orientation is unknown: rescan it upright",
        )
        .into());
    }
    let (key, new) = put_content(&state.storage, "images", cut.png).await?;
    let now = state.now();
    let (who, image_key) = (me.to_string(), key.clone());
    let result = state
        .db
        .write(move |c| -> Result<Prescored, ApiError> {
            let p = db::prescored::NewPrescored {
                exam_id: &row.exam_id,
                question_id: &row.id,
                role,
                definitive: score,
                image_key: &image_key,
                uploaded_by: &who,
            };
            let id = db::prescored::insert(c, &p, now)?;
            audit
                .object("prescored", &id)
                .exam(&row.exam_id)
                .details(serde_json::json!({ "question": row.code, "role": role, "score": score }))
                .append(c, now)?;
            Ok(Prescored {
                id,
                question: row.code,
                role: role.into(),
                score,
                created_at: now,
            })
        })
        .await;
    if result.is_err() && new {
        let k = key.clone();
        let used = state
            .db
            .read(move |c| db::scripts::image_in_use(c, &k).map_err(ApiError::from))
            .await
            .unwrap_or(true);
        if !used {
            let _ = state.storage.delete(&key).await;
        }
    }
    result
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrescoredList {
    pub prescored: Vec<Prescored>,
}

/// A question's pre-scored scripts with their definitive scores (leaders only).
#[utoipa::path(
    tag = "markers",
    params(("exam" = String, Path, description = "Exam code"), ("q" = String, Path, description = "Question code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Calibration scripts, then seeds", body = PrescoredList),
        (status = 404, description = "No such exam or question", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/questions/{q}/prescored")]
pub async fn list_prescored(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<(String, String)>,
) -> Result<web::Json<PrescoredList>, ApiError> {
    let (exam, q) = path.into_inner();
    let me = leader.id.clone();
    let list = state
        .db
        .read(move |c| -> Result<PrescoredList, ApiError> {
            let row = question_for_leader(c, &me, &exam, &q)?;
            let mut prescored = vec![];
            for role in ["calibration", "seed"] {
                for p in db::prescored::of_question(c, &row.exam_id, &row.id, role)? {
                    prescored.push(Prescored {
                        score: p.definitive(),
                        id: p.id,
                        question: row.code.clone(),
                        role: p.role,
                        created_at: p.created_at.and_utc(),
                    });
                }
            }
            Ok(PrescoredList { prescored })
        })
        .await?;
    Ok(web::Json(list))
}
