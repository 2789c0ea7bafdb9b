//! The marker archive: vetting with every failed rule named, appointment, training; relatives.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};

/// An exam whose first marking day is 29 December 2026 in Shanghai.
async fn exam(app: &TestApp, chief: &Session) {
    let r = app
        .post(
            "/api/v1/exams",
            Some(chief),
            json!({
                "code": "GK", "name": "County exam", "time_zone": "Asia/Shanghai",
                "window_start": "2026-12-28T16:00:00Z", "window_end": "2027-01-10T00:00:00Z",
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let q = json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 });
    assert_eq!(
        app.post("/api/v1/exams/GK/questions", Some(chief), q).await.status(),
        StatusCode::CREATED
    );
}

async fn marker(app: &TestApp, leader: &Session, username: &str, born: &str) -> (String, String) {
    let body = json!({
        "username": username, "full_name": format!("Teacher {username}"), "id_document": format!("ID{username}"),
        "birth_date": born, "school_code": "S01", "subject": "Chinese", "years_teaching": 12,
        "recommendation": { "principal": "Principal Zhou", "school": "No. 1 Middle School", "date": "2026-10-01" },
        "attestations": { "health": true, "conduct": true },
    });
    let r = app.post("/api/v1/markers", Some(leader), body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let created: Value = r.json().await.unwrap();
    (
        created["id"].as_str().unwrap().into(),
        created["one_time_password"].as_str().unwrap().into(),
    )
}

async fn appoint(app: &TestApp, leader: &Session, id: &str) -> reqwest::Response {
    app.post(
        &format!("/api/v1/markers/{id}/appointments"),
        Some(leader),
        json!({ "exam": "GK" }),
    )
    .await
}

#[tokio::test]
async fn forty_five_on_the_first_marking_day_is_appointed_forty_six_is_not() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    exam(&app, &chief).await;
    let (young, _) = marker(&app, &chief, "mk45", "1981-12-29").await;
    let (old, _) = marker(&app, &chief, "mk46", "1980-12-29").await;
    let r = appoint(&app, &chief, &young).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "appointed");
    let r = appoint(&app, &chief, &old).await;
    let p = expect_problem(r, StatusCode::CONFLICT, "ineligible").await;
    assert!(p["detail"].as_str().unwrap().contains("older than 45"), "{p}");
    let record: Value = app
        .get(&format!("/api/v1/markers/{old}"), Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["exams"][0]["status"], "ineligible");
    assert_eq!(
        record["exams"][0]["reasons"],
        json!(["older than 45 on the first marking day"])
    );

    // No training before appointment; after it, training is recorded and shown.
    let train = json!({ "exam": "GK", "question": "W1", "course": "Essay standard", "date": "2026-12-20", "trainer": "Leader Li" });
    let r = app
        .post(&format!("/api/v1/markers/{old}/training"), Some(&chief), train.clone())
        .await;
    let p = expect_problem(r, StatusCode::CONFLICT, "invalid_transition").await;
    assert!(p["detail"].as_str().unwrap().contains("ineligible"));
    let r = app
        .post(&format!("/api/v1/markers/{young}/training"), Some(&chief), train)
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "trained");
    let r = app
        .post(
            &format!("/api/v1/markers/{young}/questions"),
            Some(&chief),
            json!({ "exam": "GK", "questions": ["W1"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let record: Value = app
        .get(&format!("/api/v1/markers/{young}"), Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    let gk = &record["exams"][0];
    let steps: Vec<&str> = gk["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["eligible", "appointed", "trained"]);
    assert_eq!(gk["training"][0]["course"], "Essay standard");
    assert_eq!(gk["questions"], json!(["W1"]));
    // A certification rests on a passed qualification test; an expiry before issue is refused.
    let cert = json!({ "subject": "Chinese", "level": "provincial", "issued": "2026-12-31", "expires": "2029-12-31" });
    let r = app
        .post(&format!("/api/v1/markers/{young}/certifications"), Some(&chief), cert)
        .await;
    expect_problem(r, StatusCode::CONFLICT, "not_qualified").await;
    let bad = json!({ "subject": "Chinese", "level": "provincial", "issued": "2026-12-31", "expires": "2026-01-01" });
    let r = app
        .post(&format!("/api/v1/markers/{young}/certifications"), Some(&chief), bad)
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_certification").await;
    let entries = app.audit_entries(&admin).await;
    for action in [
        "marker.create",
        "marker.appoint",
        "marker.training",
        "marker.questions",
        "marker.certification",
        "marker.standing",
    ] {
        assert!(entries.iter().any(|e| e["action"] == action), "{action} audited");
    }
}

#[tokio::test]
async fn a_relative_on_the_candidate_list_makes_a_marker_ineligible_even_when_added_later() {
    let app = TestApp::spawn().await;
    let (admin, chief, _) = app.staff().await;
    let desk = app.workstation(&admin, "desk").await;
    app.exam(&chief, "GK").await;
    // Markers work only in an open room, within the window.
    app.clock
        .advance(chrono::Duration::days(30) + chrono::Duration::hours(1));
    let chief = app.open_room("chief1", &desk, "GK").await;
    let (id, otp) = marker(&app, &chief, "mk1", "1985-05-05").await;
    app.set_own_password("mk1", &otp, Some(&desk)).await;
    let m1 = app.login("mk1", Some(&desk)).await;
    assert_eq!(appoint(&app, &chief, &id).await.status(), StatusCode::OK);
    let r = app
        .post(
            "/api/v1/exams/GK/relatives",
            Some(&m1),
            json!({ "admission_numbers": ["20260001"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let record: Value = app
        .get(&format!("/api/v1/markers/{id}"), Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        record["exams"][0]["status"], "appointed",
        "the relative is not a candidate (yet)"
    );
    // The relative's name comes onto the candidate list: the appointment lapses.
    let list = json!([{ "admission_number": "20260001", "name": "Child", "school_code": "S02" }]);
    assert_eq!(
        app.post("/api/v1/exams/GK/candidates", Some(&chief), list)
            .await
            .status(),
        StatusCode::OK
    );
    let record: Value = app
        .get(&format!("/api/v1/markers/{id}"), Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["exams"][0]["status"], "ineligible");
    assert_eq!(
        record["exams"][0]["reasons"],
        json!(["an immediate relative sits this exam"])
    );
    let p = expect_problem(appoint(&app, &chief, &id).await, StatusCode::CONFLICT, "ineligible").await;
    assert!(p["detail"].as_str().unwrap().contains("relative"));
}

#[tokio::test]
async fn a_leader_with_a_relative_sitting_the_exam_is_refused_on_it() {
    let app = TestApp::spawn().await;
    let (admin, chief1, chief2) = app.staff().await;
    exam(&app, &chief1).await;
    let list = json!([{ "admission_number": "20260007", "name": "Daughter", "school_code": "S03" }]);
    assert_eq!(
        app.post("/api/v1/exams/GK/candidates", Some(&chief1), list)
            .await
            .status(),
        StatusCode::OK
    );
    let r = app
        .post(
            "/api/v1/exams/GK/relatives",
            Some(&chief2),
            json!({ "admission_numbers": ["20260007"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.get("/api/v1/exams/GK", Some(&chief2)).await,
        StatusCode::FORBIDDEN,
        "relative_sitting",
    )
    .await;
    let r = app
        .post("/api/v1/exams/GK/room", Some(&chief2), json!({ "open": true }))
        .await;
    expect_problem(r, StatusCode::FORBIDDEN, "relative_sitting").await;
    let q = json!({ "code": "S2", "kind": "short", "max_score": 10, "step": 1 });
    let r = app.post("/api/v1/exams/GK/questions", Some(&chief2), q).await;
    expect_problem(r, StatusCode::FORBIDDEN, "relative_sitting").await;
    // The other chief is not barred; the refusals are audited.
    assert_eq!(
        app.get("/api/v1/exams/GK", Some(&chief1)).await.status(),
        StatusCode::OK
    );
    let entries = app.audit_entries(&admin).await;
    assert!(
        entries
            .iter()
            .any(|e| e["outcome"] == "refused" && e["details"]["code"] == "relative_sitting")
    );
}

#[tokio::test]
async fn a_record_is_checked_and_a_late_recommendation_makes_the_marker_eligible() {
    let app = TestApp::spawn().await;
    let (_, chief, _) = app.staff().await;
    exam(&app, &chief).await;
    let base = json!({
        "username": "mk9", "full_name": "Teacher Nine", "id_document": "ID0009",
        "birth_date": "1985-05-05", "school_code": "S01", "subject": "Chinese", "years_teaching": 12,
        "attestations": { "health": true, "conduct": true },
    });
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    for (body, code) in [
        (with("birth_date", json!("2024-01-01")), "invalid_date"),
        (with("birth_date", json!("-100000-01-01")), "invalid_date"),
        (with("years_teaching", json!(4_000_000_000u64)), "invalid_marker"),
        (
            with(
                "recommendation",
                json!({ "principal": " ", "school": "S", "date": "2026-10-01" }),
            ),
            "invalid_marker",
        ),
        (
            with(
                "recommendation",
                json!({ "principal": "P", "school": "S", "date": "2099-10-01" }),
            ),
            "invalid_date",
        ),
    ] {
        let r = app.post("/api/v1/markers", Some(&chief), body.clone()).await;
        let status = r.status();
        let p: Value = r.json().await.unwrap();
        assert!(status.is_client_error(), "{body}: {status} {p}");
        assert_eq!(p["code"], code, "{body}: {p}");
    }
    // Created without a recommendation: ineligible for that reason alone.
    let r = app.post("/api/v1/markers", Some(&chief), base.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let p = expect_problem(appoint(&app, &chief, &id).await, StatusCode::CONFLICT, "ineligible").await;
    assert!(p["detail"].as_str().unwrap().contains("not recommended"));
    let r = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/markers/{id}"),
            Some(&chief),
            Some(json!({ "recommendation": { "principal": "Principal Wu", "school": "No. 2", "date": "2026-11-01" } })),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["exams"][0]["status"], "eligible");
    assert_eq!(appoint(&app, &chief, &id).await.status(), StatusCode::OK);
    let r = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/markers/{id}"),
            Some(&chief),
            Some(json!({})),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_marker").await;
    let record: Value = app
        .get(&format!("/api/v1/markers/{id}"), Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    let reasons: Vec<&str> = record["exams"][0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "eligibility rules applied: not recommended by a school",
            "eligibility rules applied: every rule met",
            "appointed"
        ]
    );
}
