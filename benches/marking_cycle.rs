//! The marking cycle end to end, as a marking room runs it: `markroom demo` prepares a campaign
//! in a fresh database, `markroom serve` runs it on a free port, and `markroom simulate` drives
//! it through the public API (logins first, then lease and score as fast as answers come).
//! The simulator's figures are printed; any error fails the bench.
//!
//!     cargo bench --bench marking_cycle                 # 100, 1,000 and 3,000 markers, 60 s each
//!     DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench marking_cycle
//!     CYCLE_BENCH_MARKERS=1000 CYCLE_BENCH_SECONDS=30 cargo bench --bench marking_cycle
//!
//! Each size gets 30 candidates a marker (a campaign that does not run dry in the time).
//! `cargo test --all-targets` runs it with 8 markers for 3 s, to check that it still works.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

const EXE: &str = env!("CARGO_BIN_EXE_markroom");

fn sizes() -> (Vec<usize>, u64) {
    let full = std::env::args().any(|a| a == "--bench");
    let markers = std::env::var("CYCLE_BENCH_MARKERS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| if full { vec![100, 1000, 3000] } else { vec![8] });
    let seconds = std::env::var("CYCLE_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 60 } else { 3 });
    (markers, seconds)
}

/// A command of the binary against the bench's database and data directory.
fn markroom(bench: &common::BenchDb) -> Command {
    let mut cmd = Command::new(EXE);
    cmd.env("MARKROOM_DATA_DIR", &bench.settings.data_dir)
        .env_remove("MARKROOM_CONFIG")
        .env_remove("DATABASE_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(url) = &bench.settings.database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

fn check(what: &str, out: std::process::Output) -> Result<(), Error> {
    if out.status.success() {
        return Ok(());
    }
    Err(format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr)).into())
}

/// The server, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(bench: &common::BenchDb) -> Result<(Server, String), Error> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = markroom(bench)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = Server(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the server did not listen within a minute".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((server, format!("http://127.0.0.1:{port}")))
}

fn run(markers: usize, seconds: u64) -> Result<(), Error> {
    let bench = common::BenchDb::new("cycle")?;
    let dir = bench.settings.data_dir.clone();
    let accounts = dir.join("demo.json");
    let prepared = Instant::now();
    check(
        "demo",
        markroom(&bench)
            .args(["demo", "--dpi", "50", "--markers", &markers.to_string()])
            .args(["--candidates", &(markers * 30).max(60).to_string(), "--output"])
            .arg(&accounts)
            .output()?,
    )?;
    let prepared = prepared.elapsed();
    let (server, base) = serve(&bench)?;
    let report_path = dir.join("report.json");
    check(
        "simulate",
        markroom(&bench)
            .args(["simulate", "--server", &base, "--markers", &markers.to_string()])
            .args(["--duration", &seconds.to_string(), "--image-seconds", "2", "--accounts"])
            .arg(&accounts)
            .arg("--output")
            .arg(&report_path)
            .output()?,
    )?;
    drop(server);
    print(&bench, markers, prepared, &report_path)
}

fn print(bench: &common::BenchDb, markers: usize, prepared: Duration, report: &Path) -> Result<(), Error> {
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(report)?)?;
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "marking cycle, {}, {markers} markers: {:.0} cycles/s, p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, \
         images {:.0}/s, errors {} (demo prepared in {:.0} s)",
        bench.backend(),
        f("cycles_per_second"),
        f("p50_ms"),
        f("p99_ms"),
        f("p999_ms"),
        f("images_per_second"),
        r["errors_total"],
        prepared.as_secs_f64(),
    );
    if r["errors_total"].as_u64() != Some(0) || r["cycles"].as_u64().unwrap_or(0) == 0 {
        return Err(format!("the run had errors or marked nothing: {r}").into());
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let (markers, seconds) = sizes();
    for n in markers {
        run(n, seconds)?;
    }
    Ok(())
}
