//! What one live trigger check of a question costs: reading its marks from the database and
//! computing the figures the triggers read (the work `http::monitor` repeats after marks).
//!
//!     cargo bench --bench trigger_check                  # SQLite, 1,000,000 marks, 3,000 markers
//!     DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench trigger_check
//!
//! The marks are written straight into the `marks` table (foreign keys off for the load: the
//! rows they would point at do not matter to the check), three per script.

use std::time::Instant;

mod common;

use markroom::db;
use markroom::domain::rules::MarkingRules;
use markroom::http::triggers::{QuestionData, compute};

const MARKERS: u64 = 3000;

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs a small size.
fn marks() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        3_000
    }
}

/// Three marks a script by three different markers: latent + marker effect + noise, in
/// hundredths, on a 0–60 scale.
fn load_sql(n: u64, pg: bool) -> String {
    let rows = if pg {
        format!("SELECT g FROM generate_series(0, {}) AS g", n - 1)
    } else {
        format!(
            "WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < {}) SELECT g FROM s",
            n - 1
        )
    };
    let text = |e: &str| format!("CAST({e} AS TEXT)");
    let script = "(g / 3)";
    let marker = format!("(({script} * 3 + (g % 3) * 997) % {MARKERS})");
    format!(
        "INSERT INTO marks (exam_id, id, task_id, serve_id, script_id, question_id, marker_id, score, \
         criteria, annotations, seconds_spent, void, created_at) \
         SELECT 'bench', {id}, {id}, {id}, {s}, 'W1', {m}, \
         100 * (10 + ({script} * 37) % 40 + ({marker} % 5) - 2 + (g * 13) % 3), 'null', '[]', 60 + g % 90, \
         FALSE, CAST('2026-07-01 08:00:00' AS TIMESTAMP) \
         FROM ({rows}) AS r",
        id = text("g"),
        s = text(script),
        m = text(&marker),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = marks();
    let bench = common::BenchDb::new("trigger")?;
    let pg = bench.pg;
    let analyze = if pg { "ANALYZE marks" } else { "" };
    bench.load(&[load_sql(n, pg)], analyze)?;
    let db = &bench.db;

    let rules = MarkingRules::default();
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let start = Instant::now();
        let marks = db.read_now(|c| db::marking::live_marks_of_question(c, "bench", "W1"))?;
        let read = start.elapsed().as_secs_f64();
        assert_eq!(marks.len() as u64, n);
        let data = QuestionData {
            question_id: "W1".into(),
            code: "W1".into(),
            max: 60.0,
            step: 1.0,
            tolerance: 6.0,
            marks,
            seeds: Vec::new(),
            self_checks: Vec::new(),
        };
        let start = Instant::now();
        let stats = compute(&data, &rules, false);
        let fit = start.elapsed().as_secs_f64();
        assert_eq!(stats.report.n_marks as u64, n);
        best = (best.0.min(read), best.1.min(fit));
    }
    let backend = bench.backend();
    println!("trigger check of one question on {backend}: {n} marks, {MARKERS} markers (best of 3)");
    println!("  read the live marks:       {:8.3} s", best.0);
    println!("  compute the figures:       {:8.3} s", best.1);
    println!("  one check:                 {:8.3} s", best.0 + best.1);
    Ok(())
}
