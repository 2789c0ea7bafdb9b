//! Where a sheet's images go: original pages sealed (custodians only), masked question images
//! apart, both content-addressed by the SHA-256 of what is stored.

use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::scans::{TreatedSheet, encode_png};
use crate::storage::{Storage, content_key};

/// Keys of what one sheet stored, and which of them this upload created (to remove them again
/// if the sheet is refused after all: a failed upload leaves no orphan file).
pub struct StoredObjects {
    pub originals: Vec<String>,
    pub images: Vec<String>,
    created: Vec<String>,
}

impl StoredObjects {
    pub async fn remove_new(&self, storage: &Storage) {
        for key in &self.created {
            if let Err(e) = storage.delete(key).await {
                tracing::error!(error = %e, key, "could not remove an object of a refused upload");
            }
        }
    }
}

fn storage_error(e: crate::storage::StorageError) -> ApiError {
    ApiError::Internal(format!("storage: {e}"))
}

/// Stores `bytes` under its content address; returns the key and whether it was new.
pub async fn put_content(storage: &Storage, prefix: &str, bytes: Vec<u8>) -> Result<(String, bool), ApiError> {
    let key = content_key(prefix, &bytes);
    if storage.exists(&key).await.map_err(storage_error)? {
        return Ok((key, false));
    }
    storage.put(&key, bytes).await.map_err(storage_error)?;
    Ok((key, true))
}

/// The sealing context of an original page: bound to its sheet and place.
pub fn page_context(sheet_id: &str, page: usize) -> Vec<u8> {
    format!("page:{sheet_id}:{page}").into_bytes()
}

pub async fn store_sheet(state: &AppState, sheet_id: &str, treated: &TreatedSheet) -> Result<StoredObjects, ApiError> {
    let mut stored = StoredObjects {
        originals: vec![],
        images: vec![],
        created: vec![],
    };
    let result = async {
        for (i, page) in treated.pages.iter().enumerate() {
            let png = encode_png(&page.upright);
            let sealed = state.vault.seal(&png, &page_context(sheet_id, i));
            let (key, new) = put_content(&state.storage, "originals", sealed).await?;
            if new {
                stored.created.push(key.clone());
            }
            stored.originals.push(key);
        }
        for q in &treated.questions {
            let (key, new) = put_content(&state.storage, "images", q.png.clone()).await?;
            if new {
                stored.created.push(key.clone());
            }
            stored.images.push(key);
        }
        Ok::<(), ApiError>(())
    }
    .await;
    if let Err(e) = result {
        stored.remove_new(&state.storage).await;
        return Err(e);
    }
    Ok(stored)
}
