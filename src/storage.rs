//! Object storage for scans: one interface over the `object_store` crate, so the same code
//! stores pages in a local folder (the default, under the data directory), in memory (tests)
//! or in an S3-compatible store. Keys are `/`-separated; `content_key` names bytes by their
//! SHA-256, so the same image stored twice is one object.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::StorageSettings;

/// A handle on the object store; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The same store, kept typed when it is the local folder: `put` finishes its files there.
    local: Option<Arc<LocalFileSystem>>,
    /// What `Debug` shows: the backend and where, never its credentials (an `AmazonS3`'s own
    /// `Debug` may print them).
    describe: String,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Storage").field(&self.describe).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no object {0}")]
    NotFound(String),
    #[error("storage: {0}")]
    Io(String),
    #[error("storage settings: {0}")]
    Config(String),
}

/// The backends `[storage] backend` may name.
pub const BACKENDS: [&str; 3] = ["local", "memory", "s3"];

impl Storage {
    pub fn from_settings(s: &StorageSettings, data_dir: &Path) -> Result<Storage, StorageError> {
        match s.backend.as_str() {
            "local" => Storage::local(&s.local_root(data_dir)),
            "memory" => Ok(Storage::in_memory()),
            "s3" => Storage::s3(s),
            other => Err(StorageError::Config(format!(
                "storage.backend is one of {BACKENDS:?}, not {other:?}"
            ))),
        }
    }

    pub fn in_memory() -> Storage {
        Storage {
            store: Arc::new(InMemory::new()),
            local: None,
            describe: "memory".into(),
        }
    }

    /// A folder made `0700` when markroom makes it (an existing one is the operator's).
    /// `with_fsync` makes each put write a staging file, fsync it, rename it into place and
    /// fsync the directory: an acknowledged upload survives a power cut, and a crash leaves at
    /// most a staging file, never a half object under its real name.
    fn local(root: &Path) -> Result<Storage, StorageError> {
        crate::secrets::private_dir(root)
            .map_err(|e| StorageError::Config(format!("storage folder {}: {e}", root.display())))?;
        let fs = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| StorageError::Config(e.to_string()))?
            .with_fsync(true);
        let fs = Arc::new(fs);
        Ok(Storage {
            store: fs.clone(),
            local: Some(fs),
            describe: format!("local {}", root.display()),
        })
    }

    fn s3(s: &StorageSettings) -> Result<Storage, StorageError> {
        let set = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let bucket = set(&s.s3_bucket)
            .ok_or_else(|| StorageError::Config("storage.s3_bucket is required with the s3 backend".into()))?;
        // Without keys in the settings, the builder's own chain (instance metadata) is used.
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_allow_http(s.s3_allow_http);
        if let Some(region) = set(&s.s3_region) {
            b = b.with_region(region);
        }
        if let Some(endpoint) = set(&s.s3_endpoint) {
            b = b.with_endpoint(endpoint);
        }
        if let Some(id) = set(&s.s3_access_key_id) {
            b = b.with_access_key_id(id);
        }
        if let Some(secret) = set(&s.s3_secret_access_key) {
            b = b.with_secret_access_key(secret);
        }
        let store = b.build().map_err(|e| StorageError::Config(e.to_string()))?;
        Ok(Storage {
            store: Arc::new(store),
            local: None,
            describe: format!("s3 {bucket}"),
        })
    }

    /// Stores `bytes` under `key`, replacing what was there. Atomic: readers see the old
    /// object or the new one, never part of it.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let path = object_path(key)?;
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|e| io(key, e))?;
        if let Some(fs) = &self.local {
            let file = fs.path_to_filesystem(&path).map_err(|e| io(key, e))?;
            blocking(move || private_file_mode(&file))
                .await?
                .map_err(|e| StorageError::Io(format!("{key}: {e}")))?;
        }
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        let path = object_path(key)?;
        let got = self.store.get(&path).await.map_err(|e| io(key, e))?;
        let bytes = got.bytes().await.map_err(|e| io(key, e))?;
        Ok(bytes.to_vec())
    }

    /// Deleting what is not there is not an error: a clean-up after a failed upload may run
    /// twice.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = object_path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io(key, e)),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        let path = object_path(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(io(key, e)),
        }
    }

    /// Every key under `prefix` (whole segments: "a" lists "a/x", not "ab/x"; "" lists all),
    /// sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let prefix = prefix.trim_end_matches('/');
        let path = if prefix.is_empty() {
            None
        } else {
            Some(object_path(prefix)?)
        };
        let metas: Vec<_> = self
            .store
            .list(path.as_ref())
            .try_collect()
            .await
            .map_err(|e| io(prefix, e))?;
        let mut keys: Vec<String> = metas.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        Ok(keys)
    }
}

