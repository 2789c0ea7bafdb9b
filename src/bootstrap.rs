//! Accounts made on the server itself, before anyone can log in: administrators, and the first
//! two chief leaders (every later leader is activated by two-person approval).

use chrono::Utc;

use crate::db::{self, Db, DbError};
use crate::domain::RuleError;
use crate::domain::role::{Role, check_password, check_username};
use crate::secrets::{self, SecretError};

/// How many chief leaders the command line may create.
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
    #[error(
        "two chief leaders exist already; further leaders are created by an admin and activated by a chief leader's approval"
    )]
    ChiefsExist,
}

impl From<diesel::result::Error> for BootstrapError {
    fn from(e: diesel::result::Error) -> Self {
        BootstrapError::Db(e.into())
    }
}

/// Creates an active admin, or an active chief leader while fewer than two exist.
pub fn create_account(db: &Db, username: &str, password: &str, role: Role) -> Result<String, BootstrapError> {
    check_username(username)?;
    check_password(password)?;
    if !matches!(role, Role::Admin | Role::Leader) {
        return Err(RuleError::invalid(
            "role_not_creatable",
            "role",
            "the command line creates admins and chief leaders",
        )
        .into());
    }
    let hash = secrets::hash_password(password)?;
    let now = Utc::now();
    let id = db.write_now(|c| -> Result<String, BootstrapError> {
        if role == Role::Leader && db::users::count_chiefs(c)? >= BOOTSTRAP_CHIEFS {
            return Err(BootstrapError::ChiefsExist);
        }
        if db::users::find_by_username(c, username)?.is_some() {
            return Err(BootstrapError::Taken(username.to_string()));
        }
        let id = db::users::insert(
            c,
            &db::users::NewUser {
                username,
                password_hash: &hash,
                role,
                chief: role == Role::Leader,
                active: true,
                created_by: None,
            },
            now,
        )?;
        db::audit::append(
            c,
            &db::audit::NewEntry {
                action: format!("{}.bootstrap", role.as_str()),
                object_type: Some("user".into()),
                object_id: Some(id.clone()),
                outcome: "ok".into(),
                details: serde_json::json!({ "username": username, "via": "command line" }).to_string(),
                ..Default::default()
            },
            now,
        )?;
        Ok(id)
    })?;
    db.write_now(crate::audit::seal_pending)?;
    Ok(id)
}
