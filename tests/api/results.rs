//! Lock, unlock, release and amend (issue 10): two chiefs for each; a lock refused while
//! anything is open or a candidate is unaccounted for, naming them; and the database itself
//! refusing raw changes to a locked exam's marks, finals and flags.

use diesel::RunQueryDsl;
use markroom::db::DbError;
use markroom::domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::floor::{Floor, floor};
use crate::helpers::{Session, TestApp, expect_problem};
use crate::marking::{fair, next, score};

async fn ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn ask(app: &TestApp, who: &Session, kind: &str, payload: Value) -> reqwest::Response {
    app.post(
        "/api/v1/exams/GK/approvals",
        Some(who),
        json!({ "kind": kind, "payload": payload }),
    )
    .await
}

async fn approve(app: &TestApp, who: &Session, id: &str) -> reqwest::Response {
    app.post(&format!("/api/v1/approvals/{id}/approve"), Some(who), json!({}))
        .await
}

/// Asks with one chief, who cannot approve it alone; approves with the other; the approval's id.
async fn two_chiefs(app: &TestApp, f: &Floor, kind: &str, payload: Value) -> String {
    let request = ok(ask(app, &f.chief1, kind, payload).await, kind).await;
    let id = request["id"].as_str().unwrap().to_string();
    expect_problem(
        approve(app, &f.chief1, &id).await,
        StatusCode::FORBIDDEN,
        "approval_self",
    )
    .await;
    ok(approve(app, &f.chief2, &id).await, "approve").await;
    id
}

async fn mark_everything(app: &TestApp, f: &Floor) {
    for _round in 0..200 {
        let mut any = false;
        for (_, m) in &f.markers {
            let r = next(app, m).await;
            if r.status() == StatusCode::NO_CONTENT {
                continue;
            }
            let lease = ok(r, "next").await;
            any = true;
            let latent = crate::floor::latent_of(app, lease["images"][0].as_str().unwrap()).await;
            let body = fair(lease["question"].as_str().unwrap(), latent);
            ok(
                score(app, m, lease["task_id"].as_str().unwrap(), body, None).await,
                "score",
            )
            .await;
        }
        if !any {
            return;
        }
    }
}

/// Runs raw SQL on the test's database; the error's text when refused.
fn raw(app: &TestApp, sql: &str) -> Result<usize, String> {
    app.db
        .write_now(|c| diesel::sql_query(sql).execute(c).map_err(DbError::from))
        .map_err(|e| e.to_string())
}

fn exam_id(app: &TestApp) -> String {
    app.db.read_now(|c| markroom::db::exams::by_code(c, "GK")).unwrap().id
}

