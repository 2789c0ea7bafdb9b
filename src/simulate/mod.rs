//! `markroom simulate`: synthetic markers against a running server, through its public API only.
//! Every marker logs in first (each at its own workstation); then N of them lease and score as
//! fast as the server lets them for the run's duration, each scoring a script as its latent score
//! plus its own severity, noise and drift (`model`); a second phase fetches leased images; last,
//! a chief leader's view of the statistics is set against the truth the simulator planted.

pub mod metrics;
pub mod model;
mod report;
mod session;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use rand::SeedableRng;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use metrics::Recorder;
use model::{Kind, Marker, Scale};
pub use report::Report;
use session::{Account, Client, Session};

use crate::domain::rules::MarkingRules;

#[derive(Debug, Clone)]
pub struct Options {
    pub server: String,
    pub accounts: PathBuf,
    pub markers: usize,
    pub duration: Duration,
    pub image_seconds: Duration,
    pub severity_spread: f64,
    pub noise: f64,
    pub severe: usize,
    pub lenient: usize,
    pub drifters: usize,
    pub seed: u64,
    pub progress: bool,
    /// Every marker takes any question, instead of working in question groups.
    pub mixed_questions: bool,
}

/// The smallest question group: a short answer's third mark needs a third marker who has
/// held none of the script, and the statistics compare a marker with their group.
const MIN_GROUP: usize = 5;

/// Each marker's question, as a marking room assigns them: groups in proportion to the marks
/// each question needs (`marks_required`), dealt round-robin so that the planted markers (the
/// first few) fall into different groups. `None` (any question) for every marker when a group
/// would have fewer than `MIN_GROUP` markers, or when asked to mix.
fn question_groups(exam: &Value, markers: usize, mixed: bool) -> Vec<Option<String>> {
    let weights: Vec<(String, usize)> = exam["questions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            let question = q["code"].as_str().unwrap_or_default().to_string();
            (question, q["marks_required"].as_u64().unwrap_or(1).max(1) as usize)
        })
        .collect();
    // Interleaved (W1 S2 S3 W1 S2 S3 W1), so that consecutive markers differ in question.
    let most = weights.iter().map(|(_, w)| *w).max().unwrap_or(0);
    let wheel: Vec<String> = (0..most)
        .flat_map(|round| weights.iter().filter(move |(_, w)| *w > round).map(|(q, _)| q.clone()))
        .collect();
    let smallest = wheel
        .iter()
        .map(|c| wheel.iter().filter(|d| *d == c).count())
        .min()
        .unwrap_or(0);
    if mixed || wheel.is_empty() || markers * smallest / wheel.len() < MIN_GROUP {
        return vec![None; markers];
    }
    (0..markers).map(|i| Some(wheel[i % wheel.len()].clone())).collect()
}

#[derive(Debug, Deserialize)]
struct DemoFile {
    exam: String,
    questions: Vec<DemoQuestion>,
    accounts: DemoAccounts,
    #[serde(default)]
    latent_by_code: BTreeMap<String, u32>,
}

#[derive(Debug, Deserialize)]
struct DemoQuestion {
    code: String,
    step: f64,
}

#[derive(Debug, Deserialize)]
struct DemoAccounts {
    chief_leaders: Vec<Account>,
    markers: Vec<Account>,
}

/// What every simulated marker shares: the client, the latents and the scales.
struct World {
    client: Client,
    latents: BTreeMap<String, u32>,
    steps: BTreeMap<String, f64>,
    scales: BTreeMap<String, Scale>,
    criteria: Criteria,
    noise: f64,
    start: Instant,
    duration: Duration,
    cycles: AtomicU64,
}

