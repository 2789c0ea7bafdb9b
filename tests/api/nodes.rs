//! Many nodes: three `markroom serve` processes on their own ports share one database, and the
//! markers' requests are spread across them as a load balancer spreads them. One node is killed
//! mid-run and started again later; the others carry the work. At the end: no task was leased
//! to two serves at once, no marker marked a script twice, every acknowledged score is stored
//! exactly once, and the audit chain that all three appended to verifies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::campaign::{Acked, Nodes, assert_consistent};
use crate::crash::{demo, serve, start_markers, until_ready};
use crate::helpers::TestApp;
use crate::served::free_port;

#[tokio::test]
async fn three_nodes_on_one_database_share_the_marking_and_one_dies_without_loss() {
    let app = TestApp::spawn().await;
    let demo = demo(&app, 160);
    let bases: Vec<String> = (0..3).map(|_| format!("http://127.0.0.1:{}", free_port())).collect();
    let mut servers = vec![];
    for base in &bases {
        let mut server = serve(&app, base);
        until_ready(&app, &mut server, base).await;
        servers.push(server);
    }
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let markers = start_markers(&demo, &Arc::new(Nodes(bases.clone())), &acked, &stop);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before_kill = acked.lock().await.len();
    // The second node dies mid-request; the markers' next requests find the others.
    servers[1].0.kill().unwrap();
    servers[1].0.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let while_down = acked.lock().await.len() - before_kill;
    servers[1] = serve(&app, &bases[1]);
    until_ready(&app, &mut servers[1], &bases[1]).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut refusals = vec![];
    for m in markers {
        refusals.extend(m.await.unwrap());
    }
    drop(servers);

    let acked = acked.lock().await.clone();
    assert!(while_down > 0, "no score was acknowledged while one node was down");
    assert_consistent(&app, &acked, &refusals, 50);
    eprintln!(
        "three nodes: {} scores acknowledged ({before_kill} before the kill, {while_down} while one node was down), each stored once",
        acked.len()
    );
}
