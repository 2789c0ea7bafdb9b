//! The SQLite snapshot of a backup: `VACUUM INTO`, one read transaction, while a server writes.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use tar::{EntryType, Header};

use super::{Archive, DATABASE, mtime};
use crate::config::Settings;

/// A snapshot file in the data directory, removed when dropped.
struct Snapshot(PathBuf);

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// `VACUUM INTO` a file beside the database (the data directory is the service's alone), then
/// into the archive as `markroom.db`, mode 0600.
pub(super) fn append_snapshot(ar: &mut Archive, settings: &Settings) -> anyhow::Result<()> {
    let snapshot = Snapshot(
        settings
            .data_dir
            .join(format!("{DATABASE}-backup-{}", std::process::id())),
    );
    let _ = fs::remove_file(&snapshot.0);
    vacuum_into(settings, &snapshot.0)?;
    let file = File::open(&snapshot.0).with_context(|| format!("reading {}", snapshot.0.display()))?;
    let meta = file.metadata()?;
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_size(meta.len());
    h.set_mode(0o600);
    h.set_mtime(mtime(&meta));
    ar.append_data(&mut h, DATABASE, file.take(meta.len()))
        .context("archiving the database snapshot")?;
    Ok(())
}

/// A consistent copy of the live database in one read transaction; it works while a server
/// writes (WAL), waiting `database.sqlite_busy_timeout_ms` for a lock if it must.
fn vacuum_into(settings: &Settings, dest: &Path) -> anyhow::Result<()> {
    let db = settings.sqlite_path();
    if !db.is_file() {
        bail!(
            "no database at {}: nothing to back up (is the data directory right?)",
            db.display()
        );
    }
    let url = format!("file:{}?mode=ro", uri_path(&db));
    let mut conn = diesel::sqlite::SqliteConnection::establish(&url)
        .with_context(|| format!("opening {} to read", db.display()))?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {};",
        settings.database.sqlite_busy_timeout_ms
    ))?;
    let dest_text = dest
        .to_str()
        .ok_or_else(|| anyhow!("the data directory's path {} is not UTF-8", dest.display()))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<diesel::sql_types::Text, _>(dest_text)
        .execute(&mut conn)
        .with_context(|| format!("snapshotting {} into {}", db.display(), dest.display()))?;
    Ok(())
}

/// A path as the path of an SQLite `file:` URI: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}
