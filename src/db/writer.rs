//! Group commit on SQLite. SQLite has one writer, and with `synchronous = FULL` every commit
//! waits for the disk. Requests that write at the same moment are therefore run one after the
//! other by one thread, each in a savepoint of its own inside one transaction, and committed
//! together: one wait on the disk for many acts.
//!
//! What each request sees is unchanged. Its closure runs alone in its savepoint: an error
//! rolls back its own changes and nothing else, so a refused request leaves no trace. It hears
//! its answer only after the commit that holds its changes, so nothing is acknowledged before
//! it is on disk. If that commit fails, every request of the batch hears the failure and none
//! of their changes remain.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::turns::Turns;
use super::{DbConn, DbError, Pool};

/// Runs a closure on the writing connection; answers once the batch is committed (or not).
type Job = Box<dyn FnOnce(&mut DbConn) -> Answer + Send>;
/// Sends a request its result, given how the batch's commit went.
type Answer = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// The most requests one commit takes. Bounds how long a request waits behind others.
const MAX_BATCH: usize = 64;

/// The handle requests send their writes through. Cloning shares the one writing thread.
#[derive(Clone)]
pub struct Writer {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Dropped to stop the checkpointing thread.
    stop_checkpoints: Option<mpsc::Sender<()>>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
}

/// The last handle gone, the thread finishes its batch and ends before the drop returns, so
/// the database is closed when `Db` is (a migration or a test may open it next).
impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.jobs.take());
        drop(self.stop_checkpoints.take());
        for t in [self.thread.take(), self.checkpointer.take()].into_iter().flatten() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Writer {
    /// Starts the writing thread on `write` (whose connection does not checkpoint) and the
    /// checkpointing thread on a connection of `read`; both stop when the last handle is dropped.
    pub fn start(write: Pool, read: Pool, turns: std::sync::Arc<Turns>) -> Writer {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&write, &queue, &turns))
            .expect("the operating system starts a thread");
        let (stop, stopped) = mpsc::channel::<()>();
        let checkpointer = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoints(&read, &stopped))
            .expect("the operating system starts a thread");
        Writer {
            inner: std::sync::Arc::new(Inner {
                jobs: Some(jobs),
                thread: Some(thread),
                stop_checkpoints: Some(stop),
                checkpointer: Some(checkpointer),
            }),
        }
    }

    /// Runs `f` in its own savepoint of the next batch; the result comes after the commit.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut DbConn) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<R, E>>();
        let job: Job = Box::new(move |conn| {
            // A nested transaction: diesel makes it a savepoint and rolls it back on Err.
            super::audit::Written::take();
            let result = conn.transaction(f);
            let written = super::audit::Written::take();
            Box::new(move |committed: Result<(), &str>| {
                let answer = match (result, committed) {
                    (Ok(r), Ok(())) => {
                        written.count();
                        Ok(r)
                    }
                    (Ok(_), Err(why)) => Err(E::from(DbError::Pool(why.to_string()))),
                    (Err(e), _) => Err(e),
                };
                let _ = tx.send(answer);
            })
        });
        self.inner
            .jobs
            .as_ref()
            .ok_or_else(|| E::from(DbError::Pool("the writing thread has stopped".into())))?
            .send(job)
            .map_err(|_| E::from(DbError::Pool("the writing thread has stopped".into())))?;
        rx.await
            .map_err(|_| E::from(DbError::Pool("the write was abandoned: its batch failed".into())))?
    }
}

/// How often the write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Copies the write-ahead log into the database file, off the writing thread. Left to SQLite,
/// the commit that fills a thousand pages of log copies them, and waits for the disk twice more,
/// while every request behind it waits too. Here it happens beside the writer (a passive
/// checkpoint takes no lock the writer needs), and a page written many times between two
/// checkpoints is copied once. A checkpoint starting as the writer restarts the log is the
/// race SQLite fixed in 3.51.3 (sqlite.org/wal.html#walresetbug): the bundled SQLite must be
/// past it (`tests::the_bundled_sqlite_is_past_the_wal_reset_race`).
fn checkpoints(pool: &Pool, stop: &mpsc::Receiver<()>) {
    use diesel::connection::SimpleConnection;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let done = pool.get().map_err(|e| e.to_string()).and_then(|mut c| {
            c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
                .map_err(|e| e.to_string())
        });
        if let Err(why) = done {
            tracing::warn!(
                why,
                "a checkpoint of the write-ahead log failed; the next one tries again"
            );
        }
    }
}

