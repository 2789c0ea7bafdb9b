use chrono::{Duration, Utc};
use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, Session, TestApp, expect_problem};

/// Opens a marking window around now, as chief1, and returns chief1's stale session.
async fn open_window(app: &TestApp, chief: &Session) {
    let r = app
        .post(
            "/api/v1/exams",
            Some(chief),
            json!({
                "code": "NOW", "name": "In marking", "time_zone": "Asia/Shanghai",
                "window_start": Utc::now() - Duration::hours(1), "window_end": Utc::now() + Duration::days(3),
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn in_the_window_room_staff_log_in_only_at_a_registered_workstation() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    let desk = app.workstation(&admin, "Room 1 desk 1").await;
    app.insert_account("marker1", Role::Marker);
    open_window(&app, &chief).await;
    app.open_room("chief1", &desk, "NOW").await;

    // Admins too: an admin account makes accounts and keys, so it works from the room.
    for who in ["marker1", "chief2", "admin"] {
        // Without a registered workstation the right password gets the wrong-password answer:
        // nothing tells an outsider the password was right.
        let r = app.try_login(who, PASSWORD, None).await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let r = app.try_login(who, PASSWORD, Some("not-a-registered-key")).await;
        expect_problem(r, StatusCode::FORBIDDEN, "workstation_unknown").await;
        app.login(who, Some(&desk)).await;
    }
    // The admin's token from before the window needs a workstation now.
    let r = app.get("/api/v1/audit", Some(&admin)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "workstation_required").await;
}

#[tokio::test]
async fn in_the_window_every_request_carries_the_token_s_own_workstation_key() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    let desk1 = app.workstation(&admin, "desk 1").await;
    let desk2 = app.workstation(&admin, "desk 2").await;
    open_window(&app, &chief).await;

    // A token from before the window opened, with no workstation, no longer works.
    let r = app.get("/api/v1/exams/NOW", Some(&chief)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "workstation_required").await;

    let at_desk1 = app.login("chief1", Some(&desk1)).await;
    assert_eq!(
        app.get("/api/v1/exams/NOW", Some(&at_desk1)).await.status(),
        StatusCode::OK
    );
    let without_key = Session {
        key: None,
        ..at_desk1.clone()
    };
    expect_problem(
        app.get("/api/v1/exams/NOW", Some(&without_key)).await,
        StatusCode::FORBIDDEN,
        "workstation_mismatch",
    )
    .await;
    let other_key = Session {
        key: Some(desk2.clone()),
        ..at_desk1.clone()
    };
    expect_problem(
        app.get("/api/v1/exams/NOW", Some(&other_key)).await,
        StatusCode::FORBIDDEN,
        "workstation_mismatch",
    )
    .await;
    // Refreshing needs the same workstation too.
    let refresh_at = |key: &str| {
        app.client
            .post(format!("{}/api/v1/auth/refresh", app.base))
            .header("X-Workstation-Key", key)
            .json(&json!({ "refresh_token": at_desk1.refresh }))
            .send()
    };
    let r = refresh_at(&desk2).await.unwrap();
    expect_problem(r, StatusCode::FORBIDDEN, "workstation_mismatch").await;
    let r = refresh_at(&desk1).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The refusals were audited, with the workstation the token belongs to.
    let entries = app.audit_entries(&app.login("admin", Some(&desk1)).await).await;
    let refused = entries
        .iter()
        .filter(|e| e["action"] == "auth.workstation" && e["outcome"] == "refused")
        .count();
    assert!(refused >= 3, "{refused} workstation refusals audited");
    let _ = admin;
}

#[tokio::test]
async fn outside_any_window_no_workstation_is_needed() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    app.exam(&chief, "LATER").await;
    app.insert_account("custodian1", Role::Custodian);
    app.login("custodian1", None).await;
    // Markers are the exception: they work only while a room is open.
    let (admin, _, _) = (app.login("admin", None).await, (), ());
    let desk = app.workstation(&admin, "desk").await;
    app.insert_account("marker1", Role::Marker);
    let r = app.try_login("marker1", PASSWORD, Some(&desk)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "room_closed").await;
    assert_eq!(
        app.get("/api/v1/exams/LATER", Some(&chief)).await.status(),
        StatusCode::OK
    );
}
