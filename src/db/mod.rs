//! Storage for both backends from one codebase: the embedded SQLite file by default, PostgreSQL
//! when `DATABASE_URL` says so. One module per aggregate; each function takes a connection
//! (already inside the caller's transaction) and plain data.

pub mod approvals;
pub mod audit;
pub mod candidates;
pub mod custody;
pub mod discipline;
pub mod error;
pub mod exams;
pub mod gauges;
pub mod idempotency;
pub mod kept;
pub mod keys;
pub mod lock;
pub mod markers;
pub mod marking;
pub mod planner_stats;
mod pool_size;
pub mod prescored;
pub mod qualification;
pub mod release;
pub mod report;
pub mod results;
pub mod reviews;
pub mod schema;
pub mod scripts;
pub mod service_clients;
pub mod standing;
mod turns;
pub mod users;
pub mod workstations;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use error::DbError;
pub use pool_size::default_pool_size;

use crate::config::Settings;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(diesel::pg::PgConnection),
    Sqlite(diesel::sqlite::SqliteConnection),
}

/// Runs one body against whichever backend the connection is, for the few statements
/// (upserts, `RETURNING` whole rows) that diesel's MultiConnection cannot compile generically.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Session setup for SQLite: WAL so readers never wait for the writer, FULL sync so an
/// acknowledged write survives a power cut, a busy timeout for other processes (the command
/// line while the server runs), and foreign keys, which SQLite leaves off unless asked.
struct Manager {
    url: String,
    backend: Backend,
    sqlite_pragmas: String,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        let conn = match self.backend {
            Backend::Postgres => {
                let mut c = diesel::pg::PgConnection::establish(&self.url)?;
                // The marking floor's statements are short lookups by key, kept prepared
                // (`kept`). Left to choose, PostgreSQL planned the lease's queue walk afresh on
                // every call (0.45 ms of planning for 0.15 ms of work), as its generic plan's
                // estimate looked dearer than a custom one; the generic plan is the same walk.
                // The price: rare statements (reports, the lock's counts) are planned without
                // their values too, so a skewed value may get an average plan.
                c.batch_execute("SET plan_cache_mode = force_generic_plan")
                    .map_err(diesel::r2d2::Error::QueryError)?;
                DbConn::Pg(c)
            }
            Backend::Sqlite => {
                let mut c = diesel::sqlite::SqliteConnection::establish(&self.url)?;
                c.batch_execute(&self.sqlite_pragmas)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                DbConn::Sqlite(c)
            }
        };
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

type Pool = r2d2::Pool<Manager>;

/// See `Db::pool_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub size: usize,
    pub in_use: usize,
    pub waiting: usize,
    pub open: usize,
    pub idle: usize,
}

/// The database as the rest of markroom sees it. On SQLite all writes go through one
/// connection (SQLite has one writer anyway, and this way no transaction ever meets
/// SQLITE_BUSY from another of ours); reads use their own pool. On PostgreSQL both are one pool.
#[derive(Clone)]
pub struct Db {
    write: Pool,
    read: Pool,
    /// SQLite: the thread that runs concurrent requests' writes and commits them together.
    writer: Option<writer::Writer>,
    /// As many blocking threads wait on the pool as it has connections; other requests wait
    /// here, as tasks, costing no thread (a thread each would be a stack and an arena each).
    permits: Arc<Semaphore>,
    /// Requests waiting for a permit now (for `/metrics`).
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    backend: Backend,
    /// PostgreSQL: the owner's URL, for migrations, when the service connects as another role.
    owner_url: Option<String>,
    /// SQLite: turns at the write lock with other processes on the same file.
    turns: Option<Arc<turns::Turns>>,
}

