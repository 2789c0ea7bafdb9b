//! The candidate list and absences. Identity goes straight into the vault: names and admission
//! numbers are sealed before they reach the database, and nothing of them is audited.

use actix_web::http::StatusCode;
use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::domain::RuleError;
use crate::domain::candidate::{Candidate, CandidateInput, check_list, normalise_admission_number};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Staff;
use crate::http::error::{ApiError, Problem};
use crate::http::json::Json;
use crate::http::leader::exam_by_code;
use crate::http::state::AppState;
use crate::http::upload::Upload;
use crate::vault::Vault;

#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
    /// Candidates registered for the exam now.
    pub total: i64,
}

fn invalid(field: String, detail: String) -> ApiError {
    RuleError::Invalid {
        code: "invalid_candidate",
        field: Some(field),
        detail,
    }
    .into()
}

/// Rows from a JSON array, each named `rows[i]`.
fn json_rows(bytes: &[u8]) -> Result<Vec<(String, CandidateInput)>, ApiError> {
    let values: Vec<serde_json::Value> = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::input(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("send a JSON array of candidates: {e}"),
            None,
        )
    })?;
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let at = format!("rows[{i}]");
            serde_json::from_value(v)
                .map(|c| (at.clone(), c))
                .map_err(|e| invalid(at.clone(), format!("{at}: {e}")))
        })
        .collect()
}

/// Rows from CSV with a header line (`admission_number,name,school_code[,district]`), each named
/// by its line in the file.
fn csv_rows(bytes: &[u8]) -> Result<Vec<(String, CandidateInput)>, ApiError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| invalid("line 1".into(), format!("line 1: {e}")))?
        .clone();
    let mut out = vec![];
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            invalid(format!("line {line}"), format!("line {line}: {e}"))
        })?;
        // The reader's own position: blank lines and quoted line breaks count as in the file.
        let at = format!("line {}", record.position().map_or(0, |p| p.line()));
        let row: CandidateInput = record
            .deserialize(Some(&headers))
            .map_err(|e| invalid(at.clone(), format!("{at}: {e}")))?;
        out.push((at, row));
    }
    Ok(out)
}

