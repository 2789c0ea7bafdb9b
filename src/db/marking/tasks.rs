//! Tasks: one required independent marking of a script, and who held which script.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::kept::{Kept, changed};
use crate::db::schema::{script_holders, tasks};
use crate::db::{DbConn, DbError, db_time};
use diesel::sql_types::{BigInt, Bool, Integer, Text, Timestamp};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
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

/// Eligible open tasks from `from` on in shuffle order, wrapping around when too few lie after
/// it: a random window of the queue without sorting it. Tasks of scripts already in marking
/// come first (`begun`), so that a script's independent marks come close together and every
/// marker soon shares scripts with others, which is what the statistics judge them by; fresh
/// ones follow, so that when many leases at once want the same few begun tasks, those who miss
/// take a fresh one instead of reading again. Each question is asked on its own so that every
/// walk follows the queue index in shuffle order and stops after a few rows (one query over
/// several questions sorts every open task of them first). A read: the caller takes the first
/// it can with `lease_task`, which fails for a task someone took meanwhile.
pub fn eligible_tasks(conn: &mut DbConn, e: &Eligible<'_>, from: i64) -> Result<Vec<TaskRow>, DbError> {
    let mut all = Vec::new();
    for question in e.question_ids {
        all.extend(candidates_of(conn, e, question, from)?);
    }
    Ok(in_walk_order(all, from))
}

/// Begun before fresh, and in each part the nearest after the random start first, the wrapped
/// ones last: sorted by shuffle alone, every lease would try the queue's lowest task first
/// whenever few lie after its start, and concurrent leases would collide on it.
fn in_walk_order(mut all: Vec<Candidate>, from: i64) -> Vec<TaskRow> {
    all.sort_by_key(|c| (c.part, c.task.shuffle.wrapping_sub(from).cast_unsigned()));
    all.into_iter().map(|c| c.task).collect()
}

/// How many tasks of each question and part (begun, fresh) a lease reads ahead of taking one. A
/// task is passed over only when another lease took it between the read and the write, which
/// with a queue of tens of thousands is rare; the fewer rows each walk must find, the cheaper
/// every lease.
const CANDIDATES_PER_QUESTION: i64 = 4;

/// A task the walk found, and the part of the queue it came from: 0 begun, 1 fresh.
#[derive(QueryableByName)]
struct Candidate {
    #[diesel(embed)]
    task: TaskRow,
    #[diesel(sql_type = Integer)]
    part: i32,
}

/// The queue walk of one question, as one statement: for each part (begun, then fresh), up to
/// `CANDIDATES_PER_QUESTION` eligible open tasks from `$3` on, topped up from the start of the
/// queue. A `LIMIT` over `UNION ALL` stops at its count, so the wrapped walk runs only when the
/// first came short: one round trip where the walks one by one took three on average. That the
/// walk after the start is read before the wrapped one is how both engines run `UNION ALL`
/// (PostgreSQL's Append, SQLite's co-routine), not a promise of SQL; were it otherwise, every
/// row returned would still be eligible, only less randomly placed. Its text varies only
/// with the number of relatives; `$n` first appear in order, which SQLite's numbering of named
/// parameters needs ($1 exam, $2 question, $3 start, $4 school, $5 marker, then the relatives'
/// sheet lookups).
fn walk_sql(relatives: usize) -> String {
    let not_relative = if relatives == 0 {
        String::new()
    } else {
        let list: Vec<String> = (0..relatives).map(|i| format!("${}", i + 6)).collect();
        format!(
            " AND s.sheet_id NOT IN (SELECT r.id FROM sheets r WHERE r.exam_id = $1 AND r.candidate_lookup IN ({}))",
            list.join(", ")
        )
    };
    let n = CANDIDATES_PER_QUESTION;
    let leaf = |part: u8, begun: &str, window: &str| {
        format!(
            "SELECT * FROM (SELECT t.exam_id, t.id, t.script_id, t.question_id, t.state, t.shuffle, t.marker_id, \
               t.lease_expires_at, t.created_at, t.done_at, {part} AS part \
             FROM tasks t JOIN scripts s ON s.exam_id = t.exam_id AND s.id = t.script_id \
             WHERE t.exam_id = $1 AND t.question_id = $2 AND t.state = 'open' AND t.begun = {begun} \
               AND t.shuffle {window} $3 AND s.school_code <> $4 AND s.state IN ('awaiting', 'marking') \
               AND NOT EXISTS (SELECT 1 FROM script_holders h WHERE h.exam_id = t.exam_id \
                               AND h.script_id = t.script_id AND h.marker_id = $5){not_relative} \
             ORDER BY t.shuffle LIMIT {n}) AS w"
        )
    };
    let part = |p: u8, begun: &str| {
        format!(
            "SELECT * FROM ({} UNION ALL {}) AS p LIMIT {n}",
            leaf(p, begun, ">="),
            leaf(p, begun, "<")
        )
    };
    format!(
        "SELECT * FROM ({}) AS b UNION ALL SELECT * FROM ({}) AS f",
        part(0, "TRUE"),
        part(1, "FALSE")
    )
}

