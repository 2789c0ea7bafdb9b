//! Question and marker statistics for leadership (R6): the figures of `markroom stats` over the
//! live marks, each marker's seeds, self-checks and speed, and their deviation and CUSUM series
//! for the plots; and the trigger check on demand. Reading figures is audited.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::exams::{exam_by_code, not_related};
use super::queues::questions_for_leader;
use crate::db::exams::QuestionRow;
use crate::db::{self, DbConn};
use crate::domain::rules::MarkingRules;
use crate::domain::statistics::MarkerSeries;
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::state::AppState;
use crate::http::triggers::{self, LiveStats, QuestionData};

/// Leadership views hide marker pairs with fewer shared scripts than this.
const MIN_PAIR_SCRIPTS: usize = 10;

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPointView {
    /// When the mark was made.
    pub at: DateTime<Utc>,
    pub score: f64,
    /// The marker's score minus the others' mean on the same script.
    pub deviation: f64,
    pub residual: Option<f64>,
    pub cusum_high: Option<f64>,
    pub cusum_low: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesView {
    pub marker_id: String,
    pub points: Vec<SeriesPointView>,
}

fn series_view((marker_id, s, at): &(String, MarkerSeries, Vec<chrono::NaiveDateTime>)) -> SeriesView {
    SeriesView {
        marker_id: marker_id.clone(),
        points: s
            .points
            .iter()
            .zip(at)
            .map(|(p, t)| SeriesPointView {
                at: t.and_utc(),
                score: p.score,
                deviation: p.deviation,
                residual: p.residual,
                cusum_high: p.cusum_high,
                cusum_low: p.cusum_low,
            })
            .collect(),
    }
}

/// The exam's question by code, within the leader's scope (a chief sees every question).
fn question_in_scope(
    c: &mut DbConn,
    exam_id: &str,
    code: &str,
    leader: &str,
    chief: bool,
) -> Result<QuestionRow, ApiError> {
    let exam = db::exams::by_id(c, exam_id)?;
    not_related(c, exam_id, leader)?;
    let all = db::exams::questions_of(c, exam_id)?;
    if !all.iter().any(|q| q.code == code) {
        return Err(ApiError::NotFound("question"));
    }
    questions_for_leader(c, &exam, leader, chief)?
        .into_iter()
        .find(|q| q.code == code)
        .ok_or_else(|| ApiError::forbidden("out_of_scope", "this question is not in your scope"))
}

/// A question's stored data and the exam's rules, read in one snapshot.
async fn load(
    state: &AppState,
    leader: &Leader,
    exam_code: String,
    question: String,
) -> Result<(String, QuestionData, MarkingRules), ApiError> {
    let (me, chief, defaults) = (leader.id.clone(), leader.chief, state.settings.rules.clone());
    state
        .db
        .read(move |c| -> Result<_, ApiError> {
            let exam = exam_by_code(c, &exam_code)?;
            let row = question_in_scope(c, &exam.id, &question, &me, chief)?;
            let rules = exam.rules(&defaults)?;
            Ok((exam.id.clone(), triggers::load(c, &exam.id, &row)?, rules))
        })
        .await
}

async fn compute(data: QuestionData, rules: MarkingRules) -> Result<(QuestionData, LiveStats), ApiError> {
    tokio::task::spawn_blocking(move || {
        let stats = triggers::compute(&data, &rules, true);
        (data, stats)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Writes the audit entry of a read that succeeded, or of its refusal.
async fn audited<T>(
    state: &AppState,
    audit: Audit,
    exam_id: Option<&str>,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match result {
        Ok(v) => {
            let entry = match exam_id {
                Some(id) => audit.exam(id),
                None => audit,
            };
            state.audit_alone(entry.entry()).await;
            Ok(v)
        }
        Err(e) => audit_refusal(state, audit, Err(e)).await,
    }
}

/// A question's figures as JSON: the keys of `markroom stats` (pairs under ten shared scripts
/// left out), and `exam`, `question`, `max_score`, `step`, `tolerance`, `evidence` (seeds,
/// self-checks, speed per marker) and `series`.
fn question_json(exam: &str, d: &QuestionData, mut stats: LiveStats) -> Result<serde_json::Value, ApiError> {
    stats.report.pairs.retain(|p| p.n >= MIN_PAIR_SCRIPTS);
    let internal = |e: serde_json::Error| ApiError::Internal(e.to_string());
    let mut v = serde_json::to_value(&stats.report).map_err(internal)?;
    let series: Vec<SeriesView> = stats.series.iter().map(series_view).collect();
    if let Some(o) = v.as_object_mut() {
        o.insert("exam".into(), exam.into());
        o.insert("question".into(), d.code.clone().into());
        o.insert("max_score".into(), d.max.into());
        o.insert("step".into(), d.step.into());
        o.insert("tolerance".into(), d.tolerance.into());
        o.insert(
            "evidence".into(),
            serde_json::to_value(&stats.evidence).map_err(internal)?,
        );
        o.insert("series".into(), serde_json::to_value(&series).map_err(internal)?);
    }
    Ok(v)
}

/// A question's statistics over its live marks (void, seed and self-check marks left out):
/// the figures of `markroom stats` (ICC, Krippendorff's alpha, Fleiss' kappa, marker pairs with
/// ten or more shared scripts, per-marker severity, erratic, central tendency and drift with
/// their flags), each marker's seeds, self-checks and median seconds (`evidence`), and their
/// deviation and CUSUM series over time (`series`).
#[utoipa::path(
    tag = "statistics",
    params(("exam" = String, Path, description = "Exam code"), ("q" = String, Path, description = "Question code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The figures; any that cannot be computed are null, with the reason in `notes`", body = Object),
        (status = 403, description = "Not in the leader's scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam or question", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/questions/{q}/statistics")]
pub async fn question_statistics(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<(String, String)>,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let (exam, question) = path.into_inner();
    let audit = leader
        .audit("statistics.read")
        .details(serde_json::json!({ "exam": exam, "question": question }));
    let result = async {
        let (exam_id, data, rules) = load(&state, &leader, exam.clone(), question).await?;
        let (data, stats) = compute(data, rules).await?;
        Ok((exam_id, question_json(&exam, &data, stats)?))
    }
    .await;
    let exam_id = result.as_ref().ok().map(|(id, _)| id.clone());
    let (_, v) = audited(&state, audit, exam_id.as_deref(), result).await?;
    Ok(web::Json(v))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PausedMarker {
    pub marker_id: String,
    /// `severity`, `erratic`, `central_tendency` or `drift`.
    pub triggers: Vec<crate::domain::triggers::Trigger>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOutcome {
    pub exam: String,
    pub question: String,
    /// Markers this check paused (each with a review opened).
    pub paused: Vec<PausedMarker>,
}

/// Run the marker triggers of a question now (they also run after every live mark): each
/// marker a trigger names is paused and a review opened with the evidence.
#[utoipa::path(
    tag = "statistics",
    params(("exam" = String, Path, description = "Exam code"), ("q" = String, Path, description = "Question code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Checked", body = CheckOutcome),
        (status = 403, description = "Not in the leader's scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam or question", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/questions/{q}/statistics/check")]
pub async fn check_question(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<(String, String)>,
) -> Result<web::Json<CheckOutcome>, ApiError> {
    let (exam, question) = path.into_inner();
    let audit = leader
        .audit("statistics.check")
        .details(serde_json::json!({ "exam": exam, "question": question }));
    let result = async {
        let (exam_id, data, _) = load(&state, &leader, exam.clone(), question.clone()).await?;
        let paused = crate::http::monitor::check_question(&state, &exam_id, &data.question_id).await?;
        let outcome = CheckOutcome {
            exam: exam.clone(),
            question,
            paused: paused
                .into_iter()
                .map(|(marker_id, triggers)| PausedMarker { marker_id, triggers })
                .collect(),
        };
        Ok((exam_id, outcome))
    }
    .await;
    let exam_id = result.as_ref().ok().map(|(id, _)| id.clone());
    let (_, v) = audited(&state, audit, exam_id.as_deref(), result).await?;
    Ok(web::Json(v))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MarkerStatisticsQuery {
    /// The exam (its code).
    pub exam: String,
}

/// One marker's statistics in an exam, per question they marked (within the leader's scope):
/// their row of the question's figures (`figures`, with flags), seeds, self-checks and speed
/// (`evidence`) and their deviation and CUSUM series over time (`series`).
#[utoipa::path(
    tag = "statistics",
    params(("id" = String, Path, description = "Marker id"), MarkerStatisticsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Per question", body = Object),
        (status = 404, description = "No such marker or exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/markers/{id}/statistics")]
pub async fn marker_statistics(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    query: web::Query<MarkerStatisticsQuery>,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let id = path.into_inner();
    let exam = query.into_inner().exam;
    let audit = leader.audit("statistics.read").object("marker", &id);
    let result = async {
        let (me, chief, defaults, marker) = (
            leader.id.clone(),
            leader.chief,
            state.settings.rules.clone(),
            id.clone(),
        );
        let code = exam.clone();
        let (exam_id, questions, rules) = state
            .db
            .read(move |c| -> Result<_, ApiError> {
                let exam = exam_by_code(c, &code)?;
                not_related(c, &exam.id, &me)?;
                db::markers::find(c, &marker).map_err(missing("marker"))?;
                let marked = db::marking::questions_marked_by(c, &exam.id, &marker)?;
                let mut out = Vec::new();
                for row in questions_for_leader(c, &exam, &me, chief)? {
                    if marked.contains(&row.id) {
                        out.push(triggers::load(c, &exam.id, &row)?);
                    }
                }
                Ok((exam.id.clone(), out, exam.rules(&defaults)?))
            })
            .await?;
        let mut per_question = Vec::new();
        for data in questions {
            let (data, stats) = compute(data, rules.clone()).await?;
            let figures = stats.report.markers.iter().find(|m| m.marker_id == id);
            let evidence = stats.evidence.iter().find(|e| e.marker_id == id);
            let series = stats.series.iter().find(|s| s.0 == id).map(series_view);
            per_question.push(serde_json::json!({
                "question": data.code,
                "tolerance": data.tolerance,
                "figures": figures,
                "evidence": evidence,
                "series": series.map(|s| s.points).unwrap_or_default(),
            }));
        }
        let v = serde_json::json!({ "exam": exam, "marker_id": id, "questions": per_question });
        Ok((exam_id, v))
    }
    .await;
    let exam_id = result.as_ref().ok().map(|(id, _)| id.clone());
    let (_, v) = audited(&state, audit, exam_id.as_deref(), result).await?;
    Ok(web::Json(v))
}