impl Db {
    pub fn connect(settings: &Settings) -> Result<Db, DbError> {
        let busy = Duration::from_millis(settings.database.sqlite_busy_timeout_ms);
        let (backend, url, turns) = match settings.postgres_url() {
            Some(url) => (Backend::Postgres, url.to_string(), None),
            None => {
                let path = settings.sqlite_path();
                // Marks and sealed identities live in this file: nobody but the service reads it.
                crate::secrets::private_dir(&settings.data_dir)
                    .map_err(|e| DbError::Pool(format!("data directory {}: {e}", settings.data_dir.display())))?;
                crate::secrets::private_file(&path)
                    .map_err(|e| DbError::Pool(format!("database file {}: {e}", path.display())))?;
                // Longer than SQLite's longest busy sleep (100 ms), so a waiter that runs gets in.
                let turns = turns::Turns::open(&path, busy.min(Duration::from_millis(250)))
                    .map_err(|e| DbError::Pool(format!("database file {}-turns: {e}", path.display())))?;
                (Backend::Sqlite, path.display().to_string(), Some(Arc::new(turns)))
            }
        };
        // The busy timeout first: setting the journal mode reads the file's header, which another
        // process may hold at that moment (the command line while the server writes).
        let sqlite_pragmas = format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
             PRAGMA mmap_size = {};",
            settings.database.sqlite_busy_timeout_ms,
            settings.database.sqlite_synchronous.to_uppercase(),
            settings.database.sqlite_mmap_mb.saturating_mul(1 << 20)
        );
        let timeout = Duration::from_secs(settings.database.connect_timeout_secs);
        let build = |size: u32, extra: &str| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                // No ping before each use (a statement a request): a connection that fails is
                // known broken by its error and dropped (`has_broken`), and the next one is new
                // (`tests/api/db_faults.rs` restarts PostgreSQL under load to prove it).
                .test_on_check_out(false)
                .connection_timeout(timeout)
                .build(Manager {
                    url: url.clone(),
                    backend,
                    sqlite_pragmas: format!("{sqlite_pragmas} {extra}"),
                })
        };
        let pool_size = settings
            .database
            .pool_size
            .unwrap_or_else(|| default_pool_size(backend, std::thread::available_parallelism().map_or(1, usize::from)))
            .max(1);
        let (write, read) = match backend {
            Backend::Postgres => {
                let p = build(pool_size, "")?;
                (p.clone(), p)
            }
            // The writer leaves checkpoints to a thread of their own (`writer::checkpoints`).
            Backend::Sqlite => (build(1, "PRAGMA wal_autocheckpoint = 0;")?, build(pool_size, "")?),
        };
        let owner_url = match backend {
            Backend::Postgres => settings.owner_url().map(str::to_string),
            Backend::Sqlite => None,
        };
        let writer = turns
            .clone()
            .map(|turns| writer::Writer::start(write.clone(), read.clone(), turns));
        Ok(Db {
            write,
            read,
            writer,
            permits: Arc::new(Semaphore::new(pool_size as usize)),
            waiting: Default::default(),
            backend,
            owner_url,
            turns,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the embedded migrations of this backend. On PostgreSQL an advisory lock keeps
    /// several starting servers from migrating at once.
    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        if let Some(owner) = &self.owner_url {
            return self.migrate_as_owner(owner);
        }
        let mut conn = self.write.get()?;
        let done = match &mut *conn {
            DbConn::Pg(c) => {
                c.batch_execute("SELECT pg_advisory_lock(727001)")?;
                let r = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.iter().map(|m| m.to_string()).collect());
                c.batch_execute("SELECT pg_advisory_unlock(727001)")?;
                r
            }
            DbConn::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
        };
        done.map_err(|e| DbError::Migration(e.to_string()))
    }

    /// How many of this build's migrations the database lacks (`/readyz` waits for none). Read
    /// from the migrations table itself: diesel's harness would first try to create that table,
    /// which the service's role may not do when the tables have an owner of their own.
    pub async fn pending_migrations(&self) -> Result<usize, DbError> {
        use diesel::migration::MigrationSource;
        let built: Vec<String> = match self.backend {
            Backend::Postgres => MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .map(|m| m.iter().map(|m| m.name().version().to_string()).collect()),
            Backend::Sqlite => MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map(|m| m.iter().map(|m| m.name().version().to_string()).collect()),
        }
        .map_err(|e| DbError::Migration(e.to_string()))?;
        let applied: Vec<String> = self
            .read(|c| {
                #[derive(QueryableByName)]
                struct Applied {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    version: String,
                }
                let rows: Vec<Applied> = diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load(c)?;
                Ok::<_, DbError>(rows.into_iter().map(|r| r.version).collect())
            })
            .await?;
        Ok(built.iter().filter(|v| !applied.contains(v)).count())
    }

    /// Migrates as the tables' owner, then grants the service's role (the role of its own
    /// connections) the use of the rows and nothing more.
    fn migrate_as_owner(&self, owner: &str) -> Result<Vec<String>, DbError> {
        let service: String = {
            let mut conn = self.write.get()?;
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("current_user::text")).get_result(&mut *conn)?
        };
        let mut c = diesel::pg::PgConnection::establish(owner).map_err(|e| DbError::Pool(format!("owner: {e}")))?;
        c.batch_execute("SELECT pg_advisory_lock(727001)")?;
        let done = c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
            .map_err(|e| DbError::Migration(e.to_string()));
        let owner_role: String =
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("current_user::text")).get_result(&mut c)?;
        if service != owner_role {
            let role = service.replace('"', "\"\"");
            c.batch_execute(&format!(
                "GRANT USAGE ON SCHEMA public TO \"{role}\"; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{role}\"; \
                 GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO \"{role}\";"
            ))?;
        }
        c.batch_execute("SELECT pg_advisory_unlock(727001)")?;
        done
    }

    /// Runs `f` in one write transaction on a blocking thread: all of it commits, or none.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut DbConn) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        if let Some(writer) = &self.writer {
            return writer.write(f).await;
        }
        let _permit = self.permit().await?;
        let pool = self.write.clone();
        blocking(move || write_transaction(&pool, None, f)).await
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, DbError> {
        use std::sync::atomic::Ordering::Relaxed;
        self.waiting.fetch_add(1, Relaxed);
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Relaxed);
        permit.map_err(|_| DbError::Pool("the database is closing".into()))
    }

    /// Waits until no database work of this process is running or queued: every permit taken
    /// (reads, and PostgreSQL's writes, hold one while they run) and, on SQLite, a job through
    /// the writer, which runs after every job queued before it. Shutdown calls it before the last
    /// seal, so that a request cut off by the grace period has committed (or not) by then.
    pub async fn quiesce(&self) -> Result<(), DbError> {
        let all = self.read.max_size();
        let held = self
            .permits
            .acquire_many(all)
            .await
            .map_err(|_| DbError::Pool("the database is closing".into()))?;
        drop(held);
        if let Some(writer) = &self.writer {
            writer.write(|_| Ok::<(), DbError>(())).await?;
        }
        Ok(())
    }

    /// How busy the connections are: permits held, requests waiting for one, and the pools'
    /// open and idle connections (read and write together; on PostgreSQL they are one pool).
    pub fn pool_status(&self) -> PoolStatus {
        let size = self.read.max_size() as usize;
        let (read, write) = (self.read.state(), self.write.state());
        let (mut open, mut idle) = (read.connections, read.idle_connections);
        if self.backend == Backend::Sqlite {
            open += write.connections;
            idle += write.idle_connections;
        }
        PoolStatus {
            size,
            in_use: size.saturating_sub(self.permits.available_permits()),
            waiting: self.waiting.load(std::sync::atomic::Ordering::Relaxed),
            open: open as usize,
            idle: idle as usize,
        }
    }

    /// Runs `f` in one read transaction (a consistent snapshot) on a blocking thread.
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut DbConn) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let _permit = self.permit().await?;
        let pool = self.read.clone();
        blocking(move || transaction(&pool, f)).await
    }

    /// Runs `f`, which reads in one statement, outside any transaction (a statement is its own
    /// snapshot): one round trip where a transaction would add its BEGIN and COMMIT. A read
    /// changes nothing, so one that finds its connection dead (see `begun`) runs again on another.
    pub async fn read_statement<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: Fn(&mut DbConn) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        let _permit = self.permit().await?;
        let pool = self.read.clone();
        blocking(move || {
            let mut spare = pool.max_size();
            loop {
                match f(&mut *pool.get()?) {
                    Err(DbError::Lost(_)) if spare > 0 => spare -= 1,
                    done => return done,
                }
            }
        })
        .await
    }

    /// The same as `write`, for the command line, which has no async runtime to spare.
    pub fn write_now<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut DbConn) -> Result<R, E>,
        E: From<DbError> + From<diesel::result::Error>,
    {
        write_transaction(&self.write, self.turns.as_deref(), f)
    }

    pub fn read_now<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut DbConn) -> Result<R, E>,
        E: From<DbError> + From<diesel::result::Error>,
    {
        transaction(&self.read, f)
    }

    /// Runs `f` in one read-only snapshot, for reads that must agree with each other while the
    /// server writes: REPEATABLE READ on PostgreSQL (a plain transaction there sees each
    /// statement's own snapshot), a read transaction on SQLite (WAL keeps its first read's view).
    pub fn snapshot_now<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut DbConn) -> Result<R, E>,
        E: From<DbError> + From<diesel::result::Error>,
    {
        transaction(&self.read, |c| {
            // diesel's `build_transaction()` lives on the PgConnection alone, and `f` needs the
            // DbConn; SET TRANSACTION as the first statement after BEGIN does the same.
            if let DbConn::Pg(pg) = c {
                diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(pg)?;
            }
            f(c)
        })
    }

    /// A trivial query, for `/healthz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read(|c| c.ping().map_err(DbError::from)).await
    }
}

