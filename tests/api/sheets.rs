//! Sheets in: masked, upright, cut into anonymous scripts; a page without anchor waits for
//! treatment and blocks release; bad uploads change nothing; image links die.

use std::collections::BTreeMap;

use image::GrayImage;
use markroom::domain::role::Role;
use markroom::domain::template::SheetTemplate;
use markroom::scans::{SheetSpec, cut_masked, encode_png, generate_sheet, read_latent, standard_template};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_problem};

const DPI: u32 = 50;

struct Room {
    chief: Session,
    c: Vec<Session>,
    batch: String,
    template: SheetTemplate,
}

/// An exam with W1 and S2 on the standard template, three candidates, two custodians on duty
/// and an open batch.
async fn room(app: &TestApp) -> Room {
    let (admin, chief, _) = app.staff().await;
    app.exam(&chief, "GK").await;
    for q in [
        json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1 }),
        json!({ "code": "S2", "kind": "short", "max_score": 10, "step": 1 }),
    ] {
        assert_eq!(
            app.post("/api/v1/exams/GK/questions", Some(&chief), q).await.status(),
            StatusCode::CREATED
        );
    }
    let template = standard_template(&["W1", "S2"]);
    let r = app
        .call(
            Method::PUT,
            "/api/v1/exams/GK/template",
            Some(&chief),
            Some(serde_json::to_value(&template).unwrap()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let list: Vec<Value> = (1..=4)
        .map(|i| json!({ "admission_number": format!("2026000{i}"), "name": format!("Candidate {i}"), "school_code": "S01" }))
        .collect();
    let r = app.post("/api/v1/exams/GK/candidates", Some(&chief), json!(list)).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The custodians work at a scanning station: its barcode entries need no second typing.
    let r = app
        .post(
            "/api/v1/workstations",
            Some(&admin),
            json!({ "name": "scanner 1", "scanner": true }),
        )
        .await;
    let scanner = r.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_string();
    let mut c = vec![];
    for name in ["cust1", "cust2"] {
        app.insert_account(name, Role::Custodian);
        let s = app.login(name, Some(&scanner)).await;
        assert_eq!(
            app.post("/api/v1/exams/GK/shifts/check-in", Some(&s), json!({}))
                .await
                .status(),
            StatusCode::OK
        );
        c.push(s);
    }
    let r = app
        .post("/api/v1/exams/GK/batches", Some(&c[0]), json!({ "label": "box 1" }))
        .await;
    let request: Value = r.json().await.unwrap();
    let id = request["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/approvals/{id}/approve"), Some(&c[1]), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let batches: Value = app
        .get("/api/v1/exams/GK/batches", Some(&c[0]))
        .await
        .json()
        .await
        .unwrap();
    let batch = batches[0]["id"].as_str().unwrap().to_string();
    Room {
        chief,
        c,
        batch,
        template,
    }
}

fn spec(upside_down: bool, without_anchor: bool) -> SheetSpec {
    SheetSpec {
        dpi: DPI,
        upside_down,
        without_anchor,
        seed: 7,
        latents: BTreeMap::from([("W1".to_string(), 45), ("S2".to_string(), 7)]),
    }
}

async fn send(app: &TestApp, who: &Session, batch: &str, number: &str, pages: Vec<Vec<u8>>) -> reqwest::Response {
    send_form(
        app,
        who,
        batch,
        &[("admission_number", number), ("entry", "barcode")],
        pages,
    )
    .await
}

async fn send_form(
    app: &TestApp,
    who: &Session,
    batch: &str,
    fields: &[(&str, &str)],
    pages: Vec<Vec<u8>>,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let mut request = app
        .client
        .post(format!("{}/api/v1/batches/{batch}/sheets", app.base))
        .bearer_auth(&who.token);
    if let Some(key) = &who.key {
        request = request.header("X-Workstation-Key", key);
    }
    for p in pages {
        form = form.part(
            "page",
            reqwest::multipart::Part::bytes(p).mime_str("image/png").unwrap(),
        );
    }
    request.multipart(form).send().await.unwrap()
}

fn pngs(pages: &[GrayImage]) -> Vec<Vec<u8>> {
    pages.iter().map(encode_png).collect()
}

async fn image(app: &TestApp, who: &Session, script: &str) -> (String, reqwest::Response) {
    let link: Value = app
        .post(&format!("/api/v1/scripts/{script}/image-link"), Some(who), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap().to_string();
    let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
    (url, r)
}

async fn decoded(r: reqwest::Response) -> GrayImage {
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["content-type"], "image/png");
    image::load_from_memory(&r.bytes().await.unwrap()).unwrap().into_luma8()
}

#[tokio::test]
async fn sheets_come_in_masked_upright_and_anonymous() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let upright = generate_sheet(&room.template, &spec(false, false));
    let r = send(&app, &room.c[0], &room.batch, "20260001", pngs(&upright)).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let first: Value = r.json().await.unwrap();
    assert!(
        first["scripts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "held")
    );
    // The same sheet scanned upside down comes out upright: its images are the same bytes.
    let turned = generate_sheet(&room.template, &spec(true, false));
    let r = send(&app, &room.c[1], &room.batch, "20260002", pngs(&turned)).await;
    let second: Value = r.json().await.unwrap();
    for (a, b) in first["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(second["scripts"].as_array().unwrap())
    {
        let (_, ra) = image(&app, &room.c[0], a["script_id"].as_str().unwrap()).await;
        let (_, rb) = image(&app, &room.c[0], b["script_id"].as_str().unwrap()).await;
        let (ia, ib) = (decoded(ra).await, decoded(rb).await);
        assert_eq!(ia, ib, "upside down and upright give the same masked image");
        // Every pixel is the original's, masked where the template masks; the strip reads back.
        let code = a["question"].as_str().unwrap();
        let region = room
            .template
            .questions
            .iter()
            .find(|q| q.question == code)
            .unwrap()
            .region;
        let masks: Vec<_> = room.template.masks.iter().map(|m| m.region).collect();
        assert_eq!(ia, cut_masked(&upright[region.page as usize], &region, &masks));
        assert_eq!(read_latent(&ia), if code == "W1" { 45 } else { 7 });
    }
    // A second sheet for the same candidate is refused unless it replaces the first.
    let r = send(&app, &room.c[0], &room.batch, "20260001", pngs(&upright)).await;
    expect_problem(r, StatusCode::CONFLICT, "sheet_exists").await;
    let _ = &room.chief;
}

#[tokio::test]
async fn a_page_without_anchor_waits_for_treatment_and_blocks_release() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let blind = generate_sheet(&room.template, &spec(true, true));
    let r = send(&app, &room.c[0], &room.batch, "20260003", pngs(&blind)).await;
    let sheet: Value = r.json().await.unwrap();
    assert!(
        sheet["scripts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "needs_treatment"),
        "{sheet}"
    );
    let release_path = format!("/api/v1/batches/{}/release", room.batch);
    let release = || app.post(&release_path, Some(&room.c[0]), json!({}));
    expect_problem(release().await, StatusCode::CONFLICT, "needs_treatment").await;
    let list: Value = app
        .get("/api/v1/exams/GK/treatment", Some(&room.c[1]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Nothing of an untreated page is stored in clear, so there is no image to link to yet.
    let first = list[0]["script_id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/api/v1/scripts/{first}/image-link"),
            Some(&room.c[0]),
            json!({}),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "no_image").await;
    // Treating one script treats its page: every script cut from it.
    let r = app
        .post(
            &format!("/api/v1/scripts/{first}/treatment"),
            Some(&room.c[1]),
            json!({ "turn": true }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let left: Value = app
        .get("/api/v1/exams/GK/treatment", Some(&room.c[1]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        left.as_array().unwrap().len(),
        0,
        "both scripts of the page are treated"
    );
    // A treated script is not treated again.
    let r = app
        .post(
            &format!("/api/v1/scripts/{first}/treatment"),
            Some(&room.c[1]),
            json!({ "turn": false }),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "no_treatment_needed").await;
    let upright = generate_sheet(&room.template, &spec(false, false));
    let (_, r) = image(&app, &room.c[0], &first).await;
    let treated = decoded(r).await;
    let masks: Vec<_> = room.template.masks.iter().map(|m| m.region).collect();
    let q = list[0]["question"].as_str().unwrap();
    let region = room.template.questions.iter().find(|r| r.question == q).unwrap().region;
    assert_eq!(treated, cut_masked(&upright[region.page as usize], &region, &masks));
    // Released now, by a second custodian; the scripts go to marking.
    let r = release().await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let request: Value = r.json().await.unwrap();
    let id = request["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/approvals/{id}/approve"), Some(&room.c[1]), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let batch: Value = app
        .get(&format!("/api/v1/batches/{}", room.batch), Some(&room.c[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(batch["status"], "released");
    assert_eq!(batch["chain"].as_array().unwrap().last().unwrap()["event"], "released");
    // An image link also ends on the clock.
    let (url, _) = image(&app, &room.c[0], &first).await;
    app.clock
        .advance(chrono::Duration::minutes(app.settings.scans.image_link_minutes) + chrono::Duration::seconds(1));
    let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .client
        .get(format!("{}/api/v1/images/{}", app.base, "x".repeat(43)))
        .send()
        .await
        .unwrap();
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
}

/// Objects in storage and rows of sheets and scripts: what a refused upload must leave as it was.
async fn footprint(app: &TestApp) -> (Vec<String>, i64) {
    let objects = app.storage.list("").await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows = app
        .db
        .read_now(|c| {
            diesel::RunQueryDsl::get_result::<N>(
                diesel::sql_query("SELECT (SELECT COUNT(*) FROM sheets) + (SELECT COUNT(*) FROM scripts) AS n"),
                c,
            )
            .map_err(markroom::db::DbError::from)
        })
        .unwrap()
        .n;
    (objects, rows)
}

/// A PNG header claiming 60,000 × 60,000 pixels, and nothing behind it.
fn png_bomb() -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(60_000u32.to_be_bytes());
    ihdr.extend(60_000u32.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    out.extend(13u32.to_be_bytes());
    out.extend(&ihdr);
    out.extend(crc32(&ihdr).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn bad_uploads_get_their_problem_and_change_nothing() {
    let app = TestApp::spawn_with(|s| s.scans.max_page_bytes = 400_000).await;
    let room = room(&app).await;
    let good = pngs(&generate_sheet(&room.template, &spec(false, false)));
    let before = footprint(&app).await;
    let mut corrupt = good.clone();
    let half = corrupt[0].len() / 2;
    corrupt[0].truncate(half);
    let mut bomb = good.clone();
    bomb[0] = png_bomb();
    let mut three = good.clone();
    three.push(good[0].clone());
    let mut oversize = good.clone();
    oversize[0] = vec![0u8; 500_000];
    let cases: Vec<(&str, Vec<Vec<u8>>, StatusCode, &str)> = vec![
        (
            "20269999",
            good.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_candidate",
        ),
        (
            "20260001",
            three,
            StatusCode::UNPROCESSABLE_ENTITY,
            "page_count_mismatch",
        ),
        ("20260001", corrupt, StatusCode::UNPROCESSABLE_ENTITY, "invalid_image"),
        ("20260001", bomb, StatusCode::UNPROCESSABLE_ENTITY, "image_too_large"),
        ("20260001", oversize, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ];
    for (number, pages, status, code) in cases {
        let r = send(&app, &room.c[0], &room.batch, number, pages).await;
        expect_problem(r, status, code).await;
        assert_eq!(
            footprint(&app).await,
            before,
            "{code} left storage and database as they were"
        );
    }
    // One custodian alone may do nothing with the sheets.
    let r = app
        .post("/api/v1/exams/GK/shifts/check-out", Some(&room.c[1]), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "an open batch keeps two on duty");
    // The originals in storage are sealed: no PNG among them, and no identity.
    let r = send(&app, &room.c[0], &room.batch, "20260001", good).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let storage = &app.storage;
    let originals = storage.list("originals").await.unwrap();
    assert_eq!(originals.len(), room.template.pages as usize);
    for key in originals {
        let bytes = storage.get(&key).await.unwrap();
        assert!(
            image::load_from_memory(&bytes).is_err(),
            "an original page decodes without the key"
        );
    }
}

#[tokio::test]
async fn a_typed_number_is_entered_twice_and_a_sheet_is_replaced_only_while_unmarked() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let pages = pngs(&generate_sheet(&room.template, &spec(false, false)));
    let typed = [("admission_number", "20260004"), ("entry", "typed")];
    let r = send_form(&app, &room.c[0], &room.batch, &typed, pages.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sheet: Value = r.json().await.unwrap();
    assert_eq!(sheet["confirmed"], false);
    let sheet_id = sheet["sheet_id"].as_str().unwrap();
    let release_path = format!("/api/v1/batches/{}/release", room.batch);
    let r = app.post(&release_path, Some(&room.c[1]), json!({})).await;
    expect_problem(r, StatusCode::CONFLICT, "sheets_unconfirmed").await;
    let app = &app;
    let confirm = |who: &Session, number: &str| {
        let path = format!("/api/v1/sheets/{sheet_id}/confirm");
        let body = json!({ "admission_number": number });
        let who = who.clone();
        async move { app.post(&path, Some(&who), body).await }
    };
    expect_problem(
        confirm(&room.c[0], "20260004").await,
        StatusCode::FORBIDDEN,
        "same_person",
    )
    .await;
    expect_problem(
        confirm(&room.c[1], "20260003").await,
        StatusCode::CONFLICT,
        "admission_number_mismatch",
    )
    .await;
    let r = confirm(&room.c[1], "20260004").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["confirmed"], true);

    // A second sheet replaces the first only when asked; the first stays, its scripts void.
    let replace = [
        ("admission_number", "20260004"),
        ("entry", "barcode"),
        ("replaces", "true"),
    ];
    let r = send_form(app, &room.c[1], &room.batch, &replace, pages.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    // With one custodian left on duty, nothing more happens to the sheets.
    app.insert_account("cust3", Role::Custodian);
    let c3 = app.login("cust3", None).await;
    assert_eq!(
        app.post("/api/v1/exams/GK/shifts/check-in", Some(&c3), json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/v1/exams/GK/shifts/check-out", Some(&room.c[1]), json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/v1/exams/GK/shifts/check-out", Some(&c3), json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let r = send(app, &room.c[1], &room.batch, "20260001", pages).await;
    expect_problem(r, StatusCode::FORBIDDEN, "not_on_duty").await;
    let _ = &room.chief;
}

#[tokio::test]
async fn identical_uploads_at_once_keep_the_winner_s_images_and_outside_a_scanner_a_number_is_typed() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let pages = pngs(&generate_sheet(&room.template, &spec(false, false)));
    let (a, b) = tokio::join!(
        send(&app, &room.c[0], &room.batch, "20260001", pages.clone()),
        send(&app, &room.c[1], &room.batch, "20260001", pages.clone())
    );
    let (won, lost) = if a.status() == StatusCode::CREATED {
        (a, b)
    } else {
        (b, a)
    };
    let won: Value = won.json().await.unwrap();
    expect_problem(lost, StatusCode::CONFLICT, "sheet_exists").await;
    // The loser removed nothing the winner uses.
    let script = won["scripts"][0]["script_id"].as_str().unwrap().to_string();
    let (url, r) = image(&app, &room.c[0], &script).await;
    assert_eq!(r.status(), StatusCode::OK);
    // A replacement ends every link to the replaced sheet's images.
    let replace = [
        ("admission_number", "20260001"),
        ("entry", "barcode"),
        ("replaces", "true"),
    ];
    let r = send_form(&app, &room.c[1], &room.batch, &replace, pages.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
    expect_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    // Barcode entries count only from a scanning station: elsewhere the number was typed.
    app.insert_account("cust3", Role::Custodian);
    let c3 = app.login("cust3", None).await;
    assert_eq!(
        app.post("/api/v1/exams/GK/shifts/check-in", Some(&c3), json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    let r = send(&app, &c3, &room.batch, "20260002", pages).await;
    let sheet: Value = r.json().await.unwrap();
    assert_eq!(
        (sheet["entry"].as_str(), sheet["confirmed"].as_bool()),
        (Some("typed"), Some(false))
    );
    // With a batch open, the template stays as the sheets were cut by it.
    let r = app
        .call(
            Method::PUT,
            "/api/v1/exams/GK/template",
            Some(&room.chief),
            Some(serde_json::to_value(&room.template).unwrap()),
        )
        .await;
    expect_problem(r, StatusCode::CONFLICT, "template_in_use").await;
}
