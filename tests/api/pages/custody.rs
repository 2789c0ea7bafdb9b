//! The custody desk in a browser: a custodian checks in, treats a sheet scanned upside down
//! without anchors (turns both pages, masks a rectangle drawn with the mouse), records a
//! hand-over that a second custodian confirms, asks for the batch's release, and the second
//! custodian approves it. Then the database must show what the page showed.

use std::collections::BTreeMap;

use markroom::domain::role::Role;
use markroom::domain::template::{Region, SheetTemplate};
use markroom::scans::{SheetSpec, cut_masked, encode_png, generate_sheet, standard_template};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::browser;
use crate::floor::post_pages;
use crate::helpers::{PASSWORD, Session, TestApp};

const DPI: u32 = 40;

/// The standard sheet on two pages: W1 on the first, S2 on the second, an anchor on each.
fn two_page_template() -> SheetTemplate {
    let mut t = standard_template(&["W1", "S2"]);
    t.pages = 2;
    let anchor = t.anchors[0];
    t.anchors.push(Region { page: 1, ..anchor });
    for q in &mut t.questions {
        if q.question == "S2" {
            q.region.page = 1;
        }
    }
    t
}

fn spec(upside_down: bool, without_anchor: bool) -> SheetSpec {
    SheetSpec {
        dpi: DPI,
        upside_down,
        without_anchor,
        seed: 11,
        latents: BTreeMap::from([("W1".to_string(), 37), ("S2".to_string(), 5)]),
    }
}

async fn ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

struct Desk {
    chief: Session,
    cust2: Session,
    batch: String,
    /// The scripts of the sheet that waits for treatment: (question, script id).
    blind: Vec<(String, String)>,
    template: SheetTemplate,
}

