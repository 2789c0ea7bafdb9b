//! The live marker triggers through the real service (issue 9): a marker missing seeds is
//! paused at once, a severe one by the check that follows each live mark; leaders read the
//! figures and the reviews; a suspension takes two chiefs and has the marker's work marked
//! afresh by others, with finals recomputed.

use std::time::Duration;

use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::floor::{Floor, floor, latent_of, post_pages, seed_sheet};
use crate::helpers::{PASSWORD, Session, TestApp, expect_problem};
use crate::marking::{fair, next, score};

async fn ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A W1 mark of `score` (clamped to the scale), with criteria adding up.
fn essay(score: i64) -> Value {
    let s = score.clamp(0, 60);
    let content = s.min(40);
    json!({ "score": s, "criteria": { "content": content, "language": s - content } })
}

/// One W1 lease for `m` and its latent, or None when there is nothing (or they may not mark).
async fn lease_w1(app: &TestApp, m: &Session) -> Option<(String, i64)> {
    let r = app
        .post("/api/v1/marking/next", Some(m), json!({ "question": "W1" }))
        .await;
    if r.status() != StatusCode::OK {
        return None;
    }
    let lease: Value = r.json().await.unwrap();
    let latent = latent_of(app, lease["images"][0].as_str().unwrap()).await;
    Some((lease["task_id"].as_str().unwrap().to_string(), i64::from(latent)))
}

async fn mark_w1(app: &TestApp, m: &Session, shift: i64) {
    let (task, latent) = lease_w1(app, m).await.expect("a W1 lease");
    ok(score(app, m, &task, essay(latent + shift), None).await, "score").await;
}

/// The other markers mark whatever is left, fairly, until nothing is.
async fn others_mark_everything(app: &TestApp, markers: &[(String, Session)]) {
    for _round in 0..400 {
        let mut any = false;
        for (_, m) in markers {
            let r = next(app, m).await;
            if r.status() == StatusCode::NO_CONTENT {
                continue;
            }
            let lease = ok(r, "next").await;
            any = true;
            let latent = latent_of(app, lease["images"][0].as_str().unwrap()).await;
            let body = fair(lease["question"].as_str().unwrap(), latent);
            ok(
                score(app, m, lease["task_id"].as_str().unwrap(), body, None).await,
                "score",
            )
            .await;
        }
        if !any {
            return;
        }
    }
    panic!("marking did not finish");
}

async fn reviews(app: &TestApp, leader: &Session, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/exams/GK/reviews{query}"), Some(leader)).await;
    ok(r, "reviews").await.as_array().unwrap().clone()
}

async fn decide(app: &TestApp, leader: &Session, review: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/reviews/{review}/decide"), Some(leader), body)
        .await
}

/// A leader who is not chief, scoped to the exam's questions `codes`, logged in at the desk.
async fn scoped_leader(app: &TestApp, f: &Floor, name: &str, codes: &[&str]) -> Session {
    let id = app.insert_account(name, Role::Leader);
    app.db
        .write_now(|c| -> Result<(), markroom::db::DbError> {
            let exam = markroom::db::exams::by_code(c, "GK")?;
            let questions: Vec<String> = markroom::db::exams::questions_of(c, &exam.id)?
                .into_iter()
                .filter(|q| codes.contains(&q.code.as_str()))
                .map(|q| q.id)
                .collect();
            markroom::db::users::add_scope(c, &exam.id, &id, &questions)
        })
        .unwrap();
    app.login(name, Some(&f.desk)).await
}

