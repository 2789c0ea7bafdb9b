//! Choosing a marker's next script, in two steps. `plan` only reads, so it runs on a read
//! connection alongside other requests; `take` makes the choice real in the write transaction
//! and checks again whatever may have changed in between (the task still open, the script
//! still markable, the room still open, the marker still active). On SQLite every write goes
//! through one thread: keeping the queue walk and the day's counts out of it is what lets
//! leases go faster than that thread can choose them.

use chrono::{DateTime, Duration, Utc};
use rand::seq::IndexedRandom;

use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::markers::MarkerRow;
use crate::db::marking::{Eligible, ServeRow, TaskRow};
use crate::db::{self, DbConn, db_time};
use crate::domain::custody::anonymous_code;
use crate::domain::marker_status::MarkerStatus;
use crate::domain::marking::{Available, ServeKind, Today, choose_serve, draw_serve};
use crate::domain::rules::MarkingRules;
use crate::http::audit_entry::Audit;
use crate::http::error::ApiError;
use crate::vault::Vault;

use super::lease::marking_day;

pub struct Asker<'a> {
    pub marker: &'a MarkerRow,
    pub user: &'a str,
    pub workstation: Option<&'a str>,
    pub only: Option<&'a str>,
}

/// What to serve a marker in one exam, as chosen from a read.
#[derive(Debug, Clone)]
pub struct Plan {
    pub exam_id: String,
    pub kind: ServeKind,
    /// Live: the eligible open tasks in the random order to try them; the first still open is
    /// taken. Also present for a seed or self-check, which are only served when live work is.
    pub tasks: Vec<TaskRow>,
    /// Seed: (prescored script, question).
    pub seed: Option<(String, String)>,
    /// Self-check: (script, question).
    pub check: Option<(String, String)>,
    /// The questions the marker may take here, as read for the plan.
    pub questions: Vec<QuestionRow>,
}

/// A serve made real, with what the transaction already read for its answer.
pub struct Taken {
    pub serve: ServeRow,
    pub question: Option<QuestionRow>,
    /// A live script's image (its row is locked and read in the take).
    pub image_key: Option<String>,
    /// The holder's image link, when the take wrote it (a live lease on PostgreSQL).
    pub link: Option<String>,
    /// The lease's audit entry is written already.
    pub logged: bool,
}

/// The audit entry of a lease: who held which script, when (kept for the record, admins only).
pub fn lease_entry(entry: &Audit, s: &ServeRow) -> Audit {
    entry
        .clone()
        .exam(&s.exam_id)
        .object("task", &s.id)
        .details(serde_json::json!({ "script": s.script_id, "prescored": s.prescored_id }))
}

/// Whether the marker may take work in this exam now: its room open in its window, the exam
/// not locked (a locked exam has nothing left open anyway).
pub fn takes_leases(exam: &ExamRow, now: DateTime<Utc>) -> bool {
    exam.room_open && exam.window().contains(now) && !exam.locked
}

/// The questions of an exam the marker passed the test for (restricted to `only` when asked).
fn questions_for(
    c: &mut DbConn,
    exam_id: &str,
    m: &MarkerRow,
    only: Option<&str>,
) -> Result<Vec<QuestionRow>, ApiError> {
    Ok(db::exams::qualified_questions(c, exam_id, &m.id)?
        .into_iter()
        .filter(|q| only.is_none_or(|code| q.code == code))
        .collect())
}

/// Sheet lookups of the marker's declared relatives sitting the exam.
fn relative_sheets(c: &mut DbConn, vault: &Vault, exam_id: &str, user: &str) -> Result<Vec<String>, ApiError> {
    let mut sheets = vec![];
    for lookup in db::markers::relative_lookups(c, exam_id, user)? {
        if let Some((candidate, _)) = db::candidates::by_lookup(c, exam_id, &lookup)? {
            sheets.push(crate::http::custodian::sheets::sheet_lookup(vault, exam_id, &candidate));
        }
    }
    Ok(sheets)
}

/// A fresh anonymous code, never one a real script of the exam carries.
fn fresh_code(c: &mut DbConn, exam_id: &str) -> Result<String, ApiError> {
    loop {
        let code = anonymous_code(&mut rand::rng());
        if !db::scripts::code_taken(c, exam_id, &code)? {
            return Ok(code);
        }
    }
}

