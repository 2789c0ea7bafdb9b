//! `markroom demo`: the ready exam `DEMO`, made through markroom's own API (so by the same rules
//! as a real one): an essay and two short questions, the sheet template, generated answer sheets
//! in a released batch, calibration and seed scripts, two chief leaders, two custodians on duty,
//! an admin, and active qualified markers, each account with its own workstation key and a
//! password derived from `demo.key` in the data directory. A second run duplicates nothing and
//! writes a file whose accounts work.

mod accounts;
mod api;
mod keys;
mod sheets;

use std::collections::BTreeMap;
use std::path::Path;

use futures_util::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use accounts::{Account, account, person};
use api::{Api, Session};
pub use keys::DemoKeys;

use crate::config::Settings;
use crate::db::Db;
use crate::domain::role::Role;

pub const EXAM: &str = "DEMO";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub candidates: usize,
    pub markers: usize,
    pub dpi: u32,
}

#[derive(Debug, Serialize)]
pub struct DemoQuestion {
    pub code: String,
    pub kind: String,
    pub max_score: f64,
    pub step: f64,
    pub marks_required: u32,
}

#[derive(Debug, Serialize)]
pub struct DemoAccounts {
    pub admin: Vec<Account>,
    pub chief_leaders: Vec<Account>,
    pub custodians: Vec<Account>,
    pub markers: Vec<Account>,
}

#[derive(Debug, Serialize)]
pub struct DemoCandidate {
    pub admission_number: String,
    pub name: String,
    pub school_code: String,
}

/// What `--output` writes (mode 0600). `latent_by_code` is for load simulation only.
#[derive(Debug, Serialize)]
pub struct DemoFile {
    pub exam: String,
    pub questions: Vec<DemoQuestion>,
    pub accounts: DemoAccounts,
    pub candidates: Vec<DemoCandidate>,
    pub latent_by_code: BTreeMap<String, u32>,
}

fn usernames(opts: &DemoOptions) -> (Vec<String>, Vec<String>) {
    let custodians = vec!["demo-custodian1".to_string(), "demo-custodian2".to_string()];
    let markers = (1..=opts.markers).map(|i| format!("demo-marker{i:03}")).collect();
    (custodians, markers)
}

/// The part done on the server itself: the admin and chief leaders (as `admin create` and
/// `leader create` make them), every demo account's workstation, and derived passwords again.
pub fn prepare(settings: &Settings, db: &Db, opts: &DemoOptions) -> anyhow::Result<DemoKeys> {
    let keys = DemoKeys::load(&settings.data_dir)?;
    let identity_key = crate::secrets::identity_key(settings.auth.identity_key.as_deref(), &settings.data_dir)?;
    let bootstrap = [
        ("demo-admin", Role::Admin),
        ("demo-chief1", Role::Leader),
        ("demo-chief2", Role::Leader),
    ];
    accounts::ensure_bootstrap(db, &identity_key, &keys, &bootstrap)?;
    let (custodians, markers) = usernames(opts);
    let mut stations: Vec<(String, bool)> = bootstrap.iter().map(|(u, _)| (u.to_string(), false)).collect();
    stations.extend(custodians.iter().map(|u| (u.clone(), true)));
    stations.extend(markers.iter().map(|u| (u.clone(), false)));
    accounts::ensure_workstations(db, &keys, &stations)?;
    let all: Vec<String> = stations.into_iter().map(|(u, _)| u).collect();
    accounts::reset_passwords(db, &keys, &all)?;
    Ok(keys)
}

