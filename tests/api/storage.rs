use diesel::RunQueryDsl;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, sql_query};
use markroom::db::{Backend, DbConn, DbError};
use markroom::domain::role::Role;

use crate::helpers::TestApp;

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Word {
    #[diesel(sql_type = Text)]
    w: String,
}

fn number(c: &mut DbConn, sql: &str) -> i64 {
    sql_query(sql).get_result::<Number>(c).map_err(DbError::from).unwrap().n
}

fn words(c: &mut DbConn, sql: &str) -> Vec<String> {
    let rows = sql_query(sql).load::<Word>(c).map_err(DbError::from).unwrap();
    rows.into_iter().map(|r| r.w).collect()
}

fn word(c: &mut DbConn, sql: &str) -> String {
    words(c, sql).pop().unwrap_or_else(|| panic!("no row from {sql}"))
}

/// How many rows a table holds now, for tests that check a refusal stored nothing.
pub fn count_rows(app: &TestApp, table: &str) -> i64 {
    app.db
        .read_now(|c| -> Result<i64, DbError> { Ok(number(c, &format!("SELECT COUNT(*) AS n FROM {table}"))) })
        .unwrap()
}

fn sqlite_is_durable(c: &mut DbConn) {
    assert_eq!(number(c, "SELECT synchronous AS n FROM pragma_synchronous"), 2, "FULL");
    assert_eq!(number(c, "SELECT foreign_keys AS n FROM pragma_foreign_keys"), 1);
    assert!(number(c, "SELECT timeout AS n FROM pragma_busy_timeout") >= 1000);
    assert_eq!(word(c, "SELECT journal_mode AS w FROM pragma_journal_mode"), "wal");
    // Built with the planner stability guarantee (.cargo/config.toml): statements are not
    // prepared again for every value bound to them.
    assert_eq!(
        number(
            c,
            "SELECT count(*) AS n FROM pragma_compile_options WHERE compile_options = 'ENABLE_QPSG'"
        ),
        1,
        "SQLite built with SQLITE_ENABLE_QPSG"
    );
}

/// What markroom assumes of the server rather than sets itself: an acknowledged commit is on
/// disk, transactions see committed data only, and the SQL it writes (PostgreSQL 15) runs.
fn postgres_is_durable(c: &mut DbConn) {
    let setting = |c: &mut DbConn, name: &str| word(c, &format!("SELECT current_setting('{name}') AS w"));
    assert_eq!(setting(c, "synchronous_commit"), "on");
    assert_eq!(setting(c, "fsync"), "on");
    assert_eq!(setting(c, "full_page_writes"), "on");
    assert_eq!(setting(c, "default_transaction_isolation"), "read committed");
    assert_eq!(
        setting(c, "transaction_isolation"),
        "read committed",
        "our own transactions"
    );
    assert_eq!(
        setting(c, "server_encoding"),
        "UTF8",
        "names and comments in any script"
    );
    let version = number(c, "SELECT current_setting('server_version_num')::bigint AS n");
    assert!(version >= 150_000, "PostgreSQL 15 or later, not {version}");
}

#[tokio::test]
async fn the_database_runs_durable_with_the_settings_markroom_relies_on() {
    let app = TestApp::spawn().await;
    let backend = app.db.backend();
    app.db
        .write_now(|c| -> Result<(), DbError> {
            match backend {
                Backend::Sqlite => sqlite_is_durable(c),
                Backend::Postgres => postgres_is_durable(c),
            }
            Ok(())
        })
        .unwrap();
}

/// The audit log names exams by id but must outlive any of them, so it holds no foreign key.
const NOT_EXAM_SCOPED: &[&str] = &["audit_log", "audit_log_general"];

