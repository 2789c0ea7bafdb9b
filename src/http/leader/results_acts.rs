//! The four two-person acts on an exam's results (R10): `lock`, `release`, `unlock` and
//! `amend`, each asked by one chief leader and approved by another. Their checks run when a
//! request is filed (so the asker sees at once what stands in the way) and again when it is
//! approved, under the exam row's lock; the database checks the flags a third time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::approvals::ApprovalRow;
use crate::db::exams::ExamRow;
use crate::db::{self, DbConn};
use crate::domain::results::{self, LockBlockers, QuestionOpen, ResultsState, Unaccounted};
use crate::domain::{RuleError, Score};
use crate::http::custodian::sheets::sheet_lookup;
use crate::http::error::ApiError;
use crate::vault::Vault;

/// `lock`, `release`: an optional note; `unlock`: the documented reason (required).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// `amend`: whose result, which question, the new score and why (a score appeal, say).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendPayload {
    #[schema(pattern = "^[ ]*[A-Za-z0-9]{4,32}[ ]*$")]
    pub admission_number: String,
    /// The question's code.
    pub question: String,
    #[schema(schema_with = crate::http::schemas::score)]
    pub score: Score,
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub reason: String,
    /// Filled in by the server: the script, and its final when the request was filed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub current: Option<Score>,
}

fn state_of(exam: &ExamRow) -> ResultsState {
    ResultsState {
        locked: exam.locked,
        released: exam.released,
    }
}

fn reason(field: &str, raw: &str) -> Result<String, RuleError> {
    super::marker_standing::check_reason(field, raw)
}

/// Everything open and every candidate unaccounted for, with names from the vault.
fn blockers(c: &mut DbConn, vault: &Vault, exam: &ExamRow) -> Result<LockBlockers, ApiError> {
    let questions = db::exams::questions_of(c, &exam.id)?;
    let (open, open_reviews) = db::lock::open_counts(c, &exam.id)?;
    let ids: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
    let code = |id: &str| {
        questions
            .iter()
            .find(|q| q.id == id)
            .map(|q| q.code.clone())
            .unwrap_or_default()
    };
    let per_question = questions
        .iter()
        .map(|q| {
            let [unresolved_scripts, open_tasks, disputes, backreads, problems] =
                open.get(&q.id).copied().unwrap_or_default();
            QuestionOpen {
                question: q.code.clone(),
                unresolved_scripts,
                open_tasks,
                disputes,
                backreads,
                problems,
            }
        })
        .collect();
    let mut unaccounted = Vec::new();
    let sheet_of = |id: &str| sheet_lookup(vault, &exam.id, id);
    for (id, admission, name, missing) in db::lock::unaccounted(c, &exam.id, &ids, sheet_of)? {
        let context = format!("candidate:{}:{id}", exam.id);
        let open_text = |sealed: &str, what: &str| {
            vault
                .open_text(sealed, format!("{context}:{what}").as_bytes())
                .map_err(|e| ApiError::Internal(format!("vault: {e}")))
        };
        unaccounted.push(Unaccounted {
            admission_number: open_text(&admission, "admission_number")?,
            name: open_text(&name, "name")?,
            questions: missing.iter().map(|q| code(q)).collect(),
        });
    }
    Ok(LockBlockers {
        questions: per_question,
        open_reviews,
        unaccounted,
    })
}

fn check_lock_now(c: &mut DbConn, vault: &Vault, exam: &ExamRow) -> Result<(), ApiError> {
    let b = blockers(c, vault, exam)?;
    Ok(results::check_lock(state_of(exam), &b)?)
}

/// Checks a `lock`, `release` or `unlock` request when filed; returns its canonical payload.
pub fn check_flag_request(
    c: &mut DbConn,
    vault: &Vault,
    exam: &ExamRow,
    kind: crate::domain::approval::ApprovalKind,
    p: ResultsPayload,
) -> Result<ResultsPayload, ApiError> {
    use crate::domain::approval::ApprovalKind as K;
    let note = match (&p.reason, kind) {
        (Some(r), _) => Some(reason("payload.reason", r)?),
        (None, K::Unlock) => {
            return Err(
                RuleError::invalid("invalid_reason", "payload.reason", "unlocking reopens marking: say why").into(),
            );
        }
        (None, _) => None,
    };
    match kind {
        K::Lock => check_lock_now(c, vault, exam)?,
        K::Release => results::check_release(state_of(exam))?,
        _ => results::check_unlock(state_of(exam))?,
    }
    Ok(ResultsPayload { reason: note })
}

