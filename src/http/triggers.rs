//! The live marker triggers (R6, DESIGN.md section 3): a question's figures from its stored
//! marks, the checks that pause a marker and open a review with the evidence, and the seed
//! check that runs inside the transaction of every seed mark.
//!
//! Loading and computing are apart: the marks are read in one snapshot, the figures computed
//! outside any transaction, and each pause written in a short transaction of its own that
//! looks at the marker's standing again (a marker paused meanwhile is left alone).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use crate::db::exams::QuestionRow;
use crate::db::markers::Change;
use crate::db::marking::{LiveMark, SeedRow};
use crate::db::{self, DbConn};
use crate::domain::marker_status::MarkerStatus;
use crate::domain::rules::MarkingRules;
use crate::domain::statistics::{
    Mark, MarkerReport, MarkerSeries, Report, Scale, SeedMark, SeedRecord, SelfCheck, SelfCheckRecord, TriggerRules,
    marker_series, median_seconds, question_statistics, seed_records, self_checks,
};
use crate::domain::triggers::{self, Trigger};
use crate::http::error::ApiError;

/// Everything stored about one question that its figures are made of.
pub struct QuestionData {
    pub question_id: String,
    pub code: String,
    pub max: f64,
    pub step: f64,
    pub tolerance: f64,
    pub marks: Vec<LiveMark>,
    pub seeds: Vec<SeedRow>,
    pub self_checks: Vec<(String, i64, i64)>,
}

/// Reads a question's live marks, seed marks and self-checks (inside the caller's snapshot).
pub fn load(c: &mut DbConn, exam_id: &str, row: &QuestionRow) -> Result<QuestionData, ApiError> {
    let q = row.question()?;
    Ok(QuestionData {
        question_id: row.id.clone(),
        code: row.code.clone(),
        max: q.max.as_f64(),
        step: q.step.as_f64(),
        tolerance: q.tolerance.as_f64(),
        marks: db::marking::live_marks_of_question(c, exam_id, &row.id)?,
        seeds: db::marking::seed_marks_of_question(c, exam_id, &row.id, None)?,
        self_checks: db::marking::self_checks_of_question(c, exam_id, &row.id)?,
    })
}

/// One marker's evidence beside the model: seeds, self-consistency, speed.
#[derive(Debug, Clone, Serialize)]
pub struct MarkerEvidence {
    pub marker_id: String,
    pub seeds: Option<SeedRecord>,
    pub self_checks: Option<SelfCheckRecord>,
    pub median_seconds: Option<f64>,
}

/// The figures of one question, with marker ids in place of indices.
pub struct LiveStats {
    pub report: Report,
    pub evidence: Vec<MarkerEvidence>,
    /// Each marker's course, with the time of each mark.
    pub series: Vec<(String, MarkerSeries, Vec<NaiveDateTime>)>,
}

/// Marker ids numbered in order of first appearance.
#[derive(Default)]
struct Ids {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

impl Ids {
    fn of(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.names.len() as u32;
        self.index.insert(id.to_string(), i);
        self.names.push(id.to_string());
        i
    }
}

fn hundredths(v: i64) -> f64 {
    v as f64 / 100.0
}

/// Computes a question's figures (CPU only: call it outside transactions). `with_series`
/// adds each marker's course for the plots.
pub fn compute(d: &QuestionData, rules: &MarkingRules, with_series: bool) -> LiveStats {
    let mut markers = Ids::default();
    let mut scripts = Ids::default();
    let marks: Vec<Mark> = d
        .marks
        .iter()
        .enumerate()
        .map(|(seq, (script, marker, score, _, _))| Mark {
            script: scripts.of(script),
            marker: markers.of(marker),
            score: hundredths(*score),
            seq: Some(seq as u64),
        })
        .collect();
    let seeds: Vec<SeedMark> = d
        .seeds
        .iter()
        .enumerate()
        .map(|(seq, (marker, score, definitive, _))| SeedMark {
            marker: markers.of(marker),
            score: hundredths(*score),
            definitive: hundredths(*definitive),
            seq: seq as u64,
        })
        .collect();
    let checks: Vec<SelfCheck> = d
        .self_checks
        .iter()
        .map(|(marker, first, second)| SelfCheck {
            marker: markers.of(marker),
            first: hundredths(*first),
            second: hundredths(*second),
        })
        .collect();
    let scale = Scale {
        max: d.max,
        step: d.step,
    };
    let report = question_statistics(&marks, &markers.names, &scale, d.tolerance, &TriggerRules::from(rules));
    let seed_rows = seed_records(&seeds, d.tolerance, rules.seed_miss_window, rules.seed_miss_limit);
    let check_rows = self_checks(&checks, d.tolerance);
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); markers.names.len()];
    for (m, (_, _, _, _, s)) in marks.iter().zip(&d.marks) {
        if let Some(s) = s {
            seconds[m.marker as usize].push(f64::from(*s));
        }
    }
    let evidence = markers
        .names
        .iter()
        .enumerate()
        .map(|(i, id)| MarkerEvidence {
            marker_id: id.clone(),
            seeds: seed_rows.iter().find(|r| r.marker as usize == i).cloned(),
            self_checks: check_rows.iter().find(|r| r.marker as usize == i).cloned(),
            median_seconds: median_seconds(&seconds[i]).ok(),
        })
        .collect();
    let series = if with_series {
        marker_series(&marks)
            .into_iter()
            .map(|s| {
                let at = s.points.iter().map(|p| d.marks[p.order as usize].3).collect();
                (markers.names[s.marker as usize].clone(), s, at)
            })
            .collect()
    } else {
        Vec::new()
    };
    LiveStats {
        report,
        evidence,
        series,
    }
}

