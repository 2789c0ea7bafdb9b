//! The simulator's report (text for people, JSON for files) and its detection part: which of the
//! simulated markers markroom's statistics flagged, against the truth the simulator planted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::Context;
use serde::Serialize;
use serde_json::{Value, json};

use super::metrics::{Latency, Recorder};
use super::model::{Kind, Marker, Scale};
use super::session::{Account, Client, Session};

pub struct Figures {
    pub server: String,
    pub markers: usize,
    pub seconds: f64,
    pub cycles: u64,
    pub images: u64,
    pub image_seconds: f64,
    pub recorder: Recorder,
    pub paused_during_run: Vec<String>,
    pub detection: Detection,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub server: String,
    pub markers: usize,
    pub duration_s: f64,
    pub cycles: u64,
    pub cycles_per_second: f64,
    pub images: u64,
    pub images_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub errors: BTreeMap<String, u64>,
    pub errors_total: u64,
    /// What happened that is not an error: `nothing_to_lease` (204), `paused`.
    pub outcomes: BTreeMap<String, u64>,
    pub endpoints: BTreeMap<String, Latency>,
    pub paused_during_run: Vec<String>,
    pub detection: Detection,
}

#[derive(Debug, Serialize)]
pub struct PlantedMarker {
    pub username: String,
    pub kind: Kind,
    pub flagged: bool,
    /// The triggers markroom named for them (reviews opened while marking, and the final check).
    pub triggers: Vec<String>,
    /// How markroom's statistics saw them at the end, on each question they marked: a miss
    /// with fewer co-marked scripts than `min_co_marked` was never judged.
    pub statistics: Vec<QuestionFigures>,
}

/// One marker's figures on one question, as `GET …/questions/{q}/statistics` gives them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionFigures {
    pub question: String,
    /// Their live marks on scripts someone else marked too.
    pub co_marked: u64,
    pub severity: Option<f64>,
    pub severity_se: Option<f64>,
    pub p_holm: Option<f64>,
    pub flags: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Detection {
    pub planted: Vec<PlantedMarker>,
    pub hits: usize,
    pub misses: usize,
    pub false_alarms: usize,
    /// Ordinary markers that were flagged, with what flagged them.
    pub false_alarm_markers: BTreeMap<String, Vec<String>>,
    /// Each false alarm's own severity as the simulation drew it, in severity limits: how near
    /// the line (1.0) a fair marker stood when flagged.
    pub false_alarm_severity: BTreeMap<String, f64>,
    /// The co-marked scripts on a question the statistical triggers need (the exam's rule).
    pub min_co_marked: u64,
    /// Markers with live marks in the statistics at the end, and of them those who reached
    /// `min_co_marked` on some question: only those could be judged. In a short run this is
    /// what bounds detection.
    pub markers_marking: usize,
    pub markers_judged: usize,
}

impl Report {
    pub fn new(f: Figures) -> Report {
        let all = f.recorder.overall();
        let errors_total = f.recorder.errors.values().sum();
        Report {
            server: f.server,
            markers: f.markers,
            duration_s: round(f.seconds),
            cycles: f.cycles,
            cycles_per_second: round(f.cycles as f64 / f.seconds.max(1e-9)),
            images: f.images,
            images_per_second: round(f.images as f64 / f.image_seconds.max(1e-9)),
            p50_ms: all.p50_ms,
            p90_ms: all.p90_ms,
            p99_ms: all.p99_ms,
            p999_ms: all.p999_ms,
            max_ms: all.max_ms,
            errors: f.recorder.errors.clone(),
            errors_total,
            outcomes: f.recorder.outcomes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            endpoints: f.recorder.endpoints(),
            paused_during_run: f.paused_during_run,
            detection: f.detection,
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "markroom simulate against {}: {} markers for {} s",
            self.server, self.markers, self.duration_s
        )?;
        writeln!(
            f,
            "  cycles        {} ({} per second)",
            self.cycles, self.cycles_per_second
        )?;
        writeln!(
            f,
            "  images        {} ({} per second)",
            self.images, self.images_per_second
        )?;
        writeln!(
            f,
            "  latency (ms)  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms
        )?;
        for (name, l) in &self.endpoints {
            writeln!(
                f,
                "    {name:11} n {:7}  p50 {}  p90 {}  p99 {}  p99.9 {}",
                l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms
            )?;
        }
        writeln!(f, "  errors        {} {:?}", self.errors_total, self.errors)?;
        writeln!(f, "  outcomes      {:?}", self.outcomes)?;
        let d = &self.detection;
        writeln!(
            f,
            "  detection     {} planted: {} flagged, {} missed; {} false alarms",
            d.planted.len(),
            d.hits,
            d.misses,
            d.false_alarms
        )?;
        writeln!(
            f,
            "  judged        {} of {} markers marking reached the {} co-marked scripts on a question the statistics need",
            d.markers_judged, d.markers_marking, d.min_co_marked
        )?;
        for p in &d.planted {
            let verdict = if p.flagged {
                p.triggers.join(", ")
            } else {
                "not flagged".into()
            };
            let seen: Vec<String> = p.statistics.iter().map(|q| q.describe(d.min_co_marked)).collect();
            let seen = if seen.is_empty() {
                String::new()
            } else {
                format!(" ({})", seen.join("; "))
            };
            writeln!(f, "    {:16} {:?}: {verdict}{seen}", p.username, p.kind)?;
        }
        for (who, why) in &d.false_alarm_markers {
            let near = d
                .false_alarm_severity
                .get(who)
                .map(|s| format!(" (drawn severity {s:+.2} limits)"))
                .unwrap_or_default();
            writeln!(f, "    false alarm {who}: {}{near}", why.join(", "))?;
        }
        Ok(())
    }
}

