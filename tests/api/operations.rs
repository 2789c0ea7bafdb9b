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

const SCRAPE_TOKEN: &str = "a-scrape-token-of-forty-characters-long!";

/// The value of the series `name{labels}` in a Prometheus text page (labels as rendered).
fn series(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn scrape(base: &str, bearer: Option<&str>, key: Option<&str>) -> reqwest::Response {
    let mut rb = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(b) = bearer {
        rb = rb.bearer_auth(b);
    }
    if let Some(k) = key {
        rb = rb.header("X-Workstation-Key", k);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn metrics_show_requests_the_pool_the_audit_and_the_room_to_an_admin_or_a_scraper() {
    let app = TestApp::spawn_with(|s| s.metrics.scrape_token = Some(SCRAPE_TOKEN.into())).await;
    let demo = crate::pages::demo(&app);
    let admin = crate::pages::session_of(&app, &demo["accounts"]["admin"][0]).await;
    let marker = crate::pages::session_of(&app, &demo["accounts"]["markers"][0]).await;

    // Who may read them.
    expect_problem(
        scrape(&app.base, None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let wrong = scrape(&app.base, Some("not-the-token-not-the-token-not-the-token"), None).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let as_marker = scrape(&app.base, Some(&marker.token), marker.key.as_deref()).await;
    expect_problem(as_marker, StatusCode::FORBIDDEN, "forbidden").await;
    let as_admin = scrape(&app.base, Some(&admin.token), admin.key.as_deref()).await;
    assert_eq!(as_admin.status(), StatusCode::OK);
    let before = as_admin.text().await.unwrap();

    // A live lease and its score move the room's numbers. A seed or a self-check (under a code
    // the demo file does not list) leases no task: the next marker asks instead.
    let mut live = None;
    for account in demo["accounts"]["markers"].as_array().unwrap() {
        let marker = crate::pages::session_of(&app, account).await;
        let lease: Value = crate::marking::next(&app, &marker).await.json().await.unwrap();
        if demo["latent_by_code"]
            .get(lease["anonymous_code"].as_str().unwrap())
            .is_some()
        {
            live = Some((marker, lease));
            break;
        }
    }
    let (marker, lease) = live.expect("some marker's first lease is live work");
    let question = lease["question"].as_str().unwrap().to_string();
    let leased = format!("markroom_tasks{{exam=\"DEMO\",question=\"{question}\",state=\"leased\"}}");
    let page = scrape(&app.base, Some(SCRAPE_TOKEN), None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let during = page.text().await.unwrap();
    assert_eq!(
        series(&during, &leased),
        Some(series(&before, &leased).unwrap_or(0.0) + 1.0),
        "{during}"
    );
    let score = crate::marking::fair(&question, 0);
    let r = crate::marking::score(&app, &marker, lease["task_id"].as_str().unwrap(), score, None).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let marks = format!("markroom_marks_total{{exam=\"DEMO\",question=\"{question}\"}}");
    let after = scrape(&app.base, Some(SCRAPE_TOKEN), None).await.text().await.unwrap();
    assert!(series(&after, &marks).unwrap_or(0.0) >= 1.0, "{after}");
    assert_eq!(
        series(&after, &leased),
        series(&before, &leased).or(Some(0.0)),
        "the lease ended"
    );

    // Requests by route template (never the path), with their latencies.
    let next_ok = "markroom_http_requests_total{method=\"POST\",route=\"/api/v1/marking/next\",status=\"200\"}";
    assert!(series(&after, next_ok).unwrap() >= 1.0, "{after}");
    assert!(after.contains("markroom_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/marking/tasks/{id}/score\",le=\"0.1\"}"), "{after}");
    assert!(
        !after.contains(lease["task_id"].as_str().unwrap()),
        "a path's id is no label"
    );
    let refused = "markroom_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"403\"}";
    assert!(series(&after, refused).unwrap() >= 1.0);
    // The pool, the audit and the room's other gauges.
    assert!(series(&after, "markroom_db_pool_size").unwrap() >= 1.0);
    assert!(series(&after, "markroom_db_connections_in_use").is_some());
    assert!(series(&after, "markroom_db_requests_waiting").is_some());
    assert!(series(&after, "markroom_audit_entries_appended_total").unwrap() >= 2.0);
    for gauge in [
        "markroom_disputes_open",
        "markroom_reviews_open",
        "markroom_markers_paused",
    ] {
        assert_eq!(
            series(&after, &format!("{gauge}{{exam=\"DEMO\"}}")),
            Some(0.0),
            "{gauge}: {after}"
        );
    }
    // Sealed within a few of the sealer's rounds; the lag is then back under a second.
    for _ in 0..100 {
        let page = scrape(&app.base, Some(SCRAPE_TOKEN), None).await.text().await.unwrap();
        let sealed = series(&page, "markroom_audit_entries_sealed_total").unwrap_or(0.0);
        if sealed >= 2.0 && series(&page, "markroom_audit_sealer_lag_seconds").is_some_and(|l| l < 1.0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sealer's numbers never showed");
}

/// The served binary on a free port of this test's database, its log going to `log`.
fn serve(app: &TestApp, log: &std::path::Path, env: &[(&str, &str)]) -> (Served, String) {
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut cmd = markroom(app);
    cmd.args(["serve", "--bind", base.trim_start_matches("http://")])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    (Served(cmd.spawn().unwrap()), base)
}

async fn login(base: &str, account: &Value) -> Session {
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

#[tokio::test]
async fn each_request_logs_one_json_line_with_its_route_and_actor_and_nothing_secret() {
    let app = TestApp::spawn().await;
    let demo = crate::crash::demo(&app, 6);
    let log = app.settings.data_dir.join("json.log");
    let (mut server, base) = serve(&app, &log, &[("MARKROOM_LOG__FORMAT", "json")]);
    crate::served::ready(&base).await;
    let account = &demo["accounts"]["markers"][0];
    let marker = login(&base, account).await;
    let r = call(
        &base,
        reqwest::Method::POST,
        "/api/v1/marking/next",
        &marker,
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let task = r.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let me = subject_of(&marker.token);
    // A wrong password, which must not reach the log either.
    let bad = json!({ "username": account["username"], "password": "Wrong-password-123", "workstation_key": account["workstation_key"] });
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(server.0.kill());

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let line = lines
        .iter()
        .find(|l| l["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no line for {request_id}: {text}"));
    assert_eq!(line["route"], "/api/v1/marking/next", "{line}");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    assert_eq!(line["actor"], me.as_str(), "{line}");
    assert_eq!(line["level"], "INFO");
    let logins = lines.iter().filter(|l| l["route"] == "/api/v1/auth/login").count();
    assert_eq!(logins, 2, "one line per request");
    for secret in [
        account["password"].as_str().unwrap(),
        "Wrong-password-123",
        account["workstation_key"].as_str().unwrap(),
        &marker.token,
        &marker.refresh,
        &task,
    ] {
        assert!(!text.contains(secret), "the log shows {secret}");
    }
}

/// The account id a token was issued to (its `sub`).
fn subject_of(token: &str) -> String {
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
    let pid = server.0.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
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
    assert!(status.success(), "{status}: {}", std::fs::read_to_string(&log).unwrap());
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
        last["seq"].as_i64() >= leased["seq"].as_i64(),
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