/// The figures the triggers read: like [`compute`], but without the marks each reinstated
/// marker made before their reinstatement (`domain::triggers::counts_against_marker`): that
/// evidence was weighed and set aside, and left in it would still weigh on them, and on the
/// others' effects beside them.
pub fn compute_for_triggers(
    d: &QuestionData,
    rules: &MarkingRules,
    reinstated: &HashMap<String, NaiveDateTime>,
) -> LiveStats {
    if reinstated.is_empty() {
        return compute(d, rules, false);
    }
    let counts =
        |marker: &String, at: &NaiveDateTime| triggers::counts_against_marker(*at, reinstated.get(marker).copied());
    let since = QuestionData {
        question_id: d.question_id.clone(),
        code: d.code.clone(),
        max: d.max,
        step: d.step,
        tolerance: d.tolerance,
        marks: d.marks.iter().filter(|m| counts(&m.1, &m.3)).cloned().collect(),
        seeds: d.seeds.iter().filter(|s| counts(&s.0, &s.3)).cloned().collect(),
        self_checks: d.self_checks.clone(),
    };
    compute(&since, rules, false)
}

/// What a review keeps of why the marker was paused.
#[derive(Debug, Serialize)]
struct Evidence<'a> {
    question: &'a str,
    triggers: &'a [Trigger],
    figures: Option<&'a MarkerReport>,
    seeds: Option<&'a SeedRecord>,
    /// The seed marks weighed, oldest first: score, definitive score, when.
    seed_marks: Vec<(f64, f64, DateTime<Utc>)>,
    self_checks: Option<&'a SelfCheckRecord>,
    median_seconds: Option<f64>,
}

/// Pauses an active marker for `triggers` and opens a review with the evidence; a marker not
/// active (paused already, suspended) is left alone. Returns the review's id when one opened.
fn pause(
    c: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    triggers: &[Trigger],
    evidence: &Evidence<'_>,
    now: DateTime<Utc>,
) -> Result<Option<String>, ApiError> {
    let Some(kind) = triggers::review_kind(triggers) else {
        return Ok(None);
    };
    if db::markers::status(c, exam_id, marker_id)? != MarkerStatus::Active {
        return Ok(None);
    }
    let names: Vec<&str> = triggers.iter().map(|t| t.as_str()).collect();
    let reason = format!("paused by markroom on {}: {}", evidence.question, names.join(", "));
    let reasons = db::markers::reasons(c, exam_id, marker_id)?;
    let change = Change {
        exam_id,
        marker_id,
        from: MarkerStatus::Active,
        to: MarkerStatus::Paused,
        by: None,
        reason: &reason,
        reasons: &reasons,
    };
    db::markers::set_status(c, &change, now)?;
    let json = serde_json::to_string(evidence).map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = db::markers::open_review(c, exam_id, marker_id, kind.as_str(), &json, now)?;
    crate::http::audit_entry::Audit::anonymous("marker.pause")
        .exam(exam_id)
        .object("marker", marker_id)
        .details(serde_json::json!({ "review": id, "triggers": names }))
        .append(c, now)?;
    Ok(Some(id))
}

/// The seed check, in the transaction that recorded a seed mark: `seed_miss_limit` misses
/// among the marker's last `seed_miss_window` seeds of the question (since they were last
/// reinstated) pause them.
pub fn check_seeds(
    c: &mut DbConn,
    exam_id: &str,
    row: &QuestionRow,
    marker_id: &str,
    rules: &MarkingRules,
    now: DateTime<Utc>,
) -> Result<Option<String>, ApiError> {
    let since = db::markers::last_reinstated_at(c, exam_id, marker_id)?.unwrap_or_default();
    let rows = db::marking::seed_marks_of_question(c, exam_id, &row.id, Some((marker_id, since)))?;
    let tolerance = row.question()?.tolerance.as_f64();
    let seeds: Vec<SeedMark> = rows
        .iter()
        .enumerate()
        .map(|(i, (_, score, definitive, _))| SeedMark {
            marker: 0,
            score: hundredths(*score),
            definitive: hundredths(*definitive),
            seq: i as u64,
        })
        .collect();
    let Some(record) = seed_records(&seeds, tolerance, rules.seed_miss_window, rules.seed_miss_limit).pop() else {
        return Ok(None);
    };
    if !record.triggered {
        return Ok(None);
    }
    let window = rows.len().saturating_sub(rules.seed_miss_window as usize);
    let mine: Vec<SelfCheck> = db::marking::self_checks_of_question(c, exam_id, &row.id)?
        .into_iter()
        .filter(|(m, _, _)| m == marker_id)
        .map(|(_, first, second)| SelfCheck {
            marker: 0,
            first: hundredths(first),
            second: hundredths(second),
        })
        .collect();
    let checks = self_checks(&mine, tolerance).pop();
    let evidence = Evidence {
        question: &row.code,
        triggers: &[Trigger::SeedMisses],
        figures: None,
        seeds: Some(&record),
        seed_marks: rows[window..]
            .iter()
            .map(|(_, s, d, at)| (hundredths(*s), hundredths(*d), at.and_utc()))
            .collect(),
        self_checks: checks.as_ref(),
        median_seconds: None,
    };
    pause(c, exam_id, marker_id, &[Trigger::SeedMisses], &evidence, now)
}

