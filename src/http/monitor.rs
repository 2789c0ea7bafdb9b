//! Checks a question's marker triggers after its marks, in the background, without holding up
//! the marker who submitted.
//!
//! Checks coalesce per question: a mark arriving while its question is being checked asks for
//! one more check after it, however many arrive. So at a few marks a second every mark is
//! followed by a check, and at a million marks (about a second for the load and the fit on two
//! cores) the checks run back to back, each over every mark then stored, and a trigger acts at
//! most two checks after the mark that crossed it. Nothing is kept between checks: a restart
//! loses no evidence, the next mark checks everything again. The same check runs on demand
//! (`POST …/statistics/check`).

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web;

use super::error::ApiError;
use super::state::AppState;
use super::triggers;
use crate::domain::triggers::Trigger;

/// Questions being checked, and whether another check was asked for meanwhile.
#[derive(Debug, Default)]
pub struct Monitor {
    running: Mutex<HashMap<(String, String), bool>>,
}

impl Monitor {
    /// Asks for a check of the question; true when this call must run it.
    fn claim(&self, key: &(String, String)) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.get_mut(key) {
            Some(again) => {
                *again = true;
                false
            }
            None => {
                running.insert(key.clone(), false);
                true
            }
        }
    }

    /// After a check: true when another was asked for meanwhile (and is now owed).
    fn again(&self, key: &(String, String)) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.get(key).copied().unwrap_or(false) {
            running.insert(key.clone(), false);
            true
        } else {
            running.remove(key);
            false
        }
    }
}

/// Checks the question's triggers soon, in the background.
pub fn after_mark(state: &web::Data<AppState>, exam_id: &str, question_id: &str) {
    let key = (exam_id.to_string(), question_id.to_string());
    if !state.monitor.claim(&key) {
        return;
    }
    let state = state.clone();
    actix_web::rt::spawn(async move {
        loop {
            if let Err(e) = check_question(&state, &key.0, &key.1).await {
                tracing::error!(error = %e, exam = %key.0, question = %key.1, "marker trigger check failed");
            }
            if !state.monitor.again(&key) {
                break;
            }
        }
    });
}

/// Checks one question now: loads its marks, computes the figures, pauses each marker a
/// trigger names. Returns the markers paused, with their triggers.
pub async fn check_question(
    state: &AppState,
    exam_id: &str,
    question_id: &str,
) -> Result<Vec<(String, Vec<Trigger>)>, ApiError> {
    let (exam, question) = (exam_id.to_string(), question_id.to_string());
    let defaults = state.settings.rules.clone();
    let (data, rules) = state
        .db
        .read(move |c| -> Result<_, ApiError> {
            let rules = crate::db::exams::by_id(c, &exam)?.rules(&defaults)?;
            let row = super::resolution::question_of(c, &exam, &question)?;
            Ok((triggers::load(c, &exam, &row)?, rules))
        })
        .await?;
    let (stats, data, rules) = tokio::task::spawn_blocking(move || {
        let stats = triggers::compute(&data, &rules, false);
        (stats, data, rules)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    state.counters.trigger_checked();
    let mut paused = Vec::new();
    for (figures, evidence) in triggers::flagged(&stats) {
        let (figures, evidence) = (figures.clone(), evidence.cloned());
        let (exam, code, question, rules, now) = (
            exam_id.to_string(),
            data.code.clone(),
            data.question_id.clone(),
            rules.clone(),
            state.now(),
        );
        let acted = state
            .db
            .write(move |c| triggers::act_on(c, &exam, &code, &question, (&figures, evidence.as_ref()), &rules, now))
            .await?;
        paused.extend(acted);
    }
    Ok(paused)
}
