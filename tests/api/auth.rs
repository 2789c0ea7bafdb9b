use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, expect_problem};

#[tokio::test]
async fn login_gives_tokens_that_open_the_door() {
    let app = TestApp::spawn().await;
    app.bootstrap("admin", Role::Admin);
    let r = app.try_login("admin", PASSWORD, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["role"], "admin");
    assert_eq!(body["expires_in"], 30 * 60);
    let s = Session {
        token: body["access_token"].as_str().unwrap().into(),
        refresh: body["refresh_token"].as_str().unwrap().into(),
        key: None,
    };
    let r = app
        .post("/api/v1/workstations", Some(&s), json!({ "name": "desk 1" }))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.bootstrap("admin", Role::Admin);
    let a = expect_problem(
        app.try_login("admin", "not the password", None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let b = expect_problem(
        app.try_login("nobody", "not the password", None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(a["detail"], b["detail"]);
}

#[tokio::test]
async fn refresh_trades_a_refresh_token_for_a_fresh_pair() {
    let app = TestApp::spawn().await;
    app.bootstrap("admin", Role::Admin);
    let s = app.login("admin", None).await;
    let r = app
        .post("/api/v1/auth/refresh", None, json!({ "refresh_token": s.refresh }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let fresh = Session {
        token: body["access_token"].as_str().unwrap().into(),
        refresh: body["refresh_token"].as_str().unwrap().into(),
        key: None,
    };
    assert_ne!(fresh.token, s.token);
    assert_eq!(
        app.post("/api/v1/workstations", Some(&fresh), json!({ "name": "d" }))
            .await
            .status(),
        StatusCode::CREATED
    );
    // An access token is not a refresh token, nor the other way round.
    let r = app
        .post("/api/v1/auth/refresh", None, json!({ "refresh_token": s.token }))
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let as_access = Session {
        token: s.refresh.clone(),
        refresh: String::new(),
        key: None,
    };
    let r = app
        .post("/api/v1/workstations", Some(&as_access), json!({ "name": "e" }))
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn repeated_failures_lock_the_username_even_for_the_right_password() {
    let app = TestApp::spawn_with(|s| {
        s.auth.slow_after_failures = 1;
        s.auth.lock_after_failures = 3;
    })
    .await;
    app.bootstrap("admin", Role::Admin);
    for _ in 0..3 {
        let r = app.try_login("admin", "wrong password!!", None).await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let r = app.try_login("admin", PASSWORD, None).await;
    assert!(r.headers().get("retry-after").is_some());
    expect_problem(r, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
    // The lock is per username: another account is unaffected.
    app.bootstrap("admin2", Role::Admin);
    app.login("admin2", None).await;
    // Every refusal is in the audit log, without the password.
    let admin2 = app.login("admin2", None).await;
    let entries = app.audit_entries(&admin2).await;
    let refused: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "auth.login" && e["outcome"] == "refused")
        .collect();
    assert_eq!(refused.len(), 4, "three wrong passwords and one locked attempt");
    assert!(!entries.iter().any(|e| e.to_string().contains("wrong password")));
}

#[tokio::test]
async fn logging_out_revokes_every_token_of_the_account_at_once() {
    let app = TestApp::spawn().await;
    app.bootstrap("admin", Role::Admin);
    let first = app.login("admin", None).await;
    let second = app.login("admin", None).await;
    let r = app
        .call(reqwest::Method::POST, "/api/v1/auth/logout", Some(&first), None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for s in [&first, &second] {
        let r = app.post("/api/v1/workstations", Some(s), json!({ "name": "x" })).await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "token_revoked").await;
        let r = app
            .post("/api/v1/auth/refresh", None, json!({ "refresh_token": s.refresh }))
            .await;
        expect_problem(r, StatusCode::UNAUTHORIZED, "token_revoked").await;
    }
    let again = app.login("admin", None).await;
    assert_eq!(
        app.post("/api/v1/workstations", Some(&again), json!({ "name": "x" }))
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let app = TestApp::spawn().await;
    app.bootstrap("admin", Role::Admin);
    let s = app.login("admin", None).await;
    let mut parts: Vec<String> = s.token.split('.').map(str::to_string).collect();
    parts[2] = parts[2].chars().rev().collect();
    let forged = Session {
        token: parts.join("."),
        refresh: String::new(),
        key: None,
    };
    let r = app
        .post("/api/v1/workstations", Some(&forged), json!({ "name": "x" }))
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn admissions_clients_exchange_their_secret_for_a_scoped_token() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK2026").await;
    let r = app
        .post(
            "/api/v1/service-clients",
            Some(&admin),
            json!({ "name": "Province admissions", "exams": ["GK2026"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let client: Value = r.json().await.unwrap();
    let grant = json!({ "grant_type": "client_credentials", "client_id": client["client_id"], "client_secret": client["client_secret"] });
    let r = app.post("/api/v1/auth/token", None, grant).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["role"], "admissions");
    assert!(body.get("refresh_token").is_none());
    let service = Session {
        token: body["access_token"].as_str().unwrap().into(),
        refresh: String::new(),
        key: None,
    };
    // A service token opens nothing meant for people.
    let r = app.get("/api/v1/exams/GK2026", Some(&service)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let wrong =
        json!({ "grant_type": "client_credentials", "client_id": client["client_id"], "client_secret": "guess" });
    expect_problem(
        app.post("/api/v1/auth/token", None, wrong).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    let r = app
        .post(
            "/api/v1/service-clients",
            Some(&admin),
            json!({ "name": "Other", "exams": ["NOPE"] }),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "unknown_exam").await;
}

/// A token signed with the server's own key, with chosen claims.
fn signed(secret: &str, sub: &str, ver: i32, exp_offset_secs: i64) -> Session {
    use markroom::http::tokens::{Claims, TokenKind};
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: sub.into(),
        role: Role::Admin,
        ver,
        typ: TokenKind::Access,
        ws: None,
        exams: vec![],
        iat: now,
        exp: now + exp_offset_secs,
        jti: "test".into(),
    };
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap();
    Session {
        token,
        refresh: String::new(),
        key: None,
    }
}

#[tokio::test]
async fn expired_tokens_and_tokens_of_no_account_are_refused() {
    let secret = "a test signing key of enough length";
    let app = TestApp::spawn_with(|s| s.auth.token_secret = Some(secret.into())).await;
    let id = app.bootstrap("admin", Role::Admin);
    let body = json!({ "name": "desk" });
    // The same claims work while valid, so the refusals below are about expiry and the account.
    let fresh = signed(secret, &id, 1, 600);
    assert_eq!(
        app.post("/api/v1/workstations", Some(&fresh), body.clone())
            .await
            .status(),
        StatusCode::CREATED
    );
    let expired = signed(secret, &id, 1, -600);
    expect_problem(
        app.post("/api/v1/workstations", Some(&expired), body.clone()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let nobody = signed(secret, "no-such-user", 1, 600);
    expect_problem(
        app.post("/api/v1/workstations", Some(&nobody), body.clone()).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    let old_version = signed(secret, &id, 0, 600);
    expect_problem(
        app.post("/api/v1/workstations", Some(&old_version), body).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
}

#[tokio::test]
async fn an_access_token_ends_on_the_server_clock_and_a_forged_one_is_audited() {
    let app = TestApp::spawn().await;
    let (admin, _, _) = app.staff().await;
    assert_eq!(app.get("/api/v1/audit", Some(&admin)).await.status(), StatusCode::OK);
    app.clock
        .advance(chrono::Duration::minutes(app.settings.auth.access_token_minutes) + chrono::Duration::seconds(10));
    let r = app.get("/api/v1/audit", Some(&admin)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // The refresh token lives on (a working day), and trades for a fresh pair.
    let r = app
        .post("/api/v1/auth/refresh", None, json!({ "refresh_token": admin.refresh }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let forged = Session {
        token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA".into(),
        refresh: String::new(),
        key: None,
    };
    let r = app.get("/api/v1/audit", Some(&forged)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let admin = app.login("admin", None).await;
    let entries = app.audit_entries(&admin).await;
    let refused = entries
        .iter()
        .filter(|e| e["action"] == "auth.token" && e["outcome"] == "refused" && e["details"]["code"] == "invalid_token")
        .count();
    assert_eq!(refused, 2, "the expired and the forged token");
}
