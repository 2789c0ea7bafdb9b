//! The database in a backup, taken while a server writes: SQLite's `VACUUM INTO` (one read
//! transaction), or PostgreSQL's `pg_dump -Fc` (one snapshot of its own).

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use tar::{EntryType, Header};

use super::{Archive, DATABASE, PG_DUMP, mtime};
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
    append_file(ar, &snapshot.0, DATABASE)
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
    // Read-write, though it only reads: after a crash with no server running, the first
    // connection must recover the write-ahead log, which a read-only one cannot.
    let url = format!("file:{}", uri_path(&db));
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

/// `pg_dump -Fc` of the database, as the tables' owner when one is set (the service's role may
/// not read every table's definition), into the archive as `markroom.pgdump`, mode 0600.
pub(super) fn append_pg_dump(ar: &mut Archive, settings: &Settings) -> anyhow::Result<()> {
    let url = settings
        .owner_or_postgres_url()
        .ok_or_else(|| anyhow!("no PostgreSQL URL"))?;
    let dump = Snapshot(
        settings
            .data_dir
            .join(format!("{PG_DUMP}-backup-{}", std::process::id())),
    );
    let _ = fs::remove_file(&dump.0);
    // The password goes in the environment, not the command line, where others could read it.
    let mut url = url::Url::parse(url).context("the PostgreSQL URL")?;
    let password = url
        .password()
        .map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned());
    let _ = url.set_password(None);
    let mut cmd = std::process::Command::new("pg_dump");
    cmd.args(["--format=custom", "--no-owner", "--file"])
        .arg(&dump.0)
        .arg("--dbname")
        .arg(url.as_str());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd
        .output()
        .context("running pg_dump (PostgreSQL's client programs must be installed)")?;
    if !out.status.success() {
        bail!("pg_dump failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    append_file(ar, &dump.0, PG_DUMP)
}

fn append_file(ar: &mut Archive, path: &Path, name: &str) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let meta = file.metadata()?;
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_size(meta.len());
    h.set_mode(0o600);
    h.set_mtime(mtime(&meta));
    ar.append_data(&mut h, name, file.take(meta.len()))
        .with_context(|| format!("archiving {name}"))?;
    Ok(())
}
