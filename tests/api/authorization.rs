//! The who-may-do-what table, `tests/data/authorization.csv`, held against every route of the
//! OpenAPI document: each role calls each route, and what it gets must be what the table says.
//! A cell is `ok` when the role passes the door (the answer may still be a 404 for the made-up
//! ids, a 409 or a 422: the rules inside decide those), or the problem code of the 401 or 403
//! refusal it meets. A route missing from the table, or a row naming no route, fails too, so
//! every new route is given its row. Then every bad credential is refused on every protected route.
//!
//! `MARKROOM_BLESS_AUTHORIZATION=1` writes the table from what the server does, for a reviewer to
//! read against DESIGN.md section 5 before it is committed.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use markroom::domain::role::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::floor::floor;
use crate::helpers::{Session, TestApp};
use crate::results::service_token;

const TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/authorization.csv");
const SECRET: &str = "the server's own signing key, long enough";
const ROLES: [&str; 7] = [
    "admin",
    "chief",
    "leader",
    "custodian",
    "marker",
    "admissions",
    "admissions_other_exam",
];
/// Routes that end the caller's own session are called last, so they do not spoil the rest.
const LAST: [&str; 1] = ["/api/v1/auth/logout"];

fn concrete(path: &str) -> String {
    path.replace("{exam}", "GK")
        .replace("{q}", "W1")
        .replace("{admission_no}", "900000000000")
        .replace("{token}", "0000000000000000")
        .replace("{batch}", "00000000-0000-0000-0000-000000000000")
        .replace("{id}", "00000000-0000-0000-0000-000000000000")
}

/// `ok`, or the code of the 401 or 403 the caller met.
async fn outcome(app: &TestApp, method: &str, path: &str, who: Option<&Session>) -> String {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let r = app.call(m, &concrete(path), who, Some(json!({}))).await;
    let status = r.status();
    assert!(
        !status.is_server_error(),
        "{method} {path}: {status} {}",
        r.text().await.unwrap_or_default()
    );
    if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
        return "ok".into();
    }
    let body: Value = r.json().await.unwrap();
    body["code"].as_str().unwrap_or("no code").to_string()
}

/// (method, path) of every operation the document lists, with its security, the ones that end
/// a session last.
fn operations(doc: &Value) -> Vec<(String, String, bool)> {
    let mut ops = vec![];
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let query: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| {
                    let name = p["name"].as_str().unwrap();
                    let value = match (name, p["schema"]["type"].as_str()) {
                        ("exam", _) => "GK",
                        (_, Some("integer" | "number")) => "1",
                        _ => "x",
                    };
                    format!("{name}={value}")
                })
                .collect();
            // Required query parameters are given, so that the door, not the query, answers.
            let path = if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{}", query.join("&"))
            };
            ops.push((method.to_uppercase(), path, op.get("security").is_some()));
        }
    }
    ops.sort_by_key(|(m, p, _)| (LAST.contains(&p.as_str()), p.clone(), m.clone()));
    ops
}

fn read_table() -> BTreeMap<(String, String), Vec<String>> {
    let mut reader = csv::Reader::from_path(TABLE).expect("the authorization table is in the repository");
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[..2], ["method", "path"]);
    assert_eq!(header[2..], ROLES, "the table's columns are the roles, in this order");
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let cells: Vec<String> = r.iter().map(str::to_string).collect();
            ((cells[0].clone(), cells[1].clone()), cells[2..].to_vec())
        })
        .collect()
}

fn write_table(rows: &BTreeMap<(String, String), Vec<String>>) {
    let mut w = csv::Writer::from_path(TABLE).unwrap();
    let mut header = vec!["method", "path"];
    header.extend(ROLES);
    w.write_record(&header).unwrap();
    for ((method, path), cells) in rows {
        let mut record = vec![method.as_str(), path.as_str()];
        record.extend(cells.iter().map(String::as_str));
        w.write_record(&record).unwrap();
    }
    w.flush().unwrap();
}

/// A signed-in account of every column of the table, on the marking floor of exam GK.
async fn callers(app: &TestApp) -> (Vec<Session>, Session, String) {
    let f = floor(app, 2, 1, json!({})).await;
    app.insert_account("lead1", Role::Leader);
    let leader = app.login("lead1", Some(&f.desk)).await;
    app.exam(&f.chief1, "XX").await;
    let admissions = service_token(app, &f.admin, &["GK"]).await;
    let other = service_token(app, &f.admin, &["XX"]).await;
    let r = app
        .post("/api/v1/workstations", Some(&f.admin), json!({ "name": "desk 2" }))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let other_desk = r.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_string();
    let chief = f.chief1.clone();
    let sessions = vec![
        f.admin,
        f.chief1,
        leader,
        f.custodians[0].clone(),
        f.markers[0].1.clone(),
        admissions,
        other,
    ];
    (sessions, chief, other_desk)
}