/// `<prefix>/<sha256 hex>`: equal bytes, equal key, so a retried upload stores nothing new.
pub fn content_key(prefix: &str, bytes: &[u8]) -> String {
    let hash = crate::secrets::sha256_hex(bytes);
    match prefix.trim_matches('/') {
        "" => hash,
        prefix => format!("{prefix}/{hash}"),
    }
}

impl StorageSettings {
    /// The local folder: `local_dir` under `data_dir` unless it is absolute.
    pub fn local_root(&self, data_dir: &Path) -> PathBuf {
        if self.local_dir.is_absolute() {
            self.local_dir.clone()
        } else {
            data_dir.join(&self.local_dir)
        }
    }
}

/// Keys come from our own code, but one with `..` or an empty segment must still never
/// reach the file system; `Path::parse` refuses both.
fn object_path(key: &str) -> Result<ObjectPath, StorageError> {
    match ObjectPath::parse(key) {
        Ok(p) if !key.is_empty() => Ok(p),
        Ok(_) => Err(StorageError::Io("an empty object key".into())),
        Err(e) => Err(StorageError::Io(format!("object key {key:?}: {e}"))),
    }
}

fn io(key: &str, e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound(key.to_string()),
        e => StorageError::Io(e.to_string()),
    }
}

/// File work off the async threads, as `object_store` does itself: on tokio's blocking pool
/// inside a runtime, in place outside one.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, StorageError> {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => rt
            .spawn_blocking(f)
            .await
            .map_err(|e| StorageError::Io(format!("storage task: {e}"))),
        Err(_) => Ok(f()),
    }
}

