//! SQLite under load: many markers at once through `markroom simulate`, while another process
//! (the command line, as an operator would run it on the server) writes to the same file. No
//! request may fail from lock contention: the server's writes take turns on its one writing
//! connection, and another process's write lock is waited for (`database.sqlite_busy_timeout_ms`),
//! never answered with an error. `MARKROOM_LOAD_MARKERS` sets the markers (200 by default, to
//! fit the README's test command; 1,000 is the target load of DESIGN.md section 7).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::crash::{serve, until_ready};
use crate::helpers::TestApp;
use crate::served::{free_port, markroom, markroom_in};

const MARKERS: &str = "MARKROOM_LOAD_MARKERS";

#[tokio::test]
async fn no_request_fails_from_lock_contention_with_many_markers_and_another_writer() {
    if std::env::var("DATABASE_URL").is_ok() {
        // Lock contention of one file is SQLite's alone; PostgreSQL's faults are db_faults.rs's.
        return;
    }
    let markers: usize = std::env::var(MARKERS).ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let app = TestApp::spawn().await;
    let accounts = app.settings.data_dir.join("load-accounts.json");
    let made = markroom(&app)
        .args(["demo", "--dpi", "40", "--markers", &markers.to_string()])
        .args(["--candidates", &(markers * 3).to_string(), "--output"])
        .arg(&accounts)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));

    let base = format!("http://127.0.0.1:{}", free_port());
    let mut server = serve(&app, &base);
    until_ready(&app, &mut server, &base).await;

    // Another process takes SQLite's write lock again and again while the markers work.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, written, dir) = (stop.clone(), written.clone(), app.settings.data_dir.clone());
        std::thread::spawn(move || {
            let mut failures = vec![];
            while !stop.load(Ordering::Relaxed) {
                let i = written.load(Ordering::Relaxed);
                let out = markroom_in(&dir)
                    .args(["workstation", "create", "--name", &format!("Load test {i}")])
                    .output()
                    .unwrap();
                if out.status.success() {
                    written.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            failures
        })
    };

    let report_path = app.settings.data_dir.join("load-report.json");
    let run = {
        let mut cmd = markroom(&app);
        cmd.args(["simulate", "--server", &base, "--accounts"])
            .arg(&accounts)
            .args([
                "--markers",
                &markers.to_string(),
                "--duration",
                "20",
                "--image-seconds",
                "2",
            ])
            .arg("--output")
            .arg(&report_path);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    };
    stop.store(true, Ordering::Relaxed);
    let failures = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    drop(server);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();

    assert_eq!(
        report["errors_total"], 0,
        "requests failed under load: {}",
        report["errors"]
    );
    assert!(failures.is_empty(), "the other process's writes failed: {failures:?}");
    let other_writes = written.load(Ordering::Relaxed);
    assert!(other_writes > 0, "the other process never wrote during the run");
    let log = std::fs::read_to_string(app.settings.data_dir.join("crash-serve.log")).unwrap();
    for sign in ["database is locked", "SQLITE_BUSY", "database is busy"] {
        assert!(!log.contains(sign), "the server met lock contention ({sign}):\n{log}");
    }
    eprintln!(
        "SQLite under load: {markers} markers, {} cycles ({} a second), p99 {} ms, 0 errors; the other process wrote {other_writes} times",
        report["cycles"], report["cycles_per_second"], report["p99_ms"]
    );
}
