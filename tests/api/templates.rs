use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};

fn region(page: u32, x: f64, y: f64, width: f64, height: f64) -> Value {
    json!({ "page": page, "x": x, "y": y, "width": width, "height": height })
}

/// A sound two-page sheet placing questions W1 and W2 on page 1.
fn sheet() -> Value {
    json!({
        "pages": 2,
        "anchors": [region(0, 0.0, 0.0, 0.05, 0.05), region(1, 0.0, 0.0, 0.05, 0.05)],
        "masks": [
            { "kind": "name", "region": region(0, 0.1, 0.02, 0.3, 0.05) },
            { "kind": "admission_number", "region": region(0, 0.5, 0.02, 0.3, 0.05) }
        ],
        "questions": [
            { "question": "W1", "region": region(1, 0.05, 0.1, 0.9, 0.4) },
            { "question": "W2", "region": region(1, 0.05, 0.5, 0.9, 0.45) }
        ]
    })
}

async fn put(app: &TestApp, chief: &Session, body: Value) -> reqwest::Response {
    app.call(Method::PUT, "/api/v1/exams/GK/template", Some(chief), Some(body))
        .await
}

/// Each broken sheet, the field the refusal names, and the code it carries.
fn broken_sheets() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let with = |pointer: &str, value: Value| {
        let mut t = sheet();
        *t.pointer_mut(pointer).unwrap() = value;
        t
    };
    vec![
        (
            "placed twice",
            with("/questions/1/question", json!("W1")),
            "invalid_template",
            "questions[1].question",
        ),
        (
            "unknown question",
            with("/questions/0/question", json!("Q9")),
            "invalid_template",
            "questions[0].question",
        ),
        (
            "negative width",
            with("/questions/0/region/width", json!(-0.2)),
            "invalid_template",
            "questions[0]",
        ),
        (
            "negative height",
            with("/masks/1/region/height", json!(-0.05)),
            "invalid_template",
            "masks[1]",
        ),
        (
            "zero size",
            with("/anchors/1/width", json!(0.0)),
            "invalid_template",
            "anchors[1]",
        ),
        (
            "negative position",
            with("/masks/0/region/x", json!(-0.1)),
            "invalid_template",
            "masks[0]",
        ),
        (
            "off the right edge",
            with("/questions/1/region/x", json!(0.5)),
            "invalid_template",
            "questions[1]",
        ),
        (
            "off the bottom",
            with("/questions/0/region/y", json!(0.7)),
            "invalid_template",
            "questions[0]",
        ),
        (
            "no such page",
            with("/questions/0/region/page", json!(2)),
            "invalid_template",
            "questions[0]",
        ),
        (
            "negative page",
            with("/questions/0/region/page", json!(-1)),
            "invalid_value",
            "questions[0].region.page",
        ),
        (
            "far off the page",
            with("/anchors/0/x", json!(1e308)),
            "invalid_template",
            "anchors[0]",
        ),
    ]
}

#[tokio::test]
async fn every_template_rule_is_kept_through_the_api() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    for code in ["W1", "W2"] {
        let q = json!({ "code": code, "kind": "essay", "max_score": 60, "step": 1 });
        let r = app.post("/api/v1/exams/GK/questions", Some(&chief), q).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    assert_eq!(put(&app, &chief, sheet()).await.status(), StatusCode::OK);

    for (what, body, code, field) in broken_sheets() {
        let p = expect_problem(put(&app, &chief, body).await, StatusCode::UNPROCESSABLE_ENTITY, code).await;
        assert_eq!(p["field"], field, "{what}: {p}");
    }
    let exam: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    assert_eq!(exam["template"], sheet(), "no refused template replaced the stored one");
}
