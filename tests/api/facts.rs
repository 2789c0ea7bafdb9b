//! What the database holds after a campaign, read with plain SQL (not through the API under test).

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl, sql_query};
use markroom::db::{DbConn, DbError};

use crate::helpers::TestApp;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = Text)]
    a: String,
    #[diesel(sql_type = Text)]
    b: String,
}

pub fn n(c: &mut DbConn, sql: &str) -> i64 {
    sql_query(sql).get_result::<N>(c).map_err(DbError::from).unwrap().n
}

pub fn exam_id(c: &mut DbConn, code: &str) -> String {
    let rows = sql_query(format!("SELECT id AS a, code AS b FROM exams WHERE code = '{code}'"))
        .load::<Pair>(c)
        .map_err(DbError::from)
        .unwrap();
    rows[0].a.clone()
}

#[derive(QueryableByName)]
struct CodeN {
    #[diesel(sql_type = Text)]
    a: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl TestApp {
    /// Question code → the valid marks of `username` on scripts someone else marked validly
    /// too: what the statistics call co-marked.
    pub fn co_marked(&self, code: &str, username: &str) -> BTreeMap<String, i64> {
        self.db
            .read_now(|c| -> Result<BTreeMap<String, i64>, DbError> {
                let exam = exam_id(c, code);
                let rows = sql_query(format!(
                    "SELECT q.code AS a, COUNT(*) AS n FROM marks m \
                     JOIN markers k ON k.id = m.marker_id JOIN users u ON u.id = k.user_id \
                     JOIN questions q ON q.exam_id = m.exam_id AND q.id = m.question_id \
                     WHERE m.exam_id = '{exam}' AND u.username = '{username}' AND NOT m.void \
                       AND EXISTS (SELECT 1 FROM marks o WHERE o.exam_id = m.exam_id \
                                   AND o.script_id = m.script_id AND o.marker_id <> m.marker_id AND NOT o.void) \
                     GROUP BY q.code"
                ))
                .load::<CodeN>(c)
                .map_err(DbError::from)?;
                Ok(rows.into_iter().map(|r| (r.a, r.n)).collect())
            })
            .unwrap()
    }

    /// Every final score of the exam, in hundredths.
    pub fn final_scores(&self, code: &str) -> Vec<i64> {
        self.db
            .read_now(|c| -> Result<Vec<i64>, DbError> {
                let exam = exam_id(c, code);
                let rows = sql_query(format!("SELECT score AS n FROM finals WHERE exam_id = '{exam}'"))
                    .load::<N>(c)
                    .map_err(DbError::from)?;
                Ok(rows.into_iter().map(|r| r.n).collect())
            })
            .unwrap()
    }

    /// (valid marks, distinct script-and-marker pairs among all marks, essays with exactly three
    /// valid marks).
    pub fn mark_facts(&self, code: &str) -> (usize, usize, usize) {
        self.db
            .read_now(|c| -> Result<(usize, usize, usize), DbError> {
                let exam = exam_id(c, code);
                let valid = n(c, &format!("SELECT COUNT(*) AS n FROM marks WHERE exam_id = '{exam}' AND NOT void"));
                let pairs = n(
                    c,
                    &format!(
                        "SELECT COUNT(*) AS n FROM (SELECT DISTINCT script_id, marker_id FROM marks WHERE exam_id = '{exam}') p"
                    ),
                );
                let essays = n(
                    c,
                    &format!(
                        "SELECT COUNT(*) AS n FROM (SELECT m.script_id FROM marks m JOIN questions q \
                         ON q.exam_id = m.exam_id AND q.id = m.question_id WHERE m.exam_id = '{exam}' \
                         AND q.kind = 'essay' AND NOT m.void GROUP BY m.script_id HAVING COUNT(*) = 3) e"
                    ),
                );
                let u = |v: i64| usize::try_from(v).unwrap_or(0);
                Ok((u(valid), u(pairs), u(essays)))
            })
            .unwrap()
    }

    /// Anonymous code → school code of every script of the exam.
    pub fn codes_by_school(&self, code: &str) -> BTreeMap<String, String> {
        self.db
            .read_now(|c| -> Result<BTreeMap<String, String>, DbError> {
                let exam = exam_id(c, code);
                let rows = sql_query(format!(
                    "SELECT anonymous_code AS a, school_code AS b FROM scripts WHERE exam_id = '{exam}'"
                ))
                .load::<Pair>(c)
                .map_err(DbError::from)?;
                Ok(rows.into_iter().map(|p| (p.a, p.b)).collect())
            })
            .unwrap()
    }

    /// Anonymous codes and task ids of the exam's essays, in the order their sheets were scanned.
    pub fn codes_in_scan_order(&self, code: &str) -> (Vec<String>, Vec<String>) {
        self.db
            .read_now(|c| -> Result<(Vec<String>, Vec<String>), DbError> {
                let exam = exam_id(c, code);
                let rows = sql_query(format!(
                    "SELECT s.anonymous_code AS a, t.id AS b FROM scripts s JOIN questions q ON q.exam_id = s.exam_id \
                     AND q.id = s.question_id JOIN tasks t ON t.exam_id = s.exam_id AND t.script_id = s.id \
                     WHERE s.exam_id = '{exam}' AND q.code = 'W1' ORDER BY s.created_at, s.sheet_id, t.created_at"
                ))
                .load::<Pair>(c)
                .map_err(DbError::from)?;
                Ok(rows.into_iter().map(|p| (p.a, p.b)).unzip())
            })
            .unwrap()
    }

    /// (scripts of the exam whose tasks are all done, those of them still awaiting or in
    /// marking). The second is a resolution missed (two marks of one script landing at once,
    /// each blind to the other's task): it should be 0.
    pub fn finished_scripts(&self, code: &str) -> (i64, i64) {
        self.db
            .read_now(|c| -> Result<(i64, i64), DbError> {
                let exam = exam_id(c, code);
                let count = |c: &mut DbConn, state: &str| {
                    n(
                        c,
                        &format!(
                            "SELECT COUNT(*) AS n FROM scripts s WHERE s.exam_id = '{exam}' {state} \
                               AND EXISTS (SELECT 1 FROM tasks t WHERE t.exam_id = s.exam_id AND t.script_id = s.id) \
                               AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.exam_id = s.exam_id \
                                               AND t.script_id = s.id AND t.state <> 'done')"
                        ),
                    )
                };
                Ok((count(c, ""), count(c, "AND s.state IN ('awaiting', 'marking')")))
            })
            .unwrap()
    }

    /// (seed marks, self-checks) stored for the exam.
    pub fn seed_and_self_check_counts(&self, code: &str) -> (usize, usize) {
        self.db
            .read_now(|c| -> Result<(usize, usize), DbError> {
                let exam = exam_id(c, code);
                let seeds = n(
                    c,
                    &format!("SELECT COUNT(*) AS n FROM seed_marks WHERE exam_id = '{exam}'"),
                );
                let checks = n(
                    c,
                    &format!("SELECT COUNT(*) AS n FROM self_checks WHERE exam_id = '{exam}'"),
                );
                Ok((
                    usize::try_from(seeds).unwrap_or(0),
                    usize::try_from(checks).unwrap_or(0),
                ))
            })
            .unwrap()
    }

    /// (valid, void) marks of one marker in the exam.
    pub fn marks_of_marker(&self, code: &str, marker: &str) -> (usize, usize) {
        self.db
            .read_now(|c| -> Result<(usize, usize), DbError> {
                let exam = exam_id(c, code);
                let count = |c: &mut DbConn, void: &str| {
                    let sql = format!(
                        "SELECT COUNT(*) AS n FROM marks WHERE exam_id = '{exam}' AND marker_id = '{marker}' AND {void} void"
                    );
                    usize::try_from(n(c, &sql)).unwrap_or(0)
                };
                Ok((count(c, "NOT"), count(c, "")))
            })
            .unwrap()
    }

    /// Scripts of the exam by state.
    pub fn script_states(&self, code: &str) -> BTreeMap<String, usize> {
        self.db
            .read_now(|c| -> Result<BTreeMap<String, usize>, DbError> {
                let exam = exam_id(c, code);
                let rows = sql_query(format!(
                    "SELECT state AS a, CAST(COUNT(*) AS TEXT) AS b FROM scripts WHERE exam_id = '{exam}' GROUP BY state"
                ))
                .load::<Pair>(c)
                .map_err(DbError::from)?;
                Ok(rows.into_iter().map(|p| (p.a, p.b.parse().unwrap_or(0))).collect())
            })
            .unwrap()
    }
}

impl TestApp {
    /// (anonymous code, state) of every serve a user's marker record held, in lease order.
    pub fn serves_of_user(&self, username: &str) -> Vec<(String, String)> {
        self.pairs(&format!(
            "SELECT s.anonymous_code AS a, s.state AS b FROM serves s JOIN markers m ON m.id = s.marker_id \
             JOIN users u ON u.id = m.user_id WHERE u.username = '{username}' ORDER BY s.leased_at"
        ))
    }

    /// (anonymous code of the serve, annotations JSON) of every live mark a user made.
    pub fn annotations_of_user(&self, username: &str) -> Vec<(String, String)> {
        self.pairs(&format!(
            "SELECT s.anonymous_code AS a, k.annotations AS b FROM marks k JOIN serves s ON s.exam_id = k.exam_id \
             AND s.id = k.serve_id JOIN markers m ON m.id = k.marker_id JOIN users u ON u.id = m.user_id \
             WHERE u.username = '{username}'"
        ))
    }

    /// Two text columns named `a` and `b`, by plain SQL.
    pub fn pairs(&self, sql: &str) -> Vec<(String, String)> {
        let sql = sql.to_string();
        self.db
            .read_now(move |c| -> Result<Vec<(String, String)>, DbError> {
                let rows = sql_query(sql).load::<Pair>(c).map_err(DbError::from)?;
                Ok(rows.into_iter().map(|p| (p.a, p.b)).collect())
            })
            .unwrap()
    }
}
