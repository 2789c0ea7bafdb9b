//! Pre-scored scripts and the qualification test (R6): no training, no post; a definitive score
//! never reaches a marker; a pass makes the marker active, two fails leave them off live work.
//! And the lifecycle around it: a relative found later pauses an active marker, leaders pause
//! and reinstate, suspension and dismissal take two chiefs and leave discipline entries.

use std::collections::BTreeMap;

use markroom::scans::{SheetSpec, decode_page, encode_png, generate_sheet, read_latent, standard_template};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};

/// Question W1: 0 to 60 in steps of 0.5, tolerance 6 (10 % of the maximum).
const STEP: f64 = 0.5;

async fn exam_with_template(app: &TestApp, chief: &Session) {
    app.exam(chief, "GK").await;
    let q = json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 0.5 });
    assert_eq!(
        app.post("/api/v1/exams/GK/questions", Some(chief), q).await.status(),
        StatusCode::CREATED
    );
    let template = standard_template(&["W1"]);
    let r = app
        .call(
            Method::PUT,
            "/api/v1/exams/GK/template",
            Some(chief),
            Some(serde_json::to_value(&template).unwrap()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// The exam with W1 and its template, then its window reached and its room open: (admin,
/// chief1, chief2, the desk's key), all logged in at the desk.
async fn open_exam(app: &TestApp) -> (Session, Session, Session, String) {
    let (admin, chief, _) = app.staff().await;
    let desk = app.workstation(&admin, "desk").await;
    exam_with_template(app, &chief).await;
    app.clock
        .advance(chrono::Duration::days(30) + chrono::Duration::hours(1));
    let chief1 = app.open_room("chief1", &desk, "GK").await;
    let chief2 = app.login("chief2", Some(&desk)).await;
    let admin = app.login("admin", Some(&desk)).await;
    (admin, chief1, chief2, desk)
}

/// A generated sheet whose W1 answer carries `units` (score / step) in its strip.
fn sheet(units: u32) -> Vec<Vec<u8>> {
    let spec = SheetSpec {
        dpi: 50,
        upside_down: false,
        without_anchor: false,
        seed: u64::from(units),
        latents: BTreeMap::from([("W1".to_string(), units)]),
    };
    generate_sheet(&standard_template(&["W1"]), &spec)
        .iter()
        .map(encode_png)
        .collect()
}

async fn upload(app: &TestApp, who: &Session, score: &str, role: &str, pages: Vec<Vec<u8>>) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new()
        .text("score", score.to_string())
        .text("role", role.to_string());
    for p in pages {
        form = form.part(
            "page",
            reqwest::multipart::Part::bytes(p).mime_str("image/png").unwrap(),
        );
    }
    let mut request = app
        .client
        .post(format!("{}/api/v1/exams/GK/questions/W1/prescored", app.base))
        .bearer_auth(&who.token);
    if let Some(key) = &who.key {
        request = request.header("X-Workstation-Key", key);
    }
    request.multipart(form).send().await.unwrap()
}

/// Calibration scripts with these definitive scores (each a multiple of the step).
async fn calibration(app: &TestApp, chief: &Session, scores: &[f64]) {
    for s in scores {
        let units = (s / STEP).round() as u32;
        let r = upload(app, chief, &s.to_string(), "calibration", sheet(units)).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    }
}

/// A marker created, appointed, trained for W1 and assigned to it; returns (id, session).
async fn trained_marker(app: &TestApp, chief: &Session, desk: &str, username: &str) -> (String, Session) {
    let body = json!({
        "username": username, "full_name": format!("Teacher {username}"), "id_document": format!("ID{username}"),
        "birth_date": "1985-03-01", "school_code": "S01", "subject": "Chinese", "years_teaching": 12,
        "recommendation": { "principal": "Principal Zhou", "school": "No. 1 Middle School", "date": "2026-10-01" },
        "attestations": { "health": true, "conduct": true },
    });
    let r = app.post("/api/v1/markers", Some(chief), body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    app.set_own_password(username, created["one_time_password"].as_str().unwrap(), Some(desk))
        .await;
    let session = app.login(username, Some(desk)).await;
    for (path, body) in [
        ("appointments", json!({ "exam": "GK" })),
        (
            "training",
            json!({ "exam": "GK", "question": "W1", "course": "Essay standard", "date": "2026-11-20", "trainer": "Leader Li" }),
        ),
        ("questions", json!({ "exam": "GK", "questions": ["W1"] })),
    ] {
        let r = app
            .post(&format!("/api/v1/markers/{id}/{path}"), Some(chief), body)
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    (id, session)
}

async fn next(app: &TestApp, m: &Session) -> reqwest::Response {
    app.post("/api/v1/exams/GK/qualification/W1/next", Some(m), json!({}))
        .await
}

/// Every answer a marker received, to search for definitive scores afterwards.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn json(&mut self, r: reqwest::Response) -> Value {
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{status}: {text}");
        self.0.push(text.clone());
        serde_json::from_str(&text).unwrap()
    }
}

/// Takes one whole attempt, scoring each script `offset(definitive)`; returns the last answer
/// and the definitive scores in the order served (read from the image, as a person reads it).
async fn attempt(app: &TestApp, m: &Session, seen: &mut Seen, offset: &dyn Fn(usize, f64) -> f64) -> (Value, Vec<f64>) {
    let mut order = vec![];
    loop {
        let task = seen.json(next(app, m).await).await;
        assert!(task.get("definitive").is_none() && task.get("score").is_none());
        let url = task["images"][0].as_str().unwrap().to_string();
        let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let image = decode_page(&r.bytes().await.unwrap(), &Default::default()).unwrap();
        let definitive = f64::from(read_latent(&image)) * STEP;
        let given = offset(order.len(), definitive);
        order.push(definitive);
        let id = task["task_id"].as_str().unwrap();
        let r = app
            .post(
                &format!("/api/v1/qualification/tasks/{id}/score"),
                Some(m),
                json!({ "score": given }),
            )
            .await;
        let answer = seen.json(r).await;
        // The link died with the score.
        let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        if answer["finished"] == true {
            return (answer, order);
        }
        assert_eq!(answer["passed"], Value::Null);
    }
}

/// 13 points off, beyond twice the tolerance of 6, staying on the scale.
fn far_off(_: usize, d: f64) -> f64 {
    if d + 13.0 <= 60.0 { d + 13.0 } else { d - 13.0 }
}

const DEFINITIVE: [f64; 5] = [37.5, 22.5, 48.5, 13.5, 55.5];

#[tokio::test]
async fn no_training_no_post_and_no_definitive_score_reaches_a_marker() {
    let app = TestApp::spawn().await;
    let (admin, chief, _, desk) = open_exam(&app).await;

    // Pre-scored uploads: off the scale, an unknown role, a wrong page count change nothing.
    let r = upload(&app, &chief, "60.5", "calibration", sheet(10)).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_score").await;
    let r = upload(&app, &chief, "30.25", "calibration", sheet(10)).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_score").await;
    let r = upload(&app, &chief, "30", "anchor", sheet(10)).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let mut two = sheet(10);
    two.push(two[0].clone());
    let r = upload(&app, &chief, "30", "seed", two).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "page_count_mismatch").await;
    calibration(&app, &chief, &DEFINITIVE).await;
    let r = upload(&app, &chief, "30.5", "seed", sheet(61)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let listed: Value = app
        .get("/api/v1/exams/GK/questions/W1/prescored", Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    let roles: Vec<&str> = listed["prescored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["calibration"; 5].iter().chain(&["seed"]).copied().collect::<Vec<_>>()
    );
    assert_eq!(listed["prescored"][0]["score"], 37.5);

    let (id, m1) = trained_marker(&app, &chief, &desk, "mk1").await;
    let mut seen = Seen::default();

    // Not assigned, then assigned but the gate holds for a marker merely appointed.
    let (other, m0) = {
        let body = json!({
            "username": "mk0", "full_name": "Teacher mk0", "id_document": "IDmk0",
            "birth_date": "1985-03-01", "school_code": "S01", "subject": "Chinese", "years_teaching": 3,
            "recommendation": { "principal": "P", "school": "S", "date": "2026-10-01" },
            "attestations": { "health": true, "conduct": true },
        });
        let created: Value = app
            .post("/api/v1/markers", Some(&chief), body)
            .await
            .json()
            .await
            .unwrap();
        app.set_own_password("mk0", created["one_time_password"].as_str().unwrap(), Some(&desk))
            .await;
        (
            created["id"].as_str().unwrap().to_string(),
            app.login("mk0", Some(&desk)).await,
        )
    };
    let p = expect_problem(next(&app, &m0).await, StatusCode::CONFLICT, "not_trained").await;
    assert!(p["detail"].as_str().unwrap().contains("applied"), "{p}");
    let r = app
        .post(
            &format!("/api/v1/markers/{other}/appointments"),
            Some(&chief),
            json!({ "exam": "GK" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &format!("/api/v1/markers/{other}/questions"),
            Some(&chief),
            json!({ "exam": "GK", "questions": ["W1"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let p = expect_problem(next(&app, &m0).await, StatusCode::CONFLICT, "not_trained").await;
    assert!(p["detail"].as_str().unwrap().contains("appointed"), "{p}");

    // Attempt 1 fails: every score 13 off.
    let (answer, first) = attempt(&app, &m1, &mut seen, &far_off).await;
    assert_eq!(answer["passed"], false);
    assert_eq!(answer["attempts_left"], 1);
    assert_eq!(answer["status"], "trained");
    let mut sorted = first.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, [13.5, 22.5, 37.5, 48.5, 55.5], "the whole calibration set");

    // A task answered out of turn, or somebody else's, is refused.
    let task = seen.json(next(&app, &m1).await).await;
    let id2 = task["task_id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/qualification/tasks/{id2}/score"),
            Some(&m0),
            json!({ "score": 10 }),
        )
        .await;
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .post(
            &format!("/api/v1/qualification/tasks/{id2}/score"),
            Some(&m1),
            json!({ "score": 10.25 }),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_score").await;

    // Attempt 2 passes: four exact, one 7 off (beyond the tolerance, within twice it): 80 %.
    let (answer, _) = attempt(&app, &m1, &mut seen, &|i, d| {
        if i == 0 {
            if d + 7.0 <= 60.0 { d + 7.0 } else { d - 7.0 }
        } else {
            d
        }
    })
    .await;
    assert_eq!(answer["passed"], true);
    assert_eq!(answer["status"], "active");
    expect_problem(next(&app, &m1).await, StatusCode::CONFLICT, "already_qualified").await;

    // A second marker fails twice and is kept off live work on W1.
    let (_, m2) = trained_marker(&app, &chief, &desk, "mk2").await;
    for left in [1, 0] {
        let (answer, _) = attempt(&app, &m2, &mut seen, &far_off).await;
        assert_eq!(
            (answer["passed"].clone(), answer["attempts_left"].clone()),
            (json!(false), json!(left))
        );
    }
    let p = expect_problem(
        next(&app, &m2).await,
        StatusCode::CONFLICT,
        "qualification_attempts_exhausted",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("no live work"));

    // Nothing a marker received names a definitive score, a deviation or the seed.
    for text in &seen.0 {
        let answer: Value = serde_json::from_str(text).unwrap();
        let (mut keys, mut numbers) = (vec![], vec![]);
        walk(&answer, &mut keys, &mut numbers);
        for key in ["definitive", "deviation", "within", "seed", "role", "prescored_id"] {
            assert!(!keys.contains(&key.to_string()), "a marker saw {key}: {text}");
        }
        for n in numbers {
            assert!(!DEFINITIVE.contains(&n) && n != 30.5, "a marker saw {n}: {text}");
        }
    }
    // Markers cannot reach the leaders' views of them.
    let r = app.get("/api/v1/exams/GK/questions/W1/prescored", Some(&m1)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app.get(&format!("/api/v1/markers/{id}"), Some(&m1)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "forbidden").await;

    // The archive keeps both attempts with every deviation; the list shows the standing.
    let record: Value = app
        .get(&format!("/api/v1/markers/{id}"), Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    let gk = &record["exams"][0];
    assert_eq!(gk["status"], "active");
    assert_eq!(gk["qualified"], json!(["W1"]));
    let attempts = gk["qualification"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["passed"], false);
    assert_eq!(attempts[0]["max_deviation"], 13.0);
    assert_eq!(attempts[1]["within"], 4);
    let deviations: Vec<f64> = attempts[0]["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["deviation"].as_f64().unwrap().abs())
        .collect();
    assert_eq!(deviations, [13.0; 5]);
    let steps: Vec<&str> = gk["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["eligible", "appointed", "trained", "qualified", "active"]);
    // A certification rests on the passed test; it shows in the archive and the list.
    let cert = json!({ "subject": "Chinese", "level": "provincial", "issued": "2026-12-31", "expires": "2029-12-31" });
    let r = app
        .post(&format!("/api/v1/markers/{id}/certifications"), Some(&chief), cert)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r.json::<Value>().await.unwrap()["id"].is_string());
    let list: Value = app
        .get("/api/v1/exams/GK/markers", Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    let standing: Vec<(&str, &str)> = list["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["username"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(standing, [("mk0", "appointed"), ("mk1", "active"), ("mk2", "trained")]);

    let entries = app.audit_entries(&admin).await;
    for action in ["prescored.upload", "qualification.start", "qualification.score"] {
        assert!(entries.iter().any(|e| e["action"] == action), "{action} audited");
    }
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "qualification.start" && e["outcome"] == "refused"),
        "refused starts are audited"
    );
}

/// Every key and every number in an answer.
fn walk(v: &Value, keys: &mut Vec<String>, numbers: &mut Vec<f64>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                keys.push(k.clone());
                walk(v, keys, numbers);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| walk(v, keys, numbers)),
        Value::Number(n) => numbers.extend(n.as_f64()),
        _ => {}
    }
}

/// A marker who passed a one-script test.
async fn active_marker(app: &TestApp, chief: &Session, desk: &str, username: &str) -> (String, Session) {
    let (id, m) = trained_marker(app, chief, desk, username).await;
    let (answer, _) = attempt(app, &m, &mut Seen::default(), &|_, d| d).await;
    assert_eq!(answer["status"], "active");
    (id, m)
}

async fn standing(app: &TestApp, chief: &Session, id: &str) -> Value {
    let record: Value = app
        .get(&format!("/api/v1/markers/{id}"), Some(chief))
        .await
        .json()
        .await
        .unwrap();
    record["exams"][0].clone()
}

#[tokio::test]
async fn a_relative_found_later_pauses_an_active_marker_and_sanctions_take_two_chiefs() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2, desk) = open_exam(&app).await;
    calibration(&app, &chief1, &[30.0]).await;
    let (id1, m1) = active_marker(&app, &chief1, &desk, "mk1").await;
    let (id2, m2) = active_marker(&app, &chief1, &desk, "mk2").await;

    // mk1's nephew is added to the candidate list after mk1 started work.
    let r = app
        .post(
            "/api/v1/exams/GK/relatives",
            Some(&m1),
            json!({ "admission_numbers": ["20269999"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list = json!([{ "admission_number": "20269999", "name": "Nephew", "school_code": "S09" }]);
    assert_eq!(
        app.post("/api/v1/exams/GK/candidates", Some(&chief1), list)
            .await
            .status(),
        StatusCode::OK
    );
    let gk = standing(&app, &chief1, &id1).await;
    assert_eq!(gk["status"], "paused");
    assert_eq!(gk["reviews"][0]["kind"], "ineligible");
    assert_eq!(gk["reviews"][0]["status"], "open");
    assert_eq!(
        gk["reviews"][0]["evidence"],
        json!(["an immediate relative sits this exam"])
    );
    // Pausing ends the marker's tokens at once.
    expect_problem(next(&app, &m1).await, StatusCode::FORBIDDEN, "marker_paused").await;
    // Nobody reinstates a marker a rule still bars.
    let why = json!({ "exam": "GK", "reason": "relative checked" });
    let r = app
        .post(&format!("/api/v1/markers/{id1}/reinstate"), Some(&chief1), why)
        .await;
    let p = expect_problem(r, StatusCode::CONFLICT, "ineligible").await;
    assert!(p["detail"].as_str().unwrap().contains("relative"));
    let r = app
        .post(
            &format!("/api/v1/markers/{id1}/appointments"),
            Some(&chief1),
            json!({ "exam": "GK" }),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "ineligible").await;
    let history = standing(&app, &chief1, &id1).await["history"].clone();
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str()),
        (Some("active"), Some("paused"))
    );
    assert!(last["reason"].as_str().unwrap().contains("relative"), "{last}");
    assert!(last["by"].is_string(), "the importer is named");

    // A leader pauses mk2 and reinstates them; the review closes with the decision.
    let r = app
        .post(
            &format!("/api/v1/markers/{id2}/reinstate"),
            Some(&chief1),
            json!({ "exam": "GK", "reason": "not paused" }),
        )
        .await;
    let p = expect_problem(r, StatusCode::CONFLICT, "invalid_transition").await;
    assert!(p["detail"].as_str().unwrap().contains("active"));
    let r = app
        .post(
            &format!("/api/v1/markers/{id2}/pause"),
            Some(&chief1),
            json!({ "exam": "GK", "reason": "  " }),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason").await;
    let r = app
        .post(
            &format!("/api/v1/markers/{id2}/pause"),
            Some(&chief1),
            json!({ "exam": "GK", "reason": "talking during marking" }),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "paused");
    expect_problem(next(&app, &m2).await, StatusCode::FORBIDDEN, "marker_paused").await;
    let r = app
        .post(
            &format!("/api/v1/markers/{id2}/reinstate"),
            Some(&chief1),
            json!({ "exam": "GK", "reason": "warned" }),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "active");
    let gk = standing(&app, &chief1, &id2).await;
    assert_eq!(gk["reviews"][0]["decision"], "reinstate");

    // Suspension: one chief asks, the same chief cannot approve, the other does.
    let ask = |kind: &str, marker: &str| json!({ "kind": kind, "payload": { "marker_id": marker, "reason": "marked with a phone on the desk" } });
    let r = app
        .post("/api/v1/exams/GK/approvals", Some(&chief1), ask("suspend_marker", &id2))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let request: Value = r.json().await.unwrap();
    assert_eq!(
        request["subject"]["username"], "mk2",
        "the decider sees whom it concerns"
    );
    let rid = request["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/approvals/{rid}/approve"), Some(&chief1), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(standing(&app, &chief1, &id2).await["status"], "active");
    let r = app
        .post(&format!("/api/v1/approvals/{rid}/approve"), Some(&chief2), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let gk = standing(&app, &chief1, &id2).await;
    assert_eq!(gk["status"], "suspended");
    assert_eq!(gk["discipline"][0]["kind"], "suspended");
    assert_ne!(gk["discipline"][0]["requested_by"], gk["discipline"][0]["decided_by"]);
    assert_eq!(
        gk["history"].as_array().unwrap().last().unwrap()["reason"],
        "marked with a phone on the desk"
    );
    let r = app.get("/api/v1/exams/GK/markers", Some(&chief1)).await;
    assert_eq!(r.status(), StatusCode::OK);
    // A sanction that no longer applies is refused when filed; dismissal takes two as well.
    let r = app
        .post("/api/v1/exams/GK/approvals", Some(&chief1), ask("suspend_marker", &id2))
        .await;
    expect_problem(r, StatusCode::CONFLICT, "invalid_transition").await;
    let r = app
        .post("/api/v1/exams/GK/approvals", Some(&chief2), ask("dismiss_marker", &id2))
        .await;
    let rid = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let r = app
        .post(&format!("/api/v1/approvals/{rid}/approve"), Some(&chief1), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let gk = standing(&app, &chief1, &id2).await;
    assert_eq!(gk["status"], "dismissed");
    assert_eq!(gk["discipline"].as_array().unwrap().len(), 2);
    // Nothing leaves dismissal.
    let r = app
        .post(
            &format!("/api/v1/markers/{id2}/reinstate"),
            Some(&chief1),
            json!({ "exam": "GK", "reason": "appeal" }),
        )
        .await;
    let p = expect_problem(r, StatusCode::CONFLICT, "invalid_transition").await;
    assert!(p["detail"].as_str().unwrap().contains("dismissed"));

    let entries = app.audit_entries(&admin).await;
    for action in [
        "relatives.declare",
        "marker.pause",
        "marker.reinstate",
        "marker.standing",
    ] {
        assert!(entries.iter().any(|e| e["action"] == action), "{action} audited");
    }
}
