//! Answer sheets and the anonymous scripts cut from them.

use crate::db::lit;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::kept::changed;
use super::schema::{scripts, sheets};
use super::{DbConn, DbError};
use crate::domain::custody::ReleaseBlockers;

/// What keeps a batch from marking: how many active sheets, how many still unconfirmed, how
/// many scripts need treatment.
pub fn release_blockers(conn: &mut DbConn, exam_id: &str, batch_id: &str) -> Result<ReleaseBlockers, DbError> {
    let active = sheets::table
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::batch_id.eq(batch_id))
        .filter(sheets::status.eq(lit("active")));
    let total: i64 = active.clone().count().get_result(conn)?;
    let unconfirmed: i64 = active
        .filter(sheets::entry.eq("typed"))
        .filter(sheets::confirmed_by.is_null())
        .count()
        .get_result(conn)?;
    let needing: i64 = scripts::table
        .inner_join(
            sheets::table.on(sheets::exam_id
                .eq(scripts::exam_id)
                .and(sheets::id.eq(scripts::sheet_id))),
        )
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::batch_id.eq(batch_id))
        .filter(sheets::status.eq(lit("active")))
        .filter(scripts::state.eq("needs_treatment"))
        .count()
        .get_result(conn)?;
    let n = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
    Ok(ReleaseBlockers {
        sheets: n(total),
        unconfirmed_sheets: n(unconfirmed),
        needing_treatment: n(needing),
    })
}

/// The batch's held scripts go to marking.
pub fn release_held(conn: &mut DbConn, exam_id: &str, batch_id: &str, _now: DateTime<Utc>) -> Result<usize, DbError> {
    let in_batch = sheets::table
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::batch_id.eq(batch_id))
        .filter(sheets::status.eq(lit("active")))
        .select(sheets::id);
    if let DbConn::Pg(pg) = conn {
        // A batch is released whole: hash the batch's sheets and pass over the held scripts
        // once. Straight after intake PostgreSQL may not have analysed the new rows yet (and
        // does not on a server without autovacuum); guessing both sides tiny, it chose a nested
        // loop comparing every held script with every sheet, 19 minutes for 30,000 sheets.
        diesel::sql_query("SET LOCAL enable_nestloop = off").execute(pg)?;
    }
    Ok(diesel::update(
        scripts::table
            .filter(scripts::exam_id.eq(exam_id))
            .filter(scripts::state.eq("held"))
            .filter(scripts::sheet_id.eq_any(in_batch)),
    )
    .set(scripts::state.eq("awaiting"))
    .execute(conn)?)
}

/// Active sheets of a batch (for the batch view).
pub fn sheet_count(conn: &mut DbConn, exam_id: &str, batch_id: &str) -> Result<i64, DbError> {
    Ok(sheets::table
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::batch_id.eq(batch_id))
        .filter(sheets::status.eq(lit("active")))
        .count()
        .get_result(conn)?)
}

use super::db_time;
use super::schema::{image_tokens, sheet_pages};

pub struct NewSheet<'a> {
    pub exam_id: &'a str,
    pub id: &'a str,
    pub batch_id: &'a str,
    pub candidate_lookup: &'a str,
    pub candidate_sealed: &'a str,
    pub entry: &'a str,
    pub entered_by: &'a str,
    pub pages: i32,
}

/// A new active sheet; `Duplicate` when the candidate has an active one already.
pub fn insert_sheet(conn: &mut DbConn, s: &NewSheet<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::insert_into(sheets::table)
        .values((
            sheets::exam_id.eq(s.exam_id),
            sheets::id.eq(s.id),
            sheets::batch_id.eq(s.batch_id),
            sheets::candidate_lookup.eq(s.candidate_lookup),
            sheets::candidate_sealed.eq(s.candidate_sealed),
            sheets::status.eq("active"),
            sheets::entry.eq(s.entry),
            sheets::entered_by.eq(s.entered_by),
            sheets::pages.eq(s.pages),
            sheets::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sheets)]
pub struct SheetRow {
    pub exam_id: String,
    pub id: String,
    pub batch_id: String,
    pub candidate_lookup: String,
    pub candidate_sealed: String,
    pub status: String,
    pub entry: String,
    pub entered_by: String,
    pub confirmed_by: Option<String>,
    pub pages: i32,
    pub created_at: chrono::NaiveDateTime,
}

pub fn sheet(conn: &mut DbConn, id: &str) -> Result<SheetRow, DbError> {
    Ok(sheets::table
        .filter(sheets::id.eq(id))
        .select(SheetRow::as_select())
        .first(conn)?)
}

pub fn active_sheet_of(conn: &mut DbConn, exam_id: &str, candidate_lookup: &str) -> Result<Option<SheetRow>, DbError> {
    Ok(sheets::table
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::candidate_lookup.eq(candidate_lookup))
        .filter(sheets::status.eq(lit("active")))
        .select(SheetRow::as_select())
        .first(conn)
        .optional()?)
}