fn run(pool: &Pool, queue: &mpsc::Receiver<Job>, turns: &Turns) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(pool, batch, turns);
    }
}

/// One transaction for the batch: each job in its savepoint, one commit, then the answers.
fn commit_batch(pool: &Pool, batch: Vec<Job>, turns: &Turns) {
    let mut conn = match pool.get() {
        Ok(c) => c,
        Err(e) => return refuse(batch, &format!("no connection: {e}")),
    };
    let DbConn::Sqlite(raw) = &mut *conn else {
        return refuse(batch, "group commit is for SQLite");
    };
    // Another process waiting for the write lock would never get it between two batches.
    turns.yield_to_waiters();
    let waiting = turns.wait();
    if let Err(e) = AnsiTransactionManager::begin_transaction_sql(raw, "BEGIN IMMEDIATE") {
        return refuse(batch, &format!("could not begin: {e}"));
    }
    drop(waiting);
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        match catch_unwind(AssertUnwindSafe(|| job(&mut conn))) {
            Ok(answer) => answers.push(answer),
            Err(panic) => return abandon(conn, answers, panic),
        }
    }
    let DbConn::Sqlite(raw) = &mut *conn else {
        unreachable!("checked above")
    };
    let jobs = answers.len();
    let began = std::time::Instant::now();
    match AnsiTransactionManager::commit_transaction(raw) {
        Ok(()) => {
            tracing::trace!(jobs, commit_us = began.elapsed().as_micros() as u64, "batch committed");
            answers.into_iter().for_each(|a| a(Ok(())))
        }
        Err(e) => {
            let _ = AnsiTransactionManager::rollback_transaction(raw);
            let why = format!("the commit failed: {e}");
            answers.into_iter().for_each(|a| a(Err(&why)));
        }
    }
}

fn refuse(batch: Vec<Job>, why: &str) {
    tracing::error!(why, "a batch of writes could not run");
    // A job dropped unrun drops its answer channel: its request hears the failure.
    drop(batch);
}

/// A closure panicked mid-batch: nothing of the batch is kept, everyone hears it.
fn abandon(mut conn: r2d2::PooledConnection<super::Manager>, answers: Vec<Answer>, panic: Box<dyn Any + Send>) {
    if let DbConn::Sqlite(raw) = &mut *conn {
        while AnsiTransactionManager::transaction_manager_status_mut(raw)
            .transaction_depth()
            .ok()
            .flatten()
            .is_some()
        {
            if AnsiTransactionManager::rollback_transaction(raw).is_err() {
                break;
            }
        }
    }
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "a write panicked; its batch was rolled back");
    answers
        .into_iter()
        .for_each(|a| a(Err("rolled back: another write of its batch failed")));
}

#[cfg(test)]
mod tests {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};

    /// SQLite 3.7.0 to 3.51.2 could lose or corrupt pages when a checkpoint started while
    /// another connection restarted the write-ahead log (fixed in 3.51.3; backports 3.44.6 and
    /// 3.50.7): this module's writer and its checkpoint thread are two such connections. With
    /// 3.50.2, bundled before, a demo once answered "database disk image is malformed".
    #[test]
    fn the_bundled_sqlite_is_past_the_wal_reset_race() {
        let mut c = SqliteConnection::establish(":memory:").expect("an in-memory database");
        let version: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("sqlite_version()"))
            .get_result(&mut c)
            .expect("sqlite_version()");
        let parts: Vec<u32> = version.split('.').map(|p| p.parse().expect("a number")).collect();
        let (major, minor, patch) = (parts[0], parts[1], parts.get(2).copied().unwrap_or(0));
        let fixed = major > 3
            || (major == 3
                && ((minor, patch) >= (51, 3) || (minor == 50 && patch >= 7) || (minor == 44 && patch >= 6)));
        assert!(
            fixed,
            "SQLite {version} has the WAL-reset race (fixed in 3.51.3, 3.50.7, 3.44.6)"
        );
    }
}
