//! The marking workstation's API: what a marker may ask for and nothing more. No answer here
//! carries a definitive score, another marker's mark or a candidate's identity.

mod choose;
mod door;
mod flag;
mod lease;

pub use lease::marking_day;
mod me;
mod qualification;
mod score;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(lease::next)
        .service(score::score)
        .service(flag::flag)
        .service(flag::release)
        .service(me::me)
        .service(qualification::next_calibration)
        .service(qualification::score_calibration);
}
