//! Admissions systems read released results (R10; DESIGN.md section 4): a token scoped to the
//! exam, nothing before release, every read audited by client. Candidates come in a stable
//! order (the keyed lookup of their admission number), paged by keyset; the CSV is streamed a
//! page at a time, never built whole in memory.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::release::CandidateRow;
use crate::db::{self, DbConn};
use crate::domain::results::{page_limit, total};
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Admissions;
use crate::http::custodian::sheets::sheet_lookup;
use crate::http::error::{ApiError, Problem};
use crate::http::state::AppState;
use crate::vault::Vault;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionResult {
    #[schema(value_type = f64)]
    pub score: Score,
    /// `mean`, `closest_pair`, `arbitration` or `amendment`.
    pub method: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CandidateResult {
    pub admission_number: String,
    pub name: String,
    pub school_code: String,
    #[schema(value_type = f64)]
    pub total: Score,
    /// By question code.
    pub questions: BTreeMap<String, QuestionResult>,
    /// Question codes the candidate was absent for.
    pub absent: Vec<String>,
    /// 1, and one more for each amendment.
    pub version: u32,
    pub amended_at: Option<DateTime<Utc>>,
    pub amend_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsPage {
    pub results: Vec<CandidateResult>,
    /// Pass as `after` for the next page; null on the last.
    pub next_after: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    /// The `next_after` of the previous page.
    pub after: Option<String>,
    /// 1 to 5,000 (default 1,000).
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<u32>,
    /// Only candidates whose result was amended at or after this time.
    pub changed_since: Option<DateTime<Utc>>,
}

fn open(vault: &Vault, exam_id: &str, id: &str, sealed: &str, what: &str) -> Result<String, ApiError> {
    vault
        .open_text(sealed, format!("candidate:{exam_id}:{id}:{what}").as_bytes())
        .map_err(|e| ApiError::Internal(format!("vault: {e}")))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // The CSV before the single result, whose path would otherwise take `results.csv`.
    cfg.service(list_results).service(results_csv).service(one_result);
}

/// The results of these candidates, in their order.
fn build(
    c: &mut DbConn,
    vault: &Vault,
    exam: &ExamRow,
    questions: &[QuestionRow],
    rows: Vec<CandidateRow>,
) -> Result<Vec<CandidateResult>, ApiError> {
    let sheets: Vec<String> = rows.iter().map(|r| sheet_lookup(vault, &exam.id, &r.0)).collect();
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let (scores, history) = db::release::scores_of_sheets(c, &exam.id, &sheets)?;
    let absences = db::release::absences_of(c, &exam.id, &ids)?;
    let code = |id: &str| {
        questions
            .iter()
            .find(|q| q.id == id)
            .map(|q| q.code.clone())
            .unwrap_or_default()
    };
    let mut out = Vec::with_capacity(rows.len());
    for ((id, _, admission, name, school), sheet) in rows.into_iter().zip(sheets) {
        let mut per_question = BTreeMap::new();
        for (q, score, method) in scores.get(&sheet).into_iter().flatten() {
            let result = QuestionResult {
                score: Score::from_hundredths(*score),
                method: method.clone(),
            };
            per_question.insert(code(q), result);
        }
        let away = absences.get(&id);
        let absent: Vec<String> = questions
            .iter()
            .filter(|q| away.is_some_and(|a| a.iter().any(|x| x.is_empty() || x == &q.id)))
            .map(|q| q.code.clone())
            .collect();
        let amended: Vec<_> = history.iter().filter(|h| h.0 == sheet).collect();
        let finals: Vec<Score> = per_question.values().map(|r| r.score).collect();
        out.push(CandidateResult {
            admission_number: open(vault, &exam.id, &id, &admission, "admission_number")?,
            name: open(vault, &exam.id, &id, &name, "name")?,
            school_code: school,
            total: total(&finals),
            questions: per_question,
            absent,
            version: 1 + amended.len() as u32,
            amended_at: amended.last().map(|h| h.1.and_utc()),
            amend_reason: amended.last().map(|h| h.2.clone()),
        });
    }
    Ok(out)
}

/// One page after the cursor: candidates (only those amended since `changed_since`, when
/// given), and the cursor for the next page.
fn page(
    c: &mut DbConn,
    vault: &Vault,
    exam: &ExamRow,
    questions: &[QuestionRow],
    q: &ResultsQuery,
    limit: u32,
) -> Result<ResultsPage, ApiError> {
    let mut cursor = match &q.after {
        Some(a) => {
            let number = crate::domain::candidate::normalise_admission_number(a).map_err(|e| e.within("query"))?;
            Some(vault.lookup(&exam.id, &number))
        }
        None => None,
    };
    let changed: Option<Vec<String>> = match q.changed_since {
        Some(t) => Some(db::release::amended_since(c, &exam.id, crate::db::db_time(t))?),
        None => None,
    };
    let mut chosen = Vec::new();
    let mut more = false;
    // Reads one past the limit to know whether a next page exists.
    let want = limit as usize + 1;
    loop {
        let batch = db::release::candidates_after(c, &exam.id, cursor.as_deref(), 5000)?;
        let exhausted = batch.len() < 5000;
        cursor = batch.last().map(|r| r.1.clone());
        for row in batch {
            let keep = match &changed {
                Some(set) => set.contains(&sheet_lookup(vault, &exam.id, &row.0)),
                None => true,
            };
            if keep {
                chosen.push(row);
            }
        }
        if chosen.len() >= want {
            more = true;
            chosen.truncate(limit as usize);
            break;
        }
        if exhausted {
            break;
        }
    }
    let results = build(c, vault, exam, questions, chosen)?;
    let next_after = if more {
        results.last().map(|r| r.admission_number.clone())
    } else {
        None
    };
    Ok(ResultsPage { results, next_after })
}

/// Answers `body` with a strong ETag, or 304 when the client holds it already.
fn with_etag<T: Serialize>(req: &HttpRequest, body: &T) -> Result<HttpResponse, ApiError> {
    let json = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let tag = format!("\"{}\"", crate::secrets::sha256_hex(&json));
    let held = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if held {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, tag)).finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, tag))
        .content_type("application/json")
        .body(json))
}

