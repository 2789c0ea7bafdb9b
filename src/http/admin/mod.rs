//! The admin's room: accounts, workstations, admissions clients and the audit log.

mod audit_log;
mod password_reset;
mod service_clients;
mod users;
mod workstations;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(users::create_user)
        .service(password_reset::reset_password)
        .service(workstations::create_workstation)
        .service(service_clients::create_service_client)
        .service(audit_log::list_audit);
}
