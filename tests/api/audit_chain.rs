use diesel::RunQueryDsl;
use markroom::audit::{entry_hash, read_anchors, verify};
use markroom::db::audit as rows;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

/// Some history, sealed and anchored; returns the number of sealed entries.
async fn history(app: &TestApp) -> i64 {
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    for i in 0..3 {
        let r = app
            .post(
                "/api/v1/workstations",
                Some(&admin),
                json!({ "name": format!("desk {i}") }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let n = app.audit_entries(&admin).await.len() as i64;
    // Wait for the sealer to anchor the head (anchor_interval_secs is 0 in tests).
    for _ in 0..200 {
        let (head, _) = app.db.read_now(rows::head).unwrap();
        let anchored = read_anchors(&app.anchor_path()).unwrap().iter().any(|a| a.seq == head);
        if anchored && head >= n {
            return head;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the sealer never anchored the head");
}

fn exec(app: &TestApp, sql: &str) {
    app.db
        .write_now(|c| diesel::sql_query(sql).execute(c).map_err(markroom::db::DbError::from))
        .unwrap();
}

#[tokio::test]
async fn an_untouched_chain_verifies() {
    let app = TestApp::spawn().await;
    let n = history(&app).await;
    let report = verify(&app.db, &app.anchor_path()).unwrap();
    assert_eq!(report.problem, None);
    assert!(report.entries >= n && report.anchors >= 1);
}

#[tokio::test]
async fn an_edited_entry_is_named() {
    let app = TestApp::spawn().await;
    history(&app).await;
    exec(
        &app,
        "UPDATE audit_log SET details = '{\"name\":\"desk 9\"}' WHERE seq = 5",
    );
    let problem = verify(&app.db, &app.anchor_path()).unwrap().problem.unwrap();
    assert!(problem.starts_with("entry 5 has been altered"), "{problem}");
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let app = TestApp::spawn().await;
    history(&app).await;
    exec(&app, "DELETE FROM audit_log WHERE seq = 4");
    let problem = verify(&app.db, &app.anchor_path()).unwrap().problem.unwrap();
    assert!(problem.starts_with("entry 4 is missing"), "{problem}");
}

#[tokio::test]
async fn a_truncated_tail_is_caught() {
    let app = TestApp::spawn().await;
    let n = history(&app).await;
    exec(&app, &format!("DELETE FROM audit_log WHERE seq >= {}", n - 1));
    let problem = verify(&app.db, &app.anchor_path()).unwrap().problem.unwrap();
    assert!(problem.contains("truncated"), "{problem}");
    assert!(
        problem.starts_with(&format!("entry {}", n - 1)) || problem.starts_with(&format!("entry {n}")),
        "{problem}"
    );
}

#[tokio::test]
async fn a_re_hashed_chain_is_caught_by_the_anchors() {
    let app = TestApp::spawn().await;
    history(&app).await;
    // Edit entry 3, then recompute every later hash and the head, as a careful forger would.
    app.db
        .write_now(|c| -> Result<(), markroom::db::DbError> {
            diesel::sql_query("UPDATE audit_log SET details = '{\"forged\":true}' WHERE seq = 3").execute(c)?;
            let all = rows::page(c, 0, 100_000)?;
            let mut prev = markroom::audit::GENESIS.to_string();
            for e in &all {
                let seq = e.seq.unwrap();
                let h = entry_hash(&prev, seq, e);
                rows::seal(c, e.id, seq, &prev, &h)?;
                prev = h;
            }
            rows::set_head(c, all.last().unwrap().seq.unwrap(), &prev)?;
            Ok(())
        })
        .unwrap();
    let problem = verify(&app.db, &app.anchor_path()).unwrap().problem.unwrap();
    assert!(problem.contains("re-hashed"), "{problem}");
}

#[tokio::test]
async fn the_command_line_verifies_and_fails_loudly() {
    let app = TestApp::spawn().await;
    history(&app).await;
    let run = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_markroom"));
        cmd.args(["audit", "verify"])
            .env("MARKROOM_DATA_DIR", &app.settings.data_dir)
            .env_remove("MARKROOM_CONFIG")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match &app.settings.database_url {
            Some(url) => cmd.env("DATABASE_URL", url),
            None => cmd.env_remove("DATABASE_URL"),
        };
        cmd.output().unwrap()
    };
    let ok = run();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));
    exec(&app, "UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 2");
    let broken = run();
    assert!(!broken.status.success());
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains("entry 2 has been altered"), "{out}");
}
