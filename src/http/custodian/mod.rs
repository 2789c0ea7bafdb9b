//! The custody desk: duty shifts, batches and their hand-over chain, answer sheets, treatment.

mod batches;
mod candidates;
mod chain;
mod duty;
mod handovers;
pub(crate) mod images;
mod originals;
mod sheet_form;
pub(crate) mod sheets;
mod shifts;
mod treatment;

pub use duty::{on_duty_for, two_on_duty};

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(candidates::import_candidates)
        .service(candidates::record_absence)
        .service(shifts::check_in)
        .service(shifts::check_out)
        .service(shifts::duty_roster)
        .service(batches::request_batch)
        .service(batches::list_batches)
        .service(batches::get_batch)
        .service(batches::request_release)
        .service(handovers::record_handover)
        .service(sheets::upload_sheet)
        .service(sheets::confirm_sheet)
        .service(treatment::treatment_list)
        .service(treatment::treat_script)
        .service(treatment::image_link)
        .service(handovers::confirm_handover)
        .service(handovers::awaiting_handovers)
        .service(originals::original_page);
}
