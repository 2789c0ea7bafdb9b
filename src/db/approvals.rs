//! Two-person requests as stored: those of an exam in `approvals` (keyed by exam, so they
//! distribute with it), those that concern no exam (activating staff) in `account_approvals`.
//! A request's id is a random UUID, unique across both.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{account_approvals, approvals, exams};
use super::{DbConn, DbError, db_time};
use crate::domain::approval::{ApprovalKind, ApprovalState, ApprovalStatus};

#[derive(Debug, Clone, Queryable)]
pub struct ApprovalRow {
    pub id: String,
    pub exam_id: Option<String>,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub requested_by: String,
    pub requested_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_note: Option<String>,
    pub pending_key: Option<String>,
}

impl ApprovalRow {
    pub fn state(&self) -> Result<ApprovalState, DbError> {
        let corrupt = |what: &str| DbError::Corrupt(format!("approval {}: {what}", self.id));
        Ok(ApprovalState {
            kind: ApprovalKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            requested_by: self.requested_by.clone(),
            status: ApprovalStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            expires_at: self.expires_at.and_utc(),
        })
    }

    pub fn payload(&self) -> Result<serde_json::Value, DbError> {
        serde_json::from_str(&self.payload).map_err(|e| DbError::Corrupt(format!("approval {} payload: {e}", self.id)))
    }
}

/// The columns of `approvals` as an [`ApprovalRow`].
macro_rules! exam_columns {
    () => {
        (
            approvals::id,
            approvals::exam_id.nullable(),
            approvals::kind,
            approvals::payload,
            approvals::status,
            approvals::requested_by,
            approvals::requested_at,
            approvals::expires_at,
            approvals::decided_by,
            approvals::decided_at,
            approvals::decision_note,
            approvals::pending_key,
        )
    };
}

/// The columns of `account_approvals` as an [`ApprovalRow`] (no exam).
macro_rules! account_columns {
    () => {
        (
            account_approvals::id,
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>("NULL"),
            account_approvals::kind,
            account_approvals::payload,
            account_approvals::status,
            account_approvals::requested_by,
            account_approvals::requested_at,
            account_approvals::expires_at,
            account_approvals::decided_by,
            account_approvals::decided_at,
            account_approvals::decision_note,
            account_approvals::pending_key,
        )
    };
}

pub struct NewApproval<'a> {
    pub exam_id: Option<&'a str>,
    pub kind: ApprovalKind,
    pub payload: &'a str,
    pub requested_by: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// What makes two pending requests the same act: kind, exam and payload.
fn pending_key(a: &NewApproval<'_>) -> String {
    crate::secrets::sha256_hex(format!("{}|{}|{}", a.kind.as_str(), a.exam_id.unwrap_or(""), a.payload).as_bytes())
}

