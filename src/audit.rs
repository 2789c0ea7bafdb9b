//! The tamper-evident audit log (R10).
//!
//! Design: a request appends its entries with a plain INSERT inside its own transaction, so an
//! entry exists exactly when the change it records committed, and no request waits on a shared
//! chain head. The log is one chain per exam (the entries whose `exam_id` names it) plus the
//! chain `''` for entries that concern no exam, so an exam's log distributes with the exam and
//! no exam's sealing queues behind another's head. A sealer (one task per server, every
//! `audit.seal_interval_ms`) takes each chain's committed, unsealed rows in insertion order,
//! gives them consecutive `seq` numbers within the chain and chains them:
//! `hash = SHA-256(prev_hash | canonical JSON of the entry)`. Chain order is sealing order. On
//! PostgreSQL a chain's head row is locked while that chain is sealed, so several servers may
//! run sealers safely. After sealing, every head that moved is written, at most every
//! `anchor_interval_secs`, to an append-only anchor file outside the database (a line per chain)
//! and to the log; `markroom audit verify` recomputes every chain in one snapshot and checks it
//! against the anchors, so an edited, deleted, truncated or re-hashed log, or a deleted chain,
//! is caught.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::audit::{self as rows, EntryRow, Head};
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

/// Chains one chain's committed, unsealed entries (up to `SEAL_BATCH` of them). Returns the
/// chain's new head when it moved.
pub fn seal_chain(conn: &mut DbConn, chain: &str) -> Result<Option<(i64, String)>, DbError> {
    // A look without the lock first: readers seal before they page, mostly with nothing to do.
    if !rows::has_unsealed(conn, chain)? {
        return Ok(None);
    }
    let (mut seq, mut hash) = rows::lock_head(conn, chain)?;
    // Only under the lock: rows another sealer chained while we waited are no longer pending.
    let pending = rows::unsealed(conn, chain, SEAL_BATCH)?;
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
    rows::seal_all(conn, chain, &batch)?;
    rows::set_head(conn, chain, seq, &hash)?;
    rows::Written::sealed(batch.len());
    Ok(Some((seq, hash)))
}

/// Chains the pending entries of every chain in the caller's transaction. Returns the heads
/// that moved.
pub fn seal_pending(conn: &mut DbConn) -> Result<Vec<Head>, DbError> {
    let mut moved = vec![];
    for chain in rows::pending_chains(conn)? {
        if let Some((seq, hash)) = seal_chain(conn, &chain)? {
            moved.push(Head { chain, seq, hash });
        }
    }
    Ok(moved)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The exam id of the chain, or "" for the chain of entries that concern no exam (lines
    /// written before the log had chains carry none, and were of that chain).
    #[serde(default)]
    pub chain: String,
    pub seq: i64,
    pub hash: String,
    pub at: String,
}

/// Appends a line per head and forces them to disk; when this made the file, its directory
/// entry too, or a power cut could lose the whole file.
pub fn write_anchors(path: &Path, heads: &[Head]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let at = Utc::now().to_rfc3339();
    let mut lines = String::new();
    for h in heads {
        lines += &serde_json::to_string(&Anchor {
            chain: h.chain.clone(),
            seq: h.seq,
            hash: h.hash.clone(),
            at: at.clone(),
        })?;
        lines.push('\n');
    }
    let mut append = std::fs::OpenOptions::new();
    append.append(true);
    let (mut f, created) = match append.clone().create_new(true).open(path) {
        Ok(f) => (f, true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (append.open(path)?, false),
        Err(e) => return Err(e),
    };
    f.write_all(lines.as_bytes())?;
    f.sync_data()?;
    if created {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Every anchor in the file, in the order written; none when there is no file yet.
pub fn read_anchors(path: &Path) -> std::io::Result<Vec<Anchor>> {
    Ok(load_anchors(path)?.unwrap_or_default())
}

/// The anchors, or `None` when the file does not exist.
fn load_anchors(path: &Path) -> std::io::Result<Option<Vec<Anchor>>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
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
    Ok(Some(out))
}

/// Seals on a timer for as long as the server runs, each chain in a transaction of its own, and
/// anchors every head that moved past its last anchor (at most every `anchor_every`), whoever
/// sealed it.
pub fn spawn_sealer(db: Db, interval: Duration, anchor_every: Duration, anchor_path: PathBuf) -> Sealer {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut anchored = Anchored::default();
        loop {
            let last = tokio::select! {
                _ = tick.tick() => false,
                _ = &mut stopped => true,
            };
            let sealed = if last {
                seal_everything(&db).await
            } else {
                seal_round(&db).await
            };
            if let Err(e) = sealed {
                tracing::error!(error = %e, "audit sealer failed; will retry");
                if !last {
                    continue;
                }
            }
            // The last round anchors whatever it chained, however recently the one before wrote.
            let every = if last { Duration::ZERO } else { anchor_every };
            match db.read(rows::heads).await {
                Ok(heads) => anchored.anchor(heads, every, &anchor_path).await,
                Err(e) => tracing::error!(error = %e, "audit chain heads could not be read"),
            }
            record_lag(&db).await;
            if last {
                return;
            }
        }
    });
    Sealer { stop, task }
}

/// The running sealer; `stop` makes it chain what is committed, anchor, and end.
pub struct Sealer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Sealer {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the audit sealer did not end cleanly");
        }
    }
}

