//! HTTP: one module per audience, errors converted once into problem+json.

pub mod admin;
pub mod admissions;
pub mod audit_entry;
pub mod auth;
pub mod caller;
pub mod custodian;
pub mod error;
pub mod health;
pub mod image_links;
pub mod json;
pub mod leader;
pub mod marker;
pub mod monitor;
pub mod openapi;
pub mod page_form;
pub mod pages;
pub mod query_errors;
pub mod request_id;
pub mod resolution;
pub mod schemas;
pub mod state;
pub mod tokens;
pub mod triggers;
pub mod upload;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};

use crate::config::Settings;
use crate::db::Db;
use error::ApiError;
use state::AppState;

/// The route table with its description; built once and shared by every worker.
fn document() -> openapi::Document {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(health::routes)
        .service(api_scope())
        .split_for_parts();
    openapi::add_problem_responses(&mut doc);
    openapi::Document::new(&doc)
}

fn api_scope() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    scope::scope("/api/v1")
        .configure(openapi::routes)
        .configure(auth::routes)
        .configure(admin::routes)
        .configure(leader::routes)
        .configure(custodian::routes)
        .configure(marker::routes)
        .configure(image_links::routes)
        .configure(admissions::routes)
}

/// Malformed path and query parameters (see `query_errors`) get the same problem form as bodies.
fn path_errors() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|e, _| ApiError::input(StatusCode::NOT_FOUND, "invalid_path", e.to_string(), None).into())
}

/// The whole service on a bound listener, ready to run.
pub struct Application {
    server: Server,
    port: u16,
    clock: crate::clock::Clock,
    counters: Arc<state::Counters>,
    storage: crate::storage::Storage,
}

impl Application {
    /// Connects, migrates, starts the audit sealer and binds (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = Db::connect(&settings)?;
        db.migrate()?;
        let listener = TcpListener::bind(&settings.bind)?;
        Application::on_listener(settings, db, listener)
    }

    pub fn on_listener(settings: Settings, db: Db, listener: TcpListener) -> anyhow::Result<Application> {
        let port = listener.local_addr()?.port();
        let secret = crate::secrets::token_key(settings.auth.token_secret.as_deref(), &settings.data_dir)?;
        let identity_key = crate::secrets::identity_key(settings.auth.identity_key.as_deref(), &settings.data_dir)?;
        crate::bootstrap::ensure_identity_key(&db, &identity_key)?;
        crate::bootstrap::settle_legacy_data(&db, &settings.rules)?;
        let vault = crate::vault::Vault::load(settings.vault.key.as_deref(), &settings.data_dir)?;
        crate::bootstrap::ensure_key(&db, "vault", &vault.check_value())?;
        let storage = crate::storage::Storage::from_settings(&settings.storage, &settings.data_dir)?;
        let clock = crate::clock::Clock::default();
        let counters = Arc::new(state::Counters::default());
        crate::audit::spawn_sealer(
            db.clone(),
            Duration::from_millis(settings.audit.seal_interval_ms.max(10)),
            Duration::from_secs(settings.audit.anchor_interval_secs),
            settings.anchor_path(),
        );
        let workers = settings.http.workers;
        let state = web::Data::new(AppState {
            tokens: tokens::TokenKeys::new(&secret, &settings.auth, clock.clone())?,
            settings: Arc::new(settings),
            db,
            identity_key: Arc::new(identity_key),
            clock: clock.clone(),
            counters: counters.clone(),
            vault: Arc::new(vault),
            storage: storage.clone(),
            monitor: Default::default(),
        });
        let doc = web::Data::new(document());
        let mut server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .app_data(state.clone())
                .app_data(doc.clone())
                .configure(health::routes)
                .service(api_scope())
                .split_for_parts();
            app.app_data(path_errors())
                .app_data(query_errors::config())
                .configure(pages::routes)
                .default_service(web::to(openapi::fallback))
                .wrap(from_fn(query_errors::caller_first))
                .wrap(from_fn(request_id::middleware))
        })
        .listen(listener)?;
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Application {
            server: server.run(),
            port,
            clock,
            counters,
            storage,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's clock; tests move it forward to reach expiry without waiting.
    pub fn clock(&self) -> crate::clock::Clock {
        self.clock.clone()
    }

    pub fn counters(&self) -> Arc<state::Counters> {
        self.counters.clone()
    }

    /// The server's own store (for tests: an in-memory store is only visible through it).
    pub fn storage(&self) -> crate::storage::Storage {
        self.storage.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
