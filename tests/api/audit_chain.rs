use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use diesel::{QueryDsl, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use markroom::audit::{GENESIS, entry_hash, read_anchors, seal_pending, verify};
use markroom::db::audit::{self as rows, EntryRow, NewEntry};
use markroom::db::{Backend, DbError};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, TestDb, expect_problem};

/// Some sealed and anchored history: entries that concern no exam, and the chain of exam GK.
struct History {
    admin: Session,
    chief: Session,
    /// The head of the no-exam chain.
    head: i64,
    /// GK's id, which names its chain.
    exam: String,
}

async fn history(app: &TestApp) -> History {
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    let exam = exam_id(app, "GK");
    for i in 0..3 {
        app.workstation(&admin, &format!("desk {i}")).await;
        let question = json!({ "code": format!("W{i}"), "kind": "essay", "max_score": 60, "step": 1 });
        let r = app.post("/api/v1/exams/GK/questions", Some(&chief), question).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    app.audit_entries(&admin).await;
    let head = anchored_heads(app).await;
    History {
        admin,
        chief,
        head,
        exam,
    }
}

/// Waits for the sealer to anchor every chain's head (anchor_interval_secs is 0 in tests);
/// returns the no-exam chain's.
async fn anchored_heads(app: &TestApp) -> i64 {
    for _ in 0..200 {
        let heads = app.db.read_now(rows::heads).unwrap();
        let anchors = read_anchors(&app.anchor_path()).unwrap();
        let anchored = heads
            .iter()
            .all(|h| anchors.iter().any(|a| a.chain == h.chain && a.seq == h.seq));
        if anchored && heads.len() >= 2 {
            return heads.iter().find(|h| h.chain.is_empty()).unwrap().seq;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the sealer never anchored the heads");
}

fn exam_id(app: &TestApp, code: &str) -> String {
    app.db.read_now(|c| markroom::db::exams::by_code(c, code)).unwrap().id
}

fn exec(app: &TestApp, sql: &str) {
    app.db
        .write_now(|c| diesel::sql_query(sql).execute(c).map_err(DbError::from))
        .unwrap();
}

fn problem(app: &TestApp) -> String {
    verify(&app.db, &app.anchor_path())
        .unwrap()
        .problem
        .expect("verify finds the tampering")
}

fn seqs(chain: &[Value]) -> Vec<i64> {
    chain.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn an_untouched_chain_verifies() {
    let app = TestApp::spawn().await;
    let h = history(&app).await;
    let report = verify(&app.db, &app.anchor_path()).unwrap();
    assert_eq!(report.problem, None);
    assert!(report.anchor_file_found);
    assert_eq!(report.chains, 2);
    assert!(report.entries >= h.head + 4 && report.anchors >= 2, "{report:?}");
}

#[tokio::test]
async fn each_exam_has_a_chain_of_its_own() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    app.exam(&chief, "MA").await;
    let (gk, ma) = (exam_id(&app, "GK"), exam_id(&app, "MA"));
    for code in ["W1", "W2"] {
        let question = json!({ "code": code, "kind": "essay", "max_score": 60, "step": 1 });
        let r = app.post("/api/v1/exams/GK/questions", Some(&chief), question).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    app.workstation(&admin, "desk 1").await;

    for (code, id, n) in [("GK", &gk, 3), ("MA", &ma, 1)] {
        let chain = app.audit_chain(&admin, Some(code)).await;
        assert_eq!(seqs(&chain), (1..=n).collect::<Vec<_>>(), "{code}");
        assert!(chain.iter().all(|e| e["exam_id"] == json!(id)), "{chain:?}");
        assert_eq!(chain[0]["prev_hash"], GENESIS);
        let head = app.db.read_now(|c| rows::head(c, id)).unwrap();
        assert_eq!(
            head,
            Some((n, chain.last().unwrap()["hash"].as_str().unwrap().to_string()))
        );
    }
    let none = app.audit_chain(&admin, None).await;
    assert_eq!(seqs(&none), (1..=none.len() as i64).collect::<Vec<_>>());
    assert!(none.iter().all(|e| e["exam_id"].is_null()), "{none:?}");
    assert!(none.iter().any(|e| e["action"] == "workstation.create"));
    assert_eq!(none[0]["prev_hash"], GENESIS);
}

#[tokio::test]
async fn the_log_pages_one_chain_at_a_time() {
    let app = TestApp::spawn().await;
    let h = history(&app).await;
    let whole = app.audit_chain(&h.admin, Some("GK")).await;
    assert_eq!(whole.len(), 4);
    let mut paged = vec![];
    let mut after = 0;
    loop {
        let r = app
            .get(&format!("/api/v1/audit?exam=GK&after={after}&limit=3"), Some(&h.admin))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.unwrap();
        paged.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["next_after"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(paged, whole);
    expect_problem(
        app.get("/api/v1/audit?exam=NOPE", Some(&h.admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn an_edited_entry_is_named() {
    let app = TestApp::spawn().await;
    history(&app).await;
    exec(
        &app,
        "UPDATE audit_log_general SET details = '{\"name\":\"desk 9\"}' WHERE chain = '' AND seq = 5",
    );
    let problem = problem(&app);
    assert!(problem.starts_with("entry 5 has been altered"), "{problem}");
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let app = TestApp::spawn().await;
    history(&app).await;
    exec(&app, "DELETE FROM audit_log_general WHERE chain = '' AND seq = 4");
    let problem = problem(&app);
    assert!(problem.starts_with("entry 4 is missing"), "{problem}");
}

#[tokio::test]
async fn a_truncated_tail_is_caught() {
    let app = TestApp::spawn().await;
    let n = history(&app).await.head;
    exec(
        &app,
        &format!("DELETE FROM audit_log_general WHERE chain = '' AND seq >= {}", n - 1),
    );
    let problem = problem(&app);
    assert!(problem.contains("truncated"), "{problem}");
    assert!(
        problem.starts_with(&format!("entry {}", n - 1)) || problem.starts_with(&format!("entry {n}")),
        "{problem}"
    );
}

#[tokio::test]
async fn a_re_hashed_chain_is_caught_by_the_anchors() {
    let app = TestApp::spawn().await;
    let exam = history(&app).await.exam;
    // Edit entry 2 of GK's chain, then recompute every later hash and the head, as a careful
    // forger would.
    let forged = exam.clone();
    app.db
        .write_now(move |c| -> Result<(), DbError> {
            diesel::sql_query(format!(
                "UPDATE audit_log SET details = '{{\"forged\":true}}' WHERE chain = '{forged}' AND seq = 2"
            ))
            .execute(c)?;
            let all = rows::page(c, &forged, 0, 100_000)?;
            let mut prev = GENESIS.to_string();
            for e in &all {
                let seq = e.seq.unwrap();
                let h = entry_hash(&prev, seq, e);
                rows::seal(c, &forged, e.id, seq, &prev, &h)?;
                prev = h;
            }
            rows::set_head(c, &forged, all.last().unwrap().seq.unwrap(), &prev)?;
            Ok(())
        })
        .unwrap();
    let problem = problem(&app);
    assert!(
        problem.starts_with(&format!("chain of exam {exam}: entry ")),
        "{problem}"
    );
    assert!(problem.contains("re-hashed"), "{problem}");
}

#[tokio::test]
async fn tampering_in_an_exam_chain_names_the_chain() {
    let app = TestApp::spawn().await;
    let exam = history(&app).await.exam;
    exec(
        &app,
        &format!("UPDATE audit_log SET action = 'nothing.happened' WHERE chain = '{exam}' AND seq = 3"),
    );
    let problem = problem(&app);
    assert!(
        problem.starts_with(&format!("chain of exam {exam}: entry 3 has been altered")),
        "{problem}"
    );
}

#[tokio::test]
async fn a_deleted_exam_chain_is_caught_by_its_anchors() {
    let app = TestApp::spawn().await;
    let exam = history(&app).await.exam;
    exec(&app, &format!("DELETE FROM audit_log WHERE chain = '{exam}'"));
    exec(&app, &format!("DELETE FROM audit_head WHERE chain = '{exam}'"));
    let problem = problem(&app);
    assert!(
        problem.starts_with(&format!("chain of exam {exam}: entry ")),
        "{problem}"
    );
    assert!(problem.contains("the log ends at 0 (truncated)"), "{problem}");
}

/// Writes through the server until told to stop: `act(i)` makes its i-th request, which must
/// succeed. Returns how many it made.
fn burst<F, Fut>(stop: &Arc<AtomicBool>, act: F) -> tokio::task::JoinHandle<usize>
where
    F: Fn(usize) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = reqwest::Response> + Send,
{
    let stop = stop.clone();
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let r = act(i).await;
            assert_eq!(r.status(), StatusCode::CREATED, "burst request {i}");
            i += 1;
        }
        i
    })
}

/// Verify runs on a blocking thread while the requests go on around it.
#[tokio::test]
async fn verify_holds_while_the_server_writes() {
    let app = Arc::new(TestApp::spawn().await);
    let h = history(&app).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (a, s) = (app.clone(), h.admin.clone());
    let desks = burst(&stop, move |i| {
        let (a, s) = (a.clone(), s.clone());
        async move {
            a.post(
                "/api/v1/workstations",
                Some(&s),
                json!({ "name": format!("burst {i}") }),
            )
            .await
        }
    });
    let (a, s) = (app.clone(), h.chief.clone());
    let exams = burst(&stop, move |i| {
        let (a, s) = (a.clone(), s.clone());
        async move {
            let start = Utc::now() + chrono::Duration::days(30);
            let exam = json!({
                "code": format!("B{i}"), "name": "Burst", "time_zone": "Asia/Shanghai",
                "window_start": start, "window_end": start + chrono::Duration::days(10),
            });
            a.post("/api/v1/exams", Some(&s), exam).await
        }
    });
    let (a, s) = (app.clone(), h.chief.clone());
    let questions = burst(&stop, move |i| {
        let (a, s) = (a.clone(), s.clone());
        async move {
            let q = json!({ "code": format!("Q{i}"), "kind": "essay", "max_score": 60, "step": 1 });
            a.post("/api/v1/exams/GK/questions", Some(&s), q).await
        }
    });
    let mut checked = vec![];
    for _ in 0..10 {
        let app = app.clone();
        let report = tokio::task::spawn_blocking(move || verify(&app.db, &app.anchor_path()).unwrap())
            .await
            .unwrap();
        assert_eq!(report.problem, None, "{report:?}");
        checked.push(report.entries);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for writer in [desks, exams, questions] {
        assert!(writer.await.unwrap() > 0, "a writer of the burst wrote nothing");
    }
    assert!(checked.last() > checked.first(), "verify saw no writes: {checked:?}");
    let report = verify(&app.db, &app.anchor_path()).unwrap();
    assert_eq!(report.problem, None);
}

#[tokio::test]
async fn a_missing_anchor_file_is_reported() {
    let app = TestApp::spawn().await;
    history(&app).await;
    let nowhere = app.settings.data_dir.join("not-yet.jsonl");
    let report = verify(&app.db, &nowhere).unwrap();
    assert_eq!(report.problem, None);
    assert!(!report.anchor_file_found);
    assert_eq!(report.anchors, 0);

    let out = cli_verify(&app, Some("not-yet.jsonl"));
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("no anchor file yet at {}", nowhere.display())),
        "{stdout}"
    );
    let out = cli_verify(&app, None);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("no anchor file"));
}

#[tokio::test]
async fn the_snapshot_does_not_see_later_commits() {
    let app = TestApp::spawn().await;
    let count = |c: &mut markroom::db::DbConn| -> Result<i64, DbError> {
        // The probe concerns no exam: its chain is the general log's.
        use markroom::db::schema::audit_log_general;
        Ok(audit_log_general::table.count().get_result(c)?)
    };
    let entry = NewEntry {
        action: "snapshot.probe".into(),
        outcome: "ok".into(),
        details: "{}".into(),
        ..NewEntry::default()
    };
    let (before, inside) = app
        .db
        .snapshot_now(|c| -> Result<_, DbError> {
            let before = count(c)?;
            app.db.write_now(|w| rows::append(w, &entry, Utc::now()))?;
            Ok((before, count(c)?))
        })
        .unwrap();
    assert_eq!(inside, before);
    assert_eq!(app.db.read_now(count).unwrap(), before + 1);
    if app.db.backend() == Backend::Postgres {
        let write = app.db.snapshot_now(|c| rows::append(c, &entry, Utc::now()));
        assert!(write.is_err(), "the snapshot is read only");
    }
}

fn cli_verify(app: &TestApp, anchor_file: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_markroom"));
    cmd.args(["audit", "verify"])
        .env("MARKROOM_DATA_DIR", &app.settings.data_dir)
        .env_remove("MARKROOM_CONFIG")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match anchor_file {
        Some(f) => cmd.env("MARKROOM_AUDIT__ANCHOR_FILE", f),
        None => cmd.env_remove("MARKROOM_AUDIT__ANCHOR_FILE"),
    };
    app.database_env(&mut cmd);
    cmd.output().unwrap()
}

#[tokio::test]
async fn the_command_line_verifies_and_fails_loudly() {
    let app = TestApp::spawn().await;
    history(&app).await;
    let ok = cli_verify(&app, None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));
    exec(
        &app,
        "UPDATE audit_log_general SET action = 'nothing.happened' WHERE chain = '' AND seq = 2",
    );
    let broken = cli_verify(&app, None);
    assert!(!broken.status.success());
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains("entry 2 has been altered"), "{out}");
}

/// Servers sharing one PostgreSQL database each run a sealer; they must take turns on each
/// chain, new chains included. (SQLite is one server's file: it has one sealer.)
#[tokio::test]
async fn sealers_of_several_servers_take_turns() {
    let app = TestApp::spawn().await;
    if app.db.backend() != Backend::Postgres {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sealers: Vec<_> = (0..3)
        .map(|_| {
            let (db, stop) = (markroom::db::Db::connect(&app.settings).unwrap(), stop.clone());
            std::thread::spawn(move || -> Result<usize, DbError> {
                let mut rounds = 0;
                while !stop.load(Ordering::Relaxed) {
                    db.write_now(seal_pending)?;
                    rounds += 1;
                }
                Ok(rounds)
            })
        })
        .collect();
    for n in 0..300 {
        let entry = NewEntry {
            action: "sealers.probe".into(),
            exam_id: (n % 4 != 0).then(|| format!("exam-{}", n % 7)),
            outcome: "ok".into(),
            details: json!({ "n": n }).to_string(),
            ..NewEntry::default()
        };
        app.db.write_now(|c| rows::append(c, &entry, Utc::now())).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for s in sealers {
        assert!(s.join().unwrap().unwrap() > 0);
    }
    app.db.write_now(seal_pending).unwrap();
    let report = verify(&app.db, &app.anchor_path()).unwrap();
    assert_eq!(report.problem, None);
    assert_eq!((report.chains, report.entries, report.unsealed), (8, 300, 0));
}

/// A connection of the backend under test, outside markroom's own pool, for stepping through
/// the migrations one at a time.
enum Raw {
    Pg(diesel::pg::PgConnection),
    Sqlite(diesel::sqlite::SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl Raw {
    fn open(settings: &markroom::config::Settings) -> Raw {
        match settings.postgres_url() {
            Some(url) => Raw::Pg(diesel::Connection::establish(url).unwrap()),
            None => {
                let mut c: diesel::SqliteConnection =
                    diesel::Connection::establish(&settings.sqlite_path().display().to_string()).unwrap();
                // Like any other process on the file: a pool just dropped may still be closing a
                // connection it was opening.
                diesel::connection::SimpleConnection::batch_execute(&mut c, "PRAGMA busy_timeout = 5000").unwrap();
                Raw::Sqlite(c)
            }
        }
    }

    fn exec(&mut self, sql: &str) {
        match self {
            Raw::Pg(c) => diesel::sql_query(sql).execute(c),
            Raw::Sqlite(c) => diesel::sql_query(sql).execute(c),
        }
        .unwrap();
    }

    fn number(&mut self, sql: &str) -> i64 {
        match self {
            Raw::Pg(c) => diesel::sql_query(sql).get_result::<Number>(c),
            Raw::Sqlite(c) => diesel::sql_query(sql).get_result::<Number>(c),
        }
        .unwrap()
        .n
    }

    fn migrate_next(&mut self) -> String {
        match self {
            Raw::Pg(c) => c.run_next_migration(POSTGRES_MIGRATIONS),
            Raw::Sqlite(c) => c.run_next_migration(SQLITE_MIGRATIONS),
        }
        .unwrap()
        .to_string()
    }

    fn revert_last(&mut self) -> String {
        match self {
            Raw::Pg(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
            Raw::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
        }
        .unwrap()
        .to_string()
    }
}

/// A row as the single-chain log stored it; `seq` is `None` for a row not yet sealed.
fn legacy_insert(seq: Option<i64>, exam: Option<&str>, prev: &str) -> (String, Option<String>) {
    let e = EntryRow {
        id: 0,
        seq,
        at: chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(10, 0, seq.unwrap_or(9) as u32)
            .unwrap(),
        actor_id: None,
        actor_role: Some("admin".into()),
        workstation_id: None,
        action: "legacy.act".into(),
        object_type: None,
        object_id: None,
        exam_id: exam.map(str::to_string),
        outcome: "ok".into(),
        details: "{}".into(),
        request_id: None,
        prev_hash: None,
        hash: None,
    };
    let hash = seq.map(|s| entry_hash(prev, s, &e));
    let text = |v: Option<&str>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
    let sql = format!(
        "INSERT INTO audit_log (seq, at, actor_role, action, exam_id, outcome, details, prev_hash, hash) \
         VALUES ({}, '{}', 'admin', 'legacy.act', {}, 'ok', '{{}}', {}, {})",
        seq.map_or("NULL".to_string(), |s| s.to_string()),
        e.at.format("%Y-%m-%d %H:%M:%S"),
        text(exam),
        text(seq.map(|_| prev)),
        text(hash.as_deref()),
    );
    (sql, hash)
}

#[test]
fn history_sealed_before_chains_still_verifies() {
    let t = TestDb::new();
    let anchors = t.settings.anchor_path();
    let mut raw = Raw::open(&t.settings);
    assert!(
        raw.migrate_next().ends_with("000001"),
        "the foundation alone: one chain"
    );
    let mut prev = GENESIS.to_string();
    for (seq, exam) in [(1, None), (2, Some("exam-a")), (3, None)] {
        let (sql, hash) = legacy_insert(Some(seq), exam, &prev);
        raw.exec(&sql);
        prev = hash.unwrap();
    }
    raw.exec(&format!("UPDATE audit_head SET seq = 3, hash = '{prev}' WHERE id = 1"));
    raw.exec(&legacy_insert(None, Some("exam-a"), "").0);
    let line = json!({ "seq": 3, "hash": prev, "at": "2026-01-01T10:00:05Z" });
    std::fs::write(&anchors, format!("{line}\n")).unwrap();

    let db = markroom::db::Db::connect(&t.settings).unwrap();
    db.migrate().unwrap();
    let report = verify(&db, &anchors).unwrap();
    assert_eq!(report.problem, None);
    assert_eq!((report.chains, report.entries, report.unsealed), (1, 3, 1));
    // The row that was waiting goes to its exam's chain, which starts at 1.
    let moved = db.write_now(seal_pending).unwrap();
    let moved: Vec<(&str, i64)> = moved.iter().map(|h| (h.chain.as_str(), h.seq)).collect();
    assert_eq!(moved, [("exam-a", 1)]);
    let report = verify(&db, &anchors).unwrap();
    assert_eq!(report.problem, None);
    assert_eq!((report.chains, report.entries, report.unsealed), (2, 4, 0));

    // And back: the no-exam chain stays sealed; exam chains wait to be chained after it.
    drop(db);
    // Later migrations are reverted first, down to the one that made the chains.
    while !raw.revert_last().ends_with("000003") {}
    assert_eq!(raw.number("SELECT seq AS n FROM audit_head WHERE id = 1"), 3);
    assert_eq!(raw.number("SELECT COUNT(*) AS n FROM audit_log WHERE seq IS NULL"), 1);
}

#[tokio::test]
async fn audit_paging_out_of_range_is_refused_not_clamped() {
    let app = TestApp::spawn().await;
    let (admin, _, _) = app.staff().await;
    for (query, field) in [("limit=0", "limit"), ("limit=1001", "limit"), ("after=-1", "after")] {
        let r = app.get(&format!("/api/v1/audit?{query}"), Some(&admin)).await;
        let p = crate::helpers::expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query").await;
        assert_eq!(p["field"], field);
    }
}

/// The sealer asks which chains wait: each chain with an unsealed row, once, in order (the
/// order its heads are locked in), and no chain whose rows are all sealed.
#[test]
fn the_chains_waiting_are_named_once_each_in_order() {
    let t = TestDb::new();
    let db = markroom::db::Db::connect(&t.settings).unwrap();
    db.migrate().unwrap();
    let append = |exam: Option<&str>| {
        let entry = NewEntry {
            action: "chains.probe".into(),
            exam_id: exam.map(str::to_string),
            outcome: "ok".into(),
            details: "{}".into(),
            ..NewEntry::default()
        };
        db.write_now(|c| rows::append(c, &entry, Utc::now())).unwrap();
    };
    assert!(db.read_now(rows::pending_chains).unwrap().is_empty());
    for exam in ["exam-c", "exam-a", "exam-c", "exam-b", "exam-a"] {
        append(Some(exam));
    }
    let waiting = db.read_now(rows::pending_chains).unwrap();
    assert_eq!(waiting, ["exam-a", "exam-b", "exam-c"]);
    // The no-exam chain comes first when it waits too.
    append(None);
    assert_eq!(
        db.read_now(rows::pending_chains).unwrap(),
        ["", "exam-a", "exam-b", "exam-c"]
    );
    db.write_now(|c| markroom::audit::seal_chain(c, "exam-b")).unwrap();
    assert_eq!(db.read_now(rows::pending_chains).unwrap(), ["", "exam-a", "exam-c"]);
    db.write_now(seal_pending).unwrap();
    assert!(db.read_now(rows::pending_chains).unwrap().is_empty());
}
