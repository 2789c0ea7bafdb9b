//! The leadership desk in a browser: the demo marked through the API with one essay pushed out
//! of tolerance (exactly one dispute left open), one short answer reported illegible, and one
//! marker paused by a leader. A chief leader arbitrates the dispute at the desk by keyboard,
//! scores the problem script, reinstates the marker, closes the room, approves the lock a second
//! chief asked for at their own desk, asks for the release (and cannot approve it alone); the
//! second chief approves it, and the printed report shows all of it. The database then holds
//! what the pages did.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::browser;
use crate::helpers::{Session, TestApp};

async fn ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn login(app: &TestApp, account: &Value) -> Session {
    let body = json!({ "username": account["username"], "password": account["password"], "workstation_key": account["workstation_key"] });
    let t = ok(app.post("/api/v1/auth/login", None, body).await, "login").await;
    Session {
        token: t["access_token"].as_str().unwrap().into(),
        refresh: t["refresh_token"].as_str().unwrap().into(),
        key: account["workstation_key"].as_str().map(str::to_string),
    }
}

/// The score for a lease: the latent of a live script from the demo file, else (seeds and
/// self-checks come under fresh codes) read from the image; with criteria for the essay.
fn body(question: &str, score: f64) -> Value {
    if question == "W1" {
        let content = score.min(40.0);
        json!({ "score": score, "criteria": { "content": content, "language": score - content } })
    } else {
        json!({ "score": score })
    }
}

struct Marked {
    /// The disputed essay's code and its latent score.
    code: String,
    latent: f64,
    deviant: f64,
    /// The short answer a marker reported as illegible, and its fair score.
    flagged: (String, f64),
}

