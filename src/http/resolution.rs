//! Carrying out what the domain's resolution decides for one script, inside the transaction
//! that changed its marks: tasks to open, a final, a dispute, a back-read sample. Shared by the
//! marker's score, leadership's arbitration and back-reads, flags and treatment.

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::db::exams::QuestionRow;
use crate::db::{self, DbConn};
use crate::domain::Score;
use crate::domain::resolution::{Method, Outcome, required_marks, resolve};
use crate::domain::rules::MarkingRules;
use crate::http::error::ApiError;

/// Script states in which marking goes on.
const IN_MARKING: [&str; 2] = ["awaiting", "marking"];

/// The question row of a script's question.
pub fn question_of(c: &mut DbConn, exam_id: &str, question_id: &str) -> Result<QuestionRow, ApiError> {
    db::exams::questions_of(c, exam_id)?
        .into_iter()
        .find(|q| q.id == question_id)
        .ok_or(ApiError::NotFound("question"))
}

/// Each script of the batch now in marking gets its required independent tasks.
pub fn open_tasks_for_batch(
    c: &mut DbConn,
    exam_id: &str,
    batch_id: &str,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let questions = db::exams::questions_of(c, exam_id)?;
    let mut opened = 0;
    for script in db::scripts::awaiting_in_batch(c, exam_id, batch_id)? {
        let row = questions
            .iter()
            .find(|q| q.id == script.question_id)
            .ok_or(ApiError::NotFound("question"))?;
        let required = required_marks(&row.question()?);
        let have = db::marking::tasks_of_script(c, exam_id, &script.id)?.len();
        for _ in have..required as usize {
            db::marking::insert_task(c, exam_id, &script.id, &row.id, false, now)?;
            opened += 1;
        }
    }
    Ok(opened)
}

/// Decides a script from its valid marks once no task of it is open or leased: a final (and
/// perhaps a back-read), a dispute, or more tasks. Scripts withdrawn, waiting for treatment or
/// disputed are left alone.
pub fn settle(
    c: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    rules: &MarkingRules,
    question: Option<&QuestionRow>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    // Marks of one script committed side by side must not each miss the other's task.
    let script = db::scripts::lock_script(c, exam_id, script_id)?;
    let locked = db::marking::LockedScript {
        state: script.state,
        question_id: script.question_id,
    };
    settle_locked(c, exam_id, script_id, &locked, rules, question, now)
}

/// `settle` once the script's row is locked (as `lock_script` locks it), with its state and
/// question as the lock read them; the reads here must come in statements after the lock's.
pub fn settle_locked(
    c: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    locked: &db::marking::LockedScript,
    rules: &MarkingRules,
    question: Option<&QuestionRow>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let (state, question_id) = (locked.state.as_str(), locked.question_id.as_str());
    if !IN_MARKING.contains(&state) {
        return Ok(());
    }
    let tasks = db::marking::tasks_of_script(c, exam_id, script_id)?;
    let pending = tasks
        .iter()
        .filter(|t| t.state == "open" || t.state == "leased")
        .count();
    if pending > 0 {
        // Most marks land here, on a script in marking already: nothing to read or write.
        if state != "marking"
            && (tasks.iter().any(|t| t.state == "leased")
                || !db::marking::valid_marks(c, exam_id, script_id)?.is_empty())
        {
            db::marking::set_script_state(c, exam_id, script_id, "marking")?;
        }
        return Ok(());
    }
    let marks = db::marking::valid_marks(c, exam_id, script_id)?;
    let row = match question.filter(|q| q.id == question_id) {
        Some(row) => row.clone(),
        None => question_of(c, exam_id, question_id)?,
    };
    let q = row.question()?;
    let scores: Vec<Score> = marks.iter().map(|(_, s, _)| Score::from_hundredths(*s)).collect();
    match resolve(&q, &scores) {
        Outcome::NeedMore(k) => {
            for _ in 0..k {
                db::marking::insert_task(c, exam_id, script_id, &row.id, !marks.is_empty(), now)?;
            }
            let state = if marks.is_empty() { "awaiting" } else { "marking" };
            db::marking::set_script_state(c, exam_id, script_id, state)?;
        }
        Outcome::Resolved { score, method } => {
            record_final(c, exam_id, script_id, &row.id, score, method, None, now)?;
            if rand::rng().random_bool(rules.backread_rate.clamp(0.0, 1.0)) {
                db::results::open_backread(c, exam_id, script_id, &row.id, now)?;
            }
        }
        Outcome::Disputed { spread } => {
            db::results::open_dispute(c, exam_id, script_id, &row.id, "marks", spread.hundredths(), now)?;
            db::marking::set_script_state(c, exam_id, script_id, "disputed")?;
        }
    }
    Ok(())
}

