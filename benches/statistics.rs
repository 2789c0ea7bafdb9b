//! The full question statistics of one generated question: 1,000,000 marks from 3,000 markers
//! (333,333 essays with three independent marks, plus one essay with a single mark).
//!
//!     cargo bench --bench statistics                          # full size, release
//!     STATS_BENCH_OUT=/tmp/statsbench cargo bench --bench statistics
//!         # also writes marks.csv and report.json there, for scripts/stats_reference.py
//!
//! `cargo test --all-targets` runs it at 30,000 marks from 300 markers, to check that it still
//! works; STATS_BENCH_MARKS and STATS_BENCH_MARKERS set other sizes.

use std::io::Write;
use std::time::Instant;

use markroom::domain::statistics::{Mark, Scale, TriggerRules, marker_series, question_statistics};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MAX: f64 = 60.0;
const TOLERANCE: f64 = 6.0;

fn sizes() -> (usize, usize) {
    let full = std::env::args().any(|a| a == "--bench");
    let var = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    if full {
        (var("STATS_BENCH_MARKS", 1_000_000), var("STATS_BENCH_MARKERS", 3000))
    } else {
        (var("STATS_BENCH_MARKS", 30_000), var("STATS_BENCH_MARKERS", 300))
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// How a generated marker marks: bias, noise, shrinkage to the middle, drift per own script.
struct Behaviour {
    bias: f64,
    noise: f64,
    shrink: f64,
    drift: f64,
}

fn behaviours(markers: usize, rng: &mut ChaCha8Rng) -> Vec<Behaviour> {
    (0..markers)
        .map(|m| Behaviour {
            bias: 0.8 * normal(rng),
            noise: if m % 97 == 5 { 6.0 } else { 3.0 },
            shrink: if m % 89 == 7 { 0.6 } else { 0.0 },
            drift: if m % 83 == 11 { 0.02 } else { 0.0 },
        })
        .collect()
}

/// Essays of three marks from distinct random markers; a last essay takes the remainder.
fn generate(marks: usize, markers: usize) -> Vec<Mark> {
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_129);
    let who = behaviours(markers, &mut rng);
    let mut seq = vec![0u64; markers];
    let mut out = Vec::with_capacity(marks);
    let mut script = 0u32;
    while out.len() < marks {
        let truth = 36.0 + 10.0 * normal(&mut rng);
        let mut chosen: Vec<usize> = Vec::with_capacity(3);
        while chosen.len() < 3.min(marks - out.len()) {
            let m = rng.random_range(0..markers);
            if !chosen.contains(&m) {
                chosen.push(m);
            }
        }
        for m in chosen {
            let b = &who[m];
            seq[m] += 1;
            let seen = truth + b.shrink * (36.0 - truth);
            let raw = seen + b.bias + b.drift * seq[m] as f64 + b.noise * normal(&mut rng);
            out.push(Mark {
                script,
                marker: m as u32,
                score: raw.round().clamp(0.0, MAX),
                seq: Some(seq[m]),
            });
        }
        script += 1;
    }
    out
}

fn write_inputs(dir: &str, marks: &[Mark], ids: &[String], report: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut csv = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/marks.csv"))?);
    writeln!(csv, "script_id,marker_id,score,seq")?;
    for m in marks {
        writeln!(
            csv,
            "S{:06},{},{},{}",
            m.script,
            ids[m.marker as usize],
            m.score,
            m.seq.unwrap_or(0)
        )?;
    }
    csv.flush()?;
    std::fs::write(format!("{dir}/report.json"), report)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, markers) = sizes();
    let marks = generate(n, markers);
    let ids: Vec<String> = (0..markers).map(|m| format!("K{m:04}")).collect();
    let scale = Scale { max: MAX, step: 1.0 };
    let rules = TriggerRules::default();
    // A first run warms the allocator and the thread pool; the second is the one timed.
    let _ = question_statistics(&marks, &ids, &scale, TOLERANCE, &rules);
    let start = Instant::now();
    let report = question_statistics(&marks, &ids, &scale, TOLERANCE, &rules);
    let compute = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let json = serde_json::to_string(&report)?;
    let serialise = start.elapsed().as_secs_f64();
    // The additive model alone (with its dense inverse), through the plots' series.
    let start = Instant::now();
    let series = marker_series(&marks);
    let model = start.elapsed().as_secs_f64();
    let flagged = report.markers.iter().filter(|m| !m.flags.is_empty()).count();
    println!(
        "statistics benchmark: {} marks, {} markers, {} scripts",
        report.n_marks, report.n_markers, report.n_scripts
    );
    println!(
        "  full statistics:   {compute:8.3} s  ({} pairs, {flagged} markers flagged)",
        report.pairs.len()
    );
    println!(
        "  additive model:    {model:8.3} s  (alone, with the series of {} markers)",
        series.len()
    );
    println!(
        "  JSON report:       {serialise:8.3} s  ({} MB)",
        json.len() / 1_000_000
    );
    if let Ok(dir) = std::env::var("STATS_BENCH_OUT") {
        write_inputs(&dir, &marks, &ids, &json)?;
        println!("  wrote {dir}/marks.csv and {dir}/report.json");
    }
    Ok(())
}
