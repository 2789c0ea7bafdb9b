//! The identity vault's cryptography: candidate names, admission numbers and original pages
//! are sealed with XChaCha20-Poly1305 under a key kept outside the database, so a copy of the
//! database or of the storage folder names nobody. Its 24-byte nonces are random (no counter
//! to keep across servers), and the associated data binds each sealed value to its place (a
//! row, a page), so a value copied into another row does not open there. Admission numbers
//! are found by a keyed hash (HMAC-SHA-256) under a key derived from the vault key, which
//! without the key cannot be tested against a guessed number.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

const NONCE: usize = 24;
const TAG: usize = 16;
/// Labels for the keys derived from the vault key: each use gets its own, so that the check
/// value stored in the database reveals nothing about the lookup key.
const LOOKUP_LABEL: &str = "markroom vault lookup";
const CHECK_LABEL: &str = "markroom vault check";

#[derive(Clone)]
pub struct Vault {
    keys: Arc<Keys>,
}

struct Keys {
    /// Zeroes its key when dropped (the crate's `zeroize` feature).
    cipher: XChaCha20Poly1305,
    lookup: Zeroizing<[u8; 32]>,
    check: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("vault key: {0}")]
    Key(String),
    /// Deliberately one case: which of the three it was would help nobody but an attacker.
    #[error("a sealed value did not open: wrong vault key, tampered, or moved from its place")]
    Decrypt,
}

/// A configured key: base64 (standard or URL-safe, padded or not) of exactly 32 bytes. The
/// message never repeats the text, which may be most of a key.
pub fn parse_key(text: &str) -> Result<[u8; 32], VaultError> {
    let normal: Zeroizing<String> = Zeroizing::new(
        text.trim()
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect(),
    );
    let bytes = Zeroizing::new(
        STANDARD_NO_PAD
            .decode(normal.as_bytes())
            .map_err(|_| VaultError::Key("not base64 (make one with: head -c 32 /dev/urandom | base64)".into()))?,
    );
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| VaultError::Key(format!("{} bytes where 32 are needed", bytes.len())))
}

