use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};

async fn question(app: &TestApp, chief: &Session, body: Value) -> reqwest::Response {
    app.post("/api/v1/exams/GK/questions", Some(chief), body).await
}

async fn refused_field(r: reqwest::Response) -> String {
    let body = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_question").await;
    body["field"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_exam_carries_its_window_zone_and_rule_overrides() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    let start = Utc::now() + Duration::days(3);
    let r = app
        .post(
            "/api/v1/exams",
            Some(&chief),
            json!({ "code": "GK", "name": "County exam", "time_zone": "Asia/Shanghai",
                    "window_start": start, "window_end": start + Duration::days(5),
                    "settings": { "seed_rate": 0.1, "marker_max_age": 50 } }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let exam: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    assert_eq!(exam["rules"]["seed_rate"], 0.1);
    assert_eq!(exam["rules"]["marker_max_age"], 50);
    assert_eq!(exam["rules"]["backread_rate"], 0.05, "defaults fill the rest");
    assert_eq!(exam["room_open"], false);
    let dup = json!({ "code": "GK", "name": "x", "time_zone": "UTC", "window_start": start, "window_end": start + Duration::days(1) });
    expect_problem(
        app.post("/api/v1/exams", Some(&chief), dup).await,
        StatusCode::CONFLICT,
        "exam_exists",
    )
    .await;
}

#[tokio::test]
async fn bad_exams_are_refused_with_their_field() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    let start = Utc::now() + Duration::days(3);
    let base = json!({ "code": "GK", "name": "County", "time_zone": "Asia/Shanghai", "window_start": start, "window_end": start + Duration::days(5) });
    let cases = [
        ("code", json!("a/b"), "invalid_code", "code"),
        ("time_zone", json!("Mars/Base"), "invalid_exam", "time_zone"),
        (
            "window_end",
            json!(start - Duration::days(1)),
            "invalid_exam",
            "window_end",
        ),
        (
            "settings",
            json!({ "seedrate": 1 }),
            "unknown_setting",
            "settings.seedrate",
        ),
        (
            "settings",
            json!({ "backread_rate": 2 }),
            "invalid_setting",
            "settings.backread_rate",
        ),
    ];
    for (key, value, code, field) in cases {
        let mut body = base.clone();
        body[key] = value;
        let p = expect_problem(
            app.post("/api/v1/exams", Some(&chief), body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
        assert_eq!(p["field"], field);
    }
    expect_problem(
        app.get("/api/v1/exams/GK", Some(&chief)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn questions_follow_every_scale_rule() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;

    // Defaults: tolerance 10% of max rounded to the step, final step 0.5, 3 marks for essays.
    let r = question(
        &app,
        &chief,
        json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let q: Value = r.json().await.unwrap();
    assert_eq!(
        (
            q["tolerance"].as_f64(),
            q["final_step"].as_f64(),
            q["marks_required"].as_u64()
        ),
        (Some(6.0), Some(0.5), Some(3))
    );
    let q: Value = question(
        &app,
        &chief,
        json!({ "code": "S1", "kind": "short", "max_score": 25, "step": 1 }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (q["tolerance"].as_f64(), q["marks_required"].as_u64()),
        (Some(3.0), Some(2))
    );

    // Step 1 with final step 0.5 is accepted; step 0.5 with final step 1 on an odd maximum is not.
    let ok = json!({ "code": "S2", "kind": "short", "max_score": 25, "step": 1, "final_step": 0.5 });
    assert_eq!(question(&app, &chief, ok).await.status(), StatusCode::CREATED);
    let bad = json!({ "code": "S3", "kind": "short", "max_score": 25, "step": 0.5, "final_step": 1 });
    assert_eq!(refused_field(question(&app, &chief, bad).await).await, "final_step");

    let cases = [
        (
            json!({ "code": "X", "kind": "short", "max_score": 25, "step": 2 }),
            "step",
        ),
        (
            json!({ "code": "X", "kind": "short", "max_score": 25, "step": 1, "final_step": 0.3 }),
            "final_step",
        ),
        (
            json!({ "code": "X", "kind": "short", "max_score": 20, "step": 1, "tolerance": 1.5 }),
            "tolerance",
        ),
        (
            json!({ "code": "X", "kind": "short", "max_score": 20, "step": 1, "tolerance": 21 }),
            "tolerance",
        ),
        (
            json!({ "code": "X", "kind": "essay", "max_score": 20, "step": 1, "marks_required": 2 }),
            "marks_required",
        ),
        (
            json!({ "code": "X", "kind": "short", "max_score": 20, "step": 1, "marks_required": 1 }),
            "marks_required",
        ),
        (
            json!({ "code": "X", "kind": "essay", "max_score": 20, "step": 1,
                 "criteria": [{ "code": "c", "name": "content", "max": 12 }, { "code": "l", "name": "language", "max": 7 }] }),
            "criteria",
        ),
        (
            json!({ "code": "X", "kind": "essay", "max_score": 0, "step": 1 }),
            "max_score",
        ),
    ];
    for (body, field) in cases {
        assert_eq!(
            refused_field(question(&app, &chief, body.clone()).await).await,
            field,
            "{body}"
        );
    }
    let with_rubric = json!({ "code": "W2", "kind": "essay", "max_score": 20, "step": 1,
        "criteria": [{ "code": "c", "name": "content", "max": 12 }, { "code": "l", "name": "language", "max": 8 }] });
    assert_eq!(question(&app, &chief, with_rubric).await.status(), StatusCode::CREATED);
    let r = question(
        &app,
        &chief,
        json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 }),
    )
    .await;
    expect_problem(r, StatusCode::CONFLICT, "question_exists").await;
    let r = question(
        &app,
        &chief,
        json!({ "code": "X", "kind": "essay", "max_score": 12.345, "step": 1 }),
    )
    .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value").await;

    // Nothing refused was stored.
    let exam: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    let codes: Vec<&str> = exam["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["W1", "S1", "S2", "W2"]);
}

fn template() -> Value {
    json!({
        "pages": 2,
        "anchors": [
            { "page": 0, "x": 0.0, "y": 0.0, "width": 0.05, "height": 0.05 },
            { "page": 1, "x": 0.0, "y": 0.0, "width": 0.05, "height": 0.05 }
        ],
        "masks": [
            { "kind": "name", "region": { "page": 0, "x": 0.1, "y": 0.02, "width": 0.3, "height": 0.05 } },
            { "kind": "admission_number", "region": { "page": 0, "x": 0.5, "y": 0.02, "width": 0.3, "height": 0.05 } }
        ],
        "questions": [
            { "question": "W1", "region": { "page": 1, "x": 0.05, "y": 0.1, "width": 0.9, "height": 0.85 } }
        ]
    })
}

#[tokio::test]
async fn the_template_keeps_every_region_on_the_page() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    question(
        &app,
        &chief,
        json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 }),
    )
    .await;
    let put = |body: Value| app.call(Method::PUT, "/api/v1/exams/GK/template", Some(&chief), Some(body));
    assert_eq!(put(template()).await.status(), StatusCode::OK);

    let mut off_page = template();
    off_page["questions"][0]["region"]["width"] = json!(1.2);
    let mut missing_page = template();
    missing_page["masks"][0]["region"]["page"] = json!(2);
    let mut unmasked = template();
    unmasked["masks"].as_array_mut().unwrap().pop();
    let mut unknown_question = template();
    unknown_question["questions"][0]["question"] = json!("Q9");
    let mut one_anchor = template();
    one_anchor["anchors"].as_array_mut().unwrap().pop();
    for (body, field) in [
        (off_page, "questions[0]"),
        (missing_page, "masks[0]"),
        (unmasked, "masks"),
        (unknown_question, "questions[0].question"),
        (one_anchor, "anchors"),
    ] {
        let p = expect_problem(put(body).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_template").await;
        assert_eq!(p["field"], field);
    }
    let exam: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    assert_eq!(
        exam["template"],
        template(),
        "the refused templates left the stored one alone"
    );
}

#[tokio::test]
async fn chief_leaders_open_and_close_the_room() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    let r = app
        .post("/api/v1/exams/GK/room", Some(&chief), json!({ "open": true }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let exam: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    assert_eq!(exam["room_open"], true);
    app.post("/api/v1/exams/GK/room", Some(&chief), json!({ "open": false }))
        .await;
    let exam: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    assert_eq!(exam["room_open"], false);
    expect_problem(
        app.post("/api/v1/exams/GK/room", Some(&admin), json!({ "open": true }))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let entries = app.audit_entries(&admin).await;
    assert!(entries.iter().any(|e| e["action"] == "room.open"));
    assert!(entries.iter().any(|e| e["action"] == "room.close"));
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "authz" && e["outcome"] == "refused")
    );
}

#[tokio::test]
async fn questions_added_at_once_take_distinct_positions() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    let adds = (1..=6).map(|i| {
        question(
            &app,
            &chief,
            json!({ "code": format!("S{i}"), "kind": "short", "max_score": 10, "step": 1 }),
        )
    });
    for r in futures_util::future::join_all(adds).await {
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let exam: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    assert_eq!(exam["questions"].as_array().unwrap().len(), 6);
    let positions: Vec<i32> = app
        .db
        .read_now(|c| {
            let exam = markroom::db::exams::by_code(c, "GK")?;
            markroom::db::exams::questions_of(c, &exam.id)
        })
        .unwrap()
        .iter()
        .map(|q| q.position)
        .collect();
    assert_eq!(positions, (0..6).collect::<Vec<_>>());
}

/// A running server made from other settings (another node, or the same node after its file
/// changed) on the same database.
async fn other_node(app: &TestApp, adjust: impl FnOnce(&mut markroom::config::Settings)) -> String {
    let mut settings = app.settings.clone();
    adjust(&mut settings);
    let node = markroom::http::Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", node.port());
    tokio::spawn(node.run_until_stopped());
    base
}

#[tokio::test]
async fn an_exam_keeps_the_rules_it_was_made_with() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    let made = app.exam(&chief, "GK").await;
    assert_eq!(made["rules"]["backread_rate"], json!(0.05));
    let other = other_node(&app, |s| {
        s.rules.backread_rate = 0.5;
        s.rules.default_tolerance_percent = 20;
    })
    .await;
    let seen: Value = app
        .client
        .get(format!("{other}/api/v1/exams/GK"))
        .bearer_auth(&chief.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen["rules"], made["rules"],
        "another settings file changes no exam in progress"
    );
    // A question added through that node takes the exam's tolerance rule, not the node's.
    let r = app
        .client
        .post(format!("{other}/api/v1/exams/GK/questions"))
        .bearer_auth(&chief.token)
        .json(&json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 }))
        .send()
        .await
        .unwrap();
    let q: Value = r.json().await.unwrap();
    assert_eq!(q["tolerance"], json!(6.0), "10% of 60, the exam's own default: {q}");
}

#[tokio::test]
async fn chief_leaders_change_rules_through_a_checked_audited_patch() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    let q = json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 });
    assert_eq!(question(&app, &chief, q).await.status(), StatusCode::CREATED);
    let patch = |body: Value| app.call(Method::PATCH, "/api/v1/exams/GK/settings", Some(&chief), Some(body));
    let r = patch(json!({ "backread_rate": 0, "questions": { "W1": { "marks_required": 4, "tolerance": 5 } } })).await;
    assert_eq!(r.status(), StatusCode::OK);
    let exam: Value = r.json().await.unwrap();
    assert_eq!(exam["rules"]["backread_rate"], json!(0.0));
    assert_eq!(exam["settings"]["backread_rate"], json!(0));
    assert_eq!(exam["questions"][0]["marks_required"], 4);
    assert_eq!(exam["questions"][0]["tolerance"], json!(5.0));
    let again: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    assert_eq!(again["rules"], exam["rules"]);

    let r = patch(json!({ "backread_ratio": 0 })).await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "unknown_setting").await;
    assert_eq!(p["field"], "settings.backread_ratio");
    let r = patch(json!({ "questions": { "W1": { "marks_required": 2 } } })).await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_question").await;
    assert_eq!(p["field"], "questions.W1.marks_required");
    let r = patch(json!({ "questions": { "S9": { "marks_required": 3 } } })).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "unknown_question").await;
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/exams/GK/settings",
            Some(&admin),
            Some(json!({ "backread_rate": 0 })),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let after: Value = app.get("/api/v1/exams/GK", Some(&chief)).await.json().await.unwrap();
    assert_eq!(after["rules"], exam["rules"], "refused changes changed nothing");
    let entries = app.audit_entries(&admin).await;
    let changes: Vec<&Value> = entries.iter().filter(|e| e["action"] == "exam.settings").collect();
    assert_eq!(changes.len(), 1, "one change; invalid input leaves no trace");
    assert_eq!(changes[0]["outcome"], "ok");
    assert_eq!(changes[0]["details"]["before"]["backread_rate"], json!(0.05));
}

