//! A statement diesel may keep prepared on its connection although it would not on its own.
//!
//! diesel prepares every statement, but keeps only those it can prove come in a bounded number of
//! texts: never an `UPDATE` (its `SET` list may vary) nor a `sql_query` (the text may be built at
//! run time). Those are parsed and planned again on every call; on PostgreSQL, planning the
//! caller's standing alone took 1.6 ms a request, more than all its execution (measured with
//! `pg_stat_statements.track_planning` over a 1,000-marker run). `Kept` marks a statement whose
//! text is fixed by the code that wraps it, so the connection keeps it by its text.

use diesel::RunQueryDsl;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// Wrap only statements whose SQL text is one of a few per call site: the cache is keyed by the
/// text, and grows with every different one.
#[derive(Debug, Clone, Copy)]
pub struct Kept<Q>(pub Q);

impl<Q> QueryId for Kept<Q> {
    type QueryId = ();
    // Keyed by its text, not by type: two statements of one type may differ in text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Kept<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Kept<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for Kept<Q> {}

/// One row of `RETURNING 1 AS touched`.
#[derive(diesel::QueryableByName)]
pub struct Touched {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    touched: i32,
}

/// Runs a write given as SQL that ends in `RETURNING 1 AS touched`, kept prepared, and answers
/// how many rows it changed. Through `execute` diesel sees the statement by reference, and asks
/// the statement's parts (which refuse) rather than `Kept` whether to keep it; loading its
/// returned rows hands over the statement itself.
pub fn changed<'q, Q>(conn: &mut super::DbConn, query: Q) -> QueryResult<usize>
where
    Kept<Q>: diesel::query_dsl::LoadQuery<'q, super::DbConn, Touched>,
{
    Ok(Kept(query).load::<Touched>(conn)?.len())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::connection::{Connection, InstrumentationEvent, SimpleConnection};
    use diesel::sql_types::Text;

    use super::*;
    use crate::db::DbConn;

    /// A connection to a scratch SQLite database that records every statement it keeps.
    fn recording() -> (DbConn, Arc<Mutex<Vec<String>>>) {
        let mut c = diesel::sqlite::SqliteConnection::establish(":memory:").expect("sqlite");
        c.batch_execute(
            "CREATE TABLE t (id TEXT PRIMARY KEY, state TEXT NOT NULL); INSERT INTO t VALUES ('a', 'open');",
        )
        .expect("table");
        let kept = Arc::new(Mutex::new(Vec::new()));
        let seen = kept.clone();
        c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                seen.lock().expect("lock").push(sql.to_string());
            }
        });
        (DbConn::Sqlite(c), kept)
    }

    #[test]
    fn a_kept_write_is_prepared_once_and_counts_its_rows() {
        let (mut c, kept) = recording();
        let mut set = |state: &str, id: &str| {
            changed(
                &mut c,
                diesel::sql_query("UPDATE t SET state = $1 WHERE id = $2 RETURNING 1 AS touched")
                    .bind::<Text, _>(state)
                    .bind::<Text, _>(id),
            )
            .expect("update")
        };
        for state in ["leased", "open", "leased"] {
            assert_eq!(set(state, "a"), 1);
        }
        assert_eq!(set("x", "nobody"), 0);
        assert_eq!(
            kept.lock().expect("lock").len(),
            1,
            "one statement, kept once: {kept:?}"
        );
        // Another text of the same Rust type is a statement of its own, not the first one again.
        let other = changed(
            &mut c,
            diesel::sql_query("UPDATE t SET state = $1 || '!' WHERE id = $2 RETURNING 1 AS touched")
                .bind::<Text, _>("done")
                .bind::<Text, _>("a"),
        )
        .expect("update");
        assert_eq!(other, 1);
        let done: Vec<Touched> = Kept(diesel::sql_query("SELECT 1 AS touched FROM t WHERE state = 'done!'"))
            .load(&mut c)
            .expect("read");
        assert_eq!(done.len(), 1, "the second text ran, not the first");
        assert_eq!(
            kept.lock().expect("lock").len(),
            3,
            "three texts, each kept once: {kept:?}"
        );
    }

    #[test]
    fn without_kept_diesel_prepares_a_write_afresh_each_time() {
        let (mut c, kept) = recording();
        for state in ["leased", "open"] {
            diesel::sql_query("UPDATE t SET state = $1 WHERE id = $2")
                .bind::<Text, _>(state)
                .bind::<Text, _>("a")
                .execute(&mut c)
                .expect("update");
        }
        assert!(kept.lock().expect("lock").is_empty(), "{kept:?}");
    }
}
