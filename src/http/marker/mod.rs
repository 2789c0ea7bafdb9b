//! The marking workstation's API: what a marker may ask for and nothing more. No answer here
//! carries a definitive score, another marker's mark or a candidate's identity.

mod qualification;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(qualification::next_calibration)
        .service(qualification::score_calibration);
}
