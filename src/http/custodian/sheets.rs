//! Answer sheets in: checked against the custody rules, turned upright, masked and cut into one
//! anonymous script per question; the original pages sealed, the masked images apart.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::duty::two_on_duty;
use super::images::{StoredObjects, store_sheet};
use super::sheet_form::{self, SheetForm};
use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::candidate::normalise_admission_number;
use crate::domain::custody::{Entry, anonymous_code, check_batch_open, check_replacement, entry_counts_as};
use crate::domain::template::SheetTemplate;
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::Custodian;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::state::AppState;
use crate::scans::{PageInput, TreatedSheet, decode_claimed, treat_sheet};
use crate::vault::Vault;

#[derive(Debug, Serialize, ToSchema)]
pub struct ScriptIntake {
    pub script_id: String,
    pub question: String,
    /// `held` (waits for the batch's release) or `needs_treatment`.
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SheetIntake {
    pub sheet_id: String,
    pub batch: String,
    pub entry: String,
    /// A typed admission number waits for a second custodian's entry.
    pub confirmed: bool,
    pub scripts: Vec<ScriptIntake>,
}

/// What the database says before any image work: the sheet may come in.
#[derive(Clone)]
struct Admitted {
    exam_id: String,
    batch_id: String,
    template: SheetTemplate,
    questions: Vec<(String, String)>,
    candidate_id: String,
    school_code: String,
    sheet_lookup: String,
    replacing: Option<String>,
}

/// The keyed hash that finds a candidate's sheet without naming the candidate in clear.
pub fn sheet_lookup(vault: &Vault, exam_id: &str, candidate_id: &str) -> String {
    vault.lookup(exam_id, &format!("sheet-of:{candidate_id}"))
}

fn admit(
    c: &mut DbConn,
    vault: &Vault,
    me: &str,
    batch_id: &str,
    number: &str,
    replaces: bool,
) -> Result<Admitted, ApiError> {
    let batch = db::custody::batch_locked(c, batch_id).map_err(missing("batch"))?;
    check_batch_open(batch.status()?)?;
    two_on_duty(c, &batch.exam_id, me)?;
    let template = db::exams::template_of(c, &batch.exam_id)?
        .ok_or_else(|| RuleError::invalid("template_incomplete", "template", "the exam has no sheet template"))?;
    let questions = db::exams::questions_of(c, &batch.exam_id)?
        .into_iter()
        .map(|q| (q.code, q.id))
        .collect();
    let lookup = vault.lookup(&batch.exam_id, number);
    let (candidate_id, school_code) = db::candidates::by_lookup(c, &batch.exam_id, &lookup)?.ok_or_else(|| {
        RuleError::invalid(
            "unknown_candidate",
            "admission_number",
            "no candidate of this exam has that admission number",
        )
    })?;
    let sheet_lookup = sheet_lookup(vault, &batch.exam_id, &candidate_id);
    let replacing = match db::scripts::active_sheet_of(c, &batch.exam_id, &sheet_lookup)? {
        None => None,
        Some(old) => {
            let beyond = db::scripts::scripts_beyond_intake(c, &old.exam_id, &old.id)?;
            check_replacement(replaces, usize::try_from(beyond).unwrap_or(usize::MAX))?;
            Some(old.id)
        }
    };
    Ok(Admitted {
        exam_id: batch.exam_id,
        batch_id: batch.id,
        template,
        questions,
        candidate_id,
        school_code,
        sheet_lookup,
        replacing,
    })
}

/// Decoding and treatment, off the async threads.
pub(crate) async fn treat_pages(
    form_pages: Vec<(String, Vec<u8>)>,
    template: SheetTemplate,
    state: &AppState,
) -> Result<TreatedSheet, ApiError> {
    let limits = state.settings.scans.limits();
    tokio::task::spawn_blocking(move || {
        let mut pages = Vec::with_capacity(form_pages.len());
        for (i, (mime, bytes)) in form_pages.iter().enumerate() {
            let image = decode_claimed(bytes, mime, &limits).map_err(|e| scan_problem(e, &format!("page[{i}]")))?;
            pages.push(PageInput { image, turn: None });
        }
        treat_sheet(pages, &template, &[]).map_err(|e| scan_problem(e, "page"))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

pub fn scan_problem(e: crate::scans::ScanError, field: &str) -> ApiError {
    RuleError::Invalid {
        code: e.code(),
        field: Some(field.to_string()),
        detail: e.to_string(),
    }
    .into()
}

/// Upload one candidate's answer sheet (multipart: `admission_number`, `entry` = barcode or
/// typed, optional `replaces` = true, and one `page` part per page in order, PNG, JPEG or TIFF).
///
/// Rules the schema cannot state: the caller and another custodian are on duty, the batch is
/// open, the candidate is registered, the pages match the template, and a candidate's second
/// sheet only replaces one whose scripts are unmarked (state). A failed upload stores nothing.
///
/// Refused by rules of the content and of state: `invalid_image`, `unsupported_image_format` and
/// `image_too_large` (a page that is not a readable PNG, JPEG or TIFF within the limits),
/// `page_count_mismatch` (not the template's pages), `needs_treatment` (an anchor not found),
/// `template_incomplete` (no template yet), `unknown_candidate` (no such candidate).
#[utoipa::path(
    tag = "custody",
    params(("batch" = String, Path, description = "Batch id")),
    request_body(content = crate::http::schemas::SheetUpload, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Cut into scripts", body = SheetIntake),
        (status = 400, description = "Not a multipart form", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not on duty, or fewer than two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Batch not open, or the candidate's sheet is in", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "An upload or page too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown candidate, a bad image, pages not matching the template", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/batches/{batch}/sheets")]
pub async fn upload_sheet(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let batch_id = path.into_inner();
    let audit = custodian.audit("sheet.upload").object("batch", &batch_id);
    let at = custodian.workstation.clone();
    let result = intake(&state, &custodian.id, at, batch_id, form, audit.clone()).await;
    let intake = audit_refusal(&state, audit, result).await?;
    Ok(HttpResponse::Created().json(intake))
}

async fn intake(
    state: &AppState,
    me: &str,
    workstation: Option<String>,
    batch_id: String,
    form: Multipart,
    audit: Audit,
) -> Result<SheetIntake, ApiError> {
    let s = &state.settings;
    let SheetForm {
        admission_number,
        entry,
        replaces,
        pages,
    } = sheet_form::read(form, s.scans.max_page_bytes, s.http.max_upload_bytes).await?;
    let number = normalise_admission_number(&admission_number)?;
    let (vault, who, batch) = (state.vault.clone(), me.to_string(), batch_id.clone());
    let (admitted, scanner) = state
        .db
        .read(move |c| -> Result<_, ApiError> {
            let scanner = match &workstation {
                Some(w) => db::workstations::is_scanner(c, w)?,
                None => false,
            };
            Ok((admit(c, &vault, &who, &batch, &number, replaces)?, scanner))
        })
        .await?;
    let entry = entry_counts_as(entry, scanner);
    // Counted before anything is decoded: each page may decode to the per-page limit, so the
    // count bounds the memory one upload can take.
    if pages.len() != admitted.template.pages as usize {
        let e = crate::scans::ScanError::PageCountMismatch {
            given: pages.len(),
            expected: admitted.template.pages,
        };
        return Err(scan_problem(e, "page"));
    }
    let treated = treat_pages(pages, admitted.template.clone(), state).await?;
    let sheet_id = db::new_id();
    let stored = store_sheet(state, &sheet_id, &treated).await?;
    let result = record(state, me, &sheet_id, entry, &admitted, &treated, &stored, audit).await;
    if result.is_err() {
        stored.remove_new(state).await;
    }
    result
}

#[allow(clippy::too_many_arguments)]
/// The sheet, its pages and scripts, in one transaction that re-checks what may have changed
/// while the images were made.
async fn record(
    state: &AppState,
    me: &str,
    sheet_id: &str,
    entry: Entry,
    a: &Admitted,
    treated: &TreatedSheet,
    stored: &StoredObjects,
    audit: Audit,
) -> Result<SheetIntake, ApiError> {
    let now = state.now();
    let vault = state.vault.clone();
    let (me, sheet_id) = (me.to_string(), sheet_id.to_string());
    let a = a.clone();
    let cuts: Vec<(String, u32, bool)> = treated
        .questions
        .iter()
        .map(|q| (q.code.clone(), q.page, q.needs_treatment))
        .collect();
    let pages: Vec<(bool, bool)> = treated
        .pages
        .iter()
        .map(|p| {
            (
                p.orientation == Some(crate::scans::Orientation::UpsideDown),
                p.needs_treatment,
            )
        })
        .collect();
    let (originals, images) = (stored.originals.clone(), stored.images.clone());
    state
        .db
        .write(move |c| -> Result<SheetIntake, ApiError> {
            let again = db::custody::batch_locked(c, &a.batch_id)?;
            check_batch_open(again.status()?)?;
            two_on_duty(c, &a.exam_id, &me)?;
            if let Some(old) = &a.replacing {
                db::scripts::replace_sheet(c, &a.exam_id, old)?;
            }
            let sealed = vault.seal_text(&a.candidate_id, format!("sheet:{}:{sheet_id}", a.exam_id).as_bytes());
            let new = db::scripts::NewSheet {
                exam_id: &a.exam_id,
                id: &sheet_id,
                batch_id: &a.batch_id,
                candidate_lookup: &a.sheet_lookup,
                candidate_sealed: &sealed,
                entry: entry.as_str(),
                entered_by: &me,
                pages: i32::try_from(pages.len()).unwrap_or(i32::MAX),
            };
            db::scripts::insert_sheet(c, &new, now).map_err(|e| match e {
                db::DbError::Duplicate(_) => {
                    RuleError::conflict("sheet_exists", "this candidate's sheet came in a moment ago").into()
                }
                other => ApiError::from(other),
            })?;
            for (i, ((turned, needs), key)) in pages.iter().zip(&originals).enumerate() {
                db::scripts::insert_page(
                    c,
                    &a.exam_id,
                    &sheet_id,
                    i32::try_from(i).unwrap_or(i32::MAX),
                    key,
                    *turned,
                    *needs,
                )?;
            }
            let mut scripts = vec![];
            for ((code, page, needs), key) in cuts.iter().zip(&images) {
                let question_id = &a
                    .questions
                    .iter()
                    .find(|(q, _)| q == code)
                    .ok_or(ApiError::NotFound("question"))?
                    .1;
                let script_state = if *needs { "needs_treatment" } else { "held" };
                let id = insert_script(c, &a, &sheet_id, question_id, *page, key, script_state, now)?;
                scripts.push(ScriptIntake {
                    script_id: id,
                    question: code.clone(),
                    state: script_state.into(),
                });
            }
            let details = serde_json::json!({
                "pages": pages.len(), "entry": entry.as_str(), "replaces": a.replacing,
                "needs_treatment": scripts.iter().filter(|s| s.state == "needs_treatment").count(),
            });
            audit
                .object("sheet", &sheet_id)
                .exam(&a.exam_id)
                .details(details)
                .append(c, now)?;
            Ok(SheetIntake {
                sheet_id,
                batch: a.batch_id.clone(),
                entry: entry.as_str().into(),
                confirmed: entry == Entry::Barcode,
                scripts,
            })
        })
        .await
}

/// A script under a fresh anonymous code; a code already taken in the exam is drawn again.
#[allow(clippy::too_many_arguments)]
fn insert_script(
    c: &mut DbConn,
    a: &Admitted,
    sheet_id: &str,
    question_id: &str,
    page: u32,
    image_key: &str,
    script_state: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, ApiError> {
    let id = db::new_id();
    for _ in 0..8 {
        let code = anonymous_code(&mut rand::rng());
        let new = db::scripts::NewScript {
            exam_id: &a.exam_id,
            id: &id,
            question_id,
            sheet_id,
            anonymous_code: &code,
            school_code: &a.school_code,
            state: script_state,
            page: i32::try_from(page).unwrap_or(i32::MAX),
            image_key,
        };
        // In a savepoint: on PostgreSQL a failed insert would end the whole transaction.
        match diesel::Connection::transaction(c, |c| db::scripts::insert_script(c, &new, now)) {
            Ok(()) => return Ok(id),
            Err(db::DbError::Duplicate(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(ApiError::Internal("no free anonymous code after 8 draws".into()))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondEntry {
    /// The admission number as the second custodian reads it off the sheet.
    #[schema(pattern = "^[ ]*[A-Za-z0-9]{4,32}[ ]*$")]
    pub admission_number: String,
}

/// The second custodian's entry of a typed admission number: by another custodian on duty,
/// and the same number, or the sheet stays unconfirmed (and its batch unreleased).
#[utoipa::path(
    tag = "custody",
    params(("id" = String, Path, description = "Sheet id")),
    request_body = SecondEntry,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Confirmed", body = SheetIntake),
        (status = 403, description = "The same custodian, or not two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such sheet", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The numbers differ, or nothing to confirm", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sheets/{id}/confirm")]
pub async fn confirm_sheet(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
    body: crate::http::json::Json<SecondEntry>,
) -> Result<web::Json<SheetIntake>, ApiError> {
    let id = path.into_inner();
    let number = normalise_admission_number(&body.into_inner()?.admission_number)?;
    let now = state.now();
    let (vault, me) = (state.vault.clone(), custodian.id.clone());
    let audit = custodian.audit("sheet.confirm").object("sheet", &id);
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<SheetIntake, ApiError> {
            let sheet = db::scripts::sheet(c, &id).map_err(missing("sheet"))?;
            db::custody::batch_locked(c, &sheet.batch_id)?;
            two_on_duty(c, &sheet.exam_id, &me)?;
            if sheet.entry != Entry::Typed.as_str() || sheet.confirmed_by.is_some() || sheet.status != "active" {
                return Err(RuleError::conflict("nothing_to_confirm", "this sheet needs no second entry").into());
            }
            // The second entry names a candidate; it must be the sheet's own (compared by keyed
            // hash, so neither number is opened).
            let named = db::candidates::by_lookup(c, &sheet.exam_id, &vault.lookup(&sheet.exam_id, &number))?;
            let same =
                named.is_some_and(|(cid, _)| sheet_lookup(&vault, &sheet.exam_id, &cid) == sheet.candidate_lookup);
            let (first, second) = if same { ("same", "same") } else { ("first", "second") };
            crate::domain::custody::check_second_entry(&sheet.entered_by, &me, first, second)?;
            db::scripts::confirm_sheet(c, &sheet.exam_id, &sheet.id, &me)?;
            entry.exam(&sheet.exam_id).append(c, now)?;
            let scripts = db::scripts::scripts_of_sheet(c, &sheet.exam_id, &sheet.id)?;
            let codes = db::exams::questions_of(c, &sheet.exam_id)?;
            Ok(SheetIntake {
                scripts: scripts
                    .into_iter()
                    .map(|s| ScriptIntake {
                        question: codes
                            .iter()
                            .find(|q| q.id == s.question_id)
                            .map(|q| q.code.clone())
                            .unwrap_or_default(),
                        script_id: s.id,
                        state: s.state,
                    })
                    .collect(),
                sheet_id: sheet.id,
                batch: sheet.batch_id,
                entry: sheet.entry,
                confirmed: true,
            })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
