//! Staff accounts, the login brake and leaders' question scopes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{leader_scopes, login_throttle, questions, users};
use super::{DbConn, DbError, db_time, utc};
use crate::domain::access::Reserved;
use crate::domain::role::{Person, Role};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub chief: bool,
    pub active: bool,
    pub token_version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub created_by: Option<String>,
    pub full_name: String,
    pub id_document_hash: Option<String>,
    pub must_change_password: bool,
    pub one_time_password_expires_at: Option<chrono::NaiveDateTime>,
}

impl UserRow {
    /// Whether the account's one-time password has run out (its owner never set their own).
    pub fn one_time_password_expired(&self, now: DateTime<Utc>) -> bool {
        self.must_change_password && self.one_time_password_expires_at.is_some_and(|t| utc(t) <= now)
    }

    pub fn role(&self) -> Result<Role, DbError> {
        Role::parse(&self.role).ok_or_else(|| DbError::Corrupt(format!("user {} has role {}", self.id, self.role)))
    }

    pub fn person(&self) -> Result<Person, DbError> {
        Ok(Person {
            id: self.id.clone(),
            role: self.role()?,
            chief: self.chief,
            active: self.active,
            on_duty: false,
        })
    }
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub chief: bool,
    pub active: bool,
    pub created_by: Option<&'a str>,
    pub full_name: &'a str,
    /// The keyed hash of the person's identity-document number.
    pub id_document_hash: &'a str,
    /// Set for an account someone else made: its owner changes the password before anything
    /// else, before this time.
    pub must_change_password: bool,
    pub one_time_password_expires_at: Option<DateTime<Utc>>,
}

pub fn insert(conn: &mut DbConn, u: &NewUser<'_>, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&id),
            users::username.eq(u.username),
            users::password_hash.eq(u.password_hash),
            users::role.eq(u.role.as_str()),
            users::chief.eq(u.chief),
            users::active.eq(u.active),
            users::token_version.eq(1),
            users::created_at.eq(db_time(now)),
            users::created_by.eq(u.created_by),
            users::full_name.eq(u.full_name),
            users::id_document_hash.eq(u.id_document_hash),
            users::must_change_password.eq(u.must_change_password),
            users::one_time_password_expires_at.eq(u.one_time_password_expires_at.map(db_time)),
        ))
        .execute(conn)?;
    Ok(id)
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Option<UserRow>, DbError> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> Result<Option<UserRow>, DbError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// The account that names this person (by the keyed hash of their document number), if any.
pub fn find_by_document(conn: &mut DbConn, id_document_hash: &str) -> Result<Option<UserRow>, DbError> {
    Ok(users::table
        .filter(users::id_document_hash.eq(id_document_hash))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// Accounts made before every account named a person (usernames): they cannot be told apart
/// from a second account of the same person until an admin records who they are.
pub fn without_person(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    Ok(users::table
        .filter(users::id_document_hash.is_null())
        .select(users::username)
        .load(conn)?)
}

/// Active chief leaders: the command line may make chiefs only while fewer than two can act.
pub fn count_active_chiefs(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(users::table
        .filter(users::role.eq(Role::Leader.as_str()))
        .filter(users::chief.eq(true))
        .filter(users::active.eq(true))
        .count()
        .get_result(conn)?)
}

/// A new one-time password set by an admin (a forgotten password, or one that ran out): every
/// token of the account is revoked and its owner must choose their own again.
pub fn reset_password(
    conn: &mut DbConn,
    id: &str,
    password_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    let n = diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::must_change_password.eq(true),
            users::one_time_password_expires_at.eq(db_time(expires_at)),
            users::token_version.eq(users::token_version + 1),
        ))
        .execute(conn)?;
    if n == 1 { Ok(()) } else { Err(DbError::NotFound) }
}

/// Who an id is, as a second person must see it before approving: (id, username, full name, role).
pub fn names(conn: &mut DbConn, ids: &[String]) -> Result<Vec<(String, String, String, String)>, DbError> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::username, users::full_name, users::role))
        .load(conn)?)
}

/// A new password chosen by the account's owner: it ends the one-time password and revokes
/// every token issued before.
pub fn set_own_password(conn: &mut DbConn, id: &str, password_hash: &str) -> Result<(), DbError> {
    let n = diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::must_change_password.eq(false),
            users::one_time_password_expires_at.eq(None::<chrono::NaiveDateTime>),
            users::token_version.eq(users::token_version + 1),
        ))
        .execute(conn)?;
    if n == 1 { Ok(()) } else { Err(DbError::NotFound) }
}

