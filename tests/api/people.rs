//! Two people means two people: every account names one person, one person holds one account,
//! an account someone else made starts with a one-time password, and leaders and custodians
//! wait for a chief leader's approval.

use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, document_of, expect_problem};

async fn users_named(app: &TestApp, username: &str) -> bool {
    let name = username.to_string();
    app.db
        .read_now(move |c| markroom::db::users::find_by_username(c, &name))
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn one_person_cannot_hold_a_second_account_under_another_name() {
    let app = TestApp::spawn().await;
    let (admin, _, _) = app.staff().await;
    let body = |username: &str, doc: &str, role: &str| json!({ "username": username, "full_name": "Zhang Min", "id_document": doc, "role": role });
    let r = app
        .post(
            "/api/v1/users",
            Some(&admin),
            body("zhang.min", "330102 19800101 0011", "custodian"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // The same number typed another way, under another username and role.
    let r = app
        .post(
            "/api/v1/users",
            Some(&admin),
            body("zm2", "330102-19800101-0011", "admin"),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "person_has_account").await;
    assert!(
        !users_named(&app, "zm2").await,
        "nothing of the refused account is stored"
    );
    // The admin's own person cannot become a leader (an admin holds no other role).
    let mut as_chief = body("admin.as.chief", &document_of("admin"), "leader");
    as_chief["chief"] = json!(true);
    let r = app.post("/api/v1/users", Some(&admin), as_chief).await;
    expect_problem(r, StatusCode::CONFLICT, "person_has_account").await;
    // Bad people are refused with their field.
    let r = app
        .post("/api/v1/users", Some(&admin), body("nobody", "12", "custodian"))
        .await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_id_document").await;
    assert_eq!(p["field"], "id_document");
    // The number itself is never stored: only its keyed hash.
    let stored = app
        .db
        .read_now(|c| markroom::db::users::find_by_username(c, "zhang.min"))
        .unwrap()
        .unwrap();
    let hash = stored.id_document_hash.unwrap();
    assert!(!hash.contains("330102") && hash.len() == 64, "{hash}");
    let marker = app
        .post("/api/v1/users", Some(&admin), body("m1", "M0001", "marker"))
        .await;
    expect_problem(marker, StatusCode::UNPROCESSABLE_ENTITY, "role_not_creatable").await;
}

#[tokio::test]
async fn an_account_someone_else_made_acts_only_after_its_owner_sets_a_password() {
    let app = TestApp::spawn().await;
    let (admin, _, _) = app.staff().await;
    let (_, created) = app.create_staff(&admin, "admin2", "admin", json!({})).await;
    assert!(created.get("password").is_none());
    let otp = created["one_time_password"].as_str().unwrap().to_string();
    let r = app.try_login("admin2", &otp, None).await;
    let pair: Value = r.json().await.unwrap();
    assert_eq!(pair["password_change_required"], true);
    let first = Session {
        token: pair["access_token"].as_str().unwrap().into(),
        refresh: pair["refresh_token"].as_str().unwrap().into(),
        key: None,
    };
    let r = app.get("/api/v1/audit", Some(&first)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "password_change_required").await;
    let r = app
        .post("/api/v1/workstations", Some(&first), json!({ "name": "desk" }))
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "password_change_required").await;

    let change = |old: &str, new: &str| {
        app.post(
            "/api/v1/auth/password",
            Some(&first),
            json!({ "old_password": old, "new_password": new }),
        )
    };
    expect_problem(
        change("not the password", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "wrong_password",
    )
    .await;
    let p = expect_problem(
        change(&otp, "short").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak_password",
    )
    .await;
    assert_eq!(p["field"], "new_password");
    expect_problem(
        change(&otp, &otp).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "password_unchanged",
    )
    .await;
    let r = change(&otp, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let fresh: Value = r.json().await.unwrap();
    assert!(fresh.get("password_change_required").is_none());
    // Tokens from before the change are revoked; the fresh ones and the new password work.
    let r = app.get("/api/v1/audit", Some(&first)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let next = Session {
        token: fresh["access_token"].as_str().unwrap().into(),
        refresh: String::new(),
        key: None,
    };
    assert_eq!(app.get("/api/v1/audit", Some(&next)).await.status(), StatusCode::OK);
    assert_eq!(
        app.try_login("admin2", &otp, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login("admin2", None).await;
    let entries = app.audit_entries(&admin).await;
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "auth.password" && e["outcome"] == "ok")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "auth.password" && e["details"]["code"] == "wrong_password")
    );
}

async fn session_of(r: reqwest::Response) -> Session {
    let pair: Value = r.json().await.unwrap();
    Session {
        token: pair["access_token"].as_str().unwrap().into(),
        refresh: pair["refresh_token"].as_str().unwrap_or_default().into(),
        key: None,
    }
}

#[tokio::test]
async fn a_custodian_acts_only_after_setting_a_password_and_a_chief_s_approval() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    let (id, created) = app.create_staff(&admin, "cust1", "custodian", json!({})).await;
    assert_eq!(created["active"], false);
    let otp = created["one_time_password"].as_str().unwrap().to_string();
    let file = || {
        app.post(
            "/api/v1/approvals",
            Some(&chief1),
            json!({ "kind": "activate_staff", "payload": { "user_id": id } }),
        )
    };
    // Nobody may activate an account whose one-time password (which the admin saw) still works.
    expect_problem(file().await, StatusCode::CONFLICT, "password_not_set").await;

    // The owner logs in with it, though inactive, and can do nothing but set a password.
    let r = app.try_login("cust1", &otp, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let first = session_of(r).await;
    let r = app.get("/api/v1/exams/ANY", Some(&first)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "password_change_required").await;
    let r = app
        .post(
            "/api/v1/auth/password",
            Some(&first),
            json!({ "old_password": otp, "new_password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "set, but not yet active");
    // Now inactive for good until approved: a registered workstation learns why, nobody else.
    let desk = app.workstation(&admin, "custody desk").await;
    let r = app.try_login("cust1", PASSWORD, Some(&desk)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "account_inactive").await;
    let r = app.try_login("cust1", PASSWORD, None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let r = app.try_login("cust1", &otp, None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    let r = file().await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let filed: Value = r.json().await.unwrap();
    // What the second person sees before deciding: who asks, for whom, and what.
    let pending: Value = app.get("/api/v1/approvals", Some(&chief2)).await.json().await.unwrap();
    let seen = &pending[0];
    assert_eq!(seen["id"], filed["id"]);
    assert_eq!(seen["kind"], "activate_staff");
    assert_eq!(seen["requester"]["username"], "chief1");
    assert_eq!(seen["requester"]["full_name"], "Person chief1");
    assert_eq!(seen["subject"]["username"], "cust1");
    assert_eq!(seen["subject"]["full_name"], "Person cust1");
    assert_eq!(seen["subject"]["role"], "custodian");
    assert_eq!(seen["payload"]["user_id"], id.as_str());
    let approve = format!("/api/v1/approvals/{}/approve", filed["id"].as_str().unwrap());
    let decided: Value = app.post(&approve, Some(&chief2), json!({})).await.json().await.unwrap();
    assert_eq!(decided["status"], "approved");
    assert_eq!(decided["decider"]["username"], "chief2");
    assert_eq!(decided["decider"]["full_name"], "Person chief2");
    assert_eq!(decided["requester"]["full_name"], "Person chief1");
    app.login("cust1", None).await;
    let _ = Role::Custodian;
}

#[tokio::test]
async fn a_one_time_password_runs_out_and_an_admin_resets_it() {
    let app = TestApp::spawn().await;
    let (admin, _, _) = app.staff().await;
    let (id, created) = app.create_staff(&admin, "admin2", "admin", json!({})).await;
    let otp = created["one_time_password"].as_str().unwrap().to_string();
    app.clock
        .advance(chrono::Duration::minutes(app.settings.auth.one_time_password_minutes) + chrono::Duration::seconds(1));
    let r = app.try_login("admin2", &otp, None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let admin = app.login("admin", None).await;
    let r = app
        .post(&format!("/api/v1/users/{id}/password-reset"), Some(&admin), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let reset: Value = r.json().await.unwrap();
    let fresh = reset["one_time_password"].as_str().unwrap();
    assert_ne!(fresh, otp);
    app.set_own_password("admin2", fresh, None).await;
    let admin2 = app.login("admin2", None).await;
    // Nobody resets their own password this way, and an admin's reset of a leader puts the
    // leader back behind a chief's approval.
    let own = app
        .post(&format!("/api/v1/users/{id}/password-reset"), Some(&admin2), json!({}))
        .await;
    expect_problem(own, StatusCode::FORBIDDEN, "own_account").await;
    let chief2_id = app
        .db
        .read_now(|c| markroom::db::users::find_by_username(c, "chief2"))
        .unwrap()
        .unwrap()
        .id;
    let r = app
        .post(
            &format!("/api/v1/users/{chief2_id}/password-reset"),
            Some(&admin2),
            json!({}),
        )
        .await;
    let reset: Value = r.json().await.unwrap();
    assert_eq!(reset["active"], false);
    let r = app.try_login("chief2", PASSWORD, None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let entries = app.audit_entries(&admin).await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "user.password_reset" && e["outcome"] == "ok")
            .count(),
        2
    );
}
