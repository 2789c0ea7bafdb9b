//! PostgreSQL writes a live lease and a live score each in one statement
//! (`db::marking::lease_live_pg`, `score_live_pg`). Each hangs its writes on a guard: the task
//! still open and its script never held by this marker, the serve still leased. The API refuses
//! such requests before the statement runs, so these tests call the statements themselves, on
//! rows the API made, and check that a failed guard answers false and writes nothing. SQLite
//! runs the same steps one by one and never calls them.

use chrono::{DateTime, Duration, Utc};
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use markroom::db::audit::NewEntry;
use markroom::db::idempotency::Kept;
use markroom::db::marking::{self, LiveLease, LockedScript, NewMark, ServeRow};
use markroom::db::{Backend, DbConn, DbError, standing};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::floor::floor;
use crate::helpers::TestApp;
use crate::marking::score;

#[derive(diesel::QueryableByName, Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    marks: i64,
    #[diesel(sql_type = BigInt)]
    serves: i64,
    #[diesel(sql_type = BigInt)]
    leased_serves: i64,
    #[diesel(sql_type = BigInt)]
    holders: i64,
    #[diesel(sql_type = BigInt)]
    links: i64,
    #[diesel(sql_type = BigInt)]
    live_links: i64,
    #[diesel(sql_type = BigInt)]
    answers: i64,
    #[diesel(sql_type = BigInt)]
    audit: i64,
    #[diesel(sql_type = BigInt)]
    leased_tasks: i64,
    #[diesel(sql_type = BigInt)]
    done_tasks: i64,
    #[diesel(sql_type = BigInt)]
    begun_tasks: i64,
    #[diesel(sql_type = BigInt)]
    scripts_marking: i64,
}

/// Every row either statement may write or change.
fn counts(app: &TestApp) -> Counts {
    app.db
        .read_now(|c| -> Result<Counts, DbError> {
            Ok(diesel::sql_query(
                "SELECT (SELECT count(*) FROM marks) AS marks,
                        (SELECT count(*) FROM serves) AS serves,
                        (SELECT count(*) FROM serves WHERE state = 'leased') AS leased_serves,
                        (SELECT count(*) FROM script_holders) AS holders,
                        (SELECT count(*) FROM image_tokens) AS links,
                        (SELECT count(*) FROM image_tokens WHERE NOT revoked) AS live_links,
                        (SELECT count(*) FROM idempotency_keys) AS answers,
                        (SELECT count(*) FROM audit_log) AS audit,
                        (SELECT count(*) FROM tasks WHERE state = 'leased') AS leased_tasks,
                        (SELECT count(*) FROM tasks WHERE state = 'done') AS done_tasks,
                        (SELECT count(*) FROM tasks WHERE begun) AS begun_tasks,
                        (SELECT count(*) FROM scripts WHERE state = 'marking') AS scripts_marking",
            )
            .get_result(c)?)
        })
        .unwrap()
}

/// A marker's account: image links are the account's, serves the marker's.
fn account_of(app: &TestApp, marker_id: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Account {
        #[diesel(sql_type = diesel::sql_types::Text)]
        user_id: String,
    }
    let a: Account = app
        .db
        .read_now(|c| -> Result<Account, DbError> {
            Ok(diesel::sql_query("SELECT user_id FROM markers WHERE id = $1")
                .bind::<diesel::sql_types::Text, _>(marker_id)
                .get_result(c)?)
        })
        .unwrap();
    a.user_id
}

/// Runs one statement of the test's own on the service's database.
fn execute(app: &TestApp, sql: &str, id: &str) {
    app.db
        .write_now(|c| -> Result<usize, DbError> {
            Ok(diesel::sql_query(sql)
                .bind::<diesel::sql_types::Text, _>(id)
                .execute(c)?)
        })
        .unwrap();
}

