//! What leadership's queues share (R7): the leader's scope, audited reading, image links,
//! settling acts. The queues themselves: `disputes`, `backreads`, `problems`. A leader scoped
//! to questions sees and settles only theirs; reading a queue is audited (it shows marks and
//! marker ids).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::exams::{exam_by_code, not_related};
use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::scripts::ImageOf;
use crate::db::{self, DbConn};
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::Leader;
use crate::http::error::ApiError;
use crate::http::image_links::mint_for;
use crate::http::state::AppState;

/// How long a leader's image link in a queue lives.
const LINK_MINUTES: i64 = 30;

/// The exam's questions this leader works on: all for a chief, their scope otherwise.
pub fn questions_for_leader(
    c: &mut DbConn,
    exam: &ExamRow,
    leader: &str,
    chief: bool,
) -> Result<Vec<QuestionRow>, ApiError> {
    let all = db::exams::questions_of(c, &exam.id)?;
    if chief {
        return Ok(all);
    }
    let scope = db::users::scope_codes(c, &exam.id, leader)?;
    Ok(all.into_iter().filter(|q| scope.contains(&q.code)).collect())
}

pub(super) fn check_in_scope(
    c: &mut DbConn,
    exam: &ExamRow,
    leader: &Leader,
    question_id: &str,
) -> Result<QuestionRow, ApiError> {
    not_related(c, &exam.id, &leader.id)?;
    questions_for_leader(c, exam, &leader.id, leader.chief)?
        .into_iter()
        .find(|q| q.id == question_id)
        .ok_or_else(|| ApiError::forbidden("out_of_scope", "this question is not in your scope"))
}

pub(super) fn image(
    c: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let script = db::scripts::script(c, script_id)?;
    let expires = now + Duration::minutes(LINK_MINUTES);
    Ok(mint_for(
        c,
        exam_id,
        ImageOf::Script(script_id),
        &script.image_key,
        holder,
        expires,
    )?
    .0)
}

pub(super) fn reason(raw: &str) -> Result<String, RuleError> {
    super::marker_standing::check_reason("reason", raw)
}

pub(super) fn exam_of(c: &mut DbConn, exam_id: &str) -> Result<ExamRow, ApiError> {
    Ok(db::exams::by_id(c, exam_id)?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only this question (its code).
    pub question: Option<String>,
}

/// Builds a queue's items from the exam and the leader's questions.
pub(super) type QueueBuilder<T> =
    fn(&mut DbConn, &ExamRow, &[QuestionRow], &str, DateTime<Utc>) -> Result<Vec<T>, ApiError>;

/// Reads a queue within the leader's scope, audited.
pub(super) async fn read_queue<T: Send + 'static>(
    state: &AppState,
    leader: &Leader,
    code: String,
    only: Option<String>,
    what: &'static str,
    build: QueueBuilder<T>,
) -> Result<Vec<T>, ApiError> {
    let audit = leader
        .audit("queue.read")
        .details(serde_json::json!({ "queue": what, "exam": code }));
    let (me, chief, now, entry) = (leader.id.clone(), leader.chief, state.now(), audit.clone());
    let result = state
        .db
        .write(move |c| -> Result<Vec<T>, ApiError> {
            let exam = exam_by_code(c, &code)?;
            not_related(c, &exam.id, &me)?;
            let questions: Vec<QuestionRow> = questions_for_leader(c, &exam, &me, chief)?
                .into_iter()
                .filter(|q| only.as_ref().is_none_or(|o| &q.code == o))
                .collect();
            let items = build(c, &exam, &questions, &me, now)?;
            entry
                .exam(&exam.id)
                .details(serde_json::json!({ "queue": what, "items": items.len() }))
                .append(c, now)?;
            Ok(items)
        })
        .await;
    audit_refusal(state, audit, result).await
}

pub(super) fn code_of(questions: &[QuestionRow], id: &str) -> String {
    questions
        .iter()
        .find(|q| q.id == id)
        .map(|q| q.code.clone())
        .unwrap_or_default()
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    #[schema(schema_with = crate::http::schemas::score)]
    pub score: Score,
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Settled {
    pub id: String,
    #[schema(value_type = f64)]
    pub score: Score,
    pub method: String,
}

/// Runs a leader's settling act in a transaction, audited as `action`.
pub(super) async fn settle_act<F>(state: &AppState, audit: Audit, act: F) -> Result<Settled, ApiError>
where
    F: FnOnce(&mut DbConn, DateTime<Utc>, &Audit) -> Result<Settled, ApiError> + Send + 'static,
{
    let (now, entry) = (state.now(), audit.clone());
    let result = state.db.write(move |c| act(c, now, &entry)).await;
    audit_refusal(state, audit, result).await
}
