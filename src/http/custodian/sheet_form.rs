//! The multipart form of a sheet upload: the admission number, how it was entered, whether it
//! replaces an earlier sheet, and the pages in order.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use futures_util::StreamExt;

use crate::domain::RuleError;
use crate::domain::custody::Entry;
use crate::http::error::ApiError;
use crate::http::upload::too_large;

/// A template has at most 64 pages; three more parts carry the number, the entry and `replaces`.
const MAX_PARTS: usize = 64 + 3;
/// What a part's boundary and headers cost at least, counted against the upload limit.
const PART_OVERHEAD: usize = 64;

pub struct SheetForm {
    pub admission_number: String,
    pub entry: Entry,
    pub replaces: bool,
    /// (media type as declared, bytes), in page order.
    pub pages: Vec<(String, Vec<u8>)>,
}

fn bad_form(detail: impl Into<String>) -> ApiError {
    ApiError::input(StatusCode::BAD_REQUEST, "invalid_multipart", detail, None)
}

fn text(bytes: Vec<u8>, field: &str) -> Result<String, ApiError> {
    String::from_utf8(bytes)
        .map(|s| s.trim().to_string())
        .map_err(|_| RuleError::invalid("invalid_field", field, format!("{field} is text")).into())
}

/// Reads the whole form within the limits: each page at most `max_page`, all of it `max_total`.
pub async fn read(mut form: Multipart, max_page: usize, max_total: usize) -> Result<SheetForm, ApiError> {
    let (mut number, mut entry, mut replaces, mut pages) = (None, None, false, vec![]);
    let mut total = 0usize;
    let mut parts = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| bad_form(format!("send the sheet as multipart/form-data: {e}")))?;
        // A sheet has at most MAX_PARTS parts; each costs its headers too, so thousands of empty
        // parts cannot slip past the size limit.
        parts += 1;
        total += PART_OVERHEAD;
        if parts > MAX_PARTS || total > max_total {
            return Err(too_large(max_total));
        }
        let name = field.name().unwrap_or_default().to_string();
        let mime = field
            .content_type()
            .map(|m| m.essence_str().to_string())
            .unwrap_or_default();
        let limit = if name == "page" { max_page } else { 256 };
        let mut bytes = vec![];
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| bad_form(e.to_string()))?;
            total += chunk.len();
            if bytes.len() + chunk.len() > limit || total > max_total {
                return Err(too_large(limit.min(max_total)));
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "admission_number" => number = Some(text(bytes, "admission_number")?),
            "entry" => {
                entry = Some(match text(bytes, "entry")?.as_str() {
                    "barcode" => Entry::Barcode,
                    "typed" => Entry::Typed,
                    _ => return Err(RuleError::invalid("invalid_field", "entry", "entry is barcode or typed").into()),
                })
            }
            "replaces" => replaces = text(bytes, "replaces")? == "true",
            "page" if bytes.is_empty() => {
                return Err(
                    RuleError::invalid("invalid_image", format!("page[{}]", pages.len()), "the page is empty").into(),
                );
            }
            "page" => pages.push((mime, bytes)),
            other => {
                return Err(
                    RuleError::invalid("unknown_field", other, format!("the form has no field {other}")).into(),
                );
            }
        }
    }
    let missing = |f: &str| ApiError::from(RuleError::invalid("missing_field", f, format!("the form needs {f}")));
    if pages.is_empty() {
        return Err(missing("page"));
    }
    Ok(SheetForm {
        admission_number: number.ok_or_else(|| missing("admission_number"))?,
        entry: entry.ok_or_else(|| missing("entry"))?,
        replaces,
        pages,
    })
}