fn transaction<R, E, F>(pool: &Pool, f: F) -> Result<R, E>
where
    F: FnOnce(&mut DbConn) -> Result<R, E>,
    E: From<DbError> + From<diesel::result::Error>,
{
    finish(begun(pool, Begin::Deferred)?, f)
}

/// A write transaction. On SQLite it begins IMMEDIATE, taking the write lock at once: a
/// deferred transaction that reads first and writes later fails at once (SQLITE_BUSY, no wait)
/// when another connection (another process, a second node in tests, the command line) wrote
/// in between. While it waits for that lock it says so (`turns`), so that a busy server lets it
/// in. PostgreSQL needs nothing of the kind.
fn write_transaction<R, E, F>(pool: &Pool, turns: Option<&turns::Turns>, f: F) -> Result<R, E>
where
    F: FnOnce(&mut DbConn) -> Result<R, E>,
    E: From<DbError> + From<diesel::result::Error>,
{
    finish(begun(pool, Begin::Immediate(turns))?, f)
}

type Tm = <DbConn as Connection>::TransactionManager;

#[derive(Clone, Copy)]
enum Begin<'a> {
    Deferred,
    /// SQLite's `BEGIN IMMEDIATE`, waiting in turn with other processes; a plain BEGIN elsewhere.
    Immediate(Option<&'a turns::Turns>),
}

