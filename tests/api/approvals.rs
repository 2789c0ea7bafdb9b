use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, expect_problem};

async fn new_leader(app: &TestApp, admin: &Session, username: &str) -> String {
    let body = json!({ "username": username, "password": PASSWORD, "role": "leader", "chief": true });
    let r = app.post("/api/v1/users", Some(admin), body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["active"], false, "leaders start inactive");
    body["id"].as_str().unwrap().to_string()
}

/// Files `activate_leader` for `user_id`, under an exam when one is named.
async fn ask_activation(app: &TestApp, by: &Session, exam: Option<&str>, payload: Value) -> Response {
    let path = match exam {
        Some(code) => format!("/api/v1/exams/{code}/approvals"),
        None => "/api/v1/approvals".to_string(),
    };
    app.post(
        &path,
        Some(by),
        json!({ "kind": "activate_leader", "payload": payload }),
    )
    .await
}

async fn filed(app: &TestApp, by: &Session, user_id: &str) -> Value {
    let r = ask_activation(app, by, None, json!({ "user_id": user_id })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

/// `approve` or `reject` the request, as `who`.
async fn decide(app: &TestApp, who: &Session, request: &Value, verdict: &str) -> Response {
    let id = request["id"].as_str().unwrap();
    app.post(&format!("/api/v1/approvals/{id}/{verdict}"), Some(who), json!({}))
        .await
}

async fn listed(app: &TestApp, chief: &Session, status: &str) -> usize {
    let r = app
        .get(&format!("/api/v1/approvals?status={status}"), Some(chief))
        .await;
    r.json::<Value>().await.unwrap().as_array().unwrap().len()
}

async fn inactive(app: &TestApp, username: &str) {
    let r = app.try_login(username, PASSWORD, None).await;
    expect_problem(r, StatusCode::FORBIDDEN, "account_inactive").await;
}

#[tokio::test]
async fn a_new_leader_acts_only_after_a_different_chief_approves() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    inactive(&app, "leader3").await;

    let request = filed(&app, &chief1, &id).await;
    assert_eq!(request["status"], "pending");

    // The requester can never decide it, not even to reject.
    for verdict in ["approve", "reject"] {
        expect_problem(
            decide(&app, &chief1, &request, verdict).await,
            StatusCode::FORBIDDEN,
            "approval_self",
        )
        .await;
    }
    inactive(&app, "leader3").await;

    let r = decide(&app, &chief2, &request, "approve").await;
    assert_eq!(r.status(), StatusCode::OK);
    let decided: Value = r.json().await.unwrap();
    assert_eq!(decided["status"], "approved");
    app.login("leader3", None).await;

    // Decided once is decided.
    expect_problem(
        decide(&app, &chief2, &request, "reject").await,
        StatusCode::CONFLICT,
        "approval_decided",
    )
    .await;

    let entries = app.audit_entries(&admin).await;
    let approvals = |outcome: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == "approval.approve" && e["outcome"] == outcome)
            .count()
    };
    assert_eq!((approvals("refused"), approvals("ok")), (1, 1));
}

#[tokio::test]
async fn a_rejected_request_leaves_the_leader_inactive() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    let request = filed(&app, &chief1, &id).await;
    let r = decide(&app, &chief2, &request, "reject").await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "rejected");
    inactive(&app, "leader3").await;
    expect_problem(
        decide(&app, &chief2, &request, "approve").await,
        StatusCode::CONFLICT,
        "approval_decided",
    )
    .await;
}

