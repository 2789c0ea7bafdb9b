//! `markroom bench ingest`: pages per second through the whole pipeline (decode, find the
//! anchor, turn, mask, cut, encode, store) on generated A4 grey pages, across the cores.
//!
//! The store step writes files atomically into a temporary folder (temp name, write, fsync,
//! rename) named by their SHA-256, standing in for the storage interface until it is wired.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, bail};
use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    ImageLimits, Orientation, PageInput, SheetSpec, decode_page, encode_png, generate_sheet, standard_template,
    treat_sheet,
};
use crate::domain::template::SheetTemplate;

/// A one-page sheet with the most work a page can hold: anchor, both masks, four answers.
const BENCH_QUESTIONS: [&str; 4] = ["W1", "S1", "S2", "S3"];

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub pages: u32,
    pub dpi: u32,
    /// Threads treating pages (one a core).
    pub threads: usize,
    /// Threads waiting on the disk while files are written and fsynced.
    pub store_threads: usize,
    pub seconds: f64,
    pub pages_per_second: f64,
}

/// Writes `bytes` as `dir/name` so that a crash leaves the whole file or none: a temporary
/// name in the same folder, written and fsynced, then renamed over the final name.
pub fn store_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, dir.join(name))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Content address: the same bytes are stored once under one name.
fn store_by_hash(dir: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let name = hex::encode(Sha256::digest(bytes));
    store_atomic(dir, &name, bytes)?;
    Ok(name)
}

/// The uploads: `pages` one-page sheets (every other one upside down) encoded as PNG, made in
/// parallel and not timed.
fn uploads(pages: u32, dpi: u32) -> Vec<Vec<u8>> {
    let template = standard_template(&BENCH_QUESTIONS);
    (0..pages)
        .into_par_iter()
        .map(|i| {
            let spec = SheetSpec {
                dpi,
                upside_down: i % 2 == 1,
                seed: u64::from(i),
                latents: [("W1".to_string(), i % 4096)].into(),
                ..SheetSpec::default()
            };
            let sheet = generate_sheet(&template, &spec);
            encode_png(&sheet[0])
        })
        .collect()
}

/// Storing waits on the disk (an fsync a file), not on the cores: the writes get threads of
/// their own, so the cores go on treating pages while files are flushed, as an async store does.
const STORE_THREADS: usize = 16;

/// One uploaded page through the pipeline: whether it was turned (so the caller can check that
/// the pages scanned upside down were found), and its masked cuts, encoded.
fn treat_one(bytes: &[u8], template: &SheetTemplate) -> anyhow::Result<(bool, Vec<Vec<u8>>)> {
    let image = decode_page(bytes, &ImageLimits::default())?;
    let sheet = treat_sheet(vec![PageInput { image, turn: None }], template, &[])?;
    let page = &sheet.pages[0];
    if page.needs_treatment {
        bail!("a generated page's anchor was not found");
    }
    let turned = page.orientation == Some(Orientation::UpsideDown);
    Ok((turned, sheet.questions.into_iter().map(|q| q.png).collect()))
}

/// Treats every upload on rayon's global pool (one thread a core) and stores its outputs (the
/// original as uploaded, which the real store encrypts, and the cuts) on `store_pool`; returns
/// once every file is stored, with the number of pages turned.
fn ingest_all(uploads: &[Vec<u8>], dir: &Path, store_pool: &ThreadPool) -> anyhow::Result<usize> {
    let template = standard_template(&BENCH_QUESTIONS);
    let store_error: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let store = |bytes: &[u8]| {
        if let Err(e) = store_by_hash(dir, bytes) {
            *store_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
    };
    let turned = store_pool.in_place_scope(|s| {
        uploads
            .par_iter()
            .map(|upload| {
                let (turned, cuts) = treat_one(upload, &template)?;
                s.spawn(|_| store(upload));
                for cut in cuts {
                    s.spawn(move |_| store(&cut));
                }
                Ok(usize::from(turned))
            })
            .sum::<anyhow::Result<usize>>()
    })?;
    match store_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e).context("storing"),
        None => Ok(turned),
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Generates `pages` pages at `dpi`, then times their ingest.
pub fn ingest(pages: u32, dpi: u32) -> anyhow::Result<IngestReport> {
    if pages == 0 || !(50..=600).contains(&dpi) {
        bail!("give at least one page and a dpi from 50 to 600");
    }
    let dir = TempDir(std::env::temp_dir().join(format!("markroom-bench-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).with_context(|| format!("creating {}", dir.0.display()))?;
    let store_pool = ThreadPoolBuilder::new().num_threads(STORE_THREADS).build()?;
    let uploads = uploads(pages, dpi);

    let start = Instant::now();
    let turned = ingest_all(&uploads, &dir.0, &store_pool)?;
    let seconds = start.elapsed().as_secs_f64();

    if turned != (pages / 2) as usize {
        bail!("{turned} pages were turned, but {} were scanned upside down", pages / 2);
    }
    Ok(IngestReport {
        pages,
        dpi,
        threads: rayon::current_num_threads(),
        store_threads: STORE_THREADS,
        seconds,
        pages_per_second: f64::from(pages) / seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_runs_and_stores_atomically() {
        let report = ingest(4, 50).unwrap();
        assert_eq!(report.pages, 4);
        assert!(report.pages_per_second > 0.0);
        let dir = tempfile::tempdir().unwrap();
        store_atomic(dir.path(), "a", b"one").unwrap();
        store_atomic(dir.path(), "a", b"two").unwrap();
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
