//! Staff accounts, the login brake and leaders' question scopes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{leader_scopes, login_throttle, questions, users};
use super::{DbConn, DbError, db_time, utc};
use crate::domain::access::ThrottleState;
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
}

impl UserRow {
    pub fn role(&self) -> Result<Role, DbError> {
        Role::parse(&self.role).ok_or_else(|| DbError::Corrupt(format!("user {} has role {}", self.id, self.role)))
    }

    pub fn person(&self) -> Result<Person, DbError> {
        Ok(Person {
            id: self.id.clone(),
            role: self.role()?,
            chief: self.chief,
            active: self.active,
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

pub fn count_chiefs(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(users::table
        .filter(users::role.eq(Role::Leader.as_str()))
        .filter(users::chief.eq(true))
        .count()
        .get_result(conn)?)
}

pub fn activate(conn: &mut DbConn, id: &str) -> Result<(), DbError> {
    let n = diesel::update(users::table.find(id))
        .set(users::active.eq(true))
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

pub fn throttle(conn: &mut DbConn, username: &str) -> Result<ThrottleState, DbError> {
    let row: Option<(i32, Option<chrono::NaiveDateTime>)> = login_throttle::table
        .find(username)
        .select((login_throttle::failures, login_throttle::locked_until))
        .first(conn)
        .optional()?;
    Ok(row
        .map(|(f, l)| ThrottleState {
            failures: f.max(0) as u32,
            locked_until: l.map(utc),
        })
        .unwrap_or_default())
}

pub fn save_throttle(conn: &mut DbConn, username: &str, s: &ThrottleState, now: DateTime<Utc>) -> Result<(), DbError> {
    let failures = i32::try_from(s.failures).unwrap_or(i32::MAX);
    let locked = s.locked_until.map(db_time);
    let values = (
        login_throttle::username.eq(username),
        login_throttle::failures.eq(failures),
        login_throttle::locked_until.eq(locked),
        login_throttle::last_failure_at.eq(db_time(now)),
    );
    crate::per_backend!(conn, |c| diesel::insert_into(login_throttle::table)
        .values(values)
        .on_conflict(login_throttle::username)
        .do_update()
        .set((
            login_throttle::failures.eq(failures),
            login_throttle::locked_until.eq(locked),
            login_throttle::last_failure_at.eq(db_time(now)),
        ))
        .execute(c))?;
    Ok(())
}

pub fn clear_throttle(conn: &mut DbConn, username: &str) -> Result<(), DbError> {
    diesel::delete(login_throttle::table.find(username)).execute(conn)?;
    Ok(())
}
