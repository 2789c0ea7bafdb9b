//! A marking floor for the marking tests, built through the API alone: exam GK with an essay
//! W1 (0–60, step 1, tolerance 6, two criteria) and a short question S2 (0–10, step 1,
//! tolerance 1); candidates with high-entropy names, numbers and schools; their sheets scanned
//! into a released batch; one calibration script per question; markers appointed, trained and
//! qualified; the window reached and the room open. Everybody works at registered desks.

use std::collections::BTreeMap;

use markroom::domain::role::Role;
use markroom::scans::{SheetSpec, decode_page, encode_png, generate_sheet, read_latent, standard_template};
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp};

pub struct Candidate {
    pub admission_number: String,
    pub name: String,
    pub school_code: String,
    /// Latent scores by question code.
    pub latents: BTreeMap<String, u32>,
}

#[allow(dead_code)] // every test takes what it needs of the floor
pub struct Floor {
    pub admin: Session,
    pub chief1: Session,
    pub chief2: Session,
    pub custodians: Vec<Session>,
    /// (marker id, session)
    pub markers: Vec<(String, Session)>,
    pub desk: String,
    pub candidates: Vec<Candidate>,
    pub batch: String,
}

fn entropy(rng: &mut impl Rng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

pub fn candidates(n: usize, seed: u64) -> Vec<Candidate> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| Candidate {
            admission_number: format!("9{}", entropy(&mut rng, b"0123456789", 11)),
            name: format!("Q{}", entropy(&mut rng, b"bcdfghjkmnpqrstvwxz", 14)),
            school_code: format!("X{}", entropy(&mut rng, b"ABCDEFGHJKLMNPQRSTUVWXYZ", 9)),
            latents: BTreeMap::from([
                ("W1".to_string(), rng.random_range(12..55)),
                ("S2".to_string(), rng.random_range(1..10)),
            ]),
        })
        .collect()
}

fn sheet(latents: &BTreeMap<String, u32>, seed: u64) -> Vec<Vec<u8>> {
    let spec = SheetSpec {
        dpi: 40,
        upside_down: false,
        without_anchor: false,
        seed,
        latents: latents.clone(),
    };
    generate_sheet(&standard_template(&["W1", "S2"]), &spec)
        .iter()
        .map(encode_png)
        .collect()
}

/// A sheet whose W1 answer carries `units` (for a seed or calibration script).
pub fn seed_sheet(units: u32) -> Vec<Vec<u8>> {
    sheet(
        &BTreeMap::from([("W1".to_string(), units), ("S2".to_string(), 1)]),
        4242,
    )
}

/// A multipart POST with pages.
pub async fn post_pages(
    app: &TestApp,
    who: &Session,
    path: &str,
    fields: &[(&str, &str)],
    pages: Vec<Vec<u8>>,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    for p in pages {
        form = form.part(
            "page",
            reqwest::multipart::Part::bytes(p).mime_str("image/png").unwrap(),
        );
    }
    let mut request = app.client.post(format!("{}{path}", app.base)).bearer_auth(&who.token);
    if let Some(key) = &who.key {
        request = request.header("X-Workstation-Key", key);
    }
    request.multipart(form).send().await.unwrap()
}

async fn ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Reads an image link as a person reads the answer: the latent strip.
pub async fn latent_of(app: &TestApp, url: &str) -> u32 {
    let r = app.client.get(format!("{}{url}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    read_latent(&decode_page(&r.bytes().await.unwrap(), &Default::default()).unwrap())
}

pub async fn exam_setup(app: &TestApp, chief: &Session, rules: Value) {
    let start = chrono::Utc::now() + chrono::Duration::days(30);
    let body = json!({
        "code": "GK", "name": "County exam", "time_zone": "Asia/Shanghai",
        "window_start": start, "window_end": start + chrono::Duration::days(10), "settings": rules,
    });
    ok(app.post("/api/v1/exams", Some(chief), body).await, "exam").await;
    let w1 = json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1, "criteria": [
        { "code": "content", "name": "Content", "max": 40 }, { "code": "language", "name": "Language", "max": 20 } ] });
    let s2 = json!({ "code": "S2", "kind": "short", "max_score": 10, "step": 1 });
    for q in [w1, s2] {
        ok(app.post("/api/v1/exams/GK/questions", Some(chief), q).await, "question").await;
    }
    let template = serde_json::to_value(standard_template(&["W1", "S2"])).unwrap();
    ok(
        app.call(Method::PUT, "/api/v1/exams/GK/template", Some(chief), Some(template))
            .await,
        "template",
    )
    .await;
}

async fn scan_and_release(app: &TestApp, custodians: &[Session], cands: &[Candidate]) -> String {
    let request = ok(
        app.post(
            "/api/v1/exams/GK/batches",
            Some(&custodians[0]),
            json!({ "label": "box 1" }),
        )
        .await,
        "batch",
    )
    .await;
    let id = request["id"].as_str().unwrap();
    ok(
        app.post(
            &format!("/api/v1/approvals/{id}/approve"),
            Some(&custodians[1]),
            json!({}),
        )
        .await,
        "open",
    )
    .await;
    let batches = ok(
        app.get("/api/v1/exams/GK/batches", Some(&custodians[0])).await,
        "batches",
    )
    .await;
    let batch = batches[0]["id"].as_str().unwrap().to_string();
    for (i, c) in cands.iter().enumerate() {
        let fields = [("admission_number", c.admission_number.as_str()), ("entry", "barcode")];
        let r = post_pages(
            app,
            &custodians[0],
            &format!("/api/v1/batches/{batch}/sheets"),
            &fields,
            sheet(&c.latents, i as u64),
        )
        .await;
        ok(r, "sheet").await;
    }
    let request = ok(
        app.post(
            &format!("/api/v1/batches/{batch}/release"),
            Some(&custodians[0]),
            json!({}),
        )
        .await,
        "release",
    )
    .await;
    let id = request["id"].as_str().unwrap();
    ok(
        app.post(
            &format!("/api/v1/approvals/{id}/approve"),
            Some(&custodians[1]),
            json!({}),
        )
        .await,
        "release approval",
    )
    .await;
    batch
}