/// Every marker takes tasks until none is left; the first mark of one essay lies a step beyond
/// the tolerance from its latent score, the first short answer of S2 is reported illegible
/// (the others mark it), every other mark is fair.
fn steps(file: &Value) -> HashMap<String, f64> {
    file["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["code"].as_str().unwrap().to_string(), q["step"].as_f64().unwrap()))
        .collect()
}

async fn mark_everything(app: &TestApp, file: &Value, markers: &[Session]) -> Marked {
    let latents = file["latent_by_code"].as_object().unwrap();
    let steps = steps(file);
    let mut target: Option<(String, f64, f64)> = None;
    let mut flagged: Option<(String, f64)> = None;
    for _round in 0..500 {
        let mut any = false;
        for m in markers {
            let r = app.post("/api/v1/marking/next", Some(m), json!({})).await;
            if r.status() == StatusCode::NO_CONTENT {
                continue;
            }
            any = true;
            let lease = ok(r, "next").await;
            let q = lease["question"].as_str().unwrap();
            let code = lease["anonymous_code"].as_str().unwrap();
            let units = match latents.get(code) {
                Some(l) => l.as_u64().unwrap() as u32,
                None => crate::floor::latent_of(app, lease["images"][0].as_str().unwrap()).await,
            };
            let fair = f64::from(units) * steps[q];
            let mut score = fair;
            let task = lease["task_id"].as_str().unwrap();
            if target.is_none() && q == "W1" && latents.contains_key(code) {
                // Tolerance 6 on 0–60 in steps of 1: seven points off disputes the script.
                score = if fair + 7.0 <= 60.0 { fair + 7.0 } else { fair - 7.0 };
                target = Some((code.to_string(), fair, score));
            } else if flagged.is_none() && q == "S2" && latents.contains_key(code) {
                let body = json!({ "kind": "illegible", "note": "第二行字迹模糊" });
                ok(
                    app.post(&format!("/api/v1/marking/tasks/{task}/flag"), Some(m), body)
                        .await,
                    "flag",
                )
                .await;
                flagged = Some((code.to_string(), fair));
                continue;
            }
            ok(
                app.post(&format!("/api/v1/marking/tasks/{task}/score"), Some(m), body(q, score))
                    .await,
                "score",
            )
            .await;
        }
        if !any {
            break;
        }
    }
    let (code, latent, deviant) = target.expect("an essay was marked");
    Marked {
        code,
        latent,
        deviant,
        flagged: flagged.expect("a short answer was flagged"),
    }
}

#[tokio::test]
async fn a_leader_arbitrates_a_dispute_and_approves_a_lock_another_chief_asked_for() {
    let app = TestApp::spawn().await;
    let path = app.settings.data_dir.join("demo.json");
    let out = crate::demo::demo_sized(&app, &path, 12, 4);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let chiefs = file["accounts"]["chief_leaders"].as_array().unwrap().clone();
    let (leader, other) = (chiefs[0].clone(), chiefs[1].clone());
    let chief = login(&app, &leader).await;
    let mut markers = vec![];
    for a in file["accounts"]["markers"].as_array().unwrap() {
        markers.push(login(&app, a).await);
    }
    let marked = mark_everything(&app, &file, &markers).await;

    // Back-reads sampled at random are read back fairly (the final is the latent: no change).
    let (latents, steps) = (file["latent_by_code"].as_object().unwrap(), steps(&file));
    let backreads = ok(app.get("/api/v1/exams/DEMO/backreads", Some(&chief)).await, "backreads").await;
    for b in backreads.as_array().unwrap() {
        let step = steps[b["question"].as_str().unwrap()];
        let score = latents[b["anonymous_code"].as_str().unwrap()].as_f64().unwrap() * step;
        let id = b["id"].as_str().unwrap();
        let done = ok(
            app.post(
                &format!("/api/v1/backreads/{id}/score"),
                Some(&chief),
                json!({ "score": score }),
            )
            .await,
            "back-read",
        )
        .await;
        assert_ne!(done["method"], "disputed", "{done}");
    }
    // Exactly the one dispute is left open, nothing else.
    let disputes = ok(
        app.get("/api/v1/exams/DEMO/discrepancies", Some(&chief)).await,
        "disputes",
    )
    .await;
    let disputes = disputes.as_array().unwrap();
    assert_eq!(disputes.len(), 1, "{disputes:?}");
    assert_eq!(disputes[0]["anonymous_code"], marked.code.as_str());
    let problems = ok(app.get("/api/v1/exams/DEMO/problems", Some(&chief)).await, "problems").await;
    let problems = problems.as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["anonymous_code"], marked.flagged.0.as_str());
    let reviews = ok(
        app.get("/api/v1/exams/DEMO/reviews?status=open", Some(&chief)).await,
        "reviews",
    )
    .await;
    assert_eq!(reviews, json!([]), "no marker was paused by the figures");
    // A leader pauses one marker: a review the desk must end before the lock.
    let list = ok(app.get("/api/v1/exams/DEMO/markers", Some(&chief)).await, "markers").await;
    let paused = list["markers"].as_array().unwrap().last().unwrap().clone();
    let id = paused["id"].as_str().unwrap();
    let pause = json!({ "exam": "DEMO", "reason": "连续评分过快，暂停核查" });
    ok(
        app.post(&format!("/api/v1/markers/{id}/pause"), Some(&chief), pause)
            .await,
        "pause",
    )
    .await;

    // The arbitrated score: a step under the fair one, so it is neither mark nor their mean.
    let arbitrated = if marked.latent >= 1.0 {
        marked.latent - 1.0
    } else {
        marked.latent + 1.0
    };
    let reason = "按评分细则复核，取中间档";
    let fixture = json!({
        "exam": "DEMO",
        "leader": leader,
        "other": other,
        "dispute": { "code": marked.code, "marks": [marked.deviant, marked.latent], "score": arbitrated, "reason": reason },
        "problem": { "code": marked.flagged.0, "score": marked.flagged.1 },
        "review": { "marker": paused["username"] },
    });
    browser(&app, "lead", fixture).await;

    // What the pages did is stored.
    let exam = ok(app.get("/api/v1/exams/DEMO", Some(&chief)).await, "exam").await;
    assert_eq!(exam["locked"], true, "the lock was approved");
    assert_eq!(exam["released"], true, "the release was approved");
    assert_eq!(exam["room_open"], false, "the room was closed");
    let report = ok(app.get("/api/v1/exams/DEMO/report", Some(&chief)).await, "report").await;
    let d = &report["disputes"][0];
    assert_eq!(report["disputes"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(d["anonymous_code"], marked.code.as_str());
    assert_eq!(d["status"], "resolved");
    assert_eq!(d["score"].as_f64(), Some(arbitrated), "{d}");
    assert_eq!(d["reason"], reason);
    assert_eq!(d["resolved_by"]["username"], leader["username"]);
    let question = |code: &str| {
        report["questions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["code"] == code)
            .unwrap()
            .clone()
    };
    assert_eq!(question("W1")["methods"]["arbitration"], 1, "{report}");
    assert_eq!(
        question("S2")["methods"]["arbitration"],
        1,
        "the problem script was scored: {report}"
    );
    let problems = ok(app.get("/api/v1/exams/DEMO/problems", Some(&chief)).await, "problems").await;
    assert_eq!(problems, json!([]));
    let reviews = ok(app.get("/api/v1/exams/DEMO/reviews", Some(&chief)).await, "reviews").await;
    assert_eq!(reviews.as_array().unwrap().len(), 1, "{reviews}");
    assert_eq!(reviews[0]["marker_id"], paused["id"]);
    assert_eq!(reviews[0]["decision"], "reinstate", "{reviews}");
    let act = |kind: &str| {
        report["acts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == kind)
            .unwrap_or_else(|| panic!("no approved {kind}: {report}"))
            .clone()
    };
    let lock = act("lock");
    assert_eq!(lock["requested_by"]["username"], other["username"]);
    assert_eq!(lock["approved_by"]["username"], leader["username"]);
    let release = act("release");
    assert_eq!(release["requested_by"]["username"], leader["username"]);
    assert_eq!(release["approved_by"]["username"], other["username"]);
}
