//! Accounts made on the server itself, before anyone can log in: administrators, and the first
//! two chief leaders (every later leader is activated by two-person approval). The operator
//! types the password here, so these accounts need no first-login change.

use chrono::Utc;

use crate::db::{self, Db, DbError};
use crate::domain::RuleError;
use crate::domain::role::{Role, check_password, check_person, check_username};
use crate::secrets::{self, SecretError};

/// How many active chief leaders the command line may create.
pub const BOOTSTRAP_CHIEFS: i64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("username {0} is taken")]
    Taken(String),
    #[error("this person already holds an account ({0}); one person holds one account")]
    PersonHasAccount(String),
    #[error(
        "the {0} key differs from the one this database's data was made with: give every node and command that key (the identity key: auth.identity_key or data_dir/identity.key; the vault key: vault.key or data_dir/vault.key)"
    )]
    KeyMismatch(String),
    #[error(
        "two active chief leaders exist already; further leaders are created by an admin and activated by a chief leader's approval"
    )]
    ChiefsExist,
}

impl From<diesel::result::Error> for BootstrapError {
    fn from(e: diesel::result::Error) -> Self {
        BootstrapError::Db(e.into())
    }
}

/// Refuses an identity key other than the one the database's accounts were made with (the
/// first key used is recorded): with another key the same document number would hash
/// differently, and one person could hold two accounts.
pub fn ensure_identity_key(db: &Db, identity_key: &[u8]) -> Result<(), BootstrapError> {
    ensure_key(db, "identity", &secrets::identity_key_check(identity_key))
}

/// Records a key's check value on first use and refuses another key afterwards (the identity
/// key, the vault key): data made with one cannot be read or matched with another.
pub fn ensure_key(db: &Db, name: &str, check_value: &str) -> Result<(), BootstrapError> {
    let same = db.write_now(|c| db::keys::matches_or_record(c, name, check_value))?;
    if same {
        Ok(())
    } else {
        Err(BootstrapError::KeyMismatch(name.to_string()))
    }
}

/// Data from before the foundation hardening: exams get their rules frozen now, and accounts
/// that name no person are reported (they cannot be matched against a second account of the
/// same person until they are recorded).
pub fn settle_legacy_data(db: &Db, defaults: &crate::domain::rules::MarkingRules) -> Result<(), BootstrapError> {
    let (frozen, nameless) = db.write_now(|c| -> Result<_, DbError> {
        Ok((
            db::exams::freeze_legacy_rules(c, defaults)?,
            db::users::without_person(c)?,
        ))
    })?;
    if frozen > 0 {
        tracing::info!(exams = frozen, "exam rules frozen with the defaults in force now");
    }
    if !nameless.is_empty() {
        tracing::warn!(
            accounts = ?nameless,
            "accounts made before every account named a person: they name nobody; replace them with accounts made for their people"
        );
    }
    Ok(())
}

/// What the operator gives on the command line.
pub struct BootstrapAccount<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub full_name: &'a str,
    pub id_document: &'a str,
    pub role: Role,
}

/// Creates an active admin, or an active chief leader while fewer than two active ones exist.
pub fn create_account(db: &Db, identity_key: &[u8], a: &BootstrapAccount<'_>) -> Result<String, BootstrapError> {
    check_username(a.username)?;
    check_password(a.password)?;
    let person = check_person(a.full_name, a.id_document)?;
    if !matches!(a.role, Role::Admin | Role::Leader) {
        return Err(RuleError::invalid(
            "role_not_creatable",
            "role",
            "the command line creates admins and chief leaders",
        )
        .into());
    }
    ensure_identity_key(db, identity_key)?;
    let hash = secrets::hash_password(a.password)?;
    let document_hash = secrets::keyed_hash(identity_key, &person.id_document);
    let now = Utc::now();
    let id = db.write_now(|c| -> Result<String, BootstrapError> {
        // Two operators running `leader create` at once on PostgreSQL take turns here, so the
        // count and the insert cannot interleave (SQLite has one writer already).
        if let db::DbConn::Pg(pg) = c {
            diesel::connection::SimpleConnection::batch_execute(pg, "SELECT pg_advisory_xact_lock(727002)")?;
        }
        if a.role == Role::Leader && db::users::count_active_chiefs(c)? >= BOOTSTRAP_CHIEFS {
            return Err(BootstrapError::ChiefsExist);
        }
        if db::users::find_by_username(c, a.username)?.is_some() {
            return Err(BootstrapError::Taken(a.username.to_string()));
        }
        if let Some(other) = db::users::find_by_document(c, &document_hash)? {
            return Err(BootstrapError::PersonHasAccount(other.username));
        }
        let id = db::users::insert(
            c,
            &db::users::NewUser {
                username: a.username,
                password_hash: &hash,
                role: a.role,
                chief: a.role == Role::Leader,
                active: true,
                created_by: None,
                full_name: &person.full_name,
                id_document_hash: &document_hash,
                must_change_password: false,
                one_time_password_expires_at: None,
            },
            now,
        )?;
        db::audit::append(
            c,
            &db::audit::NewEntry {
                action: format!("{}.bootstrap", a.role.as_str()),
                object_type: Some("user".into()),
                object_id: Some(id.clone()),
                outcome: "ok".into(),
                details: serde_json::json!({ "username": a.username, "via": "command line" }).to_string(),
                ..Default::default()
            },
            now,
        )?;
        Ok(id)
    })?;
    db.write_now(crate::audit::seal_pending)?;
    Ok(id)
}

/// Registers a workstation on the server itself: the first key, before any admin can log in
/// from one during a marking window. Returns (id, key); the key is shown once.
pub fn create_workstation(db: &Db, name: &str) -> Result<(String, String), BootstrapError> {
    let name = crate::domain::access::check_workstation_name(name)?;
    let key = secrets::random_key();
    let key_hash = secrets::sha256_hex(key.as_bytes());
    let now = Utc::now();
    let id = db.write_now(|c| -> Result<String, BootstrapError> {
        let id = db::workstations::insert(c, &name, &key_hash, false, None, now).map_err(|e| match e {
            DbError::Duplicate(_) => BootstrapError::Taken(name.to_string()),
            other => other.into(),
        })?;
        db::audit::append(
            c,
            &db::audit::NewEntry {
                action: "workstation.bootstrap".into(),
                object_type: Some("workstation".into()),
                object_id: Some(id.clone()),
                outcome: "ok".into(),
                details: serde_json::json!({ "name": name, "via": "command line" }).to_string(),
                ..Default::default()
            },
            now,
        )?;
        Ok(id)
    })?;
    db.write_now(crate::audit::seal_pending)?;
    Ok((id, key))
}
