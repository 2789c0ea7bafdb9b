use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};

async fn raw(app: &TestApp, s: &Session, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/exams/GK/questions", app.base))
        .bearer_auth(&s.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_malformed_input_gets_a_problem_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    let before = app.audit_entries(&admin).await.len();

    let json_ct = "application/json";
    let p = expect_problem(
        raw(&app, &chief, json_ct, b"{\"code\": ".to_vec()).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert!(p.get("field").is_none());
    let trailing = br#"{"code":"W1","kind":"essay","max_score":60,"step":1} {}"#.to_vec();
    expect_problem(
        raw(&app, &chief, json_ct, trailing).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    expect_problem(
        raw(&app, &chief, json_ct, vec![]).await,
        StatusCode::BAD_REQUEST,
        "missing_body",
    )
    .await;
    let good = br#"{"code":"W1","kind":"essay","max_score":60,"step":1}"#.to_vec();
    expect_problem(
        raw(&app, &chief, "text/plain", good.clone()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let cases = [
        (
            json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1, "colour": "red" }),
            "unknown_field",
            "colour",
        ),
        (
            json!({ "code": "W1", "kind": "essay", "step": 1 }),
            "missing_field",
            "max_score",
        ),
        (
            json!({ "code": "W1", "kind": "essay", "max_score": "sixty", "step": 1 }),
            "invalid_type",
            "max_score",
        ),
        (
            json!({ "code": "W1", "kind": "poem", "max_score": 60, "step": 1 }),
            "invalid_value",
            "kind",
        ),
        (
            json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1, "criteria": [{ "code": "a", "name": "b", "max": -1 }] }),
            "invalid_value",
            "criteria[0].max",
        ),
        (json!([1, 2]), "invalid_type", ""),
    ];
    for (body, code, field) in cases {
        let r = raw(&app, &chief, json_ct, serde_json::to_vec(&body).unwrap()).await;
        let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, code).await;
        assert_eq!(p["field"].as_str().unwrap_or_default(), field, "{body}");
    }

    let big = format!(
        r#"{{"code":"W1","kind":"essay","max_score":60,"step":1,"criteria":[{}]}}"#,
        "{\"code\":\"a\",\"name\":\"b\",\"max\":1},".repeat(40_000)
    );
    expect_problem(
        raw(&app, &chief, json_ct, big.into_bytes()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    )
    .await;

    // None of it stored a question or wrote an audit entry beyond the admin's own reads.
    let exam: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    assert_eq!(exam["questions"], json!([]));
    let after: Vec<Value> = app.audit_entries(&admin).await;
    let changes = after[before..].iter().filter(|e| e["action"] != "audit.read").count();
    assert_eq!(changes, 0, "{:?}", &after[before..]);
    assert_eq!(raw(&app, &chief, json_ct, good).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems_too() {
    let app = TestApp::spawn().await;
    expect_problem(
        app.get("/api/v1/nothing-here", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(app.get("/nowhere", None).await, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.call(Method::DELETE, "/api/v1/exams/GK", None, None).await;
    assert_eq!(r.headers().get("allow").unwrap(), "GET");
    expect_problem(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let r = app.get("/api/v1/auth/login", None).await;
    expect_problem(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let r = app.get("/api/v1/audit?after=banana", None).await;
    assert!(r.status().is_client_error());
    assert!(
        r.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
}

#[tokio::test]
async fn health_answers_with_a_database_round_trip() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("x-request-id").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let expected = if app.settings.postgres_url().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body["database"], expected);
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
}
