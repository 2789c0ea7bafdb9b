//! `markroom backup` while a served markroom works (people logging in, each login an audit
//! entry, anchors written all the while), then `markroom restore` into a new data directory:
//! the copy's audit chain verifies against its anchors, its keys are the originals (0600), and
//! a server started on it serves and lets the same people in. A restore never writes into a
//! non-empty directory, a backup never replaces a file, and an archive that reaches outside the
//! target (`../`, an absolute path, a link) is refused with nothing written. On PostgreSQL the
//! archive holds the files alone (the database is pg_dump's) and is checked against the live
//! database.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::crash::{demo, serve, until_ready};
use crate::helpers::TestApp;
use crate::served::{Served, free_port, markroom, ready};

const KEYS: [&str; 3] = ["token.key", "identity.key", "vault.key"];

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn login(base: &str, account: &Value) -> StatusCode {
    let body = json!({
        "username": account["username"],
        "password": account["password"],
        "workstation_key": account["workstation_key"],
    });
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    r.status()
}

/// Every regular file under `root`, by its path relative to it, with its bytes.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The names in a directory, sorted.
fn listing(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names
}

/// The archive's entry names, in order.
fn entry_names(archive: &Path) -> Vec<String> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(archive).unwrap());
    let mut ar = tar::Archive::new(gz);
    ar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// `markroom audit verify` on `dir`: the entries it checked.
fn verified_entries(app: &TestApp, dir: &Path) -> u64 {
    let out = markroom(app)
        .args(["audit", "verify", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    let text = ok(&out, "audit verify of the restored copy");
    assert!(text.contains("audit log intact"), "{text}");
    assert!(!text.contains("no anchor file"), "the anchors were restored: {text}");
    let entries = text
        .split(", ")
        .find_map(|part| part.strip_suffix(" entries"))
        .unwrap_or_else(|| panic!("no entry count in {text}"));
    entries.parse().unwrap()
}

/// Logins against `base` until `stop`: each is an audit entry, sealed and anchored meanwhile.
fn keep_logging_in(base: String, account: Value, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let mut done = 0;
        while !stop.load(Ordering::Relaxed) {
            assert_eq!(login(&base, &account).await, StatusCode::OK);
            done += 1;
        }
        done
    })
}

#[tokio::test]
async fn a_backup_made_while_serving_restores_to_a_copy_that_verifies_and_serves() {
    let app = TestApp::spawn().await;
    let postgres = app.settings.postgres_url().is_some();
    let accounts = demo(&app, 6);
    let admin = accounts["accounts"]["admin"][0].clone();
    let data_dir = app.settings.data_dir.clone();

    // A served markroom of its own process on the same data directory, at work during the backup.
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut server = serve(&app, &base);
    until_ready(&app, &mut server, &base).await;
    assert_eq!(login(&base, &admin).await, StatusCode::OK);
    let stop = Arc::new(AtomicBool::new(false));
    let logins = keep_logging_in(base.clone(), admin.clone(), stop.clone());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let out_dir = tempfile::tempdir().unwrap();
    let archive = out_dir.path().join("markroom-backup.tar.gz");
    let made = {
        let mut cmd = markroom(&app);
        cmd.args(["backup", "--output"]).arg(&archive);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    };
    stop.store(true, Ordering::Relaxed);
    assert!(logins.await.unwrap() > 0, "logins went on during the backup");
    let printed = ok(&made, "backup");
    assert!(printed.contains("backup written to"), "{printed}");
    assert_eq!(std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777, 0o600);
    let leftovers = listing(out_dir.path());
    assert_eq!(
        leftovers.len(),
        1,
        "no partial file is left beside the archive: {leftovers:?}"
    );

    check_archive_order(&archive, postgres);
    let restored = out_dir.path().join("restored");
    restore_checks(&app, &archive, &restored, &data_dir);
    let entries = verified_entries(&app, &restored);
    assert!(entries > 0, "the restored chain has entries");

    // A server on the copy (the copy's own SQLite file, or the live PostgreSQL database) serves,
    // and the account that logged in before logs in: the keys are the originals.
    let restored_base = format!("http://127.0.0.1:{}", free_port());
    let copy = serve_copy(&app, &restored, &restored_base, out_dir.path());
    ready(&restored_base).await;
    assert_eq!(login(&restored_base, &admin).await, StatusCode::OK);
    drop(copy);
    drop(server);

    refusals(&app, &archive, out_dir.path());
    hostile_archives(&app, out_dir.path());
}

/// The anchors first; the database (SQLite) before the image store; no live database files.
fn check_archive_order(archive: &Path, postgres: bool) {
    let names = entry_names(archive);
    assert_eq!(names[0], "audit-anchors.jsonl", "the anchors come first: {names:?}");
    for live in ["markroom.db-wal", "markroom.db-shm", "markroom.db-turns"] {
        assert!(!names.iter().any(|n| n == live), "{live} is not in the archive");
    }
    for key in KEYS {
        assert!(names.iter().any(|n| n == key), "{key} is in the archive: {names:?}");
    }
    let db = names.iter().position(|n| n == "markroom.db");
    let images = names
        .iter()
        .position(|n| n.starts_with("objects/"))
        .expect("the image store");
    match db {
        Some(db) => {
            assert!(!postgres, "a PostgreSQL backup holds no database");
            assert!(db < images, "the database snapshot precedes the image store: {names:?}");
        }
        None => assert!(postgres, "a SQLite backup holds the database: {names:?}"),
    }
}

