//! What the audit log costs a request, and how fast the sealer chains.
//!
//!     cargo bench --bench audit_chain                     # SQLite, synchronous=FULL
//!     DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench audit_chain
//!
//! (a) the same small write transaction (bump a token version) with and without one audit
//!     append, committed one by one; the difference is the append's cost on the hot path;
//! (b) chaining a backlog of 20,000 entries with `seal_pending`, per entry.

mod common;

use std::time::Instant;

use chrono::Utc;
use markroom::db::audit::NewEntry;
use markroom::db::{self, DbError};
use markroom::domain::role::Role;

/// `cargo bench` passes `--bench`; `cargo test --all-targets` does not, and then a small run
/// only checks that the benchmark still works.
fn sizes() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        (1000, 20_000)
    } else {
        (20, 200)
    }
}

fn entry(i: usize) -> NewEntry {
    NewEntry {
        actor_id: Some("00000000-0000-0000-0000-000000000001".into()),
        actor_role: Some("marker".into()),
        workstation_id: Some("00000000-0000-0000-0000-000000000002".into()),
        action: "mark.score".into(),
        object_type: Some("task".into()),
        object_id: Some(format!("task-{i}")),
        exam_id: None,
        outcome: "ok".into(),
        details: r#"{"score":12.5,"seconds":94}"#.into(),
        request_id: Some(format!("{i:032x}")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (txns, backlog) = sizes();
    let bench = common::BenchDb::new("audit")?;
    let db = &bench.db;
    let hash = markroom::secrets::hash_password("benchmark password")?;
    let now = Utc::now();
    let user = db.write_now(|c| {
        db::users::insert(
            c,
            &db::users::NewUser {
                username: "bench",
                password_hash: &hash,
                role: Role::Marker,
                chief: false,
                active: true,
                created_by: None,
                full_name: "Bench Marker",
                id_document_hash: "bench",
                must_change_password: false,
                one_time_password_expires_at: None,
            },
            now,
        )
    })?;

    let run = |with_audit: bool| -> Result<f64, DbError> {
        let start = Instant::now();
        for i in 0..txns {
            db.write_now(|c| -> Result<(), DbError> {
                db::users::bump_token_version(c, &user)?;
                if with_audit {
                    db::audit::append(c, &entry(i), now)?;
                }
                Ok(())
            })?;
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / txns as f64)
    };
    run(false)?; // warm up
    let without = run(false)?;
    let with = run(true)?;
    db.write_now(markroom::audit::seal_pending)?;

    db.write_now(|c| -> Result<(), DbError> {
        for i in 0..backlog {
            db::audit::append(c, &entry(i), now)?;
        }
        Ok(())
    })?;
    let start = Instant::now();
    let mut sealed = 0;
    while !db.write_now(markroom::audit::seal_pending)?.is_empty() {
        sealed += 1;
    }
    let seal_us = start.elapsed().as_secs_f64() * 1e6 / backlog as f64;
    let start = Instant::now();
    let report = markroom::audit::verify(db, &bench.settings.data_dir.join("none.jsonl"))?;
    let verify_us = start.elapsed().as_secs_f64() * 1e6 / report.entries as f64;

    let backend = if bench.pg {
        "postgresql"
    } else {
        "sqlite (synchronous=FULL)"
    };
    println!("audit chain benchmark on {backend}");
    println!("  write transaction, no audit:   {without:9.1} µs");
    println!(
        "  write transaction + 1 append:  {with:9.1} µs   (append costs {:.1} µs)",
        with - without
    );
    println!("  sealing a backlog:             {seal_us:9.1} µs per entry ({sealed} rounds of up to 2000)");
    println!(
        "  verifying the chain:           {verify_us:9.1} µs per entry ({} entries)",
        report.entries
    );
    Ok(())
}