/// A pooled connection with a transaction begun on it. Connections are not pinged before each
/// use, so one may have died with its server (a restart) since it was last used: its BEGIN says
/// so, and as nothing has happened yet, that connection is dropped (r2d2 sees it broken) and
/// another taken, as many times as the pool may hold stale ones.
fn begun(pool: &Pool, begin: Begin<'_>) -> Result<r2d2::PooledConnection<Manager>, DbError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let mut spare = pool.max_size();
    loop {
        let mut conn = pool.get()?;
        let began = match (&mut *conn, begin) {
            (DbConn::Sqlite(c), Begin::Immediate(turns)) => {
                // Turns are a courtesy: without them the lock is still waited for.
                let _waiting = turns.and_then(|t| {
                    t.yield_to_waiters();
                    t.wait()
                        .inspect_err(|e| tracing::warn!(error = %e, "waiting for the write lock without turns"))
                        .ok()
                });
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
            }
            (c, _) => Tm::begin_transaction(c),
        };
        match began.map_err(DbError::from) {
            Ok(()) => return Ok(conn),
            Err(DbError::Lost(_)) if spare > 0 => spare -= 1,
            Err(e) => return Err(e),
        }
    }
}

/// Runs `f` in the begun transaction: commits when it succeeds, rolls back when it fails.
fn finish<R, E, F>(mut conn: r2d2::PooledConnection<Manager>, f: F) -> Result<R, E>
where
    F: FnOnce(&mut DbConn) -> Result<R, E>,
    E: From<DbError> + From<diesel::result::Error>,
{
    use diesel::connection::TransactionManager;
    audit::Written::take();
    let result = f(&mut conn);
    let written = audit::Written::take();
    match &result {
        Ok(_) => {
            Tm::commit_transaction(&mut *conn)?;
            written.count();
        }
        // The error being returned matters more than a failed rollback, which r2d2's
        // broken-connection check then deals with.
        Err(_) => {
            let _ = Tm::rollback_transaction(&mut *conn);
        }
    }
    result
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Times are stored as UTC without a zone, to the microsecond (PostgreSQL's precision), so a
/// value reads back exactly as written on both backends.
/// A state or status written into the statement as a literal, not bound. SQLite compares a
/// bound `state = ?` against every partial index on the column (`WHERE state = 'leased'`), and
/// a statement so planned is prepared again each time a value is bound: a third of a lease's
/// cost before this. The names are fixed words of markroom, never input.
pub fn lit(word: &'static str) -> diesel::expression::SqlLiteral<diesel::sql_types::Text> {
    debug_assert!(word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{word}");
    diesel::dsl::sql(&format!("'{word}'"))
}

pub fn db_time(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(6).naive_utc()
}

pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
