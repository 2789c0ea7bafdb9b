//! PostgreSQL's planner statistics, kept fresh by the server itself.
//!
//! PostgreSQL plans each statement from its tables' statistics, and marking starts with its
//! busiest tables (marks, serves, holders, image links) empty. A plan made then reads a script's
//! marks by scanning the whole table, and the server keeps that plan until the table is analysed
//! again. Autovacuum analyses a table once enough of it has changed, but it looks only once
//! every `autovacuum_naptime` (a minute by default), and a server with autovacuum off never
//! analyses at all (this machine's CI server is one).
//!
//! So the server looks at its own tables every `database.analyze_interval_secs` and analyses each
//! one with more rows changed (inserted, updated or deleted) since its last analysis than it had
//! then, plus 50: a table is analysed as it leaves empty, and again each time it has about
//! doubled. A plan goes wrong when its table's size is off by orders of magnitude, not by a
//! tenth, so this catches what matters at a few analyses a table. Autovacuum's finer rule
//! (50 rows + 10 %), checked this often, analysed every growing table at every pass, and each
//! analysis makes every connection plan again each statement that reads the table: the
//! analyses and the planning cost more than the plans they fixed (README, "Planner statistics
//! kept by the server"). A table that hardly changes is left alone. SQLite plans without
//! statistics, so there is nothing to keep there.

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use tokio::task::JoinHandle;

use super::DbError;

/// Tables of the connection's schema that its role may analyse (ANALYZE asks for the owner's
/// privileges, inherited).
const MAY_ANALYSE: &str = "\
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = current_schema() AND pg_has_role(current_user, c.relowner, 'USAGE')";

/// One server at a time analyses: beside several servers on one database, the others skip the
/// pass. Held until the pass's connection closes.
const ONE_AT_A_TIME: &str = "SELECT pg_try_advisory_lock(727002) AS ours";

#[derive(QueryableByName)]
struct Stale {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Ours {
    #[diesel(sql_type = Bool)]
    ours: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Analyses every table with more rows changed since its last analysis than 50 plus the rows it
/// had then (a table never analysed counts as empty), and answers their names. A table another
/// analysis holds (autovacuum's) is skipped and taken on a later pass; a table whose analysis
/// fails is logged, and the others are still analysed.
pub fn analyze_stale(conn: &mut PgConnection) -> Result<Vec<String>, DbError> {
    let stale: Vec<Stale> = diesel::sql_query(format!(
        "SELECT s.schemaname::text AS schema, s.relname::text AS name {MAY_ANALYSE} \
         AND s.n_mod_since_analyze > 50 + greatest(c.reltuples, 0) ORDER BY s.relname"
    ))
    .load(conn)?;
    let mut analysed = Vec::with_capacity(stale.len());
    for t in stale {
        let sql = format!("ANALYZE (SKIP_LOCKED) {}.{}", quoted(&t.schema), quoted(&t.name));
        match diesel::sql_query(sql).execute(conn) {
            Ok(_) => analysed.push(t.name),
            Err(e) => tracing::warn!(table = %t.name, error = %e, "a table could not be analysed"),
        }
    }
    Ok(analysed)
}

/// How many of the schema's tables the connection's role may analyse.
fn tables_to_keep(conn: &mut PgConnection) -> Result<i64, DbError> {
    let count: Count = diesel::sql_query(format!("SELECT count(*) AS n {MAY_ANALYSE}")).get_result(conn)?;
    Ok(count.n)
}

/// One pass on a connection of its own: `None` when another server is analysing.
fn pass(url: &str, first: bool) -> Result<Option<Vec<String>>, DbError> {
    let mut conn = PgConnection::establish(url).map_err(|e| DbError::Pool(e.to_string()))?;
    if first && tables_to_keep(&mut conn)? == 0 {
        tracing::warn!(
            "the database role owns none of markroom's tables, so the server cannot keep their planner \
             statistics: set database.owner_url, or leave them to autovacuum"
        );
    }
    let ours: Ours = diesel::sql_query(ONE_AT_A_TIME).get_result(&mut conn)?;
    if !ours.ours {
        return Ok(None);
    }
    analyze_stale(&mut conn).map(Some)
}

/// An identifier as PostgreSQL reads it whatever it holds.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs a pass every `every` until the handle is aborted, on a connection made for each pass,
/// so that no pool connection is held by an analysis. `url` must be the tables' owner's, since
/// PostgreSQL lets only the owner analyse a table.
pub fn spawn_keeper(url: String, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first = true;
        loop {
            tick.tick().await;
            let url = url.clone();
            let done = tokio::task::spawn_blocking(move || pass(&url, first)).await;
            first = false;
            match done {
                Ok(Ok(Some(tables))) if !tables.is_empty() => {
                    tracing::debug!(tables = ?tables, "planner statistics pass");
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "planner statistics could not be refreshed"),
                Err(e) => tracing::error!(error = %e, "the planner statistics pass failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn a_name_is_quoted_whole() {
        assert_eq!(quoted("marks"), "\"marks\"");
        assert_eq!(quoted("a\"b; DROP"), "\"a\"\"b; DROP\"");
    }
}