/// `object_store` makes its files with the process umask (usually 0644). Scans are for the
/// service alone: the file becomes 0600, and the change is synced so it outlasts a power cut
/// like the contents do. The folder itself is 0700, so nobody else reaches the file meanwhile.
fn private_file_mode(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = std::fs::File::open(path)?;
        if file.metadata()?.permissions().mode() & 0o777 != 0o600 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            file.sync_all()?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn local_settings() -> StorageSettings {
        StorageSettings::default()
    }

    /// Every file under `dir`, relative, sorted: what is really on disk, staging files included.
    fn files_on_disk(dir: &Path) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(dir, dir, &mut out);
        out.sort();
        out
    }

    async fn round_trip(store: &Storage) {
        assert_eq!(store.list("").await.unwrap(), Vec::<String>::new());
        store.put("pages/a", b"first".to_vec()).await.unwrap();
        store.put("pages/b", b"second".to_vec()).await.unwrap();
        store.put("pagesx/c", b"third".to_vec()).await.unwrap();
        assert_eq!(store.get("pages/a").await.unwrap(), b"first");
        assert!(store.exists("pages/b").await.unwrap());
        assert_eq!(store.list("pages").await.unwrap(), ["pages/a", "pages/b"]);
        assert_eq!(store.list("pages/").await.unwrap(), ["pages/a", "pages/b"]);
        assert_eq!(store.list("").await.unwrap(), ["pages/a", "pages/b", "pagesx/c"]);

        store.put("pages/a", b"replaced".to_vec()).await.unwrap();
        assert_eq!(store.get("pages/a").await.unwrap(), b"replaced");

        store.delete("pages/a").await.unwrap();
        store.delete("pages/a").await.expect("deleting twice is fine");
        assert!(!store.exists("pages/a").await.unwrap());
        assert!(matches!(
            store.get("pages/a").await,
            Err(StorageError::NotFound(k)) if k == "pages/a"
        ));
        assert_eq!(store.list("").await.unwrap(), ["pages/b", "pagesx/c"]);

        for bad in ["", "../escape", "a//b", "a/./b"] {
            assert!(store.put(bad, vec![1]).await.is_err(), "{bad:?} is refused");
        }
    }

    #[tokio::test]
    async fn memory_round_trip() {
        let s = StorageSettings {
            backend: "memory".into(),
            ..local_settings()
        };
        let tmp = tempfile::tempdir().unwrap();
        round_trip(&Storage::from_settings(&s, tmp.path()).unwrap()).await;
        assert!(
            std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
            "memory writes no files"
        );
        round_trip(&Storage::in_memory()).await;
    }

    #[tokio::test]
    async fn local_round_trip_under_the_data_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let store = Storage::from_settings(&local_settings(), &data).unwrap();
        round_trip(&store).await;
        assert_eq!(files_on_disk(&data.join("objects")), ["pages/b", "pagesx/c"]);
        // A second handle on the same folder sees the same objects.
        let again = Storage::from_settings(&local_settings(), &data).unwrap();
        assert_eq!(again.get("pages/b").await.unwrap(), b"second");
    }

    #[tokio::test]
    async fn an_absolute_local_dir_is_used_as_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let s = StorageSettings {
            local_dir: tmp.path().join("elsewhere"),
            ..local_settings()
        };
        let store = Storage::from_settings(&s, &tmp.path().join("data")).unwrap();
        store.put("k", b"v".to_vec()).await.unwrap();
        assert_eq!(files_on_disk(&tmp.path().join("elsewhere")), ["k"]);
        assert!(!tmp.path().join("data").exists());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_local_put_leaves_only_the_private_file() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().unwrap();
        let store = Storage::from_settings(&local_settings(), tmp.path()).unwrap();
        let root = tmp.path().join("objects");
        assert_eq!(mode(&root), 0o700, "markroom made the folder");
        let big = vec![7u8; 3 << 20];
        let key = content_key("originals", &big);
        store.put(&key, big.clone()).await.unwrap();
        store.put(&key, big.clone()).await.expect("the same content again");
        assert_eq!(
            files_on_disk(&root),
            std::slice::from_ref(&key),
            "no staging file is left"
        );
        assert_eq!(mode(&root.join(&key)), 0o600);
        assert_eq!(store.get(&key).await.unwrap(), big);
    }

    #[tokio::test]
    async fn a_write_cut_short_is_never_an_object() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Storage::from_settings(&local_settings(), tmp.path()).unwrap();
        // What a crash in the middle of a put leaves: part of a staging file, never the name.
        let dir = tmp.path().join("objects/pages");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x#1"), b"half an im").unwrap();
        assert!(!store.exists("pages/x").await.unwrap());
        assert_eq!(store.list("").await.unwrap(), Vec::<String>::new());
        store.put("pages/x", b"the whole image".to_vec()).await.unwrap();
        assert_eq!(store.get("pages/x").await.unwrap(), b"the whole image");
        assert_eq!(store.list("").await.unwrap(), ["pages/x"]);
    }

    #[test]
    fn content_keys_are_stable_and_name_the_bytes() {
        let k = content_key("masked", b"abc");
        assert_eq!(
            k,
            "masked/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(content_key("masked/", b"abc"), k);
        assert_ne!(content_key("masked", b"abd"), k);
        assert_eq!(content_key("", b"abc").len(), 64);
    }

    #[test]
    fn s3_settings_make_a_store_without_showing_the_secret() {
        let s = StorageSettings {
            backend: "s3".into(),
            s3_bucket: Some("scans".into()),
            s3_region: Some("cn-north-1".into()),
            s3_endpoint: Some("http://127.0.0.1:9000".into()),
            s3_access_key_id: Some("markroom".into()),
            s3_secret_access_key: Some("very-secret-access-key".into()),
            s3_allow_http: true,
            ..local_settings()
        };
        let store = Storage::from_settings(&s, Path::new("unused")).unwrap();
        assert!(!format!("{store:?}").contains("very-secret"), "{store:?}");
        assert!(!format!("{s:?}").contains("very-secret"), "{s:?}");

        let no_bucket = StorageSettings { s3_bucket: None, ..s };
        let err = Storage::from_settings(&no_bucket, Path::new("unused")).unwrap_err();
        assert!(matches!(err, StorageError::Config(m) if m.contains("s3_bucket")));
        let unknown = StorageSettings {
            backend: "ftp".into(),
            ..local_settings()
        };
        let err = Storage::from_settings(&unknown, Path::new("unused")).unwrap_err();
        assert!(matches!(err, StorageError::Config(m) if m.contains("ftp")));
    }
}
