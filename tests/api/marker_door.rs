//! The door of a marker's lease and score. On PostgreSQL it is checked inside the act's own
//! transaction (`http::marker::door`), on SQLite before the act as on every route: on both, a
//! caller turned away hears the same refusal, is audited for it alone, and changes nothing.

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::floor::floor;
use crate::helpers::{Session, TestApp, expect_problem};
use crate::marking::{fair, next, no_rules, progress, score};

fn user_id(app: &TestApp, username: &str) -> String {
    use markroom::db::schema::users;
    let name = username.to_string();
    app.db
        .read_now(move |c| {
            users::table
                .filter(users::username.eq(name))
                .select(users::id)
                .first::<String>(c)
                .map_err(markroom::db::DbError::from)
        })
        .unwrap()
}

/// The audit entries of `actor` as (action, outcome), in order.
async fn entries_of(app: &TestApp, admin: &Session, actor: &str) -> Vec<(String, String)> {
    let mut all = app.audit_entries(admin).await;
    all.sort_by_key(|e| e["at"].as_str().unwrap_or_default().to_string());
    all.iter()
        .filter(|e| e["actor_id"] == actor)
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn count(entries: &[(String, String)], action: &str, outcome: &str) -> usize {
    entries.iter().filter(|(a, o)| a == action && o == outcome).count()
}

async fn marks_recorded(app: &TestApp, chief: &Session) -> i64 {
    progress(app, chief).await["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["tasks"]["done"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_revoked_marker_is_turned_away_from_lease_and_score_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 2, 1, no_rules()).await;
    let (_, m) = &f.markers[0];
    let me = user_id(&app, "mk00");
    // One script marked under an Idempotency-Key, whose answer a retry would replay.
    let first: Value = next(&app, m).await.json().await.unwrap();
    let marked = first["task_id"].as_str().unwrap().to_string();
    let body = crate::marking::fair(first["question"].as_str().unwrap(), 5);
    let r = score(&app, m, &marked, body.clone(), Some("kept-1")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let lease: Value = next(&app, m).await.json().await.unwrap();
    let task = lease["task_id"].as_str().unwrap().to_string();
    let twenty = json!({ "score": 20, "criteria": { "content": 10, "language": 10 } });
    let before = entries_of(&app, &f.admin, &me).await;

    // An admin gives the account a new one-time password: every token it holds is revoked.
    let r = app
        .post(&format!("/api/v1/users/{me}/password-reset"), Some(&f.admin), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let refused = [
        next(&app, m).await,
        score(&app, m, &task, twenty.clone(), Some("retry-1")).await,
        // A bad body or key is answered only once the door lets the caller in.
        app.post("/api/v1/marking/next", Some(m), json!({ "question": 7 }))
            .await,
        score(&app, m, &task, json!({ "score": "lots" }), None).await,
        score(&app, m, &task, twenty, Some(" ")).await,
        // A retry of the score kept under its key is no way past the door either.
        score(&app, m, &marked, body, Some("kept-1")).await,
    ];
    for r in refused {
        expect_problem(r, StatusCode::UNAUTHORIZED, "token_revoked").await;
    }

    // Each refusal is audited once, as the door's; none as a lease's or a score's.
    let after = entries_of(&app, &f.admin, &me).await;
    let new = &after[before.len()..];
    assert_eq!(count(new, "auth.token", "refused"), 6, "{new:?}");
    assert!(
        !new.iter().any(|(a, _)| a.starts_with("marking.")),
        "no act of a revoked marker is recorded: {new:?}"
    );
    assert_eq!(
        marks_recorded(&app, &f.chief1).await,
        1,
        "the refused scores wrote no mark: only the one before"
    );
}

#[tokio::test]
async fn the_door_hears_the_workstation_and_the_role_before_the_act() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 2, 1, no_rules()).await;
    let (_, m) = &f.markers[0];
    let me = user_id(&app, "mk00");
    let before = entries_of(&app, &f.admin, &me).await;

    // Another desk's key (or none) is refused at the door, with its audit entry.
    let elsewhere = app.workstation(&f.admin, "elsewhere").await;
    let at = |key: Option<String>| Session { key, ..m.clone() };
    expect_problem(
        next(&app, &at(Some(elsewhere))).await,
        StatusCode::FORBIDDEN,
        "workstation_mismatch",
    )
    .await;
    let r = score(&app, &at(None), "no-such-task", json!({ "score": 1 }), None).await;
    expect_problem(r, StatusCode::FORBIDDEN, "workstation_mismatch").await;

    // Let in, a bad body is bad input (not audited, as on every route).
    let r = app
        .post("/api/v1/marking/next", Some(m), json!({ "question": 7 }))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // And a rule the act itself refuses, past the door, is audited as the act's.
    let lease: Value = next(&app, m).await.json().await.unwrap();
    let task = lease["task_id"].as_str().unwrap().to_string();
    let fair = fair(lease["question"].as_str().unwrap(), 5);
    assert_eq!(score(&app, m, &task, fair.clone(), None).await.status(), StatusCode::OK);
    expect_problem(
        score(&app, m, &task, fair, None).await,
        StatusCode::CONFLICT,
        "already_scored",
    )
    .await;
    let after = entries_of(&app, &f.admin, &me).await;
    let new = &after[before.len()..];
    assert_eq!(count(new, "auth.workstation", "refused"), 2, "{new:?}");
    assert_eq!(count(new, "marking.score", "refused"), 1, "{new:?}");
    assert_eq!(new.iter().filter(|(_, o)| o == "refused").count(), 3, "{new:?}");
    assert_eq!(marks_recorded(&app, &f.chief1).await, 1);

    // Someone who is not a marker is refused as on every route: forbidden, audited as such.
    let r = app.post("/api/v1/marking/next", Some(&f.chief1), json!({})).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let chief = user_id(&app, "chief1");
    let chief_entries = entries_of(&app, &f.admin, &chief).await;
    assert_eq!(
        chief_entries.last().map(|(a, o)| (a.as_str(), o.as_str())),
        Some(("authz", "refused"))
    );
}