/// One complete row for each table that belongs to an exam, with `{exam}` for its exam id; every
/// other column is valid and every other foreign key is met (the question of `leader_scopes`
/// is the one the `questions` row makes in the real exam).
fn exam_scoped_rows(user: &str, client: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "questions",
            "INSERT INTO questions (exam_id, id, code, position, kind, max_score, step, tolerance, final_step, \
             marks_required, criteria, created_at) \
             VALUES ('{exam}', 'q-1', 'W1', 1, 'essay', 6000, 100, 600, 50, 3, '[]', CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "sheet_templates",
            format!(
                "INSERT INTO sheet_templates (exam_id, body, updated_at, updated_by) \
                 VALUES ('{{exam}}', '{{}}', CURRENT_TIMESTAMP, '{user}')"
            ),
        ),
        (
            "leader_scopes",
            format!("INSERT INTO leader_scopes (exam_id, user_id, question_id) VALUES ('{{exam}}', '{user}', 'q-1')"),
        ),
        (
            "service_client_exams",
            format!("INSERT INTO service_client_exams (exam_id, client_id) VALUES ('{{exam}}', '{client}')"),
        ),
        (
            "approvals",
            format!(
                "INSERT INTO approvals (id, exam_id, kind, payload, status, requested_by, requested_at, expires_at) \
                 VALUES ('approval-{{exam}}', '{{exam}}', 'release_results', '{{}}', 'pending', '{user}', \
                 CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "candidates",
            "INSERT INTO candidates (exam_id, id, lookup, admission_sealed, name_sealed, school_code, created_at, \
             updated_at) VALUES ('{exam}', 'cand-1', 'l1', 'a', 'n', 'S01', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "absences",
            format!(
                "INSERT INTO absences (exam_id, candidate_id, question_id, recorded_by, recorded_at) \
                 VALUES ('{{exam}}', 'cand-1', '', '{user}', CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "duty_shifts",
            format!(
                "INSERT INTO duty_shifts (exam_id, id, user_id, checked_in_at) \
                 VALUES ('{{exam}}', 'shift-1', '{user}', CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "batches",
            "INSERT INTO batches (exam_id, id, status, label, approval_id, opened_at) \
             VALUES ('{exam}', 'batch-1', 'open', 'box 1', 'approval-{real}', CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "handovers",
            format!(
                "INSERT INTO handovers (exam_id, id, batch_id, from_a, from_b, to_a, to_b, note, created_by, \
                 created_at) VALUES ('{{exam}}', 'ho-1', 'batch-1', '{user}', '{user}', '{user}', '{user}', '', \
                 '{user}', CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "handover_confirmations",
            format!(
                "INSERT INTO handover_confirmations (exam_id, handover_id, user_id, confirmed_at) \
                 VALUES ('{{exam}}', 'ho-1', '{user}', CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "sheets",
            format!(
                "INSERT INTO sheets (exam_id, id, batch_id, candidate_lookup, candidate_sealed, status, entry, \
                 entered_by, pages, created_at) VALUES ('{{exam}}', 'sheet-1', 'batch-1', 'cl', 'cs', 'active', \
                 'barcode', '{user}', 2, CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "sheet_pages",
            "INSERT INTO sheet_pages (exam_id, sheet_id, page, original_key, turned, needs_treatment, extra_masks) \
             VALUES ('{exam}', 'sheet-1', 0, 'k', FALSE, FALSE, '[]')"
                .to_string(),
        ),
        (
            "scripts",
            "INSERT INTO scripts (exam_id, id, question_id, sheet_id, anonymous_code, school_code, state, page, \
             image_key, created_at) VALUES ('{exam}', 'script-1', 'q-1', 'sheet-1', 'ACDE-FGHJ', 'S01', 'held', 0, \
             'img', CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "relatives",
            format!(
                "INSERT INTO relatives (exam_id, user_id, lookup, declared_at) \
                 VALUES ('{{exam}}', '{user}', 'l1', CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "marker_exams",
            "INSERT INTO marker_exams (exam_id, marker_id, status, reasons, updated_at) \
             VALUES ('{exam}', 'marker-1', 'eligible', '[]', CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "marker_status_history",
            "INSERT INTO marker_status_history (exam_id, id, marker_id, n, to_status, reason, changed_at) \
             VALUES ('{exam}', 'h-1', 'marker-1', 1, 'eligible', 'test', CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "marker_reviews",
            "INSERT INTO marker_reviews (exam_id, id, marker_id, kind, evidence, status, opened_at) \
             VALUES ('{exam}', 'r-1', 'marker-1', 'ineligible', '[]', 'open', CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "trainings",
            format!(
                "INSERT INTO trainings (exam_id, marker_id, question_id, course, trained_on, trainer, recorded_by, \
                 recorded_at) VALUES ('{{exam}}', 'marker-1', 'q-1', 'c', '2026-01-01', 't', '{user}', CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "marker_questions",
            "INSERT INTO marker_questions (exam_id, marker_id, question_id) VALUES ('{exam}', 'marker-1', 'q-1')"
                .to_string(),
        ),
        (
            "image_tokens",
            format!(
                "INSERT INTO image_tokens (exam_id, token_hash, script_id, image_key, holder, expires_at, revoked) \
                 VALUES ('{{exam}}', 'tok-1', 'script-1', 'img', '{user}', CURRENT_TIMESTAMP, FALSE)"
            ),
        ),
        (
            "prescored_scripts",
            format!(
                "INSERT INTO prescored_scripts (exam_id, id, question_id, role, definitive, image_key, uploaded_by, \
                 created_at) VALUES ('{{exam}}', 'pre-1', 'q-1', 'calibration', 3000, 'img', '{user}', CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "qualification_attempts",
            "INSERT INTO qualification_attempts (exam_id, id, marker_id, question_id, n, started_at, total) \
             VALUES ('{exam}', 'att-1', 'marker-1', 'q-1', 1, CURRENT_TIMESTAMP, 1)"
                .to_string(),
        ),
        (
            "qualification_tasks",
            "INSERT INTO qualification_tasks (exam_id, id, attempt_id, prescored_id, position) \
             VALUES ('{exam}', 'qt-1', 'att-1', 'pre-1', 1)"
                .to_string(),
        ),
        (
            "tasks",
            "INSERT INTO tasks (exam_id, id, script_id, question_id, state, shuffle, created_at) \
             VALUES ('{exam}', 'task-1', 'script-1', 'q-1', 'open', 7, CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "serves",
            "INSERT INTO serves (exam_id, id, marker_id, kind, question_id, task_id, script_id, anonymous_code, \
             state, day, leased_at, lease_expires_at) VALUES ('{exam}', 'serve-1', 'marker-1', 'live', 'q-1', \
             'task-1', 'script-1', 'ABCD-EFGH', 'scored', '2026-12-01', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "script_holders",
            "INSERT INTO script_holders (exam_id, script_id, marker_id, serve_id) \
             VALUES ('{exam}', 'script-1', 'marker-1', 'serve-1')"
                .to_string(),
        ),
        (
            "marks",
            "INSERT INTO marks (exam_id, id, task_id, serve_id, script_id, question_id, marker_id, score, criteria, \
             annotations, void, created_at) VALUES ('{exam}', 'mark-1', 'task-1', 'serve-1', 'script-1', 'q-1', \
             'marker-1', 3000, 'null', '[]', FALSE, CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "seed_marks",
            "INSERT INTO seed_marks (exam_id, serve_id, marker_id, prescored_id, score, deviation, created_at) \
             VALUES ('{exam}', 'serve-1', 'marker-1', 'pre-1', 3000, 0, CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "self_checks",
            "INSERT INTO self_checks (exam_id, serve_id, marker_id, script_id, score, earlier_score, created_at) \
             VALUES ('{exam}', 'serve-1', 'marker-1', 'script-1', 3000, 3000, CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "idempotency_keys",
            format!(
                "INSERT INTO idempotency_keys (exam_id, user_id, key, request_hash, status, response, created_at) \
                 VALUES ('{{exam}}', '{user}', 'k1', 'h', 200, '{{}}', CURRENT_TIMESTAMP)"
            ),
        ),
        (
            "finals",
            "INSERT INTO finals (exam_id, script_id, question_id, score, method, decided_at) \
             VALUES ('{exam}', 'script-1', 'q-1', 3000, 'mean', CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "disputes",
            "INSERT INTO disputes (exam_id, id, script_id, question_id, cause, spread, status, opened_at) \
             VALUES ('{exam}', 'disp-1', 'script-1', 'q-1', 'marks', 900, 'open', CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "backreads",
            "INSERT INTO backreads (exam_id, id, script_id, question_id, status, created_at) \
             VALUES ('{exam}', 'br-1', 'script-1', 'q-1', 'open', CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "problems",
            "INSERT INTO problems (exam_id, id, script_id, question_id, serve_id, kind, note, flagged_by, status, \
             created_at) VALUES ('{exam}', 'prob-1', 'script-1', 'q-1', 'serve-1', 'blank', '', 'marker-1', 'open', \
             CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            "discipline_entries",
            format!(
                "INSERT INTO discipline_entries (exam_id, id, marker_id, kind, reason, approval_id, requested_by, \
                 decided_by, recorded_at) VALUES ('{{exam}}', 'd-1', 'marker-1', 'suspended', 'r', 'approval-{{real}}', \
                 '{user}', '{user}', CURRENT_TIMESTAMP)"
            ),
        ),
        (
            // Last: the exam is locked and released for it (see `release_for_amendments`).
            "amendments",
            "INSERT INTO amendments (exam_id, id, script_id, question_id, old_score, score, reason, approval_id, \
             amended_at) VALUES ('{exam}', 'am-1', 'script-1', 'q-1', 3000, 3200, 'appeal', 'amend-1', \
             CURRENT_TIMESTAMP)"
                .to_string(),
        ),
        (
            // The lock and release used theirs (a trigger records it); this one is used by hand.
            "used_approvals",
            "INSERT INTO used_approvals (exam_id, approval_id) VALUES ('{exam}', 'amend-1')".to_string(),
        ),
    ]
}

fn tables_with_an_exam_id(c: &mut DbConn, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT m.name AS w FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'exam_id'"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS w FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'exam_id'"
        }
    };
    let mut tables = words(c, sql);
    tables.sort_unstable();
    tables
}

/// The refusal is the exam's foreign key, not any other constraint of the row.
fn assert_exam_foreign_key(table: &str, backend: Backend, result: Result<usize, DieselError>) {
    match result {
        Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info)) => match backend {
            Backend::Sqlite => assert_eq!(info.message(), "FOREIGN KEY constraint failed", "{table}"),
            Backend::Postgres => {
                assert!(info.message().contains("violates foreign key constraint"), "{table}");
                let constraint = info.constraint_name().unwrap_or_default();
                assert!(constraint.contains("exam_id"), "{table} refused by {constraint}");
            }
        },
        other => panic!("{table}: expected the exam's foreign key to refuse the row, got {other:?}"),
    }
}

/// An amendment exists only after release, on an approved request: the exam is locked and
/// released as the database allows (approved requests of a second chief), and one approved
/// `amend` request is made.
fn release_for_amendments(c: &mut DbConn, exam: &str, user: &str) -> Result<(), DbError> {
    sql_query(format!(
        "INSERT INTO users (id, username, password_hash, role, chief, active, token_version, created_at, full_name, \
         id_document_hash, must_change_password) SELECT 'chief-2', 'chief2', password_hash, role, chief, active, 0, \
         created_at, 'Second Chief', 'doc-2', FALSE FROM users WHERE id = '{user}'"
    ))
    .execute(c)?;
    for (id, kind) in [("lock-1", "lock"), ("release-1", "release"), ("amend-1", "amend")] {
        sql_query(format!(
            "INSERT INTO approvals (id, exam_id, kind, payload, status, requested_by, requested_at, expires_at) \
             VALUES ('{id}', '{exam}', '{kind}', '{{}}', 'pending', '{user}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ))
        .execute(c)?;
        sql_query(format!(
            "UPDATE approvals SET status = 'approved', decided_by = 'chief-2', decided_at = CURRENT_TIMESTAMP \
             WHERE id = '{id}'"
        ))
        .execute(c)?;
    }
    sql_query(format!(
        "UPDATE exams SET locked = TRUE, lock_approval_id = 'lock-1' WHERE id = '{exam}'"
    ))
    .execute(c)?;
    sql_query(format!(
        "UPDATE exams SET released = TRUE, release_approval_id = 'release-1' WHERE id = '{exam}'"
    ))
    .execute(c)?;
    Ok(())
}

#[tokio::test]
async fn exam_scoped_rows_cannot_point_at_a_missing_exam() {
    let app = TestApp::spawn().await;
    let backend = app.db.backend();
    let user = app.bootstrap("chief1", Role::Leader);
    let chief = app.login("chief1", None).await;
    app.exam(&chief, "GK").await;
    app.db
        .write_now(|c| -> Result<(), DbError> {
            let exam = word(c, "SELECT id AS w FROM exams WHERE code = 'GK'");
            sql_query(
                "INSERT INTO service_clients (id, name, secret_hash, active, created_at) \
                 VALUES ('client-1', 'Admissions', 'x', TRUE, CURRENT_TIMESTAMP)",
            )
            .execute(c)?;
            sql_query(format!(
                "INSERT INTO markers (id, user_id, birth_date, school_code, subject, years_teaching, \
                 health_attested, conduct_attested, created_at, created_by) VALUES ('marker-1', '{user}', \
                 '1985-01-01', 'S01', 'Chinese', 10, TRUE, TRUE, CURRENT_TIMESTAMP, '{user}')"
            ))
            .execute(c)?;
            let rows = exam_scoped_rows(&user, "client-1");
            let mut covered: Vec<&str> = rows
                .iter()
                .map(|(t, _)| *t)
                .chain(NOT_EXAM_SCOPED.iter().copied())
                .collect();
            covered.sort_unstable();
            assert_eq!(
                tables_with_an_exam_id(c, backend),
                covered,
                "every exam-scoped table is tried"
            );
            for (table, sql) in rows {
                if table == "amendments" {
                    release_for_amendments(c, &exam, &user)?;
                }
                // In a savepoint, so that PostgreSQL carries on after the refusal.
                let sql = sql.replace("{real}", &exam);
                let refused = c.transaction(|c| sql_query(sql.replace("{exam}", "no-such-exam")).execute(c));
                assert_exam_foreign_key(table, backend, refused);
                let stored = sql_query(sql.replace("{exam}", &exam)).execute(c);
                assert_eq!(
                    stored.map_err(|e| e.to_string()),
                    Ok(1),
                    "{table}: the same row in a real exam"
                );
            }
            Ok(())
        })
        .unwrap();
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_markroom_makes_is_its_own() {
    let app = TestApp::spawn_with(|s| s.data_dir = s.data_dir.join("made-by-markroom")).await;
    let dir = app.settings.data_dir.clone();
    assert_eq!(mode(&dir), 0o700, "the data directory");
    assert_eq!(mode(&dir.join("token.key")), 0o600, "the token key");
    if app.db.backend() == Backend::Sqlite {
        assert_eq!(mode(&app.settings.sqlite_path()), 0o600, "the database file");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("markroom.db") {
                assert_eq!(mode(&path) & 0o077, 0, "{name} is the service's alone");
            }
        }
    }
}

/// Writes that arrive together (on SQLite, one batch of the writing thread, one commit): each
/// refused one leaves nothing, each accepted one is kept, and each caller hears its own answer.
#[tokio::test]
async fn concurrent_writes_keep_the_accepted_and_leave_nothing_of_the_refused() {
    let app = TestApp::spawn().await;
    // The service's PostgreSQL role may not create tables, and there each write is its own
    // transaction on its own connection; the batching is SQLite's.
    if app.db.backend() == Backend::Postgres {
        return;
    }
    app.db
        .write(|c| -> Result<(), DbError> {
            sql_query("CREATE TABLE batch_probe (n BIGINT NOT NULL)").execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let writes = (0..64i64).map(|n| {
        let db = app.db.clone();
        async move {
            db.write(move |c| -> Result<i64, DbError> {
                sql_query(format!("INSERT INTO batch_probe (n) VALUES ({n})")).execute(c)?;
                if n % 2 == 1 {
                    return Err(DbError::Stale(format!("refused {n}")));
                }
                Ok(n)
            })
            .await
        }
    });
    let answers = futures_util::future::join_all(writes).await;
    for (n, answer) in answers.iter().enumerate() {
        match answer {
            Ok(got) => assert_eq!((*got, n % 2), (n as i64, 0), "an accepted write hears its own answer"),
            Err(DbError::Stale(why)) => assert_eq!(why, &format!("refused {n}")),
            Err(other) => panic!("write {n}: {other}"),
        }
    }
    let (kept, odd) = app
        .db
        .write_now(|c| -> Result<(i64, i64), DbError> {
            Ok((
                number(c, "SELECT COUNT(*) AS n FROM batch_probe"),
                number(c, "SELECT COUNT(*) AS n FROM batch_probe WHERE n % 2 = 1"),
            ))
        })
        .unwrap();
    assert_eq!(
        (kept, odd),
        (32, 0),
        "every accepted write kept, nothing of a refused one"
    );
}

#[tokio::test]
async fn an_approval_of_one_exam_cannot_stand_behind_another_exams_batch() {
    let app = TestApp::spawn().await;
    let user = app.bootstrap("chief1", Role::Leader);
    let chief = app.login("chief1", None).await;
    app.exam(&chief, "GK").await;
    app.exam(&chief, "GX").await;
    app.db
        .write_now(|c| -> Result<(), DbError> {
            let gk = word(c, "SELECT id AS w FROM exams WHERE code = 'GK'");
            let gx = word(c, "SELECT id AS w FROM exams WHERE code = 'GX'");
            sql_query(format!(
                "INSERT INTO approvals (id, exam_id, kind, payload, status, requested_by, requested_at, expires_at) \
                 VALUES ('open-1', '{gk}', 'open_batch', '{{}}', 'pending', '{user}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ))
            .execute(c)?;
            let batch = |exam: &str| {
                format!(
                    "INSERT INTO batches (exam_id, id, status, label, approval_id, opened_at) \
                     VALUES ('{exam}', 'batch-1', 'open', 'box 1', 'open-1', CURRENT_TIMESTAMP)"
                )
            };
            // PostgreSQL's key on (exam_id, approval_id), SQLite's trigger: the same refusal.
            let refused = c.transaction(|c| sql_query(batch(&gx)).execute(c));
            assert!(refused.is_err(), "GX's batch stood on GK's approval");
            assert_eq!(sql_query(batch(&gk)).execute(c)?, 1, "GK's own batch stands");
            Ok(())
        })
        .unwrap();
}