/// Exam GK (Asia/Shanghai) on the two-page sheet; custodians cust1 (off duty: the page checks
/// in), cust2 and cust3 on duty; an open batch with one clean sheet and one scanned upside down
/// without anchors, whose two pages wait for treatment.
async fn desk(app: &TestApp) -> Desk {
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    for q in [
        json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 }),
        json!({ "code": "S2", "kind": "short", "max_score": 10, "step": 1 }),
    ] {
        ok(
            app.post("/api/v1/exams/GK/questions", Some(&chief), q).await,
            "question",
        )
        .await;
    }
    let template = two_page_template();
    let body = serde_json::to_value(&template).unwrap();
    ok(
        app.call(Method::PUT, "/api/v1/exams/GK/template", Some(&chief), Some(body))
            .await,
        "template",
    )
    .await;
    let list = json!([
        { "admission_number": "20260001", "name": "Candidate 1", "school_code": "S01" },
        { "admission_number": "20260002", "name": "Candidate 2", "school_code": "S02" },
    ]);
    ok(
        app.post("/api/v1/exams/GK/candidates", Some(&chief), list).await,
        "candidates",
    )
    .await;
    let scanner = ok(
        app.post(
            "/api/v1/workstations",
            Some(&admin),
            json!({ "name": "scanner 1", "scanner": true }),
        )
        .await,
        "scanner",
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    for name in ["cust1", "cust2", "cust3"] {
        app.insert_account(name, Role::Custodian);
    }
    let cust2 = app.login("cust2", Some(&scanner)).await;
    let cust3 = app.login("cust3", None).await;
    for s in [&cust2, &cust3] {
        ok(
            app.post("/api/v1/exams/GK/shifts/check-in", Some(s), json!({})).await,
            "check-in",
        )
        .await;
    }
    let request = ok(
        app.post(
            "/api/v1/exams/GK/batches",
            Some(&cust2),
            json!({ "label": "Room 12, box 3" }),
        )
        .await,
        "batch",
    )
    .await;
    let id = request["id"].as_str().unwrap();
    ok(
        app.post(&format!("/api/v1/approvals/{id}/approve"), Some(&cust3), json!({}))
            .await,
        "open",
    )
    .await;
    let batches = ok(app.get("/api/v1/exams/GK/batches", Some(&cust2)).await, "batches").await;
    let batch = batches[0]["id"].as_str().unwrap().to_string();
    let sheets = format!("/api/v1/batches/{batch}/sheets");
    let mut blind = vec![];
    for (number, upside_down, without_anchor) in [("20260001", false, false), ("20260002", true, true)] {
        let pages: Vec<Vec<u8>> = generate_sheet(&template, &spec(upside_down, without_anchor))
            .iter()
            .map(encode_png)
            .collect();
        let fields = [("admission_number", number), ("entry", "barcode")];
        let sent = ok(post_pages(app, &cust2, &sheets, &fields, pages).await, "sheet").await;
        for s in sent["scripts"].as_array().unwrap() {
            let state = s["state"].as_str().unwrap();
            assert_eq!(state, if without_anchor { "needs_treatment" } else { "held" }, "{sent}");
            if without_anchor {
                blind.push((
                    s["question"].as_str().unwrap().to_string(),
                    s["script_id"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    assert_eq!(blind.len(), 2);
    Desk {
        chief,
        cust2,
        batch,
        blind,
        template,
    }
}

#[tokio::test]
async fn a_custodian_treats_a_sheet_and_releases_a_batch_with_a_second_custodian() {
    let app = TestApp::spawn().await;
    let d = desk(&app).await;
    let account = |name: &str| json!({ "username": name, "password": PASSWORD });
    let fixture = json!({
        "exam": "GK",
        "batch": d.batch,
        "batch_label": "Room 12, box 3",
        "cust1": account("cust1"),
        "cust2": account("cust2"),
        "receivers": ["cust3", "chief1"],
    });
    let _ = browser(&app, "custody", fixture).await;

    // The batch is released, its chain complete: the hand-over confirmed by both givers.
    let view = ok(
        app.get(&format!("/api/v1/batches/{}", d.batch), Some(&d.chief)).await,
        "batch",
    )
    .await;
    assert_eq!(view["status"], "released", "{view}");
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
            "released"
        ],
        "{view}"
    );
    let handover = &view["chain"][1];
    assert_eq!(handover["people"], json!(["cust1", "cust2", "cust3", "chief1"]));
    let released = view["chain"].as_array().unwrap().last().unwrap();
    assert_eq!(
        released["people"],
        json!(["cust1", "cust2"]),
        "cust1 asked, cust2 approved"
    );

    // Both pages were turned; the first carries the one mask the custodian kept.
    let (exam_id, sheet_id) = app
        .db
        .read_now(|c| {
            let s = markroom::db::scripts::script(c, &d.blind[0].1)?;
            Ok::<_, markroom::db::DbError>((s.exam_id, s.sheet_id))
        })
        .unwrap();
    let pages: Vec<markroom::db::scripts::PageRow> = app
        .db
        .read_now(|c| {
            (0..2)
                .map(|p| markroom::db::scripts::page(c, &exam_id, &sheet_id, p))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    assert!(
        pages.iter().all(|p| p.turned && !p.needs_treatment),
        "both pages turned"
    );
    let extra: Vec<Region> = serde_json::from_str(&pages[0].extra_masks).unwrap();
    let none: Vec<Region> = serde_json::from_str(&pages[1].extra_masks).unwrap();
    assert_eq!(extra.len(), 1, "two masks drawn, one removed: {extra:?}");
    assert!(none.is_empty(), "{none:?}");
    let mask = extra[0];
    assert_eq!(mask.page, 0);

    // The scripts went to marking with new masked images: W1's is the upright page with the
    // template's masks and the drawn one painted, pixel for pixel.
    for (question, id) in &d.blind {
        let state = app
            .db
            .read_now(|c| markroom::db::scripts::script(c, id).map(|s| s.state))
            .unwrap();
        assert_eq!(state, "awaiting", "{question}");
    }
    let w1 = &d.blind.iter().find(|(q, _)| q == "W1").unwrap().1;
    let link = ok(
        app.post(&format!("/api/v1/scripts/{w1}/image-link"), Some(&d.cust2), json!({}))
            .await,
        "image link",
    )
    .await;
    let r = app
        .client
        .get(format!("{}{}", app.base, link["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let treated = image::load_from_memory(&r.bytes().await.unwrap()).unwrap().into_luma8();
    let upright = generate_sheet(&d.template, &spec(false, true));
    let region = d.template.questions.iter().find(|q| q.question == "W1").unwrap().region;
    let mut masks: Vec<Region> = d.template.masks.iter().map(|m| m.region).collect();
    let without = cut_masked(&upright[0], &region, &masks);
    masks.push(mask);
    assert_eq!(
        treated,
        cut_masked(&upright[0], &region, &masks),
        "the drawn mask is painted"
    );
    assert_ne!(treated, without, "the drawn mask covers part of the answer");

    // cust1 checked in through the page and out again at the end.
    let on_duty = app
        .db
        .read_now(|c| markroom::db::custody::on_duty(c, &exam_id))
        .unwrap();
    let cust1 = app
        .db
        .read_now(|c| markroom::db::users::find_by_username(c, "cust1"))
        .unwrap()
        .unwrap()
        .id;
    assert!(!on_duty.contains(&cust1));
    let entries = {
        let admin = app.login("admin", None).await;
        app.audit_entries(&admin).await
    };
    for action in [
        "shift.check_in",
        "shift.check_out",
        "script.original_view",
        "script.treatment",
    ] {
        assert!(
            entries.iter().any(|e| e["action"] == action && e["outcome"] == "ok"),
            "{action} is in the audit log"
        );
    }
    let refused = entries
        .iter()
        .any(|e| e["action"] == "approval.approve" && e["outcome"] != "ok");
    assert!(
        refused,
        "cust1's attempt to approve their own request was refused and audited"
    );
}