fn sealed_write(
    c: &mut db::DbConn,
    vault: &Vault,
    exam_id: &str,
    cand: &Candidate,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, ApiError> {
    let lookup = vault.lookup(exam_id, &cand.admission_number);
    let existing = db::candidates::by_lookup(c, exam_id, &lookup)?;
    let id = existing.as_ref().map_or_else(db::new_id, |(id, _)| id.clone());
    // Each sealed value is bound to its row: it cannot be moved to another candidate.
    let context = format!("candidate:{exam_id}:{id}");
    let row = db::candidates::SealedCandidate {
        exam_id,
        id: &id,
        lookup: &lookup,
        admission_sealed: &vault.seal_text(&cand.admission_number, format!("{context}:admission_number").as_bytes()),
        name_sealed: &vault.seal_text(&cand.name, format!("{context}:name").as_bytes()),
        school_code: &cand.school_code,
        district: cand.district.as_deref(),
    };
    if existing.is_some() {
        db::candidates::update(c, &row, now)?;
        Ok(false)
    } else {
        db::candidates::insert(c, &row, now)?;
        Ok(true)
    }
}

/// Register candidates: a JSON array of `{admission_number, name, school_code, district?}`, or
/// CSV (`text/csv`) with that header line. Re-posting an admission number updates it. A bad row
/// is named by its place (`rows[i]`, or its line in the CSV) and nothing of the upload is stored.
///
/// Refused by rules across rows: `duplicate_candidate` (an admission number listed twice) and
/// `empty_list` (no rows).
#[utoipa::path(
    tag = "custody",
    params(("exam" = String, Path, description = "Exam code")),
    request_body(content = Vec<CandidateInput>, description = "JSON array, or text/csv with a header line", content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored", body = Imported),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad row, named", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/candidates")]
pub async fn import_candidates(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: Upload,
) -> Result<web::Json<Imported>, ApiError> {
    let code = path.into_inner();
    let (mime, bytes) = body.into_inner()?;
    let rows = match mime.as_str() {
        "application/json" => json_rows(&bytes)?,
        "text/csv" => csv_rows(&bytes)?,
        _ => {
            return Err(ApiError::input(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the list as application/json or text/csv",
                None,
            ));
        }
    };
    let list = check_list(&rows)?;
    let now = state.now();
    let vault = state.vault.clone();
    let defaults = state.settings.rules.clone();
    let me = staff.id.clone();
    let audit = staff.audit("candidates.import").object("exam_code", &code);
    let (entry, standing) = (audit.clone(), staff.audit("marker.standing"));
    let source = mime.clone();
    let result = state
        .db
        .write(move |c| -> Result<Imported, ApiError> {
            let exam = exam_by_code(c, &code)?;
            crate::http::leader::not_related(c, &exam.id, &me)?;
            // Imports and relative declarations take turns on the exam (R3).
            db::exams::lock_by_id(c, &exam.id)?;
            let mut created = 0;
            for cand in &list {
                created += usize::from(sealed_write(c, &vault, &exam.id, cand, now)?);
            }
            let updated = list.len() - created;
            // Someone's declared relative may be on the list now (R3): their standing changes.
            let max_age = exam.rules(&defaults)?.marker_max_age;
            for user in db::markers::users_with_relatives(c, &exam.id)? {
                if let Some(m) = db::markers::by_user(c, &user)? {
                    crate::http::leader::relatives::reevaluate_if_known(c, &exam, &m, max_age, &standing, now)?;
                }
            }
            // Counts only: identity never enters the audit log.
            let details = serde_json::json!({ "created": created, "updated": updated, "format": source });
            entry.exam(&exam.id).details(details).append(c, now)?;
            Ok(Imported {
                created,
                updated,
                total: db::candidates::count(c, &exam.id)?,
            })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordAbsence {
    #[schema(pattern = "^[ ]*[A-Za-z0-9]{4,32}[ ]*$")]
    pub admission_number: String,
    /// The question missed; without it, the whole exam.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub question: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AbsenceRecorded {
    pub candidate_id: String,
    pub question: Option<String>,
}

/// Record a candidate absent for the exam or for one question. Rules the schema cannot state:
/// the candidate and the question exist, and the absence is not recorded already (state).
///
/// Refused by a rule of state: `unknown_candidate` (no candidate of the exam has that number).
#[utoipa::path(
    tag = "custody",
    params(("exam" = String, Path, description = "Exam code")),
    request_body = RecordAbsence,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded", body = AbsenceRecorded),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Recorded already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown candidate or question", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/absences")]
pub async fn record_absence(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: Json<RecordAbsence>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let code = path.into_inner();
    let a = body.into_inner()?;
    let number = normalise_admission_number(&a.admission_number)?;
    let now = state.now();
    let vault = state.vault.clone();
    let by = staff.id.clone();
    let audit = staff.audit("absence.record").object("exam_code", &code);
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<AbsenceRecorded, ApiError> {
            let exam = exam_by_code(c, &code)?;
            crate::http::leader::not_related(c, &exam.id, &by)?;
            let lookup = vault.lookup(&exam.id, &number);
            let (candidate_id, _) = db::candidates::by_lookup(c, &exam.id, &lookup)?.ok_or_else(|| {
                RuleError::invalid(
                    "unknown_candidate",
                    "admission_number",
                    "no candidate of this exam has that admission number",
                )
            })?;
            let question_id = match &a.question {
                None => String::new(),
                Some(q) => db::exams::questions_of(c, &exam.id)?
                    .into_iter()
                    .find(|r| &r.code == q)
                    .map(|r| r.id)
                    .ok_or_else(|| {
                        RuleError::invalid("unknown_question", "question", format!("the exam has no question {q}"))
                    })?,
            };
            db::candidates::insert_absence(c, &exam.id, &candidate_id, &question_id, &by, now).map_err(
                |e| match e {
                    db::DbError::Duplicate(_) => {
                        RuleError::conflict("already_recorded", "this absence is recorded already").into()
                    }
                    other => ApiError::from(other),
                },
            )?;
            entry
                .exam(&exam.id)
                .object("candidate", &candidate_id)
                .details(serde_json::json!({ "question": a.question }))
                .append(c, now)?;
            Ok(AbsenceRecorded {
                candidate_id,
                question: a.question,
            })
        })
        .await;
    let recorded = audit_refusal(&state, audit, result).await?;
    Ok(actix_web::HttpResponse::Created().json(recorded))
}
