//! Scan intake, pages per second through the whole image pipeline (decode, find the anchor,
//! turn, mask, cut, encode, store with fsync) across the cores: `markroom bench ingest` as a
//! bench target.
//!
//!     cargo bench --bench ingest                         # 200 A4 pages at 200 dpi
//!     INGEST_BENCH_PAGES=1000 cargo bench --bench ingest
//!
//! `cargo test --all-targets` runs it with 6 pages at 100 dpi, to check that it still works.

fn main() -> anyhow::Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let var = |name: &str, default: u32| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (pages, dpi) = if full {
        (var("INGEST_BENCH_PAGES", 200), var("INGEST_BENCH_DPI", 200))
    } else {
        (var("INGEST_BENCH_PAGES", 6), var("INGEST_BENCH_DPI", 100))
    };
    let r = markroom::scans::bench::ingest(pages, dpi)?;
    println!(
        "ingest: {} pages at {} dpi in {:.2} s: {:.0} pages/s ({} treating threads, {} storing)",
        r.pages, r.dpi, r.seconds, r.pages_per_second, r.threads, r.store_threads
    );
    anyhow::ensure!(
        r.pages == pages && r.pages_per_second > 0.0,
        "the bench treated no pages"
    );
    Ok(())
}