/// Released results, a page at a time in a stable order (`after` = the previous page's
/// `next_after`; `limit` 1 to 5,000; `changed_since` for amendments only). With `ETag`.
#[utoipa::path(
    tag = "admissions",
    params(("exam" = String, Path, description = "Exam code"), ResultsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page", body = ResultsPage),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 403, description = "The token does not name this exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not released (`results_not_released`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/results")]
pub async fn list_results(
    state: web::Data<AppState>,
    caller: Admissions,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ResultsQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    let q = query.into_inner();
    let audit = caller.audit("results.read").details(serde_json::json!({
        "exam": code, "after": q.after, "limit": q.limit, "changed_since": q.changed_since,
    }));
    let result = async {
        let limit = page_limit(q.limit)?;
        let (vault, caller_exams) = (state.vault.clone(), caller.exams.clone());
        state
            .db
            .read(move |c| -> Result<(String, ResultsPage), ApiError> {
                let (exam, questions) = released_exam_for(c, &caller_exams, &code)?;
                Ok((exam.id.clone(), page(c, &vault, &exam, &questions, &q, limit)?))
            })
            .await
    }
    .await;
    let (exam_id, body) = audit_refusal(&state, audit.clone(), result).await?;
    let count = body.results.len();
    state
        .audit_alone(
            audit
                .exam(&exam_id)
                .details(serde_json::json!({ "results": count }))
                .entry(),
        )
        .await;
    with_etag(&req, &body)
}

/// `released_exam` for a caller's granted exam codes (inside a blocking closure).
fn released_exam_for(c: &mut DbConn, granted: &[String], code: &str) -> Result<(ExamRow, Vec<QuestionRow>), ApiError> {
    if !granted.iter().any(|e| e == code) {
        return Err(ApiError::forbidden(
            "exam_not_granted",
            "this token does not name this exam",
        ));
    }
    let exam = db::exams::by_code(c, code).map_err(crate::http::error::missing("exam"))?;
    if !exam.released {
        return Err(RuleError::conflict("results_not_released", "the results of this exam are not released").into());
    }
    let questions = db::exams::questions_of(c, &exam.id)?;
    Ok((exam, questions))
}

/// One candidate's released result, with `ETag`.
#[utoipa::path(
    tag = "admissions",
    params(("exam" = String, Path, description = "Exam code"), ("admission_no" = String, Path, description = "Admission number")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The result", body = CandidateResult),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 403, description = "The token does not name this exam", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such candidate", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not released (`results_not_released`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/results/{admission_no}")]
pub async fn one_result(
    state: web::Data<AppState>,
    caller: Admissions,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (code, number) = path.into_inner();
    let audit = caller
        .audit("results.read")
        .details(serde_json::json!({ "exam": code, "admission_number": number }));
    let (vault, granted) = (state.vault.clone(), caller.exams.clone());
    let result = state
        .db
        .read(move |c| -> Result<(String, CandidateResult), ApiError> {
            let (exam, questions) = released_exam_for(c, &granted, &code)?;
            let n = crate::domain::candidate::normalise_admission_number(&number).map_err(|e| e.within("path"))?;
            let lookup = vault.lookup(&exam.id, &n);
            let row = db::release::candidate_by_lookup(c, &exam.id, &lookup)?.ok_or(ApiError::NotFound("candidate"))?;
            let one = build(c, &vault, &exam, &questions, vec![row])?
                .pop()
                .ok_or(ApiError::NotFound("candidate"))?;
            Ok((exam.id.clone(), one))
        })
        .await;
    let (exam_id, body) = audit_refusal(&state, audit.clone(), result).await?;
    state.audit_alone(audit.exam(&exam_id).entry()).await;
    with_etag(&req, &body)
}

/// Every released result as CSV (UTF-8): `admission_number,name,school_code,total`, then one
/// column per question code; one row per candidate (an absent question's cell is `ABSENT`).
/// Streamed a page at a time.
#[utoipa::path(
    tag = "admissions",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The CSV", content_type = "text/csv"),
        (status = 403, description = "The token does not name this exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not released (`results_not_released`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/results.csv")]
pub async fn results_csv(
    state: web::Data<AppState>,
    caller: Admissions,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    let audit = caller
        .audit("results.read")
        .details(serde_json::json!({ "exam": code, "format": "csv" }));
    let granted = caller.exams.clone();
    let lookup_code = code.clone();
    let result = state
        .db
        .read(move |c| released_exam_for(c, &granted, &lookup_code))
        .await;
    let (exam, questions) = audit_refusal(&state, audit.clone(), result).await?;
    state.audit_alone(audit.exam(&exam.id).entry()).await;
    let codes: Vec<String> = questions.iter().map(|q| q.code.clone()).collect();
    let header = csv_line(
        ["admission_number", "name", "school_code", "total"]
            .iter()
            .map(|s| s.to_string())
            .chain(codes.iter().cloned()),
    )?;
    let start = (Some(Bytes::from(header)), None::<String>, false);
    let stream = futures_util::stream::unfold(start, move |(head, after, done)| {
        let (state, exam, questions, codes) = (state.clone(), exam.clone(), questions.clone(), codes.clone());
        async move {
            if let Some(h) = head {
                return Some((Ok::<Bytes, ApiError>(h), (None, after, done)));
            }
            if done {
                return None;
            }
            let vault = state.vault.clone();
            let q = ResultsQuery {
                after: after.clone(),
                ..ResultsQuery::default()
            };
            let page = state
                .db
                .read(move |c| page(c, &vault, &exam, &questions, &q, 1000))
                .await;
            match page.and_then(|p| csv_rows(&p, &codes).map(|b| (b, p.next_after))) {
                Ok((bytes, next)) => {
                    let finished = next.is_none();
                    Some((Ok(Bytes::from(bytes)), (None, next, finished)))
                }
                Err(e) => Some((Err(e), (None, None, true))),
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream))
}

fn csv_line(fields: impl IntoIterator<Item = String>) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields.into_iter().collect::<Vec<_>>())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    w.into_inner().map_err(|e| ApiError::Internal(e.to_string()))
}

fn csv_rows(p: &ResultsPage, codes: &[String]) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    for r in &p.results {
        let mut fields = vec![
            r.admission_number.clone(),
            r.name.clone(),
            r.school_code.clone(),
            r.total.to_string(),
        ];
        for code in codes {
            fields.push(match r.questions.get(code) {
                Some(q) => q.score.to_string(),
                None if r.absent.contains(code) => "ABSENT".into(),
                None => String::new(),
            });
        }
        out.extend(csv_line(fields)?);
    }
    Ok(out)
}
