//! A backup taken while writers keep the served binary busy restores to a copy that holds every
//! write acknowledged before the backup began, and whose audit chain verifies: on SQLite from
//! the archive alone, on PostgreSQL with the archive's dump loaded by `pg_restore` (as the
//! README says) into a database of its own.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;

use crate::helpers::{Session, TestApp};
use crate::operations::{create_workstation, login, serve};
use crate::served::markroom;

/// Makes workstations until `stop`; returns the names acknowledged, each with whether it was
/// acknowledged before `began` was set.
fn writer(
    base: String,
    admin: Session,
    w: usize,
    began: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(String, bool)>> {
    tokio::spawn(async move {
        let mut acked = vec![];
        for i in 0.. {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let name = format!("Backup burst {w}-{i}");
            let r = create_workstation(&base, &admin, &name).await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            // Read after the answer: a write acknowledged before the backup began says so.
            acked.push((name, !began.load(Ordering::SeqCst)));
        }
        acked
    })
}

#[tokio::test]
async fn a_backup_during_a_burst_of_writes_restores_every_acknowledged_write_and_verifies() {
    let app = TestApp::spawn().await;
    let demo = crate::crash::demo(&app, 6);
    let (server, base) = serve(&app, &app.settings.data_dir.join("backup-burst.log"), &[]);
    crate::served::ready(&base).await;
    let admin = login(&base, &demo["accounts"]["admin"][0]).await;
    let (began, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let writers: Vec<_> = (0..4)
        .map(|w| writer(base.clone(), admin.clone(), w, began.clone(), stop.clone()))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let scratch = tempfile::tempdir().unwrap();
    let archive = scratch.path().join("burst.tar.gz");
    began.store(true, Ordering::SeqCst);
    let mut cmd = markroom(&app);
    cmd.args(["backup", "--output"]).arg(&archive);
    let made = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let mut acked = vec![];
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    drop(server);
    let before: Vec<&String> = acked.iter().filter(|(_, b)| *b).map(|(n, _)| n).collect();
    assert!(
        before.len() >= 4 && acked.len() > before.len(),
        "writes before and during the backup"
    );

    let restored = scratch.path().join("copy");
    let out = markroom(&app)
        .args(["restore", "--input"])
        .arg(&archive)
        .arg("--data-dir")
        .arg(&restored)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (names, verify) = match &app.settings.database.owner_url {
        None => from_sqlite(&restored),
        Some(owner) => from_postgres(owner, &restored),
    };
    for name in before {
        assert!(
            names.contains(name),
            "{name} was acknowledged before the backup and is not in the copy"
        );
    }
    let said = String::from_utf8_lossy(&verify.stdout).to_string();
    assert!(verify.status.success(), "the copy's audit chain: {said}");
}

/// The copy's workstations, and `audit verify` on it, from its own SQLite file.
fn from_sqlite(restored: &std::path::Path) -> (BTreeSet<String>, std::process::Output) {
    use markroom::db::schema::workstations;
    let mut c = diesel::sqlite::SqliteConnection::establish(restored.join("markroom.db").to_str().unwrap()).unwrap();
    let names = workstations::table
        .select(workstations::name)
        .load::<String>(&mut c)
        .unwrap();
    let verify = crate::served::markroom_in(restored)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    (names.into_iter().collect(), verify)
}

/// The archive's dump loaded into a fresh database with `pg_restore`, as the README says; its
/// workstations, and `audit verify` of the copy (its data directory and that database).
fn from_postgres(owner: &str, restored: &std::path::Path) -> (BTreeSet<String>, std::process::Output) {
    use markroom::db::schema::workstations;
    let mut url = url::Url::parse(owner).unwrap();
    let copy = format!("{}_copy", url.path().trim_start_matches('/'));
    let mut admin = diesel::pg::PgConnection::establish(owner).unwrap();
    diesel::sql_query(format!("CREATE DATABASE \"{copy}\""))
        .execute(&mut admin)
        .unwrap();
    url.set_path(&copy);
    let loaded = std::process::Command::new("pg_restore")
        .args(["--exit-on-error", "--no-owner", "--dbname", url.as_str()])
        .arg(restored.join("markroom.pgdump"))
        .output()
        .unwrap();
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    let mut c = diesel::pg::PgConnection::establish(url.as_str()).unwrap();
    let names = workstations::table
        .select(workstations::name)
        .load::<String>(&mut c)
        .unwrap();
    drop(c);
    let verify = crate::served::markroom_in(restored)
        .env("DATABASE_URL", url.as_str())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    diesel::sql_query(format!("DROP DATABASE \"{copy}\" WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
    (names.into_iter().collect(), verify)
}
