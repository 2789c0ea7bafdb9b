use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};
use crate::storage::count_rows;

const SECRET: &str = "the server's own signing key, long enough";

fn claims(sub: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": sub, "role": "admin", "ver": 1, "typ": "access", "iat": now, "exp": now + 600, "jti": "forged" })
}

fn signed(alg: jsonwebtoken::Algorithm, secret: &str, claims: &Value) -> Session {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &key).unwrap();
    bearer(token)
}

/// What an attacker without any key can send: the header says no signature is needed.
fn unsigned(claims: &Value) -> Session {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    bearer(format!("{header}.{body}."))
}

fn bearer(token: String) -> Session {
    Session {
        token,
        refresh: String::new(),
        key: None,
    }
}

async fn create(app: &TestApp, s: &Session, name: &str) -> reqwest::Response {
    app.post("/api/v1/workstations", Some(s), json!({ "name": name })).await
}

#[tokio::test]
async fn only_tokens_signed_with_the_server_s_key_and_algorithm_are_accepted() {
    let app = TestApp::spawn_with(|s| s.auth.token_secret = Some(SECRET.into())).await;
    let claims = claims(&app.bootstrap("admin", Role::Admin));
    // The same claims under the server's key work, so each refusal below is about the signature.
    let own = signed(jsonwebtoken::Algorithm::HS256, SECRET, &claims);
    assert_eq!(create(&app, &own, "desk 1").await.status(), StatusCode::CREATED);

    let forgeries = [
        (
            "another key",
            signed(
                jsonwebtoken::Algorithm::HS256,
                "another key that is also long enough",
                &claims,
            ),
        ),
        ("alg none", unsigned(&claims)),
        ("another HMAC", signed(jsonwebtoken::Algorithm::HS512, SECRET, &claims)),
    ];
    for (what, forged) in forgeries {
        let r = create(&app, &forged, what).await;
        let p = expect_problem(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert!(p.get("field").is_none(), "{what}");
    }
    assert_eq!(
        count_rows(&app, "workstations"),
        1,
        "only the genuine token made a workstation"
    );
}