/// Creates, appoints, trains and qualifies one marker (both questions) at the desk.
pub async fn qualified_marker(app: &TestApp, chief: &Session, desk: &str, username: &str) -> (String, Session) {
    let body = json!({
        "username": username, "full_name": format!("Teacher {username}"), "id_document": format!("ID{username}"),
        "birth_date": "1985-03-01", "school_code": "T01", "subject": "Chinese", "years_teaching": 12,
        "recommendation": { "principal": "Principal Zhou", "school": "No. 1 Middle School", "date": "2026-10-01" },
        "attestations": { "health": true, "conduct": true },
    });
    let created = ok(app.post("/api/v1/markers", Some(chief), body).await, "marker").await;
    let id = created["id"].as_str().unwrap().to_string();
    app.set_own_password(username, created["one_time_password"].as_str().unwrap(), Some(desk))
        .await;
    let m = app.login(username, Some(desk)).await;
    ok(
        app.post(
            &format!("/api/v1/markers/{id}/appointments"),
            Some(chief),
            json!({ "exam": "GK" }),
        )
        .await,
        "appoint",
    )
    .await;
    for q in ["W1", "S2"] {
        let t =
            json!({ "exam": "GK", "question": q, "course": "Standard", "date": "2026-11-20", "trainer": "Leader Li" });
        ok(
            app.post(&format!("/api/v1/markers/{id}/training"), Some(chief), t)
                .await,
            "training",
        )
        .await;
    }
    ok(
        app.post(
            &format!("/api/v1/markers/{id}/questions"),
            Some(chief),
            json!({ "exam": "GK", "questions": ["W1", "S2"] }),
        )
        .await,
        "assign",
    )
    .await;
    for q in ["W1", "S2"] {
        let task = ok(
            app.post(&format!("/api/v1/exams/GK/qualification/{q}/next"), Some(&m), json!({}))
                .await,
            "qualification",
        )
        .await;
        let latent = latent_of(app, task["images"][0].as_str().unwrap()).await;
        let tid = task["task_id"].as_str().unwrap();
        let answer = ok(
            app.post(
                &format!("/api/v1/qualification/tasks/{tid}/score"),
                Some(&m),
                json!({ "score": latent }),
            )
            .await,
            "calibration",
        )
        .await;
        assert_eq!(answer["passed"], true);
    }
    (id, m)
}

/// The whole floor: `n` candidates, `m` markers, the room open. `rules` overrides exam rules.
/// A chief leader imports `list` into exam GK.
pub async fn import_candidates(app: &TestApp, chief: &Session, list: &[Candidate]) {
    let body: Vec<Value> = list
        .iter()
        .map(|c| json!({ "admission_number": c.admission_number, "name": c.name, "school_code": c.school_code }))
        .collect();
    ok(
        app.post("/api/v1/exams/GK/candidates", Some(chief), json!(body)).await,
        "candidates",
    )
    .await;
}

pub async fn floor(app: &TestApp, n: usize, m: usize, rules: Value) -> Floor {
    let (admin, chief, _) = app.staff().await;
    let desk = app.workstation(&admin, "desk").await;
    let r = app
        .post(
            "/api/v1/workstations",
            Some(&admin),
            json!({ "name": "scanner", "scanner": true }),
        )
        .await;
    let scanner = ok(r, "scanner").await["key"].as_str().unwrap().to_string();
    exam_setup(app, &chief, rules).await;
    let cands = candidates(n, 20261129);
    import_candidates(app, &chief, &cands).await;
    app.clock
        .advance(chrono::Duration::days(30) + chrono::Duration::hours(1));
    let chief1 = app.open_room("chief1", &desk, "GK").await;
    let chief2 = app.login("chief2", Some(&desk)).await;
    let admin = app.login("admin", Some(&desk)).await;
    let mut custodians = vec![];
    for name in ["cust1", "cust2"] {
        app.insert_account(name, Role::Custodian);
        let s = app.login(name, Some(&scanner)).await;
        ok(
            app.post("/api/v1/exams/GK/shifts/check-in", Some(&s), json!({})).await,
            "check-in",
        )
        .await;
        custodians.push(s);
    }
    let batch = scan_and_release(app, &custodians, &cands).await;
    for (q, latent) in [("W1", 30u32), ("S2", 5)] {
        let mut latents = BTreeMap::from([("W1".to_string(), 20u32), ("S2".to_string(), 4)]);
        latents.insert(q.to_string(), latent);
        let r = post_pages(
            app,
            &chief1,
            &format!("/api/v1/exams/GK/questions/{q}/prescored"),
            &[("score", &latent.to_string()), ("role", "calibration")],
            sheet(&latents, 999),
        )
        .await;
        ok(r, "calibration").await;
    }
    let mut markers = vec![];
    for i in 0..m {
        markers.push(qualified_marker(app, &chief1, &desk, &format!("mk{i:02}")).await);
    }
    Floor {
        admin,
        chief1,
        chief2,
        custodians,
        markers,
        desk,
        candidates: cands,
        batch,
    }
}