/// Chooses in one exam: live work if any is there for the marker, and then perhaps a seed or a
/// self-check in its place. Reads only.
pub fn plan(
    c: &mut DbConn,
    exam: &ExamRow,
    rules: &MarkingRules,
    who: &Asker<'_>,
    vault: &Vault,
    now: DateTime<Utc>,
) -> Result<Option<Plan>, ApiError> {
    let questions = questions_for(c, &exam.id, who.marker, who.only)?;
    if questions.is_empty() {
        return Ok(None);
    }
    let ids: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
    let relatives = relative_sheets(c, vault, &exam.id, who.user)?;
    let eligible = Eligible {
        exam_id: &exam.id,
        question_ids: &ids,
        marker_id: &who.marker.id,
        school_code: &who.marker.school_code,
        relative_sheets: &relatives,
    };
    let tasks = db::marking::eligible_tasks(c, &eligible, rand::random::<i64>())?;
    let Some(first) = tasks.first() else {
        return Ok(None);
    };
    let (served, seeds) = db::marking::served_on(c, &exam.id, &who.marker.id, marking_day(exam, now))?;
    let mut rng = rand::rng();
    let wanted = draw_serve(Today { served, seeds }, rules, &mut rng);
    // Seeds and self-checks of the first task's question only: one of another question would
    // betray itself when the marker asked for this one. Each pool is read only when its draw
    // wants it.
    let seed_pool = if wanted.seed {
        db::marking::unseen_seeds(c, &exam.id, &who.marker.id, &first.question_id)?
    } else {
        vec![]
    };
    let check_pool = if wanted.self_check && seed_pool.is_empty() {
        db::marking::self_checkable(c, &exam.id, &who.marker.id, &first.question_id)?
    } else {
        vec![]
    };
    let available = Available {
        seed: !seed_pool.is_empty(),
        self_check: !check_pool.is_empty(),
    };
    let kind = choose_serve(wanted, available);
    Ok(Some(Plan {
        exam_id: exam.id.clone(),
        kind,
        seed: seed_pool.choose(&mut rng).cloned(),
        check: check_pool.choose(&mut rng).map(|(s, q, _)| (s.clone(), q.clone())),
        tasks,
        questions,
    }))
}

/// Makes a plan real (`status`: the marker's in the exam, read with the exam's row): the serve,
/// and for live work the task leased and the script's holder recorded (on PostgreSQL with its
/// image link and `entry`, the lease's audit entry). None when the plan no longer holds (every
/// task it named was taken meanwhile, the room closed, the marker is no longer active): the
/// caller then chooses afresh.
#[allow(clippy::too_many_arguments)]
pub fn take(
    c: &mut DbConn,
    exam: &ExamRow,
    status: MarkerStatus,
    rules: &MarkingRules,
    plan: &Plan,
    who: &Asker<'_>,
    entry: &Audit,
    now: DateTime<Utc>,
) -> Result<Option<Taken>, ApiError> {
    if !takes_leases(exam, now) || status != MarkerStatus::Active {
        return Ok(None);
    }
    // A lease never outlives the marking window.
    let expires = (now + Duration::minutes(i64::from(rules.lease_minutes))).min(exam.window().end);
    let mut serve = ServeRow {
        exam_id: exam.id.clone(),
        id: db::new_id(),
        marker_id: who.marker.id.clone(),
        kind: plan.kind.as_str().into(),
        question_id: String::new(),
        task_id: None,
        script_id: None,
        prescored_id: None,
        anonymous_code: String::new(),
        workstation_id: who.workstation.map(str::to_string),
        state: "leased".into(),
        day: marking_day(exam, now),
        leased_at: db_time(now),
        lease_expires_at: db_time(expires),
        ended_at: None,
    };
    let mut image_key = None;
    let mut link = None;
    match (plan.kind, &plan.seed, &plan.check) {
        (ServeKind::Seed, Some((prescored, question)), _) => {
            let unseen = db::marking::unseen_seeds(c, &exam.id, &who.marker.id, question)?;
            if !unseen.iter().any(|(p, _)| p == prescored) || !live_work_remains(c, plan, who)? {
                return Ok(None);
            }
            serve.prescored_id = Some(prescored.clone());
            serve.question_id = question.clone();
            serve.anonymous_code = fresh_code(c, &exam.id)?;
            db::marking::insert_serve(c, &serve)?;
        }
        (ServeKind::SelfCheck, _, Some((script, question))) => {
            if !db::marking::mark_stands(c, &exam.id, script, &who.marker.id)? || !live_work_remains(c, plan, who)? {
                return Ok(None);
            }
            serve.script_id = Some(script.clone());
            serve.question_id = question.clone();
            serve.anonymous_code = fresh_code(c, &exam.id)?;
            db::marking::insert_serve(c, &serve)?;
        }
        _ if matches!(c, DbConn::Pg(_)) => {
            let Some((url, key)) = take_task_at_once(c, plan, who, &mut serve, entry)? else {
                return Ok(None);
            };
            (link, image_key) = (Some(url), Some(key));
        }
        _ => {
            let Some((task, script)) = take_task(c, plan, who, expires)? else {
                return Ok(None);
            };
            serve.kind = ServeKind::Live.as_str().into();
            serve.question_id = task.question_id.clone();
            serve.task_id = Some(task.id.clone());
            serve.script_id = Some(script.id.clone());
            serve.anonymous_code = script.anonymous_code.clone();
            image_key = Some(script.image_key.clone());
            db::marking::insert_serve(c, &serve)?;
            if !db::marking::hold(c, &exam.id, &script.id, &who.marker.id, &serve.id)? {
                return Err(db::DbError::Stale("the script's holders".into()).into());
            }
            if script.state == "awaiting" {
                db::marking::set_script_state(c, &exam.id, &script.id, "marking")?;
                db::marking::begin_script(c, &exam.id, &script.id)?;
            }
        }
    }
    let question = plan.questions.iter().find(|q| q.id == serve.question_id).cloned();
    Ok(Some(Taken {
        logged: link.is_some(),
        serve,
        question,
        image_key,
        link,
    }))
}