/// The eligible open tasks of one question (`walk_sql`).
fn candidates_of(conn: &mut DbConn, e: &Eligible<'_>, question: &str, from: i64) -> Result<Vec<Candidate>, DbError> {
    let mut q = diesel::sql_query(walk_sql(e.relative_sheets.len()))
        .into_boxed()
        .bind::<Text, _>(e.exam_id)
        .bind::<Text, _>(question)
        .bind::<BigInt, _>(from)
        .bind::<Text, _>(e.school_code)
        .bind::<Text, _>(e.marker_id);
    for lookup in e.relative_sheets {
        q = q.bind::<Text, _>(lookup);
    }
    Ok(Kept(q).load(conn)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(part: i32, shuffle: i64) -> Candidate {
        let at = chrono::DateTime::from_timestamp(0, 0).expect("epoch").naive_utc();
        Candidate {
            task: TaskRow {
                exam_id: "e".into(),
                id: format!("{part}/{shuffle}"),
                script_id: "s".into(),
                question_id: "q".into(),
                state: "open".into(),
                shuffle,
                marker_id: None,
                lease_expires_at: None,
                created_at: at,
                done_at: None,
            },
            part,
        }
    }

    /// The migrated SQLite schema with foreign keys off, so that only the rows a walk reads
    /// need writing: sheets (with their candidate lookups), scripts and their open tasks, and
    /// who held what.
    fn queue() -> DbConn {
        use diesel::connection::SimpleConnection;
        use diesel_migrations::MigrationHarness;
        let mut c = diesel::sqlite::SqliteConnection::establish(":memory:").expect("sqlite");
        c.run_pending_migrations(crate::db::SQLITE_MIGRATIONS)
            .expect("migrations");
        c.batch_execute("PRAGMA foreign_keys = OFF").expect("pragma");
        // Script s<k> on sheet h<k> (lookup L<k>), school and state as listed, one open task t<k>
        // at shuffle k * 100, begun for s1 only.
        let scripts = [
            ("A", "awaiting"),
            ("B", "marking"),
            ("B", "awaiting"),
            ("B", "awaiting"),
            ("B", "withdrawn"),
            ("B", "awaiting"),
        ];
        let mut sql = String::new();
        for (k, (school, state)) in scripts.iter().enumerate() {
            sql.push_str(&format!(
                "INSERT INTO sheets (exam_id, id, batch_id, candidate_lookup, candidate_sealed, status, entry, entered_by, pages, created_at) \
                 VALUES ('e', 'h{k}', 'b', 'L{k}', 'x', 'active', 'typed', 'u', 1, '2026-07-01 08:00:00');
                 INSERT INTO scripts (exam_id, id, question_id, sheet_id, anonymous_code, school_code, state, page, image_key, created_at) \
                 VALUES ('e', 's{k}', 'q', 'h{k}', 'c{k}', '{school}', '{state}', 1, 'none', '2026-07-01 08:00:00');
                 INSERT INTO tasks (exam_id, id, script_id, question_id, state, shuffle, created_at, begun) \
                 VALUES ('e', 't{k}', 's{k}', 'q', 'open', {shuffle}, '2026-07-01 08:00:00', {begun});",
                shuffle = k * 100,
                begun = i32::from(k == 1),
            ));
        }
        // The marker held s3 before; s5's task is leased, not open.
        sql.push_str(
            "INSERT INTO script_holders (exam_id, script_id, marker_id, serve_id) VALUES ('e', 's3', 'm', 'v');
             UPDATE tasks SET state = 'leased' WHERE id = 't5';",
        );
        c.batch_execute(&sql).expect("rows");
        DbConn::Sqlite(c)
    }

    fn walk(c: &mut DbConn, relatives: &[String], from: i64) -> Vec<String> {
        let questions = ["q".to_string()];
        let e = Eligible {
            exam_id: "e",
            question_ids: &questions,
            marker_id: "m",
            school_code: "A",
            relative_sheets: relatives,
        };
        eligible_tasks(c, &e, from)
            .expect("walk")
            .into_iter()
            .map(|t| t.id)
            .collect()
    }

    #[test]
    fn the_walk_leaves_out_the_own_school_a_held_script_a_relatives_sheet_and_what_is_not_open() {
        let mut c = queue();
        // t0 own school, t3 held before (R5), t4 withdrawn, t5 leased; t1 begun comes first.
        assert_eq!(walk(&mut c, &[], 0), ["t1", "t2"]);
        // From past the end of the queue, the walk wraps around to its start.
        assert_eq!(walk(&mut c, &[], 10_000), ["t1", "t2"]);
        // From between them: the begun t1 comes by wrapping around, t2 from the start on.
        assert_eq!(walk(&mut c, &[], 150), ["t1", "t2"]);
        // A relative sits on sheet h2 (a lookup of no sheet beside it binds too).
        let relatives = ["L2".to_string(), "L-none".to_string()];
        assert_eq!(walk(&mut c, &relatives, 0), ["t1"]);
        assert_eq!(walk(&mut c, &relatives[..1], 0), ["t1"]);
    }

    #[test]
    fn the_walk_offers_begun_first_then_from_the_random_start_on_then_the_wrapped() {
        let all = vec![
            candidate(1, 150),
            candidate(0, -100),
            candidate(0, 200),
            candidate(1, i64::MIN),
            candidate(0, 50),
            candidate(1, i64::MAX),
        ];
        let order: Vec<String> = in_walk_order(all, 100).into_iter().map(|t| t.id).collect();
        let min = format!("1/{}", i64::MIN);
        let max = format!("1/{}", i64::MAX);
        assert_eq!(order, ["0/200", "0/-100", "0/50", "1/150", max.as_str(), min.as_str()]);
    }
}
