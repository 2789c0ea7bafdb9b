//! The exams a leader or custodian may open, for the desks' exam picker.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::domain::role::Role;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Staff;
use crate::http::error::ApiError;
use crate::http::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamSummary {
    pub code: String,
    pub name: String,
    /// IANA zone the exam's days and times are shown in.
    pub time_zone: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub room_open: bool,
    pub locked: bool,
    pub released: bool,
    /// The question codes the caller leads (every code for a chief; empty for custodians).
    pub questions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamList {
    /// Whether the caller is a chief leader (who may open the room and decide approvals).
    pub chief: bool,
    pub exams: Vec<ExamSummary>,
}

/// The exams the caller may work on: every exam for a chief leader and a custodian, those with a
/// question in scope for a scoped leader; never one where a relative of theirs sits.
#[utoipa::path(
    tag = "exams",
    security(("bearer" = [])),
    responses((status = 200, description = "The exams", body = ExamList))
)]
#[get("/exams")]
pub async fn list_exams(state: web::Data<AppState>, staff: Staff) -> Result<web::Json<ExamList>, ApiError> {
    let (id, chief, leader) = (staff.id.clone(), staff.chief, staff.role == Role::Leader);
    let audit = staff.audit("exam.list");
    let result = state
        .db
        .read(move |c| -> Result<ExamList, ApiError> {
            let mut exams = Vec::new();
            for e in db::exams::all(c)? {
                if db::markers::relatives_sitting(c, &e.id, &id)? > 0 {
                    continue;
                }
                let questions = if !leader {
                    vec![]
                } else if chief {
                    db::exams::questions_of(c, &e.id)?.into_iter().map(|q| q.code).collect()
                } else {
                    db::users::scope_codes(c, &e.id, &id)?
                };
                if leader && !chief && questions.is_empty() {
                    continue;
                }
                exams.push(ExamSummary {
                    window_start: e.window_start.and_utc(),
                    window_end: e.window_end.and_utc(),
                    code: e.code,
                    name: e.name,
                    time_zone: e.time_zone,
                    room_open: e.room_open,
                    locked: e.locked,
                    released: e.released,
                    questions,
                });
            }
            Ok(ExamList { chief, exams })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