#[tokio::test]
async fn locking_takes_two_chiefs_everything_settled_and_the_database_keeps_it_locked() {
    let app = TestApp::spawn().await;
    let rules = json!({ "self_check_rate": 0, "seed_rate": 0, "backread_rate": 0 });
    let f = floor(&app, 3, 3, rules).await;
    let exam = exam_id(&app);

    // Nothing marked yet: the refusal counts what is open per question.
    let r = ask(&app, &f.chief1, "lock", json!({})).await;
    let p = expect_problem(r, StatusCode::CONFLICT, "lock_blocked").await;
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("W1: 3 scripts unresolved, 9 tasks open"), "{detail}");
    assert!(detail.contains("S2: 3 scripts unresolved, 6 tasks open"), "{detail}");
    assert!(detail.contains("3 candidates with neither"), "{detail}");

    mark_everything(&app, &f).await;
    // A candidate on the list with no sheet is named until recorded absent.
    let late = json!([{ "admission_number": "20261234567", "name": "Late Comer", "school_code": "S77" }]);
    ok(
        app.post("/api/v1/exams/GK/candidates", Some(&f.chief1), late).await,
        "list",
    )
    .await;
    let r = ask(&app, &f.chief1, "lock", json!({})).await;
    let p = expect_problem(r, StatusCode::CONFLICT, "lock_blocked").await;
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("1 candidates with neither"), "{detail}");
    assert!(detail.contains("20261234567 Late Comer (W1, S2)"), "{detail}");
    assert!(!detail.contains("W1:"), "marking is done: {detail}");
    let absent = json!({ "admission_number": "20261234567" });
    ok(
        app.post("/api/v1/exams/GK/absences", Some(&f.custodians[0]), absent)
            .await,
        "absence",
    )
    .await;

    // Only chief leaders ask and decide; never the one who asked.
    app.insert_account("lead1", Role::Leader);
    let lead = app.login("lead1", Some(&f.desk)).await;
    expect_problem(
        ask(&app, &lead, "lock", json!({})).await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    expect_problem(
        ask(&app, &f.custodians[0], "lock", json!({})).await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    let request = ok(ask(&app, &f.chief1, "lock", json!({})).await, "lock").await;
    let lock_id = request["id"].as_str().unwrap().to_string();
    expect_problem(
        approve(&app, &f.chief1, &lock_id).await,
        StatusCode::FORBIDDEN,
        "approval_self",
    )
    .await;
    expect_problem(
        approve(&app, &lead, &lock_id).await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    expect_problem(
        approve(&app, &f.custodians[1], &lock_id).await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    expect_problem(
        approve(&app, &f.markers[0].1, &lock_id).await,
        StatusCode::FORBIDDEN,
        "approval_not_allowed",
    )
    .await;
    ok(approve(&app, &f.chief2, &lock_id).await, "approve").await;
    let e = ok(app.get("/api/v1/exams/GK", Some(&f.chief1)).await, "exam").await;
    assert_eq!(e["locked"], true);
    // The audit log names both people: the one who asked and the one who approved.
    let id_of = |name: &str| {
        app.db
            .read_now(|c| markroom::db::users::find_by_username(c, name))
            .unwrap()
            .unwrap()
            .id
    };
    let entries = app.audit_entries(&f.admin).await;
    let by = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["object_id"] == lock_id.as_str() && e["outcome"] == "ok")
            .map(|e| e["actor_id"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(by("approval.request"), Some(id_of("chief1")));
    assert_eq!(by("approval.approve"), Some(id_of("chief2")));

    // The database refuses raw changes to a locked exam's marks, finals and lock flag.
    for sql in [
        format!("UPDATE marks SET score = 0 WHERE exam_id = '{exam}'"),
        format!("DELETE FROM marks WHERE exam_id = '{exam}'"),
        format!("UPDATE finals SET score = score + 100 WHERE exam_id = '{exam}'"),
        format!("DELETE FROM finals WHERE exam_id = '{exam}'"),
        format!("UPDATE exams SET locked = FALSE WHERE id = '{exam}'"),
        // The lock's own approval does not unlock.
        format!("UPDATE exams SET locked = FALSE, lock_approval_id = '{lock_id}' WHERE id = '{exam}'"),
        format!("UPDATE exams SET released = TRUE WHERE id = '{exam}'"),
    ] {
        let refused = raw(&app, &sql);
        assert!(refused.is_err(), "{sql} went through");
    }
    // Nor by a forged, edited, removed or replayed request, nor by writing the exam over.
    for sql in [
        format!(
            "INSERT INTO approvals (id, exam_id, kind, payload, status, requested_by, requested_at, expires_at, \
             decided_by, decided_at) SELECT 'forged', id, 'unlock', '{{}}', 'approved', created_by, created_at, \
             created_at, created_by, created_at FROM exams WHERE id = '{exam}'"
        ),
        format!("UPDATE approvals SET kind = 'unlock' WHERE id = '{lock_id}'"),
        format!("DELETE FROM approvals WHERE id = '{lock_id}'"),
        format!("DELETE FROM used_approvals WHERE approval_id = '{lock_id}'"),
    ] {
        assert!(raw(&app, &sql).is_err(), "{sql} went through");
    }
    if app.db.backend() == markroom::db::Backend::Sqlite {
        let replace = format!(
            "INSERT OR REPLACE INTO exams (id, code, name, time_zone, window_start, window_end, room_open, locked, \
             released, settings, created_at, created_by, rules) SELECT id, code, name, time_zone, window_start, \
             window_end, room_open, FALSE, FALSE, settings, created_at, created_by, rules FROM exams WHERE id = '{exam}'"
        );
        assert!(raw(&app, &replace).is_err(), "the exam was written over");
    }
    assert_eq!(app.final_scores("GK").len(), 6, "nothing changed");
    if app.db.backend() == markroom::db::Backend::Postgres {
        // The service's role owns no table: it can neither disable nor drop the guards.
        for sql in [
            "ALTER TABLE marks DISABLE TRIGGER marks_locked",
            "DROP TRIGGER finals_locked ON finals",
            "ALTER TABLE exams DISABLE TRIGGER USER",
            "SET session_replication_role = replica",
        ] {
            assert!(raw(&app, sql).is_err(), "{sql} went through");
        }
    }
    let r = app.post("/api/v1/marking/next", Some(&f.markers[0].1), json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "a locked exam leases nothing");

    // Unlocking needs a reason; released results are amended, never unlocked.
    expect_problem(
        ask(&app, &f.chief1, "unlock", json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_reason",
    )
    .await;
    expect_problem(
        ask(&app, &f.chief1, "amend", json!({ "admission_number": f.candidates[0].admission_number, "question": "W1", "score": 1, "reason": "appeal" })).await,
        StatusCode::CONFLICT,
        "not_released",
    )
    .await;
    let unlock = two_chiefs(&app, &f, "unlock", json!({ "reason": "a script was found misfiled" })).await;
    assert_eq!(
        raw(
            &app,
            &format!("UPDATE finals SET score = score WHERE exam_id = '{exam}'")
        ),
        Ok(6)
    );
    two_chiefs(&app, &f, "lock", json!({})).await;
    // The unlock's approval is spent: replaying it unlocks nothing.
    let replay = format!("UPDATE exams SET locked = FALSE, lock_approval_id = '{unlock}' WHERE id = '{exam}'");
    assert!(raw(&app, &replay).is_err(), "a used approval unlocked again");
    expect_problem(
        ask(&app, &f.chief1, "lock", json!({})).await,
        StatusCode::CONFLICT,
        "exam_locked",
    )
    .await;
    let release = two_chiefs(&app, &f, "release", json!({})).await;
    let e = ok(app.get("/api/v1/exams/GK", Some(&f.chief1)).await, "exam").await;
    assert_eq!(
        (e["locked"].as_bool(), e["released"].as_bool()),
        (Some(true), Some(true))
    );
    expect_problem(
        ask(&app, &f.chief1, "unlock", json!({ "reason": "x" })).await,
        StatusCode::CONFLICT,
        "already_released",
    )
    .await;
    for sql in [
        format!("UPDATE exams SET locked = FALSE, lock_approval_id = '{unlock}' WHERE id = '{exam}'"),
        format!("UPDATE exams SET released = FALSE, release_approval_id = '{release}' WHERE id = '{exam}'"),
        format!("UPDATE exams SET locked = FALSE WHERE id = '{exam}'"),
    ] {
        assert!(raw(&app, &sql).is_err(), "{sql} went through");
    }

    // An amendment: a new version beside the old final, never changed again.
    let number = f.candidates[0].admission_number.clone();
    let latent = i64::from(f.candidates[0].latents["W1"]);
    let amended = (latent + 2).min(60);
    let payload =
        json!({ "admission_number": number, "question": "W1", "score": amended, "reason": "score appeal upheld" });
    let same = json!({ "admission_number": number, "question": "W1", "score": latent, "reason": "x" });
    expect_problem(
        ask(&app, &f.chief1, "amend", same).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unchanged_score",
    )
    .await;
    let amend = two_chiefs(&app, &f, "amend", payload).await;
    assert_eq!(app.final_scores("GK").len(), 6, "the old final stays");
    for sql in [
        format!("UPDATE amendments SET score = 0 WHERE approval_id = '{amend}'"),
        format!("DELETE FROM amendments WHERE approval_id = '{amend}'"),
        format!(
            "INSERT INTO amendments (exam_id, id, script_id, question_id, old_score, score, reason, approval_id, amended_at) \
             SELECT exam_id, 'forged', script_id, question_id, score, 0, 'forged', '{lock_id}', amended_at FROM amendments"
        ),
    ] {
        assert!(raw(&app, &sql).is_err(), "{sql} went through");
    }
}

pub async fn service_token(app: &TestApp, admin: &Session, exams: &[&str]) -> Session {
    let r = app
        .post(
            "/api/v1/service-clients",
            Some(admin),
            json!({ "name": format!("Admissions {}", exams.join(" ")), "exams": exams }),
        )
        .await;
    let client = ok(r, "client").await;
    let grant = json!({ "grant_type": "client_credentials", "client_id": client["client_id"], "client_secret": client["client_secret"] });
    let body = ok(app.post("/api/v1/auth/token", None, grant).await, "token").await;
    Session {
        token: body["access_token"].as_str().unwrap().into(),
        refresh: String::new(),
        key: None,
    }
}

#[tokio::test]
async fn admissions_read_released_results_page_by_page_and_the_csv_says_the_same() {
    let app = TestApp::spawn().await;
    let rules = json!({ "self_check_rate": 0, "seed_rate": 0, "backread_rate": 0 });
    let f = floor(&app, 5, 3, rules).await;
    mark_everything(&app, &f).await;
    let late = json!([{ "admission_number": "20261234567", "name": "Late Comer", "school_code": "S77" }]);
    ok(
        app.post("/api/v1/exams/GK/candidates", Some(&f.chief1), late).await,
        "list",
    )
    .await;
    let absent = json!({ "admission_number": "20261234567" });
    ok(
        app.post("/api/v1/exams/GK/absences", Some(&f.custodians[0]), absent)
            .await,
        "absence",
    )
    .await;
    app.exam(&f.chief1, "OT").await;
    let gk = service_token(&app, &f.admin, &["GK"]).await;
    let other = service_token(&app, &f.admin, &["OT"]).await;

    let r = app.get("/api/v1/exams/GK/results", Some(&gk)).await;
    expect_problem(r, StatusCode::CONFLICT, "results_not_released").await;
    two_chiefs(&app, &f, "lock", json!({})).await;
    let r = app.get("/api/v1/exams/GK/results.csv", Some(&gk)).await;
    expect_problem(r, StatusCode::CONFLICT, "results_not_released").await;
    two_chiefs(&app, &f, "release", json!({})).await;
    let r = app.get("/api/v1/exams/GK/results", Some(&other)).await;
    expect_problem(r, StatusCode::FORBIDDEN, "exam_not_granted").await;
    let r = app.get("/api/v1/exams/GK/results", Some(&f.chief1)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "people read no results here");
    expect_problem(
        app.get("/api/v1/exams/GK/results?limit=5001", Some(&gk)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_limit",
    )
    .await;

    // Two at a time, no duplicates or gaps.
    let mut all: Vec<Value> = vec![];
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let url = match &after {
            Some(a) => format!("/api/v1/exams/GK/results?limit=2&after={a}"),
            None => "/api/v1/exams/GK/results?limit=2".to_string(),
        };
        let page = ok(app.get(&url, Some(&gk)).await, "page").await;
        all.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["next_after"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    let numbers: std::collections::BTreeSet<String> = all
        .iter()
        .map(|r| r["admission_number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!((all.len(), numbers.len()), (6, 6));
    for c in &f.candidates {
        let r = all
            .iter()
            .find(|r| r["admission_number"] == c.admission_number.as_str())
            .unwrap();
        assert_eq!(r["name"], c.name.as_str());
        assert_eq!(r["questions"]["W1"]["score"].as_f64(), Some(f64::from(c.latents["W1"])));
        let sum = r["questions"]["W1"]["score"].as_f64().unwrap() + r["questions"]["S2"]["score"].as_f64().unwrap();
        assert_eq!(r["total"].as_f64(), Some(sum), "{r}");
        assert_eq!(r["version"], 1);
    }
    let late = all.iter().find(|r| r["admission_number"] == "20261234567").unwrap();
    assert_eq!(
        (late["absent"].clone(), late["total"].as_f64()),
        (json!(["W1", "S2"]), Some(0.0))
    );

    // ETag, and one result alone.
    let r = app.get("/api/v1/exams/GK/results?limit=5000", Some(&gk)).await;
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = app
        .client
        .get(format!("{}/api/v1/exams/GK/results?limit=5000", app.base))
        .bearer_auth(&gk.token)
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let first = &f.candidates[0];
    let one = ok(
        app.get(
            &format!("/api/v1/exams/GK/results/{}", first.admission_number),
            Some(&gk),
        )
        .await,
        "one",
    )
    .await;
    assert_eq!(
        &one,
        all.iter()
            .find(|r| r["admission_number"] == first.admission_number.as_str())
            .unwrap()
    );

    // The CSV says what the JSON says.
    let r = app.get("/api/v1/exams/GK/results.csv", Some(&gk)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        vec!["admission_number", "name", "school_code", "total", "W1", "S2"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        let j = all.iter().find(|r| r["admission_number"] == row[0]).unwrap();
        assert_eq!(
            (j["name"].as_str(), j["school_code"].as_str()),
            (Some(&row[1]), Some(&row[2]))
        );
        assert_eq!(j["total"].as_f64(), row[3].parse::<f64>().ok());
        for (i, code) in ["W1", "S2"].iter().enumerate() {
            let cell = &row[4 + i];
            match j["questions"][code]["score"].as_f64() {
                Some(s) => assert_eq!(cell.parse::<f64>().ok(), Some(s)),
                None => assert_eq!(cell, "ABSENT"),
            }
        }
    }

    // An amendment: only that candidate has changed since, as version 2.
    let before = app.clock.now() - chrono::Duration::seconds(1);
    let second = &f.candidates[1];
    let new = i64::from(second.latents["W1"]) - 1;
    let payload = json!({ "admission_number": second.admission_number, "question": "W1", "score": new, "reason": "appeal upheld" });
    two_chiefs(&app, &f, "amend", payload).await;
    let since = before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let changed = ok(
        app.get(&format!("/api/v1/exams/GK/results?changed_since={since}"), Some(&gk))
            .await,
        "changed",
    )
    .await;
    let changed = changed["results"].as_array().unwrap().clone();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["admission_number"], second.admission_number.as_str());
    assert_eq!(changed[0]["version"], 2);
    assert_eq!(changed[0]["amend_reason"], "appeal upheld");
    assert_eq!(changed[0]["questions"]["W1"]["score"].as_f64(), Some(new as f64));
    assert_eq!(changed[0]["questions"]["W1"]["method"], "amendment");
    let later = (app.clock.now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let none = ok(
        app.get(&format!("/api/v1/exams/GK/results?changed_since={later}"), Some(&gk))
            .await,
        "changed later",
    )
    .await;
    assert_eq!(none["results"], json!([]));
}

#[tokio::test]
async fn ten_thousand_results_page_without_duplicates_or_gaps_and_totals_add_up() {
    let app = TestApp::spawn().await;
    let rules = json!({ "self_check_rate": 0, "seed_rate": 0, "backread_rate": 0 });
    let f = floor(&app, 4, 3, rules).await;
    mark_everything(&app, &f).await;
    // 10,000 more on the list, who sat nothing: recorded absent for the whole exam.
    for chunk in 0..4 {
        let list: Vec<Value> = (0..2500)
            .map(|i| {
                let n = chunk * 2500 + i;
                json!({ "admission_number": format!("30{n:08}"), "name": format!("Absent {n}"), "school_code": "S90" })
            })
            .collect();
        ok(
            app.post("/api/v1/exams/GK/candidates", Some(&f.chief1), json!(list))
                .await,
            "list",
        )
        .await;
    }
    let exam = exam_id(&app);
    let absent = format!(
        "INSERT INTO absences (exam_id, candidate_id, question_id, recorded_by, recorded_at) \
         SELECT c.exam_id, c.id, '', u.id, CURRENT_TIMESTAMP FROM candidates c, users u \
         WHERE c.exam_id = '{exam}' AND c.school_code = 'S90' AND u.username = 'cust1'"
    );
    assert_eq!(raw(&app, &absent), Ok(10_000));
    two_chiefs(&app, &f, "lock", json!({})).await;
    two_chiefs(&app, &f, "release", json!({})).await;
    let gk = service_token(&app, &f.admin, &["GK"]).await;

    let mut seen = std::collections::HashSet::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &after {
            Some(a) => format!("/api/v1/exams/GK/results?limit=3000&after={a}"),
            None => "/api/v1/exams/GK/results?limit=3000".to_string(),
        };
        let page = ok(app.get(&url, Some(&gk)).await, "page").await;
        pages += 1;
        for r in page["results"].as_array().unwrap() {
            assert!(
                seen.insert(r["admission_number"].as_str().unwrap().to_string()),
                "twice: {r}"
            );
            let sum: f64 = r["questions"]
                .as_object()
                .unwrap()
                .values()
                .map(|q| q["score"].as_f64().unwrap())
                .sum();
            assert_eq!(r["total"].as_f64(), Some(sum), "{r}");
        }
        match page["next_after"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (10_004, 4));
    for c in &f.candidates {
        assert!(seen.contains(&c.admission_number));
    }
    let csv = app
        .get("/api/v1/exams/GK/results.csv", Some(&gk))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1 + 10_004);
}
