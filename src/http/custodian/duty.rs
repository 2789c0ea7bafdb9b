//! Who is on duty for an exam, and the two-custodian rule every act on the sheets passes.

use crate::db::{self, DbConn};
use crate::domain::custody::check_sheet_act;
use crate::http::error::ApiError;

/// Whether `user_id` is checked in for the exam, and how many are.
pub fn on_duty_for(c: &mut DbConn, exam_id: &str, user_id: &str) -> Result<(bool, usize), ApiError> {
    let on = db::custody::on_duty(c, exam_id)?;
    Ok((on.iter().any(|u| u == user_id), on.len()))
}

/// Refuses unless the caller and at least one other custodian are on duty for the exam, and
/// the caller has no declared relative sitting it (R3: such a person does not work on the exam).
pub fn two_on_duty(c: &mut DbConn, exam_id: &str, user_id: &str) -> Result<(), ApiError> {
    crate::http::leader::not_related(c, exam_id, user_id)?;
    let (me, count) = on_duty_for(c, exam_id, user_id)?;
    Ok(check_sheet_act(me, count)?)
}