/// Scripts of a sheet that have gone beyond intake (to marking or further): a sheet with any
/// cannot be replaced.
pub fn scripts_beyond_intake(conn: &mut DbConn, exam_id: &str, sheet_id: &str) -> Result<i64, DbError> {
    Ok(scripts::table
        .filter(scripts::exam_id.eq(exam_id))
        .filter(scripts::sheet_id.eq(sheet_id))
        .filter(scripts::state.ne_all(["held", "needs_treatment", "awaiting"]))
        .count()
        .get_result(conn)?)
}

/// The replaced sheet stays, flagged; its scripts are voided (nothing is deleted) and every
/// link to their images ends.
pub fn replace_sheet(conn: &mut DbConn, exam_id: &str, sheet_id: &str) -> Result<(), DbError> {
    let ids: Vec<String> = scripts::table
        .filter(scripts::exam_id.eq(exam_id))
        .filter(scripts::sheet_id.eq(sheet_id))
        .select(scripts::id)
        .load(conn)?;
    for id in &ids {
        revoke_image_tokens(conn, exam_id, id)?;
    }
    diesel::update(sheets::table.find((exam_id, sheet_id)))
        .set(sheets::status.eq("replaced"))
        .execute(conn)?;
    diesel::update(
        scripts::table
            .filter(scripts::exam_id.eq(exam_id))
            .filter(scripts::sheet_id.eq(sheet_id)),
    )
    .set(scripts::state.eq("void"))
    .execute(conn)?;
    Ok(())
}

pub fn confirm_sheet(conn: &mut DbConn, exam_id: &str, sheet_id: &str, by: &str) -> Result<(), DbError> {
    diesel::update(sheets::table.find((exam_id, sheet_id)))
        .set(sheets::confirmed_by.eq(by))
        .execute(conn)?;
    Ok(())
}

pub fn insert_page(
    conn: &mut DbConn,
    exam_id: &str,
    sheet_id: &str,
    page: i32,
    original_key: &str,
    turned: bool,
    needs_treatment: bool,
) -> Result<(), DbError> {
    diesel::insert_into(sheet_pages::table)
        .values((
            sheet_pages::exam_id.eq(exam_id),
            sheet_pages::sheet_id.eq(sheet_id),
            sheet_pages::page.eq(page),
            sheet_pages::original_key.eq(original_key),
            sheet_pages::turned.eq(turned),
            sheet_pages::needs_treatment.eq(needs_treatment),
            sheet_pages::extra_masks.eq("[]"),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sheet_pages)]
pub struct PageRow {
    pub exam_id: String,
    pub sheet_id: String,
    pub page: i32,
    pub original_key: String,
    pub turned: bool,
    pub needs_treatment: bool,
    pub extra_masks: String,
}

pub fn page(conn: &mut DbConn, exam_id: &str, sheet_id: &str, page: i32) -> Result<PageRow, DbError> {
    Ok(sheet_pages::table
        .find((exam_id, sheet_id, page))
        .select(PageRow::as_select())
        .first(conn)?)
}

/// After a custodian's treatment: the page's decision and added masks.
pub fn treat_page(
    conn: &mut DbConn,
    exam_id: &str,
    sheet_id: &str,
    page: i32,
    turned: bool,
    extra_masks: &str,
) -> Result<(), DbError> {
    diesel::update(sheet_pages::table.find((exam_id, sheet_id, page)))
        .set((
            sheet_pages::turned.eq(turned),
            sheet_pages::needs_treatment.eq(false),
            sheet_pages::extra_masks.eq(extra_masks),
        ))
        .execute(conn)?;
    Ok(())
}

pub struct NewScript<'a> {
    pub exam_id: &'a str,
    pub id: &'a str,
    pub question_id: &'a str,
    pub sheet_id: &'a str,
    pub anonymous_code: &'a str,
    pub school_code: &'a str,
    pub state: &'a str,
    pub page: i32,
    pub image_key: &'a str,
}

