//! `markroom bench ingest`: pages per second through the whole pipeline (decode, find the
//! anchor, turn, mask, cut, encode, store) on generated A4 grey pages, across the cores.
//!
//! The store step writes files atomically into a temporary folder (temp name, write, fsync,
//! rename) named by their SHA-256, standing in for the storage interface until it is wired.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    ImageLimits, PageInput, SheetSpec, decode_page, encode_png, generate_sheet, standard_template, treat_sheet,
};

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub pages: u32,
    pub dpi: u32,
    pub threads: usize,
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
    let template = standard_template(&["W1", "S1", "S2", "S3"]);
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

/// One uploaded page through the pipeline; its outputs stored. Returns whether the page was
/// turned, so the caller can check that the half turned upside down were found.
fn ingest_one(bytes: &[u8], dir: &Path) -> anyhow::Result<bool> {
    let template = standard_template(&["W1", "S1", "S2", "S3"]);
    let image = decode_page(bytes, &ImageLimits::default())?;
    let sheet = treat_sheet(vec![PageInput { image, turn: None }], &template, &[])?;
    let page = &sheet.pages[0];
    if page.needs_treatment {
        bail!("a generated page's anchor was not found");
    }
    // The original as uploaded (the real store encrypts it); the masked cuts as they go out.
    store_by_hash(dir, bytes)?;
    for q in &sheet.questions {
        store_by_hash(dir, &q.png)?;
    }
    Ok(page.orientation == Some(super::Orientation::UpsideDown))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Generates `pages` pages at `dpi`, then times their ingest across rayon's threads.
pub fn ingest(pages: u32, dpi: u32) -> anyhow::Result<IngestReport> {
    if pages == 0 || !(50..=600).contains(&dpi) {
        bail!("give at least one page and a dpi from 50 to 600");
    }
    let dir = TempDir(std::env::temp_dir().join(format!("markroom-bench-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).with_context(|| format!("creating {}", dir.0.display()))?;
    let uploads = uploads(pages, dpi);

    let start = Instant::now();
    let turned = uploads
        .par_iter()
        .map(|bytes| ingest_one(bytes, &dir.0))
        .collect::<anyhow::Result<Vec<bool>>>()?;
    let seconds = start.elapsed().as_secs_f64();

    let expected_turned = (pages / 2) as usize;
    if turned.iter().filter(|&&t| t).count() != expected_turned {
        bail!("the upside-down pages were not all found");
    }
    Ok(IngestReport {
        pages,
        dpi,
        threads: rayon::current_num_threads(),
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
