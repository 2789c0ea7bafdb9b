//! Checks a question's marker triggers after its marks, in the background, without holding up
//! the marker who submitted.
//!
//! Each check is a full refit over every live mark of the question then stored (nothing is
//! carried between checks, so a restart or a second server loses no evidence). To stay cheap
//! as marks grow, a question is checked again once its new marks reach a thousandth of those
//! it had at the last check (at least one): every mark while it has under a thousand, every
//! 1,000 marks at a million. A check costs about a second at a million marks
//! (`cargo bench --bench trigger_check`), so a whole campaign of a million marks spends some
//! 1,000 × that second on checks, spread over its days, and a trigger acts within a thousandth
//! of the marks after the one that crossed it. Checks of one question never overlap: marks
//! arriving during one are counted toward the next, which follows after a rest of four times
//! the last check's length (at least 250 ms), so that checking never takes more than a fifth
//! of a core per question however fast marks come. The same check runs on demand
//! (`POST …/statistics/check`).

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web;

use super::error::ApiError;
use super::state::AppState;
use super::triggers;
use crate::domain::triggers::Trigger;

type Key = (String, String);

#[derive(Debug, Default, Clone, Copy)]
struct Question {
    running: bool,
    /// Live marks since the last check began.
    new_marks: u64,
    /// Live marks the last check saw.
    seen: u64,
}

impl Question {
    fn due(&self) -> bool {
        self.new_marks >= (self.seen / 1000).max(1)
    }
}

/// Per question: whether a check runs, and how many marks came since the last.
#[derive(Debug, Default)]
pub struct Monitor {
    questions: Mutex<HashMap<Key, Question>>,
}

impl Monitor {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<Key, Question>) -> R) -> R {
        let mut q = self.questions.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut q)
    }

    /// Counts a mark; true when this call must start a check.
    fn claim(&self, key: &Key) -> bool {
        self.with(|all| {
            let q = all.entry(key.clone()).or_default();
            q.new_marks += 1;
            if q.running || !q.due() {
                return false;
            }
            q.running = true;
            q.new_marks = 0;
            true
        })
    }

    /// After a check that saw `seen` marks: true when another is due now (and is claimed).
    fn finish(&self, key: &Key, seen: Option<u64>) -> bool {
        self.with(|all| {
            let q = all.entry(key.clone()).or_default();
            if let Some(n) = seen {
                q.seen = n;
            }
            if q.due() {
                q.new_marks = 0;
                true
            } else {
                q.running = false;
                false
            }
        })
    }
}

/// Frees the question if a check task dies half-way, so that later marks check it again.
struct Running<'a> {
    monitor: &'a Monitor,
    key: Key,
    done: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.monitor.with(|all| all.remove(&self.key));
        }
    }
}

/// Counts a live mark of the question, and checks the question in the background when due.
pub fn after_mark(state: &web::Data<AppState>, exam_id: &str, question_id: &str) {
    let key = (exam_id.to_string(), question_id.to_string());
    if !state.monitor.claim(&key) {
        return;
    }
    let state = state.clone();
    actix_web::rt::spawn(async move {
        let mut guard = Running {
            monitor: &state.monitor,
            key: key.clone(),
            done: false,
        };
        loop {
            let began = std::time::Instant::now();
            let seen = match check(&state, &key.0, &key.1).await {
                Ok((n, _)) => Some(n as u64),
                Err(e) => {
                    tracing::error!(error = %e, exam = %key.0, question = %key.1, "marker trigger check failed");
                    None
                }
            };
            if !state.monitor.finish(&key, seen) {
                break;
            }
            // Marks kept coming: the next check follows, after a pause of four times this one
            // (at least a quarter second), so checks take at most a fifth of a core per
            // question while marking runs flat out, and the marks of the pause are in it.
            tokio::time::sleep(pause_after(began.elapsed())).await;
        }
        guard.done = true;
    });
}

/// How long a question rests between back-to-back checks.
fn pause_after(check: std::time::Duration) -> std::time::Duration {
    (check * 4).max(std::time::Duration::from_millis(250))
}

/// Checks one question now; returns the markers paused, with their triggers.
pub async fn check_question(
    state: &AppState,
    exam_id: &str,
    question_id: &str,
) -> Result<Vec<(String, Vec<Trigger>)>, ApiError> {
    Ok(check(state, exam_id, question_id).await?.1)
}

/// Loads the question's marks, computes the figures, pauses each marker a trigger names.
/// Returns how many live marks it weighed and whom it paused.
async fn check(
    state: &AppState,
    exam_id: &str,
    question_id: &str,
) -> Result<(usize, Vec<(String, Vec<Trigger>)>), ApiError> {
    let (exam, question) = (exam_id.to_string(), question_id.to_string());
    let defaults = state.settings.rules.clone();
    let (data, rules, reinstated) = state
        .db
        .read(move |c| -> Result<_, ApiError> {
            let rules = crate::db::exams::by_id(c, &exam)?.rules(&defaults)?;
            let row = super::resolution::question_of(c, &exam, &question)?;
            let reinstated: HashMap<_, _> = crate::db::markers::reinstatements(c, &exam)?
                .into_iter()
                .filter_map(|(m, at)| at.map(|t| (m, t)))
                .collect();
            Ok((triggers::load(c, &exam, &row)?, rules, reinstated))
        })
        .await?;
    let (stats, data, reinstated) = tokio::task::spawn_blocking(move || {
        let stats = triggers::compute_for_triggers(&data, &rules, &reinstated);
        (stats, data, reinstated)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    state.counters.trigger_checked();
    let mut paused = Vec::new();
    for (figures, evidence) in triggers::flagged(&stats) {
        let (figures, evidence) = (figures.clone(), evidence.cloned());
        let (exam, code, now) = (exam_id.to_string(), data.code.clone(), state.now());
        let marker = figures.marker_id.clone();
        let seen = reinstated.get(&marker).copied();
        let acted = state
            .db
            .write(move |c| triggers::act_on(c, &exam, &code, (&figures, evidence.as_ref()), seen, now))
            .await;
        // One marker's failure does not spare the others.
        match acted {
            Ok(a) => paused.extend(a),
            Err(e) => tracing::error!(error = %e, marker = %marker, "could not pause a flagged marker"),
        }
    }
    Ok((data.marks.len(), paused))
}
