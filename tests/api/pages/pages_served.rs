//! Every page loads from markroom alone, in both languages, with a strict policy on what the
//! browser may fetch.

use reqwest::StatusCode;
use serde_json::json;

use super::{browser, demo};
use crate::helpers::TestApp;

#[tokio::test]
async fn every_page_in_both_languages_asks_nothing_of_any_other_origin() {
    let app = TestApp::spawn().await;
    let file = demo(&app);
    let accounts = &file["accounts"];
    let fixture = json!({
        "exam": file["exam"],
        "marker": accounts["markers"][0],
        "chief": accounts["chief_leaders"][0],
        "custodian": accounts["custodians"][0],
    });
    browser(&app, "tour", fixture).await;
}

#[tokio::test]
async fn pages_are_served_in_the_language_asked_for_with_a_policy_that_allows_only_markroom() {
    let app = TestApp::spawn().await;
    for page in ["mark", "lead", "custody", "report"] {
        for (accept, lang) in [("zh-CN,zh;q=0.9", "zh-CN"), ("en-GB,en;q=0.8", "en"), ("fr", "zh-CN")] {
            let r = app
                .client
                .get(format!("{}/{page}", app.base))
                .header("accept-language", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
            assert!(
                csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
                "{csp}"
            );
            let html = r.text().await.unwrap();
            assert!(html.contains(&format!("<html lang=\"{lang}\"")), "{page} {accept}");
            assert!(html.contains(&format!("/assets/{page}.js")));
        }
    }
    for asset in [
        "/assets/common.js",
        "/assets/markroom.css",
        "/i18n/common.zh-CN.json",
        "/i18n/mark.en.json",
    ] {
        let r = app.client.get(format!("{}{asset}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
    }
    let r = app
        .client
        .get(format!("{}/assets/nothing.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
