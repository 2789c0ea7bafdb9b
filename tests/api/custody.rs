//! Custody of the sheets: two custodians on duty for every act, batches opened and released by
//! two people, hand-overs from two people to two people, all in the audit log.

use markroom::domain::role::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};

/// A two-page template placing W1 (and S2 unless `leave_out_s2`).
fn template(leave_out_s2: bool) -> Value {
    let region =
        |page: u32, x: f64, y: f64, w: f64, h: f64| json!({ "page": page, "x": x, "y": y, "width": w, "height": h });
    let mut questions = vec![json!({ "question": "W1", "region": region(0, 0.05, 0.2, 0.9, 0.7) })];
    if !leave_out_s2 {
        questions.push(json!({ "question": "S2", "region": region(1, 0.05, 0.2, 0.9, 0.3) }));
    }
    json!({
        "pages": 2,
        "anchors": [region(0, 0.02, 0.02, 0.05, 0.035), region(1, 0.02, 0.02, 0.05, 0.035)],
        "masks": [
            { "kind": "name", "region": region(0, 0.3, 0.03, 0.3, 0.06) },
            { "kind": "admission_number", "region": region(0, 0.65, 0.03, 0.3, 0.06) },
        ],
        "questions": questions,
    })
}

/// An exam with two questions and a template, and `n` custodians logged in.
async fn room(app: &TestApp, chief: &Session, leave_out_s2: bool, n: usize) -> Vec<Session> {
    app.exam(chief, "GK").await;
    for q in [
        json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 }),
        json!({ "code": "S2", "kind": "short", "max_score": 10, "step": 1 }),
    ] {
        let r = app.post("/api/v1/exams/GK/questions", Some(chief), q).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let r = app
        .call(
            Method::PUT,
            "/api/v1/exams/GK/template",
            Some(chief),
            Some(template(leave_out_s2)),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut out = vec![];
    for i in 1..=n {
        let name = format!("cust{i}");
        app.insert_account(&name, Role::Custodian);
        out.push(app.login(&name, None).await);
    }
    out
}

async fn check_in(app: &TestApp, who: &Session) {
    let r = app.post("/api/v1/exams/GK/shifts/check-in", Some(who), json!({})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

async fn approve(app: &TestApp, who: &Session, request: &Value) -> reqwest::Response {
    let id = request["id"].as_str().unwrap();
    app.post(&format!("/api/v1/approvals/{id}/approve"), Some(who), json!({}))
        .await
}

/// Opens a batch with two custodians on duty; returns its id.
async fn open_batch(app: &TestApp, asker: &Session, approver: &Session) -> String {
    let r = app
        .post(
            "/api/v1/exams/GK/batches",
            Some(asker),
            json!({ "label": "Room 12, box 3" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let request: Value = r.json().await.unwrap();
    assert_eq!(request["kind"], "open_batch");
    assert_eq!(approve(app, approver, &request).await.status(), StatusCode::OK);
    let batches: Value = app
        .get("/api/v1/exams/GK/batches", Some(asker))
        .await
        .json()
        .await
        .unwrap();
    batches[0]["id"].as_str().unwrap().to_string()
}

async fn ask(app: &TestApp, who: &Session) -> reqwest::Response {
    app.post("/api/v1/exams/GK/batches", Some(who), json!({ "label": "box 1" }))
        .await
}

async fn hand(app: &TestApp, batch: &str, who: &Session, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/batches/{batch}/handovers"), Some(who), body)
        .await
}

async fn confirm(app: &TestApp, id: &str, who: &Session) -> reqwest::Response {
    app.post(&format!("/api/v1/handovers/{id}/confirm"), Some(who), json!({}))
        .await
}

#[tokio::test]
async fn one_custodian_alone_opens_nothing() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    let c = room(&app, &chief, false, 3).await;
    let r = ask(&app, &c[0]).await;
    expect_problem(r, StatusCode::FORBIDDEN, "not_on_duty").await;
    check_in(&app, &c[0]).await;
    let r = ask(&app, &c[0]).await;
    expect_problem(r, StatusCode::FORBIDDEN, "too_few_on_duty").await;
    check_in(&app, &c[1]).await;
    let r = ask(&app, &c[0]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let request: Value = r.json().await.unwrap();
    // Not the asker, not a custodian off duty: only a second custodian on duty approves.
    expect_problem(
        approve(&app, &c[0], &request).await,
        StatusCode::FORBIDDEN,
        "approval_self",
    )
    .await;
    expect_problem(
        approve(&app, &c[2], &request).await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    expect_problem(
        approve(&app, &chief, &request).await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    // Custodians on duty see the exam's custody requests; one off duty does not.
    let listed: Value = app
        .get("/api/v1/exams/GK/approvals", Some(&c[1]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let r = app.get("/api/v1/exams/GK/approvals", Some(&c[2])).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(approve(&app, &c[1], &request).await.status(), StatusCode::OK);
    let batches: Value = app
        .get("/api/v1/exams/GK/batches", Some(&c[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(batches[0]["status"], "open");
    assert_eq!(batches[0]["label"], "box 1");

    // With a batch open, a check-out may not leave fewer than two on duty.
    let r = app
        .post("/api/v1/exams/GK/shifts/check-out", Some(&c[0]), json!({}))
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "too_few_on_duty").await;
    check_in(&app, &c[2]).await;
    let r = app
        .post("/api/v1/exams/GK/shifts/check-out", Some(&c[0]), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // An empty batch is not released.
    let id = batches[0]["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/batches/{id}/release"), Some(&c[1]), json!({}))
        .await;
    expect_problem(r, StatusCode::CONFLICT, "batch_empty").await;
}

#[tokio::test]
async fn a_batch_opens_only_when_the_template_places_every_question() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    let c = room(&app, &chief, true, 2).await;
    check_in(&app, &c[0]).await;
    check_in(&app, &c[1]).await;
    let r = app
        .post("/api/v1/exams/GK/batches", Some(&c[0]), json!({ "label": "box 1" }))
        .await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "template_incomplete").await;
    assert!(p["detail"].as_str().unwrap().contains("S2"), "{p}");
}

#[tokio::test]
async fn a_hand_over_is_confirmed_by_all_four_and_the_chain_reads_back_in_order() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    let c = room(&app, &chief, false, 4).await;
    for s in &c[..2] {
        check_in(&app, s).await;
    }
    let batch = open_batch(&app, &c[0], &c[1]).await;
    let four = json!({ "from": ["cust1", "cust2"], "to": ["cust3", "cust4"], "note": "to the scanning room" });
    // Only a giver records it; four different people.
    let r = hand(&app, &batch, &c[2], four.clone()).await;
    expect_problem(r, StatusCode::FORBIDDEN, "not_on_duty").await;
    let r = hand(
        &app,
        &batch,
        &c[0],
        json!({ "from": ["cust1", "cust2"], "to": ["cust2", "cust4"] }),
    )
    .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "handover_people").await;
    let r = hand(&app, &batch, &c[0], four).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let recorded: Value = r.json().await.unwrap();
    let id = recorded["id"].as_str().unwrap().to_string();
    expect_problem(
        confirm(&app, &id, &c[0]).await,
        StatusCode::CONFLICT,
        "already_confirmed",
    )
    .await;
    expect_problem(confirm(&app, &id, &chief).await, StatusCode::FORBIDDEN, "not_a_party").await;
    for (i, who) in c[1..].iter().enumerate() {
        let r = confirm(&app, &id, who).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["confirmed"], i + 2);
    }
    let view: Value = app
        .get(&format!("/api/v1/batches/{batch}"), Some(&c[3]))
        .await
        .json()
        .await
        .unwrap();
    let events: Vec<&str> = view["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "opened",
            "handover",
            "handover_confirmed",
            "handover_confirmed",
            "handover_confirmed",
            "handover_confirmed"
        ]
    );
    assert_eq!(view["chain"][0]["people"], json!(["cust1", "cust2"]));
    assert_eq!(view["chain"][1]["people"], json!(["cust1", "cust2", "cust3", "cust4"]));
    let entries = app.audit_entries(&admin).await;
    for action in [
        "shift.check_in",
        "approval.request",
        "approval.approve",
        "handover.record",
        "handover.confirm",
    ] {
        assert!(
            entries.iter().any(|e| e["action"] == action && e["outcome"] == "ok"),
            "{action} is in the audit log"
        );
    }
}

#[tokio::test]
async fn a_custodian_with_a_relative_sitting_the_exam_does_not_work_on_it() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    let c = room(&app, &chief, false, 2).await;
    check_in(&app, &c[0]).await;
    check_in(&app, &c[1]).await;
    let list = json!([{ "admission_number": "20260009", "name": "Nephew", "school_code": "S01" }]);
    assert_eq!(
        app.post("/api/v1/exams/GK/candidates", Some(&chief), list)
            .await
            .status(),
        StatusCode::OK
    );
    let r = app
        .post(
            "/api/v1/exams/GK/relatives",
            Some(&c[0]),
            json!({ "admission_numbers": ["20260009"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = ask(&app, &c[0]).await;
    expect_problem(r, StatusCode::FORBIDDEN, "relative_sitting").await;
    // The other custodian may ask; the barred one may not approve.
    let r = ask(&app, &c[1]).await;
    let request: Value = r.json().await.unwrap();
    expect_problem(
        approve(&app, &c[0], &request).await,
        StatusCode::FORBIDDEN,
        "relative_sitting",
    )
    .await;
}

#[tokio::test]
async fn the_desk_reads_who_is_on_duty_and_the_hand_overs_waiting_for_each_person() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    let c = room(&app, &chief, false, 4).await;
    for s in &c[..2] {
        check_in(&app, s).await;
    }
    let roster = |who: &Session| {
        let who = who.clone();
        let app = &app;
        async move { app.get("/api/v1/exams/GK/shifts", Some(&who)).await }
    };
    let r = roster(&c[0]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let on: Value = r.json().await.unwrap();
    assert_eq!(on["exam"], "GK");
    assert_eq!(on["checked_in"], true);
    let names: Vec<&str> = on["custodians"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cust1", "cust2"]);
    assert!(on["custodians"][0]["since"].is_string() && on["custodians"][0]["full_name"].is_string());
    let off: Value = roster(&c[2]).await.json().await.unwrap();
    assert_eq!(off["checked_in"], false);
    assert_eq!(off["custodians"].as_array().unwrap().len(), 2);
    expect_problem(roster(&chief).await, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app.get("/api/v1/exams/NOPE/shifts", Some(&c[0])).await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;

    let batch = open_batch(&app, &c[0], &c[1]).await;
    let four = json!({ "from": ["cust1", "cust2"], "to": ["cust3", "chief1"], "note": "to the scanning room" });
    let r = hand(&app, &batch, &c[0], four).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let awaiting = |who: &Session| {
        let who = who.clone();
        let app = &app;
        async move {
            let r = app.get("/api/v1/exams/GK/handovers/awaiting", Some(&who)).await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    // The recorder confirmed on recording; someone not named has nothing to confirm.
    assert_eq!(awaiting(&c[0]).await, json!([]));
    assert_eq!(awaiting(&c[3]).await, json!([]));
    let mine = awaiting(&c[1]).await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["id"], id.as_str());
    assert_eq!(mine[0]["batch"], batch.as_str());
    assert_eq!(mine[0]["batch_label"], "Room 12, box 3");
    assert_eq!(mine[0]["from"], json!(["cust1", "cust2"]));
    assert_eq!(mine[0]["to"], json!(["cust3", "chief1"]));
    assert_eq!(mine[0]["recorded_by"], "cust1");
    assert_eq!(mine[0]["note"], "to the scanning room");
    assert_eq!(mine[0]["confirmed"], 1);
    // A leader receiving the batch sees it too, and once confirmed it leaves the list.
    assert_eq!(awaiting(&chief).await.as_array().unwrap().len(), 1);
    assert_eq!(confirm(&app, &id, &c[1]).await.status(), StatusCode::OK);
    assert_eq!(awaiting(&c[1]).await, json!([]));
    assert_eq!(awaiting(&c[2]).await[0]["confirmed"], 2);
    let r = app.get("/api/v1/exams/NOPE/handovers/awaiting", Some(&c[0])).await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_custodian_on_duty_sees_the_original_of_a_page_waiting_for_treatment_and_only_then() {
    use markroom::scans::{SheetSpec, encode_png, generate_sheet};
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    let c = room(&app, &chief, false, 3).await;
    for s in &c[..2] {
        check_in(&app, s).await;
    }
    let list = json!([{ "admission_number": "20260001", "name": "Candidate 1", "school_code": "S01" }]);
    let r = app.post("/api/v1/exams/GK/candidates", Some(&chief), list).await;
    assert_eq!(r.status(), StatusCode::OK);
    let batch = open_batch(&app, &c[0], &c[1]).await;
    let template: markroom::domain::template::SheetTemplate = serde_json::from_value(template(false)).unwrap();
    let spec = SheetSpec {
        dpi: 30,
        upside_down: true,
        without_anchor: true,
        seed: 3,
        latents: [("W1".to_string(), 40), ("S2".to_string(), 6)].into_iter().collect(),
    };
    let pages = generate_sheet(&template, &spec);
    let r = crate::floor::post_pages(
        &app,
        &c[0],
        &format!("/api/v1/batches/{batch}/sheets"),
        &[("admission_number", "20260001"), ("entry", "typed")],
        pages.iter().map(encode_png).collect(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let items: Value = app
        .get("/api/v1/exams/GK/treatment", Some(&c[0]))
        .await
        .json()
        .await
        .unwrap();
    let w1 = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["question"] == "W1")
        .expect("W1 waits for treatment");
    let (script, page) = (w1["script_id"].as_str().unwrap(), w1["page"].as_u64().unwrap() as usize);
    let path = format!("/api/v1/scripts/{script}/original");
    let r = app.get(&path, Some(&c[1])).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let shown = image::load_from_memory(&r.bytes().await.unwrap()).unwrap().into_luma8();
    assert_eq!(
        shown, pages[page],
        "the page exactly as scanned: not turned, not masked"
    );
    // Off duty, or not a custodian: refused.
    expect_problem(app.get(&path, Some(&c[2])).await, StatusCode::FORBIDDEN, "not_on_duty").await;
    expect_problem(app.get(&path, Some(&chief)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .get(
            "/api/v1/scripts/00000000-0000-0000-0000-000000000000/original",
            Some(&c[0]),
        )
        .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    // Once treated, the page is no longer shown whole.
    let r = app
        .post(
            &format!("/api/v1/scripts/{script}/treatment"),
            Some(&c[0]),
            json!({ "turn": true }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    expect_problem(
        app.get(&path, Some(&c[1])).await,
        StatusCode::CONFLICT,
        "no_treatment_needed",
    )
    .await;
    let entries = app.audit_entries(&admin).await;
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "script.original_view" && e["outcome"] == "ok"),
        "every view of an original is in the audit log"
    );
}
