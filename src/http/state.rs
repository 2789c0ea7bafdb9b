use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::error::ApiError;
use super::tokens::TokenKeys;
use crate::config::Settings;
use crate::db::Db;
use crate::db::audit::NewEntry;

/// What every handler shares: the database, the settings and the token keys. Nothing else
/// lives in the server process; leases, sessions and queues are in the database.
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub tokens: TokenKeys,
}

impl AppState {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
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