pub async fn run(opts: &Options) -> anyhow::Result<Report> {
    let file: DemoFile = serde_json::from_slice(
        &std::fs::read(&opts.accounts).with_context(|| format!("reading {}", opts.accounts.display()))?,
    )
    .with_context(|| format!("{} is not a demo accounts file", opts.accounts.display()))?;
    anyhow::ensure!(
        opts.markers <= file.accounts.markers.len(),
        "{} markers asked for, {} in {}",
        opts.markers,
        file.accounts.markers.len(),
        opts.accounts.display()
    );
    let client = Client::new(&opts.server, opts.markers)?;
    let chief_account = file
        .accounts
        .chief_leaders
        .first()
        .context("no chief leader in the file")?;
    let chief = client.login(chief_account).await?;
    let exam: Value = client.get_ok(&chief, &format!("/api/v1/exams/{}", file.exam)).await?;
    let (scales, criteria) = scales_of(&exam);
    let groups = question_groups(&exam, opts.markers, opts.mixed_questions);

    let accounts = &file.accounts.markers[..opts.markers];
    let bar = progress_bar(opts.progress, accounts.len() as u64, "logging in");
    let sessions: Vec<Option<Session>> = futures_util::stream::iter(accounts.iter().map(|a| {
        let (client, bar) = (&client, &bar);
        async move {
            let s = client.login_marker(a).await;
            bar.inc(1);
            s
        }
    }))
    .buffered(8)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<anyhow::Result<_>>()?;
    bar.finish_and_clear();

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let cast = model::cast(
        opts.markers,
        opts.severity_spread,
        opts.severe,
        opts.lenient,
        opts.drifters,
        &mut rng,
    );
    let world = Arc::new(World {
        client: client.clone(),
        latents: file.latent_by_code,
        steps: file.questions.iter().map(|q| (q.code.clone(), q.step)).collect(),
        scales,
        criteria,
        noise: opts.noise,
        start: Instant::now(),
        duration: opts.duration,
        cycles: AtomicU64::new(0),
    });

    let bar = progress_bar(opts.progress, opts.duration.as_secs(), "marking");
    let ticker = {
        let (world, bar) = (world.clone(), bar.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                bar.set_position(world.start.elapsed().as_secs().min(world.duration.as_secs()));
                bar.set_message(format!("{} cycles", world.cycles.load(Ordering::Relaxed)));
            }
        })
    };
    let tasks: Vec<_> = sessions
        .iter()
        .zip(&cast)
        .zip(groups)
        .enumerate()
        .map(|(i, ((s, m), group))| {
            let (world, s, m) = (world.clone(), s.clone(), *m);
            let seed = opts.seed.wrapping_add(1 + i as u64);
            let ask = match group {
                Some(code) => json!({ "question": code }),
                None => json!({}),
            };
            tokio::spawn(async move {
                match s {
                    Some(s) => mark(&world, &s, &m, &ask, seed).await,
                    None => {
                        let mut r = Recorder::default();
                        r.outcome("paused_before_run");
                        (r, true)
                    }
                }
            })
        })
        .collect();
    let mut recorder = Recorder::default();
    let mut paused = Vec::new();
    for (t, account) in tasks.into_iter().zip(accounts) {
        let (r, was_paused) = t.await.context("a simulated marker failed")?;
        recorder.merge(&r);
        if was_paused {
            paused.push(account.username.clone());
        }
    }
    let elapsed = world.start.elapsed();
    ticker.abort();
    bar.finish_and_clear();
    let cycles = world.cycles.load(Ordering::Relaxed);

    let working: Vec<Session> = sessions.into_iter().flatten().collect();
    let (images, image_elapsed, image_recorder) = image_phase(&world, &working, opts.image_seconds).await;
    recorder.merge(&image_recorder);

    // An exam's rules name every figure; a server that left one out applies the default.
    let min_co_marked = exam["rules"]["min_co_marked"]
        .as_u64()
        .unwrap_or(u64::from(MarkingRules::default().min_co_marked));
    let detection = report::detect(
        &client,
        &chief,
        &file.exam,
        accounts,
        &cast,
        &world.scales,
        min_co_marked,
    )
    .await?;
    Ok(Report::new(report::Figures {
        server: opts.server.clone(),
        markers: opts.markers,
        seconds: elapsed.as_secs_f64(),
        cycles,
        images,
        image_seconds: image_elapsed.as_secs_f64(),
        recorder,
        paused_during_run: paused,
        detection,
    }))
}

fn progress_bar(show: bool, len: u64, what: &'static str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar.set_prefix(what);
    bar
}

