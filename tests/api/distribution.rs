//! The path past one database: `schema/distribution.toml` names how every table distributes
//! over Citus (by exam, or as a reference table), and this test proves it against the
//! PostgreSQL schema the migrations make, then checks that the README's Citus calls are the
//! ones the file gives. (Citus itself is not installable here; what it requires of a schema is.)

use std::collections::{BTreeMap, BTreeSet};

use diesel::sql_types::{Bool, Text};
use diesel::{QueryableByName, RunQueryDsl, sql_query};
use markroom::db::{Backend, Db, DbConn, DbError};
use serde::Deserialize;

use crate::helpers::TestDb;

#[derive(Debug, Deserialize)]
struct Distribution {
    /// Table → its distribution column.
    distributed: BTreeMap<String, String>,
    reference: Tables,
    local: Tables,
}

#[derive(Debug, Deserialize)]
struct Tables {
    tables: Vec<String>,
}

fn distribution() -> Distribution {
    use figment::providers::{Format, Toml};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/distribution.toml");
    figment::Figment::from(Toml::file_exact(path)).extract().expect(path)
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName, Debug)]
struct Column {
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    type_name: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
}

/// A primary key, unique constraint, unique index or foreign key, its columns in order.
#[derive(QueryableByName, Debug)]
struct Key {
    #[diesel(sql_type = Text)]
    tbl: String,
    /// `p`, `u`, `f`, or `i` for a unique index.
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    cols: String,
    #[diesel(sql_type = Text)]
    ref_tbl: String,
    #[diesel(sql_type = Text)]
    ref_cols: String,
}

fn load<T: QueryableByName<markroom::db::MultiBackend> + 'static>(c: &mut DbConn, sql: &str) -> Vec<T> {
    sql_query(sql).load::<T>(c).map_err(DbError::from).expect(sql)
}

const TABLES_PG: &str = "SELECT relname::text AS name FROM pg_class \
    WHERE relkind IN ('r', 'p') AND relnamespace = current_schema()::regnamespace";
const TABLES_SQLITE: &str = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";

const COLUMNS: &str = "SELECT t.relname::text AS tbl, a.attname::text AS name, \
    format_type(a.atttypid, a.atttypmod) AS type_name, a.attnotnull AS not_null \
    FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid \
    WHERE t.relkind = 'r' AND t.relnamespace = current_schema()::regnamespace \
    AND a.attnum > 0 AND NOT a.attisdropped";

const KEYS: &str = "SELECT t.relname::text AS tbl, c.contype::text AS kind, c.conname::text AS name, \
    (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord) \
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS cols, \
    COALESCE((SELECT relname::text FROM pg_class WHERE oid = c.confrelid), '') AS ref_tbl, \
    COALESCE((SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord) \
       JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n), '') AS ref_cols \
    FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
    WHERE t.relnamespace = current_schema()::regnamespace AND c.contype IN ('p', 'u', 'f') \
    UNION ALL \
    SELECT t.relname::text, 'i', ci.relname::text, \
    (SELECT string_agg(COALESCE(a.attname::text, '(expression)'), ',' ORDER BY k.ord) \
       FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, ord) \
       LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n), '', '' \
    FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid \
    WHERE t.relnamespace = current_schema()::regnamespace AND i.indisunique";

/// The schema as the migrations leave it, on this run's backend.
fn migrated() -> (TestDb, Db) {
    let t = TestDb::new();
    let db = Db::connect(&t.settings).unwrap();
    db.migrate().unwrap();
    (t, db)
}

fn named_once(d: &Distribution) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for t in d.distributed.keys().chain(&d.reference.tables).chain(&d.local.tables) {
        assert!(all.insert(t.clone()), "{t} is named twice in schema/distribution.toml");
    }
    all
}

