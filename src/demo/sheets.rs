//! The demo's candidates and their answer sheets: generated with the scan intake's generator
//! (latent scores spread like real marks, drawn in each answer's strip), scanned in by the two
//! custodians and released to marking; calibration and seed scripts whose definitive scores
//! are their latent scores.

use std::collections::BTreeMap;
use std::path::Path;

use futures_util::{StreamExt, TryStreamExt};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde_json::json;

use super::EXAM;
use super::api::{Api, Session};
use crate::db::Db;
use crate::domain::template::SheetTemplate;
use crate::scans::{SheetSpec, encode_png, generate_sheet, standard_template};

/// (code, max in steps, mean share of the maximum): W1 0–60 by 1, S2 0–10 by 1, S3 0–10 by 0.5.
const QUESTIONS: [(&str, u32, f64); 3] = [("W1", 60, 0.62), ("S2", 10, 0.6), ("S3", 20, 0.55)];

pub fn template() -> SheetTemplate {
    standard_template(&["W1", "S2", "S3"])
}

pub struct Person {
    pub admission_number: String,
    pub name: String,
    pub school_code: String,
    /// Latent score in steps, per question.
    pub latents: BTreeMap<String, u32>,
}

const SURNAMES: [&str; 12] = [
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun",
];
const GIVEN: [&str; 12] = [
    "Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Jun", "Tao", "Ying", "Hao", "Xin", "Qiang",
];

/// The same candidates for the same seed: a second run finds them again.
pub fn candidates(seed: u64, n: usize) -> Vec<Person> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let latents = QUESTIONS
                .iter()
                .map(|(code, max, mean)| {
                    let max = f64::from(*max);
                    // Mean and spread are fixed and finite: the distribution always exists.
                    let v = Normal::new(mean * max, 0.18 * max)
                        .map(|n| n.sample(&mut rng))
                        .unwrap_or(mean * max)
                        .round()
                        .clamp(0.0, max);
                    (code.to_string(), v as u32)
                })
                .collect();
            Person {
                admission_number: format!("2026{:08}", i + 1),
                name: format!(
                    "{} {}{}",
                    SURNAMES[rng.random_range(0..SURNAMES.len())],
                    GIVEN[rng.random_range(0..GIVEN.len())],
                    GIVEN[rng.random_range(0..GIVEN.len())].to_lowercase()
                ),
                school_code: format!("S{:02}", rng.random_range(1..=20)),
                latents,
            }
        })
        .collect()
}

fn pages(latents: &BTreeMap<String, u32>, seed: u64, dpi: u32) -> Vec<Vec<u8>> {
    let spec = SheetSpec {
        dpi,
        upside_down: false,
        without_anchor: false,
        seed,
        latents: latents.clone(),
    };
    generate_sheet(&template(), &spec).iter().map(encode_png).collect()
}

/// Opens a batch (two custodians), scans every sheet in, releases it (two custodians).
/// Returns (script id, latent) of every script.
pub async fn scan_and_release(
    api: &Api,
    c: &[Session],
    people: &[Person],
    dpi: u32,
) -> anyhow::Result<Vec<(String, u32)>> {
    let request = api
        .post(
            &c[0],
            &format!("/api/v1/exams/{EXAM}/batches"),
            json!({ "label": "Demo box 1" }),
        )
        .await?;
    let id = request["id"].as_str().unwrap_or_default();
    api.post(&c[1], &format!("/api/v1/approvals/{id}/approve"), json!({}))
        .await?;
    let batches = api.get(&c[0], &format!("/api/v1/exams/{EXAM}/batches")).await?;
    let batch = batches[0]["id"].as_str().unwrap_or_default().to_string();
    let progress = indicatif::ProgressBar::new(people.len() as u64);
    let scripts: Vec<Vec<(String, u32)>> = futures_util::stream::iter(people.iter().enumerate())
        .map(|(i, p)| {
            let (batch, progress) = (batch.clone(), progress.clone());
            async move {
                let sheet = tokio::task::spawn_blocking({
                    let latents = p.latents.clone();
                    move || pages(&latents, i as u64, dpi)
                })
                .await?;
                let fields = [
                    ("admission_number", p.admission_number.clone()),
                    ("entry", "barcode".to_string()),
                ];
                let answer = api
                    .pages(&c[0], &format!("/api/v1/batches/{batch}/sheets"), &fields, sheet)
                    .await?;
                progress.inc(1);
                let out = answer["scripts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|s| {
                        let q = s["question"].as_str().unwrap_or_default();
                        (
                            s["script_id"].as_str().unwrap_or_default().to_string(),
                            p.latents.get(q).copied().unwrap_or(0),
                        )
                    })
                    .collect();
                anyhow::Ok(out)
            }
        })
        .buffer_unordered(4)
        .try_collect()
        .await?;
    progress.finish_and_clear();
    let request = api
        .post(&c[0], &format!("/api/v1/batches/{batch}/release"), json!({}))
        .await?;
    let id = request["id"].as_str().unwrap_or_default();
    api.post(&c[1], &format!("/api/v1/approvals/{id}/approve"), json!({}))
        .await?;
    Ok(scripts.into_iter().flatten().collect())
}

/// Two calibration scripts and five seeds per question, definitive score = latent.
pub async fn prescored(api: &Api, chief: &Session, dpi: u32) -> anyhow::Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut n_sheet = 1_000_000u64;
    for (code, max, _) in QUESTIONS {
        let step = if code == "S3" { 0.5 } else { 1.0 };
        for (role, n) in [("calibration", 2), ("seed", 5)] {
            for _ in 0..n {
                let units = rng.random_range(max / 5..=max * 4 / 5);
                let latents = BTreeMap::from([(code.to_string(), units)]);
                let score = f64::from(units) * step;
                let fields = [("score", score.to_string()), ("role", role.to_string())];
                // Each its own handwriting: no two pre-scored images alike, none like a
                // qualification script coming back as a seed.
                n_sheet += 1;
                let sheet = pages(&latents, n_sheet, dpi);
                api.pages(
                    chief,
                    &format!("/api/v1/exams/{EXAM}/questions/{code}/prescored"),
                    &fields,
                    sheet,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Anonymous code → latent of every script, read from the database on the server itself.
pub fn codes_of(db: &Db, scripts: Vec<(String, u32)>) -> anyhow::Result<BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    db.read_now(|c| -> anyhow::Result<()> {
        for (id, latent) in scripts {
            out.insert(crate::db::scripts::script(c, &id)?.anonymous_code, latent);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Kept beside the data after a first run, so a second run writes the same map.
pub fn keep_latents(data_dir: &Path, latents: &BTreeMap<String, u32>) -> anyhow::Result<()> {
    crate::secrets::write_private(
        &data_dir.join("demo-latents.json"),
        serde_json::to_string(latents)?.as_bytes(),
    )?;
    Ok(())
}

pub fn kept_latents(data_dir: &Path) -> BTreeMap<String, u32> {
    std::fs::read_to_string(data_dir.join("demo-latents.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}
