use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::exams::ExamRow;
use crate::db::{self, DbConn};
use crate::domain::exam::{ExamDraft, MarkingWindow, check_unlocked, validate_exam};
use crate::domain::question::{Criterion, Question, QuestionDraft, QuestionKind, validate_question};
use crate::domain::rules::MarkingRules;
use crate::domain::template::{SheetTemplate, validate_template};
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::{Chief, Leader};
use crate::http::error::{ApiError, Problem, missing, taken};
use crate::http::json::Json;
use crate::http::schemas;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExam {
    #[schema(schema_with = schemas::code)]
    pub code: String,
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub name: String,
    /// IANA zone in which marking days are counted, e.g. Asia/Shanghai.
    #[schema(schema_with = schemas::time_zone)]
    pub time_zone: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Overrides of the marking rules for this exam (any of the `[rules]` settings).
    #[serde(default)]
    #[schema(schema_with = schemas::rule_overrides)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamView {
    pub code: String,
    pub name: String,
    pub time_zone: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub room_open: bool,
    pub locked: bool,
    pub released: bool,
    /// This exam's own overrides.
    #[schema(value_type = Object)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The rules in force, stored whole when the exam was made (the defaults of that moment
    /// with the overrides laid over them) and changed only through the settings PATCH.
    #[schema(value_type = Object)]
    pub rules: MarkingRules,
    pub questions: Vec<QuestionView>,
    pub template: Option<SheetTemplate>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriterionInput {
    #[schema(schema_with = schemas::code)]
    pub code: String,
    #[schema(max_length = 200, pattern = r"\S")]
    pub name: String,
    #[schema(schema_with = schemas::positive_score)]
    pub max: Score,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuestion {
    #[schema(schema_with = schemas::code)]
    pub code: String,
    #[schema(schema_with = schemas::question_kind)]
    pub kind: QuestionKind,
    #[schema(schema_with = schemas::positive_score)]
    pub max_score: Score,
    /// Divides the maximum (a rule across fields).
    #[schema(schema_with = schemas::positive_score)]
    pub step: Score,
    /// Default: 10% of the maximum rounded to the step.
    #[serde(default)]
    #[schema(schema_with = schemas::optional_score)]
    pub tolerance: Option<Score>,
    /// Unit finals are rounded to; default 0.5 when the step allows it.
    #[serde(default)]
    #[schema(schema_with = schemas::optional_positive_score)]
    pub final_step: Option<Score>,
    /// Default: 3 for essays, 2 for short questions; never fewer.
    #[serde(default, deserialize_with = "crate::domain::whole::option")]
    #[schema(minimum = 2, maximum = 9)]
    pub marks_required: Option<u32>,
    #[serde(default)]
    pub criteria: Vec<CriterionInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionView {
    pub code: String,
    #[schema(value_type = String)]
    pub kind: QuestionKind,
    #[schema(value_type = f64)]
    pub max_score: Score,
    #[schema(value_type = f64)]
    pub step: Score,
    #[schema(value_type = f64)]
    pub tolerance: Score,
    #[schema(value_type = f64)]
    pub final_step: Score,
    pub marks_required: u32,
    #[schema(value_type = Vec<Object>)]
    pub criteria: Vec<Criterion>,
}

impl From<Question> for QuestionView {
    fn from(q: Question) -> Self {
        QuestionView {
            code: q.code,
            kind: q.kind,
            max_score: q.max,
            step: q.step,
            tolerance: q.tolerance,
            final_step: q.final_step,
            marks_required: q.marks_required,
            criteria: q.criteria,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomState {
    pub open: bool,
}

/// R3: whoever has an immediate relative on the exam's candidate list does not work on it.
pub fn not_related(c: &mut DbConn, exam_id: &str, user_id: &str) -> Result<(), ApiError> {
    if db::markers::relatives_sitting(c, exam_id, user_id)? > 0 {
        return Err(RuleError::refused(
            "relative_sitting",
            "an immediate relative of yours sits this exam: you may not work on it",
        )
        .into());
    }
    Ok(())
}

/// Closing the room ends the exam's leases (their tasks go back to the queue), kills every image
/// link at once and revokes the markers' tokens.
fn close_room(c: &mut DbConn, exam_id: &str, now: chrono::DateTime<chrono::Utc>) -> Result<(), ApiError> {
    for serve in db::marking::running_serves(c, exam_id)? {
        // A serve scored a moment ago keeps its mark and its done task.
        if db::marking::end_serve(c, &serve, "ended", now)?
            && let Some(task) = &serve.task_id
        {
            db::marking::set_task_state(c, exam_id, task, "open", now)?;
        }
    }
    db::scripts::revoke_exam_tokens(c, exam_id)?;
    for (m, _, _) in db::markers::of_exam(c, exam_id)? {
        db::users::bump_token_version(c, &m.user_id)?;
    }
    Ok(())
}

/// The exam named in the path, or 404.
pub fn exam_by_code(c: &mut DbConn, code: &str) -> Result<ExamRow, ApiError> {
    db::exams::by_code(c, code).map_err(missing("exam"))
}

pub fn view(c: &mut DbConn, exam: ExamRow, defaults: &MarkingRules) -> Result<ExamView, ApiError> {
    let settings = exam.overrides()?;
    let rules = exam.rules(defaults)?;
    let questions = db::exams::questions_of(c, &exam.id)?
        .iter()
        .map(|q| q.question().map(QuestionView::from))
        .collect::<Result<Vec<_>, _>>()?;
    let template = db::exams::template_of(c, &exam.id)?;
    let window = exam.window();
    Ok(ExamView {
        code: exam.code,
        name: exam.name,
        time_zone: exam.time_zone,
        window_start: window.start,
        window_end: window.end,
        room_open: exam.room_open,
        locked: exam.locked,
        released: exam.released,
        settings,
        rules,
        questions,
        template,
    })
}

/// Create an exam with its marking window and rule overrides.
///
/// Rules the schema cannot state: the window ends after it starts (across fields), every override
/// names a rule and is in its range, and the code is free (state).
///
/// Refused by a rule across fields: `invalid_exam` (the marking window must end after it starts).
///
/// Also refused by a rule across fields of its settings: `invalid_setting` (`seed_miss_limit`
/// above `seed_miss_window`).
#[utoipa::path(
    tag = "exams",
    request_body = CreateExam,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ExamView),
        (status = 409, description = "Code taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams")]
pub async fn create_exam(
    state: web::Data<AppState>,
    chief: Chief,
    body: Json<CreateExam>,
) -> Result<HttpResponse, ApiError> {
    let e = body.into_inner()?;
    let draft = ExamDraft {
        code: e.code.clone(),
        name: e.name.trim().to_string(),
        time_zone: e.time_zone.clone(),
        window_start: e.window_start,
        window_end: e.window_end,
    };
    validate_exam(&draft)?;
    let defaults = state.settings.rules.clone();
    // Frozen with the exam: a later settings file, or a node with another, cannot change it.
    let rules = defaults.with_overrides(&e.settings)?;
    let settings = serde_json::Value::Object(e.settings.clone()).to_string();
    let now = state.now();
    let audit = chief
        .audit("exam.create")
        .details(serde_json::json!({ "code": draft.code, "settings": e.settings }));
    let by = chief.id.clone();
    let view = state
        .db
        .write(move |c| -> Result<ExamView, ApiError> {
            let id = db::exams::insert(
                c,
                &db::exams::NewExam {
                    code: &draft.code,
                    name: &draft.name,
                    time_zone: &draft.time_zone,
                    window: MarkingWindow {
                        start: draft.window_start,
                        end: draft.window_end,
                    },
                    settings: &settings,
                    rules: &rules,
                    created_by: &by,
                },
                now,
            )
            .map_err(taken("exam_exists", "an exam has that code"))?;
            audit.object("exam", &id).exam(&id).append(c, now)?;
            let exam = exam_by_code(c, &draft.code)?;
            view(c, exam, &defaults)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The exam with its questions, template and the rules in force.
#[utoipa::path(
    tag = "exams",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The exam", body = ExamView),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}")]
pub async fn get_exam(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
) -> Result<web::Json<ExamView>, ApiError> {
    let code = path.into_inner();
    let defaults = state.settings.rules.clone();
    let (chief, id) = (leader.chief, leader.id.clone());
    let audit = leader.audit("exam.read").object("exam_code", &code);
    let result = state
        .db
        .read(move |c| -> Result<ExamView, ApiError> {
            let exam = exam_by_code(c, &code)?;
            not_related(c, &exam.id, &id)?;
            if !chief && db::users::scope_codes(c, &exam.id, &id)?.is_empty() {
                return Err(ApiError::forbidden("not_in_scope", "you lead no question of this exam"));
            }
            view(c, exam, &defaults)
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

/// Add a question to the exam.
///
/// Rules the schema cannot state (across fields): the step divides the maximum; the final step
/// divides the maximum and the step; the tolerance is a multiple of the step and at most the
/// maximum; criteria maxima are multiples of the step and sum to the maximum; an essay needs at
/// least 3 marks. And (state): the exam exists, is not locked, and has no question with this code.
///
/// Refused by rules across fields: `invalid_question` (a step or final step that does not divide
/// the maximum, a rubric whose criteria do not add up to it).
#[utoipa::path(
    tag = "exams",
    params(("exam" = String, Path, description = "Exam code")),
    request_body = CreateQuestion,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = QuestionView),
        (status = 409, description = "Code taken or exam locked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Breaks a marking rule", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/questions")]
pub async fn add_question(
    state: web::Data<AppState>,
    chief: Chief,
    path: web::Path<String>,
    body: Json<CreateQuestion>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    let q = body.into_inner()?;
    let draft = QuestionDraft {
        code: q.code,
        kind: q.kind,
        max: q.max_score,
        step: q.step,
        tolerance: q.tolerance,
        final_step: q.final_step,
        marks_required: q.marks_required,
        criteria: q
            .criteria
            .into_iter()
            .map(|c| Criterion {
                code: c.code,
                name: c.name,
                max: c.max,
            })
            .collect(),
    };
    let defaults = state.settings.rules.clone();
    let now = state.now();
    let audit = chief.audit("question.create");
    let me = chief.id.clone();
    let question = state
        .db
        .write(move |c| -> Result<Question, ApiError> {
            let exam = db::exams::by_code_locked(c, &code).map_err(missing("exam"))?;
            not_related(c, &exam.id, &me)?;
            check_unlocked(exam.locked)?;
            let rules = exam.rules(&defaults)?;
            let question = validate_question(draft, rules.default_tolerance_percent, rules.default_final_step)?;
            let id = db::exams::insert_question(c, &exam.id, &question, now)
                .map_err(taken("question_exists", "the exam has a question with that code"))?;
            audit
                .object("question", &id)
                .exam(&exam.id)
                .details(serde_json::to_value(&question).unwrap_or_default())
                .append(c, now)?;
            Ok(question)
        })
        .await?;
    Ok(HttpResponse::Created().json(QuestionView::from(question)))
}

/// Replace the answer-sheet template (page fractions).
///
/// Rules the schema cannot state: one anchor per page, in page order; every region on an existing
/// page and inside it (x + width ≤ 1, y + height ≤ 1); a name mask and an admission-number mask;
/// each question placed at most once (across fields); every placed question is one of the exam's,
/// which is not locked (state).
#[utoipa::path(
    tag = "exams",
    params(("exam" = String, Path, description = "Exam code")),
    request_body = SheetTemplate,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored", body = SheetTemplate),
        (status = 409, description = "A batch of the exam exists: the template is fixed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A region off the page, a missing mask, an unknown question", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/exams/{exam}/template")]
pub async fn put_template(
    state: web::Data<AppState>,
    chief: Chief,
    path: web::Path<String>,
    body: Json<SheetTemplate>,
) -> Result<web::Json<SheetTemplate>, ApiError> {
    let code = path.into_inner();
    let template = body.into_inner()?;
    let now = state.now();
    let audit = chief.audit("template.put");
    let by = chief.id.clone();
    let stored = state
        .db
        .write(move |c| -> Result<SheetTemplate, ApiError> {
            let exam = db::exams::by_code_locked(c, &code).map_err(missing("exam"))?;
            not_related(c, &exam.id, &by)?;
            check_unlocked(exam.locked)?;
            // Sheets are cut by the template: once a batch exists, changing it would cut later
            // sheets differently from earlier ones, or leave an answer uncut.
            if !db::custody::batches_of(c, &exam.id)?.is_empty() {
                return Err(RuleError::conflict(
                    "template_in_use",
                    "a batch of this exam exists; the template is fixed",
                )
                .into());
            }
            let codes: Vec<String> = db::exams::questions_of(c, &exam.id)?
                .into_iter()
                .map(|q| q.code)
                .collect();
            validate_template(&template, &codes)?;
            db::exams::put_template(c, &exam.id, &template, &by, now)?;
            audit
                .object("template", &exam.id)
                .exam(&exam.id)
                .details(serde_json::to_value(&template).unwrap_or_default())
                .append(c, now)?;
            Ok(template)
        })
        .await?;
    Ok(web::Json(stored))
}

/// Open or close the marking room. Closing takes effect at once.
#[utoipa::path(
    tag = "exams",
    params(("exam" = String, Path, description = "Exam code")),
    request_body = RoomState,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The room's state", body = RoomState),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/room")]
pub async fn set_room(
    state: web::Data<AppState>,
    chief: Chief,
    path: web::Path<String>,
    body: Json<RoomState>,
) -> Result<web::Json<RoomState>, ApiError> {
    let code = path.into_inner();
    let open = body.into_inner()?.open;
    let now = state.now();
    let audit = chief.audit(if open { "room.open" } else { "room.close" });
    let (me, entry) = (chief.id.clone(), audit.clone());
    let result = state
        .db
        .write(move |c| -> Result<(), ApiError> {
            let exam = exam_by_code(c, &code)?;
            not_related(c, &exam.id, &me)?;
            // Leases and marks take the exam row in share mode: the room turns between them.
            db::exams::lock_by_id(c, &exam.id)?;
            db::exams::set_room_open(c, &exam.id, open)?;
            if !open {
                close_room(c, &exam.id, now)?;
            }
            entry.object("exam", &exam.id).exam(&exam.id).append(c, now)?;
            Ok(())
        })
        .await;
    audit_refusal(&state, audit, result).await?;
    Ok(web::Json(RoomState { open }))
}