#[tokio::test]
async fn only_an_active_chief_leader_may_approve() {
    let app = TestApp::spawn().await;
    let (admin, chief1, _) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    let request = filed(&app, &chief1, &id).await;
    // An admin holds no authority over leaders, nor does a custodian.
    expect_problem(
        decide(&app, &admin, &request, "approve").await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    let body = json!({ "username": "cust", "password": PASSWORD, "role": "custodian" });
    assert_eq!(
        app.post("/api/v1/users", Some(&admin), body).await.status(),
        StatusCode::CREATED
    );
    let cust = app.login("cust", None).await;
    expect_problem(
        decide(&app, &cust, &request, "approve").await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    // Nor may a custodian ask for it.
    let r = ask_activation(&app, &cust, None, json!({ "user_id": id })).await;
    expect_problem(r, StatusCode::FORBIDDEN, "approval_not_allowed").await;
    inactive(&app, "leader3").await;
}

#[tokio::test]
async fn an_expired_request_cannot_be_approved() {
    let app = TestApp::spawn_with(|s| s.approvals.expiry_minutes = 0).await;
    let (admin, chief1, chief2) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    let request = filed(&app, &chief1, &id).await;
    assert_eq!(request["status"], "expired");
    assert_eq!(
        (
            listed(&app, &chief2, "expired").await,
            listed(&app, &chief2, "pending").await
        ),
        (1, 0)
    );
    expect_problem(
        decide(&app, &chief2, &request, "approve").await,
        StatusCode::CONFLICT,
        "approval_expired",
    )
    .await;
    inactive(&app, "leader3").await;
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
    let ask = |payload: Value| ask_activation(&app, &chief1, None, payload);
    expect_problem(
        ask(json!({ "user": id })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_payload",
    )
    .await;
    expect_problem(
        ask(json!({ "user_id": "nobody" })).await,
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
        ask(json!({ "user_id": chief2_id })).await,
        StatusCode::CONFLICT,
        "already_active",
    )
    .await;
    assert_eq!(ask(json!({ "user_id": id })).await.status(), StatusCode::CREATED);
    expect_problem(
        ask(json!({ "user_id": id })).await,
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
    assert_eq!(listed(&app, &chief2, "pending").await, 1);
}

#[tokio::test]
async fn a_scoped_leader_is_activated_under_its_exam_and_sees_only_it() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    app.exam(&chief1, "GK").await;
    let q = json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 });
    assert_eq!(
        app.post("/api/v1/exams/GK/questions", Some(&chief1), q).await.status(),
        StatusCode::CREATED
    );
    let body =
        json!({ "username": "qleader", "password": PASSWORD, "role": "leader", "exam": "GK", "questions": ["W1"] });
    let r = app.post("/api/v1/users", Some(&admin), body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let r = ask_activation(&app, &chief1, Some("GK"), json!({ "user_id": id })).await;
    let request: Value = r.json().await.unwrap();
    assert_eq!(request["exam"], "GK");
    assert_eq!(
        decide(&app, &chief2, &request, "approve").await.status(),
        StatusCode::OK
    );
    let approved: Value = app
        .get("/api/v1/approvals?status=approved", Some(&chief1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approved[0]["exam"], "GK", "listed with its exam's code");
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
    // A scoped leader is not a chief: no new exams, and no say over approvals.
    expect_problem(
        app.post("/api/v1/exams", Some(&q), json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.get("/api/v1/approvals", Some(&q)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn two_chiefs_deciding_at_once_decide_once() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    let third = new_leader(&app, &admin, "chief3").await;
    let request = filed(&app, &chief1, &third).await;
    assert_eq!(
        decide(&app, &chief2, &request, "approve").await.status(),
        StatusCode::OK
    );
    let chief3 = app.login("chief3", None).await;

    let target = new_leader(&app, &admin, "leader4").await;
    let request = filed(&app, &chief1, &target).await;
    let (a, b) = tokio::join!(
        decide(&app, &chief2, &request, "approve"),
        decide(&app, &chief3, &request, "reject")
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let listed: Value = app
        .get("/api/v1/approvals?status=approved", Some(&chief1))
        .await
        .json()
        .await
        .unwrap();
    let approved_target = listed
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["payload"]["user_id"] == target);
    // The leader is active exactly when the approval won.
    let login = app.try_login("leader4", PASSWORD, None).await.status();
    assert_eq!(login == StatusCode::OK, approved_target);
}
