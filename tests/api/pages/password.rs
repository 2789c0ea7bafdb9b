//! The first-login password change, asked for by the page itself.

use serde_json::json;

use super::{demo, session_of};
use crate::helpers::TestApp;

#[tokio::test]
async fn an_account_made_by_an_admin_chooses_its_own_password_in_the_page_before_anything_opens() {
    let app = TestApp::spawn().await;
    let file = demo(&app);
    let admin_account = &file["accounts"]["admin"][0];
    let admin = session_of(&app, admin_account).await;
    let (id, created) = app.create_staff(&admin, "new-custodian", "custodian", json!({})).await;
    let fixture = json!({
        "account": {
            "username": "new-custodian",
            "password": created["one_time_password"],
            "workstation_key": admin_account["workstation_key"],
        },
        "new_password": "my own long passphrase 7",
    });
    let mut run = super::Scenario::start(&app, "password", fixture);
    run.reached("activate").await;
    let chiefs = &file["accounts"]["chief_leaders"];
    let (chief1, chief2) = (session_of(&app, &chiefs[0]).await, session_of(&app, &chiefs[1]).await);
    let r = app
        .post(
            "/api/v1/approvals",
            Some(&chief1),
            json!({ "kind": "activate_staff", "payload": { "user_id": id } }),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::CREATED, "{}", r.text().await.unwrap());
    let request: serde_json::Value = r.json().await.unwrap();
    let approval = request["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            Some(&chief2),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK, "{}", r.text().await.unwrap());
    run.done("activate");
    run.finish().await;
    let r = app
        .try_login(
            "new-custodian",
            "my own long passphrase 7",
            admin_account["workstation_key"].as_str(),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
}