/// Question code → its criteria (code, maximum), empty for a question marked whole.
type Criteria = BTreeMap<String, Vec<(String, f64)>>;

/// Each question's scale and criteria, from the exam as a chief leader sees it.
fn scales_of(exam: &Value) -> (BTreeMap<String, Scale>, Criteria) {
    let fraction = exam["rules"]["severity_limit_fraction"]
        .as_f64()
        .unwrap_or(MarkingRules::default().severity_limit_fraction);
    let mut scales = BTreeMap::new();
    let mut criteria = BTreeMap::new();
    for q in exam["questions"].as_array().into_iter().flatten() {
        let question = q["code"].as_str().unwrap_or_default().to_string();
        scales.insert(
            question.clone(),
            Scale {
                max: q["max_score"].as_f64().unwrap_or(0.0),
                step: q["step"].as_f64().unwrap_or(1.0),
                tolerance: q["tolerance"].as_f64().unwrap_or(1.0),
                limit_fraction: fraction,
            },
        );
        let list: Vec<(String, f64)> = q["criteria"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["code"].as_str().unwrap_or_default().to_string(),
                    c["max"].as_f64().unwrap_or(0.0),
                )
            })
            .collect();
        criteria.insert(question, list);
    }
    (scales, criteria)
}

/// One simulated marker for the run: lease, read, score, until time is up or they are paused.
///
/// A pause ends the marker's lease at once, so the score (`lease_expired`) or the image read
/// (404) in flight when it lands fails. Such a failure is held until the next lease says
/// whether the marker was paused: then it is the pause's doing, an outcome; otherwise an error.
async fn mark(world: &World, s: &Session, m: &Marker, ask: &Value, seed: u64) -> (Recorder, bool) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut rec = Recorder::default();
    let mut held: Option<String> = None;
    let flush = |rec: &mut Recorder, held: &mut Option<String>| {
        if let Some(code) = held.take() {
            rec.error(&code);
        }
    };
    while world.start.elapsed() < world.duration {
        let t = Instant::now();
        let answer = world.client.post(s, "/api/v1/marking/next", ask, None).await;
        rec.time("lease", t.elapsed(), true);
        if !matches!(&answer, Ok((_, problem)) if problem["code"] == "marker_paused") {
            flush(&mut rec, &mut held);
        }
        let lease = match answer {
            Ok((StatusCode::OK, lease)) => lease,
            Ok((StatusCode::NO_CONTENT, _)) => {
                rec.outcome("nothing_to_lease");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Ok((_, problem)) if problem["code"] == "marker_paused" => {
                if held.take().is_some() {
                    rec.outcome("ended_by_pause");
                }
                rec.outcome("paused");
                return (rec, true);
            }
            Ok((status, problem)) => {
                rec.error(problem["code"].as_str().unwrap_or(status.as_str()));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                rec.error(&format!("transport: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let question = lease["question"].as_str().unwrap_or_default().to_string();
        let Some(latent) = latent_of(world, &lease, &mut rec, &mut held).await else {
            continue;
        };
        let Some(scale) = world.scales.get(&question) else {
            rec.error("unknown_question_in_lease");
            continue;
        };
        let progress = world.start.elapsed().as_secs_f64() / world.duration.as_secs_f64().max(1e-9);
        let score = model::score(m, latent, scale, world.noise, progress, &mut rng);
        let mut body = json!({ "score": score });
        if let Some(list) = world.criteria.get(&question).filter(|l| !l.is_empty()) {
            let maxima: Vec<f64> = list.iter().map(|(_, max)| *max).collect();
            let parts = model::split(score, &maxima, scale.step);
            let map: serde_json::Map<String, Value> = list
                .iter()
                .map(|(c, _)| c.clone())
                .zip(parts.into_iter().map(Value::from))
                .collect();
            body["criteria"] = Value::Object(map);
        }
        let task = lease["task_id"].as_str().unwrap_or_default().to_string();
        let t = Instant::now();
        let answer = world
            .client
            .post(s, &format!("/api/v1/marking/tasks/{task}/score"), &body, Some(&task))
            .await;
        rec.time("score", t.elapsed(), true);
        match answer {
            Ok((StatusCode::OK, _)) => {
                world.cycles.fetch_add(1, Ordering::Relaxed);
            }
            Ok((_, problem)) if problem["code"] == "marker_paused" => {
                rec.outcome("paused");
                return (rec, true);
            }
            Ok((_, problem)) if problem["code"] == "lease_expired" => held = Some("lease_expired".into()),
            Ok((status, problem)) => rec.error(problem["code"].as_str().unwrap_or(status.as_str())),
            Err(e) => rec.error(&format!("transport: {e}")),
        }
    }
    // Time is up with a failure held: one more lease says whether a pause explains it.
    if held.is_some() && paused_now(world, s, ask).await {
        rec.outcome("ended_by_pause");
        rec.outcome("paused");
        return (rec, true);
    }
    flush(&mut rec, &mut held);
    (rec, false)
}

/// Whether the marker is paused now: the lease answers `marker_paused`.
async fn paused_now(world: &World, s: &Session, ask: &Value) -> bool {
    matches!(
        world.client.post(s, "/api/v1/marking/next", ask, None).await,
        Ok((_, problem)) if problem["code"] == "marker_paused"
    )
}

/// The latent of a leased script: from the demo file by its code, otherwise (a seed or a
/// self-check comes under a fresh code) read off the image's strip as a person would.
async fn latent_of(world: &World, lease: &Value, rec: &mut Recorder, held: &mut Option<String>) -> Option<f64> {
    let anonymous = lease["anonymous_code"].as_str().unwrap_or_default();
    let step = world
        .steps
        .get(lease["question"].as_str().unwrap_or_default())
        .copied()
        .unwrap_or(1.0);
    if let Some(units) = world.latents.get(anonymous) {
        return Some(f64::from(*units) * step);
    }
    let url = lease["images"][0].as_str()?;
    let t = Instant::now();
    let bytes = world.client.bytes(url).await;
    rec.time("image_read", t.elapsed(), false);
    match bytes.map(|b| crate::scans::read_latent_png(&b)) {
        Ok(Ok(units)) => Some(f64::from(units) * step),
        Ok(Err(e)) => {
            rec.error(&format!("unreadable image: {e}"));
            None
        }
        Err(e) => {
            // Perhaps a pause revoked the link: the next lease tells.
            *held = Some(format!("image: {e}"));
            None
        }
    }
}

/// Each marker holds one lease and fetches its image over and over for `seconds`; the leases are
/// given back after.
async fn image_phase(world: &World, sessions: &[Session], seconds: Duration) -> (u64, Duration, Recorder) {
    let start = Instant::now();
    let count = AtomicU64::new(0);
    let recorders = futures_util::future::join_all(sessions.iter().map(|s| {
        let count = &count;
        async move {
            let mut rec = Recorder::default();
            let Ok((StatusCode::OK, lease)) = world.client.post(s, "/api/v1/marking/next", &json!({}), None).await
            else {
                return rec;
            };
            let url = lease["images"][0].as_str().unwrap_or_default().to_string();
            while start.elapsed() < seconds {
                let t = Instant::now();
                match world.client.bytes(&url).await {
                    Ok(_) => {
                        rec.time("image", t.elapsed(), false);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    // The statistics check after the marking phase may still pause a marker,
                    // which ends the lease and its link.
                    Err(_) if paused_now(world, s, &json!({})).await => {
                        rec.outcome("ended_by_pause");
                        break;
                    }
                    Err(e) => {
                        rec.error(&format!("image: {e}"));
                        break;
                    }
                }
            }
            let task = lease["task_id"].as_str().unwrap_or_default();
            let _ = world
                .client
                .post(s, &format!("/api/v1/marking/tasks/{task}/release"), &json!({}), None)
                .await;
            rec
        }
    }))
    .await;
    let mut all = Recorder::default();
    for r in &recorders {
        all.merge(r);
    }
    (count.load(Ordering::Relaxed), start.elapsed(), all)
}

impl Kind {
    pub fn planted(self) -> bool {
        self != Kind::Ordinary
    }
}