#[tokio::test]
async fn rule_changes_made_at_once_are_all_kept_and_a_locked_exam_takes_none() {
    let app = TestApp::spawn_with(|s| s.http.workers = 2).await;
    let (_, chief1, chief2) = app.staff().await;
    app.exam(&chief1, "GK").await;
    async fn patch(app: &TestApp, who: &Session, body: Value) -> reqwest::Response {
        app.call(Method::PATCH, "/api/v1/exams/GK/settings", Some(who), Some(body))
            .await
    }
    for round in 1..=5 {
        let (a, b) = tokio::join!(
            patch(&app, &chief1, json!({ "backread_rate": f64::from(round) / 100.0 })),
            patch(&app, &chief2, json!({ "seed_rate": f64::from(round) / 50.0 }))
        );
        assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
        let exam: Value = app.get("/api/v1/exams/GK", Some(&chief1)).await.json().await.unwrap();
        assert_eq!(
            exam["rules"]["backread_rate"].as_f64(),
            Some(f64::from(round) / 100.0),
            "neither change is lost"
        );
        assert_eq!(exam["rules"]["seed_rate"].as_f64(), Some(f64::from(round) / 50.0));
    }
    app.db
        .write_now(|c| {
            // Locked as the database allows it: on an approved `lock` request of a second chief.
            for sql in [
                "INSERT INTO approvals (id, exam_id, kind, payload, status, requested_by, requested_at, expires_at) \
                 SELECT 'lock-1', e.id, 'lock', '{}', 'pending', a.id, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP \
                 FROM exams e, users a WHERE e.code = 'GK' AND a.username = 'chief1'",
                "UPDATE approvals SET status = 'approved', decided_at = CURRENT_TIMESTAMP, \
                 decided_by = (SELECT id FROM users WHERE username = 'chief2') WHERE id = 'lock-1'",
                "UPDATE exams SET locked = TRUE, lock_approval_id = 'lock-1' WHERE code = 'GK'",
            ] {
                diesel::RunQueryDsl::execute(diesel::sql_query(sql), c).map_err(markroom::db::DbError::from)?;
            }
            Ok::<_, markroom::db::DbError>(())
        })
        .unwrap();
    let r = patch(&app, &chief1, json!({ "backread_rate": 0 })).await;
    expect_problem(r, StatusCode::CONFLICT, "exam_locked").await;
}

#[tokio::test]
async fn an_exam_from_before_rules_were_stored_is_frozen_at_the_next_start() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    app.exam(&chief, "OLD").await;
    app.db
        .write_now(|c| {
            diesel::RunQueryDsl::execute(diesel::sql_query("UPDATE exams SET rules = '' WHERE code = 'OLD'"), c)
                .map_err(markroom::db::DbError::from)
        })
        .unwrap();
    let rules_seen_by = |base: String| {
        let client = app.client.clone();
        let token = chief.token.clone();
        async move {
            let exam: Value = client
                .get(format!("{base}/api/v1/exams/OLD"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            exam["rules"]["backread_rate"].as_f64()
        }
    };
    let first = other_node(&app, |s| s.rules.backread_rate = 0.3).await;
    assert_eq!(
        rules_seen_by(first).await,
        Some(0.3),
        "frozen with the defaults of that start"
    );
    let second = other_node(&app, |s| s.rules.backread_rate = 0.4).await;
    assert_eq!(rules_seen_by(second).await, Some(0.3), "and kept from then on");
}
