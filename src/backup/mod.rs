//! `markroom backup` and `markroom restore`: the data directory as one gzip-compressed tar,
//! made while the server runs.
//!
//! Order is what makes the copy consistent. The anchor file is copied first: an anchor is
//! written only after its seal committed, so every anchor copied names an entry the database
//! snapshot taken after it holds. Then the other files (keys, the demo's accounts, …), then the
//! SQLite snapshot (`VACUUM INTO`, one read transaction), then the local image store last: an
//! object is stored before the row that names it commits, so every object the snapshot names
//! is there. The live database file and its `-wal`, `-shm` and `-turns` companions never go in;
//! the snapshot goes in as `markroom.db`. On PostgreSQL no database goes in at all: the operator
//! dumps it with `pg_dump` after the backup, so that the anchors precede the dump.
//!
//! Restore unpacks into a staging directory beside the target and renames it into place, so a
//! refused or failed restore changes nothing; it takes regular files and directories only, at
//! relative paths without `..`.

use std::fmt;
use std::fs::{self, File};
use std::io::{BufWriter, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{Builder, EntryType, Header};

use crate::config::Settings;

mod restore;
mod snapshot;

pub use restore::{RestoreSummary, restore};
use snapshot::{append_pg_dump, append_snapshot};

/// The name of the database in the archive, and of the live file in the data directory.
pub const DATABASE: &str = "markroom.db";
/// PostgreSQL's dump in the archive (`pg_dump -Fc`), for `pg_restore`.
pub const PG_DUMP: &str = "markroom.pgdump";
/// Where a file kept outside the data directory (an absolute anchor file or image store) goes.
pub const OUTSIDE: &str = "outside-data-dir";

type Archive = Builder<GzEncoder<BufWriter<File>>>;

/// What a backup wrote.
#[derive(Debug)]
pub struct BackupSummary {
    pub output: PathBuf,
    pub files: usize,
    /// The database is in the archive (SQLite's snapshot, or PostgreSQL's dump).
    pub database: bool,
    /// The database is PostgreSQL's dump.
    pub postgres: bool,
    /// The image store was in the archive (backend `local`).
    pub images: usize,
    /// Things the operator must know (files kept outside the data directory).
    pub notes: Vec<String>,
}

/// Writes the backup of `settings`' data directory to `output`, a file that must not exist.
pub fn backup(settings: &Settings, output: &Path) -> anyhow::Result<BackupSummary> {
    let layout = Layout::of(settings)?;
    refuse_existing(output)?;
    let partial = Partial::create(output)?;
    let mut ar = Builder::new(GzEncoder::new(
        BufWriter::new(partial.file.try_clone()?),
        Compression::default(),
    ));
    let mut summary = BackupSummary {
        output: output.to_path_buf(),
        files: 0,
        database: false,
        postgres: settings.postgres_url().is_some(),
        images: 0,
        notes: vec![],
    };
    let data_dir = &layout.data_dir;
    // 1. The anchors, before the snapshot.
    if let Some(name) = append_anchors(&mut ar, data_dir, &layout.anchors)? {
        summary.files += 1;
        note_outside(&mut summary.notes, "the anchor file", &layout.anchors, &name);
    }
    // 2. Every other file of the data directory but the database and the image store.
    let skip = Skip {
        layout: &layout,
        partial: identity(&partial.file.metadata()?),
    };
    summary.files += append_tree(&mut ar, data_dir, "", &|p| skip.skips(p))?;
    // 3. The database snapshot: SQLite's own, or PostgreSQL's dump.
    match settings.postgres_url() {
        None => append_snapshot(&mut ar, settings)?,
        Some(_) => append_pg_dump(&mut ar, settings)?,
    }
    summary.database = true;
    // 4. The image store, after the snapshot.
    if let Some(store) = layout.store.as_deref().filter(|s| s.is_dir()) {
        let name = archive_name(data_dir, store);
        summary.images = append_tree(&mut ar, store, &name, &|p| is_staging(p))?;
        note_outside(&mut summary.notes, "the image store", store, &name);
    }
    finish(ar)?;
    partial.publish(output)?;
    Ok(summary)
}

/// Where the data directory, the anchor file and the local image store are, resolved (so a
/// relative and an absolute name of one file are known for the same).
struct Layout {
    data_dir: PathBuf,
    anchors: PathBuf,
    /// The local image store's folder (backend `local`).
    store: Option<PathBuf>,
}

impl Layout {
    fn of(settings: &Settings) -> anyhow::Result<Layout> {
        let dir = &settings.data_dir;
        let data_dir = fs::canonicalize(dir)
            .ok()
            .filter(|d| d.is_dir())
            .ok_or_else(|| anyhow!("the data directory {} does not exist", dir.display()))?;
        let resolve = |p: PathBuf| fs::canonicalize(&p).unwrap_or(p);
        let store = (settings.storage.backend == "local").then(|| resolve(settings.storage.local_root(dir)));
        if let Some(store) = store.as_deref().filter(|s| data_dir.starts_with(s)) {
            bail!(
                "storage.local_dir ({}) holds the data directory itself: give the image store a folder of its own, \
                 so that it can be copied after the database",
                store.display()
            );
        }
        Ok(Layout {
            anchors: resolve(settings.anchor_path()),
            data_dir,
            store,
        })
    }
}

fn refuse_existing(output: &Path) -> anyhow::Result<()> {
    if output.symlink_metadata().is_ok() {
        bail!(
            "{} exists already: a backup never replaces a file; choose another name or remove it first",
            output.display()
        );
    }
    if output.file_name().is_none() {
        bail!("--output {} names no file", output.display());
    }
    Ok(())
}

/// The archive being written, beside the output under a name of its own; removed unless
/// published, so a failed backup leaves no half file.
struct Partial {
    path: PathBuf,
    file: File,
    published: bool,
}

impl Partial {
    fn create(output: &Path) -> anyhow::Result<Partial> {
        let name = output.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let path = output.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // The archive holds the keys.
            opts.mode(0o600);
        }
        let file = opts
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Partial {
            path,
            file,
            published: false,
        })
    }

    /// Gives the finished archive its name, refusing (again) to replace an existing file.
    fn publish(mut self, output: &Path) -> anyhow::Result<()> {
        self.file.sync_all()?;
        match fs::hard_link(&self.path, output) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => refuse_existing(output)?,
            // A file system without hard links: rename, having looked once more.
            Err(_) => {
                refuse_existing(output)?;
                fs::rename(&self.path, output).with_context(|| format!("renaming to {}", output.display()))?;
            }
        }
        self.published = true;
        let _ = fs::remove_file(&self.path);
        sync_parent(output)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn sync_parent(path: &Path) -> anyhow::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", parent.display()))
}