#[tokio::test]
async fn a_marker_missing_two_of_five_seeds_is_paused_and_an_approved_suspension_has_their_work_marked_afresh() {
    let app = TestApp::spawn().await;
    let rules = json!({ "self_check_rate": 0, "seed_rate": 1, "first_seed_within": 1, "backread_rate": 0 });
    let f = floor(&app, 10, 4, rules).await;
    let (x_id, x) = &f.markers[0];
    // mk00 marks six essays far too high; no seed exists yet.
    for _ in 0..6 {
        mark_w1(&app, x, 15).await;
    }
    for units in [20u32, 26, 32, 38, 44] {
        let r = post_pages(
            &app,
            &f.chief1,
            "/api/v1/exams/GK/questions/W1/prescored",
            &[("score", &units.to_string()), ("role", "seed")],
            seed_sheet(units),
        )
        .await;
        ok(r, "seed").await;
    }
    // With seed_rate 1 their next two serves are seeds: both missed, and the second pauses them.
    mark_w1(&app, x, 15).await;
    mark_w1(&app, x, 15).await;
    expect_problem(next(&app, x).await, StatusCode::FORBIDDEN, "marker_paused").await;
    let r = app.try_login("mk00", PASSWORD, Some(&f.desk)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "marker_paused").await;

    let open = reviews(&app, &f.chief1, "?status=open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    let review = &open[0];
    let rid = review["id"].as_str().unwrap();
    assert_eq!(review["marker_id"], x_id.as_str());
    assert_eq!(review["kind"], "seed_misses");
    assert_eq!(review["evidence"]["triggers"], json!(["seed_misses"]));
    assert_eq!(review["evidence"]["seeds"]["recent_misses"], 2);
    assert_eq!(review["evidence"]["seed_marks"].as_array().unwrap().len(), 2);
    assert!(review["marker_name"].is_string());

    // A leader of W1 who is not chief cannot ask for a suspension; a bad scope changes nothing.
    let lead = scoped_leader(&app, &f, "lead1", &["W1"]).await;
    let suspend = json!({ "decision": "suspend", "reason": "missed seeds, marks far too high", "scope": "all" });
    let r = decide(&app, &lead, rid, suspend.clone()).await;
    expect_problem(r, StatusCode::FORBIDDEN, "approval_not_allowed").await;
    let r = decide(
        &app,
        &f.chief1,
        rid,
        json!({ "decision": "suspend", "reason": "x", "scope": "since" }),
    )
    .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_scope").await;
    let r = decide(&app, &f.chief1, rid, json!({ "decision": "pardon", "reason": "x" })).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.marks_of_marker("GK", x_id), (6, 0), "seeds are not marks");

    // A chief asks; nothing happens until a second chief approves.
    let approval = ok(decide(&app, &f.chief1, rid, suspend).await, "suspend").await;
    assert_eq!(approval["kind"], "suspend_marker");
    assert_eq!(approval["payload"]["review_id"], rid);
    assert_eq!(approval["payload"]["scope"], "all");
    assert_eq!(app.marks_of_marker("GK", x_id), (6, 0));
    let aid = approval["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/approvals/{aid}/approve"), Some(&f.chief2), json!({}))
        .await;
    ok(r, "approve").await;
    assert_eq!(app.marks_of_marker("GK", x_id), (0, 6), "kept, flagged void");
    assert!(reviews(&app, &f.chief1, "?status=open").await.is_empty());
    let decided = reviews(&app, &f.chief1, "?status=decided").await;
    assert_eq!(decided[0]["decision"], "suspend");
    let record = ok(
        app.get(&format!("/api/v1/markers/{x_id}"), Some(&f.chief1)).await,
        "record",
    )
    .await;
    assert_eq!(record["exams"][0]["status"], "suspended");
    assert_eq!(record["exams"][0]["discipline"][0]["kind"], "suspended");
    let r = decide(&app, &f.chief1, rid, json!({ "decision": "reinstate", "reason": "x" })).await;
    expect_problem(r, StatusCode::CONFLICT, "review_decided").await;

    // The others mark the voided essays afresh; every final comes from fair marks only.
    others_mark_everything(&app, &f.markers[1..]).await;
    let states = app.script_states("GK");
    assert_eq!(states.get("resolved"), Some(&20), "{states:?}");
    let latents: i64 = f
        .candidates
        .iter()
        .flat_map(|c| c.latents.values())
        .map(|v| i64::from(*v) * 100)
        .sum();
    assert_eq!(app.final_scores("GK").iter().sum::<i64>(), latents);
    let (valid, _, essays) = app.mark_facts("GK");
    assert_eq!((valid, essays), (10 * 3 + 10 * 2, 10));
}