#[test]
fn the_distribution_file_names_every_table_once() {
    let d = distribution();
    let named = named_once(&d);
    let (_t, db) = migrated();
    let sql = match db.backend() {
        Backend::Postgres => TABLES_PG,
        Backend::Sqlite => TABLES_SQLITE,
    };
    let tables: BTreeSet<String> = db
        .read_now(|c| -> Result<_, DbError> { Ok(load::<Name>(c, sql).into_iter().map(|n| n.name).collect()) })
        .unwrap();
    assert_eq!(
        tables,
        named,
        "schema/distribution.toml against the {:?} schema",
        db.backend()
    );
}

#[test]
fn every_key_of_a_distributed_table_leads_with_its_exam_and_reference_tables_hold_no_exam() {
    let (_t, db) = migrated();
    if db.backend() != Backend::Postgres {
        // The PostgreSQL run of the suite proves it: Citus distributes PostgreSQL's schema.
        return;
    }
    let d = distribution();
    let (columns, keys) = db
        .read_now(|c| -> Result<_, DbError> { Ok((load::<Column>(c, COLUMNS), load::<Key>(c, KEYS))) })
        .unwrap();
    let (faults, checked) = faults(&d, &columns, &keys);
    assert!(faults.is_empty(), "{}", faults.join("\n"));
    assert!(checked > 100, "only {checked} keys of distributed tables seen");
    eprintln!(
        "distribution: {} distributed tables, {} reference tables, {checked} keys of distributed tables checked",
        d.distributed.len(),
        d.reference.tables.len()
    );

    let calls = citus_calls(&d, &keys);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block: String = calls.iter().map(|l| format!("    {l}\n")).collect();
    assert!(
        readme.contains(&block),
        "the README's Scaling section should hold the Citus calls, indented:\n{block}"
    );
}

/// What keeps the schema from distributing as the file says, and how many keys of distributed
/// tables were weighed.
fn faults(d: &Distribution, columns: &[Column], keys: &[Key]) -> (Vec<String>, usize) {
    let reference: BTreeSet<&String> = d.reference.tables.iter().collect();
    let mut faults = vec![];

    // The distribution column: present, NOT NULL, and of one type, so the tables co-locate.
    let mut types = BTreeSet::new();
    for (table, column) in &d.distributed {
        match columns.iter().find(|c| &c.tbl == table && &c.name == column) {
            None => faults.push(format!("{table} has no column {column}")),
            Some(c) => {
                if !c.not_null {
                    faults.push(format!("{table}.{column} accepts NULL"));
                }
                types.insert(c.type_name.clone());
            }
        }
    }
    if types.len() > 1 {
        faults.push(format!("distribution columns of several types: {types:?}"));
    }
    // Whatever a distributed table calls its distribution column, its exam is never missing.
    for c in columns.iter().filter(|c| d.distributed.contains_key(&c.tbl)) {
        if c.name == "exam_id" && d.distributed[&c.tbl] != "exam_id" && !c.not_null {
            faults.push(format!("{}.exam_id accepts NULL", c.tbl));
        }
    }
    // Reference tables hold no exam's data.
    for c in columns.iter().filter(|c| reference.contains(&c.tbl)) {
        if c.name == "exam_id" {
            faults.push(format!("reference table {} has an exam_id", c.tbl));
        }
    }

    let mut checked = 0;
    for k in keys {
        let cols: Vec<&str> = k.cols.split(',').collect();
        let Some(column) = d.distributed.get(&k.tbl) else {
            // A reference table may point only at reference tables.
            if k.kind == "f" && d.distributed.contains_key(&k.ref_tbl) {
                faults.push(format!(
                    "reference table {} points at {} ({})",
                    k.tbl, k.ref_tbl, k.name
                ));
            }
            continue;
        };
        checked += 1;
        let at = cols.iter().position(|c| c == column);
        match (k.kind.as_str(), at) {
            (_, None) if k.kind != "f" || d.distributed.contains_key(&k.ref_tbl) => {
                faults.push(format!("{} of {} ({}) lacks {column}", k.name, k.tbl, k.cols));
            }
            ("f", Some(at)) if d.distributed.contains_key(&k.ref_tbl) => {
                // Between distributed tables: the exam joins the exam.
                let referenced: Vec<&str> = k.ref_cols.split(',').collect();
                if referenced.get(at).copied() != Some(d.distributed[&k.ref_tbl].as_str()) {
                    faults.push(format!(
                        "{} of {} ({}) → {} ({}) does not join on the exam",
                        k.name, k.tbl, k.cols, k.ref_tbl, k.ref_cols
                    ));
                }
            }
            _ => {}
        }
    }
    (faults, checked)
}