impl QuestionFigures {
    /// `S2: 16 co-marked of 20 needed, severity -1.29 (SE 0.18), p_holm 2.1e-10`.
    fn describe(&self, needed: u64) -> String {
        let short = if self.co_marked < needed {
            format!(" of {needed} needed")
        } else {
            String::new()
        };
        let num = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
        let p = self.p_holm.map_or("-".to_string(), |p| format!("{p:.1e}"));
        format!(
            "{}: {} co-marked{short}, severity {} (SE {}), p_holm {p}",
            self.question,
            self.co_marked,
            num(self.severity, 2),
            num(self.severity_se, 2)
        )
    }
}

/// Runs the statistics check once more on every question (as a chief leader would at the end of
/// a session), then reads whom markroom paused and why, and sets it against the truth.
pub async fn detect(
    client: &Client,
    chief: &Session,
    exam: &str,
    accounts: &[Account],
    cast: &[Marker],
    scales: &BTreeMap<String, Scale>,
    min_co_marked: u64,
) -> anyhow::Result<Detection> {
    let markers = client.get_ok(chief, &format!("/api/v1/exams/{exam}/markers")).await?;
    let username_of: BTreeMap<String, String> = markers["markers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| (text(&m["id"]), text(&m["username"])))
        .collect();
    let mut flagged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for q in scales.keys() {
        let path = format!("/api/v1/exams/{exam}/questions/{q}/statistics/check");
        let (status, answer) = client.post(chief, &path, &json!({}), None).await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {answer}");
        for p in answer["paused"].as_array().into_iter().flatten() {
            let who = username_of.get(&text(&p["marker_id"])).cloned().unwrap_or_default();
            let entry = flagged.entry(who).or_default();
            entry.extend(p["triggers"].as_array().into_iter().flatten().map(text));
        }
    }
    let reviews = client.get_ok(chief, &format!("/api/v1/exams/{exam}/reviews")).await?;
    for r in reviews.as_array().into_iter().flatten() {
        let who = username_of.get(&text(&r["marker_id"])).cloned().unwrap_or_default();
        let entry = flagged.entry(who).or_default();
        entry.insert(text(&r["kind"]));
        entry.extend(r["evidence"]["triggers"].as_array().into_iter().flatten().map(text));
    }
    let mut figures: BTreeMap<String, Vec<QuestionFigures>> = BTreeMap::new();
    for q in scales.keys() {
        let path = format!("/api/v1/exams/{exam}/questions/{q}/statistics");
        let stats = client.get_ok(chief, &path).await?;
        for (who, f) in figures_of(&path, q, &stats, &username_of)? {
            figures.entry(who).or_default().push(f);
        }
    }
    Ok(judge(accounts, cast, &flagged, &figures, min_co_marked))
}

/// Each simulated marker's figures in one question's statistics (username, figures). A marker
/// who is not the exam's is skipped: only the exam's markers are simulated, and anyone else's
/// figures are not ours to judge. Figures without `co_marked` are an error: without it no miss
/// can say whether the statistics could judge the marker at all.
fn figures_of(
    path: &str,
    question: &str,
    stats: &Value,
    username_of: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<(String, QuestionFigures)>> {
    let mut found = vec![];
    for m in stats["markers"].as_array().into_iter().flatten() {
        let Some(who) = username_of.get(&text(&m["marker_id"])) else {
            continue;
        };
        let co_marked = m["co_marked"]
            .as_u64()
            .with_context(|| format!("{path}: a marker's figures without `co_marked`: {m}"))?;
        found.push((
            who.clone(),
            QuestionFigures {
                question: question.to_string(),
                co_marked,
                severity: m["severity"].as_f64(),
                severity_se: m["severity_se"].as_f64(),
                p_holm: m["p_holm"].as_f64(),
                flags: m["flags"].as_array().into_iter().flatten().map(text).collect(),
            },
        ));
    }
    Ok(found)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Hits, misses and false alarms of `flagged` (username → triggers) against the cast, each
/// planted marker with their `figures` (username → the statistics of each question), and how
/// many markers reached `min_co_marked` co-marked scripts on a question.
pub fn judge(
    accounts: &[Account],
    cast: &[Marker],
    flagged: &BTreeMap<String, BTreeSet<String>>,
    figures: &BTreeMap<String, Vec<QuestionFigures>>,
    min_co_marked: u64,
) -> Detection {
    let mut planted = Vec::new();
    let mut false_alarm_markers = BTreeMap::new();
    let mut false_alarm_severity = BTreeMap::new();
    for (a, m) in accounts.iter().zip(cast) {
        let triggers: Vec<String> = flagged
            .get(&a.username)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        if m.kind.planted() {
            planted.push(PlantedMarker {
                username: a.username.clone(),
                kind: m.kind,
                flagged: !triggers.is_empty(),
                triggers,
                statistics: figures.get(&a.username).cloned().unwrap_or_default(),
            });
        } else if !triggers.is_empty() {
            false_alarm_markers.insert(a.username.clone(), triggers);
            false_alarm_severity.insert(a.username.clone(), m.severity);
        }
    }
    let hits = planted.iter().filter(|p| p.flagged).count();
    Detection {
        misses: planted.len() - hits,
        hits,
        false_alarms: false_alarm_markers.len(),
        false_alarm_markers,
        false_alarm_severity,
        planted,
        min_co_marked,
        markers_marking: figures.len(),
        markers_judged: figures
            .values()
            .filter(|qs| qs.iter().any(|q| q.co_marked >= min_co_marked))
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_s_figures_are_read_for_the_exam_s_markers_and_need_co_marked() {
        let names = BTreeMap::from([("m1".to_string(), "demo-marker001".to_string())]);
        let stats = json!({ "markers": [
            { "marker_id": "m1", "co_marked": 21, "severity": -1.5, "severity_se": 0.2, "p_holm": 1e-9, "flags": ["severity"] },
            { "marker_id": "someone-else", "co_marked": 40 },
        ] });
        let found = figures_of("S2 statistics", "S2", &stats, &names).unwrap();
        assert_eq!(found.len(), 1, "a marker outside the exam is skipped");
        let (who, f) = &found[0];
        assert_eq!(who, "demo-marker001");
        assert_eq!((f.question.as_str(), f.co_marked, f.severity), ("S2", 21, Some(-1.5)));
        assert_eq!(f.flags, vec!["severity".to_string()]);

        let without = json!({ "markers": [ { "marker_id": "m1", "severity": -1.5 } ] });
        let err = figures_of("S2 statistics", "S2", &without, &names).unwrap_err();
        assert!(err.to_string().contains("without `co_marked`"), "{err}");
    }

    #[test]
    fn hits_misses_and_false_alarms_are_counted_against_the_truth() {
        let account = |u: &str| Account {
            username: u.into(),
            password: String::new(),
            workstation_key: String::new(),
        };
        let accounts = [account("a"), account("b"), account("c"), account("d")];
        let cast = [
            Marker {
                kind: Kind::Severe,
                severity: -2.0,
            },
            Marker {
                kind: Kind::Drifter,
                severity: 0.0,
            },
            Marker {
                kind: Kind::Ordinary,
                severity: 0.1,
            },
            Marker {
                kind: Kind::Ordinary,
                severity: 0.0,
            },
        ];
        let flagged = BTreeMap::from([
            ("a".to_string(), BTreeSet::from(["severity".to_string()])),
            ("c".to_string(), BTreeSet::from(["erratic".to_string()])),
        ]);
        let seen = |question: &str, co_marked: u64| QuestionFigures {
            question: question.into(),
            co_marked,
            severity: Some(-1.3),
            severity_se: Some(0.18),
            p_holm: Some(2.1e-10),
            flags: vec![],
        };
        let figures = BTreeMap::from([
            ("a".to_string(), vec![seen("W1", 24)]),
            ("b".to_string(), vec![seen("S2", 16)]),
            ("c".to_string(), vec![seen("S2", 19), seen("S3", 20)]),
        ]);
        let d = judge(&accounts, &cast, &flagged, &figures, 20);
        assert_eq!((d.hits, d.misses, d.false_alarms), (1, 1, 1));
        assert_eq!(d.planted[0].triggers, ["severity"]);
        assert!(!d.planted[1].flagged);
        assert_eq!(d.planted[1].statistics, [seen("S2", 16)]);
        assert_eq!(d.false_alarm_markers["c"], ["erratic"]);
        // a and c reached 20 on some question; b did not; d marked nothing.
        assert_eq!((d.markers_marking, d.markers_judged), (3, 2));
        assert_eq!(
            d.planted[1].statistics[0].describe(20),
            "S2: 16 co-marked of 20 needed, severity -1.30 (SE 0.18), p_holm 2.1e-10"
        );
        assert_eq!(
            seen("W1", 24).describe(20),
            "W1: 24 co-marked, severity -1.30 (SE 0.18), p_holm 2.1e-10"
        );
    }
}
