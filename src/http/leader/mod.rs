//! Grading leadership: exams and their questions and templates, the room, two-person approvals.

mod approval_kinds;
pub(crate) mod approvals;
mod backreads;
mod certifications;
mod disputes;
mod exam_list;
mod exam_settings;
mod exams;
mod marker_record;
mod marker_standing;
mod marker_update;
pub(crate) mod markers;
mod prescored;
mod problems;
mod progress;
mod queues;
pub(crate) mod relatives;
mod report;
mod results_acts;
mod reviews;
mod statistics;

pub use exams::{exam_by_code, not_related};

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(exams::create_exam)
        .service(exam_list::list_exams)
        .service(exams::get_exam)
        .service(markers::create_marker)
        .service(marker_record::get_marker)
        .service(marker_update::update_marker)
        .service(marker_record::list_exam_markers)
        .service(markers::appoint)
        .service(markers::record_training)
        .service(markers::assign_questions)
        .service(relatives::declare_relatives)
        .service(certifications::record_certification)
        .service(prescored::upload_prescored)
        .service(marker_standing::pause)
        .service(marker_standing::reinstate)
        .service(reviews::list_reviews)
        .service(reviews::decide_review)
        .service(statistics::question_statistics)
        .service(statistics::check_question)
        .service(statistics::marker_statistics)
        .service(prescored::list_prescored)
        .service(exam_settings::change_settings)
        .service(progress::progress)
        .service(report::marking_report)
        .service(disputes::discrepancies)
        .service(disputes::arbitrate)
        .service(backreads::backreads)
        .service(backreads::score_backread)
        .service(problems::problems)
        .service(problems::resolve_problem)
        .service(exams::add_question)
        .service(exams::put_template)
        .service(exams::set_room)
        .service(approvals::request_exam_approval)
        .service(approvals::request_approval)
        .service(approvals::list_approvals)
        .service(approvals::list_exam_approvals)
        .service(approvals::approve)
        .service(approvals::reject);
}
