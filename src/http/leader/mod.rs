//! Grading leadership: exams and their questions and templates, the room, two-person approvals.

mod approval_kinds;
pub(crate) mod approvals;
mod exam_settings;
mod exams;
pub(crate) mod markers;
mod prescored;

pub use exams::{exam_by_code, not_related};

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(exams::create_exam)
        .service(exams::get_exam)
        .service(markers::create_marker)
        .service(markers::get_marker)
        .service(markers::appoint)
        .service(markers::record_training)
        .service(markers::assign_questions)
        .service(markers::declare_relatives)
        .service(markers::record_certification)
        .service(prescored::upload_prescored)
        .service(prescored::list_prescored)
        .service(exam_settings::change_settings)
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
