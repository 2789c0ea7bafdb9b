//! The multipart form of a sheet upload: the admission number, how it was entered, whether it
//! replaces an earlier sheet, and the pages in order.

use actix_multipart::Multipart;

use crate::domain::RuleError;
use crate::domain::custody::Entry;
use crate::http::error::ApiError;
use crate::http::page_form;

pub struct SheetForm {
    pub admission_number: String,
    pub entry: Entry,
    pub replaces: bool,
    /// (media type as declared, bytes), in page order.
    pub pages: Vec<(String, Vec<u8>)>,
}

/// Reads the whole form within the limits: each page at most `max_page`, all of it `max_total`.
pub async fn read(form: Multipart, max_page: usize, max_total: usize) -> Result<SheetForm, ApiError> {
    let form = page_form::read(form, &["admission_number", "entry", "replaces"], max_page, max_total).await?;
    let entry = match form.required("entry")? {
        "barcode" => Entry::Barcode,
        "typed" => Entry::Typed,
        _ => return Err(RuleError::invalid("invalid_field", "entry", "entry is barcode or typed").into()),
    };
    Ok(SheetForm {
        admission_number: form.required("admission_number")?.to_string(),
        entry,
        replaces: form.text("replaces") == Some("true"),
        pages: form.pages,
    })
}