/// `Duplicate` when the anonymous code is taken (draw another).
pub fn insert_script(conn: &mut DbConn, s: &NewScript<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::insert_into(scripts::table)
        .values((
            scripts::exam_id.eq(s.exam_id),
            scripts::id.eq(s.id),
            scripts::question_id.eq(s.question_id),
            scripts::sheet_id.eq(s.sheet_id),
            scripts::anonymous_code.eq(s.anonymous_code),
            scripts::school_code.eq(s.school_code),
            scripts::state.eq(s.state),
            scripts::page.eq(s.page),
            scripts::image_key.eq(s.image_key),
            scripts::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scripts)]
pub struct ScriptRow {
    pub exam_id: String,
    pub id: String,
    pub question_id: String,
    pub sheet_id: String,
    pub anonymous_code: String,
    pub school_code: String,
    pub state: String,
    pub page: i32,
    pub image_key: String,
    pub created_at: chrono::NaiveDateTime,
}

/// Locks and reads the script's row like `lock_script`, unless another transaction holds it: then
/// None at once (PostgreSQL; SQLite has one writer and always finds it free). A lease takes its script
/// this way before its task, so that two leases of one script's tasks take turns without
/// waiting (the second tries its next candidate) and never lock in opposite orders.
/// The row comes back with the lock, so the lease reads it in the same round trip.
pub fn try_lock_script(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<Option<ScriptRow>, DbError> {
    let row = scripts::table.find((exam_id, script_id));
    match conn {
        DbConn::Pg(c) => Ok(row
            .select(ScriptRow::as_select())
            .for_no_key_update()
            .skip_locked()
            .first(c)
            .optional()?),
        DbConn::Sqlite(_) => Ok(row.select(ScriptRow::as_select()).first(conn).optional()?),
    }
}

/// The script's row, locked for the rest of the transaction on PostgreSQL, so that two marks
/// completing one script at once take turns and the second sees the first (SQLite has one
/// writer already). One statement: the lock hands back the row it took.
pub fn lock_script(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<ScriptRow, DbError> {
    let row = scripts::table.find((exam_id, script_id));
    Ok(match conn {
        // Not FOR UPDATE: the marks and holders just written hold the row FOR KEY SHARE (their
        // foreign keys), and two of them upgrading at once would deadlock.
        DbConn::Pg(c) => row.select(ScriptRow::as_select()).for_no_key_update().first(c)?,
        DbConn::Sqlite(_) => row.select(ScriptRow::as_select()).first(conn)?,
    })
}

/// The batch's scripts waiting for marking.
pub fn awaiting_in_batch(conn: &mut DbConn, exam_id: &str, batch_id: &str) -> Result<Vec<ScriptRow>, DbError> {
    let in_batch = sheets::table
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::batch_id.eq(batch_id))
        .filter(sheets::status.eq(lit("active")))
        .select(sheets::id);
    Ok(scripts::table
        .filter(scripts::exam_id.eq(exam_id))
        .filter(scripts::state.eq("awaiting"))
        .filter(scripts::sheet_id.eq_any(in_batch))
        .select(ScriptRow::as_select())
        .load(conn)?)
}

pub fn script(conn: &mut DbConn, id: &str) -> Result<ScriptRow, DbError> {
    Ok(scripts::table
        .filter(scripts::id.eq(id))
        .select(ScriptRow::as_select())
        .first(conn)?)
}

pub fn scripts_of_sheet(conn: &mut DbConn, exam_id: &str, sheet_id: &str) -> Result<Vec<ScriptRow>, DbError> {
    Ok(scripts::table
        .filter(scripts::exam_id.eq(exam_id))
        .filter(scripts::sheet_id.eq(sheet_id))
        .select(ScriptRow::as_select())
        .load(conn)?)
}

pub fn scripts_in_state(conn: &mut DbConn, exam_id: &str, state: &str) -> Result<Vec<ScriptRow>, DbError> {
    Ok(scripts::table
        .filter(scripts::exam_id.eq(exam_id))
        .filter(scripts::state.eq(state))
        .order(scripts::created_at)
        .select(ScriptRow::as_select())
        .load(conn)?)
}

/// A script's new masked image after treatment; it waits in `held` for its batch's release.
pub fn set_image(conn: &mut DbConn, exam_id: &str, id: &str, image_key: &str, state: &str) -> Result<(), DbError> {
    diesel::update(scripts::table.find((exam_id, id)))
        .set((scripts::image_key.eq(image_key), scripts::state.eq(state)))
        .execute(conn)?;
    Ok(())
}

/// What an image link shows: a live script or a pre-scored one.
#[derive(Debug, Clone, Copy)]
pub enum ImageOf<'a> {
    Script(&'a str),
    Prescored(&'a str),
}

pub fn insert_image_token(
    conn: &mut DbConn,
    exam_id: &str,
    token_hash: &str,
    of: ImageOf<'_>,
    image_key: &str,
    holder: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    let (script, prescored) = match of {
        ImageOf::Script(id) => (Some(id), None),
        ImageOf::Prescored(id) => (None, Some(id)),
    };
    diesel::insert_into(image_tokens::table)
        .values((
            image_tokens::exam_id.eq(exam_id),
            image_tokens::token_hash.eq(token_hash),
            image_tokens::script_id.eq(script),
            image_tokens::prescored_id.eq(prescored),
            image_tokens::image_key.eq(image_key),
            image_tokens::holder.eq(holder),
            image_tokens::expires_at.eq(db_time(expires_at)),
            image_tokens::revoked.eq(false),
        ))
        .execute(conn)?;
    Ok(())
}

/// The image key a live token opens, unless revoked or expired.
pub fn image_for_token(conn: &mut DbConn, token_hash: &str, now: DateTime<Utc>) -> Result<Option<String>, DbError> {
    Ok(image_tokens::table
        .filter(image_tokens::token_hash.eq(token_hash))
        .filter(image_tokens::revoked.eq(false))
        .filter(image_tokens::expires_at.gt(db_time(now)))
        .select(image_tokens::image_key)
        .first(conn)
        .optional()?)
}

/// Ends every link to a script's images at once (its lease ended, or its images were redone).
pub fn revoke_image_tokens(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<usize, DbError> {
    Ok(diesel::update(
        image_tokens::table
            .filter(image_tokens::exam_id.eq(exam_id))
            .filter(image_tokens::script_id.eq(script_id))
            .filter(image_tokens::revoked.eq(false)),
    )
    .set(image_tokens::revoked.eq(true))
    .execute(conn)?)
}

/// Ends a holder's links to one script (their lease of it ended).
pub fn revoke_script_tokens_of(
    conn: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    holder: &str,
) -> Result<usize, DbError> {
    revoke_holder_links(conn, exam_id, Linked::Script(script_id), holder)
}

/// Ends every image link of the exam (the room closed).
pub fn revoke_exam_tokens(conn: &mut DbConn, exam_id: &str) -> Result<usize, DbError> {
    Ok(diesel::update(
        image_tokens::table
            .filter(image_tokens::exam_id.eq(exam_id))
            .filter(image_tokens::revoked.eq(false)),
    )
    .set(image_tokens::revoked.eq(true))
    .execute(conn)?)
}

/// Whether a real script of the exam carries this anonymous code.
pub fn code_taken(conn: &mut DbConn, exam_id: &str, code: &str) -> Result<bool, DbError> {
    let n: i64 = scripts::table
        .filter(scripts::exam_id.eq(exam_id))
        .filter(scripts::anonymous_code.eq(code))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Ends every image link a holder has in the exam (their standing changed, the room closed).
pub fn revoke_holder_tokens(conn: &mut DbConn, exam_id: &str, holder: &str) -> Result<usize, DbError> {
    Ok(diesel::update(
        image_tokens::table
            .filter(image_tokens::exam_id.eq(exam_id))
            .filter(image_tokens::holder.eq(holder))
            .filter(image_tokens::revoked.eq(false)),
    )
    .set(image_tokens::revoked.eq(true))
    .execute(conn)?)
}

/// Ends a holder's links to a pre-scored script (its qualification task was scored).
pub fn revoke_prescored_tokens(
    conn: &mut DbConn,
    exam_id: &str,
    prescored_id: &str,
    holder: &str,
) -> Result<usize, DbError> {
    revoke_holder_links(conn, exam_id, Linked::Prescored(prescored_id), holder)
}

/// What a holder's links show.
enum Linked<'a> {
    Script(&'a str),
    Prescored(&'a str),
}

/// Ends a holder's live links to one script or pre-scored script: one statement, kept
/// prepared, for each column.
fn revoke_holder_links(conn: &mut DbConn, exam_id: &str, linked: Linked<'_>, holder: &str) -> Result<usize, DbError> {
    let (sql, id) = match linked {
        Linked::Script(id) => (
            "UPDATE image_tokens SET revoked = $1 \
             WHERE exam_id = $2 AND script_id = $3 AND holder = $4 AND revoked = $5 RETURNING 1 AS touched",
            id,
        ),
        Linked::Prescored(id) => (
            "UPDATE image_tokens SET revoked = $1 \
             WHERE exam_id = $2 AND prescored_id = $3 AND holder = $4 AND revoked = $5 RETURNING 1 AS touched",
            id,
        ),
    };
    Ok(changed(
        conn,
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::Bool, _>(true)
            .bind::<diesel::sql_types::Text, _>(exam_id)
            .bind::<diesel::sql_types::Text, _>(id)
            .bind::<diesel::sql_types::Text, _>(holder)
            .bind::<diesel::sql_types::Bool, _>(false),
    )?)
}

/// Whether any script's (or pre-scored script's) current image is this object (then it is kept).
pub fn image_in_use(conn: &mut DbConn, image_key: &str) -> Result<bool, DbError> {
    let n: i64 = scripts::table
        .filter(scripts::image_key.eq(image_key))
        .count()
        .get_result(conn)?;
    let p: i64 = super::schema::prescored_scripts::table
        .filter(super::schema::prescored_scripts::image_key.eq(image_key))
        .count()
        .get_result(conn)?;
    Ok(n + p > 0)
}
