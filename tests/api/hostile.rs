//! Hostile input, generated (proptest): SQL-like strings, very long strings, Unicode edge
//! cases, control characters, negative, huge and many-decimal numbers, duplicate keys and
//! garbage images, sent to the JSON bodies, the CSV importer and a multipart upload of a
//! working marking room. Whatever arrives, the server answers without a 5xx; a refusal is a
//! problem+json with a code, and it changes nothing (every table's rows counted before and
//! after, the audit log aside, where refusals are recorded).

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Response;
use serde_json::{Value, json};

use crate::facts::n;
use crate::floor::{Floor, floor, post_pages};
use crate::helpers::{Session, TestApp};
use crate::marking::next;

/// Strings a hostile or careless client sends.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("'; DROP TABLE marks; --".to_string()),
        Just("\" OR 1=1 --".to_string()),
        Just("Robert'); DELETE FROM candidates; --".to_string()),
        Just("%00%27%22".to_string()),
        Just("\u{0}".to_string()),
        Just("\u{202E}evil\u{202C}".to_string()),
        Just("\u{FEFF}".to_string()),
        Just("e\u{301}\u{301}\u{301}".to_string()),
        Just("\u{10FFFF}".to_string()),
        Just("👩‍👩‍👧‍👦".to_string()),
        Just("   ".to_string()),
        Just(String::new()),
        "[a-zA-Z0-9 ]{1,12}",
        "\\PC{0,40}",
        "[\\x00-\\x1f]{1,8}",
        "[a-z]{1,3}".prop_map(|s| s.repeat(20_000)),
    ]
}

/// Numbers as JSON text: negative, huge, tiny, many decimals, not numbers at all.
fn hostile_number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-1".to_string()),
        Just("-0.01".to_string()),
        Just("1e308".to_string()),
        Just("-1e308".to_string()),
        Just("1e-300".to_string()),
        Just("18446744073709551616".to_string()),
        Just("12.345678901234567890123".to_string()),
        Just("0.001".to_string()),
        Just("\"12\"".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        (-1_000_000_000i64..1_000_000_000).prop_map(|v| v.to_string()),
        (any::<f64>())
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        (0u32..10_000, 3usize..12).prop_map(|(v, d)| format!("{v}.{}", "7".repeat(d))),
    ]
}

/// Every table's row count but the audit log's (refusals are audited there).
fn counts(app: &TestApp) -> Vec<(String, i64)> {
    const TABLES: &[&str] = &[
        "exams",
        "questions",
        "candidates",
        "users",
        "markers",
        "sheets",
        "scripts",
        "tasks",
        "serves",
        "marks",
        "seed_marks",
        "self_checks",
        "prescored_scripts",
        "approvals",
        "account_approvals",
        "finals",
        "disputes",
        "problems",
        "idempotency_keys",
    ];
    app.db
        .read_now(|c| -> Result<_, markroom::db::DbError> {
            Ok(TABLES
                .iter()
                .map(|t| (t.to_string(), n(c, &format!("SELECT COUNT(*) AS n FROM {t}"))))
                .collect())
        })
        .unwrap()
}

