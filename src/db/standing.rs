//! What the door of every request needs to know about its caller, read in one statement: the
//! account, whether any marking window is open, the marker's rooms, and the workstation whose key
//! came with the request. Every authenticated request reads it, so it is one round trip with no
//! transaction around it (a single statement is its own snapshot on both backends); the act's
//! own transaction checks again whatever it relies on (the room, the marker's standing).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable, Text, Timestamp};

use super::kept::Kept;
use super::markers::MarkerRow;
use super::{DbConn, DbError, db_time};

/// The caller's standing at `now`. `user_*` fields are `None` when the account does not exist.
#[derive(Debug, Clone, QueryableByName)]
pub struct Standing {
    #[diesel(sql_type = Nullable<Text>)]
    pub role: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    pub chief: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    pub active: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    pub must_change_password: Option<bool>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub token_version: Option<i32>,
    /// Some exam's marking window is open (the closed room's workstation rule applies).
    #[diesel(sql_type = Bool)]
    pub window_open: bool,
    /// As a marker: a room of one of their exams is open (any room, for a marker of none yet).
    #[diesel(sql_type = Bool)]
    pub marker_room_open: bool,
    /// As a marker: paused in an exam whose room is open, and active in none.
    #[diesel(sql_type = Bool)]
    pub marker_only_paused: bool,
    /// The active workstation whose key hash was given.
    #[diesel(sql_type = Nullable<Text>)]
    pub workstation: Option<String>,
}

// Each marker_exams lookup goes through the exams (a handful) to its primary key (exam, marker),
// which has no index by marker alone; CROSS JOIN keeps SQLite to that order.
// `$n` placeholders read the same on both backends as long as each first appears in order (SQLite
// numbers named parameters by first appearance): $1 the time, $2 the account, $3 the key hash.
macro_rules! standing_columns {
    () => {
        "u.role AS role, u.chief AS chief, u.active AS active,
  u.must_change_password AS must_change_password, u.token_version AS token_version,
  EXISTS (SELECT 1 FROM exams e WHERE e.window_start <= $1 AND e.window_end > $1) AS window_open,
  CASE WHEN EXISTS (SELECT 1 FROM markers m CROSS JOIN exams e CROSS JOIN marker_exams me
                    WHERE m.user_id = $2 AND me.exam_id = e.id AND me.marker_id = m.id)
    THEN EXISTS (SELECT 1 FROM marker_exams me JOIN markers m ON m.id = me.marker_id
                 JOIN exams e ON e.id = me.exam_id
                 WHERE m.user_id = $2 AND e.window_start <= $1 AND e.window_end > $1 AND e.room_open)
    ELSE EXISTS (SELECT 1 FROM exams e WHERE e.window_start <= $1 AND e.window_end > $1 AND e.room_open)
  END AS marker_room_open,
  (EXISTS (SELECT 1 FROM marker_exams me JOIN markers m ON m.id = me.marker_id
           JOIN exams e ON e.id = me.exam_id
           WHERE m.user_id = $2 AND me.status = 'paused'
             AND e.window_start <= $1 AND e.window_end > $1 AND e.room_open)
   AND NOT EXISTS (SELECT 1 FROM marker_exams me JOIN markers m ON m.id = me.marker_id
           JOIN exams e ON e.id = me.exam_id
           WHERE m.user_id = $2 AND me.status = 'active'
             AND e.window_start <= $1 AND e.window_end > $1 AND e.room_open)) AS marker_only_paused,
  (SELECT w.id FROM workstations w WHERE w.key_hash = $3 AND w.active) AS workstation"
    };
}

const STANDING: &str = concat!(
    "SELECT ",
    standing_columns!(),
    " FROM (SELECT 1 AS one) AS one LEFT JOIN users u ON u.id = $2"
);

// PostgreSQL only ($2 comes first, which SQLite would number $1): the standing and the
// marker's record locked, one round trip where they were two on each of the two requests of a
// marking cycle. No row when the account has no marker record. The lock may wait (for another
// act of the same marker, or a pause); the standing is then the one read before the wait, as
// when it was a statement of its own before the lock, and the act's later statements read the
// marker's status afresh (`check_may_mark`, `take`). The record's columns are named, so that
// none can be taken for one of the standing's.
const STANDING_MARKER_LOCKED: &str = concat!(
    "WITH locked AS MATERIALIZED (SELECT * FROM markers WHERE user_id = $2 FOR UPDATE) SELECT ",
    standing_columns!(),
    ", locked.id, locked.user_id, locked.birth_date, locked.school_code, locked.subject, \
     locked.years_teaching, locked.recommended_by, locked.recommending_school, \
     locked.recommended_on, locked.health_attested, locked.conduct_attested, locked.created_at, \
     locked.created_by FROM locked LEFT JOIN users u ON u.id = $2"
);

/// The standing of account `user_id` at `now`, with the workstation of `key_hash` (if any).
pub fn of(conn: &mut DbConn, user_id: &str, key_hash: Option<&str>, now: DateTime<Utc>) -> Result<Standing, DbError> {
    Ok(Kept(
        diesel::sql_query(STANDING)
            .bind::<Timestamp, _>(db_time(now))
            .bind::<Text, _>(user_id)
            .bind::<Nullable<Text>, _>(key_hash),
    )
    .get_result(conn)?)
}

#[derive(QueryableByName)]
struct WithMarker {
    #[diesel(embed)]
    standing: Standing,
    #[diesel(embed)]
    marker: MarkerRow,
}

/// The standing of marker account `user_id` (as `of`) with its marker record, locked for the
/// transaction as `markers::by_user_locked` locks it; `None` when the account has no marker
/// record, or off PostgreSQL (where the two are read one by one).
pub fn of_marker_locked(
    conn: &mut DbConn,
    user_id: &str,
    key_hash: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<(Standing, MarkerRow)>, DbError> {
    if !matches!(conn, DbConn::Pg(_)) {
        return Ok(None);
    }
    let row: Option<WithMarker> = Kept(
        diesel::sql_query(STANDING_MARKER_LOCKED)
            .bind::<Timestamp, _>(db_time(now))
            .bind::<Text, _>(user_id)
            .bind::<Nullable<Text>, _>(key_hash),
    )
    .get_result(conn)
    .optional()?;
    Ok(row.map(|r| (r.standing, r.marker)))
}