/// A final for the script; the script is resolved.
#[allow(clippy::too_many_arguments)]
pub fn record_final(
    c: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    question_id: &str,
    score: Score,
    method: Method,
    decided: Option<(&str, &str)>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let f = db::results::Final {
        exam_id,
        script_id,
        question_id,
        score: score.hundredths(),
        method: method.as_str(),
        decided_by: decided.map(|d| d.0),
        reason: decided.map(|d| d.1),
    };
    db::results::set_final(c, &f, now)?;
    db::marking::set_script_state(c, exam_id, script_id, "resolved")?;
    Ok(())
}

/// Takes a script out of marking at once: its open tasks are voided, running leases end and
/// every image link to it dies. With `void_marks` its marks are voided too (identity exposed:
/// those markers may have seen the name), its final lapses and it is marked afresh later.
pub fn withdraw(
    c: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    state: &str,
    void_marks: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    for serve in db::marking::running_serves_of_script(c, exam_id, script_id)? {
        db::marking::end_serve(c, &serve, "ended", now)?;
    }
    for t in db::marking::tasks_of_script(c, exam_id, script_id)? {
        if t.state == "open" || t.state == "leased" {
            db::marking::set_task_state(c, exam_id, &t.id, "void", now)?;
        }
    }
    db::scripts::revoke_image_tokens(c, exam_id, script_id)?;
    if let Some(reason) = void_marks {
        db::marking::void_marks_of_script(c, exam_id, script_id, reason)?;
        db::results::clear_final(c, exam_id, script_id)?;
        db::results::lapse_disputes(c, exam_id, script_id)?;
        db::results::lapse_backreads(c, exam_id, script_id)?;
    }
    db::marking::set_script_state(c, exam_id, script_id, state)?;
    Ok(())
}

/// Voids one mark and opens a fresh independent task in its place (a suspended marker's work):
/// the script leaves `resolved` or `disputed` (its final, arbitration and back-reads lapse) and
/// is decided again from its valid marks once the fresh task is done. False when the mark was
/// void already.
pub fn void_and_remark(
    c: &mut DbConn,
    exam_id: &str,
    mark: &db::marking::MarkRef,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let (id, task, script_id, question_id, _) = mark;
    db::scripts::lock_script(c, exam_id, script_id)?;
    if !db::marking::void_mark(c, exam_id, id, task, reason)? {
        return Ok(false);
    }
    let state = db::scripts::script(c, script_id)?.state;
    if !IN_MARKING.contains(&state.as_str()) && state != "resolved" && state != "disputed" {
        // Withdrawn or waiting for treatment: it is marked afresh from scratch once treated.
        return Ok(true);
    }
    db::results::clear_final(c, exam_id, script_id)?;
    db::results::lapse_disputes(c, exam_id, script_id)?;
    db::results::lapse_backreads(c, exam_id, script_id)?;
    db::marking::insert_task(c, exam_id, script_id, question_id, true, now)?;
    db::marking::set_script_state(c, exam_id, script_id, "marking")?;
    Ok(true)
}
