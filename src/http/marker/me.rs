//! A marker's own counts: what they did today and in all, and where they stand. Nothing about
//! anyone else, and seeds and self-checks count like any script (they look like any script).

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::lease::{marker_of, marking_day};
use crate::db;
use crate::http::caller::MarkerCaller;
use crate::http::error::ApiError;
use crate::http::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct MyExam {
    pub exam: String,
    /// IANA zone of the exam's marking days (the page shows times in it).
    pub time_zone: String,
    pub room_open: bool,
    pub status: String,
    /// Questions the marker may mark (passed the test).
    pub questions: Vec<String>,
    pub marked_today: u32,
    pub marked_total: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub username: String,
    pub exams: Vec<MyExam>,
    /// The task id of the lease running now, if any.
    pub current_task: Option<String>,
}

/// The marker's own standing and counts.
#[utoipa::path(
    tag = "marking",
    security(("bearer" = [])),
    responses((status = 200, description = "Own counts", body = Me))
)]
#[get("/marking/me")]
pub async fn me(state: web::Data<AppState>, marker: MarkerCaller) -> Result<web::Json<Me>, ApiError> {
    let me = marker.id.clone();
    let now = state.now();
    let view = state
        .db
        .read(move |c| -> Result<Me, ApiError> {
            let m = marker_of(c, &me)?;
            let user = db::users::find(c, &me)?.ok_or(ApiError::NotFound("marker"))?;
            let mut exams = vec![];
            for (exam_id, status, _) in db::markers::standings(c, &m.id)? {
                let exam = db::exams::by_id(c, &exam_id)?;
                let passed = db::qualification::passed_questions(c, &exam_id, &m.id)?;
                let questions = db::exams::questions_of(c, &exam_id)?
                    .into_iter()
                    .filter(|q| passed.contains(&q.id))
                    .map(|q| q.code)
                    .collect();
                let (today, total) = db::marking::scored_counts(c, &exam_id, &m.id, marking_day(&exam, now))?;
                exams.push(MyExam {
                    time_zone: exam.time_zone.clone(),
                    room_open: exam.room_open,
                    exam: exam.code,
                    status,
                    questions,
                    marked_today: today,
                    marked_total: total,
                });
            }
            let current_task = db::marking::current_serve(c, &m.id, now)?.map(|s| s.id);
            Ok(Me {
                username: user.username,
                exams,
                current_task,
            })
        })
        .await?;
    Ok(web::Json(view))
}
