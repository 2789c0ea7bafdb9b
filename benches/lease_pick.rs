//! Lease selection with a large queue: how long `eligible_tasks` (the read behind
//! `POST /marking/next`) takes to find random eligible open tasks among 1,000,000, for a
//! marker who must not get their own school's scripts or scripts they held. It must not scan.
//!
//!     cargo bench --bench lease_pick                  # SQLite, 1,000,000 open tasks
//!     DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench lease_pick
//!
//! Scripts and tasks are written straight into their tables (foreign keys off for the load).

use std::time::Instant;

mod common;

use markroom::db;
use markroom::db::marking::Eligible;

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs a small size.
fn tasks() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        3_000
    }
}

fn series(n: u64, pg: bool) -> String {
    if pg {
        format!("SELECT g FROM generate_series(0, {}) AS g", n - 1)
    } else {
        format!(
            "WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < {}) SELECT g FROM s",
            n - 1
        )
    }
}

/// One script per task, spread over 40 schools; shuffle keys spread over the whole i64 range.
fn load_sql(n: u64, pg: bool) -> [String; 2] {
    let text = |e: &str| format!("CAST({e} AS TEXT)");
    let scripts = format!(
        "INSERT INTO scripts (exam_id, id, question_id, sheet_id, anonymous_code, school_code, state, page, image_key, created_at) \
         SELECT 'bench', {id}, 'W1', {id}, {id}, {school}, 'awaiting', 1, 'none', CAST('2026-07-01 08:00:00' AS TIMESTAMP) \
         FROM ({rows}) AS r",
        id = text("g"),
        school = text("g % 40"),
        rows = series(n, pg)
    );
    let tasks = format!(
        "INSERT INTO tasks (exam_id, id, script_id, question_id, state, shuffle, created_at) \
         SELECT 'bench', {id}, {id}, 'W1', 'open', (g * 2654435761) % 4294967296 * 2147483648 - 4611686018427387904, \
         CAST('2026-07-01 08:00:00' AS TIMESTAMP) FROM ({rows}) AS r",
        id = text("g"),
        rows = series(n, pg)
    );
    [scripts, tasks]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = tasks();
    let bench = common::BenchDb::new("lease")?;
    let load = Instant::now();
    bench.load(&load_sql(n, bench.pg), "ANALYZE scripts; ANALYZE tasks")?;
    let loaded = load.elapsed().as_secs_f64();
    let db = &bench.db;

    let questions = vec!["W1".to_string()];
    let picks = 2_000u32;
    let mut times = Vec::with_capacity(picks as usize);
    for i in 0..picks {
        let from = (i64::from(i) * 7_919_111_111_111).wrapping_mul(1_103_515_245);
        let marker = format!("m{}", i % 1000);
        let school = format!("{}", i % 40);
        let start = Instant::now();
        let found = db.read_now(|c| {
            let e = Eligible {
                exam_id: "bench",
                question_ids: &questions,
                marker_id: &marker,
                school_code: &school,
                relative_sheets: &[],
            };
            db::marking::eligible_tasks(c, &e, from)
        })?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let task = found.into_iter().next().ok_or("an open task is always found")?;
        assert_ne!(
            task.script_id.parse::<u64>()? % 40,
            u64::from(i % 40),
            "never the marker's own school"
        );
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
    let backend = bench.backend();
    println!("lease selection on {backend}: {n} open tasks (loaded in {loaded:.1} s), {picks} picks");
    println!("  p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms", at(0.5), at(0.99), at(1.0));
    Ok(())
}
