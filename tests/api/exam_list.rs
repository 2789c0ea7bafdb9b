//! `GET /api/v1/exams`, the desks' exam picker: every exam for a chief leader and a custodian,
//! only those with a question in scope for a scoped leader, never one a relative sits; nobody
//! else.

use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem};

fn codes(list: &Value) -> Vec<String> {
    list["exams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn each_caller_sees_the_exams_they_may_work_on() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    for code in ["AA", "BB"] {
        app.exam(&chief, code).await;
        let r = app
            .post(
                &format!("/api/v1/exams/{code}/questions"),
                Some(&chief),
                json!({ "code": "Q1", "kind": "short", "max_score": 10, "step": 1, "tolerance": 1 }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    }

    let list: Value = app.get("/api/v1/exams", Some(&chief)).await.json().await.unwrap();
    assert_eq!(list["chief"], true);
    assert_eq!(codes(&list), ["AA", "BB"]);
    assert_eq!(list["exams"][0]["questions"], json!(["Q1"]));
    assert_eq!(list["exams"][0]["time_zone"], "Asia/Shanghai");
    assert_eq!(list["exams"][0]["room_open"], false);

    // A leader scoped to BB's question sees BB alone.
    let id = app.insert_account("scoped", Role::Leader);
    app.db
        .write_now(|c| -> Result<(), markroom::db::DbError> {
            let exam = markroom::db::exams::by_code(c, "BB")?;
            let q: Vec<String> = markroom::db::exams::questions_of(c, &exam.id)?
                .into_iter()
                .map(|q| q.id)
                .collect();
            markroom::db::users::add_scope(c, &exam.id, &id, &q)
        })
        .unwrap();
    let scoped = app.login("scoped", None).await;
    let list: Value = app.get("/api/v1/exams", Some(&scoped)).await.json().await.unwrap();
    assert_eq!(list["chief"], false);
    assert_eq!(codes(&list), ["BB"]);

    // A custodian sees every exam, with no questions to lead.
    app.insert_account("keeper", Role::Custodian);
    let keeper = app.login("keeper", None).await;
    let list: Value = app.get("/api/v1/exams", Some(&keeper)).await.json().await.unwrap();
    assert_eq!(codes(&list), ["AA", "BB"]);
    assert_eq!(list["exams"][1]["questions"], json!([]));

    // Once the custodian declares a nephew sitting AA, AA is not theirs to see.
    let nephew = json!([{ "admission_number": "20260009", "name": "Nephew", "school_code": "S01" }]);
    let r = app.post("/api/v1/exams/AA/candidates", Some(&chief), nephew).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = app
        .post(
            "/api/v1/exams/AA/relatives",
            Some(&keeper),
            json!({ "admission_numbers": ["20260009"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list: Value = app.get("/api/v1/exams", Some(&keeper)).await.json().await.unwrap();
    assert_eq!(codes(&list), ["BB"]);

    // Markers and admins are not staff of an exam.
    expect_problem(
        app.get("/api/v1/exams", Some(&admin)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.get("/api/v1/exams", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}
