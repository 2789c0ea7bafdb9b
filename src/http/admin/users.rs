use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::role::{Role, admin_may_create, check_person, check_scope, check_username, starts_active};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, Problem};
use crate::http::json::Json;
use crate::http::state::AppState;
use crate::secrets;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9._@-]+$")]
    pub username: String,
    /// The person's full name, shown to the second person of every two-person act.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub full_name: String,
    /// The person's identity-document number; stored only as a keyed hash. One person holds
    /// one account (spaces, '-' and letter case are ignored when comparing).
    #[schema(pattern = "^[ -]*([A-Za-z0-9][ -]*){4,32}$")]
    pub id_document: String,
    /// admin, leader or custodian (markers come from the marker archive).
    #[schema(schema_with = crate::http::schemas::creatable_role)]
    pub role: Role,
    /// Leaders only: a chief leader leads the whole marking.
    #[serde(default)]
    pub chief: bool,
    /// Leaders who are not chief: the exam and the question codes they lead (a rule across
    /// fields: a chief has neither, any other leader both).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub exam: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::http::schemas::codes)]
    pub questions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub full_name: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub chief: bool,
    /// Leaders and custodians start inactive until an active chief leader approves them.
    pub active: bool,
    /// Shown once: the owner logs in with it and must set their own password before anything
    /// else (and before a chief leader may activate the account), by `one_time_password_expires_at`.
    pub one_time_password: String,
    pub one_time_password_expires_at: DateTime<Utc>,
}

/// The exam id and question ids a scoped leader's codes name.
fn scope_ids(c: &mut DbConn, exam: &str, questions: &[String]) -> Result<(String, Vec<String>), ApiError> {
    let row = db::exams::by_code(c, exam).map_err(|e| match e {
        db::DbError::NotFound => RuleError::invalid("unknown_exam", "exam", format!("no exam {exam}")).into(),
        other => ApiError::from(other),
    })?;
    let known = db::exams::questions_of(c, &row.id)?;
    let mut ids: Vec<String> = vec![];
    for (i, q) in questions.iter().enumerate() {
        let found = known.iter().find(|r| &r.code == q).ok_or_else(|| {
            RuleError::invalid(
                "unknown_question",
                format!("questions[{i}]"),
                format!("exam {exam} has no question {q}"),
            )
        })?;
        if !ids.contains(&found.id) {
            ids.push(found.id.clone());
        }
    }
    Ok((row.id, ids))
}

/// Stores a new account, unless its username is taken or its person already holds one (the
/// unique index on the document hash backs the check against an account made at the same moment).
fn store(c: &mut DbConn, new: &db::users::NewUser<'_>, now: DateTime<Utc>) -> Result<String, ApiError> {
    if db::users::find_by_username(c, new.username)?.is_some() {
        return Err(RuleError::conflict("username_taken", "that username is taken").into());
    }
    let person_taken = || {
        ApiError::from(RuleError::conflict(
            "person_has_account",
            "this person already holds an account; one person holds one account",
        ))
    };
    if db::users::find_by_document(c, new.id_document_hash)?.is_some() {
        return Err(person_taken());
    }
    // Made at the same moment by someone else: the unique index names which one.
    db::users::insert(c, new, now).map_err(|e| match e {
        db::DbError::Duplicate(which) if which.contains("username") => {
            RuleError::conflict("username_taken", "that username is taken").into()
        }
        db::DbError::Duplicate(_) => person_taken(),
        other => other.into(),
    })
}

/// Create an admin, leader or custodian account for one person. The answer shows a one-time
/// password once; leaders and custodians then wait for an active chief leader's approval
/// (`activate_staff`). One person holds one account: a document number already on an account is
/// refused, whatever the username or role.
///
/// Rules the schema cannot state: a chief leader has no scope, any other leader an exam and its
/// questions, other roles neither (across fields); the username is free, the person holds no
/// account, the scope's exam and questions exist (state).
///
/// Refused by rules across fields or of state: `invalid_scope` (a chief flag or a scope on anyone
/// but a leader, or a scope naming no question of the exam), `unknown_exam` (no such exam).
#[utoipa::path(
    tag = "admin",
    request_body = CreateUser,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 409, description = "Username taken, or the person already holds an account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let u = body.into_inner()?;
    admin_may_create(u.role)?;
    check_username(&u.username)?;
    let person = check_person(&u.full_name, &u.id_document)?;
    check_scope(u.role, u.chief, u.exam.is_some(), u.questions.len())?;
    let one_time = secrets::one_time_password();
    let pw = one_time.clone();
    let hash = secrets::hashing(move || secrets::hash_password(&pw))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let document_hash = secrets::keyed_hash(&state.identity_key, &person.id_document);
    let now = state.now();
    let audit = admin.audit("user.create").details(serde_json::json!({
        "username": u.username, "full_name": person.full_name, "role": u.role.as_str(),
        "chief": u.chief, "exam": u.exam, "questions": u.questions,
    }));
    let active = starts_active(u.role);
    let expires_at = now + chrono::Duration::minutes(state.settings.auth.one_time_password_minutes);
    let by = admin.id.clone();
    let (username, role, chief, full_name) = (u.username.clone(), u.role, u.chief, person.full_name.clone());
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<String, ApiError> {
            let new = db::users::NewUser {
                username: &u.username,
                password_hash: &hash,
                role: u.role,
                chief: u.chief,
                active,
                created_by: Some(&by),
                full_name: &person.full_name,
                id_document_hash: &document_hash,
                must_change_password: true,
                one_time_password_expires_at: Some(expires_at),
            };
            let id = store(c, &new, now)?;
            if let Some(code) = &u.exam {
                let (exam_id, question_ids) = scope_ids(c, code, &u.questions)?;
                db::users::add_scope(c, &exam_id, &id, &question_ids)?;
            }
            entry.object("user", &id).append(c, now)?;
            Ok(id)
        })
        .await;
    let id = audit_refusal(&state, audit, result).await?;
    Ok(HttpResponse::Created().json(UserView {
        id,
        username,
        full_name,
        role,
        chief,
        active,
        one_time_password: one_time,
        one_time_password_expires_at: expires_at,
    }))
}
