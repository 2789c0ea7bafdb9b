//! Passwords, keys and secrets. Passwords are hashed with Argon2id (memory-hard, against
//! guessing); workstation keys and client secrets are 256 random bits, so a SHA-256 of them is
//! enough to store and lets a request find its workstation with one indexed lookup.

use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("token key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
}

pub fn hash_password(password: &str) -> Result<String, SecretError> {
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    let salt = SaltString::encode_b64(&raw).map_err(|e| SecretError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SecretError::Hash(e.to_string()))
}

/// False for a wrong password and for a malformed stored hash alike.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash to spend the same time on when the username does not exist, so that response time
/// does not tell which usernames are real.
pub fn dummy_password_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("markroom-dummy-password").unwrap_or_default())
}

/// 256 random bits, URL-safe text. `rand::rng()` is a CSPRNG seeded and reseeded from the
/// operating system.
pub fn random_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The token signing key: from settings, or from `data_dir/token.key`, made on first start.
pub fn token_key(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, SecretError> {
    if let Some(k) = configured.filter(|k| !k.is_empty()) {
        return Ok(k.as_bytes().to_vec());
    }
    private_key_file(&data_dir.join("token.key"))
}

/// A secret kept in a file of its own (mode 0600), made on first use.
fn private_key_file(path: &Path) -> Result<Vec<u8>, SecretError> {
    let io = |source| SecretError::KeyFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(k) if !k.trim().is_empty() => Ok(k.trim().as_bytes().to_vec()),
        _ => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let key = random_key();
            write_private(path, key.as_bytes()).map_err(io)?;
            Ok(key.into_bytes())
        }
    }
}

/// The key that hides staff identity-document numbers: from settings, or from
/// `data_dir/identity.key`, made on first start. Losing it means no new account can be checked
/// against the old ones, so it is kept like the token key.
pub fn identity_key(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, SecretError> {
    match configured.filter(|k| !k.is_empty()) {
        Some(k) => Ok(k.as_bytes().to_vec()),
        None => private_key_file(&data_dir.join("identity.key")),
    }
}

/// A keyed hash of a (normalised) identity-document number: equal numbers give equal hashes,
/// and nobody without the key can test a guess against the table.
pub fn keyed_hash(key: &[u8], data: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A one-time password for an account someone else made: 20 characters from an alphabet
/// without look-alikes (no 0/O, 1/l/I), read out or printed for its owner.
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rand::Rng::random_range(&mut rng, 0..ALPHABET.len())] as char)
        .collect()
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn keys_are_long_and_distinct() {
        let (a, b) = (random_key(), random_key());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
