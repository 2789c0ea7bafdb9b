use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, expect_problem};

/// A chief leader account an admin made, whose owner has set their own password (as they must
/// before a chief may file its activation). Returns its id; it starts inactive.
async fn new_leader(app: &TestApp, admin: &Session, username: &str) -> String {
    let (id, body) = app
        .create_staff(admin, username, "leader", json!({ "chief": true }))
        .await;
    assert_eq!(body["active"], false, "leaders start inactive");
    app.set_own_password(username, body["one_time_password"].as_str().unwrap(), None)
        .await;
    id
}

/// Files `activate_staff` (by its older name, still accepted) for `user_id`, under an exam
/// when one is named.
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

/// The right password of an inactive account opens nothing: from a registered workstation the
/// answer says why; from anywhere else it is the wrong-password answer.
async fn inactive(app: &TestApp, admin: &Session, username: &str) {
    let password = PASSWORD;
    let key = app
        .workstation(admin, &format!("desk of {username} {}", uuid::Uuid::new_v4()))
        .await;
    let r = app.try_login(username, password, Some(&key)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "account_inactive").await;
    let r = app.try_login(username, password, None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_new_leader_acts_only_after_a_different_chief_approves() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    inactive(&app, &admin, "leader3").await;

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
    inactive(&app, &admin, "leader3").await;

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
    inactive(&app, &admin, "leader3").await;
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
    app.insert_account("custodian1", markroom::domain::role::Role::Custodian);
    let cust = app.login("custodian1", None).await;
    expect_problem(
        decide(&app, &cust, &request, "approve").await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    // Nor may a custodian ask for it.
    let r = ask_activation(&app, &cust, None, json!({ "user_id": id })).await;
    expect_problem(r, StatusCode::FORBIDDEN, "approval_not_allowed").await;
    inactive(&app, &admin, "leader3").await;
}

#[tokio::test]
async fn an_expired_request_cannot_be_approved() {
    let app = TestApp::spawn().await;
    let (admin, chief1, _) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    let request = filed(&app, &chief1, &id).await;
    assert_eq!(request["status"], "pending");
    // A day passes (the default expiry) on the server's clock; tokens are refreshed as a
    // workstation would, since an access token lasts half an hour.
    app.clock
        .advance(chrono::Duration::minutes(app.settings.approvals.expiry_minutes) + chrono::Duration::seconds(1));
    let admin = app.login("admin", None).await;
    let chief1 = app.login("chief1", None).await;
    let chief2 = app.login("chief2", None).await;
    let request: Value = app
        .get("/api/v1/approvals?status=expired", Some(&chief1))
        .await
        .json::<Value>()
        .await
        .unwrap()[0]
        .clone();
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
    inactive(&app, &admin, "leader3").await;
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
    let (id, created) = app
        .create_staff(
            &admin,
            "qleader",
            "leader",
            json!({ "exam": "GK", "questions": ["W1"] }),
        )
        .await;
    let otp = created["one_time_password"].as_str().unwrap().to_string();
    app.set_own_password("qleader", &otp, None).await;
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

/// The decided rows of one request: (status, decided_by).
fn stored_decision(app: &TestApp, id: &str) -> (String, Option<String>) {
    let id = id.to_string();
    let row = app.db.read_now(move |c| markroom::db::approvals::find(c, &id)).unwrap();
    (row.status, row.decided_by)
}

#[tokio::test]
async fn two_chiefs_deciding_at_once_decide_once() {
    let app = TestApp::spawn_with(|s| s.http.workers = 2).await;
    let (admin, chief1, chief2) = app.staff().await;
    let third = new_leader(&app, &admin, "chief3").await;
    let request = filed(&app, &chief1, &third).await;
    assert_eq!(
        decide(&app, &chief2, &request, "approve").await.status(),
        StatusCode::OK
    );
    let chief3 = app.login("chief3", None).await;
    let ids = app
        .db
        .read_now(|c| markroom::db::users::find_by_username(c, "chief2"))
        .unwrap()
        .unwrap()
        .id;
    let chief2_id = ids;

    // Several rounds, so that on PostgreSQL (where two transactions really overlap) the race is met.
    for round in 0..5 {
        let username = format!("leader{round}");
        let target = new_leader(&app, &admin, &username).await;
        let request = filed(&app, &chief1, &target).await;
        let (a, b) = tokio::join!(
            decide(&app, &chief2, &request, "approve"),
            decide(&app, &chief3, &request, "reject")
        );
        let (winner, loser) = if a.status() == StatusCode::OK { (a, b) } else { (b, a) };
        assert_eq!(winner.status(), StatusCode::OK);
        let won: Value = winner.json().await.unwrap();
        expect_problem(loser, StatusCode::CONFLICT, "approval_decided").await;
        // Exactly the winner's decision is stored, and the account follows it.
        let (status, by) = stored_decision(&app, request["id"].as_str().unwrap());
        assert_eq!(status, won["status"].as_str().unwrap());
        assert_eq!(by.as_deref(), won["decided_by"].as_str());
        assert_eq!(status == "approved", by.as_deref() == Some(chief2_id.as_str()));
        let login = app.try_login(&username, PASSWORD, None).await.status();
        assert_eq!(login == StatusCode::OK, status == "approved");
    }
}

#[tokio::test]
async fn the_same_request_filed_twice_at_once_stands_once() {
    let app = TestApp::spawn_with(|s| s.http.workers = 2).await;
    let (admin, chief1, chief2) = app.staff().await;
    for round in 0..5 {
        let target = new_leader(&app, &admin, &format!("leader{round}")).await;
        let payload = json!({ "user_id": target });
        let (a, b) = tokio::join!(
            ask_activation(&app, &chief1, None, payload.clone()),
            ask_activation(&app, &chief2, None, payload.clone())
        );
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
        let refused = if a.status() == StatusCode::CONFLICT { a } else { b };
        expect_problem(refused, StatusCode::CONFLICT, "approval_pending").await;
    }
    assert_eq!(listed(&app, &chief1, "pending").await, 5);
}

#[tokio::test]
async fn an_approval_is_recorded_before_its_effect_so_database_rules_see_it() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    // A database rule of the kind the results issue adds for locking: activating an account
    // needs an approved request naming it, already in the table.
    let rule = match app.db.backend() {
        markroom::db::Backend::Sqlite => vec![
            "CREATE TRIGGER activation_needs_approval BEFORE UPDATE OF active ON users \
             WHEN NEW.active AND NOT OLD.active AND NOT EXISTS (SELECT 1 FROM account_approvals \
               WHERE status = 'approved' AND payload LIKE '%' || NEW.id || '%') \
             BEGIN SELECT RAISE(ABORT, 'activation without an approved request'); END",
        ],
        markroom::db::Backend::Postgres => vec![
            "CREATE FUNCTION activation_needs_approval() RETURNS trigger AS $$ BEGIN \
               IF NEW.active AND NOT OLD.active AND NOT EXISTS (SELECT 1 FROM account_approvals \
                 WHERE status = 'approved' AND payload LIKE '%' || NEW.id || '%') THEN \
                 RAISE EXCEPTION 'activation without an approved request'; END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER activation_needs_approval BEFORE UPDATE ON users \
             FOR EACH ROW EXECUTE FUNCTION activation_needs_approval()",
        ],
    };
    for sql in rule {
        app.as_owner(sql);
    }
    let id = new_leader(&app, &admin, "leader3").await;
    let request = filed(&app, &chief1, &id).await;
    let r = decide(&app, &chief2, &request, "approve").await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    app.login("leader3", None).await;
}

#[tokio::test]
async fn a_database_failure_while_deciding_is_not_reported_as_already_decided() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    let id = new_leader(&app, &admin, "leader3").await;
    let request = filed(&app, &chief1, &id).await;
    // The database refuses every change to approvals (a fault the service did not cause).
    let rule = match app.db.backend() {
        markroom::db::Backend::Sqlite => vec![
            "CREATE TRIGGER approvals_frozen BEFORE UPDATE ON account_approvals \
             BEGIN SELECT RAISE(ABORT, 'approvals are read-only now'); END",
        ],
        markroom::db::Backend::Postgres => vec![
            "CREATE FUNCTION approvals_frozen() RETURNS trigger AS $$ BEGIN \
               RAISE EXCEPTION 'approvals are read-only now'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER approvals_frozen BEFORE UPDATE ON account_approvals \
             FOR EACH ROW EXECUTE FUNCTION approvals_frozen()",
        ],
    };
    for sql in rule {
        app.as_owner(sql);
    }
    let r = decide(&app, &chief2, &request, "approve").await;
    expect_problem(r, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    let (status, by) = stored_decision(&app, request["id"].as_str().unwrap());
    assert_eq!(
        (status.as_str(), by),
        ("pending", None),
        "nothing of the decision stands"
    );
    inactive(&app, &admin, "leader3").await;
}
