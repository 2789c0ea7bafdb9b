//! Many nodes: three `markroom serve` processes on their own ports share one database, and the
//! markers' requests are spread across them as a load balancer spreads them. One node is killed
//! mid-run and started again later; the others carry the work. At the end: no task was leased
//! to two serves at once, no marker was served a script twice, every acknowledged score is
//! stored exactly once, and the audit chain that all three appended to verifies. A second run
//! (PostgreSQL) gives each node a data directory of its own, as on machines of their own: they
//! share only their settings' secrets, the database and the scan store.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::campaign::{Acked, Nodes, assert_consistent};
use crate::crash::{demo, log_file, serve, start_markers, until_ready};
use crate::helpers::TestApp;
use crate::served::{Served, free_port, markroom};

/// Three nodes from `start`, a campaign across them, the second killed and started again;
/// returns (scores acknowledged, of which while a node was down).
async fn campaign(app: &TestApp, demo: &Value, start: impl Fn(usize, &str) -> Served) -> (usize, usize) {
    let bases: Vec<String> = (0..3).map(|_| format!("http://127.0.0.1:{}", free_port())).collect();
    let mut servers = vec![];
    for (i, base) in bases.iter().enumerate() {
        let mut server = start(i, base);
        until_ready(app, &mut server, base).await;
        servers.push(server);
    }
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let markers = start_markers(demo, &Arc::new(Nodes(bases.clone())), &acked, &stop);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before_kill = acked.lock().await.len();
    // The second node dies mid-request; the markers' next requests find the others.
    servers[1].0.kill().unwrap();
    servers[1].0.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let while_down = acked.lock().await.len() - before_kill;
    servers[1] = start(1, &bases[1]);
    until_ready(app, &mut servers[1], &bases[1]).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut refusals = vec![];
    for m in markers {
        refusals.extend(m.await.unwrap());
    }
    drop(servers);

    let acked = acked.lock().await.clone();
    assert!(while_down > 0, "no score was acknowledged while one node was down");
    assert_consistent(app, &acked, &refusals, 50);
    (acked.len(), while_down)
}

#[tokio::test]
async fn three_nodes_on_one_database_share_the_marking_and_one_dies_without_loss() {
    let app = TestApp::spawn().await;
    // Work for eight markers at 100 and more marks a second, with room to spare (see crash.rs).
    let demo = demo(&app, 320);
    let (acked, while_down) = campaign(&app, &demo, |_, base| serve(&app, base)).await;
    eprintln!("three nodes: {acked} scores acknowledged ({while_down} while one node was down), each stored once");
}

#[tokio::test]
async fn nodes_with_data_directories_of_their_own_share_only_secrets_database_and_store() {
    if std::env::var("DATABASE_URL").is_err() {
        // SQLite's file lives in the data directory: only PostgreSQL spans machines.
        return;
    }
    let app = TestApp::spawn().await;
    // Work for eight markers at 100 and more marks a second, with room to spare (see crash.rs).
    let demo = demo(&app, 320);
    let key = |name: &str| {
        std::fs::read_to_string(app.settings.data_dir.join(name))
            .unwrap()
            .trim()
            .to_string()
    };
    // What an operator gives every node: the secrets as settings, and the store (a shared
    // folder here, standing in for s3).
    let shared = [
        ("MARKROOM_AUTH__TOKEN_SECRET", key("token.key")),
        ("MARKROOM_AUTH__IDENTITY_KEY", key("identity.key")),
        ("MARKROOM_VAULT__KEY", key("vault.key")),
        (
            "MARKROOM_STORAGE__LOCAL_DIR",
            app.settings.data_dir.join("objects").display().to_string(),
        ),
    ];
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let start = |i: usize, base: &str| {
        let mut cmd = markroom(&app);
        cmd.args(["serve", "--bind", base.trim_start_matches("http://")])
            .env("MARKROOM_DATA_DIR", dirs[i].path())
            .env("MARKROOM_LOG", "warn")
            .envs(shared.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&app));
        Served(cmd.spawn().unwrap())
    };
    let (acked, while_down) = campaign(&app, &demo, start).await;
    for dir in &dirs {
        for made in ["token.key", "identity.key", "vault.key", "objects", "markroom.db"] {
            assert!(
                !dir.path().join(made).exists(),
                "a node made its own {made}: it would not agree with the others"
            );
        }
    }
    eprintln!(
        "three nodes, own data directories: {acked} scores acknowledged ({while_down} while one node was down), each stored once"
    );
}
