//! Operations: `/metrics` and who may read it, one log line per request with nothing secret in
//! it, and a shutdown on SIGTERM that turns readiness first, finishes what is in flight, seals
//! and anchors the audit, and leaves leases that the next start honours.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Session, TestApp, expect_problem};
use crate::served::{Served, free_port, markroom};

/// The served binary on a free port of this test's database, its log going to `log`.
pub fn serve(app: &TestApp, log: &std::path::Path, env: &[(&str, &str)]) -> (Served, String) {
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut cmd = markroom(app);
    cmd.args(["serve", "--bind", base.trim_start_matches("http://")])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    (Served(cmd.spawn().unwrap()), base)
}

pub async fn login(base: &str, account: &Value) -> Session {
    let body = json!({ "username": account["username"], "password": account["password"], "workstation_key": account["workstation_key"] });
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    Session {
        token: t["access_token"].as_str().unwrap().into(),
        refresh: t["refresh_token"].as_str().unwrap().into(),
        key: account["workstation_key"].as_str().map(str::to_string),
    }
}

async fn call(base: &str, method: reqwest::Method, path: &str, s: &Session, body: Option<Value>) -> reqwest::Response {
    let mut rb = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(&s.token);
    if let Some(k) = &s.key {
        rb = rb.header("X-Workstation-Key", k);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    rb.send().await.unwrap()
}

/// SIGTERM to the served binary, as a service manager stops it.
fn terminate(server: &Served) {
    let pid = server.0.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// An admin makes a workstation named `name` (on a connection of its own).
pub async fn create_workstation(base: &str, admin: &Session, name: &str) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/workstations"))
        .bearer_auth(&admin.token)
        .header("X-Workstation-Key", admin.key.as_deref().unwrap())
        .json(&json!({ "name": name }))
        .send()
        .await
}

/// The account id a token was issued to (its `sub`).
pub fn subject_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

/// A login whose body arrives in two halves, `pause` apart: a request in flight across the
/// moment the server stops taking new ones. Returns the status line of its answer.
async fn slow_login(base: &str, account: &Value, pause: Duration) -> String {
    let body = json!({ "username": account["username"], "password": account["password"], "workstation_key": account["workstation_key"] }).to_string();
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.lines().next().unwrap_or_default().to_string()
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_turns_readiness_first_finishes_what_is_in_flight_seals_and_keeps_the_lease() {
    // The test's own server seals nothing and anchors never: whatever is sealed and anchored
    // at the end was done by the served binary's last round.
    let app = TestApp::spawn_with(|s| {
        s.audit.seal_interval_ms = 3_600_000;
        s.audit.anchor_interval_secs = 3600;
    })
    .await;
    let demo = crate::crash::demo(&app, 6);
    let log = app.settings.data_dir.join("shutdown.log");
    let env = [
        ("MARKROOM_HTTP__SHUTDOWN_DELAY_MS", "1500"),
        ("MARKROOM_HTTP__SHUTDOWN_GRACE_SECS", "20"),
        ("MARKROOM_AUDIT__ANCHOR_INTERVAL_SECS", "3600"),
    ];
    let (mut server, base) = serve(&app, &log, &env);
    crate::served::ready(&base).await;
    let account = demo["accounts"]["markers"][0].clone();
    let marker = login(&base, &account).await;
    let lease: Value = call(
        &base,
        reqwest::Method::POST,
        "/api/v1/marking/next",
        &marker,
        Some(json!({})),
    )
    .await
    .json()
    .await
    .unwrap();

    // In flight when the signal comes, and finished after the server stopped accepting.
    let (slow_base, slow_account) = (base.clone(), account.clone());
    let slow = tokio::spawn(async move { slow_login(&slow_base, &slow_account, Duration::from_millis(3000)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    terminate(&server);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    expect_problem(r, StatusCode::SERVICE_UNAVAILABLE, "shutting_down").await;
    let alive = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK, "still taking requests during the delay");
    assert_eq!(
        slow.await.unwrap(),
        "HTTP/1.1 200 OK",
        "the request in flight was answered"
    );
    let mut exited = None;
    for _ in 0..200 {
        if let Some(status) = server.0.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = exited.expect("the server stops within its grace");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {text}");
    // A log file gets plain text lines: colour codes are for a terminal.
    assert!(text.contains("request_id="), "the text log names each request: {text}");
    // The allocator hands freed big blocks back (src/memory.rs) unless the environment tunes it.
    let tuned = markroom::memory::ALLOCATOR_ENV
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let said = format!("allocator_lines_fixed={}", !tuned);
    assert!(text.contains(&said), "the start says {said}: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "no terminal escape codes in a log file: {text}"
    );
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "nothing listens any more"
    );

    // Everything committed was chained, and the last anchor names the head.
    let verify = markroom(&app).args(["audit", "verify"]).output().unwrap();
    let said = String::from_utf8_lossy(&verify.stdout).to_string();
    assert!(verify.status.success(), "{said}");
    assert!(said.contains(" 0 not yet sealed"), "{said}");
    // The lease was the last act before the signal, after the first anchor of the start: only
    // the last round's anchor can name it.
    let anchors = std::fs::read_to_string(app.anchor_path()).unwrap();
    let admin = crate::pages::session_of(&app, &demo["accounts"]["admin"][0]).await;
    let chain = app.audit_chain(&admin, Some("DEMO")).await;
    let leased = chain
        .iter()
        .find(|e| e["action"] == "marking.next" && e["object_id"] == lease["task_id"])
        .unwrap_or_else(|| panic!("no audit entry of the lease"));
    let exam_id = leased["exam_id"].as_str().unwrap();
    let last = anchors
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|a| a["chain"] == exam_id)
        .unwrap_or_else(|| panic!("no anchor of {exam_id}: {anchors}"));
    assert!(
        last["seq"].as_i64().unwrap() >= leased["seq"].as_i64().unwrap(),
        "anchored {last}, lease {leased}"
    );

    // Started again, the server honours the lease it had given.
    let (_again, base) = serve(&app, &app.settings.data_dir.join("again.log"), &[]);
    crate::served::ready(&base).await;
    let question = lease["question"].as_str().unwrap();
    let path = format!("/api/v1/marking/tasks/{}/score", lease["task_id"].as_str().unwrap());
    let r = call(
        &base,
        reqwest::Method::POST,
        &path,
        &marker,
        Some(crate::marking::fair(question, 0)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn readiness_waits_for_every_migration_of_this_build() {
    let app = TestApp::spawn().await;
    let r = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // As if the database were a migration behind the binary (another node still migrating).
    app.as_owner(
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
    );
    let r = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    let problem = expect_problem(r, StatusCode::SERVICE_UNAVAILABLE, "not_migrated").await;
    assert!(
        problem["detail"].as_str().unwrap().starts_with("1 migrations"),
        "{problem}"
    );
    let alive = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK, "alive, though not ready");
}

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_markroom"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let said = String::from_utf8(out.stdout).unwrap();
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        said.trim(),
        format!("markroom {} (commit {head})", env!("CARGO_PKG_VERSION"))
    );
}

/// Workstations an admin made, by name, as the database holds them.
fn workstation_names(app: &TestApp) -> std::collections::BTreeSet<String> {
    use diesel::prelude::*;
    use markroom::db::schema::workstations;
    app.db
        .read_now(|c| {
            workstations::table
                .select(workstations::name)
                .load::<String>(c)
                .map_err(markroom::db::DbError::from)
        })
        .unwrap()
        .into_iter()
        .collect()
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_in_a_burst_of_writes_leaves_each_write_answered_and_stored_or_neither() {
    let app = TestApp::spawn_with(|s| s.audit.seal_interval_ms = 3_600_000).await;
    let demo = crate::crash::demo(&app, 6);
    let log = app.settings.data_dir.join("burst.log");
    let (mut server, base) = serve(&app, &log, &[("MARKROOM_HTTP__SHUTDOWN_GRACE_SECS", "20")]);
    crate::served::ready(&base).await;
    let admin = login(&base, &demo["accounts"]["admin"][0]).await;

    // Eight writers make workstations as fast as they are answered, until no answer comes.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (base, admin) = (base.clone(), admin.clone());
            tokio::spawn(async move {
                let (mut stored, mut unanswered) = (vec![], vec![]);
                for i in 0.. {
                    let name = format!("Burst {w}-{i}");
                    match create_workstation(&base, &admin, &name).await {
                        Ok(r) if r.status() == StatusCode::CREATED => stored.push(name),
                        Ok(r) => panic!("{name}: answered {} without shutdown's leave", r.status()),
                        Err(_) => {
                            unanswered.push(name);
                            break;
                        }
                    }
                }
                (stored, unanswered)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    terminate(&server);
    let (mut acknowledged, mut unanswered) = (vec![], vec![]);
    for w in writers {
        let (s, u) = w.await.unwrap();
        acknowledged.extend(s);
        unanswered.extend(u);
    }
    let status = tokio::task::spawn_blocking(move || server.0.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}: {}", std::fs::read_to_string(&log).unwrap());
    assert!(acknowledged.len() >= 8, "the burst was under way: {acknowledged:?}");

    // Every answered write is there; none that went unanswered is.
    let names = workstation_names(&app);
    for name in &acknowledged {
        assert!(names.contains(name), "{name} was acknowledged and is not stored");
    }
    for name in &unanswered {
        assert!(!names.contains(name), "{name} got no answer and is stored");
    }

    // Started again, it serves, and the audit chain verifies with nothing left unsealed.
    let (_again, base) = serve(&app, &app.settings.data_dir.join("burst-again.log"), &[]);
    crate::served::ready(&base).await;
    let verify = markroom(&app).args(["audit", "verify"]).output().unwrap();
    let said = String::from_utf8_lossy(&verify.stdout).to_string();
    assert!(verify.status.success(), "{said}");
}
