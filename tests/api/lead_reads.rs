//! Reads added for the leadership desk and its printed report: `GET /exams/{exam}/report`
//! (chief leaders) — the finals per question with their distribution, mean and SD, every
//! dispute with its marks and settlement, and who asked for and approved the lock and the
//! release; refused to anyone else, every read audited.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::floor::{Floor, floor, latent_of};
use crate::helpers::{Session, TestApp, expect_problem};
use crate::marking::{fair, next, score};

async fn ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn report(app: &TestApp, who: &Session) -> Value {
    ok(app.get("/api/v1/exams/GK/report", Some(who)).await, "report").await
}

/// Marks everything fairly but the first mark of the first essay, seven points off (the
/// tolerance is six): that essay's code and latent.
async fn mark_with_one_dispute(app: &TestApp, f: &Floor) -> (String, u32) {
    let mut disputed = None;
    for _round in 0..200 {
        let mut any = false;
        for (_, m) in &f.markers {
            let r = next(app, m).await;
            if r.status() == StatusCode::NO_CONTENT {
                continue;
            }
            any = true;
            let lease = ok(r, "next").await;
            let q = lease["question"].as_str().unwrap();
            let latent = latent_of(app, lease["images"][0].as_str().unwrap()).await;
            let mut body = fair(q, latent);
            if disputed.is_none() && q == "W1" {
                let off = if latent + 7 <= 60 { latent + 7 } else { latent - 7 };
                body = fair(q, off);
                disputed = Some((lease["anonymous_code"].as_str().unwrap().to_string(), latent));
            }
            ok(
                score(app, m, lease["task_id"].as_str().unwrap(), body, None).await,
                "score",
            )
            .await;
        }
        if !any {
            break;
        }
    }
    disputed.expect("an essay was marked")
}

async fn two_chiefs(app: &TestApp, asks: &Session, approves: &Session, kind: &str) {
    let body = json!({ "kind": kind, "payload": { "reason": format!("{kind} for the report test") } });
    let request = ok(app.post("/api/v1/exams/GK/approvals", Some(asks), body).await, kind).await;
    let id = request["id"].as_str().unwrap();
    ok(
        app.post(&format!("/api/v1/approvals/{id}/approve"), Some(approves), json!({}))
            .await,
        "approve",
    )
    .await;
}

fn scores(q: &Value) -> Vec<f64> {
    let mut out = vec![];
    for d in q["distribution"].as_array().unwrap() {
        for _ in 0..d["count"].as_u64().unwrap() {
            out.push(d["score"].as_f64().unwrap());
        }
    }
    out
}

