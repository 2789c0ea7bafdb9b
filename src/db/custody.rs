//! Duty shifts, batches and hand-overs as stored.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{batches, duty_shifts, handover_confirmations, handovers};
use super::{DbConn, DbError, db_time};
use crate::domain::custody::BatchStatus;

/// Custodians checked in for the exam now.
pub fn on_duty(conn: &mut DbConn, exam_id: &str) -> Result<Vec<String>, DbError> {
    Ok(duty_shifts::table
        .filter(duty_shifts::exam_id.eq(exam_id))
        .filter(duty_shifts::checked_out_at.is_null())
        .select(duty_shifts::user_id)
        .load(conn)?)
}

/// Checks in; a second check-in while on duty meets the unique index (`Duplicate`).
pub fn check_in(conn: &mut DbConn, exam_id: &str, user_id: &str, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(duty_shifts::table)
        .values((
            duty_shifts::exam_id.eq(exam_id),
            duty_shifts::id.eq(&id),
            duty_shifts::user_id.eq(user_id),
            duty_shifts::checked_in_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Ends the user's open shift; `NotFound` when they were not on duty.
pub fn check_out(conn: &mut DbConn, exam_id: &str, user_id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    let n = diesel::update(
        duty_shifts::table
            .filter(duty_shifts::exam_id.eq(exam_id))
            .filter(duty_shifts::user_id.eq(user_id))
            .filter(duty_shifts::checked_out_at.is_null()),
    )
    .set(duty_shifts::checked_out_at.eq(db_time(now)))
    .execute(conn)?;
    if n == 1 { Ok(()) } else { Err(DbError::NotFound) }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = batches)]
pub struct BatchRow {
    pub exam_id: String,
    pub id: String,
    pub status: String,
    pub label: String,
    pub approval_id: String,
    pub opened_at: NaiveDateTime,
    pub released_at: Option<NaiveDateTime>,
}

impl BatchRow {
    pub fn status(&self) -> Result<BatchStatus, DbError> {
        BatchStatus::parse(&self.status).ok_or_else(|| DbError::Corrupt(format!("batch {} status", self.id)))
    }
}

pub fn insert_batch(
    conn: &mut DbConn,
    exam_id: &str,
    label: &str,
    approval_id: &str,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(batches::table)
        .values((
            batches::exam_id.eq(exam_id),
            batches::id.eq(&id),
            batches::status.eq(BatchStatus::Open.as_str()),
            batches::label.eq(label),
            batches::approval_id.eq(approval_id),
            batches::opened_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The batch, its row locked on PostgreSQL for the rest of the transaction (sheets, release
/// and hand-overs of one batch take turns).
pub fn batch_locked(conn: &mut DbConn, id: &str) -> Result<BatchRow, DbError> {
    let q = batches::table.filter(batches::id.eq(id));
    Ok(match conn {
        DbConn::Pg(c) => q.select(BatchRow::as_select()).for_update().first(c)?,
        DbConn::Sqlite(c) => q.select(BatchRow::as_select()).first(c)?,
    })
}

pub fn batch(conn: &mut DbConn, id: &str) -> Result<BatchRow, DbError> {
    Ok(batches::table
        .filter(batches::id.eq(id))
        .select(BatchRow::as_select())
        .first(conn)?)
}

pub fn open_batches(conn: &mut DbConn, exam_id: &str) -> Result<i64, DbError> {
    Ok(batches::table
        .filter(batches::exam_id.eq(exam_id))
        .filter(batches::status.eq(BatchStatus::Open.as_str()))
        .count()
        .get_result(conn)?)
}

pub fn set_released(conn: &mut DbConn, exam_id: &str, id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(batches::table.find((exam_id, id)))
        .set((
            batches::status.eq(BatchStatus::Released.as_str()),
            batches::released_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = handovers)]
pub struct HandoverRow {
    pub exam_id: String,
    pub id: String,
    pub batch_id: String,
    pub from_a: String,
    pub from_b: String,
    pub to_a: String,
    pub to_b: String,
    pub note: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

impl HandoverRow {
    pub fn parties(&self) -> [&str; 4] {
        [&self.from_a, &self.from_b, &self.to_a, &self.to_b]
    }
}

pub struct NewHandover<'a> {
    pub exam_id: &'a str,
    pub batch_id: &'a str,
    pub from: [&'a str; 2],
    pub to: [&'a str; 2],
    pub note: &'a str,
    pub created_by: &'a str,
}

pub fn insert_handover(conn: &mut DbConn, h: &NewHandover<'_>, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(handovers::table)
        .values((
            handovers::exam_id.eq(h.exam_id),
            handovers::id.eq(&id),
            handovers::batch_id.eq(h.batch_id),
            handovers::from_a.eq(h.from[0]),
            handovers::from_b.eq(h.from[1]),
            handovers::to_a.eq(h.to[0]),
            handovers::to_b.eq(h.to[1]),
            handovers::note.eq(h.note),
            handovers::created_by.eq(h.created_by),
            handovers::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

pub fn handover(conn: &mut DbConn, id: &str) -> Result<HandoverRow, DbError> {
    Ok(handovers::table
        .filter(handovers::id.eq(id))
        .select(HandoverRow::as_select())
        .first(conn)?)
}

/// A batch's hand-overs in the order they happened.
pub fn handovers_of(conn: &mut DbConn, exam_id: &str, batch_id: &str) -> Result<Vec<HandoverRow>, DbError> {
    Ok(handovers::table
        .filter(handovers::exam_id.eq(exam_id))
        .filter(handovers::batch_id.eq(batch_id))
        .order((handovers::created_at, handovers::id))
        .select(HandoverRow::as_select())
        .load(conn)?)
}

/// Who has confirmed a hand-over, and when, in order.
pub fn confirmations(
    conn: &mut DbConn,
    exam_id: &str,
    handover_id: &str,
) -> Result<Vec<(String, NaiveDateTime)>, DbError> {
    Ok(handover_confirmations::table
        .filter(handover_confirmations::exam_id.eq(exam_id))
        .filter(handover_confirmations::handover_id.eq(handover_id))
        .order(handover_confirmations::confirmed_at)
        .select((handover_confirmations::user_id, handover_confirmations::confirmed_at))
        .load(conn)?)
}

pub fn confirm(
    conn: &mut DbConn,
    exam_id: &str,
    handover_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(handover_confirmations::table)
        .values((
            handover_confirmations::exam_id.eq(exam_id),
            handover_confirmations::handover_id.eq(handover_id),
            handover_confirmations::user_id.eq(user_id),
            handover_confirmations::confirmed_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn batches_of(conn: &mut DbConn, exam_id: &str) -> Result<Vec<BatchRow>, DbError> {
    Ok(batches::table
        .filter(batches::exam_id.eq(exam_id))
        .order(batches::opened_at.desc())
        .select(BatchRow::as_select())
        .load(conn)?)
}

/// Who is on duty for the exam now, and since when, earliest first.
pub fn shifts_on_duty(conn: &mut DbConn, exam_id: &str) -> Result<Vec<(String, NaiveDateTime)>, DbError> {
    Ok(duty_shifts::table
        .filter(duty_shifts::exam_id.eq(exam_id))
        .filter(duty_shifts::checked_out_at.is_null())
        .order((duty_shifts::checked_in_at, duty_shifts::id))
        .select((duty_shifts::user_id, duty_shifts::checked_in_at))
        .load(conn)?)
}

/// The exam's hand-overs that name `user_id` (giving or receiving) and that they have not
/// confirmed yet, oldest first.
pub fn awaiting_confirmation(conn: &mut DbConn, exam_id: &str, user_id: &str) -> Result<Vec<HandoverRow>, DbError> {
    use diesel::dsl::{exists, not};
    let mine = handover_confirmations::table
        .filter(handover_confirmations::exam_id.eq(handovers::exam_id))
        .filter(handover_confirmations::handover_id.eq(handovers::id))
        .filter(handover_confirmations::user_id.eq(user_id));
    Ok(handovers::table
        .filter(handovers::exam_id.eq(exam_id))
        .filter(
            handovers::from_a
                .eq(user_id)
                .or(handovers::from_b.eq(user_id))
                .or(handovers::to_a.eq(user_id))
                .or(handovers::to_b.eq(user_id)),
        )
        .filter(not(exists(mine)))
        .order((handovers::created_at, handovers::id))
        .select(HandoverRow::as_select())
        .load(conn)?)
}

/// How many confirmations each of these hand-overs has, in one query.
pub fn confirmation_counts(
    conn: &mut DbConn,
    exam_id: &str,
    handover_ids: &[String],
) -> Result<Vec<(String, i64)>, DbError> {
    Ok(handover_confirmations::table
        .filter(handover_confirmations::exam_id.eq(exam_id))
        .filter(handover_confirmations::handover_id.eq_any(handover_ids))
        .group_by(handover_confirmations::handover_id)
        .select((handover_confirmations::handover_id, diesel::dsl::count_star()))
        .load(conn)?)
}