/// Everything else, through the API of the server at `base`.
pub async fn drive(
    base: &str,
    db: &Db,
    data_dir: &Path,
    keys: &DemoKeys,
    opts: &DemoOptions,
) -> anyhow::Result<DemoFile> {
    let api = Api::new(base);
    let admin = api.login(&account(keys, "demo-admin")).await?;
    let chief1 = api.login(&account(keys, "demo-chief1")).await?;
    let chief2 = api.login(&account(keys, "demo-chief2")).await?;
    let (status, _) = api
        .status(Some(&chief1), Method::GET, &format!("/api/v1/exams/{EXAM}"), None)
        .await?;
    let fresh = status == StatusCode::NOT_FOUND;
    if fresh {
        exam(&api, &chief1).await?;
    }
    let (custodian_names, marker_names) = usernames(opts);
    let mut custodians = vec![];
    for name in &custodian_names {
        custodians.push(staff_member(&api, db, keys, name, (&admin, &chief1, &chief2)).await?);
    }
    let people = sheets::candidates(keys.seed(), opts.candidates);
    let scripts_in = db.read_now(|c| crate::db::marking::script_count(c, EXAM))?;
    if !fresh && scripts_in != opts.candidates * 3 {
        anyhow::bail!(
            "the demo exam here holds {scripts_in} scripts, not {} ({} candidates): run the demo with the same --candidates, or on a fresh data directory",
            opts.candidates * 3,
            opts.candidates
        );
    }
    let latent_by_code = if fresh {
        let list: Vec<Value> = people
            .iter()
            .map(|c| json!({ "admission_number": c.admission_number, "name": c.name, "school_code": c.school_code }))
            .collect();
        api.post(&chief1, &format!("/api/v1/exams/{EXAM}/candidates"), json!(list))
            .await?;
        let scripts = sheets::scan_and_release(&api, &custodians, &people, opts.dpi).await?;
        let latents = sheets::codes_of(db, scripts)?;
        sheets::keep_latents(data_dir, &latents)?;
        sheets::prescored(&api, &chief1, opts.dpi).await?;
        latents
    } else {
        sheets::kept_latents(data_dir)
    };
    futures_util::stream::iter(marker_names.iter())
        .map(|name| marker(&api, db, keys, name, &chief1))
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    let questions = api.get(&chief1, &format!("/api/v1/exams/{EXAM}")).await?["questions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|q| DemoQuestion {
            code: q["code"].as_str().unwrap_or_default().into(),
            kind: q["kind"].as_str().unwrap_or_default().into(),
            max_score: q["max_score"].as_f64().unwrap_or_default(),
            step: q["step"].as_f64().unwrap_or_default(),
            marks_required: q["marks_required"].as_u64().unwrap_or_default() as u32,
        })
        .collect();
    Ok(DemoFile {
        exam: EXAM.into(),
        questions,
        accounts: DemoAccounts {
            admin: vec![account(keys, "demo-admin")],
            chief_leaders: vec![account(keys, "demo-chief1"), account(keys, "demo-chief2")],
            custodians: custodian_names.iter().map(|u| account(keys, u)).collect(),
            markers: marker_names.iter().map(|u| account(keys, u)).collect(),
        },
        candidates: people
            .into_iter()
            .map(|c| DemoCandidate {
                admission_number: c.admission_number,
                name: c.name,
                school_code: c.school_code,
            })
            .collect(),
        latent_by_code,
    })
}

/// The exam: open now for two weeks, in Shanghai time; W1 essay with criteria, S2 and S3 short.
async fn exam(api: &Api, chief: &Session) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let body = json!({
        "code": EXAM, "name": "Demonstration exam", "time_zone": "Asia/Shanghai",
        "window_start": now - chrono::Duration::hours(1), "window_end": now + chrono::Duration::days(14),
    });
    api.post(chief, "/api/v1/exams", body).await?;
    for q in [
        json!({ "code": "W1", "kind": "essay", "max_score": 60, "step": 1, "criteria": [
            { "code": "content", "name": "Content and ideas", "max": 40 },
            { "code": "language", "name": "Language and structure", "max": 20 } ] }),
        json!({ "code": "S2", "kind": "short", "max_score": 10, "step": 1 }),
        json!({ "code": "S3", "kind": "short", "max_score": 10, "step": 0.5 }),
    ] {
        api.post(chief, &format!("/api/v1/exams/{EXAM}/questions"), q).await?;
    }
    let template = serde_json::to_value(sheets::template())?;
    api.send(
        Some(chief),
        Method::PUT,
        &format!("/api/v1/exams/{EXAM}/template"),
        Some(template),
    )
    .await?;
    api.post(chief, &format!("/api/v1/exams/{EXAM}/room"), json!({ "open": true }))
        .await?;
    Ok(())
}

/// A custodian made by the admin, activated by the two chiefs, checked in; their session.
async fn staff_member(
    api: &Api,
    db: &Db,
    keys: &DemoKeys,
    name: &str,
    (admin, chief1, chief2): (&Session, &Session, &Session),
) -> anyhow::Result<Session> {
    let me = account(keys, name);
    let exists = db.read_now(|c| crate::db::users::find_by_username(c, name))?.is_some();
    if !exists {
        let (full_name, id_document) = person(name);
        let body = json!({ "username": name, "full_name": full_name, "id_document": id_document, "role": "custodian" });
        let created = api.post(admin, "/api/v1/users", body).await?;
        api.set_password(&me, created["one_time_password"].as_str().unwrap_or_default())
            .await?;
        let payload = json!({ "kind": "activate_staff", "payload": { "user_id": created["id"] } });
        let request = api.post(chief1, "/api/v1/approvals", payload).await?;
        let id = request["id"].as_str().unwrap_or_default();
        api.post(chief2, &format!("/api/v1/approvals/{id}/approve"), json!({}))
            .await?;
    }
    let s = api.login(&me).await?;
    // Already on duty after a first run: that is fine.
    api.status(
        Some(&s),
        Method::POST,
        &format!("/api/v1/exams/{EXAM}/shifts/check-in"),
        Some(json!({})),
    )
    .await?;
    Ok(s)
}

