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
    app.database_env(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn create<'a>(role: &'a str, username: &'a str, doc: &'a str) -> Vec<&'a str> {
    vec![
        role,
        "create",
        "--username",
        username,
        "--full-name",
        "Wang Fang",
        "--id-document",
        doc,
    ]
}

#[tokio::test]
async fn the_command_line_bootstraps_an_admin_and_exactly_two_chief_leaders() {
    let app = TestApp::spawn().await;
    let pw = format!("{PASSWORD}\n");
    let out = markroom(&app, &["migrate"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let root = markroom(&app, &create("admin", "root", "A0001"), &pw);
    assert!(root.status.success(), "{}", String::from_utf8_lossy(&root.stderr));
    // One person, one account: the admin's document number cannot make a chief leader too,
    // however it is typed.
    let again = markroom(&app, &create("leader", "chief0", "a-0001"), &pw);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds an account"));
    assert!(
        markroom(&app, &create("leader", "chief1", "C0001"), &pw)
            .status
            .success()
    );
    assert!(
        markroom(&app, &create("leader", "chief2", "C0002"), &pw)
            .status
            .success()
    );
    let third = markroom(&app, &create("leader", "chief3", "C0003"), &pw);
    assert!(!third.status.success());
    assert!(String::from_utf8_lossy(&third.stderr).contains("two active chief leaders exist already"));
    let weak = markroom(&app, &create("admin", "root2", "A0002"), "short\n");
    assert!(!weak.status.success());

    // The accounts work over HTTP with the passwords the operator typed (no first-login
    // change); the refused ones do not exist.
    let chief = app.login("chief1", None).await;
    let r = app.get("/api/v1/exams/NONE", Some(&chief)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.login("root", None).await;
    for refused in ["chief0", "chief3"] {
        assert_eq!(
            app.try_login(refused, PASSWORD, None).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let _ = Role::Admin;
}

#[tokio::test]
async fn the_first_workstation_key_is_made_on_the_server() {
    let app = TestApp::spawn().await;
    app.bootstrap("admin", Role::Admin);
    let out = markroom(&app, &["workstation", "create", "--name", "Server room desk"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let key = printed
        .lines()
        .find_map(|l| l.split("(shown once; enter it at the workstation): ").nth(1))
        .expect("the key is printed")
        .trim()
        .to_string();
    // The key works at login, and the same name cannot be registered twice.
    app.login("admin", Some(&key)).await;
    let twice = markroom(&app, &["workstation", "create", "--name", "Server room desk"], "");
    assert!(!twice.status.success());
}

#[tokio::test]
async fn an_inactive_chief_does_not_count_and_another_identity_key_is_refused() {
    let app = TestApp::spawn().await;
    let pw = format!("{PASSWORD}\n");
    app.bootstrap("chief1", Role::Leader);
    app.bootstrap("chief2", Role::Leader);
    // One of the first two chiefs was made inactive (say, reset): the bootstrap may be completed.
    app.db
        .write_now(|c| {
            diesel::RunQueryDsl::execute(
                diesel::sql_query("UPDATE users SET active = FALSE WHERE username = 'chief2'"),
                c,
            )
            .map_err(markroom::db::DbError::from)
        })
        .unwrap();
    let out = markroom(&app, &create("leader", "chief3", "C0003"), &pw);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fourth = markroom(&app, &create("leader", "chief4", "C0004"), &pw);
    assert!(!fourth.status.success());
    // A node or a command with another identity key would hash document numbers differently:
    // it is refused, whatever it was asked to do.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_markroom"));
    cmd.args(create("admin", "root9", "A0009"))
        .env("MARKROOM_DATA_DIR", &app.settings.data_dir)
        .env(
            "MARKROOM_AUTH__IDENTITY_KEY",
            "another key of at least thirty-two bytes",
        )
        .env_remove("MARKROOM_CONFIG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    app.database_env(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(pw.as_bytes()).unwrap();
    let other = child.wait_with_output().unwrap();
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("identity key differs"));
    let mut settings = app.settings.clone();
    settings.auth.identity_key = Some("another key of at least thirty-two bytes".into());
    assert!(
        markroom::http::Application::build(settings).await.is_err(),
        "a server refuses to start too"
    );
}
