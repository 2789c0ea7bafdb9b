//! The marking workstation in a browser: three marks by keyboard (one sent again after the
//! network failed), a flag, the room closing; stored once each, annotations with them.

use serde_json::{Value, json};

use super::{browser, demo, session_of};
use crate::helpers::TestApp;

#[tokio::test]
async fn a_marker_marks_three_scripts_by_keyboard_flags_one_and_sees_the_room_close() {
    let app = TestApp::spawn().await;
    let file = demo(&app);
    let marker = file["accounts"]["markers"][0].clone();
    // The scenario types scores without knowing a seed's definitive one: two seeds among its
    // first tasks (the day's first is certain, a second comes at 5 % a task) would both miss and
    // pause the marker. Five misses of five, which it never reaches, pause here.
    let chief = session_of(&app, &file["accounts"]["chief_leaders"][0]).await;
    let exam = file["exam"].as_str().unwrap();
    let r = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/exams/{exam}/settings"),
            Some(&chief),
            Some(json!({ "seed_miss_limit": 5 })),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let fixture = json!({
        "exam": file["exam"],
        "marker": marker,
        "chief": file["accounts"]["chief_leaders"][0],
        "candidates": file["candidates"],
    });
    let out = browser(&app, "mark", fixture).await;
    let report: Value = serde_json::from_str(out.lines().rev().nth(1).expect("the scenario's report")).unwrap();
    let marked: Vec<String> = serde_json::from_value(report["marked"].clone()).unwrap();
    let flagged = report["flagged"].as_str().unwrap();
    assert_eq!(marked.len(), 3);

    let username = marker["username"].as_str().unwrap();
    let serves = app.serves_of_user(username);
    let state_of = |code: &str| -> Vec<String> {
        serves
            .iter()
            .filter(|(c, _)| c == code)
            .map(|(_, s)| s.clone())
            .collect()
    };
    for code in &marked {
        assert_eq!(
            state_of(code),
            vec!["scored".to_string()],
            "{code}: one lease, one mark"
        );
    }
    assert_eq!(state_of(flagged), vec!["flagged".to_string()], "{flagged}: {serves:?}");
    let problem = app.pairs(&format!(
        "SELECT p.kind AS a, p.note AS b FROM problems p JOIN serves s ON s.exam_id = p.exam_id AND s.id = p.serve_id \
         WHERE s.anonymous_code = '{flagged}'"
    ));
    let kind = app.pairs(&format!(
        "SELECT kind AS a, state AS b FROM serves WHERE anonymous_code = '{flagged}'"
    ));
    if kind[0].0 == "live" {
        assert_eq!(
            problem,
            vec![("illegible".to_string(), "ink too faint to read".to_string())]
        );
    } else {
        // A flag on a seed or a self-check changes no live script: audited, no problem opened.
        assert!(problem.is_empty(), "{problem:?}");
    }
    let scored = serves.iter().filter(|(_, s)| s == "scored").count();
    assert_eq!(scored, 3, "nothing else was marked, nothing twice: {serves:?}");
    // The lease held when the room closed ended with it, unmarked.
    assert!(serves.iter().all(|(_, s)| s != "leased"), "{serves:?}");

    // Live marks keep their annotations (seeds and self-checks are scored against a key and
    // store only the score).
    for (code, annotations) in app.annotations_of_user(username) {
        let a: Value = serde_json::from_str(&annotations).unwrap();
        if code == marked[0] {
            assert_eq!(a[0]["kind"], "tick", "{a}");
        }
        if code == marked[1] {
            assert_eq!(a[0]["kind"], "comment", "{a}");
            assert_eq!(a[0]["text"], "good argument", "{a}");
        }
    }
}

#[tokio::test]
async fn the_countdown_follows_the_server_clock_an_ended_lease_and_a_pause_are_said_plainly() {
    let app = TestApp::spawn().await;
    let file = demo(&app);
    let marker = file["accounts"]["markers"][1].clone();
    let chief_account = &file["accounts"]["chief_leaders"][0];
    let fixture = json!({ "marker": marker });
    let mut run = super::Scenario::start(&app, "mark_states", fixture);

    run.reached("nine-minutes").await;
    app.clock.advance(chrono::Duration::minutes(9));
    run.done("nine-minutes");
    run.reached("lease-over").await;
    app.clock.advance(chrono::Duration::minutes(2));
    run.done("lease-over");

    run.reached("paused").await;
    let r = app
        .try_login(
            chief_account["username"].as_str().unwrap(),
            chief_account["password"].as_str().unwrap(),
            chief_account["workstation_key"].as_str(),
        )
        .await;
    let pair: Value = r.json().await.unwrap();
    let chief = crate::helpers::Session {
        token: pair["access_token"].as_str().unwrap().into(),
        refresh: pair["refresh_token"].as_str().unwrap().into(),
        key: chief_account["workstation_key"].as_str().map(str::to_string),
    };
    let markers: Value = app
        .get("/api/v1/exams/DEMO/markers", Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    let id = markers["markers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == marker["username"])
        .unwrap()["id"]
        .clone();
    let r = app
        .post(
            &format!("/api/v1/markers/{}/pause", id.as_str().unwrap()),
            Some(&chief),
            json!({ "exam": "DEMO", "reason": "seen marking carelessly" }),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK, "{}", r.text().await.unwrap());
    run.done("paused");
    let out = run.finish().await;
    let report: Value = serde_json::from_str(out.lines().rev().nth(1).unwrap()).unwrap();

    let serves = app.serves_of_user(marker["username"].as_str().unwrap());
    assert!(
        serves.iter().all(|(_, s)| s != "scored"),
        "a late mark is not stored: {serves:?}"
    );
    assert_eq!(serves.first().map(|(c, _)| c.as_str()), report["first"].as_str());
    assert!(
        serves
            .iter()
            .any(|(c, _)| Some(c.as_str()) == report["second"].as_str())
    );
}
