//! What the database benches share: a fresh database (SQLite in a temporary folder, or a new
//! PostgreSQL database when DATABASE_URL names a server), migrated, and a raw connection of its
//! own with foreign keys off for loading rows straight into tables.

// Each bench is its own crate and uses part of this.
#![allow(dead_code)]

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use markroom::config::Settings;
use markroom::db::Db;

pub struct BenchDb {
    pub db: Db,
    pub settings: Settings,
    pub pg: bool,
    _dir: tempfile::TempDir,
    pg_db: Option<(String, String)>,
}

impl BenchDb {
    pub fn new(name: &str) -> Result<BenchDb, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let mut pg_db = None;
        if let Some(admin) = std::env::var("DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) {
            let db_name = format!("markroom_{name}_bench_{}", std::process::id());
            let mut c = diesel::pg::PgConnection::establish(&admin)?;
            diesel::sql_query(format!("CREATE DATABASE {db_name}")).execute(&mut c)?;
            let (prefix, _) = admin.rsplit_once('/').ok_or("DATABASE_URL names a database")?;
            settings.database_url = Some(format!("{prefix}/{db_name}"));
            pg_db = Some((admin, db_name));
        }
        let db = Db::connect(&settings)?;
        db.migrate()?;
        Ok(BenchDb {
            db,
            pg: pg_db.is_some(),
            settings,
            _dir: dir,
            pg_db,
        })
    }

    /// Runs `sql` in order on a connection of its own, foreign keys off (the rows they would
    /// point at do not matter to the bench), then `after` (e.g. ANALYZE).
    pub fn load(&self, sql: &[String], after: &str) -> Result<(), Box<dyn std::error::Error>> {
        if let Some(url) = self.settings.postgres_url() {
            let mut c = diesel::pg::PgConnection::establish(url)?;
            c.batch_execute("SET session_replication_role = replica")?;
            for s in sql {
                diesel::sql_query(s).execute(&mut c)?;
            }
            if !after.is_empty() {
                c.batch_execute(after)?;
            }
        } else {
            let path = self.settings.sqlite_path();
            let mut c = diesel::sqlite::SqliteConnection::establish(&path.to_string_lossy())?;
            c.batch_execute("PRAGMA foreign_keys = OFF")?;
            for s in sql {
                diesel::sql_query(s).execute(&mut c)?;
            }
            if !after.is_empty() {
                c.batch_execute(after)?;
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        if self.pg { "postgresql" } else { "sqlite" }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg_db
            && let Ok(mut c) = diesel::pg::PgConnection::establish(admin)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut c);
        }
    }
}
