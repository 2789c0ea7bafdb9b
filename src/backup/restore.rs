//! `markroom restore`: an archive unpacked beside the target and renamed into place, regular
//! files and directories only, at relative paths without `..`.

use std::fmt;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use flate2::read::GzDecoder;
use tar::EntryType;

use super::{DATABASE, sync_parent};

/// What a restore wrote.
#[derive(Debug)]
pub struct RestoreSummary {
    pub target: PathBuf,
    pub files: usize,
    pub database: bool,
}

/// Unpacks the archive `input` into `target`, which must be missing or an empty directory.
pub fn restore(input: &Path, target: &Path) -> anyhow::Result<RestoreSummary> {
    check_target(target)?;
    let archive = File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let staging = Staging::create(target)?;
    let files = unpack(archive, &staging.path).with_context(|| format!("restoring {}", input.display()))?;
    let database = staging.path.join(DATABASE).is_file();
    staging.publish(target)?;
    Ok(RestoreSummary {
        target: target.to_path_buf(),
        files,
        database,
    })
}

fn check_target(target: &Path) -> anyhow::Result<()> {
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading {}", target.display())),
        Ok(m) if !m.is_dir() => bail!("{} exists and is not a directory", target.display()),
        Ok(_) => {
            let mut entries = fs::read_dir(target).with_context(|| format!("listing {}", target.display()))?;
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: restore writes into an empty or missing data directory only (nothing was changed)",
                    target.display()
                );
            }
            Ok(())
        }
    }
}

/// The directory being restored, beside the target; removed unless published.
struct Staging {
    path: PathBuf,
    published: bool,
}

impl Staging {
    fn create(target: &Path) -> anyhow::Result<Staging> {
        let name = target
            .file_name()
            .ok_or_else(|| anyhow!("--data-dir {} names no directory", target.display()))?;
        let path = target.with_file_name(format!(".{}.restoring-{}", name.to_string_lossy(), std::process::id()));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        private_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Staging { path, published: false })
    }

    /// Renames the staging directory to the target (over it, when it is an empty directory).
    fn publish(mut self, target: &Path) -> anyhow::Result<()> {
        fs::rename(&self.path, target).with_context(|| {
            format!(
                "moving the restored files into {} (was it emptied or made meanwhile?)",
                target.display()
            )
        })?;
        self.published = true;
        sync_parent(target)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Unpacks every entry into `dir`; returns the files written.
fn unpack(archive: File, dir: &Path) -> anyhow::Result<usize> {
    let mut ar = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(archive)));
    let mut files = 0;
    for entry in ar.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let raw = entry.path().context("an entry's name")?.into_owned();
        let rel = safe_relative(&raw)?;
        let dest = dir.join(&rel);
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().context("an entry's mode")? & 0o777;
        match kind {
            EntryType::Directory => {
                private_dir(&dest).with_context(|| format!("creating {}", rel.display()))?;
                set_mode(&dest, mode | 0o700)?;
            }
            EntryType::Regular | EntryType::Continuous => {
                write_entry(&mut entry, &dest, mode).with_context(|| format!("writing {}", rel.display()))?;
                files += 1;
            }
            other => bail!(
                "the archive holds {} of type {other:?}: only regular files and directories are restored",
                raw.display()
            ),
        }
    }
    Ok(files)
}

/// A relative path of plain names (a leading `./` is allowed); anything that could reach
/// outside the target (an absolute path, `..`) is refused.
fn safe_relative(raw: &Path) -> anyhow::Result<PathBuf> {
    let mut rel = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => bail!(
                "the archive names {}, outside the data directory: refused, nothing restored",
                raw.display()
            ),
        }
    }
    if rel.as_os_str().is_empty() {
        bail!("the archive holds an entry without a name: refused");
    }
    Ok(rel)
}

fn write_entry(entry: &mut impl Read, dest: &Path, mode: u32) -> anyhow::Result<()> {
    if let Some(parent) = dest.parent() {
        private_dir(parent)?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(dest).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow!("the archive holds it twice"),
        _ => e.into(),
    })?;
    std::io::copy(entry, &mut file)?;
    file.sync_all()?;
    set_mode(dest, mode)
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

impl fmt::Display for RestoreSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "restored {} file(s) into {}", self.files, self.target.display())?;
        if !self.database {
            writeln!(
                f,
                "the archive holds no database (a PostgreSQL backup): restore its dump into an empty \
                 database, as the tables' owner:\n  pg_restore --exit-on-error --no-owner -d \"$DATABASE_OWNER_URL\" markroom.dump"
            )?;
        }
        Ok(())
    }
}