fn finish(ar: Archive) -> anyhow::Result<()> {
    let gz = ar.into_inner().context("finishing the archive")?;
    let buffered = gz.finish().context("finishing the compression")?;
    buffered
        .into_inner()
        .map_err(|e| anyhow!("writing the archive: {}", e.error()))?;
    Ok(())
}

/// A file's device and inode, to know the archive being written when the walk meets it.
#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// What the walk of the data directory leaves to other steps or out altogether.
struct Skip<'a> {
    layout: &'a Layout,
    /// The archive being written, should it be inside the data directory.
    partial: Option<(u64, u64)>,
}

impl Skip<'_> {
    fn skips(&self, path: &Path) -> bool {
        let layout = self.layout;
        if path == layout.anchors || Some(path) == layout.store.as_deref() {
            return true;
        }
        let top = path.parent() == Some(layout.data_dir.as_path());
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        // The live database, its -wal, -shm and -turns (a lock file), and snapshots being made.
        if top && (name == DATABASE || name.starts_with(&format!("{DATABASE}-"))) {
            return true;
        }
        self.partial.is_some() && fs::symlink_metadata(path).ok().and_then(|m| identity(&m)) == self.partial
    }
}

/// object_store's local folder writes each object to `NAME#n` first and renames it into place:
/// such a file is an upload in progress, not an object.
fn is_staging(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().contains('#'))
}

/// The name of `path` in the archive: relative to the data directory, or under `OUTSIDE`.
fn archive_name(data_dir: &Path, path: &Path) -> String {
    if let Ok(rel) = path.strip_prefix(data_dir)
        && rel.components().all(|c| matches!(c, Component::Normal(_)))
        && rel.components().next().is_some()
    {
        return slashed(rel);
    }
    let last = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    format!("{OUTSIDE}/{last}")
}

