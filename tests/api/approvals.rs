use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, expect_problem};

async fn new_leader(app: &TestApp, admin: &crate::helpers::Session, username: &str) -> String {
    let r = app
        .post(
            "/api/v1/users",
            Some(admin),
            json!({ "username": username, "password": PASSWORD, "role": "leader", "chief": true }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["active"], false, "leaders start inactive");
    body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_new_leader_acts_only_after_a_different_chief_approves() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    expect_problem(
        app.try_login("leader3", PASSWORD, None).await,
        StatusCode::FORBIDDEN,
        "account_inactive",
    )
    .await;

    let r = app
        .post(
            "/api/v1/approvals",
            Some(&chief1),
            json!({ "kind": "activate_leader", "payload": { "user_id": id } }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let request: Value = r.json().await.unwrap();
    assert_eq!(request["status"], "pending");
    let approval = request["id"].as_str().unwrap();

    // The requester can never decide it, not even to reject.
    let r = app
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            Some(&chief1),
            json!({}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "approval_self").await;
    let r = app
        .post(
            &format!("/api/v1/approvals/{approval}/reject"),
            Some(&chief1),
            json!({}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "approval_self").await;
    expect_problem(
        app.try_login("leader3", PASSWORD, None).await,
        StatusCode::FORBIDDEN,
        "account_inactive",
    )
    .await;

    let r = app
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            Some(&chief2),
            json!({ "note": "vetted" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let decided: Value = r.json().await.unwrap();
    assert_eq!(decided["status"], "approved");
    app.login("leader3", None).await;

    // Decided once is decided.
    let r = app
        .post(
            &format!("/api/v1/approvals/{approval}/reject"),
            Some(&chief2),
            json!({}),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "approval_decided").await;

    let entries = app.audit_entries(&admin).await;
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "approval.approve" && e["outcome"] == "refused")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "approval.approve" && e["outcome"] == "ok")
    );
}

#[tokio::test]
async fn only_an_active_chief_leader_may_approve() {
    let app = TestApp::spawn().await;
    let (admin, chief1, _) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    let r = app
        .post(
            "/api/v1/approvals",
            Some(&chief1),
            json!({ "kind": "activate_leader", "payload": { "user_id": id } }),
        )
        .await;
    let approval: Value = r.json().await.unwrap();
    let path = format!("/api/v1/approvals/{}/approve", approval["id"].as_str().unwrap());
    // An admin holds no authority over leaders.
    expect_problem(
        app.post(&path, Some(&admin), json!({})).await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    let r = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({ "username": "cust", "password": PASSWORD, "role": "custodian" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let cust = app.login("cust", None).await;
    expect_problem(
        app.post(&path, Some(&cust), json!({})).await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    // Nor may a custodian ask for it.
    let r = app
        .post(
            "/api/v1/approvals",
            Some(&cust),
            json!({ "kind": "activate_leader", "payload": { "user_id": id } }),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "approval_not_allowed").await;
    let _ = Role::Leader;
}

#[tokio::test]
async fn an_expired_request_cannot_be_approved() {
    let app = TestApp::spawn_with(|s| s.approvals.expiry_minutes = 0).await;
    let (admin, chief1, chief2) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    let r = app
        .post(
            "/api/v1/approvals",
            Some(&chief1),
            json!({ "kind": "activate_leader", "payload": { "user_id": id } }),
        )
        .await;
    let approval: Value = r.json().await.unwrap();
    assert_eq!(approval["status"], "expired");
    let r = app
        .post(
            &format!("/api/v1/approvals/{}/approve", approval["id"].as_str().unwrap()),
            Some(&chief2),
            json!({}),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "approval_expired").await;
    expect_problem(
        app.try_login("leader3", PASSWORD, None).await,
        StatusCode::FORBIDDEN,
        "account_inactive",
    )
    .await;
    let entries = app.audit_entries(&admin).await;
    assert!(entries.iter().any(|e| e["action"] == "approval.approve"
        && e["outcome"] == "refused"
        && e["details"]["code"] == "approval_expired"));
}

#[tokio::test]
async fn requests_are_checked_when_filed() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    let file = |payload: Value| {
        app.post(
            "/api/v1/approvals",
            Some(&chief1),
            json!({ "kind": "activate_leader", "payload": payload }),
        )
    };
    expect_problem(
        file(json!({ "user": id })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_payload",
    )
    .await;
    expect_problem(
        file(json!({ "user_id": "nobody" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_user",
    )
    .await;
    let chief2_id = app
        .db
        .read_now(|c| markroom::db::users::find_by_username(c, "chief2"))
        .unwrap()
        .unwrap()
        .id;
    expect_problem(
        file(json!({ "user_id": chief2_id })).await,
        StatusCode::CONFLICT,
        "already_active",
    )
    .await;
    assert_eq!(file(json!({ "user_id": id })).await.status(), StatusCode::CREATED);
    expect_problem(
        file(json!({ "user_id": id })).await,
        StatusCode::CONFLICT,
        "approval_pending",
    )
    .await;
    let r = app
        .post(
            "/api/v1/approvals",
            Some(&chief1),
            json!({ "kind": "lock", "payload": {} }),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "exam_required").await;
    let r = app
        .post(
            "/api/v1/approvals",
            Some(&chief1),
            json!({ "kind": "unheard_of", "payload": {} }),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value").await;
    let listed: Value = app.get("/api/v1/approvals", Some(&chief2)).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_scoped_leader_is_activated_under_its_exam() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    app.exam(&chief1, "GK").await;
    let q = json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 });
    assert_eq!(
        app.post("/api/v1/exams/GK/questions", Some(&chief1), q).await.status(),
        StatusCode::CREATED
    );
    let r = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({ "username": "qleader", "password": PASSWORD, "role": "leader", "exam": "GK", "questions": ["W1"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/api/v1/exams/GK/approvals",
            Some(&chief1),
            json!({ "kind": "activate_leader", "payload": { "user_id": id } }),
        )
        .await;
    let approval: Value = r.json().await.unwrap();
    assert_eq!(approval["exam"], "GK");
    let r = app
        .post(
            &format!("/api/v1/approvals/{}/approve", approval["id"].as_str().unwrap()),
            Some(&chief2),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let q = app.login("qleader", None).await;
    assert_eq!(app.get("/api/v1/exams/GK", Some(&q)).await.status(), StatusCode::OK);
    // Nor any other exam.
    app.exam(&chief1, "OTHER").await;
    expect_problem(
        app.get("/api/v1/exams/OTHER", Some(&q)).await,
        StatusCode::FORBIDDEN,
        "not_in_scope",
    )
    .await;
    let entries = app.audit_entries(&admin).await;
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "exam.read" && e["outcome"] == "refused")
    );
    // A scoped leader is not a chief: no new exams.
    let r = app.post("/api/v1/exams", Some(&q), json!({})).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
}
