use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use super::error::ApiError;
use super::tokens::TokenKeys;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::db::audit::NewEntry;

/// What every handler shares: the database, the settings and the token keys. Nothing else
/// lives in the server process; leases, sessions and queues are in the database.
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub tokens: TokenKeys,
    /// Keys the identity-document numbers of staff (HMAC), so they are compared, never stored.
    pub identity_key: Arc<Vec<u8>>,
    pub clock: Clock,
    pub counters: Arc<Counters>,
    /// Seals candidate identity and original pages; its key never enters the database.
    pub vault: Arc<crate::vault::Vault>,
    /// Scanned pages and masked question images.
    pub storage: crate::storage::Storage,
    /// Questions whose marker triggers are being checked in the background.
    pub monitor: Arc<super::monitor::Monitor>,
    /// Whether shutdown has begun (`/readyz` says so first).
    pub lifecycle: Arc<Lifecycle>,
}

/// The server's place between start and stop, as `/readyz` reports it.
#[derive(Debug, Default)]
pub struct Lifecycle {
    stopping: std::sync::atomic::AtomicBool,
}

impl Lifecycle {
    pub fn begin_shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// Numbers a test or an operator reads off a running server.
#[derive(Debug, Default)]
pub struct Counters {
    /// Password hashes computed against a stored or dummy hash (the cost an attacker buys).
    password_checks: AtomicU64,
    /// Marker-trigger checks finished (background and on demand).
    trigger_checks: AtomicU64,
}

impl Counters {
    pub fn password_checked(&self) {
        self.password_checks.fetch_add(1, Ordering::Relaxed);
    }

    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::Relaxed)
    }

    pub fn trigger_checked(&self) {
        self.trigger_checks.fetch_add(1, Ordering::Relaxed);
    }

    pub fn trigger_checks(&self) -> u64 {
        self.trigger_checks.load(Ordering::Relaxed)
    }
}

impl AppState {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Writes one audit entry in a transaction of its own: for refusals, whose request
    /// changes nothing else.
    pub async fn audit_alone(&self, entry: NewEntry) {
        let now = self.now();
        let written: Result<(), ApiError> = self
            .db
            .write(move |c| crate::db::audit::append(c, &entry, now).map_err(ApiError::from))
            .await;
        if let Err(e) = written {
            tracing::error!(error = %e, "could not write an audit entry for a refusal");
        }
    }
}