/// An awaiting script none of whose tasks has begun.
fn untouched_script(app: &TestApp) -> String {
    #[derive(diesel::QueryableByName)]
    struct Script {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let sql = "SELECT s.id FROM scripts s WHERE s.state = 'awaiting' AND NOT EXISTS \
               (SELECT 1 FROM tasks t WHERE t.exam_id = s.exam_id AND t.script_id = s.id AND t.begun) LIMIT 1";
    let s: Script = app
        .db
        .read_now(|c| -> Result<Script, DbError> { Ok(diesel::sql_query(sql).get_result(c)?) })
        .unwrap();
    s.id
}

fn entry(action: &str) -> NewEntry {
    NewEntry {
        action: action.into(),
        outcome: "ok".into(),
        details: "{}".into(),
        ..NewEntry::default()
    }
}

/// The score's one statement for serve `s` of `holder`, in the caller's transaction: the
/// script as it locked it, or `None` when the lease no longer runs.
fn score_in(c: &mut DbConn, s: &ServeRow, holder: &str, now: DateTime<Utc>) -> Result<Option<LockedScript>, DbError> {
    let (task, script) = (s.task_id.as_deref().unwrap(), s.script_id.as_deref().unwrap());
    let mark = NewMark {
        exam_id: &s.exam_id,
        task_id: task,
        serve_id: &s.id,
        script_id: script,
        question_id: &s.question_id,
        marker_id: &s.marker_id,
        score: 41,
        criteria: "{}",
        annotations: "[]",
        seconds_spent: None,
    };
    let answer = Kept {
        exam_id: &s.exam_id,
        user_id: holder,
        key: "a key never used",
        request_hash: "h",
        status: 200,
        response: "{}",
    };
    marking::score_live_pg(c, &mark, holder, Some(&answer), &entry("mark.recorded"), now)
}

fn score_again(app: &TestApp, s: &ServeRow, holder: &str) -> Result<bool, DbError> {
    app.db
        .write_now(|c| score_in(c, s, holder, app.clock.now()))
        .map(|locked| locked.is_some())
}

/// A fresh serve of `task` for `marker`, as a lease would write it.
fn serve_of(app: &TestApp, template: &ServeRow, task: &str, marker: &str) -> ServeRow {
    let now = app.clock.now().naive_utc();
    ServeRow {
        id: markroom::db::new_id(),
        marker_id: marker.into(),
        task_id: Some(task.into()),
        anonymous_code: format!("Z{}", &markroom::db::new_id()[..8]),
        state: "leased".into(),
        leased_at: now,
        lease_expires_at: now + Duration::minutes(10),
        ended_at: None,
        ..template.clone()
    }
}

fn lease(app: &TestApp, serve: &ServeRow, awaiting: bool, holder: &str) -> Result<bool, DbError> {
    let e = entry("task.leased");
    let l = LiveLease {
        serve,
        awaiting,
        token_hash: &markroom::db::new_id(),
        image_key: "objects/none",
        holder,
        entry: &e,
    };
    app.db.write_now(|c| marking::lease_live_pg(c, &l))
}

#[tokio::test]
async fn the_one_statement_writes_write_nothing_when_their_guard_fails() {
    let app = TestApp::spawn().await;
    if app.db.backend() != Backend::Postgres {
        return; // the statements are PostgreSQL's alone
    }
    let f = floor(
        &app,
        4,
        3,
        json!({ "self_check_rate": 0, "seed_rate": 0, "backread_rate": 0 }),
    )
    .await;
    let (first_id, first) = &f.markers[0];
    let lease_w1 = |m: usize| {
        let (app, f) = (&app, &f);
        async move {
            let r = app
                .post(
                    "/api/v1/marking/next",
                    Some(&f.markers[m].1),
                    json!({ "question": "W1" }),
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            let leased: Value = r.json().await.unwrap();
            let id = leased["task_id"].as_str().unwrap().to_string();
            app.db.read_now(|c| marking::serve(c, &id)).unwrap()
        }
    };
    let scored = lease_w1(0).await;
    let r = score(&app, first, &scored.id, json!({ "score": 30 }), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    // A lease that ended under its marker's hands: its task still leased, its link still live.
    let (third_id, _) = &f.markers[2];
    let running = lease_w1(2).await;
    execute(&app, "UPDATE serves SET state = 'released' WHERE id = $1", &running.id);

    // A score whose lease has ended writes no mark, ends no link, closes no task, keeps no
    // answer and logs nothing.
    let before = counts(&app);
    let third = account_of(&app, third_id);
    assert!(matches!(score_again(&app, &running, &third), Ok(false)));
    assert_eq!(counts(&app), before);
    // Nor does one scored already.
    assert!(matches!(
        score_again(&app, &scored, &account_of(&app, first_id)),
        Ok(false)
    ));
    assert_eq!(counts(&app), before);

    // A lease of a task no longer open (the one just marked) writes nothing either: not even
    // the script begun, here an awaiting one that would show it.
    let (exam, script) = (scored.exam_id.clone(), scored.script_id.clone().unwrap());
    let tasks = app
        .db
        .read_now(|c| marking::tasks_of_script(c, &exam, &script))
        .unwrap();
    let done = tasks.iter().find(|t| t.state == "done").unwrap();
    let other = tasks
        .iter()
        .find(|t| t.state == "open")
        .expect("W1 takes three marks: one of its tasks is still open");
    let second_id = &f.markers[1].0;
    let second = account_of(&app, second_id);
    let mut of_done = serve_of(&app, &scored, &done.id, second_id);
    of_done.script_id = Some(untouched_script(&app));
    assert!(matches!(lease(&app, &of_done, true, &second), Ok(false)));
    assert_eq!(counts(&app), before);

    // Nor does the lease of an open task of a script this marker held before (R5).
    let again = serve_of(&app, &scored, &other.id, first_id);
    assert!(matches!(
        lease(&app, &again, false, &account_of(&app, first_id)),
        Ok(false)
    ));
    assert_eq!(counts(&app), before);

    // The same open task to a marker who never held the script is leased, with its serve,
    // its holder, its link and its entry: the guards above are what stopped the writes.
    let fresh = serve_of(&app, &scored, &other.id, second_id);
    assert!(matches!(lease(&app, &fresh, false, &second), Ok(true)));
    assert_eq!(
        counts(&app),
        Counts {
            serves: before.serves + 1,
            leased_serves: before.leased_serves + 1,
            holders: before.holders + 1,
            links: before.links + 1,
            live_links: before.live_links + 1,
            audit: before.audit + 1,
            leased_tasks: before.leased_tasks + 1,
            ..before
        }
    );
}

const TAKE_MARKER: &str = "SELECT 1 FROM markers WHERE id = $1 FOR UPDATE NOWAIT";
const TAKE_SCRIPT: &str = "SELECT 1 FROM scripts WHERE exam_id = $1 AND id = $2 FOR NO KEY UPDATE NOWAIT";

/// Takes a row on a connection of its own, without waiting (`sql`, one of the `TAKE_…`, with
/// `ids` for its parameters): the error, if another transaction holds it.
fn try_take(app: &TestApp, sql: &str, ids: &[&str]) -> Result<usize, DbError> {
    app.db.read_now(|c| -> Result<usize, DbError> {
        let mut q = diesel::sql_query(sql).into_boxed();
        for id in ids {
            q = q.bind::<diesel::sql_types::Text, _>(*id);
        }
        Ok(q.execute(c)?)
    })
}

/// Another transaction holds the row `try_take` asks for.
fn assert_held(app: &TestApp, sql: &str, ids: &[&str]) {
    let held = try_take(app, sql, ids).expect_err("the row is held");
    assert!(held.to_string().contains("could not obtain lock"), "{held}");
}

/// The door of a marker's lease and score reads the standing and locks the marker's row in one
/// statement (`db::standing::of_marker_locked`): the same standing as the door's statement of
/// its own, the marker's record, and the row held to the end of the transaction. An account
/// without a marker record reads nothing, and the act falls back to the two statements.
#[tokio::test]
async fn the_marker_door_reads_the_standing_and_locks_the_marker_in_one_statement() {
    let app = TestApp::spawn().await;
    if app.db.backend() != Backend::Postgres {
        return; // the statement is PostgreSQL's alone
    }
    let f = floor(&app, 2, 1, json!({ "seed_rate": 0 })).await;
    let marker_id = f.markers[0].0.clone();
    let user = account_of(&app, &marker_id);
    let now = app.clock.now();
    app.db
        .write_now(|c| -> Result<(), DbError> {
            let (standing, marker) = standing::of_marker_locked(c, &user, None, now)?.expect("a marker's record");
            assert_eq!(
                (marker.id.as_str(), marker.user_id.as_str()),
                (marker_id.as_str(), user.as_str())
            );
            let alone = standing::of(c, &user, None, now)?;
            assert_eq!(format!("{standing:?}"), format!("{alone:?}"));
            assert_eq!(standing.role.as_deref(), Some("marker"));
            assert_held(&app, TAKE_MARKER, &[&marker_id]);
            Ok(())
        })
        .unwrap();
    assert_eq!(
        try_take(&app, TAKE_MARKER, &[&marker_id]).unwrap(),
        1,
        "free once the act is over"
    );

    let admin = app
        .db
        .read_now(|c| -> Result<String, DbError> {
            #[derive(diesel::QueryableByName)]
            struct Id {
                #[diesel(sql_type = diesel::sql_types::Text)]
                id: String,
            }
            let row: Id = diesel::sql_query("SELECT id FROM users WHERE username = 'admin'").get_result(c)?;
            Ok(row.id)
        })
        .unwrap();
    let none = app
        .db
        .write_now(|c| standing::of_marker_locked(c, &admin, None, now))
        .unwrap();
    assert!(none.is_none(), "no marker record, no row");
}

/// The score's one statement locks its script for the resolution that follows (as
/// `lock_script` did in a statement of its own): no other transaction takes the script's row
/// until the score's is over, and the statement answers the script as it locked it.
#[tokio::test]
async fn the_score_statement_locks_its_script_for_the_resolution() {
    let app = TestApp::spawn().await;
    if app.db.backend() != Backend::Postgres {
        return; // the statement is PostgreSQL's alone
    }
    let f = floor(
        &app,
        2,
        1,
        json!({ "self_check_rate": 0, "seed_rate": 0, "backread_rate": 0 }),
    )
    .await;
    let (marker_id, session) = &f.markers[0];
    let r = app
        .post("/api/v1/marking/next", Some(session), json!({ "question": "W1" }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let leased: Value = r.json().await.unwrap();
    let id = leased["task_id"].as_str().unwrap().to_string();
    let s = app.db.read_now(|c| marking::serve(c, &id)).unwrap();
    let (holder, script) = (account_of(&app, marker_id), s.script_id.clone().unwrap());
    app.db
        .write_now(|c| -> Result<(), DbError> {
            let locked = score_in(c, &s, &holder, app.clock.now())?.expect("the lease runs");
            assert_eq!(
                (locked.state.as_str(), locked.question_id.as_str()),
                ("marking", s.question_id.as_str())
            );
            assert_held(&app, TAKE_SCRIPT, &[&s.exam_id, &script]);
            Ok(())
        })
        .unwrap();
    assert_eq!(
        try_take(&app, TAKE_SCRIPT, &[&s.exam_id, &script]).unwrap(),
        1,
        "free once the score's transaction is over"
    );
}
