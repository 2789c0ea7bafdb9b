//! A marking campaign driven through the API by fair markers, for the tests that kill servers
//! under it (`crash.rs`, `nodes.rs`): each request goes to one of the nodes, as a load balancer
//! would send it; a score whose answer was lost is sent again with the same Idempotency-Key, as
//! the marking page does. Then the checks every such run ends with.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use markroom::db::{DbConn, DbError};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::facts::{exam_id, n};
use crate::helpers::TestApp;
use crate::served::markroom;

/// The servers' base addresses; each request goes to one at random.
pub struct Nodes(pub Vec<String>);

impl Nodes {
    pub fn pick(&self) -> &str {
        &self.0[rand::rng().random_range(0..self.0.len())]
    }
}

/// Acknowledged scores: serve (task) id → score.
pub type Acked = Arc<Mutex<BTreeMap<String, f64>>>;

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

pub async fn marker(
    nodes: Arc<Nodes>,
    account: Value,
    latents: Value,
    acked: Acked,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
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
            match http
                .post(format!("{}/api/v1/auth/login", nodes.pick()))
                .json(&body)
                .send()
                .await
            {
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
            .post(format!("{}/api/v1/marking/next", nodes.pick()))
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
        let body = score_for(&http, nodes.pick(), &lease, &latents).await;
        let idempotency = uuid::Uuid::new_v4().to_string();
        // The same request again until it has an answer: a lost answer is never a lost mark.
        loop {
            let r = http
                .post(format!("{}/api/v1/marking/tasks/{task}/score", nodes.pick()))
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
                    if let Ok(r) = http
                        .post(format!("{}/api/v1/auth/login", nodes.pick()))
                        .json(&login)
                        .send()
                        .await
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

pub fn facts(app: &TestApp, sql: &str) -> i64 {
    let sql = sql.to_string();
    app.db
        .read_now(move |c: &mut DbConn| -> Result<i64, DbError> {
            let exam = exam_id(c, "DEMO");
            Ok(n(c, &sql.replace("{exam}", &exam)))
        })
        .unwrap()
}

/// The end of every run: marking went on (`min_acked` scores, work still open), nobody was
/// refused but as a marking room refuses, every acknowledged score is stored exactly once,
/// leases and marks agree, the audit chain verifies, and the database checks whole.
pub fn assert_consistent(app: &TestApp, acked: &BTreeMap<String, f64>, refusals: &[String], min_acked: usize) {
    assert!(acked.len() >= min_acked, "only {} scores acknowledged", acked.len());
    let open = facts(
        app,
        "SELECT COUNT(*) AS n FROM tasks WHERE exam_id = '{exam}' AND state = 'open'",
    );
    assert!(open > 0, "the marking ran dry before the end");
    for bad in refusals {
        assert!(
            ["marker_paused", "lease_expired", "room_closed"]
                .iter()
                .any(|code| bad.contains(&format!("\"{code}\""))),
            "an unexpected refusal: {bad}"
        );
    }
    // Every acknowledged score is stored once, as a live mark, a seed mark or a self-check.
    for (serve, score) in acked {
        let stored = facts(
            app,
            &format!(
                "SELECT COUNT(*) AS n FROM (SELECT serve_id FROM marks WHERE exam_id = '{{exam}}' AND serve_id = '{serve}' \
                 UNION ALL SELECT serve_id FROM seed_marks WHERE exam_id = '{{exam}}' AND serve_id = '{serve}' \
                 UNION ALL SELECT serve_id FROM self_checks WHERE exam_id = '{{exam}}' AND serve_id = '{serve}') s"
            ),
        );
        assert_eq!(stored, 1, "serve {serve} (score {score}) stored {stored} times");
    }
    // And a live mark holds the score that was acknowledged (in hundredths).
    let mut compared = 0;
    for (serve, score) in acked {
        let held = facts(
            app,
            &format!(
                "SELECT COALESCE(MAX(score), -1) AS n FROM marks WHERE exam_id = '{{exam}}' AND serve_id = '{serve}'"
            ),
        );
        if held >= 0 {
            assert_eq!(
                held,
                (score * 100.0).round() as i64,
                "serve {serve}: stored {held}, acknowledged {score}"
            );
            compared += 1;
        }
    }
    assert!(compared > 0, "no live mark among the acknowledged scores");
    // Consistent: a leased task has its running serve, a done task its mark.
    let orphan_leases = facts(
        app,
        "SELECT COUNT(*) AS n FROM tasks t WHERE t.exam_id = '{exam}' AND t.state = 'leased' AND NOT EXISTS \
         (SELECT 1 FROM serves s WHERE s.exam_id = t.exam_id AND s.task_id = t.id AND s.state = 'leased')",
    );
    assert_eq!(orphan_leases, 0, "tasks leased without a running serve");
    let unmarked_done = facts(
        app,
        "SELECT COUNT(*) AS n FROM tasks t WHERE t.exam_id = '{exam}' AND t.state = 'done' AND NOT EXISTS \
         (SELECT 1 FROM marks m WHERE m.exam_id = t.exam_id AND m.task_id = t.id)",
    );
    assert_eq!(unmarked_done, 0, "done tasks without their mark");
    // No task held by two serves at once, and no script marked twice by one marker.
    // A serve holds its task until it ends or its lease runs out, whichever comes first.
    let until = |s: &str| {
        format!("CASE WHEN {s}.ended_at < {s}.lease_expires_at THEN {s}.ended_at ELSE {s}.lease_expires_at END")
    };
    let leased_twice = facts(
        app,
        &format!(
            "SELECT COUNT(*) AS n FROM serves a JOIN serves b ON b.exam_id = a.exam_id AND b.task_id = a.task_id \
             AND a.id < b.id WHERE a.exam_id = '{{exam}}' AND a.leased_at < {} AND b.leased_at < {}",
            until("b"),
            until("a")
        ),
    );
    assert_eq!(leased_twice, 0, "a task leased to two serves at once");
    // A marker is served a script once (marks' own unique key would hide a second mark).
    let held_twice = facts(
        app,
        "SELECT COUNT(*) AS n FROM (SELECT marker_id, script_id FROM serves WHERE exam_id = '{exam}' \
         AND kind = 'live' GROUP BY marker_id, script_id HAVING COUNT(*) > 1) t",
    );
    assert_eq!(held_twice, 0, "a marker served one script twice");

    let out = markroom(app).args(["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "audit verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    app.assert_database_whole();
}
