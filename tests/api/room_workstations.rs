use chrono::{Duration, Utc};
use markroom::domain::role::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Session, TestApp, expect_problem};

#[tokio::test]
async fn markers_and_custodians_keep_to_the_workstation_they_logged_in_at() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    let desk_a = app.workstation(&admin, "desk A").await;
    let desk_b = app.workstation(&admin, "desk B").await;
    let now = Utc::now();
    let exam = json!({
        "code": "NOW", "name": "In marking", "time_zone": "Asia/Shanghai",
        "window_start": now - Duration::hours(1), "window_end": now + Duration::days(3),
    });
    assert_eq!(
        app.post("/api/v1/exams", Some(&chief), exam).await.status(),
        StatusCode::CREATED
    );
    app.open_room("chief1", &desk_a, "NOW").await;

    for (who, role) in [("marker1", Role::Marker), ("custodian1", Role::Custodian)] {
        app.insert_account(who, role);
        let at_a = app.login(who, Some(&desk_a)).await;
        let at_b = Session {
            key: Some(desk_b.clone()),
            ..at_a.clone()
        };
        // Desk B is registered too: the token is refused because it is desk A's.
        let r = app.get("/api/v1/exams/NOW", Some(&at_b)).await;
        expect_problem(r, StatusCode::FORBIDDEN, "workstation_mismatch").await;
        let r = app.get("/api/v1/approvals?colour=red", Some(&at_b)).await;
        expect_problem(r, StatusCode::FORBIDDEN, "workstation_mismatch").await;
        let r = app.call(Method::POST, "/api/v1/auth/logout", Some(&at_b), None).await;
        expect_problem(r, StatusCode::FORBIDDEN, "workstation_mismatch").await;
        // Back at desk A the same token still works (the refused logout revoked nothing).
        let r = app.call(Method::POST, "/api/v1/auth/logout", Some(&at_a), None).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{who} at desk A");
    }
}