/// `markroom_audit_sealer_lag_seconds`: how long the oldest committed entry has waited.
async fn record_lag(db: &Db) {
    if let Ok(oldest) = db.read(rows::oldest_unsealed).await {
        let lag = oldest.map_or(0.0, |at| {
            (chrono::Utc::now().naive_utc() - at).as_seconds_f64().max(0.0)
        });
        metrics::gauge!("markroom_audit_sealer_lag_seconds").set(lag);
    }
}

/// The last rounds: until no chain has an entry waiting (a round chains at most a batch each).
async fn seal_everything(db: &Db) -> Result<(), DbError> {
    loop {
        seal_round(db).await?;
        if db.read(rows::pending_chains).await?.is_empty() {
            return Ok(());
        }
    }
}

async fn seal_round(db: &Db) -> Result<(), DbError> {
    for chain in db.read(rows::pending_chains).await? {
        db.write(move |c| seal_chain(c, &chain)).await?;
    }
    Ok(())
}

/// What this server last anchored: each chain's sequence number, and when it last wrote.
#[derive(Default)]
struct Anchored {
    seqs: HashMap<String, i64>,
    at: Option<Instant>,
}

impl Anchored {
    async fn anchor(&mut self, heads: Vec<Head>, every: Duration, path: &Path) {
        if self.at.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        let due: Vec<Head> = heads
            .into_iter()
            .filter(|h| h.seq > self.seqs.get(&h.chain).copied().unwrap_or(0))
            .collect();
        if due.is_empty() {
            return;
        }
        let (path, lines) = (path.to_path_buf(), due.clone());
        match tokio::task::spawn_blocking(move || write_anchors(&path, &lines)).await {
            Ok(Ok(())) => {
                for h in due {
                    tracing::info!(target: "markroom::audit", chain = %h.chain, seq = h.seq, hash = %h.hash, "audit chain head anchored");
                    self.seqs.insert(h.chain, h.seq);
                }
                self.at = Some(Instant::now());
            }
            Ok(Err(e)) => tracing::error!(error = %e, "audit anchor could not be written"),
            Err(e) => tracing::error!(error = %e, "audit anchor task failed"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub chains: usize,
    pub entries: i64,
    pub anchors: usize,
    pub unsealed: i64,
    /// False when there is no anchor file yet: then each chain was checked only against itself
    /// and its head, which a forger who re-hashes both would pass.
    pub anchor_file_found: bool,
    /// The first thing that does not match, naming the chain and the entry; `None` when all is
    /// well.
    pub problem: Option<String>,
}

/// Recomputes every chain and checks it against its stored head and the anchors, all in one
/// snapshot, so entries sealed while it runs are neither seen nor missed.
pub fn verify(db: &Db, anchor_path: &Path) -> Result<VerifyReport, VerifyError> {
    // Read before the snapshot opens: an anchor is written only after its seal committed, so
    // every anchor read now names an entry the snapshot holds.
    let anchors = load_anchors(anchor_path).map_err(VerifyError::Anchors)?;
    let anchor_file_found = anchors.is_some();
    let anchors = anchors.unwrap_or_default();
    let mut by_chain: HashMap<&str, Vec<&Anchor>> = HashMap::new();
    for a in &anchors {
        by_chain.entry(a.chain.as_str()).or_default().push(a);
    }
    db.snapshot_now(|c| -> Result<VerifyReport, VerifyError> {
        let heads: HashMap<String, Head> = rows::heads(c)?.into_iter().map(|h| (h.chain.clone(), h)).collect();
        // A chain deleted whole, head and all, is still named by its anchors.
        let mut chains: BTreeSet<String> = heads.keys().cloned().collect();
        chains.extend(rows::sealed_chains(c)?);
        chains.extend(by_chain.keys().map(|k| k.to_string()));
        let mut report = VerifyReport {
            chains: chains.len(),
            entries: 0,
            anchors: anchors.len(),
            unsealed: rows::unsealed_count(c)?,
            anchor_file_found,
            problem: None,
        };
        for chain in &chains {
            let head = heads.get(chain);
            let anchors = by_chain.get(chain.as_str()).map(Vec::as_slice).unwrap_or_default();
            let (entries, problem) = check_chain(c, chain, head, anchors)?;
            report.entries += entries;
            if let Some(p) = problem {
                report.problem = Some(if chain.is_empty() {
                    p
                } else {
                    format!("chain of exam {chain}: {p}")
                });
                break;
            }
        }
        Ok(report)
    })
}

/// Walks one chain from genesis; returns the entries that checked out and the first problem.
fn check_chain(
    c: &mut DbConn,
    chain: &str,
    head: Option<&Head>,
    anchors: &[&Anchor],
) -> Result<(i64, Option<String>), DbError> {
    let by_seq: HashMap<i64, &Anchor> = anchors.iter().map(|a| (a.seq, *a)).collect();
    let (mut entries, mut last, mut prev) = (0i64, 0i64, GENESIS.to_string());
    loop {
        let page = rows::page(c, chain, last, 5000)?;
        if page.is_empty() {
            break;
        }
        for e in page {
            let seq = e.seq.unwrap_or_default();
            if let Some(p) = link_problem(last, &prev, seq, &e, by_seq.get(&seq).copied()) {
                return Ok((entries, Some(p)));
            }
            prev = e.hash.unwrap_or_default();
            last = seq;
            entries += 1;
        }
    }
    Ok((entries, end_problem(last, &prev, head, anchors)))
}

/// What is wrong with entry `seq`, coming after entry `last` whose hash is `prev`.
fn link_problem(last: i64, prev: &str, seq: i64, e: &EntryRow, anchor: Option<&Anchor>) -> Option<String> {
    if seq != last + 1 {
        Some(format!(
            "entry {} is missing (the log jumps from {last} to {seq})",
            last + 1
        ))
    } else if e.prev_hash.as_deref() != Some(prev) {
        Some(format!(
            "entry {seq} does not link to entry {last} (an entry before it was removed or altered)"
        ))
    } else if e.hash.as_deref() != Some(entry_hash(prev, seq, e).as_str()) {
        Some(format!(
            "entry {seq} has been altered: its content does not match its hash"
        ))
    } else {
        match anchor {
            Some(a) if Some(a.hash.as_str()) != e.hash.as_deref() => Some(format!(
                "entry {seq} does not match the anchor written at {} (the chain was re-hashed)",
                a.at
            )),
            _ => None,
        }
    }
}

/// What is wrong with a chain that ends at entry `last` (hash `prev`), given its head and anchors.
fn end_problem(last: i64, prev: &str, head: Option<&Head>, anchors: &[&Anchor]) -> Option<String> {
    if let Some(a) = anchors.iter().find(|a| a.seq > last) {
        return Some(format!(
            "entry {} is missing: the anchor written at {} names it, but the log ends at {last} (truncated)",
            a.seq, a.at
        ));
    }
    match head {
        Some(h) if h.seq > last => Some(format!(
            "entry {} is missing: the chain head names it, but the log ends at {last} (truncated)",
            h.seq
        )),
        Some(h) if h.seq < last => Some(format!(
            "entries {} to {last} are past the chain head at {} (the head was rolled back or entries forged)",
            h.seq + 1,
            h.seq
        )),
        Some(h) if h.hash != prev => Some(format!(
            "entry {last} does not match the chain head (the chain or its head was re-hashed)"
        )),
        None if last > 0 => Some(format!(
            "the chain head is missing, but the log holds entries up to {last}"
        )),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn head(chain: &str, seq: i64) -> Head {
        Head {
            chain: chain.into(),
            seq,
            hash: format!("{seq:064x}"),
        }
    }

    #[test]
    fn anchor_lines_from_before_chains_belong_to_the_no_exam_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchors.jsonl");
        std::fs::write(&path, "{\"seq\":3,\"hash\":\"ab\",\"at\":\"2026-01-01T00:00:00Z\"}\n").unwrap();
        write_anchors(&path, &[head("exam-1", 2)]).unwrap();
        let read: Vec<(String, i64)> = read_anchors(&path)
            .unwrap()
            .into_iter()
            .map(|a| (a.chain, a.seq))
            .collect();
        assert_eq!(read, [("".to_string(), 3), ("exam-1".to_string(), 2)]);
    }

    #[test]
    fn no_anchor_file_is_told_apart_from_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit").join("anchors.jsonl");
        assert_eq!(load_anchors(&path).unwrap(), None);
        write_anchors(&path, &[]).unwrap();
        assert_eq!(load_anchors(&path).unwrap(), Some(vec![]));
        write_anchors(&path, &[head("", 7), head("exam-1", 1)]).unwrap();
        assert_eq!(read_anchors(&path).unwrap().len(), 2);
    }
}