/// A marker made, appointed, trained, assigned and qualified for every question.
async fn marker(api: &Api, db: &Db, keys: &DemoKeys, name: &str, chief: &Session) -> anyhow::Result<()> {
    let me = account(keys, name);
    if db.read_now(|c| crate::db::users::find_by_username(c, name))?.is_some() {
        // Made by an earlier run: it must have come through, or the demo says so.
        let active = db.read_now(|c| crate::db::marking::demo_marker_active(c, EXAM, name))?;
        anyhow::ensure!(
            active,
            "{name} exists but is not an active marker of {EXAM}: an earlier demo run stopped half-way; start on a fresh data directory"
        );
        return Ok(());
    }
    let (full_name, id_document) = person(name);
    let body = json!({
        "username": name, "full_name": full_name, "id_document": id_document, "birth_date": "1986-04-12",
        "school_code": "T-DEMO", "subject": "Chinese", "years_teaching": 11,
        "recommendation": { "principal": "Principal Demo", "school": "Demo Middle School", "date": "2026-09-01" },
        "attestations": { "health": true, "conduct": true },
    });
    let created = api.post(chief, "/api/v1/markers", body).await?;
    let id = created["id"].as_str().unwrap_or_default().to_string();
    api.set_password(&me, created["one_time_password"].as_str().unwrap_or_default())
        .await?;
    api.post(
        chief,
        &format!("/api/v1/markers/{id}/appointments"),
        json!({ "exam": EXAM }),
    )
    .await?;
    let codes = ["W1", "S2", "S3"];
    for q in codes {
        let t = json!({ "exam": EXAM, "question": q, "course": "Marking standard", "date": "2026-11-20", "trainer": "Demo chief" });
        api.post(chief, &format!("/api/v1/markers/{id}/training"), t).await?;
    }
    api.post(
        chief,
        &format!("/api/v1/markers/{id}/questions"),
        json!({ "exam": EXAM, "questions": codes }),
    )
    .await?;
    let s = match api.login(&me).await {
        Ok(s) => s,
        Err(e) => {
            // Not understood yet (see `stored_password`): said, then tried once more, so that
            // the demo (a fixture of many tests) still comes up; a second refusal stops it.
            let held = stored_password(db, &me);
            eprintln!("warning: {e:#} ({held}); trying once more");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            api.login(&me).await.map_err(|again| again.context(held))?
        }
    };
    for q in codes {
        loop {
            let task = api
                .post(&s, &format!("/api/v1/exams/{EXAM}/qualification/{q}/next"), json!({}))
                .await?;
            let latent = api.latent(task["images"][0].as_str().unwrap_or_default()).await?;
            let step = task["step"].as_f64().unwrap_or(1.0);
            let tid = task["task_id"].as_str().unwrap_or_default();
            let score = json!({ "score": f64::from(latent) * step });
            let answer = api
                .post(&s, &format!("/api/v1/qualification/tasks/{tid}/score"), score)
                .await?;
            if answer["finished"] == true {
                anyhow::ensure!(answer["passed"] == true, "{name} failed the {q} test: {answer}");
                break;
            }
        }
    }
    Ok(())
}

/// What the database holds of an account whose login with its own new password failed: whether
/// the stored hash is that password's, read on the demo's own connection. A demo marker's login
/// right after it set its password was refused, rarely, under the test suite's load; this tells
/// a change that did not last from a login that read an older database.
fn stored_password(db: &Db, me: &Account) -> String {
    match db.read_now(|c| crate::db::users::find_by_username(c, &me.username)) {
        Ok(Some(u)) => format!(
            "the database holds {}: token_version {}, must_change_password {}",
            if crate::secrets::verify_password(&me.password, &u.password_hash) {
                "the password it set"
            } else {
                "another password"
            },
            u.token_version,
            u.must_change_password
        ),
        Ok(None) => "the database holds no such account".into(),
        Err(e) => format!("its account could not be read: {e}"),
    }
}

/// Writes the file (mode 0600).
pub fn write(file: &DemoFile, path: &Path) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(file)?;
    crate::secrets::write_private(path, text.as_bytes())?;
    crate::secrets::private_file(path)?;
    Ok(())
}
