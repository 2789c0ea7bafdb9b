use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use diesel::{QueryDsl, RunQueryDsl};
use markroom::audit::{GENESIS, entry_hash, read_anchors, verify};
use markroom::db::audit::{self as rows, NewEntry};
use markroom::db::{Backend, DbError};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};

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
        "UPDATE audit_log SET details = '{\"name\":\"desk 9\"}' WHERE chain = '' AND seq = 5",
    );
    let problem = problem(&app);
    assert!(problem.starts_with("entry 5 has been altered"), "{problem}");
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let app = TestApp::spawn().await;
    history(&app).await;
    exec(&app, "DELETE FROM audit_log WHERE chain = '' AND seq = 4");
    let problem = problem(&app);
    assert!(problem.starts_with("entry 4 is missing"), "{problem}");
}

#[tokio::test]
async fn a_truncated_tail_is_caught() {
    let app = TestApp::spawn().await;
    let n = history(&app).await.head;
    exec(
        &app,
        &format!("DELETE FROM audit_log WHERE chain = '' AND seq >= {}", n - 1),
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
                rows::seal(c, e.id, seq, &prev, &h)?;
                prev = h;
            }
            rows::set_head(c, &forged, all.last().unwrap().seq.unwrap(), &prev)?;
            Ok(())
        })
        .unwrap();
    let problem = problem(&app);
    assert!(
        problem.starts_with(&format!("chain of exam {exam}: entry 2")),
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
        use markroom::db::schema::audit_log;
        Ok(audit_log::table.count().get_result(c)?)
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
    match &app.settings.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
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
        "UPDATE audit_log SET action = 'nothing.happened' WHERE chain = '' AND seq = 2",
    );
    let broken = cli_verify(&app, None);
    assert!(!broken.status.success());
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains("entry 2 has been altered"), "{out}");
}
