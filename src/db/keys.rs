//! Check values of keys whose hashes the database keeps, so that a node started with another
//! key is refused instead of silently comparing hashes that can never match.

use diesel::prelude::*;

use super::schema::key_checks;
use super::{DbConn, DbError};

/// Records the check value on first use; afterwards answers whether this one is the same.
pub fn matches_or_record(conn: &mut DbConn, name: &str, check_value: &str) -> Result<bool, DbError> {
    let stored: Option<String> = key_checks::table
        .find(name)
        .select(key_checks::check_value)
        .first(conn)
        .optional()?;
    match stored {
        Some(v) => Ok(v == check_value),
        None => {
            diesel::insert_into(key_checks::table)
                .values((key_checks::name.eq(name), key_checks::check_value.eq(check_value)))
                .execute(conn)?;
            Ok(true)
        }
    }
}