/// The markers a question's figures flag, each with their report row and evidence.
pub fn flagged(stats: &LiveStats) -> Vec<(&MarkerReport, Option<&MarkerEvidence>)> {
    stats
        .report
        .markers
        .iter()
        .filter(|m| !m.flags.is_empty())
        .map(|m| (m, stats.evidence.iter().find(|e| e.marker_id == m.marker_id)))
        .collect()
}

/// Acts on one flagged marker, in its own transaction: pauses them unless they are no longer
/// active.
pub fn act_on(
    c: &mut DbConn,
    exam_id: &str,
    code: &str,
    (figures, more): (&MarkerReport, Option<&MarkerEvidence>),
    reinstated_when_loaded: Option<NaiveDateTime>,
    now: DateTime<Utc>,
) -> Result<Option<(String, Vec<Trigger>)>, ApiError> {
    let marker = &figures.marker_id;
    db::markers::lock(c, marker)?;
    // The figures were computed from marks read before this transaction: a leader who
    // reinstated the marker since has judged that evidence, and it must not pause them again.
    if db::markers::last_reinstated_at(c, exam_id, marker)? != reinstated_when_loaded {
        return Ok(None);
    }
    let found = triggers::statistical(&figures.flags);
    let evidence = Evidence {
        question: code,
        triggers: &found,
        figures: Some(figures),
        seeds: more.and_then(|e| e.seeds.as_ref()),
        seed_marks: Vec::new(),
        self_checks: more.and_then(|e| e.self_checks.as_ref()),
        median_seconds: more.and_then(|e| e.median_seconds),
    };
    Ok(pause(c, exam_id, marker, &found, &evidence, now)?.map(|_| (marker.clone(), found)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 7, 1)
            .and_then(|d| d.and_hms_opt(8 + minute / 60, minute % 60, 0))
            .unwrap_or_default()
    }

    /// 60 essays marked by three of A, B, C, D each (45 essays a marker, essay s at minute s);
    /// A marks 9 points high on the first `severe` essays they mark, fairly after.
    fn question(severe: usize) -> QuestionData {
        let mut marks = Vec::new();
        let mut a_marked = 0;
        for s in 0..60u32 {
            let truth = 20 + (s * 7) % 30;
            for (k, m) in ["A", "B", "C", "D"]
                .iter()
                .enumerate()
                .filter(|(k, _)| !(*k as u32 + s).is_multiple_of(4))
            {
                let noise = i64::from((s + k as u32) % 3) - 1;
                let mut score = i64::from(truth) + noise;
                if *m == "A" {
                    if a_marked < severe {
                        score += 9;
                    }
                    a_marked += 1;
                }
                marks.push((format!("s{s}"), m.to_string(), score * 100, at(s), Some(60)));
            }
        }
        QuestionData {
            question_id: "q".into(),
            code: "W1".into(),
            max: 60.0,
            step: 1.0,
            tolerance: 6.0,
            marks,
            seeds: Vec::new(),
            self_checks: Vec::new(),
        }
    }

    fn flagged_ids(stats: &LiveStats) -> Vec<String> {
        flagged(stats).iter().map(|(m, _)| m.marker_id.clone()).collect()
    }

    #[test]
    fn a_reinstated_marker_is_judged_on_their_work_since() {
        let rules = MarkingRules::default();
        // A's 30th essay is essay 39: severe up to minute 39, fair from minute 41.
        let d = question(30);
        assert_eq!(
            flagged_ids(&compute_for_triggers(&d, &rules, &HashMap::new())),
            vec!["A"]
        );
        // Reinstated after their severe marks: what they did since is fair, and too little yet.
        let after = HashMap::from([("A".to_string(), at(40))]);
        let stats = compute_for_triggers(&d, &rules, &after);
        assert!(flagged_ids(&stats).is_empty(), "{:?}", flagged_ids(&stats));
        // Reinstated early, and severe after it: flagged on the new work.
        let early = HashMap::from([("A".to_string(), at(5))]);
        assert_eq!(flagged_ids(&compute_for_triggers(&d, &rules, &early)), vec!["A"]);
    }
}
