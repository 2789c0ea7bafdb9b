//! A batch's custody chain, read back in the order it happened.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::batches::{BatchSummary, BatchView, ChainStep};
use crate::db::custody::BatchRow;
use crate::db::{self, DbConn};
use crate::domain::approval::ApprovalKind;
use crate::http::error::ApiError;

pub fn summary(c: &mut DbConn, b: BatchRow, exam_code: &str) -> Result<BatchSummary, ApiError> {
    let sheets = db::scripts::sheet_count(c, &b.exam_id, &b.id)?;
    Ok(BatchSummary {
        exam: exam_code.to_string(),
        label: b.label,
        status: b.status,
        opened_at: b.opened_at.and_utc(),
        released_at: b.released_at.map(|t| t.and_utc()),
        sheets,
        id: b.id,
    })
}

/// Usernames for ids, in one query.
fn usernames(c: &mut DbConn, ids: Vec<String>) -> Result<HashMap<String, String>, ApiError> {
    Ok(db::users::names(c, &ids)?
        .into_iter()
        .map(|(id, username, _, _)| (id, username))
        .collect())
}

fn step(at: DateTime<Utc>, event: &str, people: Vec<String>, details: serde_json::Value) -> ChainStep {
    ChainStep {
        at,
        event: event.into(),
        people,
        details,
    }
}

pub fn view(c: &mut DbConn, batch: BatchRow) -> Result<BatchView, ApiError> {
    let opening = db::approvals::find(c, &batch.approval_id)?;
    let release_payload = serde_json::json!({ "batch_id": batch.id }).to_string();
    let releases =
        db::approvals::approved_with_payload(c, &batch.exam_id, ApprovalKind::ReleaseBatch, &release_payload)?;
    let handovers = db::custody::handovers_of(c, &batch.exam_id, &batch.id)?;
    let mut ids = vec![opening.requested_by.clone()];
    ids.extend(opening.decided_by.clone());
    for r in &releases {
        ids.push(r.requested_by.clone());
        ids.extend(r.decided_by.clone());
    }
    let mut confirmations = vec![];
    for h in &handovers {
        ids.extend(h.parties().iter().map(|p| p.to_string()));
        confirmations.push(db::custody::confirmations(c, &h.exam_id, &h.id)?);
    }
    let names = usernames(c, ids)?;
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let pair = |r: &db::approvals::ApprovalRow| {
        let mut p = vec![name(&r.requested_by)];
        p.extend(r.decided_by.as_deref().map(name));
        p
    };
    let mut chain = vec![step(
        opening.decided_at.unwrap_or(opening.requested_at).and_utc(),
        "opened",
        pair(&opening),
        serde_json::json!({ "approval": opening.id }),
    )];
    for (h, confirmed) in handovers.iter().zip(confirmations) {
        let people = h.parties().iter().map(|p| name(p)).collect();
        let details = serde_json::json!({ "handover": h.id, "note": h.note, "confirmed": confirmed.len(), "of": 4 });
        chain.push(step(h.created_at.and_utc(), "handover", people, details));
        for (who, at) in confirmed {
            let details = serde_json::json!({ "handover": h.id });
            chain.push(step(at.and_utc(), "handover_confirmed", vec![name(&who)], details));
        }
    }
    for r in &releases {
        let at = r.decided_at.unwrap_or(r.requested_at).and_utc();
        chain.push(step(at, "released", pair(r), serde_json::json!({ "approval": r.id })));
    }
    chain.sort_by_key(|s| s.at);
    let exam_code = db::exams::code_of(c, &batch.exam_id)?.unwrap_or_default();
    Ok(BatchView {
        batch: summary(c, batch, &exam_code)?,
        chain,
    })
}
