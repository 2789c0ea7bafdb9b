//! The marking room's state in numbers, for `/metrics`: read from the database at each scrape,
//! so that every server of a shared database reports the same room.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::{DbConn, DbError};

/// Tasks of one question of one exam in one state.
#[derive(Debug, Clone, QueryableByName)]
pub struct TaskCount {
    #[diesel(sql_type = Text)]
    pub exam: String,
    #[diesel(sql_type = Text)]
    pub question: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// A count for one exam.
#[derive(Debug, Clone, QueryableByName)]
pub struct ExamCount {
    #[diesel(sql_type = Text)]
    pub exam: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Everything the room's gauges show, from one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Room {
    pub tasks: Vec<TaskCount>,
    pub disputes_open: Vec<ExamCount>,
    pub reviews_open: Vec<ExamCount>,
    pub markers_paused: Vec<ExamCount>,
}

// Labels carry the exam's and question's codes (what staff call them), never an id.
const TASKS: &str = "
SELECT e.code AS exam, q.code AS question, t.state AS state, COUNT(*) AS n
FROM tasks t JOIN exams e ON e.id = t.exam_id
JOIN questions q ON q.exam_id = t.exam_id AND q.id = t.question_id
GROUP BY e.code, q.code, t.state";

/// For every exam (0 where none), its rows of `table` whose `column` is `value`.
fn by_exam(conn: &mut DbConn, table: &str, column: &str, value: &str) -> Result<Vec<ExamCount>, DbError> {
    let sql = format!(
        "SELECT e.code AS exam, COUNT(x.exam_id) AS n FROM exams e \
         LEFT JOIN {table} x ON x.exam_id = e.id AND x.{column} = $1 GROUP BY e.code"
    );
    Ok(diesel::sql_query(sql).bind::<Text, _>(value).load(conn)?)
}

/// Reads the room in the caller's (snapshot) transaction.
pub fn room(conn: &mut DbConn) -> Result<Room, DbError> {
    Ok(Room {
        tasks: diesel::sql_query(TASKS).load(conn)?,
        disputes_open: by_exam(conn, "disputes", "status", "open")?,
        reviews_open: by_exam(conn, "marker_reviews", "status", "open")?,
        markers_paused: by_exam(conn, "marker_exams", "status", "paused")?,
    })
}
