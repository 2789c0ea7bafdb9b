//! The browser pages: the marking workstation, the leadership desk, the custody desk and the
//! printable report. Every byte they need is compiled into the binary (the room is offline), and
//! a strict Content-Security-Policy keeps the browser from asking anyone but markroom.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

/// `web/` at build time: `pages/page.html` (the frame of every page), `assets/*` (scripts, styles), `i18n/*.json`
/// (the message catalogues).
#[derive(RustEmbed)]
#[folder = "web/"]
struct Web;

/// The languages the catalogues hold; Chinese first, as the people in the room read it.
pub const LANGUAGES: [&str; 2] = ["zh-CN", "en"];

pub const PAGES: [&str; 4] = ["mark", "lead", "custody", "report"];

/// Everything the pages may load comes from here; nothing inline, nothing elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                   connect-src 'self'; font-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    for page in PAGES {
        cfg.route(
            &format!("/{page}"),
            web::get().to(move |req: HttpRequest| serve_page(req, page)),
        );
    }
    cfg.route("/", web::get().to(index))
        .route("/assets/{file:.*}", web::get().to(asset))
        .route("/i18n/{file}", web::get().to(catalogue));
}

/// The language the browser asks for first among those the catalogues hold.
pub fn language(accept: Option<&str>) -> &'static str {
    let asked = accept.map(accept_language::parse).unwrap_or_default();
    for tag in asked {
        let tag = tag.to_ascii_lowercase();
        if tag == "zh" || tag.starts_with("zh-") {
            return "zh-CN";
        }
        if tag == "en" || tag.starts_with("en-") {
            return "en";
        }
    }
    LANGUAGES[0]
}

fn secured(mut res: HttpResponse) -> HttpResponse {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A new build's pages must reach the workstations at once; they are small.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

async fn index() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/mark"))
        .finish()
}

async fn serve_page(req: HttpRequest, page: &'static str) -> HttpResponse {
    let accept = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let lang = language(accept);
    // One frame for every page: its script and its class are the page's name.
    let Some(file) = Web::get("pages/page.html") else {
        return HttpResponse::NotFound().finish();
    };
    let html = String::from_utf8_lossy(&file.data)
        .replace("{{lang}}", lang)
        .replace("{{page}}", page);
    let mut res = HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html);
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    secured(res)
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    embedded(&format!("assets/{}", path.into_inner()))
}

async fn catalogue(path: web::Path<String>) -> HttpResponse {
    embedded(&format!("i18n/{}", path.into_inner()))
}

fn embedded(name: &str) -> HttpResponse {
    match Web::get(name) {
        Some(file) => {
            let mime = file.metadata.mimetype();
            let mime = if mime.starts_with("text/") || mime.ends_with("javascript") || mime.ends_with("json") {
                format!("{mime}; charset=utf-8")
            } else {
                mime.to_string()
            };
            secured(HttpResponse::Ok().content_type(mime).body(file.data.into_owned()))
        }
        None => HttpResponse::NotFound().content_type("text/plain").body("not found"),
    }
}

/// The catalogue files, for the test that compares their keys across languages.
pub fn catalogue_files() -> Vec<(String, Vec<u8>)> {
    Web::iter()
        .filter(|n| n.starts_with("i18n/"))
        .filter_map(|n| Web::get(&n).map(|f| (n.to_string(), f.data.into_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_language_picks_the_catalogue_and_chinese_comes_first() {
        assert_eq!(language(Some("en-US,en;q=0.9")), "en");
        assert_eq!(language(Some("zh-TW,zh;q=0.9,en;q=0.8")), "zh-CN");
        assert_eq!(language(Some("fr-FR,en;q=0.5")), "en");
        assert_eq!(language(Some("fr-FR")), "zh-CN");
        assert_eq!(language(None), "zh-CN");
        assert_eq!(language(Some("en;q=0.2,zh-CN;q=0.9")), "zh-CN");
    }

    #[test]
    fn every_catalogue_has_the_same_keys_in_both_languages_and_no_empty_message() {
        use std::collections::{BTreeMap, BTreeSet};
        let mut by_page: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for (name, data) in catalogue_files() {
            let stem = name.trim_start_matches("i18n/").trim_end_matches(".json");
            let (page, lang) = stem.split_once('.').expect("i18n/<page>.<lang>.json");
            let map: BTreeMap<String, String> = serde_json::from_slice(&data).expect(&name);
            for (k, v) in &map {
                assert!(!v.trim().is_empty(), "{name}: {k} is empty");
            }
            by_page
                .entry(page.to_string())
                .or_default()
                .insert(lang.to_string(), map.into_keys().collect());
        }
        for page in ["common", "problems"].iter().chain(PAGES.iter()) {
            let langs = by_page.get(*page).unwrap_or_else(|| panic!("no catalogue for {page}"));
            assert_eq!(langs.len(), LANGUAGES.len(), "{page}: {:?}", langs.keys());
            let zh = &langs["zh-CN"];
            let en = &langs["en"];
            assert_eq!(
                zh.difference(en).collect::<Vec<_>>(),
                Vec::<&String>::new(),
                "{page}: only in Chinese"
            );
            assert_eq!(
                en.difference(zh).collect::<Vec<_>>(),
                Vec::<&String>::new(),
                "{page}: only in English"
            );
        }
    }
}
