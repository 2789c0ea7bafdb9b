//! The candidate list goes straight into the identity vault: sealed at rest, found by a keyed
//! hash, and a bad row stores nothing.

use diesel::RunQueryDsl;
use markroom::db::{Backend, DbError};
use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};

async fn upload(app: &TestApp, who: &Session, content_type: &str, body: String) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/exams/GK/candidates", app.base))
        .bearer_auth(&who.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn csv_with_bad_line_7() -> String {
    let mut csv = String::from("admission_number,name,school_code,district\n");
    for i in 1..=8 {
        let name = if i == 6 {
            String::new()
        } else {
            format!("Zhangsanfeng {i}")
        };
        csv.push_str(&format!("2026{i:04},{name},S0{},North\n", i % 3));
    }
    csv
}

#[derive(diesel::QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

/// Everything the database holds, as text: the raw SQLite files, or every row of every table.
fn database_text(app: &TestApp) -> String {
    match app.db.backend() {
        Backend::Sqlite => {
            let mut all = vec![];
            for suffix in ["", "-wal"] {
                let path = format!("{}{suffix}", app.settings.sqlite_path().display());
                all.extend(std::fs::read(path).unwrap_or_default());
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        Backend::Postgres => app
            .db
            .read_now(|c| -> Result<String, DbError> {
                let tables: Vec<Text> = diesel::sql_query(
                    "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = current_schema()",
                )
                .load(c)?;
                let mut out = String::new();
                for t in tables {
                    let sql = format!("SELECT COALESCE(string_agg(x::text, ' '), '') AS t FROM {} x", t.t);
                    out.push_str(&diesel::sql_query(sql).get_result::<Text>(c)?.t);
                }
                Ok(out)
            })
            .unwrap(),
    }
}

#[tokio::test]
async fn candidates_are_sealed_and_a_bad_line_stores_nothing() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    app.insert_account("cust1", Role::Custodian);
    let cust = app.login("cust1", None).await;

    let r = upload(&app, &cust, "text/csv", csv_with_bad_line_7()).await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_candidate").await;
    assert_eq!(p["field"], "line 7.name", "{p}");
    // Lines are the file's own: a blank line and a quoted line break count.
    let odd = "admission_number,name,school_code\n\n20260001,\"Wang\nFang\",S01\n20260002,,S01\n";
    let r = upload(&app, &cust, "text/csv", odd.into()).await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_candidate").await;
    assert_eq!(p["field"], "line 5.name", "{p}");
    let r = upload(&app, &cust, "application/json", "[]".into()).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "empty_list").await;
    let r = upload(&app, &cust, "text/plain", "hello".into()).await;
    expect_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

    let good = csv_with_bad_line_7()
        .replace("2026 0006,,", "")
        .replace(",,S00", ",Zhangsanfeng 6,S00");
    let r = upload(&app, &cust, "text/csv", good).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let body = json!([{ "admission_number": "20260001", "name": "Zhangsanfeng Renamed", "school_code": "S09" }]);
    let r = upload(&app, &chief, "application/json", body.to_string()).await;
    let imported: Value = r.json().await.unwrap();
    assert_eq!(
        (
            imported["created"].as_u64(),
            imported["updated"].as_u64(),
            imported["total"].as_i64()
        ),
        (Some(0), Some(1), Some(8))
    );

    // Absences: the whole exam, or one question; each once; of known candidates only.
    let q = json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 });
    assert_eq!(
        app.post("/api/v1/exams/GK/questions", Some(&chief), q).await.status(),
        StatusCode::CREATED
    );
    let absent = |body: Value| app.post("/api/v1/exams/GK/absences", Some(&cust), body);
    assert_eq!(
        absent(json!({ "admission_number": "20260002" })).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        absent(json!({ "admission_number": "20260003", "question": "W1" }))
            .await
            .status(),
        StatusCode::CREATED
    );
    expect_problem(
        absent(json!({ "admission_number": "20260002" })).await,
        StatusCode::CONFLICT,
        "already_recorded",
    )
    .await;
    expect_problem(
        absent(json!({ "admission_number": "20269999" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_candidate",
    )
    .await;
    expect_problem(
        absent(json!({ "admission_number": "20260004", "question": "Q9" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_question",
    )
    .await;

    // Nothing of anyone's identity is readable at rest, nor in the audit log.
    let entries = app.audit_entries(&admin).await;
    let raw = database_text(&app) + &serde_json::to_string(&entries).unwrap();
    for secret in ["Zhangsanfeng", "20260001", "20260005"] {
        assert!(!raw.contains(secret), "{secret} is stored in clear");
    }
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "candidates.import" && e["details"]["created"] == 8)
    );
}