/// `tables` in an order where each comes after every table of the same set it points at.
fn after_what_they_reference<'a>(tables: &[&'a String], keys: &[Key]) -> Vec<&'a String> {
    let mut placed: Vec<&String> = vec![];
    while placed.len() < tables.len() {
        let next = tables
            .iter()
            .copied()
            .find(|t| {
                !placed.contains(t)
                    && keys.iter().all(|k| {
                        k.kind != "f"
                            || &k.tbl != *t
                            || &k.ref_tbl == *t
                            || !tables.iter().any(|o| **o == k.ref_tbl)
                            || placed.iter().any(|p| **p == k.ref_tbl)
                    })
            })
            .expect("no cycle of foreign keys");
        placed.push(next);
    }
    placed
}

/// The Citus calls the file gives: reference tables first, then the distributed tables, each
/// after every table it points at, the distributed ones all co-located with the first.
fn citus_calls(d: &Distribution, keys: &[Key]) -> Vec<String> {
    let reference: Vec<&String> = d.reference.tables.iter().collect();
    let distributed: Vec<&String> = d.distributed.keys().collect();
    let mut calls: Vec<String> = after_what_they_reference(&reference, keys)
        .into_iter()
        .map(|t| format!("SELECT create_reference_table('{t}');"))
        .collect();
    let ordered = after_what_they_reference(&distributed, keys);
    for (i, t) in ordered.iter().enumerate() {
        let column = &d.distributed[*t];
        calls.push(match i {
            0 => format!("SELECT create_distributed_table('{t}', '{column}');"),
            _ => format!(
                "SELECT create_distributed_table('{t}', '{column}', colocate_with => '{}');",
                ordered[0]
            ),
        });
    }
    calls
}

/// The checks catch what the schema had before it was made ready (migration 000014).
#[test]
fn the_checks_catch_keys_that_would_not_distribute() {
    let d = distribution();
    let key = |tbl: &str, kind: &str, cols: &str, ref_tbl: &str, ref_cols: &str| Key {
        tbl: tbl.into(),
        kind: kind.into(),
        name: format!("{tbl}_{kind}"),
        cols: cols.into(),
        ref_tbl: ref_tbl.into(),
        ref_cols: ref_cols.into(),
    };
    let column = |tbl: &str, name: &str, not_null: bool| Column {
        tbl: tbl.into(),
        name: name.into(),
        type_name: "text".into(),
        not_null,
    };
    let columns = vec![
        column("approvals", "exam_id", false),
        column("users", "exam_id", true),
        column("audit_log", "exam_id", false),
    ];
    let keys = vec![
        key("approvals", "p", "id", "", ""),
        key("amendments", "u", "approval_id", "", ""),
        key("amendments", "f", "exam_id,approval_id", "approvals", "id,exam_id"),
        key("exams", "f", "lock_approval_id", "approvals", "id"),
        key("marks", "f", "marker_id", "markers", "id"),
        key("marks", "p", "exam_id,id", "", ""),
    ];
    let (found, checked) = faults(&d, &columns, &keys);
    assert_eq!(checked, 5);
    let expected = [
        "approvals.exam_id accepts NULL",
        "audit_log.exam_id accepts NULL",
        "reference table users has an exam_id",
        "approvals_p of approvals (id) lacks exam_id",
        "amendments_u of amendments (approval_id) lacks exam_id",
        "amendments_f of amendments (exam_id,approval_id) → approvals (id,exam_id) does not join on the exam",
        "reference table exams points at approvals (exams_f)",
    ];
    for e in expected {
        assert!(found.iter().any(|f| f == e), "missed: {e}\nfound: {found:#?}");
    }
    assert_eq!(found.len(), expected.len() + d.distributed.len() - 1, "{found:#?}");
}
