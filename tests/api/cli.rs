use std::io::Write;
use std::process::{Command, Output, Stdio};

use markroom::domain::role::Role;
use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp};

fn markroom(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_markroom"));
    cmd.args(args)
        .env("MARKROOM_DATA_DIR", &app.settings.data_dir)
        .env_remove("MARKROOM_CONFIG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match &app.settings.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn the_command_line_bootstraps_an_admin_and_exactly_two_chief_leaders() {
    let app = TestApp::spawn().await;
    let pw = format!("{PASSWORD}\n");
    let out = markroom(&app, &["migrate"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        markroom(&app, &["admin", "create", "--username", "root"], &pw)
            .status
            .success()
    );
    assert!(
        markroom(&app, &["leader", "create", "--username", "chief1"], &pw)
            .status
            .success()
    );
    assert!(
        markroom(&app, &["leader", "create", "--username", "chief2"], &pw)
            .status
            .success()
    );
    let third = markroom(&app, &["leader", "create", "--username", "chief3"], &pw);
    assert!(!third.status.success());
    assert!(String::from_utf8_lossy(&third.stderr).contains("two chief leaders exist already"));
    let weak = markroom(&app, &["admin", "create", "--username", "root2"], "short\n");
    assert!(!weak.status.success());

    // The accounts work over HTTP; the refused ones do not exist.
    let chief = app.login("chief1", None).await;
    let r = app.get("/api/v1/exams/NONE", Some(&chief)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.login("root", None).await;
    assert_eq!(
        app.try_login("chief3", PASSWORD, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let _ = Role::Admin;
}
