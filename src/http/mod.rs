//! HTTP: one module per audience, errors converted once into problem+json.

pub mod access_log;
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
pub mod metrics;
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
        .configure(metrics::routes)
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
    lifecycle: Arc<state::Lifecycle>,
    sealer: crate::audit::Sealer,
    /// PostgreSQL: the server's analyses of its tables (`db::planner_stats`).
    keeper: Option<tokio::task::JoinHandle<()>>,
    /// For shutdown: to wait for the database work of requests cut off.
    db: Db,
    /// How long `/readyz` says 503 before the server stops taking requests.
    shutdown_delay: Duration,
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
        let lifecycle = Arc::new(state::Lifecycle::default());
        // Installed before the first request, so that nothing goes uncounted.
        metrics::handle();
        let shutdown_delay = Duration::from_millis(settings.http.shutdown_delay_ms);
        let grace = settings.http.shutdown_grace_secs;
        let sealer = crate::audit::spawn_sealer(
            db.clone(),
            Duration::from_millis(settings.audit.seal_interval_ms.max(10)),
            Duration::from_secs(settings.audit.anchor_interval_secs),
            settings.anchor_path(),
        );
        let workers = settings.http.workers;
        let keeper_url = settings.owner_or_postgres_url().map(str::to_string);
        let analyze_every = Duration::from_secs(settings.database.analyze_interval_secs);
        let quiet = db.clone();
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
            lifecycle: lifecycle.clone(),
        });
        let doc = web::Data::new(document());
        let mut server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .app_data(state.clone())
                .app_data(doc.clone())
                .configure(health::routes)
                .configure(metrics::routes)
                .service(api_scope())
                .split_for_parts();
            app.app_data(path_errors())
                .app_data(query_errors::config())
                .configure(pages::routes)
                .default_service(web::to(openapi::fallback))
                .wrap(from_fn(query_errors::caller_first))
                .wrap(from_fn(access_log::middleware))
                .wrap(from_fn(request_id::middleware))
        })
        // Signals are `run_until_signal`'s: readiness turns first, then the server stops.
        .disable_signals()
        .shutdown_timeout(grace)
        .listen(listener)?;
        if workers > 0 {
            server = server.workers(workers);
        }
        // Last, once nothing can fail: a keeper left behind by a failed start would run on.
        let keeper = keeper_url
            .filter(|_| !analyze_every.is_zero())
            .map(|url| crate::db::planner_stats::spawn_keeper(url, analyze_every));
        Ok(Application {
            server: server.run(),
            port,
            clock,
            counters,
            storage,
            lifecycle,
            sealer,
            keeper,
            shutdown_delay,
            db: quiet,
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

    /// Serves until SIGTERM or Ctrl-C, then shuts down in order: `/readyz` turns 503 at once,
    /// requests are still taken for `http.shutdown_delay_ms` (for a load balancer to notice),
    /// then no new connection is accepted and those in flight have `http.shutdown_grace_secs`
    /// to finish; the sealer chains what is committed and writes a last anchor; the pool closes
    /// as the last handle drops. Leases live in the database and outlast the process.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let Application {
            server,
            lifecycle,
            sealer,
            keeper,
            shutdown_delay,
            db,
            ..
        } = self;
        let handle = server.handle();
        let mut running = actix_web::rt::spawn(server);
        let result = tokio::select! {
            done = &mut running => Some(done),
            () = shutdown_signal() => None,
        };
        let result = match result {
            Some(done) => done.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => {
                lifecycle.begin_shutdown();
                tracing::info!(
                    delay_ms = shutdown_delay.as_millis() as u64,
                    "shutdown begun: /readyz answers 503"
                );
                tokio::time::sleep(shutdown_delay).await;
                tracing::info!("no new requests; finishing those in flight");
                handle.stop(true).await;
                running.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
            }
        };
        // No analysis starts after this; one running finishes on its own connection.
        if let Some(keeper) = keeper {
            keeper.abort();
        }
        // What requests cut off by the grace period (or background checks) still had running
        // commits first, so the last seal leaves nothing behind.
        if let Err(e) = db.quiesce().await {
            tracing::error!(error = %e, "database work could not be awaited before the last seal");
        }
        sealer.stop().await;
        tracing::info!("audit sealed and anchored; markroom stopped");
        result
    }
}

/// SIGTERM (a service manager's stop) or Ctrl-C at a terminal.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
