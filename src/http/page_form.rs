//! Multipart forms that carry scanned pages (`page` parts, in order) and a few short text
//! fields: answer sheets from custodians, pre-scored scripts from leaders. Read within limits
//! before anything is decoded.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use futures_util::StreamExt;

use crate::domain::RuleError;
use crate::http::error::ApiError;
use crate::http::upload::too_large;

/// A template has at most 64 pages; a few more parts carry the text fields.
const MAX_PAGES: usize = 64;
/// What a part's boundary and headers cost at least, counted against the upload limit.
const PART_OVERHEAD: usize = 64;
/// A text field is short: a number, a word, a score.
const MAX_TEXT: usize = 256;

pub struct PageForm {
    /// The text fields present, trimmed.
    pub texts: HashMap<String, String>,
    /// (media type as declared, bytes), in page order.
    pub pages: Vec<(String, Vec<u8>)>,
}

impl PageForm {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.texts.get(name).map(String::as_str)
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.text(name).ok_or_else(|| missing(name))
    }
}

fn bad_form(detail: impl Into<String>) -> ApiError {
    ApiError::input(StatusCode::BAD_REQUEST, "invalid_multipart", detail, None)
}

fn missing(field: &str) -> ApiError {
    RuleError::invalid("missing_field", field, format!("the form needs {field}")).into()
}

/// Reads the whole form: each page at most `max_page`, all of it `max_total`; `fields` names
/// the text fields the form may carry (any other part is refused); at least one page.
pub async fn read(
    mut form: Multipart,
    fields: &[&str],
    max_page: usize,
    max_total: usize,
) -> Result<PageForm, ApiError> {
    let (mut texts, mut pages) = (HashMap::new(), vec![]);
    let mut total = 0usize;
    let mut parts = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| bad_form(format!("send the form as multipart/form-data: {e}")))?;
        // Each part costs its headers too, so thousands of empty parts cannot slip past the
        // size limit.
        parts += 1;
        total += PART_OVERHEAD;
        if parts > MAX_PAGES + fields.len() || total > max_total {
            return Err(too_large(max_total));
        }
        let name = field.name().unwrap_or_default().to_string();
        if name != "page" && !fields.contains(&name.as_str()) {
            return Err(
                RuleError::invalid("unknown_field", name.as_str(), format!("the form has no field {name}")).into(),
            );
        }
        let mime = field
            .content_type()
            .map(|m| m.essence_str().to_string())
            .unwrap_or_default();
        let limit = if name == "page" { max_page } else { MAX_TEXT };
        let mut bytes = vec![];
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| bad_form(e.to_string()))?;
            total += chunk.len();
            if bytes.len() + chunk.len() > limit || total > max_total {
                return Err(too_large(limit.min(max_total)));
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "page" {
            if bytes.is_empty() {
                let at = format!("page[{}]", pages.len());
                return Err(RuleError::invalid("invalid_image", at, "the page is empty").into());
            }
            pages.push((mime, bytes));
            continue;
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            ApiError::from(RuleError::invalid(
                "invalid_field",
                name.as_str(),
                format!("{name} is text"),
            ))
        })?;
        texts.insert(name, text.trim().to_string());
    }
    if pages.is_empty() {
        return Err(missing("page"));
    }
    Ok(PageForm { texts, pages })
}
