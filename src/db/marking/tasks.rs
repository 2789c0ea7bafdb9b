//! Tasks: one required independent marking of a script, and who held which script.

use crate::db::lit;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use crate::db::kept::{Kept, changed};
use crate::db::schema::{script_holders, scripts, sheets, tasks};
use crate::db::{DbConn, DbError, db_time};
use diesel::sql_types::{Bool, Text, Timestamp};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tasks)]
pub struct TaskRow {
    pub exam_id: String,
    pub id: String,
    pub script_id: String,
    pub question_id: String,
    pub state: String,
    pub shuffle: i64,
    pub marker_id: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub done_at: Option<NaiveDateTime>,
}

/// Opens one task for a script; `begun` when the script is in marking already (its other
/// marks are made or under way), which puts the task ahead in the queue.
pub fn insert_task(
    conn: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    question_id: &str,
    begun: bool,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = crate::db::new_id();
    diesel::insert_into(tasks::table)
        .values((
            tasks::exam_id.eq(exam_id),
            tasks::id.eq(&id),
            tasks::script_id.eq(script_id),
            tasks::question_id.eq(question_id),
            tasks::state.eq("open"),
            tasks::shuffle.eq(rand::random::<i64>()),
            tasks::created_at.eq(db_time(now)),
            tasks::begun.eq(begun),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A script's first lease puts its other open tasks ahead in the queue (the caller holds the
/// script's row, so no other lease touches them meanwhile).
pub fn begin_script(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<(), DbError> {
    // No state here: SQLite would then walk every open task of the exam by (exam, state)
    // instead of the script's few (121 against 615 cycles/s).
    changed(
        conn,
        diesel::sql_query(
            "UPDATE tasks SET begun = $1 WHERE exam_id = $2 AND script_id = $3 AND begun = $4 \
             RETURNING 1 AS touched",
        )
        .bind::<Bool, _>(true)
        .bind::<Text, _>(exam_id)
        .bind::<Text, _>(script_id)
        .bind::<Bool, _>(false),
    )?;
    Ok(())
}

/// What a marker may be given: questions they qualified for in an exam, never a script they
/// held, never one from their own school, never a relative's sheet.
pub struct Eligible<'a> {
    pub exam_id: &'a str,
    pub question_ids: &'a [String],
    pub marker_id: &'a str,
    pub school_code: &'a str,
    /// Sheet lookups of the marker's declared relatives sitting the exam.
    pub relative_sheets: &'a [String],
}

/// Eligible open tasks from `from` on in shuffle order, wrapping around when none lies after
/// it: a random window of the queue without sorting it. Tasks of scripts already in marking
/// come first (`begun`), so that a script's independent marks come close together and every
/// marker soon shares scripts with others, which is what the statistics judge them by. Each
/// question is asked on its own so that every query walks the queue index in shuffle order and
/// stops after a few rows (one query over several questions sorts every open task of them
/// first). A read: the caller takes the first it can with `lease_task`, which fails for a task
/// someone took meanwhile.
pub fn eligible_tasks(conn: &mut DbConn, e: &Eligible<'_>, from: i64) -> Result<Vec<TaskRow>, DbError> {
    let mut all = Vec::new();
    // Fresh tasks after the begun ones: when many leases at once want the same few begun
    // tasks, those who miss take a fresh one instead of reading again.
    for begun in [true, false] {
        for start in [from, i64::MIN] {
            let mut candidates = Vec::new();
            for question in e.question_ids {
                candidates.extend(candidates_of(conn, e, question, begun, start)?);
            }
            if !candidates.is_empty() {
                candidates.sort_by_key(|t| t.shuffle);
                all.extend(candidates);
                break;
            }
        }
    }
    Ok(all)
}

/// How many tasks of each question a lease reads ahead of taking one. A task is passed over
/// only when another lease took it between the read and the write, which with a queue of tens
/// of thousands is rare; the fewer rows each walk must find, the cheaper every lease.
const CANDIDATES_PER_QUESTION: i64 = 4;

/// Up to `CANDIDATES_PER_QUESTION` eligible open tasks of one question from `start` on, in
/// shuffle order.
fn candidates_of(
    conn: &mut DbConn,
    e: &Eligible<'_>,
    question: &str,
    begun: bool,
    start: i64,
) -> Result<Vec<TaskRow>, DbError> {
    let held = script_holders::table
        .filter(script_holders::exam_id.eq(tasks::exam_id))
        .filter(script_holders::script_id.eq(tasks::script_id))
        .filter(script_holders::marker_id.eq(e.marker_id));
    let mut q = tasks::table
        .inner_join(
            scripts::table.on(scripts::exam_id
                .eq(tasks::exam_id)
                .and(scripts::id.eq(tasks::script_id))),
        )
        .filter(tasks::exam_id.eq(e.exam_id))
        .filter(tasks::question_id.eq(question))
        .filter(tasks::begun.eq(begun))
        .filter(tasks::shuffle.ge(start))
        .filter(scripts::school_code.ne(e.school_code))
        .filter(not(exists(held)))
        .into_boxed();
    q = match conn {
        // Literals, not `eq_any`: a list is bound value by value, and diesel then prepares the
        // statement afresh on every call.
        DbConn::Sqlite(_) => q
            .filter(tasks::state.eq(lit("open")))
            .filter(scripts::state.eq(lit("awaiting")).or(scripts::state.eq(lit("marking")))),
        // Bound values: with the literals PostgreSQL planned this four times slower (24 against 99
        // cycles/s at 100 markers, `benches/marking_cycle.rs`).
        DbConn::Pg(_) => q
            .filter(tasks::state.eq("open"))
            .filter(scripts::state.eq_any(["awaiting", "marking"])),
    };
    if !e.relative_sheets.is_empty() {
        let relatives = sheets::table
            .filter(sheets::exam_id.eq(e.exam_id))
            .filter(sheets::candidate_lookup.eq_any(e.relative_sheets))
            .select(sheets::id);
        q = q.filter(not(scripts::sheet_id.eq_any(relatives)));
    }
    // Its text varies only with the number of relatives.
    Ok(Kept(
        q.order(tasks::shuffle)
            .limit(CANDIDATES_PER_QUESTION)
            .select(TaskRow::as_select()),
    )
    .load(conn)?)
}

/// Leases an open task; false when another request took it first, or when the marker held its
/// script before (R5; checked here rather than by a read of its own, which would cost a round
/// trip a lease).
pub fn lease_task(
    conn: &mut DbConn,
    exam_id: &str,
    task_id: &str,
    marker_id: &str,
    expires: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = changed(
        conn,
        diesel::sql_query(
            "UPDATE tasks SET state = 'leased', marker_id = $1, lease_expires_at = $2 \
             WHERE exam_id = $3 AND id = $4 AND state = 'open' \
               AND NOT EXISTS (SELECT 1 FROM script_holders h WHERE h.exam_id = tasks.exam_id \
                               AND h.script_id = tasks.script_id AND h.marker_id = $1) \
             RETURNING 1 AS touched",
        )
        .bind::<Text, _>(marker_id)
        .bind::<Timestamp, _>(db_time(expires))
        .bind::<Text, _>(exam_id)
        .bind::<Text, _>(task_id),
    )?;
    Ok(n == 1)
}

pub fn task(conn: &mut DbConn, exam_id: &str, id: &str) -> Result<TaskRow, DbError> {
    Ok(tasks::table
        .find((exam_id, id))
        .select(TaskRow::as_select())
        .first(conn)?)
}

/// Sets a task's state (and clears its lease unless it is done).
pub fn set_task_state(
    conn: &mut DbConn,
    exam_id: &str,
    id: &str,
    state: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    if state == "done" {
        changed(
            conn,
            diesel::sql_query(
                "UPDATE tasks SET state = $1, lease_expires_at = NULL, done_at = $2 \
                 WHERE exam_id = $3 AND id = $4 RETURNING 1 AS touched",
            )
            .bind::<Text, _>(state)
            .bind::<Timestamp, _>(db_time(now))
            .bind::<Text, _>(exam_id)
            .bind::<Text, _>(id),
        )?;
    } else {
        changed(
            conn,
            diesel::sql_query(
                "UPDATE tasks SET state = $1, marker_id = NULL, lease_expires_at = NULL \
                 WHERE exam_id = $2 AND id = $3 RETURNING 1 AS touched",
            )
            .bind::<Text, _>(state)
            .bind::<Text, _>(exam_id)
            .bind::<Text, _>(id),
        )?;
    }
    Ok(())
}

/// A script's tasks, in any state.
pub fn tasks_of_script(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<Vec<TaskRow>, DbError> {
    Ok(tasks::table
        .filter(tasks::exam_id.eq(exam_id))
        .filter(tasks::script_id.eq(script_id))
        .select(TaskRow::as_select())
        .load(conn)?)
}

/// Whether the marker held the script before (R5).
pub fn held_by(conn: &mut DbConn, exam_id: &str, script_id: &str, marker_id: &str) -> Result<bool, DbError> {
    let n: i64 = script_holders::table
        .filter(script_holders::exam_id.eq(exam_id))
        .filter(script_holders::script_id.eq(script_id))
        .filter(script_holders::marker_id.eq(marker_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Records that the marker held the script; false when they held it before (R5).
pub fn hold(
    conn: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    marker_id: &str,
    serve_id: &str,
) -> Result<bool, DbError> {
    let r = diesel::insert_into(script_holders::table)
        .values((
            script_holders::exam_id.eq(exam_id),
            script_holders::script_id.eq(script_id),
            script_holders::marker_id.eq(marker_id),
            script_holders::serve_id.eq(serve_id),
        ))
        .execute(conn);
    match r.map_err(DbError::from) {
        Ok(_) => Ok(true),
        Err(DbError::Duplicate(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn set_script_state(conn: &mut DbConn, exam_id: &str, script_id: &str, state: &str) -> Result<(), DbError> {
    changed(
        conn,
        diesel::sql_query("UPDATE scripts SET state = $1 WHERE exam_id = $2 AND id = $3 RETURNING 1 AS touched")
            .bind::<Text, _>(state)
            .bind::<Text, _>(exam_id)
            .bind::<Text, _>(script_id),
    )?;
    Ok(())
}
