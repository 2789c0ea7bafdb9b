//! Crash safety: the real binary serves the demo while markers lease and score through the API,
//! and is killed with SIGKILL at random moments, then started again, `MARKROOM_CRASH_KILLS` times
//! (20 by default; the README names the longer run). A score whose answer was lost is sent again
//! with the same Idempotency-Key, as the marking page does. At the end every score a client saw
//! acknowledged is stored exactly once, no task is leased without its serve, every done task has
//! its mark, and `markroom audit verify` passes.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::Rng;
use serde_json::Value;

use crate::campaign::{Acked, Nodes, assert_consistent, marker};
use crate::helpers::TestApp;
use crate::served::{Served, free_port, markroom};

pub fn serve(app: &TestApp, base: &str) -> Served {
    let mut cmd = markroom(app);
    cmd.args(["serve", "--bind", base.trim_start_matches("http://")])
        .env("MARKROOM_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(app));
    Served(cmd.spawn().unwrap())
}

/// Every start's log, one after the other, to tell why a start failed.
pub fn log_file(app: &TestApp) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(app.settings.data_dir.join("crash-serve.log"))
        .unwrap()
}

/// Ready, or the log of the start that failed.
pub async fn until_ready(app: &TestApp, server: &mut Served, base: &str) {
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

/// The demo for `candidates` candidates and eight markers in this test's database; returns the
/// demo file (accounts, latent scores by anonymous code).
pub fn demo(app: &TestApp, candidates: usize) -> Value {
    let accounts = app.settings.data_dir.join("demo-accounts.json");
    let made = markroom(app)
        .args(["demo", "--markers", "8", "--dpi", "40", "--candidates"])
        .arg(candidates.to_string())
        .arg("--output")
        .arg(&accounts)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    serde_json::from_slice(&std::fs::read(&accounts).unwrap()).unwrap()
}

/// Eight markers marking through `nodes` until `stop`.
pub fn start_markers(
    demo: &Value,
    nodes: &Arc<Nodes>,
    acked: &Acked,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<String>>> {
    let latents = demo["latent_by_code"].clone();
    demo["accounts"]["markers"]
        .as_array()
        .unwrap()
        .iter()
        .take(8)
        .map(|account| {
            tokio::spawn(marker(
                nodes.clone(),
                account.clone(),
                latents.clone(),
                acked.clone(),
                stop.clone(),
            ))
        })
        .collect()
}

#[tokio::test]
async fn killed_at_random_the_server_loses_no_acknowledged_mark() {
    let kills: usize = std::env::var(KILLS).ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let app = TestApp::spawn().await;
    // Enough scripts that marking never runs dry before the last kill: eight markers mark
    // 100 and more a second on a fast morning (12 candidates a kill ran dry on 2026-12-01).
    let demo = demo(&app, (kills * 40).max(400));
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut server = serve(&app, &base);
    until_ready(&app, &mut server, &base).await;
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let markers = start_markers(&demo, &Arc::new(Nodes(vec![base.clone()])), &acked, &stop);
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
    // Marking went on through every kill: many scores, each stored once, all consistent.
    assert_consistent(&app, &acked, &refusals, 5 * kills);
    eprintln!(
        "crash run: {kills} kills, {} scores acknowledged, each stored once",
        acked.len()
    );
}
