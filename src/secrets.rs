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
    #[error("key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error(
        "key file {path} has permissions {mode:04o}: others could read the secret key in it; \
         make it 0600 (chmod 600 {path})"
    )]
    KeyFileOpen { path: String, mode: u32 },
}

/// Argon2 spends 19 MiB and a whole core on each hash. Hashes run on threads of their own, one
/// a core: more at once would only add memory, and glibc keeps each thread's freed 19 MiB in
/// that thread's arena (a thousand markers logging in on the blocking pool once left the server
/// holding 1.2 GB).
static HASHERS: std::sync::LazyLock<Option<rayon::ThreadPool>> = std::sync::LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("password-hash-{i}"))
        .build()
        .ok()
});

/// Runs a password hash or check on the hashing threads; an error if it could not finish.
pub async fn hashing<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, tokio::sync::oneshot::error::RecvError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let run = move || {
        // A panic drops `tx`, and the caller hears an error instead of the process aborting.
        if let Ok(r) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let _ = tx.send(r);
        }
    };
    match HASHERS.as_ref() {
        Some(pool) => pool.spawn(run),
        None => drop(tokio::task::spawn_blocking(run)),
    }
    rx.await
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
/// An existing key file that group or others can read is refused rather than trusted.
pub fn token_key(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, SecretError> {
    if let Some(k) = configured.filter(|k| !k.is_empty()) {
        return Ok(k.as_bytes().to_vec());
    }
    private_key_file(&data_dir.join("token.key"))
}

/// A secret kept in a file of its own (mode 0600), made on first use: 256 random bits as
/// URL-safe base64 (the vault decodes them to its 32-byte key).
pub(crate) fn private_key_file(path: &Path) -> Result<Vec<u8>, SecretError> {
    let io = |source| SecretError::KeyFile {
        path: path.display().to_string(),
        source,
    };
    if let Ok(meta) = std::fs::metadata(path) {
        check_private(path, &meta)?;
    }
    match std::fs::read_to_string(path) {
        Ok(k) if !k.trim().is_empty() => Ok(k.trim().as_bytes().to_vec()),
        // An emptied key file is a lost key, not a fresh start: replacing it would silently
        // invalidate what was made with it.
        Ok(_) => Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the key file is empty; restore it from backup (or remove it to start with a new key)",
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                private_dir(dir).map_err(io)?;
            }
            let key = random_key();
            write_private(path, key.as_bytes()).map_err(io)?;
            Ok(key.into_bytes())
        }
        Err(e) => Err(io(e)),
    }
}

/// A value that tells whether two identity keys are the same key, without revealing it.
pub fn identity_key_check(key: &[u8]) -> String {
    keyed_hash(key, "markroom identity key check")
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

/// The demo's key (`data_dir/demo.key`), made once like the other keys.
pub fn demo_key(data_dir: &Path) -> Result<Vec<u8>, SecretError> {
    private_key_file(&data_dir.join("demo.key"))
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

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), SecretError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretError::KeyFileOpen {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<(), SecretError> {
    Ok(())
}

/// Creates a directory (and any missing parents) readable by the service's user alone. A
/// directory that already exists is the operator's, and is left as it is.
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Creates an empty file readable by the service's user alone, unless it exists already. SQLite
/// gives its journal files the database file's mode, so making the file first covers them too.
pub fn private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn a_new_key_is_made_private_in_a_private_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let key = token_key(None, &data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("token.key")), 0o600);
        assert_eq!(token_key(None, &data).unwrap(), key, "the same key on the next start");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("token.key");
        for loose in [0o644, 0o640, 0o604, 0o660] {
            std::fs::write(&path, "a key that others could read").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
            let err = token_key(None, tmp.path()).expect_err("a readable key is refused");
            assert!(matches!(err, SecretError::KeyFileOpen { mode, .. } if mode == loose));
            assert!(err.to_string().contains("make it 0600"), "{err}");
            let kept = std::fs::read_to_string(&path).unwrap();
            assert_eq!(kept, "a key that others could read", "the file is not replaced");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(token_key(None, tmp.path()).unwrap(), b"a key that others could read");
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_directory_keeps_the_operator_s_mode() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
        private_dir(tmp.path()).unwrap();
        assert_eq!(mode(tmp.path()), 0o750);
        let file = tmp.path().join("markroom.db");
        private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::write(&file, "kept").unwrap();
        private_file(&file).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "kept",
            "an existing file is left alone"
        );
    }

    #[test]
    fn keys_are_long_and_distinct() {
        let (a, b) = (random_key(), random_key());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