pub fn activate(conn: &mut DbConn, id: &str) -> Result<(), DbError> {
    let n = diesel::update(users::table.find(id))
        .set(users::active.eq(true))
        .execute(conn)?;
    if n == 1 { Ok(()) } else { Err(DbError::NotFound) }
}

pub fn deactivate(conn: &mut DbConn, id: &str) -> Result<(), DbError> {
    let n = diesel::update(users::table.find(id))
        .set(users::active.eq(false))
        .execute(conn)?;
    if n == 1 { Ok(()) } else { Err(DbError::NotFound) }
}

/// Revokes every token the user holds, at once: tokens carry the version they were issued at.
pub fn bump_token_version(conn: &mut DbConn, id: &str) -> Result<(), DbError> {
    let n = diesel::update(users::table.find(id))
        .set(users::token_version.eq(users::token_version + 1))
        .execute(conn)?;
    if n == 1 { Ok(()) } else { Err(DbError::NotFound) }
}

pub fn add_scope(conn: &mut DbConn, exam_id: &str, user_id: &str, question_ids: &[String]) -> Result<(), DbError> {
    // One statement per row: diesel cannot batch inserts over both backends at once.
    for q in question_ids {
        diesel::insert_into(leader_scopes::table)
            .values((
                leader_scopes::exam_id.eq(exam_id),
                leader_scopes::user_id.eq(user_id),
                leader_scopes::question_id.eq(q),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The question codes a scoped leader leads in one exam.
pub fn scope_codes(conn: &mut DbConn, exam_id: &str, user_id: &str) -> Result<Vec<String>, DbError> {
    Ok(leader_scopes::table
        .inner_join(
            questions::table.on(questions::exam_id
                .eq(leader_scopes::exam_id)
                .and(questions::id.eq(leader_scopes::question_id))),
        )
        .filter(leader_scopes::exam_id.eq(exam_id))
        .filter(leader_scopes::user_id.eq(user_id))
        .select(questions::code)
        .order(questions::position)
        .load(conn)?)
}

#[derive(QueryableByName)]
struct ReservedRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    failures: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamp>)]
    locked_until: Option<chrono::NaiveDateTime>,
}

/// Counts a login attempt against the username before its password is checked, in one atomic
/// upsert that returns the count: concurrent attempts each get their own number. A lock that
/// has run out starts the count afresh. A successful login clears the row.
pub fn reserve_attempt(conn: &mut DbConn, username: &str, now: DateTime<Utc>) -> Result<Reserved, DbError> {
    use diesel::sql_types::{Text, Timestamp};
    const PG: &str = "INSERT INTO login_throttle AS t (username, failures, locked_until, last_failure_at) \
         VALUES ($1, 1, NULL, $2) ON CONFLICT (username) DO UPDATE SET \
         failures = CASE WHEN t.locked_until <= $2 THEN 1 ELSE t.failures + 1 END, \
         locked_until = CASE WHEN t.locked_until <= $2 THEN NULL ELSE t.locked_until END, \
         last_failure_at = $2 RETURNING failures, locked_until";
    const SQLITE: &str = "INSERT INTO login_throttle (username, failures, locked_until, last_failure_at) \
         VALUES (?1, 1, NULL, ?2) ON CONFLICT (username) DO UPDATE SET \
         failures = CASE WHEN login_throttle.locked_until <= ?2 THEN 1 ELSE login_throttle.failures + 1 END, \
         locked_until = CASE WHEN login_throttle.locked_until <= ?2 THEN NULL ELSE login_throttle.locked_until END, \
         last_failure_at = ?2 RETURNING failures, locked_until";
    let now = db_time(now);
    let row: ReservedRow = match conn {
        DbConn::Pg(c) => diesel::sql_query(PG)
            .bind::<Text, _>(username)
            .bind::<Timestamp, _>(now)
            .get_result(c)?,
        DbConn::Sqlite(c) => diesel::sql_query(SQLITE)
            .bind::<Text, _>(username)
            .bind::<Timestamp, _>(now)
            .get_result(c)?,
    };
    Ok(Reserved {
        attempt: row.failures.max(0) as u32,
        locked_until: row.locked_until.map(utc),
    })
}

pub fn lock_username(conn: &mut DbConn, username: &str, until: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(login_throttle::table.find(username))
        .set(login_throttle::locked_until.eq(db_time(until)))
        .execute(conn)?;
    Ok(())
}

pub fn clear_throttle(conn: &mut DbConn, username: &str) -> Result<(), DbError> {
    diesel::delete(login_throttle::table.find(username)).execute(conn)?;
    Ok(())
}
