//! The database's own check of itself, run at the end of the runs that push it hardest (kills,
//! nodes sharing one file, lost connections, the simulated room): a file SQLite cannot read
//! whole, or an index PostgreSQL's `amcheck` finds broken, fails the run even when every
//! score the markers were told of is still there.

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl, sql_query};
use markroom::db::{DbConn, DbError};

use crate::helpers::TestApp;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = BigInt)]
    oid: i64,
    #[diesel(sql_type = Text)]
    name: String,
}

/// What SQLite finds wrong with its file: `integrity_check` (every page, every index entry
/// against its row, NOT NULL and CHECK) and `foreign_key_check`. Empty when whole.
fn sqlite_damage(c: &mut DbConn) -> Vec<String> {
    let integrity: Vec<Line> = sql_query("SELECT integrity_check AS line FROM pragma_integrity_check")
        .load(c)
        .map_err(DbError::from)
        .expect("PRAGMA integrity_check");
    let keys: Vec<Line> = sql_query(
        "SELECT 'foreign key: ' || \"table\" || ' row ' || COALESCE(rowid, '?') || ' names no ' || parent AS line \
         FROM pragma_foreign_key_check",
    )
    .load(c)
    .map_err(DbError::from)
    .expect("PRAGMA foreign_key_check");
    integrity
        .into_iter()
        .map(|l| l.line)
        .filter(|l| l != "ok")
        .chain(keys.into_iter().map(|l| l.line))
        .collect()
}

/// What `amcheck` finds wrong with the B-tree indexes of markroom's schema, each checked
/// against its table too (`heapallindexed`): an index entry missing for a row is found. amcheck
/// is not a trusted extension: the owner's URL must be a superuser's.
fn postgres_damage(url: &str) -> Vec<String> {
    let mut c = diesel::pg::PgConnection::establish(url).expect("the owner's connection");
    sql_query("CREATE EXTENSION IF NOT EXISTS amcheck")
        .execute(&mut c)
        .expect("amcheck (PostgreSQL's contrib modules must be installed)");
    let indexes: Vec<Index> = sql_query(
        "SELECT c.oid::bigint AS oid, c.relname::text AS name FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am m ON m.oid = c.relam \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE m.amname = 'btree' AND n.nspname = current_schema() AND i.indisvalid AND i.indisready",
    )
    .load(&mut c)
    .expect("the schema's indexes");
    assert!(!indexes.is_empty(), "no index to check");
    indexes
        .into_iter()
        .filter_map(|ix| {
            sql_query(format!("SELECT bt_index_check({}::oid::regclass, true)", ix.oid))
                .execute(&mut c)
                .err()
                .map(|e| format!("index {}: {e}", ix.name))
        })
        .collect()
}

impl TestApp {
    /// Fails unless the database checks whole (see `sqlite_damage`, `postgres_damage`).
    pub fn assert_database_whole(&self) {
        let damage = match self.settings.owner_or_postgres_url() {
            Some(url) => postgres_damage(url),
            None => self
                .db
                .read_now(|c| -> Result<Vec<String>, DbError> { Ok(sqlite_damage(c)) })
                .unwrap(),
        };
        assert!(damage.is_empty(), "the database is damaged: {damage:?}");
    }
}

/// The check finds what it looks for: an index whose entries no longer match its rows (its
/// definition changed under it, as a lost page would leave it), and a row naming a parent
/// that is not there (written with the keys off).
#[test]
fn the_sqlite_check_finds_a_broken_index_and_a_dangling_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.db");
    let url = path.to_str().unwrap().to_string();
    let open = || DbConn::Sqlite(diesel::sqlite::SqliteConnection::establish(&url).unwrap());
    let mut c = open();
    let setup = "CREATE TABLE parents (id INTEGER PRIMARY KEY); \
                 CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES parents (id), \
                                        name TEXT NOT NULL); \
                 CREATE INDEX children_name ON children (name); \
                 INSERT INTO parents (id) VALUES (1); \
                 INSERT INTO children (id, parent, name) VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 1, 'c');";
    c.batch_execute(setup).unwrap();
    assert_eq!(sqlite_damage(&mut c), Vec::<String>::new(), "whole before it is broken");

    // The bundled SQLite enforces foreign keys from the start; a lost page would not ask.
    c.batch_execute("PRAGMA foreign_keys = OFF").unwrap();
    sql_query("INSERT INTO children (id, parent, name) VALUES (4, 9, 'd')")
        .execute(&mut c)
        .unwrap();
    let dangling = sqlite_damage(&mut c);
    assert_eq!(
        dangling,
        vec!["foreign key: children row 4 names no parents".to_string()]
    );

    sql_query("PRAGMA writable_schema = ON").execute(&mut c).unwrap();
    sql_query(
        "UPDATE sqlite_schema SET sql = 'CREATE INDEX children_name ON children (id)' WHERE name = 'children_name'",
    )
    .execute(&mut c)
    .unwrap();
    drop(c);
    let broken = sqlite_damage(&mut open());
    assert!(
        broken.iter().any(|l| l.contains("children_name")),
        "the broken index is named: {broken:?}"
    );
}
