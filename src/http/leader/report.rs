//! The marking report for the leadership's files (the printable `/report` page): per question
//! the distribution of the finals with their mean and SD and how they were reached, every
//! dispute with the marks side by side and how it was settled, and who asked for and who
//! approved the lock, release, unlock and amendments. The reliability figures and each
//! marker's severity come from the question statistics. Chief leaders only; reading it is
//! audited (it shows marks and who made them).

use std::collections::{BTreeMap, HashMap};

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::approvals::PersonView;
use super::exams::{exam_by_code, not_related};
use crate::db::{self, DbConn};
use crate::domain::Score;
use crate::domain::approval::{ApprovalKind, ApprovalStatus};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Chief;
use crate::http::error::{ApiError, Problem};
use crate::http::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportExam {
    pub code: String,
    pub name: String,
    pub time_zone: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub locked: bool,
    pub released: bool,
    pub locked_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreCount {
    pub score: f64,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportQuestion {
    pub code: String,
    /// `essay` or `short`.
    pub kind: String,
    pub max_score: f64,
    pub step: f64,
    pub tolerance: f64,
    pub marks_required: u32,
    /// Scripts with a final.
    pub finals: u64,
    pub mean: Option<f64>,
    /// Sample SD (n − 1) of the finals.
    pub sd: Option<f64>,
    /// Each final score given and how often, in score order.
    pub distribution: Vec<ScoreCount>,
    /// How the finals were reached: `mean`, `closest_pair`, `arbitration`, `amendment`.
    pub methods: BTreeMap<String, u64>,
    /// Disputes opened on this question (any outcome).
    pub disputes: u64,
    pub backreads_done: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportMark {
    pub marker_id: String,
    /// The marker's username.
    pub marker: String,
    pub score: f64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportDispute {
    pub id: String,
    pub question: String,
    pub anonymous_code: String,
    /// `marks`, or `backread` when a back-read disagreed with the final.
    pub cause: String,
    pub spread: f64,
    /// `open`, `resolved` or `lapsed` (its marks were voided and it was marked afresh).
    pub status: String,
    pub opened_at: DateTime<Utc>,
    /// The valid marks of the script now.
    pub marks: Vec<ReportMark>,
    /// The arbitrated score.
    pub score: Option<f64>,
    pub reason: Option<String>,
    pub resolved_by: Option<PersonView>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAct {
    pub id: String,
    /// `lock`, `release`, `unlock` or `amend`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub requested_by: Option<PersonView>,
    pub requested_at: DateTime<Utc>,
    pub approved_by: Option<PersonView>,
    pub approved_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkingReport {
    pub exam: ReportExam,
    pub generated_at: DateTime<Utc>,
    pub questions: Vec<ReportQuestion>,
    pub disputes: Vec<ReportDispute>,
    /// Approved lock, release, unlock and amend requests, oldest first.
    pub acts: Vec<ReportAct>,
}

const RESULT_ACTS: [ApprovalKind; 4] = [
    ApprovalKind::Lock,
    ApprovalKind::Release,
    ApprovalKind::Unlock,
    ApprovalKind::Amend,
];

fn score(h: i64) -> f64 {
    Score::from_hundredths(h).as_f64()
}

fn mean_sd(x: &[f64]) -> (Option<f64>, Option<f64>) {
    if x.is_empty() {
        return (None, None);
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.len() > 1).then(|| (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt());
    (Some(mean), sd)
}

fn people(c: &mut DbConn, ids: Vec<String>) -> Result<HashMap<String, PersonView>, ApiError> {
    Ok(db::users::names(c, &ids)?
        .into_iter()
        .map(|(id, username, full_name, role)| {
            let p = PersonView {
                id: id.clone(),
                username,
                full_name,
                role,
            };
            (id, p)
        })
        .collect())
}

fn build(c: &mut DbConn, exam: &db::exams::ExamRow, now: DateTime<Utc>) -> Result<MarkingReport, ApiError> {
    let questions = db::exams::questions_of(c, &exam.id)?;
    let finals = db::report::current_finals(c, &exam.id)?;
    let dispute_rows = db::report::disputes_of_exam(c, &exam.id)?;
    let backreads = db::report::backreads_done(c, &exam.id)?;
    let (locked_at, released_at) = db::lock::stamps(c, &exam.id)?;
    let kinds = RESULT_ACTS.map(|k| k.as_str());
    let acts = db::approvals::of_exam_kinds(c, &exam.id, ApprovalStatus::Approved, &kinds)?;

    // Markers by id → username; leaders and chiefs by user id.
    let markers: HashMap<String, String> = {
        let rows = db::markers::of_exam(c, &exam.id)?;
        let user_ids: Vec<String> = rows.iter().map(|(m, _, _)| m.user_id.clone()).collect();
        let names = people(c, user_ids)?;
        rows.into_iter()
            .map(|(m, _, _)| {
                let name = names.get(&m.user_id).map(|p| p.username.clone()).unwrap_or_default();
                (m.id, name)
            })
            .collect()
    };
    let mut ids: Vec<String> = dispute_rows.iter().filter_map(|d| d.resolved_by.clone()).collect();
    for a in &acts {
        ids.push(a.requested_by.clone());
        ids.extend(a.decided_by.clone());
    }
    ids.sort();
    ids.dedup();
    let persons = people(c, ids)?;
    let person = |id: Option<&String>| id.and_then(|i| persons.get(i)).cloned();

    let code_of: HashMap<&str, &str> = questions.iter().map(|q| (q.id.as_str(), q.code.as_str())).collect();
    let mut disputes = Vec::with_capacity(dispute_rows.len());
    for d in &dispute_rows {
        let script = db::scripts::script(c, &d.script_id)?;
        let marks = db::marking::valid_marks(c, &exam.id, &d.script_id)?
            .into_iter()
            .map(|(marker_id, s, at)| ReportMark {
                marker: markers.get(&marker_id).cloned().unwrap_or_default(),
                marker_id,
                score: score(s),
                at: at.and_utc(),
            })
            .collect();
        disputes.push(ReportDispute {
            id: d.id.clone(),
            question: code_of.get(d.question_id.as_str()).unwrap_or(&"").to_string(),
            anonymous_code: script.anonymous_code,
            cause: d.cause.clone(),
            spread: score(d.spread),
            status: d.status.clone(),
            opened_at: d.opened_at.and_utc(),
            marks,
            score: d.score.map(score),
            reason: d.reason.clone(),
            resolved_by: person(d.resolved_by.as_ref()),
            resolved_at: d.resolved_at.map(|t| t.and_utc()),
        });
    }

    let mut per_question = Vec::with_capacity(questions.len());
    for row in &questions {
        let q = row.question()?;
        let mine: Vec<&(String, String, i64, String)> = finals.iter().filter(|f| f.1 == row.id).collect();
        let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
        let mut methods: BTreeMap<String, u64> = BTreeMap::new();
        for (_, _, s, method) in &mine {
            *counts.entry(*s).or_default() += 1;
            *methods.entry(method.clone()).or_default() += 1;
        }
        let values: Vec<f64> = mine.iter().map(|f| score(f.2)).collect();
        let (mean, sd) = mean_sd(&values);
        per_question.push(ReportQuestion {
            code: row.code.clone(),
            kind: row.kind.clone(),
            max_score: q.max.as_f64(),
            step: q.step.as_f64(),
            tolerance: q.tolerance.as_f64(),
            marks_required: q.marks_required,
            finals: values.len() as u64,
            mean,
            sd,
            distribution: counts
                .into_iter()
                .map(|(s, count)| ScoreCount { score: score(s), count })
                .collect(),
            methods,
            disputes: dispute_rows.iter().filter(|d| d.question_id == row.id).count() as u64,
            backreads_done: backreads.iter().filter(|b| **b == row.id).count() as u64,
        });
    }

    let mut report_acts = Vec::with_capacity(acts.len());
    for a in acts {
        report_acts.push(ReportAct {
            kind: a.kind.clone(),
            payload: a.payload()?,
            requested_by: person(Some(&a.requested_by)),
            requested_at: a.requested_at.and_utc(),
            approved_by: person(a.decided_by.as_ref()),
            approved_at: a.decided_at.map(|t| t.and_utc()),
            note: a.decision_note.clone(),
            id: a.id,
        });
    }

    Ok(MarkingReport {
        exam: ReportExam {
            code: exam.code.clone(),
            name: exam.name.clone(),
            time_zone: exam.time_zone.clone(),
            window_start: exam.window_start.and_utc(),
            window_end: exam.window_end.and_utc(),
            locked: exam.locked,
            released: exam.released,
            locked_at: locked_at.map(|t| t.and_utc()),
            released_at: released_at.map(|t| t.and_utc()),
        },
        generated_at: now,
        questions: per_question,
        disputes,
        acts: report_acts,
    })
}

/// The exam's marking report (chief leaders): per question the finals' distribution, mean, SD
/// and methods; every dispute with its marks and settlement; and the approved lock, release,
/// unlock and amend requests with who asked and who approved. Reliability figures and marker
/// severity are in `GET /exams/{exam}/questions/{q}/statistics`. Reading it is audited.
#[utoipa::path(
    tag = "leadership",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = MarkingReport),
        (status = 403, description = "Not a chief leader, or a relative sits the exam", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/report")]
pub async fn marking_report(
    state: web::Data<AppState>,
    chief: Chief,
    path: web::Path<String>,
) -> Result<web::Json<MarkingReport>, ApiError> {
    let code = path.into_inner();
    let audit = chief.audit("report.read").object("exam_code", &code);
    let (me, now, entry) = (chief.id.clone(), state.now(), audit.clone());
    // Built in a read transaction (one snapshot, and no writer held while it is assembled); the
    // read is then recorded in a short write of its own.
    let result = state
        .db
        .read(move |c| -> Result<(String, MarkingReport), ApiError> {
            let exam = exam_by_code(c, &code)?;
            not_related(c, &exam.id, &me)?;
            let report = build(c, &exam, now)?;
            Ok((exam.id, report))
        })
        .await;
    let (exam_id, report) = audit_refusal(&state, audit, result).await?;
    let disputes = report.disputes.len();
    state
        .db
        .write(move |c| -> Result<(), ApiError> {
            entry
                .exam(&exam_id)
                .details(serde_json::json!({ "disputes": disputes }))
                .append(c, now)?;
            Ok(())
        })
        .await?;
    Ok(web::Json(report))
}
