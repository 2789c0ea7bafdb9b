use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use markroom::db::{Backend, DbConn, DbError};

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
    diesel::sql_query(sql)
        .get_result::<Number>(c)
        .map_err(DbError::from)
        .unwrap()
        .n
}

#[tokio::test]
async fn sqlite_runs_durable_with_wal_and_foreign_keys() {
    let app = TestApp::spawn().await;
    if app.db.backend() != Backend::Sqlite {
        return;
    }
    app.db
        .write_now(|c| -> Result<(), DbError> {
            assert_eq!(number(c, "SELECT synchronous AS n FROM pragma_synchronous"), 2, "FULL");
            assert_eq!(number(c, "SELECT foreign_keys AS n FROM pragma_foreign_keys"), 1);
            assert!(number(c, "SELECT timeout AS n FROM pragma_busy_timeout") >= 1000);
            let mode = diesel::sql_query("SELECT journal_mode AS w FROM pragma_journal_mode").get_result::<Word>(c)?;
            assert_eq!(mode.w, "wal");
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn exam_scoped_rows_cannot_point_at_a_missing_exam() {
    let app = TestApp::spawn().await;
    let sql = "INSERT INTO sheet_templates (exam_id, body, updated_at, updated_by) \
               VALUES ('no-such-exam', '{}', CURRENT_TIMESTAMP, 'x')";
    let refused = app
        .db
        .write_now(|c| diesel::sql_query(sql).execute(c).map_err(DbError::from));
    assert!(refused.is_err(), "the foreign key on exam_id holds on both backends");
}
