use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem};

/// DESIGN.md section 5: the routes anyone may call. Everything else refuses an anonymous caller.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/token"),
    // A capability: the link itself is the credential (DESIGN.md section 5).
    ("GET", "/api/v1/images/{token}"),
];

#[tokio::test]
async fn every_route_outside_the_public_list_refuses_an_anonymous_caller() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    let paths = doc["paths"].as_object().expect("the document lists paths");
    let mut checked = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            let public = PUBLIC.iter().any(|(m, p)| *m == method && p == path);
            let secured = op.get("security").is_some();
            assert_eq!(
                !public, secured,
                "{method} {path}: the document's security must match the public list"
            );
            if public {
                continue;
            }
            let concrete = path
                .replace("{exam}", "GK")
                .replace("{id}", "00000000-0000-0000-0000-000000000000");
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let r = app.call(m, &concrete, None, Some(serde_json::json!({}))).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
            checked += 1;
        }
    }
    assert!(checked >= 14, "walked {checked} protected routes");
}

#[tokio::test]
async fn the_document_describes_bodies_responses_and_security() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for path in [
        "/api/v1/auth/login",
        "/api/v1/exams/{exam}/questions",
        "/api/v1/approvals/{id}/approve",
    ] {
        let op = &doc["paths"][path]["post"];
        assert!(op["requestBody"].is_object(), "{path} has a body");
        assert!(
            op["responses"].as_object().unwrap().len() >= 2,
            "{path} lists its answers"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let answers = op["responses"].as_object().unwrap();
            let mut needed = vec!["500"];
            if op.get("security").is_some() {
                needed.extend(["401", "403"]);
            }
            if op.get("requestBody").is_some() {
                needed.extend(["400", "413", "415", "422"]);
            }
            for code in needed {
                let problem = &answers
                    .get(code)
                    .unwrap_or_else(|| panic!("{method} {path} lacks {code}"))["content"];
                assert!(
                    problem.get("application/problem+json").is_some(),
                    "{method} {path} {code} is a problem"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_document_states_what_validation_enforces() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    let prop = |schema: &str, field: &str| schemas[schema]["properties"][field].clone();
    assert_eq!(prop("CreateExam", "code")["pattern"], "^[A-Za-z0-9_-]{1,32}$");
    let zones = prop("CreateExam", "time_zone")["enum"].as_array().unwrap().clone();
    assert!(zones.contains(&json!("Asia/Shanghai")) && zones.len() > 300);
    assert_eq!(prop("CreateQuestion", "kind")["enum"], json!(["essay", "short"]));
    assert_eq!(prop("CreateQuestion", "max_score")["multipleOf"].as_f64(), Some(0.01));
    assert_eq!(
        prop("CreateQuestion", "max_score")["exclusiveMinimum"].as_f64(),
        Some(0.0)
    );
    assert_eq!(prop("CreateQuestion", "marks_required")["maximum"].as_f64(), Some(9.0));
    assert_eq!(
        prop("TokenRequest", "grant_type")["enum"],
        json!(["client_credentials"])
    );
    assert_eq!(
        prop("CreateUser", "role")["enum"],
        json!(["admin", "leader", "custodian"])
    );
    assert_eq!(prop("Region", "x")["maximum"].as_f64(), Some(1.0));
    assert_eq!(prop("Region", "width")["exclusiveMinimum"].as_f64(), Some(0.0));
    assert_eq!(prop("SheetTemplate", "pages")["maximum"].as_f64(), Some(64.0));
    assert_eq!(prop("LoginRequest", "username")["maxLength"].as_f64(), Some(64.0));
    assert_eq!(
        prop("CreateApproval", "kind")["enum"],
        json!(["activate_staff", "activate_leader", "open_batch", "release_batch"])
    );
    let payload = &schemas["ApprovalPayload"]["oneOf"];
    assert!(
        payload.as_array().is_some_and(|p| !p.is_empty()),
        "the payload per kind is a oneOf"
    );
    // A rule that spans fields or depends on state is said in the operation's description.
    let op = &doc["paths"]["/api/v1/exams/{exam}/questions"]["post"];
    let said = format!("{} {}", op["summary"], op["description"]).replace("\\n", " ");
    assert!(said.contains("the step divides the maximum"), "{said}");
}
