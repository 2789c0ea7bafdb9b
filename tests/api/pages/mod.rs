//! The browser pages, driven in Debian's headless Chromium (tests/browser/*.mjs through
//! playwright-core). Each test prepares the service through the API, hands a scenario its
//! fixture, lets the scenario work the page as a person would, then checks in the database
//! that what the page showed happened. `scripts/setup-browser` installs what they need.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::helpers::TestApp;

mod custody;
mod lead;
mod mark;
mod pages_served;
mod password;

static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Where screenshots go: target/test-output/screenshots/<backend>/.
pub fn screenshots() -> PathBuf {
    let backend = if std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        "postgres"
    } else {
        "sqlite"
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-output/screenshots")
        .join(backend)
}

/// Runs `tests/browser/<scenario>.mjs` against `app` with `fixture` (plus `base` and
/// `screenshots`); fails with the scenario's output unless it exits 0. Answers its stdout.
pub async fn browser(app: &TestApp, scenario: &str, fixture: Value) -> String {
    Scenario::start(app, scenario, fixture).finish().await
}

/// A scenario running in the background, for tests that act between its steps (`step(name)` in
/// tests/browser/lib.mjs writes `<name>.ready` and waits for `<name>.done`).
pub struct Scenario {
    name: String,
    steps: PathBuf,
    run: tokio::task::JoinHandle<std::process::Output>,
}

impl Scenario {
    pub fn start(app: &TestApp, scenario: &str, mut fixture: Value) -> Scenario {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        assert!(
            root.join("tests/browser/node_modules/playwright-core").is_dir()
                && std::path::Path::new("/usr/bin/chromium").exists(),
            "the browser tests need Chromium and playwright-core: run scripts/setup-browser (the README's test command does)"
        );
        let steps = app.settings.data_dir.join(format!("{scenario}-steps"));
        std::fs::create_dir_all(&steps).unwrap();
        fixture["base"] = Value::from(app.base.clone());
        fixture["screenshots"] = Value::from(screenshots().to_string_lossy().to_string());
        fixture["steps"] = Value::from(steps.to_string_lossy().to_string());
        let file = app.settings.data_dir.join(format!("{scenario}-fixture.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&fixture).unwrap()).unwrap();
        let script = root.join("tests/browser").join(format!("{scenario}.mjs"));
        let run = tokio::task::spawn_blocking(move || {
            // One browser at a time: two cores and a dozen parallel tests leave Chromium too
            // little to keep to its timeouts otherwise.
            let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
            Command::new("node")
                .arg(script)
                .arg(file)
                .current_dir(root.join("tests/browser"))
                .output()
                .expect("node runs")
        });
        Scenario {
            name: scenario.to_string(),
            steps,
            run,
        }
    }

    /// Waits until the page reaches step `name`; the test then acts and calls `done`.
    pub async fn reached(&mut self, name: &str) {
        let ready = self.steps.join(format!("{name}.ready"));
        // Other scenarios may hold the browser first (see ONE_BROWSER).
        for _ in 0..6000 {
            if ready.exists() {
                return;
            }
            if self.run.is_finished() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let out = (&mut self.run).await.unwrap();
        panic!(
            "scenario {} never reached {name}\n--- stdout\n{}\n--- stderr\n{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn done(&self, name: &str) {
        std::fs::write(self.steps.join(format!("{name}.done")), b"").unwrap();
    }

    pub async fn finish(self) -> String {
        let out = self.run.await.unwrap();
        assert!(
            out.status.success(),
            "browser scenario {} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The demo (`markroom demo`) in the test's database, and its accounts file.
pub fn demo(app: &TestApp) -> Value {
    let path = app.settings.data_dir.join("demo.json");
    let out = crate::demo::demo(app, &path);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A demo account signed in through the API (demo passwords are its own, not the tests' one).
pub async fn session_of(app: &TestApp, account: &Value) -> crate::helpers::Session {
    let r = app
        .try_login(
            account["username"].as_str().unwrap(),
            account["password"].as_str().unwrap(),
            account["workstation_key"].as_str(),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let pair: Value = r.json().await.unwrap();
    crate::helpers::Session {
        token: pair["access_token"].as_str().unwrap().into(),
        refresh: pair["refresh_token"].as_str().unwrap().into(),
        key: account["workstation_key"].as_str().map(str::to_string),
    }
}