/// Carries out an approved `lock`, `release` or `unlock`, the exam row locked.
pub fn apply_flag(
    c: &mut DbConn,
    vault: &Vault,
    exam_id: &str,
    kind: crate::domain::approval::ApprovalKind,
    row: &ApprovalRow,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    use crate::domain::approval::ApprovalKind as K;
    db::exams::lock_by_id(c, exam_id)?;
    let exam = db::exams::by_id(c, exam_id)?;
    match kind {
        K::Lock => {
            check_lock_now(c, vault, &exam)?;
            db::lock::set_locked(c, exam_id, true, &row.id, now)?;
        }
        K::Release => {
            results::check_release(state_of(&exam))?;
            db::lock::set_released(c, exam_id, &row.id, now)?;
        }
        _ => {
            results::check_unlock(state_of(&exam))?;
            db::lock::set_locked(c, exam_id, false, &row.id, now)?;
        }
    }
    Ok(())
}

/// Finds the script an amendment names, and its current final.
fn amend_target(
    c: &mut DbConn,
    vault: &Vault,
    exam: &ExamRow,
    p: &AmendPayload,
) -> Result<(String, String, Score, Score, Score), ApiError> {
    let q = db::exams::questions_of(c, &exam.id)?
        .into_iter()
        .find(|q| q.code == p.question)
        .ok_or_else(|| RuleError::invalid("unknown_question", "payload.question", "no such question"))?;
    let unknown = || {
        RuleError::invalid(
            "unknown_script",
            "payload.admission_number",
            "this candidate has no resolved script for this question",
        )
    };
    let lookup = vault.lookup(&exam.id, p.admission_number.trim());
    let (candidate, _) = db::candidates::by_lookup(c, &exam.id, &lookup)?.ok_or_else(unknown)?;
    let sheet = sheet_lookup(vault, &exam.id, &candidate);
    let script = db::lock::script_of(c, &exam.id, &sheet, &q.id)?.ok_or_else(unknown)?;
    let (current, _) = db::lock::current_final(c, &exam.id, &script)?.ok_or_else(unknown)?;
    let question = q.question()?;
    Ok((
        script,
        q.id,
        Score::from_hundredths(current),
        question.max,
        question.step,
    ))
}

/// Checks an `amend` request when filed; returns its canonical payload.
pub fn check_amend_request(
    c: &mut DbConn,
    vault: &Vault,
    exam: &ExamRow,
    p: AmendPayload,
) -> Result<AmendPayload, ApiError> {
    let why = reason("payload.reason", &p.reason)?;
    let (script, _, current, max, step) = amend_target(c, vault, exam, &p)?;
    results::check_amend(state_of(exam), current, p.score, max, step)?;
    Ok(AmendPayload {
        admission_number: p.admission_number.trim().to_string(),
        question: p.question,
        score: p.score,
        reason: why,
        script_id: Some(script),
        current: Some(current),
    })
}

/// Carries out an approved `amend`: a new version of the script's final, the old kept.
pub fn apply_amend(
    c: &mut DbConn,
    vault: &Vault,
    exam_id: &str,
    p: &AmendPayload,
    row: &ApprovalRow,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    db::exams::lock_by_id(c, exam_id)?;
    let exam = db::exams::by_id(c, exam_id)?;
    let (script, question_id, current, max, step) = amend_target(c, vault, &exam, p)?;
    results::check_amend(state_of(&exam), current, p.score, max, step)?;
    let a = db::lock::NewAmendment {
        exam_id,
        script_id: &script,
        question_id: &question_id,
        old_score: current.hundredths(),
        score: p.score.hundredths(),
        reason: &p.reason,
        approval_id: &row.id,
    };
    db::lock::amend(c, &a, now)?;
    Ok(())
}
