//! Blind distribution and independent marking over HTTP: a whole campaign to resolution with no
//! identity in anything a marker receives; replayed and refused submits; image links that die
//! with their lease; identity-exposed scripts marked afresh; the closed room.

use std::collections::{BTreeMap, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::floor::{Floor, floor, latent_of, qualified_marker};
use crate::helpers::{Session, TestApp, expect_problem};

/// Every byte a marker received (headers included).
#[derive(Default)]
pub struct Received(Vec<u8>);

impl Received {
    async fn take(&mut self, r: reqwest::Response) -> (StatusCode, Value) {
        let status = r.status();
        for (k, v) in r.headers() {
            self.0.extend_from_slice(k.as_str().as_bytes());
            self.0.extend_from_slice(v.as_bytes());
        }
        let bytes = r.bytes().await.unwrap();
        self.0.extend_from_slice(&bytes);
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn contains(&self, needle: &str) -> bool {
        self.0.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

pub fn no_rules() -> Value {
    json!({ "self_check_rate": 0, "seed_rate": 0, "backread_rate": 0 })
}

pub async fn next(app: &TestApp, m: &Session) -> reqwest::Response {
    app.post("/api/v1/marking/next", Some(m), json!({})).await
}

pub async fn score(app: &TestApp, m: &Session, task: &str, body: Value, key: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/api/v1/marking/tasks/{task}/score", app.base))
        .bearer_auth(&m.token)
        .json(&body);
    if let Some(k) = &m.key {
        request = request.header("X-Workstation-Key", k);
    }
    if let Some(k) = key {
        request = request.header("Idempotency-Key", k);
    }
    request.send().await.unwrap()
}

/// The score a fair marker gives: the latent read from the image, with criteria for W1.
pub fn fair(question: &str, latent: u32) -> Value {
    if question == "W1" {
        let content = latent.min(40);
        json!({ "score": latent, "criteria": { "content": content, "language": latent - content } })
    } else {
        json!({ "score": latent })
    }
}

pub async fn progress(app: &TestApp, chief: &Session) -> Value {
    let r = app.get("/api/v1/exams/GK/progress", Some(chief)).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn body_again() -> Value {
    json!({ "score": 30, "criteria": { "content": 20, "language": 10 },
        "annotations": [{ "kind": "comment", "page": 0, "x": 0.4, "y": 0.3, "text": "good opening" }], "seconds_spent": 95 })
}

/// Markers take turns until nothing is left for any of them; leaders settle disputes.
async fn mark_everything(app: &TestApp, f: &Floor, seen: &mut Received) {
    for _round in 0..200 {
        let mut any = false;
        for (_, m) in &f.markers {
            let (status, lease) = seen.take(next(app, m).await).await;
            if status == StatusCode::NO_CONTENT {
                continue;
            }
            assert_eq!(status, StatusCode::OK, "{lease}");
            any = true;
            let url = lease["images"][0].as_str().unwrap();
            let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
            let latent = {
                let (status, _) = (r.status(), ());
                assert_eq!(status, StatusCode::OK);
                let bytes = r.bytes().await.unwrap();
                seen.0.extend_from_slice(&bytes);
                markroom::scans::read_latent(&markroom::scans::decode_page(&bytes, &Default::default()).unwrap())
            };
            let task = lease["task_id"].as_str().unwrap();
            let body = fair(lease["question"].as_str().unwrap(), latent);
            let (status, answer) = seen.take(score(app, m, task, body, Some(task)).await).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        if !any {
            break;
        }
    }
}

#[tokio::test]
async fn a_campaign_marks_every_script_to_resolution_and_no_identity_reaches_a_marker() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 8, 4, no_rules()).await;
    let p = progress(&app, &f.chief1).await;
    assert_eq!(p["questions"][0]["scripts"]["awaiting"], 8);
    assert_eq!(p["questions"][0]["tasks"]["open"], 24, "three tasks per essay");
    assert_eq!(p["questions"][1]["tasks"]["open"], 16, "two per short answer");
    // Codes and task ids do not follow scan order (it would betray room and school).
    let (codes, tasks) = app.codes_in_scan_order("GK");
    let sorted = |v: &[String]| v.windows(2).all(|w| w[0] <= w[1]) || v.windows(2).all(|w| w[0] >= w[1]);
    assert!(!sorted(&codes) && !sorted(&tasks), "{codes:?} {tasks:?}");
    let mut seen = Received::default();
    mark_everything(&app, &f, &mut seen).await;
    let p = progress(&app, &f.chief1).await;
    for q in p["questions"].as_array().unwrap() {
        assert_eq!(q["scripts"]["resolved"], 8, "{q}");
        assert_eq!(q["tasks"]["open"], 0);
        assert_eq!(q["tasks"]["leased"], 0);
    }
    assert_eq!(p["questions"][0]["tasks"]["done"], 24);
    let today: i64 = p["questions"][0]["marks_today_by_marker"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(today, 24);
    // Nothing any marker received names a candidate, a number or a school.
    for c in &f.candidates {
        for s in [&c.name, &c.admission_number, &c.school_code] {
            assert!(!seen.contains(s), "a marker received {s}");
        }
    }
    // A marker's own counts, and nothing of anyone else's.
    let (_, me) = Received::default()
        .take(app.get("/api/v1/marking/me", Some(&f.markers[0].1)).await)
        .await;
    assert_eq!(me["exams"][0]["status"], "active");
    assert!(me["exams"][0]["marked_today"].as_u64().unwrap() > 0);
    assert_eq!(me["current_task"], Value::Null);
}

#[tokio::test]
async fn submits_are_answered_once_and_bad_ones_change_nothing() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 3, 2, no_rules()).await;
    let (m1, m2) = (&f.markers[0].1, &f.markers[1].1);
    let lease: Value = app
        .post("/api/v1/marking/next", Some(m1), json!({ "question": "W1" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lease["question"], "W1");
    // Asking again returns the same lease.
    let again: Value = next(&app, m1).await.json().await.unwrap();
    assert_eq!(again["task_id"], lease["task_id"]);
    let task = lease["task_id"].as_str().unwrap();
    for (body, code) in [
        (json!({ "score": 30.5 }), "invalid_score"),
        (json!({ "score": 61 }), "invalid_score"),
        (
            json!({ "score": 30, "criteria": { "content": 20, "language": 9 } }),
            "criteria_sum",
        ),
        (
            json!({ "score": 30, "criteria": { "content": 20 } }),
            "invalid_criteria",
        ),
        (
            json!({ "score": 30, "annotations": [{ "kind": "tick", "x": 2, "y": 0.5 }] }),
            "invalid_annotation",
        ),
    ] {
        let r = score(&app, m1, task, body.clone(), None).await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
    // Another marker cannot score it.
    expect_problem(
        score(&app, m2, task, json!({ "score": 30 }), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let body = json!({ "score": 30, "criteria": { "content": 20, "language": 10 },
        "annotations": [{ "kind": "comment", "page": 0, "x": 0.4, "y": 0.3, "text": "good opening" }], "seconds_spent": 95 });
    let image = format!("{}{}", app.base, again["images"][0].as_str().unwrap());
    assert_eq!(app.client.get(&image).send().await.unwrap().status(), StatusCode::OK);
    let first = score(&app, m1, task, body.clone(), Some("k-1")).await;
    assert_eq!(first.status(), StatusCode::OK);
    // The mark ends the lease's image link with it.
    assert_eq!(
        app.client.get(&image).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let first: Value = first.json().await.unwrap();
    let replay: Value = score(&app, m1, task, body, Some("k-1")).await.json().await.unwrap();
    assert_eq!(first, replay, "the retry is answered, not doubled");
    let r = score(&app, m1, task, json!({ "score": 31 }), Some("k-1")).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    let r = score(&app, m1, task, json!({ "score": 31 }), Some("k-2")).await;
    expect_problem(r, StatusCode::CONFLICT, "already_scored").await;
    // A key answers for its own task only.
    let other: Value = next(&app, m1).await.json().await.unwrap();
    let other_task = other["task_id"].as_str().unwrap();
    let r = score(&app, m1, other_task, body_again(), Some("k-1")).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    let r = app
        .post(
            &format!("/api/v1/marking/tasks/{other_task}/flag"),
            Some(m1),
            json!({ "kind": "blank", "note": "a\u{0}b" }),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_note").await;
    let p = progress(&app, &f.chief1).await;
    assert_eq!(p["questions"][0]["tasks"]["done"], 1, "one mark stored");

    // A lease that ran out takes no mark, and its image link is dead.
    let lease: Value = next(&app, m1).await.json().await.unwrap();
    let url = lease["images"][0].as_str().unwrap().to_string();
    app.clock.advance(chrono::Duration::minutes(11));
    let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let task = lease["task_id"].as_str().unwrap();
    let r = score(&app, m1, task, json!({ "score": 5 }), None).await;
    expect_problem(r, StatusCode::CONFLICT, "lease_expired").await;

    // Released: the link dies at once, the task goes to somebody else.
    let lease: Value = next(&app, m1).await.json().await.unwrap();
    let url = lease["images"][0].as_str().unwrap().to_string();
    let task = lease["task_id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/marking/tasks/{task}/release"), Some(m1), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Closing the room ends leases and links, and markers hear why.
    let lease: Value = next(&app, m2).await.json().await.unwrap();
    let url = lease["images"][0].as_str().unwrap().to_string();
    let r = app
        .post("/api/v1/exams/GK/room", Some(&f.chief1), json!({ "open": false }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    expect_problem(next(&app, m2).await, StatusCode::FORBIDDEN, "room_closed").await;
    let p = progress(&app, &f.chief1).await;
    assert_eq!(p["questions"][0]["tasks"]["leased"], 0);
    assert_eq!(p["questions"][1]["tasks"]["leased"], 0);
    // Once marking has started, the rules that decide finals stand.
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/exams/GK/settings",
            Some(&f.chief1),
            Some(json!({ "default_tolerance_percent": 20 })),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "rule_frozen").await;
}

#[tokio::test]
async fn an_exposed_identity_voids_the_marks_and_fresh_markers_mark_the_script_again() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 1, 6, no_rules()).await;
    // Two markers mark the essay; the third sees a name and flags it.
    let mut markers_of_first = vec![];
    let mut flagged_task = String::new();
    for (i, (id, m)) in f.markers.iter().take(3).enumerate() {
        let lease: Value = app
            .post("/api/v1/marking/next", Some(m), json!({ "question": "W1" }))
            .await
            .json()
            .await
            .unwrap();
        let task = lease["task_id"].as_str().unwrap().to_string();
        markers_of_first.push(id.clone());
        if i < 2 {
            let body = json!({ "score": 50, "criteria": { "content": 40, "language": 10 } });
            assert_eq!(score(&app, m, &task, body, None).await.status(), StatusCode::OK);
        } else {
            flagged_task = task;
            let r = app
                .post(
                    &format!("/api/v1/marking/tasks/{flagged_task}/flag"),
                    Some(m),
                    json!({ "kind": "identity_exposed", "note": "a name in the margin" }),
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    let p = progress(&app, &f.chief1).await;
    assert_eq!(p["questions"][0]["scripts"]["needs_treatment"], 1);
    assert_eq!(p["questions"][0]["tasks"]["open"], 0, "withdrawn from everyone");
    // The custodians treat it (mask the margin); it goes back to marking afresh.
    let list: Value = app
        .get("/api/v1/exams/GK/treatment", Some(&f.custodians[0]))
        .await
        .json()
        .await
        .unwrap();
    let script = list[0]["script_id"].as_str().unwrap();
    let treat = json!({ "turn": false, "masks": [{ "page": 0, "x": 0.0, "y": 0.9, "width": 0.1, "height": 0.05 }] });
    let r = app
        .post(
            &format!("/api/v1/scripts/{script}/treatment"),
            Some(&f.custodians[1]),
            treat,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let p = progress(&app, &f.chief1).await;
    assert_eq!(p["questions"][0]["tasks"]["open"], 3, "three fresh tasks");
    // Those who held it never get it again; three others mark it at 20.
    for (_, m) in f.markers.iter().take(3) {
        let r = app
            .post("/api/v1/marking/next", Some(m), json!({ "question": "W1" }))
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    for (_, m) in f.markers.iter().skip(3) {
        let lease: Value = app
            .post("/api/v1/marking/next", Some(m), json!({ "question": "W1" }))
            .await
            .json()
            .await
            .unwrap();
        let task = lease["task_id"].as_str().unwrap();
        let body = json!({ "score": 20, "criteria": { "content": 15, "language": 5 } });
        assert_eq!(score(&app, m, task, body, None).await.status(), StatusCode::OK);
    }
    let p = progress(&app, &f.chief1).await;
    assert_eq!(p["questions"][0]["scripts"]["resolved"], 1);
    // Leadership sees the final came from the fresh marks only (a back-read would show it; the
    // dispute queue is empty, and the flagged task's marker had no mark).
    let q: Value = app
        .get("/api/v1/exams/GK/discrepancies", Some(&f.chief1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q, json!([]));
    let finals = app.final_scores("GK");
    assert_eq!(finals, vec![2000], "the mean of the fresh marks, not of 50, 50 and 20");
    let _ = flagged_task;
}

#[tokio::test]
async fn disagreeing_marks_go_to_arbitration_and_short_answers_get_a_third_mark() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 1, 3, no_rules()).await;
    let marks = [(10, 3), (30, 7), (12, 6)];
    for ((_, m), (w1, s2)) in f.markers.iter().zip(marks) {
        for (q, s) in [("W1", w1), ("S2", s2)] {
            let r = app
                .post("/api/v1/marking/next", Some(m), json!({ "question": q }))
                .await;
            if r.status() == StatusCode::NO_CONTENT {
                continue;
            }
            let lease: Value = r.json().await.unwrap();
            let task = lease["task_id"].as_str().unwrap();
            let body = if q == "W1" {
                json!({ "score": s, "criteria": { "content": s, "language": 0 } })
            } else {
                json!({ "score": s })
            };
            assert_eq!(score(&app, m, task, body, None).await.status(), StatusCode::OK);
        }
    }
    // S2: 3 and 7 disagree, a third (6) came: closest pair 6 and 7 → 6.5.
    // W1: 10, 30, 12 spread 20 > 6: disputed.
    let q: Value = app
        .get("/api/v1/exams/GK/discrepancies", Some(&f.chief1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q.as_array().unwrap().len(), 1, "{q}");
    assert_eq!(q[0]["question"], "W1");
    assert_eq!(q[0]["spread"], 20.0);
    assert_eq!(q[0]["marks"].as_array().unwrap().len(), 3);
    let id = q[0]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/discrepancies/{id}/arbitrate"),
            Some(&f.chief1),
            json!({ "score": 14, "reason": " " }),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason").await;
    let r = app
        .post(
            &format!("/api/v1/discrepancies/{id}/arbitrate"),
            Some(&f.chief1),
            json!({ "score": 14, "reason": "read again against the rubric" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut finals = app.final_scores("GK");
    finals.sort_unstable();
    assert_eq!(finals, vec![650, 1400]);
    let entries = app.audit_entries(&f.admin).await;
    for action in ["queue.read", "dispute.arbitrate", "marking.score", "marking.next"] {
        assert!(entries.iter().any(|e| e["action"] == action), "{action} audited");
    }
}

#[tokio::test]
async fn fifty_markers_at_once_never_mark_a_script_twice_and_lose_nothing() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 60, 50, no_rules()).await;
    let mut handles = vec![];
    for (i, (_, m)) in f.markers.iter().enumerate() {
        let (client, base, m) = (app.client.clone(), app.base.clone(), m.clone());
        handles.push(tokio::spawn(async move {
            let mut scored = 0;
            for round in 0..40 {
                let send = |path: String, body: Value| {
                    let mut r = client.post(format!("{base}{path}")).bearer_auth(&m.token).json(&body);
                    if let Some(k) = &m.key {
                        r = r.header("X-Workstation-Key", k);
                    }
                    r.send()
                };
                let r = send("/api/v1/marking/next".into(), json!({})).await.unwrap();
                if r.status() == StatusCode::NO_CONTENT {
                    break;
                }
                assert_eq!(r.status(), StatusCode::OK);
                let lease: Value = r.json().await.unwrap();
                // Some markers walk away from a lease now and then: it expires.
                if (i + round) % 7 == 3 {
                    continue;
                }
                let task = lease["task_id"].as_str().unwrap().to_string();
                let body = if lease["question"] == "W1" {
                    json!({ "score": 30, "criteria": { "content": 20, "language": 10 } })
                } else {
                    json!({ "score": 5 })
                };
                let r = send(format!("/api/v1/marking/tasks/{task}/score"), body).await.unwrap();
                if r.status() == StatusCode::OK {
                    scored += 1;
                } else {
                    assert_eq!(r.status(), StatusCode::CONFLICT, "{}", r.text().await.unwrap());
                }
            }
            scored
        }));
    }
    let mut scored = 0;
    for (n, h) in handles.into_iter().enumerate() {
        scored += h.await.unwrap();
        if n == 25 {
            // Leases expire mid-run.
            app.clock.advance(chrono::Duration::minutes(11));
        }
    }
    // Walked-away leases expire; the rest is marked by whoever asks next.
    app.clock.advance(chrono::Duration::minutes(11));
    let mut seen = Received::default();
    mark_everything(&app, &f, &mut seen).await;
    let p = progress(&app, &f.chief1).await;
    assert_eq!(p["questions"][0]["scripts"]["resolved"], 60);
    assert_eq!(p["questions"][1]["scripts"]["resolved"], 60);
    let (marks, per_script_marker, essays_with_three) = app.mark_facts("GK");
    assert_eq!(per_script_marker, marks, "no script has two marks by one marker");
    assert_eq!(essays_with_three, 60, "every essay has exactly three valid marks");
    assert!(scored > 0);
    let tasks_done =
        p["questions"][0]["tasks"]["done"].as_i64().unwrap() + p["questions"][1]["tasks"]["done"].as_i64().unwrap();
    assert_eq!(tasks_done as usize, marks, "no task done twice, no mark lost");
}

#[tokio::test]
async fn markers_outside_an_open_room_are_refused_and_a_marker_never_gets_their_own_school() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 2, 1, no_rules()).await;
    // A marker from the candidates' school gets none of their scripts.
    let school = f.candidates[0].school_code.clone();
    let (id, m) = qualified_marker(&app, &f.chief1, &f.desk, "local").await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/markers/{id}"),
            Some(&f.chief1),
            Some(json!({ "school_code": school })),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut codes = HashSet::new();
    loop {
        let r = next(&app, &m).await;
        if r.status() == StatusCode::NO_CONTENT {
            break;
        }
        let lease: Value = r.json().await.unwrap();
        let latent = latent_of(&app, lease["images"][0].as_str().unwrap()).await;
        codes.insert(lease["anonymous_code"].as_str().unwrap().to_string());
        let task = lease["task_id"].as_str().unwrap();
        let body = fair(lease["question"].as_str().unwrap(), latent);
        assert_eq!(score(&app, &m, task, body, None).await.status(), StatusCode::OK);
    }
    let own: BTreeMap<_, _> = app.codes_by_school("GK");
    for code in &codes {
        assert_ne!(own.get(code), Some(&school), "{code} is from the marker's school");
    }
    assert_eq!(codes.len(), 2, "only the other candidate's two scripts");
    // After the window: room closed, for login too.
    app.clock.advance(chrono::Duration::days(11));
    let r = app.try_login("mk00", crate::helpers::PASSWORD, Some(&f.desk)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "room_closed").await;
}

#[tokio::test]
async fn seeds_and_self_checks_look_like_live_work_and_are_kept_apart() {
    let app = TestApp::spawn().await;
    // A seed among the first five serves of the day, none after; every mark re-served as a
    // self-check when one is due.
    let rules = json!({ "self_check_rate": 1, "seed_rate": 0, "backread_rate": 0, "first_seed_within": 5 });
    let f = floor(&app, 6, 1, rules).await;
    let r = crate::floor::post_pages(
        &app,
        &f.chief1,
        "/api/v1/exams/GK/questions/W1/prescored",
        &[("score", "33"), ("role", "seed")],
        crate::floor::seed_sheet(33),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let m = &f.markers[0].1;
    let live_codes: HashSet<String> = app.codes_by_school("GK").into_keys().collect();
    let mut keys: Option<Vec<String>> = None;
    let (mut fresh, mut live) = (vec![], 0);
    for _ in 0..12 {
        let r = next(&app, m).await;
        if r.status() == StatusCode::NO_CONTENT {
            break;
        }
        let lease: Value = r.json().await.unwrap();
        let mut k: Vec<String> = lease.as_object().unwrap().keys().cloned().collect();
        k.sort();
        assert_eq!(keys.get_or_insert(k.clone()), &k, "every lease has the same shape");
        let code = lease["anonymous_code"].as_str().unwrap().to_string();
        let latent = latent_of(&app, lease["images"][0].as_str().unwrap()).await;
        if live_codes.contains(&code) {
            live += 1;
        } else {
            fresh.push(code);
        }
        let task = lease["task_id"].as_str().unwrap();
        let body = fair(lease["question"].as_str().unwrap(), latent);
        assert_eq!(score(&app, m, task, body, None).await.status(), StatusCode::OK);
    }
    let (seeds, checks) = app.seed_and_self_check_counts("GK");
    assert_eq!(seeds, 1, "one seed among the first five");
    assert!(checks >= 1, "self-checks came");
    assert_eq!(
        fresh.len(),
        seeds + checks,
        "both under fresh codes, never a live script's"
    );
    let unique: HashSet<&String> = fresh.iter().collect();
    assert_eq!(unique.len(), fresh.len(), "a fresh code at every serving");
    assert!(live > 0);
    let (marks, _, _) = app.mark_facts("GK");
    assert_eq!(marks, live, "seeds and self-checks are not marks");
    let p = progress(&app, &f.chief1).await;
    let today: i64 = p["questions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|q| {
            q["marks_today_by_marker"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_i64().unwrap())
                .collect::<Vec<_>>()
        })
        .sum();
    assert_eq!(today as usize, live + fresh.len(), "every mark counts as work done");
}

#[tokio::test]
async fn problem_scripts_and_back_reads_go_to_leadership() {
    let app = TestApp::spawn().await;
    let f = floor(
        &app,
        2,
        4,
        json!({ "self_check_rate": 0, "seed_rate": 0, "backread_rate": 1 }),
    )
    .await;
    // Anonymous codes do not follow scan order.
    let (m1, m2) = (&f.markers[0].1, &f.markers[1].1);
    let lease: Value = app
        .post("/api/v1/marking/next", Some(m1), json!({ "question": "S2" }))
        .await
        .json()
        .await
        .unwrap();
    let task = lease["task_id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/marking/tasks/{task}/flag"),
            Some(m1),
            json!({ "kind": "blank", "note": "nothing written" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let problems: Value = app
        .get("/api/v1/exams/GK/problems", Some(&f.chief1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(problems[0]["kind"], "blank");
    assert_eq!(problems[0]["anonymous_code"], lease["anonymous_code"]);
    let id = problems[0]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/problems/{id}/resolve"),
            Some(&f.chief1),
            json!({ "action": "score", "score": 0, "reason": "blank answer" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    assert_eq!(app.final_scores("GK"), vec![0]);
    let r = app
        .post(
            &format!("/api/v1/problems/{id}/resolve"),
            Some(&f.chief1),
            json!({ "action": "return", "reason": "again" }),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "already_settled").await;
    // The rest is marked; every resolved script is sampled for a back-read (rate 1).
    mark_everything(&app, &f, &mut Received::default()).await;
    let reads: Value = app
        .get("/api/v1/exams/GK/backreads", Some(&f.chief2))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reads.as_array().unwrap().len(), 3, "{reads}");
    assert!(reads[0].get("final").is_none(), "back-reads are blind");
    // A back-read far from the final disputes the script again.
    let id = reads[0]["id"].as_str().unwrap();
    let (q, far) = if reads[0]["question"] == "W1" {
        ("W1", 0)
    } else {
        ("S2", 10)
    };
    let r = app
        .post(
            &format!("/api/v1/backreads/{id}/score"),
            Some(&f.chief2),
            json!({ "score": far }),
        )
        .await;
    let settled: Value = r.json().await.unwrap();
    assert_eq!(settled["method"], "disputed", "{settled}");
    let disputes: Value = app
        .get(&format!("/api/v1/exams/GK/discrepancies?question={q}"), Some(&f.chief2))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(disputes[0]["cause"], "backread");
    let _ = m2;
}

#[tokio::test]
async fn a_paused_marker_loses_the_lease_and_marks_nothing_more() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 2, 1, no_rules()).await;
    let (id, m) = &f.markers[0];
    let lease: Value = next(&app, m).await.json().await.unwrap();
    let url = lease["images"][0].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/api/v1/markers/{id}/pause"),
            Some(&f.chief1),
            json!({ "exam": "GK", "reason": "checking a complaint" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the link died with the pause");
    let p = progress(&app, &f.chief1).await;
    let leased: i64 = p["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["tasks"]["leased"].as_i64().unwrap())
        .sum();
    assert_eq!(leased, 0, "the task went back to the queue");
    // The pause ended the marker's tokens; their requests and logins hear why while paused.
    expect_problem(next(&app, m).await, StatusCode::FORBIDDEN, "marker_paused").await;
    let r = app.try_login("mk00", crate::helpers::PASSWORD, Some(&f.desk)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "marker_paused").await;
    // Reinstated, they work again; the old lease is gone.
    let r = app
        .post(
            &format!("/api/v1/markers/{id}/reinstate"),
            Some(&f.chief1),
            json!({ "exam": "GK", "reason": "complaint unfounded" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let again = app.login("mk00", Some(&f.desk)).await;
    let task = lease["task_id"].as_str().unwrap();
    let r = score(&app, &again, task, json!({ "score": 5 }), None).await;
    expect_problem(r, StatusCode::CONFLICT, "lease_expired").await;
    assert_eq!(next(&app, &again).await.status(), StatusCode::OK);
}

/// A script's independent marks come close together: once a script is in marking, the next
/// markers of its question get its remaining tasks before any fresh script (the statistics judge
/// a marker by scripts others marked too).
#[tokio::test]
async fn scripts_already_in_marking_are_leased_before_fresh_ones() {
    let app = TestApp::spawn().await;
    let f = floor(&app, 12, 4, no_rules()).await;
    let lease_of = |m: usize| {
        let (app, f) = (&app, &f);
        async move {
            let body = json!({ "question": "W1" });
            let r = app.post("/api/v1/marking/next", Some(&f.markers[m].1), body).await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let first = lease_of(0).await;
    let code = first["anonymous_code"].as_str().unwrap().to_string();
    // W1 takes three marks: the script's other two tasks go to the next two markers, out of
    // the thirty-five tasks of twelve scripts still open (by chance: once in about 600 runs).
    for m in [1, 2] {
        let lease = lease_of(m).await;
        assert_eq!(lease["anonymous_code"], code.as_str(), "marker {m} got a fresh script");
    }
    // Nothing of it is left: the fourth marker starts a fresh script.
    let fourth = lease_of(3).await;
    assert_ne!(fourth["anonymous_code"], code.as_str());
    let p = progress(&app, &f.chief1).await;
    assert_eq!(p["questions"][0]["scripts"]["marking"], 2, "{p}");
    assert_eq!(p["questions"][0]["scripts"]["awaiting"], 10, "{p}");
    // Its first task, given back, still counts as begun with its two siblings: the three
    // markers done with the first script get the fourth's, before any of 30 fresh tasks.
    let task = fourth["task_id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/marking/tasks/{task}/release"),
            Some(&f.markers[3].1),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for m in [0, 1, 2] {
        let held: Value = next(&app, &f.markers[m].1).await.json().await.unwrap();
        let task = held["task_id"].as_str().unwrap();
        let r = score(&app, &f.markers[m].1, task, json!({ "score": 30 }), None).await;
        assert_eq!(r.status(), StatusCode::OK);
        let lease = lease_of(m).await;
        assert_eq!(
            lease["anonymous_code"], fourth["anonymous_code"],
            "marker {m} got a fresh script"
        );
    }
}
