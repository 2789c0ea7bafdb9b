//! The server keeps PostgreSQL's planner statistics itself (`db::planner_stats`): a table with
//! more rows changed since its last analysis than 50 plus the rows it had then is analysed; one
//! that changed less is left alone. Autovacuum is turned off for the table the tests fill, so
//! that every analysis they see is the server's (or the test's own call). On SQLite they return
//! at once: SQLite plans without statistics.

use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Double, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use markroom::db::Backend;
use markroom::db::planner_stats::analyze_stale;
use serde_json::json;

use crate::floor::{Candidate, candidates, exam_setup, import_candidates};
use crate::helpers::{Session, TestApp};

#[derive(QueryableByName, Debug, Clone, Copy, PartialEq)]
struct TableStats {
    #[diesel(sql_type = BigInt)]
    changed: i64,
    #[diesel(sql_type = BigInt)]
    analyses: i64,
    #[diesel(sql_type = Double)]
    rows: f64,
}

/// What PostgreSQL's statistics say of `table` now: rows changed since its last analysis, how
/// often it was analysed by hand (not by autovacuum), and the rows its planner counts on.
fn stats_of(conn: &mut PgConnection, table: &str) -> TableStats {
    diesel::sql_query(
        "SELECT s.n_mod_since_analyze AS changed, s.analyze_count AS analyses, c.reltuples::float8 AS rows \
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = $1",
    )
    .bind::<Text, _>(table)
    .get_result(conn)
    .expect("the table's statistics")
}

/// Waits (up to 40 s) until `table`'s statistics satisfy `done`: a connection publishes its
/// changes to them within seconds, not at its commit. The wait yields, so that the server's
/// keeper, on the test's own runtime, runs meanwhile.
async fn wait_for(conn: &mut PgConnection, table: &str, done: impl Fn(TableStats) -> bool) -> TableStats {
    let start = Instant::now();
    loop {
        let now = stats_of(conn, table);
        if done(now) {
            return now;
        }
        assert!(start.elapsed() < Duration::from_secs(40), "{table}: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Imports `list`, waits until the table counts `changed` rows since its last analysis, and
/// runs one pass as `conn`'s role: the tables it analysed.
async fn import_then_pass(
    app: &TestApp,
    chief: &Session,
    conn: &mut PgConnection,
    list: &[Candidate],
    changed: i64,
) -> Vec<String> {
    import_candidates(app, chief, list).await;
    wait_for(conn, "candidates", |s| s.changed >= changed).await;
    analyze_stale(conn).expect("a pass")
}

/// Exam GK made by a chief leader, with no candidates yet, and the candidates' table out of
/// autovacuum's reach; with the owner's connection, who alone may analyse.
async fn exam(app: &TestApp) -> (Session, PgConnection) {
    let (_, chief, _) = app.staff().await;
    exam_setup(app, &chief, json!({})).await;
    app.as_owner("ALTER TABLE candidates SET (autovacuum_enabled = off)");
    let url = app.settings.database.owner_url.as_deref().expect("the owner's URL");
    (chief, PgConnection::establish(url).expect("the owner connects"))
}

#[actix_web::test]
async fn a_table_is_analysed_as_it_leaves_empty_and_once_it_has_doubled() {
    let app = TestApp::spawn_with(|s| s.database.analyze_interval_secs = 0).await;
    if app.db.backend() != Backend::Postgres {
        return;
    }
    let (chief, mut conn) = exam(&app).await;
    let all = candidates(300, 7);
    let untouched = stats_of(&mut conn, "finals");
    assert_eq!(untouched.changed, 0, "{untouched:?}");

    // The service's own role owns no table: its pass analyses nothing, and says so by an empty
    // list rather than by PostgreSQL's warnings.
    let service = app.settings.database_url.as_deref().expect("the service's URL");
    let mut not_owner = PgConnection::establish(service).expect("the service connects");
    let refused = import_then_pass(&app, &chief, &mut not_owner, &all[..120], 120).await;
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(stats_of(&mut conn, "candidates").analyses, 0);

    let analysed = analyze_stale(&mut conn).expect("a pass");
    assert!(analysed.iter().any(|t| t == "candidates"), "{analysed:?}");
    assert!(!analysed.iter().any(|t| t == "finals"), "{analysed:?}");
    let after = stats_of(&mut conn, "candidates");
    assert_eq!((after.changed, after.analyses, after.rows), (0, 1, 120.0), "{after:?}");
    assert_eq!(stats_of(&mut conn, "finals").analyses, 0);

    // 100 rows more: past autovacuum's 50 + 10 % of 120, short of 50 + 120. Left alone.
    let again = import_then_pass(&app, &chief, &mut conn, &all[120..220], 100).await;
    assert!(!again.iter().any(|t| t == "candidates"), "{again:?}");
    let left = stats_of(&mut conn, "candidates");
    assert_eq!((left.analyses, left.rows), (1, 120.0), "{left:?}");

    // 80 more make 180 changed, past 50 + 120: the table has more than doubled, and is analysed.
    let grown = import_then_pass(&app, &chief, &mut conn, &all[220..], 180).await;
    assert!(grown.iter().any(|t| t == "candidates"), "{grown:?}");
    let now = stats_of(&mut conn, "candidates");
    assert_eq!((now.changed, now.analyses, now.rows), (0, 2, 300.0), "{now:?}");
}

#[actix_web::test]
async fn the_server_analyses_its_tables_as_they_fill() {
    let app = TestApp::spawn_with(|s| s.database.analyze_interval_secs = 1).await;
    if app.db.backend() != Backend::Postgres {
        return;
    }
    let (chief, mut conn) = exam(&app).await;
    import_candidates(&app, &chief, &candidates(120, 8)).await;
    let seen = wait_for(&mut conn, "candidates", |s| s.analyses >= 1 && s.rows == 120.0).await;
    assert_eq!(seen.changed, 0, "{seen:?}");
}