/// Restores into `restored` (a missing directory) and compares the files with the original's.
fn restore_checks(app: &TestApp, archive: &Path, restored: &Path, data_dir: &Path) {
    // The target is named on the command line only, never taken from MARKROOM_DATA_DIR.
    let unnamed = markroom(app)
        .args(["restore", "--input"])
        .arg(archive)
        .output()
        .unwrap();
    assert!(!unnamed.status.success());
    assert!(String::from_utf8_lossy(&unnamed.stderr).contains("--data-dir"));

    let out = markroom(app)
        .args(["restore", "--input"])
        .arg(archive)
        .arg("--data-dir")
        .arg(restored)
        .output()
        .unwrap();
    ok(&out, "restore");
    assert_eq!(std::fs::metadata(restored).unwrap().permissions().mode() & 0o777, 0o700);
    for key in KEYS {
        let (original, copy) = (data_dir.join(key), restored.join(key));
        assert_eq!(
            std::fs::read(&copy).unwrap(),
            std::fs::read(&original).unwrap(),
            "{key}"
        );
        assert_eq!(
            std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
            0o600,
            "{key}"
        );
    }
    let (original, copy) = (files(&data_dir.join("objects")), files(&restored.join("objects")));
    assert!(!original.is_empty(), "the demo stored scans");
    assert_eq!(original, copy, "every stored scan is restored, byte for byte");
    assert_eq!(
        std::fs::read(restored.join("demo-accounts.json")).unwrap(),
        std::fs::read(data_dir.join("demo-accounts.json")).unwrap()
    );
}

/// `markroom serve` on the restored directory (on PostgreSQL: the live database).
fn serve_copy(app: &TestApp, dir: &Path, base: &str, logs: &Path) -> Served {
    let mut cmd = markroom(app);
    cmd.env("MARKROOM_DATA_DIR", dir)
        .args(["serve", "--bind", base.trim_start_matches("http://")])
        .env("MARKROOM_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(logs.join("restored-serve.log")).unwrap());
    Served(cmd.spawn().unwrap())
}

/// A restore into a directory that holds anything, and a backup onto an existing file, are
/// refused and change nothing.
fn refusals(app: &TestApp, archive: &Path, dir: &Path) {
    let occupied = dir.join("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), b"the operator's").unwrap();
    let out = markroom(app)
        .args(["restore", "--input"])
        .arg(archive)
        .arg("--data-dir")
        .arg(&occupied)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    let left = files(&occupied);
    assert_eq!(left.len(), 1, "nothing was added: {:?}", left.keys());
    assert_eq!(left[Path::new("notes.txt")], b"the operator's");

    let before = std::fs::read(archive).unwrap();
    let again = markroom(app)
        .args(["backup", "--output"])
        .arg(archive)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert_eq!(
        std::fs::read(archive).unwrap(),
        before,
        "the existing file is untouched"
    );
}

/// A gzip tar with a harmless file first, then one entry of the given name, type and link.
fn hostile_archive(path: &Path, name: &[u8], kind: tar::EntryType, link: Option<&str>) {
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    let mut ar = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o600);
    ar.append_data(&mut h, "token.key", &b"first"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    // Written into the name field itself: the tar crate's own setters refuse such names.
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_entry_type(kind);
    h.set_mode(0o644);
    if let Some(target) = link {
        h.set_link_name(target).unwrap();
    }
    let body: &[u8] = if kind == tar::EntryType::Regular { b"evil" } else { b"" };
    h.set_size(body.len() as u64);
    h.set_cksum();
    ar.append(&h, body).unwrap();
    ar.into_inner().unwrap().finish().unwrap();
}

/// Entries that reach outside the target, or are not plain files or directories, are refused
/// and nothing is written: not the target, not the entry's place outside it.
fn hostile_archives(app: &TestApp, dir: &Path) {
    let zone = dir.join("zone");
    std::fs::create_dir(&zone).unwrap();
    let absolute = format!("{}/absolute-evil", zone.display());
    let cases: [(&[u8], tar::EntryType, Option<&str>); 4] = [
        (b"../evil", tar::EntryType::Regular, None),
        (b"objects/../../evil", tar::EntryType::Regular, None),
        (absolute.as_bytes(), tar::EntryType::Regular, None),
        (b"link", tar::EntryType::Symlink, Some("/etc")),
    ];
    for (i, (name, kind, link)) in cases.into_iter().enumerate() {
        let archive = dir.join(format!("hostile-{i}.tar.gz"));
        hostile_archive(&archive, name, kind, link);
        let before = listing(&zone);
        let target = zone.join("restored");
        let out = markroom(app)
            .args(["restore", "--input"])
            .arg(&archive)
            .arg("--data-dir")
            .arg(&target)
            .output()
            .unwrap();
        let name = String::from_utf8_lossy(name);
        assert!(!out.status.success(), "{name} is refused");
        assert_eq!(before, listing(&zone), "{name}: nothing was written, staging removed");
        assert!(!target.exists(), "{name}: no target");
        for outside in [dir.join("evil"), zone.join("evil"), PathBuf::from(&absolute)] {
            assert!(!outside.exists(), "{name}: {} was not written", outside.display());
        }
        let mut stderr = String::new();
        out.stderr.as_slice().read_to_string(&mut stderr).unwrap();
        assert!(
            stderr.contains("refused") || stderr.contains("only regular files"),
            "{name}: {stderr}"
        );
    }
}
