#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The pages speak both languages in full: every problem code the service can answer has a
//! message in each catalogue, and the markup carries no text of its own (all of it comes from
//! the catalogues, so nothing is left untranslated).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use markroom::http::pages::{LANGUAGES, catalogue_files};
use regex::Regex;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every stable code the service's source can put in a problem: the arguments of the error
/// constructors, the `code: "…"` fields of the HTTP layer, and the database guards' names.
fn problem_codes() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    sources(&root.join("src"), &mut files);
    let patterns = [
        r#"(?:RuleError::(?:invalid|refused|conflict)|ApiError::(?:forbidden|unauthenticated|input)|\btaken|problem_response)\(\s*(?:StatusCode::[A-Z_]+,\s*)?"([a-z][a-z0-9_]*)""#,
        r#"\(\s*StatusCode::[A-Z_]+,\s*"([a-z][a-z0-9_]*)""#,
        r#"\bcode:\s*"([a-z][a-z0-9_]*)"\s*[,}\n]"#,
    ]
    .map(|p| Regex::new(p).unwrap());
    // Lists and matches that choose a code: the guards' names, `fn code(…)` and `let code = …;`.
    let blocks = [
        r#"(?s)const GUARDS: &\[&str\] = &\[(.*?)\];"#,
        r#"(?s)fn code\(&self\) -> &'static str \{(.*?)\n    \}\n"#,
        r#"(?s)let code = (.*?);\n"#,
    ]
    .map(|p| Regex::new(p).unwrap());
    let inline_tests = Regex::new(r"#\[cfg\(test\)\]\s*mod \w+ \{").unwrap();
    let quoted = Regex::new(r#""([a-z][a-z0-9_]*)""#).unwrap();
    let mut codes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests build errors of their own; only what the service answers counts.
        let text = match inline_tests.find(&text) {
            Some(m) => &text[..m.start()],
            None => &text[..],
        };
        for p in &patterns {
            codes.extend(p.captures_iter(text).map(|c| c[1].to_string()));
        }
        for b in &blocks {
            for g in b.captures_iter(text) {
                codes.extend(quoted.captures_iter(&g[1]).map(|c| c[1].to_string()));
            }
        }
    }
    codes
}

fn catalogue(name: &str, lang: &str) -> BTreeMap<String, String> {
    let file = format!("i18n/{name}.{lang}.json");
    let (_, data) = catalogue_files()
        .into_iter()
        .find(|(n, _)| *n == file)
        .unwrap_or_else(|| panic!("{file} is not embedded"));
    serde_json::from_slice(&data).unwrap()
}

#[test]
fn every_problem_code_has_a_message_in_both_languages() {
    let codes = problem_codes();
    assert!(codes.len() > 100, "the scan found the codes: {}", codes.len());
    for must in [
        "room_closed",
        "marker_paused",
        "lease_expired",
        "password_change_required",
        "approval_self",
    ] {
        assert!(codes.contains(must), "{must} was not found by the scan");
    }
    for lang in LANGUAGES {
        let messages = catalogue("problems", lang);
        let missing: Vec<_> = codes
            .iter()
            .filter(|c| !messages.contains_key(&format!("problem.{c}")))
            .collect();
        assert!(missing.is_empty(), "problems.{lang}.json lacks {missing:?}");
        for extra in ["problem.network", "problem.server_error", "problem.unknown"] {
            assert!(messages.contains_key(extra), "{lang}: {extra}");
        }
    }
}

#[test]
fn the_markup_of_every_page_holds_no_text_of_its_own() {
    let tags = Regex::new(r"(?s)<[^>]*>").unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/pages/page.html");
    let html = std::fs::read_to_string(&path).unwrap();
    let text = tags.replace_all(&html, "");
    assert!(
        text.trim().is_empty(),
        "page.html has text outside the catalogues: {:?}",
        text.trim()
    );
}
