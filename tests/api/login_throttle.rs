//! The brake on guessing passwords holds under concurrency, and what a login stores or audits
//! never holds a password typed into the username field.

use chrono::Duration;
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use markroom::db::DbError;
use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, expect_problem};

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(app: &TestApp, sql: &'static str) -> i64 {
    app.db
        .read_now(|c| diesel::sql_query(sql).get_result::<Count>(c).map_err(DbError::from))
        .unwrap()
        .n
}

#[tokio::test]
async fn two_hundred_wrong_logins_at_once_get_no_more_password_checks_than_the_limit() {
    let app = TestApp::spawn().await;
    app.bootstrap("admin", Role::Admin);
    let limit = u64::from(app.settings.auth.lock_after_failures);
    let before = app.counters.password_checks();
    let guesses: Vec<String> = (0..200).map(|i| format!("wrong guess number {i}")).collect();
    let attempts = guesses.iter().map(|g| app.try_login("admin", g, None));
    let answers = futures_util::future::join_all(attempts).await;
    let checks = app.counters.password_checks() - before;
    assert!(checks <= limit, "{checks} password checks for {limit} allowed failures");
    assert!(checks >= 1, "the first attempts were checked");
    let locked = answers
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let wrong = answers
        .iter()
        .filter(|r| r.status() == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((locked + wrong, wrong as u64), (200, checks));
    // Even the right password waits out the lock, and the lock ends on the server's clock.
    let r = app.try_login("admin", PASSWORD, None).await;
    expect_problem(r, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
    app.clock
        .advance(Duration::minutes(app.settings.auth.lockout_minutes) + Duration::seconds(1));
    app.login("admin", None).await;
}

#[tokio::test]
async fn a_password_typed_as_a_username_is_neither_stored_nor_audited() {
    let app = TestApp::spawn().await;
    let (admin, _, _) = app.staff().await;
    let secretish = "my secret pass phrase";
    let r = app.try_login(secretish, "whatever it is", None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let too_long = "x".repeat(65);
    let r = app.try_login(&too_long, "whatever it is", None).await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_username").await;
    assert_eq!(p["field"], "username");
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM login_throttle"),
        0,
        "no throttle row for either"
    );
    let entries = app.audit_entries(&admin).await;
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(secretish) && !text.contains(&too_long));
    // The malformed one is audited without its text; the too-long one not at all.
    let refused = entries
        .iter()
        .filter(|e| e["action"] == "auth.login" && e["outcome"] == "refused")
        .count();
    assert_eq!(refused, 1);
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "username": "admin", "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_password_that_looks_like_a_username_is_not_recorded_in_clear() {
    let app = TestApp::spawn().await;
    let (admin, _, _) = app.staff().await;
    let typed = "CorrectHorseBattery9";
    for _ in 0..3 {
        let r = app.try_login(typed, "whatever it is", None).await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let entries = app.audit_entries(&admin).await;
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(typed), "the audit log holds it only as a keyed hash");
    let recorded: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "auth.login" && e["outcome"] == "refused")
        .collect();
    assert_eq!(recorded.len(), 3);
    let first = recorded[0]["object_id"].as_str().unwrap();
    assert!(first.starts_with("#unknown:"), "{first}");
    assert!(
        recorded.iter().all(|e| e["object_id"] == first),
        "the same name, the same record"
    );
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        username: String,
    }
    let names: Vec<String> = app
        .db
        .read_now(|c| {
            diesel::sql_query("SELECT username FROM login_throttle")
                .load::<Name>(c)
                .map_err(DbError::from)
        })
        .unwrap()
        .into_iter()
        .map(|n| n.username)
        .collect();
    assert_eq!(names, vec![first.to_string()], "counted under the hash, three times");
    assert_eq!(
        count(&app, "SELECT CAST(failures AS BIGINT) AS n FROM login_throttle"),
        3
    );
    // A real username is still recorded by name, so the log says whose account was tried.
    let r = app.try_login("admin", "not the password", None).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let entries = app.audit_entries(&admin).await;
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "auth.login" && e["object_id"] == "admin")
    );
}