/// What each kind of request was answered, for the run's figures.
static SEEN: std::sync::Mutex<std::collections::BTreeMap<String, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The request as sent, its answer checked: no 5xx; a refusal is a problem with a code and
/// leaves every table as it was.
async fn checked(app: &TestApp, what: &str, send: impl std::future::Future<Output = Response>) -> u16 {
    let before = counts(app);
    let r = send.await;
    let status = r.status().as_u16();
    SEEN.lock()
        .unwrap()
        .entry(format!("{what} {status}"))
        .and_modify(|n| *n += 1)
        .or_insert(1);
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = r.text().await.unwrap_or_default();
    assert!(status < 500, "{what}: {status} {body}");
    if status >= 400 {
        assert_eq!(kind, "application/problem+json", "{what}: {status} {body}");
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert!(
            problem["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{what}: {body}"
        );
        assert_eq!(
            counts(app),
            before,
            "{what}: refused ({status} {body}) yet something changed"
        );
    }
    status
}

fn raw(app: &TestApp, s: &Session, path: &str, content_type: &str, body: String) -> reqwest::RequestBuilder {
    let mut rb = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(&s.token)
        .header("content-type", content_type)
        .body(body);
    if let Some(k) = &s.key {
        rb = rb.header("X-Workstation-Key", k);
    }
    rb
}

/// Runs `cases` generated inputs through `case` on the test's runtime.
fn run<S: Strategy>(cases: u32, strategy: S, case: impl Fn(S::Value) -> u16) -> usize
where
    S::Value: std::fmt::Debug,
{
    let sent = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    tokio::task::block_in_place(|| {
        runner
            .run(&strategy, |v| {
                case(v);
                sent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
            .unwrap()
    });
    sent.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_a_problem_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let f: Floor = floor(&app, 6, 3, json!({ "self_check_rate": 0, "seed_rate": 0 })).await;
    let rt = tokio::runtime::Handle::current();
    let (chief, admin, marker) = (f.chief1.clone(), f.admin.clone(), f.markers[0].1.clone());
    let lease = tokio::sync::Mutex::new(None::<String>);
    let mut sent = 0;

    // JSON bodies: candidates, exams, people, scores (with duplicate keys among them).
    sent += run(48, (hostile_text(), hostile_text(), hostile_text()), |(a, b, c)| {
        let body = json!([{ "admission_number": a, "name": b, "school_code": c }]);
        rt.block_on(checked(
            &app,
            "candidates json",
            app.post("/api/v1/exams/GK/candidates", Some(&chief), body),
        ))
    });
    sent += run(48, (hostile_text(), hostile_text()), |(code, name)| {
        let body = json!({ "code": code, "name": name, "time_zone": "Asia/Shanghai",
            "window_start": "2027-06-01T00:00:00Z", "window_end": "2027-06-20T00:00:00Z" });
        rt.block_on(checked(&app, "exam", app.post("/api/v1/exams", Some(&chief), body)))
    });
    sent += run(
        48,
        (hostile_text(), hostile_text(), hostile_text()),
        |(user, name, doc)| {
            let body = json!({ "username": user, "full_name": name, "id_document": doc, "role": "custodian" });
            rt.block_on(checked(&app, "user", app.post("/api/v1/users", Some(&admin), body)))
        },
    );
    sent += run(
        64,
        (hostile_number(), hostile_text(), hostile_number(), any::<bool>()),
        |(s, k, v, twice)| {
            rt.block_on(async {
                let mut held = lease.lock().await;
                if held.is_none() {
                    let r = next(&app, &marker).await;
                    if r.status().is_success() {
                        let l: Value = r.json().await.unwrap();
                        *held = l["task_id"].as_str().map(str::to_string);
                    }
                }
                let Some(task) = held.clone() else { return 0 };
                let key = serde_json::to_string(&k).unwrap();
                // Duplicate keys: the same member twice, as a careless encoder writes it.
                let body = if twice {
                    format!("{{\"score\": {s}, \"score\": {v}}}")
                } else {
                    format!("{{\"score\": {s}, \"criteria\": {{{key}: {v}}}}}")
                };
                let path = format!("/api/v1/marking/tasks/{task}/score");
                let send = raw(&app, &marker, &path, "application/json", body).send();
                let status = checked(&app, "score", async { send.await.unwrap() }).await;
                if status < 300 {
                    *held = None;
                }
                status
            })
        },
    );
    // The CSV importer: hostile cells, quoted and not.
    sent += run(48, (hostile_text(), hostile_text(), hostile_text()), |(a, b, c)| {
        let mut w = csv::Writer::from_writer(vec![]);
        w.write_record(["admission_number", "name", "school_code"]).unwrap();
        w.write_record([&a, &b, &c]).unwrap();
        let body = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let send = raw(&app, &chief, "/api/v1/exams/GK/candidates", "text/csv", body).send();
        rt.block_on(checked(&app, "candidates csv", async { send.await.unwrap() }))
    });
    // A multipart upload: hostile fields and pages that are no image, or claim to be a huge one.
    sent += run(
        24,
        (
            hostile_number(),
            hostile_text(),
            prop::collection::vec(any::<u8>(), 0..256),
            any::<bool>(),
        ),
        |(s, role, junk, bomb)| {
            let page = if bomb { huge_png_header() } else { junk };
            rt.block_on(checked(
                &app,
                "prescored upload",
                post_pages(
                    &app,
                    &chief,
                    "/api/v1/exams/GK/questions/W1/prescored",
                    &[("score", &s), ("role", &role)],
                    vec![page],
                ),
            ))
        },
    );
    // The sheet upload, into a batch open for it: hostile fields, pages that are no image or
    // claim to be a huge one.
    let (custodian, second) = (f.custodians[0].clone(), f.custodians[1].clone());
    let batch = open_batch(&app, &custodian, &second).await;
    sent += run(
        24,
        (
            hostile_text(),
            hostile_text(),
            hostile_text(),
            prop::collection::vec(any::<u8>(), 0..256),
            any::<bool>(),
        ),
        |(number, entry, replaces, junk, bomb)| {
            let page = if bomb { huge_png_header() } else { junk };
            rt.block_on(checked(
                &app,
                "sheet upload",
                post_pages(
                    &app,
                    &custodian,
                    &format!("/api/v1/batches/{batch}/sheets"),
                    &[
                        ("admission_number", &number),
                        ("entry", &entry),
                        ("replaces", &replaces),
                    ],
                    vec![page],
                ),
            ))
        },
    );
    eprintln!("hostile input: {sent} requests, no 5xx, every refusal a problem that changed nothing");
    eprintln!("answers: {:?}", SEEN.lock().unwrap());
    assert!(sent >= 300, "only {sent} requests sent");
}

/// A new batch of exam GK, asked for by one custodian on duty and approved by another; its id.
async fn open_batch(app: &TestApp, asker: &Session, approver: &Session) -> String {
    let r = app
        .post(
            "/api/v1/exams/GK/batches",
            Some(asker),
            json!({ "label": "Hostile box" }),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let request: Value = r.json().await.unwrap();
    let id = request["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/approvals/{id}/approve"), Some(approver), json!({}))
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let batches: Value = app
        .get("/api/v1/exams/GK/batches", Some(asker))
        .await
        .json()
        .await
        .unwrap();
    let open = batches.as_array().unwrap().iter().find(|b| b["status"] == "open");
    open.expect("the approved batch is open")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A PNG's first bytes declaring a 60,000 × 60,000 image and nothing after: a decoder that
/// trusted it would allocate 14 GB.
fn huge_png_header() -> Vec<u8> {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
    b.extend_from_slice(b"IHDR");
    b.extend_from_slice(&60_000u32.to_be_bytes());
    b.extend_from_slice(&60_000u32.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0]);
    b.extend_from_slice(&[0, 0, 0, 0]);
    b
}
