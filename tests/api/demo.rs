//! The demo is the front door and a fixture: `markroom demo` makes exam DEMO on this test's
//! database, a second run changes nothing and writes accounts that work, and its twelve markers
//! mark every script to resolution through the API alone, seeing no identity.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp};

pub fn demo(app: &TestApp, output: &std::path::Path) -> std::process::Output {
    demo_sized(app, output, 16, 12)
}

/// `markroom demo` with this many candidates and markers.
pub fn demo_sized(app: &TestApp, output: &std::path::Path, candidates: usize, markers: usize) -> std::process::Output {
    let (candidates, markers) = (candidates.to_string(), markers.to_string());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_markroom"));
    cmd.args([
        "demo",
        "--candidates",
        &candidates,
        "--markers",
        &markers,
        "--dpi",
        "50",
        "--output",
    ])
    .arg(output)
    .env("MARKROOM_DATA_DIR", &app.settings.data_dir)
    .env_remove("MARKROOM_CONFIG")
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    app.database_env(&mut cmd);
    cmd.output().unwrap()
}

async fn login(app: &TestApp, account: &Value) -> Session {
    let body = json!({ "username": account["username"], "password": account["password"], "workstation_key": account["workstation_key"] });
    let r = app.post("/api/v1/auth/login", None, body).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let t: Value = r.json().await.unwrap();
    Session {
        token: t["access_token"].as_str().unwrap().into(),
        refresh: t["refresh_token"].as_str().unwrap().into(),
        key: account["workstation_key"].as_str().map(str::to_string),
    }
}

#[tokio::test]
async fn the_demo_is_ready_to_mark_and_a_second_run_duplicates_nothing() {
    let app = TestApp::spawn().await;
    let path = app.settings.data_dir.join("demo.json");
    let first = demo(&app, &path);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let second = demo(&app, &path);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file, again, "the same exam, the same accounts");
    assert_eq!(file["exam"], "DEMO");
    assert_eq!(file["questions"].as_array().unwrap().len(), 3);
    assert_eq!(file["candidates"].as_array().unwrap().len(), 16);
    let latents = file["latent_by_code"].as_object().unwrap();
    assert_eq!(latents.len(), 48);

    let chief = login(&app, &file["accounts"]["chief_leaders"][0]).await;
    let markers: Vec<Session> = {
        let mut v = vec![];
        for a in file["accounts"]["markers"].as_array().unwrap() {
            v.push(login(&app, a).await);
        }
        v
    };
    assert_eq!(markers.len(), 12);
    let steps: std::collections::HashMap<String, f64> = file["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["code"].as_str().unwrap().to_string(), q["step"].as_f64().unwrap()))
        .collect();
    let mut received = String::new();
    loop {
        let mut any = false;
        for m in &markers {
            let r = app.post("/api/v1/marking/next", Some(m), json!({})).await;
            if r.status() == StatusCode::NO_CONTENT {
                continue;
            }
            any = true;
            let text = r.text().await.unwrap();
            received.push_str(&text);
            let lease: Value = serde_json::from_str(&text).unwrap();
            let q = lease["question"].as_str().unwrap();
            // Live scripts are read from the file; seeds come under fresh codes: read the image.
            let units = match latents.get(lease["anonymous_code"].as_str().unwrap()) {
                Some(l) => l.as_u64().unwrap() as u32,
                None => crate::floor::latent_of(&app, lease["images"][0].as_str().unwrap()).await,
            };
            let score = f64::from(units) * steps[q];
            let body = if q == "W1" {
                let content = score.min(40.0);
                json!({ "score": score, "criteria": { "content": content, "language": score - content } })
            } else {
                json!({ "score": score })
            };
            let task = lease["task_id"].as_str().unwrap();
            let r = app
                .post(&format!("/api/v1/marking/tasks/{task}/score"), Some(m), body)
                .await;
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        }
        if !any {
            break;
        }
    }
    let p: Value = app
        .get("/api/v1/exams/DEMO/progress", Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    for q in p["questions"].as_array().unwrap() {
        assert_eq!(q["scripts"]["resolved"], 16, "{q}");
    }
    // Leadership reads the figures of the morning: every essay marked three times, fairly, so
    // no marker flagged and nobody paused.
    let s: Value = app
        .get("/api/v1/exams/DEMO/questions/W1/statistics", Some(&chief))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["n_marks"], 48, "{s}");
    assert_eq!(s["n_scripts"], 16);
    assert!(s["markers"].as_array().unwrap().iter().all(|m| m["flags"] == json!([])));
    let r = app.get("/api/v1/exams/DEMO/reviews", Some(&chief)).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));
    for c in file["candidates"].as_array().unwrap() {
        for field in ["name", "admission_number"] {
            let s = c[field].as_str().unwrap();
            assert!(!received.contains(s), "a marker received {s}");
        }
    }
}
