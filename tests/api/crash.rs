//! Crash safety: the real binary serves the demo while markers lease and score through the API,
//! and is killed with SIGKILL at random moments, then started again, `MARKROOM_CRASH_KILLS` times
//! (20 by default; the README names the longer run). A score whose answer was lost is sent again
//! with the same Idempotency-Key, as the marking page does. At the end every score a client saw
//! acknowledged is stored exactly once, no task is leased without its serve, every done task has
//! its mark, and `markroom audit verify` passes.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use markroom::db::{DbConn, DbError};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::facts::{exam_id, n};
use crate::helpers::TestApp;
use crate::served::{Served, free_port, markroom};

fn serve(app: &TestApp, base: &str) -> Served {
    let mut cmd = markroom(app);
    cmd.args(["serve", "--bind", base.trim_start_matches("http://")])
        .env("MARKROOM_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(app));
    Served(cmd.spawn().unwrap())
}

/// Every start's log, one after the other, to tell why a start failed.
fn log_file(app: &TestApp) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(app.settings.data_dir.join("crash-serve.log"))
        .unwrap()
}

/// Ready, or the log of the start that failed.
async fn until_ready(app: &TestApp, server: &mut Served, base: &str) {
    for _ in 0..300 {
        // Whether ours still runs first: another process on the port must not pass for it.
        if let Ok(Some(status)) = server.0.try_wait() {
            let log = std::fs::read_to_string(app.settings.data_dir.join("crash-serve.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "the server exited ({status}):\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server never became ready");
}

/// How many times the run kills the server.
const KILLS: &str = "MARKROOM_CRASH_KILLS";

/// Acknowledged scores: serve (task) id → score.
type Acked = Arc<Mutex<BTreeMap<String, f64>>>;

/// The score a fair marker gives: the script's latent, from the demo file where it lists the
/// code, else read off the image's strip (seeds and self-checks come under fresh codes).
async fn score_for(http: &reqwest::Client, base: &str, lease: &Value, latents: &Value) -> Value {
    let step = lease["step"].as_f64().unwrap();
    let max = lease["max_score"].as_f64().unwrap();
    let mut units = latents[lease["anonymous_code"].as_str().unwrap()].as_f64();
    if units.is_none()
        && let Some(url) = lease["images"][0].as_str()
        && let Ok(r) = http.get(format!("{base}{url}")).send().await
        && let Ok(bytes) = r.bytes().await
    {
        units = markroom::scans::read_latent_png(&bytes).ok().map(f64::from);
    }
    let score = units
        .map_or((max / 2.0 / step).round() * step, |u| u * step)
        .clamp(0.0, max);
    let rubric = lease["rubric"].as_array().cloned().unwrap_or_default();
    if rubric.is_empty() {
        return json!({ "score": score });
    }
    // Criteria that add up: fill each in turn.
    let mut left = score;
    let mut criteria = serde_json::Map::new();
    for c in &rubric {
        let part = left.min(c["max"].as_f64().unwrap());
        criteria.insert(c["code"].as_str().unwrap().into(), json!(part));
        left -= part;
    }
    json!({ "score": score, "criteria": criteria })
}

async fn marker(base: String, account: Value, latents: Value, acked: Acked, stop: Arc<AtomicBool>) -> Vec<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let key = account["workstation_key"].as_str().unwrap().to_string();
    let mut token: Option<String> = None;
    let mut refused = vec![];
    let pause = || tokio::time::sleep(Duration::from_millis(50));
    while !stop.load(Ordering::Relaxed) {
        let Some(t) = token.clone() else {
            let body =
                json!({ "username": account["username"], "password": account["password"], "workstation_key": key });
            match http.post(format!("{base}/api/v1/auth/login")).json(&body).send().await {
                Ok(r) if r.status().is_success() => {
                    token = r
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|v| v["access_token"].as_str().map(str::to_string));
                }
                _ => pause().await,
            }
            continue;
        };
        let r = http
            .post(format!("{base}/api/v1/marking/next"))
            .bearer_auth(&t)
            .header("X-Workstation-Key", &key)
            .json(&json!({}))
            .send()
            .await;
        let lease: Value = match r {
            Ok(r) if r.status() == 200 => match r.json().await {
                Ok(v) => v,
                Err(_) => continue,
            },
            Ok(r) if r.status() == 401 => {
                token = None;
                continue;
            }
            Ok(r) if r.status() == 403 => {
                // Paused by the statistics, or the room closed: this marker is done.
                refused.push(r.text().await.unwrap_or_default());
                return refused;
            }
            // A server that answers must answer properly, killed or not a moment before.
            Ok(r) if r.status().is_server_error() => {
                refused.push(format!("lease {}: {}", r.status(), r.text().await.unwrap_or_default()));
                pause().await;
                continue;
            }
            _ => {
                pause().await;
                continue;
            }
        };
        let task = lease["task_id"].as_str().unwrap().to_string();
        let body = score_for(&http, &base, &lease, &latents).await;
        let idempotency = uuid::Uuid::new_v4().to_string();
        // The same request again until it has an answer: a lost answer is never a lost mark.
        loop {
            let r = http
                .post(format!("{base}/api/v1/marking/tasks/{task}/score"))
                .bearer_auth(token.as_deref().unwrap_or(&t))
                .header("X-Workstation-Key", &key)
                .header("Idempotency-Key", &idempotency)
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => {
                    acked.lock().await.insert(task.clone(), body["score"].as_f64().unwrap());
                    break;
                }
                Ok(r) if r.status() == 401 => {
                    let login = json!({ "username": account["username"], "password": account["password"], "workstation_key": key });
                    if let Ok(r) = http.post(format!("{base}/api/v1/auth/login")).json(&login).send().await
                        && r.status().is_success()
                    {
                        token = r
                            .json::<Value>()
                            .await
                            .ok()
                            .and_then(|v| v["access_token"].as_str().map(str::to_string));
                    }
                }
                Ok(r) if r.status().is_client_error() => {
                    refused.push(r.text().await.unwrap_or_default());
                    break;
                }
                Ok(r) if r.status().is_server_error() => {
                    refused.push(format!("score {}: {}", r.status(), r.text().await.unwrap_or_default()));
                    pause().await;
                }
                _ => pause().await,
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    refused
}

fn facts(app: &TestApp, sql: &str) -> i64 {
    let sql = sql.to_string();
    app.db
        .read_now(move |c: &mut DbConn| -> Result<i64, DbError> {
            let exam = exam_id(c, "DEMO");
            Ok(n(c, &sql.replace("{exam}", &exam)))
        })
        .unwrap()
}

#[tokio::test]
async fn killed_at_random_the_server_loses_no_acknowledged_mark() {
    let kills: usize = std::env::var(KILLS).ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let app = TestApp::spawn().await;
    // Enough scripts that marking never runs dry before the last kill.
    let candidates = (kills * 12).max(120).to_string();
    let accounts = app.settings.data_dir.join("demo-accounts.json");
    let made = markroom(&app)
        .args([
            "demo",
            "--markers",
            "8",
            "--dpi",
            "40",
            "--candidates",
            &candidates,
            "--output",
        ])
        .arg(&accounts)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let demo: Value = serde_json::from_slice(&std::fs::read(&accounts).unwrap()).unwrap();
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut server = serve(&app, &base);
    until_ready(&app, &mut server, &base).await;
    let latents = demo["latent_by_code"].clone();
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut markers = vec![];
    for account in demo["accounts"]["markers"].as_array().unwrap().iter().take(8) {
        markers.push(tokio::spawn(marker(
            base.clone(),
            account.clone(),
            latents.clone(),
            acked.clone(),
            stop.clone(),
        )));
    }
    let mut rng = rand::rng();
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..900))).await;
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        server = serve(&app, &base);
        until_ready(&app, &mut server, &base).await;
    }
    // Let the markers settle what the last kill left, then stop.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut refusals = vec![];
    for m in markers {
        refusals.extend(m.await.unwrap());
    }
    drop(server);

    let acked = acked.lock().await.clone();
    // Marking went on through every kill: many scores, and work still open at the end.
    assert!(
        acked.len() >= 5 * kills,
        "only {} scores acknowledged over {kills} kills",
        acked.len()
    );
    let open = facts(
        &app,
        "SELECT COUNT(*) AS n FROM tasks WHERE exam_id = '{exam}' AND state = 'open'",
    );
    assert!(open > 0, "the marking ran dry before the last kill");
    for bad in &refusals {
        assert!(
            ["marker_paused", "lease_expired", "room_closed"]
                .iter()
                .any(|code| bad.contains(&format!("\"{code}\""))),
            "an unexpected refusal: {bad}"
        );
    }
    // Every acknowledged score is stored once, as a live mark, a seed mark or a self-check.
    for (serve, score) in &acked {
        let stored = facts(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM (SELECT serve_id FROM marks WHERE exam_id = '{{exam}}' AND serve_id = '{serve}' \
                 UNION ALL SELECT serve_id FROM seed_marks WHERE exam_id = '{{exam}}' AND serve_id = '{serve}' \
                 UNION ALL SELECT serve_id FROM self_checks WHERE exam_id = '{{exam}}' AND serve_id = '{serve}') s"
            ),
        );
        assert_eq!(stored, 1, "serve {serve} (score {score}) stored {stored} times");
    }
    let stored_total = facts(&app, "SELECT COUNT(*) AS n FROM marks WHERE exam_id = '{exam}'")
        + facts(&app, "SELECT COUNT(*) AS n FROM seed_marks WHERE exam_id = '{exam}'")
        + facts(&app, "SELECT COUNT(*) AS n FROM self_checks WHERE exam_id = '{exam}'");
    assert!(
        stored_total >= acked.len() as i64,
        "{stored_total} stored, {} acknowledged",
        acked.len()
    );
    // Consistent after every kill: a leased task has its running serve, a done task its mark.
    let orphan_leases = facts(
        &app,
        "SELECT COUNT(*) AS n FROM tasks t WHERE t.exam_id = '{exam}' AND t.state = 'leased' AND NOT EXISTS \
         (SELECT 1 FROM serves s WHERE s.exam_id = t.exam_id AND s.task_id = t.id AND s.state = 'leased')",
    );
    assert_eq!(orphan_leases, 0, "tasks leased without a running serve");
    let unmarked_done = facts(
        &app,
        "SELECT COUNT(*) AS n FROM tasks t WHERE t.exam_id = '{exam}' AND t.state = 'done' AND NOT EXISTS \
         (SELECT 1 FROM marks m WHERE m.exam_id = t.exam_id AND m.task_id = t.id)",
    );
    assert_eq!(unmarked_done, 0, "done tasks without their mark");

    let out = markroom(&app).args(["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "audit verify after {kills} kills: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!(
        "crash run: {kills} kills, {} scores acknowledged, each stored once",
        acked.len()
    );
}