fn slashed(rel: &Path) -> String {
    let parts: Vec<_> = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect();
    parts.join("/")
}

fn note_outside(notes: &mut Vec<String>, what: &str, path: &Path, name: &str) {
    if name.starts_with(OUTSIDE) {
        notes.push(format!(
            "{what} {} is outside the data directory: it is in the archive as {name}; after a restore, move it back to its place",
            path.display()
        ));
    }
}

/// Copies the anchor file, up to its last complete line (the server may be appending).
/// Returns its name in the archive, or `None` when there is no anchor file yet.
fn append_anchors(ar: &mut Archive, data_dir: &Path, path: &Path) -> anyhow::Result<Option<String>> {
    let Some((mut bytes, meta)) = read_file(path)? else {
        return Ok(None);
    };
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(complete);
    let name = archive_name(data_dir, path);
    append_bytes(ar, &name, &bytes, &meta)?;
    Ok(Some(name))
}

/// The file's bytes and metadata, or `None` when it is gone (removed or renamed meanwhile).
fn read_file(path: &Path) -> anyhow::Result<Option<(Vec<u8>, fs::Metadata)>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let meta = file.metadata()?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(Some((bytes, meta)))
}

fn mode(meta: &fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o7777
    }
    #[cfg(not(unix))]
    {
        if meta.is_dir() { 0o700 } else { 0o600 }
    }
}

fn mtime(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

fn append_bytes(ar: &mut Archive, name: &str, bytes: &[u8], meta: &fs::Metadata) -> anyhow::Result<()> {
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_size(bytes.len() as u64);
    h.set_mode(mode(meta));
    h.set_mtime(mtime(meta));
    ar.append_data(&mut h, name, bytes)
        .with_context(|| format!("archiving {name}"))
}

fn append_dir(ar: &mut Archive, name: &str, meta: &fs::Metadata) -> anyhow::Result<()> {
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Directory);
    h.set_size(0);
    h.set_mode(mode(meta));
    h.set_mtime(mtime(meta));
    ar.append_data(&mut h, format!("{name}/"), std::io::empty())
        .with_context(|| format!("archiving {name}/"))
}

/// Archives the regular files and directories under `root` (as `prefix/…`, or at the top when
/// `prefix` is empty) but those `skip` names; returns the files archived. Symbolic links,
/// sockets and the like are left out.
fn append_tree(ar: &mut Archive, root: &Path, prefix: &str, skip: &dyn Fn(&Path) -> bool) -> anyhow::Result<usize> {
    let meta = fs::symlink_metadata(root).with_context(|| format!("reading {}", root.display()))?;
    if !prefix.is_empty() {
        append_dir(ar, prefix, &meta)?;
    }
    let mut entries: Vec<_> = fs::read_dir(root)
        .with_context(|| format!("listing {}", root.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("listing {}", root.display()))?;
    entries.sort_by_key(|e| e.file_name());
    let mut files = 0;
    for entry in entries {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if skip(&path) {
            continue;
        }
        let name = match prefix {
            "" => entry.file_name().to_string_lossy().into_owned(),
            p => format!("{p}/{}", entry.file_name().to_string_lossy()),
        };
        if kind.is_dir() {
            files += append_tree(ar, &path, &name, skip)?;
        } else if kind.is_file()
            && let Some((bytes, meta)) = read_file(&path)?
        {
            append_bytes(ar, &name, &bytes, &meta)?;
            files += 1;
        }
    }
    Ok(files)
}

impl fmt::Display for BackupSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "backup written to {}", self.output.display())?;
        let db = match (self.database, self.postgres) {
            (true, false) => "the SQLite database (a snapshot)",
            (true, true) => "the PostgreSQL database (pg_dump, as markroom.pgdump)",
            (false, _) => "no database",
        };
        writeln!(
            f,
            "  {} file(s) of the data directory, {db}, {} image(s)",
            self.files, self.images
        )?;
        if self.postgres {
            writeln!(
                f,
                "PostgreSQL: after `markroom restore`, load the dump into an empty database as its owner:\n  \
                 pg_restore --exit-on-error --no-owner -d \"$DATABASE_OWNER_URL\" DIR/markroom.pgdump"
            )?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}
