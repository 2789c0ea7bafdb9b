//! Secrets and identities never reach the log or the audit. The real binary serves the demo with
//! its most talkative log (`debug`), the simulator marks it through the API, logins fail on the
//! way (a wrong password, an unregistered workstation); then the server's whole log and
//! every audit entry are searched for every password, workstation key, token, key file,
//! admission number and candidate name of the run. Key files are readable by their owner alone.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Session, TestApp};
use crate::served::{Served, free_port, markroom, ready};

/// Every secret of the run, each with what it is (for the failure message).
fn secrets_of(demo: &Value, data_dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = vec![];
    let accounts = &demo["accounts"];
    for group in ["admin", "chief_leaders", "custodians", "markers"] {
        for a in accounts[group].as_array().unwrap() {
            let who = a["username"].as_str().unwrap();
            out.push((format!("{who}'s password"), a["password"].as_str().unwrap().into()));
            if let Some(k) = a["workstation_key"].as_str() {
                out.push((format!("{who}'s workstation key"), k.into()));
            }
        }
    }
    for c in demo["candidates"].as_array().unwrap() {
        out.push((
            "an admission number".into(),
            c["admission_number"].as_str().unwrap().into(),
        ));
        out.push(("a candidate's name".into(), c["name"].as_str().unwrap().into()));
    }
    for file in ["token.key", "vault.key", "identity.key", "demo.key"] {
        if let Ok(text) = std::fs::read_to_string(data_dir.join(file)) {
            out.push((file.into(), text.trim().into()));
        }
    }
    out
}

#[tokio::test]
async fn no_secret_or_identity_reaches_the_log_or_the_audit() {
    let app = TestApp::spawn().await;
    let data_dir = app.settings.data_dir.clone();
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("serve.log");
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut cmd = markroom(&app);
    cmd.args(["serve", "--demo", "--bind", base.trim_start_matches("http://")])
        .env("MARKROOM_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log_path).unwrap())
        .stderr(std::fs::File::create(logs.path().join("serve.err")).unwrap());
    let served = Served(cmd.spawn().unwrap());
    ready(&base).await;
    let accounts = data_dir.join("demo-accounts.json");
    // `serve --demo` makes the demo through its own API once it serves, then writes the file.
    let mut demo = Value::Null;
    for _ in 0..1200 {
        if let Some(v) = std::fs::read(&accounts)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        {
            demo = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(demo.is_object(), "serve --demo wrote no accounts file");

    // Logins that fail: a wrong password, a desk that is not registered.
    let http = reqwest::Client::new();
    let marker = &demo["accounts"]["markers"][0];
    let other = &demo["accounts"]["markers"][1];
    for body in [
        json!({ "username": marker["username"], "password": "Wrong-password-9f8e7d", "workstation_key": marker["workstation_key"] }),
        json!({ "username": other["username"], "password": other["password"], "workstation_key": "0123456789abcdef".repeat(4) }),
    ] {
        let r = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{body}");
    }

    let (server, file) = (base.clone(), accounts.clone());
    let run = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_markroom"))
            .args(["simulate", "--server", &server, "--accounts"])
            .arg(&file)
            .args(["--markers", "6", "--duration", "3", "--image-seconds", "1"])
            .env_remove("MARKROOM_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    // The admin's own token, and the audit it reads.
    let admin = &demo["accounts"]["admin"][0];
    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": admin["username"], "password": admin["password"], "workstation_key": admin["workstation_key"] }))
        .send()
        .await
        .unwrap();
    let login: Value = r.json().await.unwrap();
    let session = Session {
        token: login["access_token"].as_str().unwrap().into(),
        refresh: login["refresh_token"].as_str().unwrap().into(),
        key: admin["workstation_key"].as_str().map(str::to_string),
    };
    let mut audit = vec![];
    for exam in ["&exam=DEMO", ""] {
        let mut after = 0;
        loop {
            let r = http
                .get(format!("{base}/api/v1/audit?after={after}&limit=1000{exam}"))
                .bearer_auth(&session.token)
                .header("X-Workstation-Key", session.key.as_deref().unwrap())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            let page: Value = r.json().await.unwrap();
            audit.extend(page["entries"].as_array().unwrap().iter().cloned());
            match page["next_after"].as_i64() {
                Some(n) => after = n,
                None => break,
            }
        }
    }
    drop(served);
    let log =
        std::fs::read_to_string(&log_path).unwrap() + &std::fs::read_to_string(logs.path().join("serve.err")).unwrap();
    assert!(log.lines().count() > 10, "the server logged: {log}");
    assert!(audit.len() > 100, "{} audit entries", audit.len());
    let audit_text = serde_json::to_string(&audit).unwrap();

    let mut secrets = secrets_of(&demo, &data_dir);
    secrets.push(("an access token".into(), session.token.clone()));
    secrets.push(("a refresh token".into(), session.refresh.clone()));
    secrets.push(("a wrong password".into(), "Wrong-password-9f8e7d".into()));
    assert!(secrets.len() > 100, "{} secrets searched for", secrets.len());
    let mut found = vec![];
    for (what, secret) in &secrets {
        assert!(secret.len() >= 6, "{what} is too short to search for");
        for (place, text) in [("the log", &log), ("the audit", &audit_text)] {
            if text.contains(secret.as_str()) {
                found.push(format!("{what} in {place}"));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));

    // Key files and the accounts file are the owner's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut checked = 0;
        for file in [
            "token.key",
            "vault.key",
            "identity.key",
            "demo.key",
            "demo-accounts.json",
        ] {
            let path = data_dir.join(file);
            if let Ok(meta) = std::fs::metadata(&path) {
                assert_eq!(
                    meta.permissions().mode() & 0o077,
                    0,
                    "{} is readable by others",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(checked >= 2, "the demo's key and accounts file are there to check");
    }
}
