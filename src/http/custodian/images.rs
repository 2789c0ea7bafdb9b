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
    /// Removes what this upload created. A masked image is content-addressed, so an identical
    /// upload at the same moment may have committed a script that uses the same object: it is
    /// removed only when no script refers to it.
    pub async fn remove_new(&self, state: &AppState) {
        for key in &self.created {
            let k = key.clone();
            let used = state
                .db
                .read(move |c| crate::db::scripts::image_in_use(c, &k).map_err(ApiError::from))
                .await
                .unwrap_or(true);
            if used {
                continue;
            }
            if let Err(e) = state.storage.delete(key).await {
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
            // A page whose anchor was not found may lie upside down, identity showing where an
            // answer should be: nothing of it is stored in clear until a custodian treats it.
            if q.needs_treatment {
                stored.images.push(String::new());
                continue;
            }
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
        stored.remove_new(state).await;
        return Err(e);
    }
    Ok(stored)
}