impl Vault {
    /// The configured key, or `data_dir/vault.key`, made (0600) on first use. A key file that
    /// group or others can read, or an empty one, is refused rather than trusted or replaced.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Vault, VaultError> {
        // Empty means unset, as the settings check reads it.
        if let Some(text) = configured.filter(|k| !k.is_empty()) {
            return Ok(Vault::from_key(parse_key(text)?));
        }
        let path = data_dir.join("vault.key");
        let text = Zeroizing::new(crate::secrets::private_key_file(&path).map_err(|e| VaultError::Key(e.to_string()))?);
        let text =
            std::str::from_utf8(&text).map_err(|_| VaultError::Key(format!("{} is not text", path.display())))?;
        parse_key(text)
            .map_err(|e| VaultError::Key(format!("{}: {e}", path.display())))
            .map(Vault::from_key)
    }

    pub fn from_key(key: [u8; 32]) -> Vault {
        let key = Zeroizing::new(key);
        let lookup = Zeroizing::new(hmac(&*key, LOOKUP_LABEL.as_bytes()));
        let check_key = Zeroizing::new(hmac(&*key, CHECK_LABEL.as_bytes()));
        let check = hex::encode(hmac(&*check_key, b"markroom vault key check value"));
        Vault {
            keys: Arc::new(Keys {
                cipher: XChaCha20Poly1305::new(&Key::from(*key)),
                lookup,
                check,
            }),
        }
    }

    /// `nonce || ciphertext || tag`, 40 bytes longer than `plaintext`. `context` is
    /// authenticated, not stored: `open` needs the same one.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        rand::rng().fill_bytes(&mut nonce);
        // One buffer, encrypted in place: original pages run to megabytes.
        let mut out = Vec::with_capacity(NONCE + plaintext.len() + TAG);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .keys
            .cipher
            .encrypt_inout_detached(&XNonce::from(nonce), context, (&mut out[NONCE..]).into())
            .expect("XChaCha20-Poly1305 seals up to 256 GiB per message");
        out.extend_from_slice(&tag);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
        if sealed.len() < NONCE + TAG {
            return Err(VaultError::Decrypt);
        }
        let (nonce, rest) = sealed.split_at(NONCE);
        let (body, tag) = rest.split_at(rest.len() - TAG);
        let nonce = XNonce::try_from(nonce).map_err(|_| VaultError::Decrypt)?;
        let tag = Tag::try_from(tag).map_err(|_| VaultError::Decrypt)?;
        let mut plain = body.to_vec();
        self.keys
            .cipher
            .decrypt_inout_detached(&nonce, context, plain.as_mut_slice().into(), &tag)
            .map_err(|_| VaultError::Decrypt)?;
        Ok(plain)
    }

    /// `seal`, as base64 for a TEXT column.
    pub fn seal_text(&self, text: &str, context: &[u8]) -> String {
        STANDARD.encode(self.seal(text.as_bytes(), context))
    }

    pub fn open_text(&self, sealed: &str, context: &[u8]) -> Result<String, VaultError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| VaultError::Decrypt)?;
        String::from_utf8(self.open(&bytes, context)?).map_err(|_| VaultError::Decrypt)
    }

    /// The index to find a candidate by admission number within an exam. The number is taken
    /// as given: callers normalise it first. Exam ids hold no `|` (codes are letters, digits,
    /// `-` and `_`), so the joined text names one pair.
    pub fn lookup(&self, exam_id: &str, admission_number: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&*self.keys.lookup).expect("HMAC takes any key length");
        mac.update(exam_id.as_bytes());
        mac.update(b"|");
        mac.update(admission_number.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Equal for equal keys, and says nothing else about the key: the database keeps the
    /// first one it saw, so a server started with another key is refused before it seals
    /// anything that its peers could not open.
    pub fn check_value(&self) -> String {
        self.keys.check.clone()
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vault(n: u8) -> Vault {
        Vault::from_key([n; 32])
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let v = vault(1);
        let sealed = v.seal(b"Wang Fang", b"candidate:EX1");
        assert_eq!(sealed.len(), NONCE + b"Wang Fang".len() + TAG);
        assert!(!sealed.windows(4).any(|w| w == b"Wang"), "no clear text inside");
        assert_eq!(v.open(&sealed, b"candidate:EX1").unwrap(), b"Wang Fang");
        assert!(matches!(
            vault(2).open(&sealed, b"candidate:EX1"),
            Err(VaultError::Decrypt)
        ));
        assert!(matches!(v.open(&sealed, b"candidate:EX2"), Err(VaultError::Decrypt)));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(v.open(&bad, b"candidate:EX1").is_err(), "flipped byte {i}");
        }
        assert!(v.open(&sealed[..sealed.len() - 1], b"candidate:EX1").is_err());
        assert!(v.open(&[0; NONCE + TAG - 1], b"").is_err(), "too short to be sealed");
        assert_eq!(v.open(&v.seal(b"", b"x"), b"x").unwrap(), b"", "empty is fine");
    }

    #[test]
    fn each_seal_has_its_own_nonce() {
        let v = vault(1);
        let (a, b) = (v.seal_text("4401020304", b"c"), v.seal_text("4401020304", b"c"));
        assert_ne!(a, b);
        assert_eq!(v.open_text(&a, b"c").unwrap(), "4401020304");
        assert_eq!(v.open_text(&b, b"c").unwrap(), "4401020304");
        assert!(matches!(v.open_text("not base64!", b"c"), Err(VaultError::Decrypt)));
        let not_utf8 = STANDARD.encode(v.seal(&[0xff, 0xfe], b"c"));
        assert!(matches!(v.open_text(&not_utf8, b"c"), Err(VaultError::Decrypt)));
    }

    #[test]
    fn lookups_are_deterministic_per_exam_and_key() {
        let v = vault(1);
        let l = v.lookup("EX1", "4401020304");
        assert_eq!(l, v.lookup("EX1", "4401020304"));
        assert_eq!(l, vault(1).lookup("EX1", "4401020304"), "a clone of the key agrees");
        assert_eq!(l.len(), 64);
        assert_ne!(l, v.lookup("EX2", "4401020304"));
        assert_ne!(l, v.lookup("EX1", "4401020305"));
        assert_ne!(l, vault(2).lookup("EX1", "4401020304"));
        assert_ne!(
            l,
            crate::secrets::keyed_hash(&[1; 32], "EX1|4401020304"),
            "a derived key"
        );
    }

    #[test]
    fn the_check_value_tells_keys_apart_and_differs_from_the_lookup_key() {
        let v = vault(1);
        assert_eq!(v.check_value(), vault(1).check_value());
        assert_ne!(v.check_value(), vault(2).check_value());
        assert_ne!(v.check_value(), hex::encode(*v.keys.lookup));
        assert_eq!(v.check_value().len(), 64);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let v = vault(0xab);
        let shown = format!("{v:?} {:?}", v.clone());
        assert!(
            !shown.to_lowercase().contains("ab, ab") && !shown.contains("171"),
            "{shown}"
        );
        assert!(!shown.contains(&hex::encode(*v.keys.lookup)), "{shown}");
        assert_eq!(format!("{v:?}"), "Vault { .. }");
    }

    #[test]
    fn configured_keys_are_base64_of_32_bytes() {
        let key = [9u8; 32];
        assert_eq!(parse_key(&STANDARD.encode(key)).unwrap(), key);
        assert_eq!(parse_key(&format!(" {}\n", STANDARD.encode(key))).unwrap(), key);
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfb; 32]);
        assert_eq!(parse_key(&url_safe).unwrap(), [0xfb; 32]);
        let short = STANDARD.encode([9u8; 16]);
        let err = parse_key(&short).unwrap_err().to_string();
        assert!(err.contains("16 bytes where 32"), "{err}");
        assert!(!err.contains(&short), "the key is not echoed: {err}");
        assert!(parse_key("not a key at all!").is_err());
        let v = Vault::load(Some(&STANDARD.encode(key)), Path::new("/nonexistent")).unwrap();
        assert_eq!(v.check_value(), Vault::from_key(key).check_value());
        assert!(matches!(
            Vault::load(Some(&short), Path::new("/nonexistent")),
            Err(VaultError::Key(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_made_private_and_a_loose_one_refused() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let first = Vault::load(None, &data).unwrap();
        let file = data.join("vault.key");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&file), 0o600);
        let again = Vault::load(Some(""), &data).unwrap();
        assert_eq!(first.check_value(), again.check_value(), "the same key next time");
        let sealed = first.seal(b"x", b"c");
        assert_eq!(again.open(&sealed, b"c").unwrap(), b"x");

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = Vault::load(None, &data).unwrap_err().to_string();
        assert!(err.contains("0640") && err.contains("vault.key"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

        std::fs::write(&file, "").unwrap();
        assert!(Vault::load(None, &data).is_err(), "an emptied key file is not replaced");
        assert_eq!(std::fs::read(&file).unwrap(), b"");
        std::fs::write(&file, "too short").unwrap();
        let err = Vault::load(None, &data).unwrap_err().to_string();
        assert!(err.contains("vault.key"), "{err}");
    }

    proptest! {
        #[test]
        fn open_undoes_seal(plain in proptest::collection::vec(any::<u8>(), 0..2048),
                            context in proptest::collection::vec(any::<u8>(), 0..64),
                            key in any::<[u8; 32]>()) {
            let v = Vault::from_key(key);
            let sealed = v.seal(&plain, &context);
            prop_assert_eq!(v.open(&sealed, &context).unwrap(), plain);
        }

        #[test]
        fn open_text_undoes_seal_text(text in ".{0,200}", context in "[a-z:0-9]{0,30}") {
            let v = vault(3);
            let sealed = v.seal_text(&text, context.as_bytes());
            prop_assert_eq!(v.open_text(&sealed, context.as_bytes()).unwrap(), text);
        }
    }
}