#[tokio::test]
async fn the_marking_report_holds_the_finals_the_disputes_and_who_approved_lock_and_release() {
    let app = TestApp::spawn().await;
    let f = floor(
        &app,
        6,
        3,
        json!({ "self_check_rate": 0, "seed_rate": 0, "backread_rate": 0 }),
    )
    .await;
    let (code, latent) = mark_with_one_dispute(&app, &f).await;

    // Before arbitration: the dispute is open, with its three marks by name.
    let r = report(&app, &f.chief1).await;
    assert_eq!(r["exam"]["code"], "GK");
    assert_eq!(r["exam"]["time_zone"], "Asia/Shanghai");
    assert_eq!(r["exam"]["locked"], false);
    let disputes = r["disputes"].as_array().unwrap();
    assert_eq!(disputes.len(), 1, "{r}");
    let d = &disputes[0];
    assert_eq!(d["anonymous_code"], code.as_str());
    assert_eq!(d["question"], "W1");
    assert_eq!(d["status"], "open");
    assert_eq!(d["score"], Value::Null);
    assert_eq!(d["spread"], 7.0);
    let marks = d["marks"].as_array().unwrap();
    assert_eq!(marks.len(), 3);
    assert!(
        marks.iter().all(|m| m["marker"].as_str().unwrap().starts_with("mk")),
        "{d}"
    );
    let fair_marks = marks.iter().filter(|m| m["score"] == f64::from(latent)).count();
    assert_eq!(fair_marks, 2, "{d}");
    let w1 = &r["questions"][0];
    assert_eq!(w1["code"], "W1");
    assert_eq!(w1["finals"], 5, "the disputed essay has no final yet");
    assert_eq!(w1["disputes"], 1);

    // Every short answer was marked fairly twice: its finals are the candidates' latents.
    let s2 = &r["questions"][1];
    assert_eq!(s2["code"], "S2");
    let mut expected: Vec<f64> = f.candidates.iter().map(|c| f64::from(c.latents["S2"])).collect();
    expected.sort_by(f64::total_cmp);
    assert_eq!(scores(s2), expected);
    let n = expected.len() as f64;
    let mean = expected.iter().sum::<f64>() / n;
    let sd = (expected.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!((s2["mean"].as_f64().unwrap() - mean).abs() < 1e-9, "{s2}");
    assert!((s2["sd"].as_f64().unwrap() - sd).abs() < 1e-9, "{s2}");
    assert_eq!(s2["methods"], json!({ "mean": 6 }));
    assert_eq!(r["acts"], json!([]));

    // Arbitrate, lock (asked by the second chief), release (asked by the first).
    let settled = f64::from(latent) + 1.0;
    let id = d["id"].as_str().unwrap();
    ok(
        app.post(
            &format!("/api/v1/discrepancies/{id}/arbitrate"),
            Some(&f.chief1),
            json!({ "score": settled, "reason": "read again against the rubric" }),
        )
        .await,
        "arbitrate",
    )
    .await;
    two_chiefs(&app, &f.chief2, &f.chief1, "lock").await;
    two_chiefs(&app, &f.chief1, &f.chief2, "release").await;

    let r = report(&app, &f.chief2).await;
    let d = &r["disputes"][0];
    assert_eq!(d["status"], "resolved");
    assert_eq!(d["score"].as_f64(), Some(settled));
    assert_eq!(d["reason"], "read again against the rubric");
    assert_eq!(d["resolved_by"]["username"], "chief1");
    assert!(d["resolved_at"].is_string());
    let w1 = &r["questions"][0];
    assert_eq!(w1["finals"], 6);
    assert_eq!(w1["methods"]["arbitration"], 1, "{w1}");
    assert_eq!(w1["methods"]["mean"], 5, "{w1}");
    assert!(scores(w1).contains(&settled));
    assert_eq!(r["exam"]["locked"], true);
    assert_eq!(r["exam"]["released"], true);
    assert!(
        r["exam"]["locked_at"].is_string() && r["exam"]["released_at"].is_string(),
        "{}",
        r["exam"]
    );
    let acts = r["acts"].as_array().unwrap();
    assert_eq!(acts.len(), 2, "{acts:?}");
    assert_eq!(acts[0]["kind"], "lock", "oldest first");
    assert_eq!(acts[0]["requested_by"]["username"], "chief2");
    assert_eq!(acts[0]["approved_by"]["username"], "chief1");
    assert_eq!(acts[0]["payload"]["reason"], "lock for the report test");
    assert_eq!(acts[1]["kind"], "release");
    assert_eq!(acts[1]["requested_by"]["username"], "chief1");
    assert_eq!(acts[1]["approved_by"]["username"], "chief2");

    // Chief leaders only; an unknown exam is not found; every read is audited.
    let marker = &f.markers[0].1;
    expect_problem(
        app.get("/api/v1/exams/GK/report", Some(marker)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.get("/api/v1/exams/NOPE/report", Some(&f.chief1)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let entries = app.audit_entries(&f.admin).await;
    let reads = entries
        .iter()
        .filter(|e| e["action"] == "report.read" && e["outcome"] == "ok")
        .count();
    assert_eq!(reads, 2, "both reads audited");
    assert!(
        entries.iter().any(|e| e["action"] == "authz"
            && e["outcome"] != "ok"
            && e["details"]["request"] == "GET /api/v1/exams/GK/report"),
        "the marker's refusal too"
    );
}