/// Files a request. A pending request for the same act makes this fail with `Duplicate` (the
/// unique index, so two filed at once cannot both stand); one that has lapsed gives way.
pub fn insert(conn: &mut DbConn, a: &NewApproval<'_>, now: DateTime<Utc>) -> Result<ApprovalRow, DbError> {
    let id = super::new_id();
    let key = pending_key(a);
    let status = ApprovalStatus::Pending.as_str();
    let (requested_at, expires_at) = (db_time(now), db_time(a.expires_at));
    match a.exam_id {
        Some(exam_id) => {
            diesel::update(
                approvals::table
                    .filter(approvals::exam_id.eq(exam_id))
                    .filter(approvals::pending_key.eq(&key))
                    .filter(approvals::expires_at.le(requested_at)),
            )
            .set(approvals::pending_key.eq(None::<String>))
            .execute(conn)?;
            diesel::insert_into(approvals::table)
                .values((
                    approvals::id.eq(&id),
                    approvals::exam_id.eq(exam_id),
                    approvals::kind.eq(a.kind.as_str()),
                    approvals::payload.eq(a.payload),
                    approvals::status.eq(status),
                    approvals::requested_by.eq(a.requested_by),
                    approvals::requested_at.eq(requested_at),
                    approvals::expires_at.eq(expires_at),
                    approvals::pending_key.eq(&key),
                ))
                .execute(conn)?;
        }
        None => {
            diesel::update(
                account_approvals::table
                    .filter(account_approvals::pending_key.eq(&key))
                    .filter(account_approvals::expires_at.le(requested_at)),
            )
            .set(account_approvals::pending_key.eq(None::<String>))
            .execute(conn)?;
            diesel::insert_into(account_approvals::table)
                .values((
                    account_approvals::id.eq(&id),
                    account_approvals::kind.eq(a.kind.as_str()),
                    account_approvals::payload.eq(a.payload),
                    account_approvals::status.eq(status),
                    account_approvals::requested_by.eq(a.requested_by),
                    account_approvals::requested_at.eq(requested_at),
                    account_approvals::expires_at.eq(expires_at),
                    account_approvals::pending_key.eq(&key),
                ))
                .execute(conn)?;
        }
    }
    find(conn, &id)
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<ApprovalRow, DbError> {
    let of_exam = approvals::table
        .filter(approvals::id.eq(id))
        .select(exam_columns!())
        .first(conn)
        .optional()?;
    match of_exam {
        Some(row) => Ok(row),
        None => Ok(account_approvals::table
            .find(id)
            .select(account_columns!())
            .first(conn)?),
    }
}

/// Records the decision, but only if the request is still pending: a concurrent decision
/// by someone else makes this one fail instead of overwriting it.
pub fn decide(
    conn: &mut DbConn,
    id: &str,
    status: ApprovalStatus,
    by: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let pending = ApprovalStatus::Pending.as_str();
    let n = diesel::update(
        approvals::table
            .filter(approvals::id.eq(id))
            .filter(approvals::status.eq(pending)),
    )
    .set((
        approvals::status.eq(status.as_str()),
        approvals::decided_by.eq(by),
        approvals::decided_at.eq(db_time(now)),
        approvals::decision_note.eq(note),
        approvals::pending_key.eq(None::<String>),
    ))
    .execute(conn)?
        + diesel::update(
            account_approvals::table
                .find(id)
                .filter(account_approvals::status.eq(pending)),
        )
        .set((
            account_approvals::status.eq(status.as_str()),
            account_approvals::decided_by.eq(by),
            account_approvals::decided_at.eq(db_time(now)),
            account_approvals::decision_note.eq(note),
            account_approvals::pending_key.eq(None::<String>),
        ))
        .execute(conn)?;
    if n == 1 { Ok(()) } else { Err(DbError::NotFound) }
}

/// Requests in one stored status, newest first, each with its exam's code (one query).
pub fn list_with_exam_code(
    conn: &mut DbConn,
    status: ApprovalStatus,
    limit: i64,
) -> Result<Vec<(ApprovalRow, Option<String>)>, DbError> {
    let mut rows: Vec<(ApprovalRow, Option<String>)> = approvals::table
        .inner_join(exams::table.on(approvals::exam_id.eq(exams::id)))
        .filter(approvals::status.eq(status.as_str()))
        .order(approvals::requested_at.desc())
        .limit(limit)
        .select((exam_columns!(), exams::code.nullable()))
        .load(conn)?;
    let accounts: Vec<ApprovalRow> = account_approvals::table
        .filter(account_approvals::status.eq(status.as_str()))
        .order(account_approvals::requested_at.desc())
        .limit(limit)
        .select(account_columns!())
        .load(conn)?;
    rows.extend(accounts.into_iter().map(|r| (r, None)));
    rows.sort_by(|(a, _), (b, _)| b.requested_at.cmp(&a.requested_at).then_with(|| b.id.cmp(&a.id)));
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(rows)
}

/// The approved requests of one exam and kind with exactly this (canonical) payload.
pub fn approved_with_payload(
    conn: &mut DbConn,
    exam_id: &str,
    kind: ApprovalKind,
    payload: &str,
) -> Result<Vec<ApprovalRow>, DbError> {
    Ok(approvals::table
        .filter(approvals::exam_id.eq(exam_id))
        .filter(approvals::kind.eq(kind.as_str()))
        .filter(approvals::payload.eq(payload))
        .filter(approvals::status.eq(ApprovalStatus::Approved.as_str()))
        .select(exam_columns!())
        .load(conn)?)
}

/// Requests filed under one exam in one stored status, newest first.
/// Every request of the exam with one of `kinds` in `status`, oldest first (no limit: a report
/// must name them all).
pub fn of_exam_kinds(
    conn: &mut DbConn,
    exam_id: &str,
    status: ApprovalStatus,
    kinds: &[&str],
) -> Result<Vec<ApprovalRow>, DbError> {
    Ok(approvals::table
        .filter(approvals::exam_id.eq(exam_id))
        .filter(approvals::status.eq(status.as_str()))
        .filter(approvals::kind.eq_any(kinds))
        .order(approvals::requested_at.asc())
        .select(exam_columns!())
        .load(conn)?)
}

pub fn of_exam(
    conn: &mut DbConn,
    exam_id: &str,
    status: ApprovalStatus,
    limit: i64,
) -> Result<Vec<ApprovalRow>, DbError> {
    Ok(approvals::table
        .filter(approvals::exam_id.eq(exam_id))
        .filter(approvals::status.eq(status.as_str()))
        .order(approvals::requested_at.desc())
        .limit(limit)
        .select(exam_columns!())
        .load(conn)?)
}
