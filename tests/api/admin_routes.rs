use markroom::domain::role::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem};
use crate::storage::count_rows;

const STORED_BY_ADMINS: &[&str] = &["users", "workstations", "service_clients", "service_client_exams"];

fn counts(app: &TestApp) -> Vec<i64> {
    STORED_BY_ADMINS.iter().map(|t| count_rows(app, t)).collect()
}

/// Every operation the OpenAPI document tags `admin`, as (method, concrete path).
async fn admin_operations(app: &TestApp) -> Vec<(Method, String)> {
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    let mut found = vec![];
    for (path, ops) in doc["paths"].as_object().expect("the document lists paths") {
        for (method, op) in ops.as_object().unwrap() {
            let tags = op["tags"].as_array().cloned().unwrap_or_default();
            if tags.iter().any(|t| t == "admin") {
                let concrete = path
                    .replace("{exam}", "GK")
                    .replace("{id}", "00000000-0000-0000-0000-000000000000");
                found.push((Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), concrete));
            }
        }
    }
    found
}

#[tokio::test]
async fn every_admin_route_refuses_other_roles_before_reading_the_body() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    app.insert_account("custodian1", Role::Custodian);
    let custodian = app.login("custodian1", None).await;
    let before = counts(&app);

    let operations = admin_operations(&app).await;
    assert!(operations.len() >= 4, "walked {operations:?}");
    for (method, path) in &operations {
        // An empty body is invalid for every admin route: a 403 means the role was checked first.
        let body = (*method != Method::GET).then(|| json!({}));
        for (who, s) in [("a chief leader", &chief), ("a custodian", &custodian)] {
            let r = app.call(method.clone(), path, Some(s), body.clone()).await;
            let p = expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
            assert!(p.get("field").is_none(), "{method} {path} as {who}: {p}");
        }
    }
    assert_eq!(counts(&app), before, "nothing was stored in {STORED_BY_ADMINS:?}");
}
