//! The demo's people, made on the server itself like the command line's bootstrap: the admin
//! and the two chief leaders directly; every account's own workstation with its derived key.
//! On a second run, the demo's accounts get their derived passwords back.

use chrono::Utc;
use serde::Serialize;

use super::keys::DemoKeys;
use crate::bootstrap::{BootstrapAccount, BootstrapError, create_account};
use crate::db::{self, Db};
use crate::domain::role::Role;
use crate::secrets::{hash_password, sha256_hex};

/// An account as the demo file lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub username: String,
    pub password: String,
    pub workstation_key: String,
}

pub fn account(keys: &DemoKeys, username: &str) -> Account {
    Account {
        username: username.into(),
        password: keys.password(username),
        workstation_key: keys.workstation_key(username),
    }
}

/// A demo person's name and identity-document number (made up, unique per username).
pub fn person(username: &str) -> (String, String) {
    let digits = sha256_hex(username.as_bytes());
    (
        format!("Demo {username}"),
        format!("DEMO{}", &digits[..12].to_uppercase()),
    )
}

/// The admin and chief leaders exist with their derived passwords.
pub fn ensure_bootstrap(db: &Db, identity_key: &[u8], keys: &DemoKeys, names: &[(&str, Role)]) -> anyhow::Result<()> {
    for (username, role) in names {
        let existing = db.read_now(|c| db::users::find_by_username(c, username))?;
        if existing.is_some() {
            continue;
        }
        let (full_name, id_document) = person(username);
        let password = keys.password(username);
        let a = BootstrapAccount {
            username,
            password: &password,
            full_name: &full_name,
            id_document: &id_document,
            role: *role,
        };
        match create_account(db, identity_key, &a) {
            Ok(_) => {}
            Err(BootstrapError::ChiefsExist) => {
                anyhow::bail!("this server has its two chief leaders already; run the demo on a fresh data directory")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Gives the demo's existing accounts their derived passwords again (a second run), marking
/// them as set by their owner: demo accounts, like the bootstrap's, need no first-login change.
pub fn reset_passwords(db: &Db, keys: &DemoKeys, usernames: &[String]) -> anyhow::Result<()> {
    for username in usernames {
        let Some(user) = db.read_now(|c| db::users::find_by_username(c, username))? else {
            continue;
        };
        let password = keys.password(username);
        if crate::secrets::verify_password(&password, &user.password_hash) && !user.must_change_password {
            continue;
        }
        let hash = hash_password(&password)?;
        db.write_now(|c| db::users::set_own_password(c, &user.id, &hash))?;
    }
    Ok(())
}

/// Every account's own workstation (custodians' are scanning stations), with its derived key.
pub fn ensure_workstations(db: &Db, keys: &DemoKeys, usernames: &[(String, bool)]) -> anyhow::Result<()> {
    let now = Utc::now();
    db.write_now(|c| -> anyhow::Result<()> {
        for (username, scanner) in usernames {
            let hash = sha256_hex(keys.workstation_key(username).as_bytes());
            if db::workstations::by_key_hash(c, &hash)?.is_some() {
                continue;
            }
            db::workstations::insert(c, &format!("demo {username}"), &hash, *scanner, None, now)?;
        }
        Ok(())
    })
}
