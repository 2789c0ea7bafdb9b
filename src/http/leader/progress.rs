//! Where marking stands, per question: scripts by state, live tasks by state, and each
//! marker's marks today (every mark, seeds included: they count as work done).

use std::collections::BTreeMap;

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::exams::{exam_by_code, not_related};
use super::queues::questions_for_leader;
use crate::db;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem};
use crate::http::marker::marking_day;
use crate::http::state::AppState;

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ScriptCounts {
    pub held: i64,
    pub needs_treatment: i64,
    pub awaiting: i64,
    pub marking: i64,
    pub disputed: i64,
    pub withdrawn: i64,
    pub resolved: i64,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct TaskCounts {
    pub open: i64,
    pub leased: i64,
    pub done: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionProgress {
    pub question: String,
    pub scripts: ScriptCounts,
    /// Live tasks only (not seed or self-check serves).
    pub tasks: TaskCounts,
    pub marks_today_by_marker: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    pub questions: Vec<QuestionProgress>,
}

/// Marking progress per question (within the leader's scope).
#[utoipa::path(
    tag = "leadership",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Progress", body = Progress),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/progress")]
pub async fn progress(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
) -> Result<web::Json<Progress>, ApiError> {
    let code = path.into_inner();
    let (me, chief, now) = (leader.id.clone(), leader.chief, state.now());
    let audit = leader.audit("progress.read").object("exam_code", &code);
    let result = state
        .db
        .read(move |c| -> Result<Progress, ApiError> {
            let exam = exam_by_code(c, &code)?;
            not_related(c, &exam.id, &me)?;
            let scripts = db::marking::script_counts(c, &exam.id)?;
            let tasks = db::marking::task_counts(c, &exam.id)?;
            let today = db::marking::scored_on(c, &exam.id, marking_day(&exam, now))?;
            let mut questions = vec![];
            for q in questions_for_leader(c, &exam, &me, chief)? {
                let mut s = ScriptCounts::default();
                for (_, state, n) in scripts.iter().filter(|r| r.0 == q.id) {
                    match state.as_str() {
                        "held" => s.held += n,
                        "needs_treatment" => s.needs_treatment += n,
                        "awaiting" => s.awaiting += n,
                        "marking" => s.marking += n,
                        "disputed" => s.disputed += n,
                        "withdrawn" => s.withdrawn += n,
                        "resolved" => s.resolved += n,
                        _ => {}
                    }
                }
                let mut t = TaskCounts::default();
                for (_, state, n) in tasks.iter().filter(|r| r.0 == q.id) {
                    match state.as_str() {
                        "open" => t.open += n,
                        "leased" => t.leased += n,
                        "done" => t.done += n,
                        _ => {}
                    }
                }
                let marks_today_by_marker = today
                    .iter()
                    .filter(|r| r.0 == q.id)
                    .map(|(_, marker, n)| (marker.clone(), *n))
                    .collect();
                questions.push(QuestionProgress {
                    question: q.code,
                    scripts: s,
                    tasks: t,
                    marks_today_by_marker,
                });
            }
            Ok(Progress { questions })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
