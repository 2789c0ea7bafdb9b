//! Database faults. PostgreSQL (a cluster of the test's own) crashes under a marking campaign
//! and comes back: while it is down every request gets a 503 `database_unavailable` problem,
//! the pool reconnects by itself, and nothing half-written remains (the crash checks hold).

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::campaign::{Acked, Nodes, assert_consistent};
use crate::crash::{demo, log_file, start_markers, until_ready};
use crate::helpers::TestApp;
use crate::private_pg::PrivateCluster;
use crate::served::{Served, free_port, markroom};

/// A request while the database is down: the clear 503 problem, in good time.
async fn refused_while_down(http: &reqwest::Client, base: &str, account: &Value) {
    let started = Instant::now();
    let body = json!({ "username": account["username"], "password": account["password"], "workstation_key": account["workstation_key"] });
    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "database_unavailable", "{problem}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the refusal took {:?}",
        started.elapsed()
    );
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn postgres_crashing_under_marking_gives_503s_and_the_service_recovers_by_itself() {
    if std::env::var("DATABASE_URL").is_err() {
        // The PostgreSQL run of the suite proves it; SQLite has no server to lose.
        return;
    }
    let cluster = PrivateCluster::start();
    let url = cluster.database("markroom");
    let app = TestApp::spawn_with(|s| {
        s.database_url = Some(url.clone());
        s.database.owner_url = None;
    })
    .await;
    // Work for eight markers at 100 and more marks a second, with room to spare (see crash.rs).
    let demo = demo(&app, 320);
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut cmd = markroom(&app);
    cmd.args(["serve", "--bind", base.trim_start_matches("http://")])
        .env("MARKROOM_LOG", "warn")
        .env("MARKROOM_DATABASE__CONNECT_TIMEOUT_SECS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(&app));
    let mut server = Served(cmd.spawn().unwrap());
    until_ready(&app, &mut server, &base).await;

    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let markers = start_markers(&demo, &Arc::new(Nodes(vec![base.clone()])), &acked, &stop);
    tokio::time::sleep(Duration::from_millis(2000)).await;

    cluster.crash();
    let before = acked.lock().await.len();
    let http = reqwest::Client::new();
    let account = &demo["accounts"]["markers"][0];
    tokio::time::sleep(Duration::from_millis(300)).await;
    refused_while_down(&http, &base, account).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    refused_while_down(&http, &base, account).await;
    cluster.start_again();

    // Nobody restarts markroom: its pool reconnects, and marking goes on.
    let back = Instant::now();
    while acked.lock().await.len() < before + 20 {
        assert!(back.elapsed() < Duration::from_secs(20), "marking did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resumed_in = back.elapsed();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut refusals = vec![];
    for m in markers {
        refusals.extend(m.await.unwrap());
    }
    drop(server);

    // While down, the markers met 503s and nothing else of the server's making.
    let (unavailable, others): (Vec<String>, Vec<String>) = refusals
        .into_iter()
        .partition(|r| r.contains(" 503 ") && r.contains("\"database_unavailable\""));
    let acked = acked.lock().await.clone();
    assert!(
        !unavailable.is_empty(),
        "the markers met no 503 while the database was down"
    );
    assert_consistent(&app, &acked, &others, 50);
    eprintln!(
        "database crash: {} scores acknowledged ({before} before the crash), {} requests refused with 503 while down, marking resumed {resumed_in:?} after the restart",
        acked.len(),
        unavailable.len()
    );
}