/// Leases the first of the plan's tasks that is still open and whose script this marker may
/// still mark (markable, not their school, not held before). The script's row is taken first,
/// skipping one another lease holds: sibling tasks are leased in turn, in one lock order.
fn take_task(
    c: &mut DbConn,
    plan: &Plan,
    who: &Asker<'_>,
    expires: DateTime<Utc>,
) -> Result<Option<(TaskRow, db::scripts::ScriptRow)>, ApiError> {
    for task in &plan.tasks {
        let Some(script) = db::scripts::try_lock_script(c, &plan.exam_id, &task.script_id)? else {
            continue;
        };
        // `lease_task` also refuses a script the marker held before.
        if markable(&script, who) && db::marking::lease_task(c, &plan.exam_id, &task.id, &who.marker.id, expires)? {
            return Ok(Some((task.clone(), script)));
        }
    }
    Ok(None)
}

/// Whether the marker may mark this script (held at the moment): in marking, and not of their
/// school.
fn markable(script: &db::scripts::ScriptRow, who: &Asker<'_>) -> bool {
    matches!(script.state.as_str(), "awaiting" | "marking") && script.school_code != who.marker.school_code
}

/// `take_task` on PostgreSQL, with the serve, the holder's image link and the audit entry
/// written in the same statement as the task's lease (`db::marking::lease_live_pg`). Fills in
/// `serve`; returns the link and the script's image.
fn take_task_at_once(
    c: &mut DbConn,
    plan: &Plan,
    who: &Asker<'_>,
    serve: &mut ServeRow,
    entry: &Audit,
) -> Result<Option<(String, String)>, ApiError> {
    for task in &plan.tasks {
        let Some(script) = db::scripts::try_lock_script(c, &plan.exam_id, &task.script_id)? else {
            continue;
        };
        if !markable(&script, who) {
            continue;
        }
        serve.kind = ServeKind::Live.as_str().into();
        serve.question_id = task.question_id.clone();
        serve.task_id = Some(task.id.clone());
        serve.script_id = Some(script.id.clone());
        serve.anonymous_code = script.anonymous_code.clone();
        let (url, hash) = crate::http::image_links::fresh_link();
        let logged = lease_entry(entry, serve).entry();
        let lease = db::marking::LiveLease {
            serve,
            awaiting: script.state == "awaiting",
            token_hash: &hash,
            image_key: &script.image_key,
            holder: who.user,
            entry: &logged,
        };
        if db::marking::lease_live_pg(c, &lease)? {
            return Ok(Some((url, script.image_key)));
        }
    }
    Ok(None)
}

/// Whether live work the plan named is still there for the marker: a seed or self-check is
/// served only then, or its place beside an empty queue would betray it.
fn live_work_remains(c: &mut DbConn, plan: &Plan, who: &Asker<'_>) -> Result<bool, ApiError> {
    for task in &plan.tasks {
        let open = db::marking::task(c, &plan.exam_id, &task.id)?.state == "open";
        if open && !db::marking::held_by(c, &plan.exam_id, &task.script_id, &who.marker.id)? {
            return Ok(true);
        }
    }
    Ok(false)
}