#[tokio::test]
async fn a_severe_marker_is_paused_by_the_check_after_their_marks_and_leaders_see_the_figures() {
    let app = TestApp::spawn().await;
    let rules = json!({ "self_check_rate": 0, "seed_rate": 0, "backread_rate": 0 });
    let f = floor(&app, 36, 4, rules).await;
    let x_id = f.markers[0].0.clone();
    // mk00 marks one and a half tolerances high; the others within a point of the truth.
    let mut k = 0i64;
    for _round in 0..60 {
        let mut any = false;
        for (i, (_, m)) in f.markers.iter().enumerate() {
            let Some((task, latent)) = lease_w1(&app, m).await else {
                continue;
            };
            any = true;
            k += 1;
            let noise = k % 3 - 1;
            let shift = if i == 0 { 9 } else { 0 };
            let r = score(&app, m, &task, essay(latent + shift + noise), None).await;
            if i == 0 && r.status() == StatusCode::CONFLICT {
                // Paused by the check between their lease and their mark: the lease ended.
                expect_problem(r, StatusCode::CONFLICT, "lease_expired").await;
                continue;
            }
            if i == 0 && r.status() == StatusCode::FORBIDDEN {
                // … or said as the pause itself, when the pause is seen first.
                expect_problem(r, StatusCode::FORBIDDEN, "marker_paused").await;
                continue;
            }
            ok(r, "score").await;
        }
        if !any {
            break;
        }
    }
    // The background check follows the marks: wait for it to pause mk00.
    let mut open = vec![];
    for _ in 0..100 {
        open = reviews(&app, &f.chief1, "?status=open").await;
        if !open.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(app.counters.trigger_checks() > 0);
    assert_eq!(open.len(), 1, "only mk00: {open:?}");
    let review = &open[0];
    assert_eq!(review["marker_id"], x_id.as_str());
    assert_eq!(review["kind"], "severity");
    assert!(review["evidence"]["figures"]["severity"].as_f64().unwrap() > 3.0);
    expect_problem(
        next(&app, &f.markers[0].1).await,
        StatusCode::FORBIDDEN,
        "marker_paused",
    )
    .await;

    // The figures, as the stats command gives them, plus evidence and series.
    let s = ok(
        app.get("/api/v1/exams/GK/questions/W1/statistics", Some(&f.chief1))
            .await,
        "statistics",
    )
    .await;
    assert_eq!(s["question"], "W1");
    assert_eq!(s["n_markers"], 4);
    assert_eq!(s["tolerance"], 6.0);
    assert!(s["icc"].is_object() && s["krippendorff_alpha"]["interval"].is_number());
    assert!(
        s["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["n"].as_u64().unwrap() >= 10)
    );
    let markers = s["markers"].as_array().unwrap();
    let x = markers.iter().find(|m| m["marker_id"] == x_id.as_str()).unwrap();
    assert!(x["flags"].as_array().unwrap().contains(&json!("severity")));
    assert_eq!(s["evidence"].as_array().unwrap().len(), 4);
    let series = s["series"].as_array().unwrap();
    assert_eq!(series.len(), 4);
    assert!(
        series
            .iter()
            .all(|m| m["points"][0]["at"].is_string() && m["points"][0]["deviation"].is_number())
    );
    let mine = ok(
        app.get(&format!("/api/v1/markers/{x_id}/statistics?exam=GK"), Some(&f.chief1))
            .await,
        "marker statistics",
    )
    .await;
    assert_eq!(mine["questions"][0]["question"], "W1");
    assert!(
        mine["questions"][0]["figures"]["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("severity"))
    );
    assert!(!mine["questions"][0]["series"].as_array().unwrap().is_empty());

    // On demand: nobody more to pause. A leader outside W1's scope sees no figures.
    let checked = ok(
        app.post(
            "/api/v1/exams/GK/questions/W1/statistics/check",
            Some(&f.chief1),
            json!({}),
        )
        .await,
        "check",
    )
    .await;
    assert_eq!(checked["paused"], json!([]));
    let lead = scoped_leader(&app, &f, "lead2", &["S2"]).await;
    let r = app.get("/api/v1/exams/GK/questions/W1/statistics", Some(&lead)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "out_of_scope").await;
    let r = app
        .get("/api/v1/exams/GK/questions/W9/statistics", Some(&f.chief1))
        .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;

    // A suspension is asked for, but one leader reinstates first: the request goes stale.
    let rid = review["id"].as_str().unwrap();
    let r = decide(&app, &lead, rid, json!({ "decision": "reinstate", "reason": "x" })).await;
    expect_problem(r, StatusCode::FORBIDDEN, "out_of_scope").await;
    assert!(
        reviews(&app, &lead, "").await.is_empty(),
        "an S2 leader sees no W1 review"
    );
    let approval = ok(
        decide(
            &app,
            &f.chief1,
            rid,
            json!({ "decision": "suspend", "reason": "far too lenient" }),
        )
        .await,
        "suspend",
    )
    .await;
    let r = decide(
        &app,
        &f.chief2,
        rid,
        json!({ "decision": "reinstate", "reason": "harsh scripts, talked through the rubric" }),
    )
    .await;
    let decided = ok(r, "reinstate").await;
    assert_eq!(
        (decided["status"].as_str(), decided["decision"].as_str()),
        (Some("decided"), Some("reinstate"))
    );
    let aid = approval["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/approvals/{aid}/approve"), Some(&f.chief2), json!({}))
        .await;
    expect_problem(r, StatusCode::CONFLICT, "review_decided").await;
    assert_eq!(app.marks_of_marker("GK", &x_id).1, 0, "nothing voided");
    // The same evidence does not pause them again.
    let checked = ok(
        app.post(
            "/api/v1/exams/GK/questions/W1/statistics/check",
            Some(&f.chief1),
            json!({}),
        )
        .await,
        "check",
    )
    .await;
    assert_eq!(checked["paused"], json!([]));
    let again = app.login("mk00", Some(&f.desk)).await;
    assert_ne!(next(&app, &again).await.status(), StatusCode::FORBIDDEN);
}