#[tokio::test]
async fn every_role_meets_on_every_route_what_the_authorization_table_says() {
    let app = TestApp::spawn().await;
    let (sessions, _, _) = callers(&app).await;
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    let mut seen = BTreeMap::new();
    for (method, path, secured) in operations(&doc) {
        if !secured {
            continue;
        }
        let mut cells = vec![];
        for s in &sessions {
            cells.push(outcome(&app, &method, &path, Some(s)).await);
        }
        seen.insert((method, path), cells);
    }
    if std::env::var_os("MARKROOM_BLESS_AUTHORIZATION").is_some() {
        write_table(&seen);
        return;
    }
    let table = read_table();
    let mut wrong = vec![];
    for (route, cells) in &seen {
        match table.get(route) {
            None => wrong.push(format!("{} {}: not in the table", route.0, route.1)),
            Some(want) => {
                for ((role, got), want) in ROLES.iter().zip(cells).zip(want) {
                    if got != want {
                        wrong.push(format!(
                            "{} {} as {role}: got {got}, the table says {want}",
                            route.0, route.1
                        ));
                    }
                }
            }
        }
    }
    for route in table.keys().filter(|r| !seen.contains_key(*r)) {
        wrong.push(format!("{} {}: in the table, not in the document", route.0, route.1));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let checked = seen.len() * ROLES.len();
    assert!(checked >= 400, "checked {checked} route × role pairs");
}

/// The token's payload with `change` applied, signed as `alg` with `secret` (or not at all).
fn reforged(
    token: &str,
    change: impl FnOnce(&mut Value),
    alg: Option<jsonwebtoken::Algorithm>,
    secret: &str,
) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    change(&mut claims);
    match alg {
        Some(alg) => {
            let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap();
            jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &key).unwrap()
        }
        None => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
        }
    }
}

#[tokio::test]
async fn every_protected_route_refuses_every_bad_credential() {
    let app = TestApp::spawn_with(|s| s.auth.token_secret = Some(SECRET.into())).await;
    let (sessions, chief, other_desk) = callers(&app).await;
    let key = chief.key.clone();
    let with = |token: String, key: Option<String>| Session {
        token,
        refresh: String::new(),
        key,
    };
    let now = app.clock.now().timestamp();
    // The genuine token re-signed unchanged is accepted, so each refusal below is about what was changed.
    let same = reforged(&chief.token, |_| {}, Some(jsonwebtoken::Algorithm::HS256), SECRET);
    let r = app.get("/api/v1/exams/GK", Some(&with(same, key.clone()))).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the server signs HS256 with the configured secret"
    );
    let revoked = sessions[3].clone();
    let r = app.post("/api/v1/auth/logout", Some(&revoked), json!({})).await;
    assert!(r.status().is_success());
    let bad: Vec<(&str, Option<Session>, StatusCode, &str)> = vec![
        ("no token", None, StatusCode::UNAUTHORIZED, "unauthenticated"),
        (
            "expired",
            Some(with(
                reforged(
                    &chief.token,
                    |c| {
                        c["iat"] = json!(now - 7200);
                        c["exp"] = json!(now - 3600);
                    },
                    Some(jsonwebtoken::Algorithm::HS256),
                    SECRET,
                ),
                key.clone(),
            )),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "signed with another key",
            Some(with(
                reforged(
                    &chief.token,
                    |_| {},
                    Some(jsonwebtoken::Algorithm::HS256),
                    "another key that is also long enough",
                ),
                key.clone(),
            )),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "alg none",
            Some(with(reforged(&chief.token, |_| {}, None, ""), key.clone())),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "another workstation's key",
            Some(with(chief.token.clone(), Some(other_desk.clone()))),
            StatusCode::FORBIDDEN,
            "workstation_mismatch",
        ),
        (
            "no workstation key",
            Some(with(chief.token.clone(), None)),
            StatusCode::FORBIDDEN,
            "workstation_mismatch",
        ),
        ("revoked", Some(revoked), StatusCode::UNAUTHORIZED, "token_revoked"),
    ];
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    let mut checked = 0;
    for (method, path, secured) in operations(&doc) {
        if !secured {
            continue;
        }
        for (what, session, status, code) in &bad {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let r = app.call(m, &concrete(&path), session.as_ref(), Some(json!({}))).await;
            assert_eq!(r.status(), *status, "{method} {path} with {what}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["code"], *code, "{method} {path} with {what}");
            checked += 1;
        }
    }
    assert!(checked >= 400, "checked {checked} route × credential pairs");
}
