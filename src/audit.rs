//! The tamper-evident audit log (R10).
//!
//! Design: a request appends its entries with a plain INSERT inside its own transaction, so an
//! entry exists exactly when the change it records committed, and no request waits on a shared
//! chain head. A sealer (one task per server, every `audit.seal_interval_ms`) takes the
//! committed, unsealed rows in insertion order, gives them consecutive `seq` numbers and chains
//! them: `hash = SHA-256(prev_hash | canonical JSON of the entry)`. Chain order is sealing
//! order. On PostgreSQL the head row is locked while sealing, so several servers may run
//! sealers safely. After sealing, the head is written at most every `anchor_interval_secs` to
//! an append-only anchor file outside the database and to the log; `markroom audit verify`
//! recomputes the chain and checks it against the anchors, so an edited, deleted, truncated or
//! re-hashed log is caught.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::audit::{self as rows, EntryRow};
use crate::db::{Db, DbConn, DbError};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Rows chained per transaction; a burst larger than this is sealed over several rounds.
const SEAL_BATCH: i64 = 2000;

/// The hash of one entry given its predecessor's. Every stored field but the row id takes part.
pub fn entry_hash(prev_hash: &str, seq: i64, e: &EntryRow) -> String {
    let canonical = serde_json::json!([
        seq,
        e.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        e.actor_id,
        e.actor_role,
        e.workstation_id,
        e.action,
        e.object_type,
        e.object_id,
        e.exam_id,
        e.outcome,
        e.details,
        e.request_id,
    ]);
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"|");
    h.update(canonical.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// Chains every committed, unsealed entry. Returns the new head when it moved.
pub fn seal_pending(conn: &mut DbConn) -> Result<Option<(i64, String)>, DbError> {
    let (mut seq, mut hash) = rows::lock_head(conn)?;
    let pending = rows::unsealed(conn, SEAL_BATCH)?;
    if pending.is_empty() {
        return Ok(None);
    }
    let mut batch = Vec::with_capacity(pending.len());
    for e in &pending {
        seq += 1;
        let next = entry_hash(&hash, seq, e);
        batch.push(rows::Sealed {
            id: e.id,
            seq,
            prev_hash: std::mem::replace(&mut hash, next.clone()),
            hash: next,
        });
    }
    rows::seal_all(conn, &batch)?;
    rows::set_head(conn, seq, &hash)?;
    Ok(Some((seq, hash)))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    pub at: String,
}

/// Appends one anchor line and forces it to disk.
pub fn write_anchor(path: &Path, seq: i64, hash: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let line = serde_json::to_string(&Anchor {
        seq,
        hash: hash.to_string(),
        at: Utc::now().to_rfc3339(),
    })?;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(f, "{line}")?;
    f.sync_data()
}

pub fn read_anchors(path: &Path) -> std::io::Result<Vec<Anchor>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut out = vec![];
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let a: Anchor = serde_json::from_str(&line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("anchor line {}: {e}", i + 1)))?;
        out.push(a);
    }
    Ok(out)
}

/// Seals on a timer for as long as the server runs, and anchors the head whenever it has moved
/// past the last anchor (at most every `anchor_every`), whoever sealed it.
pub fn spawn_sealer(db: Db, interval: Duration, anchor_every: Duration, anchor_path: PathBuf) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_anchor: Option<(Instant, i64)> = None;
        loop {
            tick.tick().await;
            let head = db
                .write(|c| -> Result<(i64, String), DbError> {
                    seal_pending(c)?;
                    rows::head(c)
                })
                .await;
            let (seq, hash) = match head {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!(error = %e, "audit sealer failed; will retry");
                    continue;
                }
            };
            let due = match last_anchor {
                None => seq > 0,
                Some((at, anchored)) => seq > anchored && at.elapsed() >= anchor_every,
            };
            if !due {
                continue;
            }
            let path = anchor_path.clone();
            let h = hash.clone();
            match tokio::task::spawn_blocking(move || write_anchor(&path, seq, &h)).await {
                Ok(Ok(())) => {
                    tracing::info!(target: "markroom::audit", seq, hash = %hash, "audit chain head anchored");
                    last_anchor = Some((Instant::now(), seq));
                }
                Ok(Err(e)) => tracing::error!(error = %e, "audit anchor could not be written"),
                Err(e) => tracing::error!(error = %e, "audit anchor task failed"),
            }
        }
    });
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub entries: i64,
    pub anchors: usize,
    pub unsealed: i64,
    /// The first thing that does not match, naming the entry; `None` when all is well.
    pub problem: Option<String>,
}

/// Recomputes the whole chain and checks it against the stored head and the anchors.
pub fn verify(db: &Db, anchor_path: &Path) -> Result<VerifyReport, VerifyError> {
    let anchors = read_anchors(anchor_path).map_err(VerifyError::Anchors)?;
    let by_seq: HashMap<i64, &Anchor> = anchors.iter().map(|a| (a.seq, a)).collect();
    let (head_seq, head_hash, unsealed) = db.read_now(|c| -> Result<_, DbError> {
        let (s, h) = rows::head(c)?;
        Ok((s, h, rows::unsealed_count(c)?))
    })?;
    let mut report = VerifyReport {
        entries: 0,
        anchors: anchors.len(),
        unsealed,
        problem: None,
    };
    let (mut last, mut prev) = (0i64, GENESIS.to_string());
    'pages: loop {
        let page = db.read_now(|c| rows::page(c, last, 5000))?;
        if page.is_empty() {
            break;
        }
        for e in page {
            let seq = e.seq.unwrap_or_default();
            let problem = if seq != last + 1 {
                Some(format!(
                    "entry {} is missing (the log jumps from {last} to {seq})",
                    last + 1
                ))
            } else if e.prev_hash.as_deref() != Some(prev.as_str()) {
                Some(format!(
                    "entry {seq} does not link to entry {last} (an entry before it was removed or altered)"
                ))
            } else if e.hash.as_deref() != Some(entry_hash(&prev, seq, &e).as_str()) {
                Some(format!(
                    "entry {seq} has been altered: its content does not match its hash"
                ))
            } else {
                match by_seq.get(&seq) {
                    Some(a) if Some(a.hash.as_str()) != e.hash.as_deref() => Some(format!(
                        "entry {seq} does not match the anchor written at {} (the chain was re-hashed)",
                        a.at
                    )),
                    _ => None,
                }
            };
            if problem.is_some() {
                report.problem = problem;
                break 'pages;
            }
            prev = e.hash.unwrap_or_default();
            last = seq;
            report.entries += 1;
        }
    }
    if report.problem.is_none() {
        report.problem = if let Some(a) = anchors.iter().find(|a| a.seq > last) {
            Some(format!(
                "entry {} is missing: the anchor written at {} names it, but the log ends at {last} (truncated)",
                a.seq, a.at
            ))
        } else if head_seq != last || head_hash != prev {
            Some(format!(
                "entry {} is missing: the chain head names it, but the log ends at {last} (truncated)",
                head_seq.max(last + 1)
            ))
        } else {
            None
        };
    }
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("reading the anchor file: {0}")]
    Anchors(std::io::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for VerifyError {
    fn from(e: diesel::result::Error) -> Self {
        VerifyError::Db(e.into())
    }
}
