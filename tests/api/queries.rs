use reqwest::{Method, StatusCode};

use crate::helpers::{Session, TestApp, expect_problem};

const MALFORMED: &[&str] = &[
    "/api/v1/audit?after=x",
    "/api/v1/audit?limit=many",
    "/api/v1/audit?colour=red",
    "/api/v1/approvals?colour=red",
    "/api/v1/approvals?status=pending&status=approved",
];

#[tokio::test]
async fn an_anonymous_caller_with_a_malformed_query_is_told_to_log_in() {
    let app = TestApp::spawn().await;
    for path in MALFORMED {
        expect_problem(app.get(path, None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        // Credentials of another scheme are no login either.
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .basic_auth("admin", Some("guess"))
            .send()
            .await
            .unwrap();
        expect_problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
}

/// The token is checked against the database, which takes longer than parsing the query; the
/// answer must still be about the token.
#[tokio::test]
async fn a_revoked_token_with_a_malformed_query_is_refused_as_revoked() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    for s in [&admin, &chief] {
        let r = app.call(Method::POST, "/api/v1/auth/logout", Some(s), None).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    for path in MALFORMED {
        for s in [&admin, &chief] {
            expect_problem(app.get(path, Some(s)).await, StatusCode::UNAUTHORIZED, "token_revoked").await;
        }
    }
}

#[tokio::test]
async fn a_logged_in_caller_learns_what_is_wrong_with_the_query() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    let callers: [(&str, &Session); 4] = [
        ("/api/v1/audit?after=x", &admin),
        ("/api/v1/audit?limit=many", &admin),
        ("/api/v1/approvals?colour=red", &chief),
        ("/api/v1/approvals?status=pending&status=approved", &chief),
    ];
    for (path, s) in callers {
        expect_problem(app.get(path, Some(s)).await, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
    assert_eq!(
        app.get("/api/v1/audit?after=0", Some(&admin)).await.status(),
        StatusCode::OK
    );
}
