use std::path::PathBuf;

use chrono::{Duration, Utc};
use diesel::Connection;
use diesel::{QueryDsl, RunQueryDsl};
use markroom::config::Settings;
use markroom::db::{Db, DbError};
use markroom::domain::role::Role;
use markroom::http::Application;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "a long enough password";

/// One running service with a database of its own, removed when the test ends.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub db: Db,
    /// The server's clock: `clock.advance(…)` reaches expiry without waiting.
    pub clock: markroom::clock::Clock,
    pub counters: std::sync::Arc<markroom::http::state::Counters>,
    /// The server's store: the local folder by default, or object_store's in-memory store
    /// when MARKROOM_TEST_STORAGE=memory.
    pub storage: markroom::storage::Storage,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

/// A logged-in person: their token and, if any, the workstation key they work at.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub refresh: String,
    pub key: Option<String>,
}

fn pg_admin_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

/// Makes a fresh PostgreSQL database; returns (admin url, database name, url of the new one).
fn fresh_pg(admin: &str) -> (String, String, String) {
    let name = format!("markroom_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = diesel::pg::PgConnection::establish(admin).expect("PostgreSQL at DATABASE_URL");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .expect("create test database");
    let (prefix, _) = admin.rsplit_once('/').expect("DATABASE_URL names a database");
    (admin.to_string(), name.clone(), format!("{prefix}/{name}"))
}

/// The role the service connects as in PostgreSQL tests: it owns no table (the migrations
/// run as the owner, `DATABASE_URL`'s user), as the README's deployment has it.
pub const SERVICE_ROLE: &str = "markroom_service";

/// Makes the service role once per cluster (tests racing to make it are fine).
fn ensure_service_role(admin: &str) {
    let mut conn = diesel::pg::PgConnection::establish(admin).expect("PostgreSQL at DATABASE_URL");
    let sql = format!(
        "DO $$ BEGIN CREATE ROLE {SERVICE_ROLE} LOGIN; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    );
    diesel::sql_query(sql).execute(&mut conn).expect("service role");
}

/// The same URL with another user.
fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{role}@{host}")
}

fn drop_pg(pg: &Option<(String, String)>) {
    if let Some((admin, name)) = pg
        && let Ok(mut conn) = diesel::pg::PgConnection::establish(admin)
    {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop_pg(&self.pg);
    }
}

/// An empty database of its own with no server on it (for tests of the migrations themselves),
/// removed when the test ends.
pub struct TestDb {
    pub settings: Settings,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let pg = pg_admin_url().map(|admin| {
            let (admin, name, url) = fresh_pg(&admin);
            settings.database_url = Some(url);
            (admin, name)
        });
        TestDb {
            settings,
            _dir: dir,
            pg,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_pg(&self.pg);
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings {
            bind: "127.0.0.1:0".into(),
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        settings.database.pool_size = Some(4);
        settings.http.workers = 1;
        settings.audit.seal_interval_ms = 20;
        settings.audit.anchor_interval_secs = 0;
        settings.auth.slowdown_ms_per_failure = 5;
        let pg = pg_admin_url().map(|admin| {
            let (admin, name, url) = fresh_pg(&admin);
            ensure_service_role(&admin);
            settings.database_url = Some(as_role(&url, SERVICE_ROLE));
            settings.database.owner_url = Some(url);
            (admin, name)
        });
        if std::env::var("MARKROOM_TEST_STORAGE").is_ok_and(|s| s == "memory") {
            settings.storage.backend = "memory".into();
        }
        adjust(&mut settings);
        let app = Application::build(settings.clone()).await.expect("application starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let (clock, counters, storage) = (app.clock(), app.counters(), app.storage());
        tokio::spawn(app.run_until_stopped());
        let db = Db::connect(&settings).expect("test connection");
        TestApp {
            base,
            client: reqwest::Client::new(),
            settings,
            db,
            clock,
            counters,
            storage,
            _dir: dir,
            pg,
        }
    }

    pub fn anchor_path(&self) -> PathBuf {
        self.settings.anchor_path()
    }

    /// Any request; `body` is sent as JSON when given.
    pub async fn call(&self, method: Method, path: &str, s: Option<&Session>, body: Option<Value>) -> Response {
        let mut rb = self.client.request(method, format!("{}{path}", self.base));
        if let Some(s) = s {
            rb = rb.bearer_auth(&s.token);
            if let Some(k) = &s.key {
                rb = rb.header("X-Workstation-Key", k);
            }
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.expect("request reaches the server")
    }

    pub async fn post(&self, path: &str, s: Option<&Session>, body: Value) -> Response {
        self.call(Method::POST, path, s, Some(body)).await
    }

    pub async fn get(&self, path: &str, s: Option<&Session>) -> Response {
        self.call(Method::GET, path, s, None).await
    }

    /// An account made as the command line makes it (admins and the first two chiefs), for a
    /// person of its own (named after the username).
    pub fn bootstrap(&self, username: &str, role: Role) -> String {
        let key = self.identity_key();
        let account = markroom::bootstrap::BootstrapAccount {
            username,
            password: PASSWORD,
            full_name: &full_name_of(username),
            id_document: &document_of(username),
            role,
        };
        markroom::bootstrap::create_account(&self.db, &key, &account).expect("bootstrap account")
    }

    /// The server's key for identity-document numbers (the file it made in the data directory).
    pub fn identity_key(&self) -> Vec<u8> {
        markroom::secrets::identity_key(self.settings.auth.identity_key.as_deref(), &self.settings.data_dir).unwrap()
    }

    /// An admin makes a staff account (`extra` adds fields such as chief or scope); the new
    /// owner logs in with the one-time password and sets `PASSWORD`. Returns the account id
    /// and the answer to the creation.
    pub async fn create_staff(&self, admin: &Session, username: &str, role: &str, extra: Value) -> (String, Value) {
        let mut body = json!({
            "username": username, "full_name": full_name_of(username),
            "id_document": document_of(username), "role": role,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self.post("/api/v1/users", Some(admin), body).await;
        let status = r.status();
        let created: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{created}");
        (created["id"].as_str().unwrap().to_string(), created)
    }

    /// The owner of a new account replaces its one-time password with `PASSWORD`.
    pub async fn set_own_password(&self, username: &str, one_time: &str, key: Option<&str>) {
        let r = self.try_login(username, one_time, key).await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["password_change_required"], true, "{body}");
        let s = Session {
            token: body["access_token"].as_str().unwrap().to_string(),
            refresh: body["refresh_token"].as_str().unwrap().to_string(),
            key: key.map(str::to_string),
        };
        let r = self
            .post(
                "/api/v1/auth/password",
                Some(&s),
                json!({ "old_password": one_time, "new_password": PASSWORD }),
            )
            .await;
        // 200 with fresh tokens, or 204 while the account waits for activation.
        assert!(
            [StatusCode::OK, StatusCode::NO_CONTENT].contains(&r.status()),
            "{}",
            r.text().await.unwrap()
        );
    }

    /// Runs DDL as the tables' owner (on PostgreSQL the service's own role may not).
    pub fn as_owner(&self, sql: &str) {
        match &self.settings.database.owner_url {
            Some(owner) => {
                let mut c = diesel::pg::PgConnection::establish(owner).expect("owner connection");
                diesel::sql_query(sql).execute(&mut c).expect(sql);
            }
            None => {
                self.db
                    .write_now(|c| diesel::sql_query(sql).execute(c).map_err(DbError::from))
                    .expect(sql);
            }
        }
    }

    /// Environment for a `markroom` command run against this test's database.
    pub fn database_env(&self, cmd: &mut std::process::Command) {
        match &self.settings.database_url {
            Some(url) => cmd.env("DATABASE_URL", url),
            None => cmd.env_remove("DATABASE_URL"),
        };
        match &self.settings.database.owner_url {
            Some(url) => cmd.env("DATABASE_OWNER_URL", url),
            None => cmd.env_remove("DATABASE_OWNER_URL"),
        };
    }

    /// An account of any role written straight to the database, for roles whose own API comes
    /// in later issues (markers).
    pub fn insert_account(&self, username: &str, role: Role) -> String {
        let hash = markroom::secrets::hash_password(PASSWORD).unwrap();
        self.db
            .write_now(|c| {
                markroom::db::users::insert(
                    c,
                    &markroom::db::users::NewUser {
                        username,
                        password_hash: &hash,
                        role,
                        chief: false,
                        active: true,
                        created_by: None,
                        full_name: &full_name_of(username),
                        id_document_hash: &document_of(username),
                        must_change_password: false,
                        one_time_password_expires_at: None,
                    },
                    Utc::now(),
                )
            })
            .unwrap()
    }

    pub async fn try_login(&self, username: &str, password: &str, key: Option<&str>) -> Response {
        let mut body = json!({ "username": username, "password": password });
        if let Some(k) = key {
            body["workstation_key"] = json!(k);
        }
        self.post("/api/v1/auth/login", None, body).await
    }

    pub async fn login(&self, username: &str, key: Option<&str>) -> Session {
        let r = self.try_login(username, PASSWORD, key).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "login of {username}: {body}");
        Session {
            token: body["access_token"].as_str().unwrap().to_string(),
            refresh: body["refresh_token"].as_str().unwrap().to_string(),
            key: key.map(str::to_string),
        }
    }

    /// Logs the chief in at the workstation and opens the exam's room (its window must be open).
    pub async fn open_room(&self, chief: &str, key: &str, code: &str) -> Session {
        let s = self.login(chief, Some(key)).await;
        let r = self
            .post(&format!("/api/v1/exams/{code}/room"), Some(&s), json!({ "open": true }))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        s
    }

    /// An admin and two chief leaders, logged in.
    pub async fn staff(&self) -> (Session, Session, Session) {
        self.bootstrap("admin", Role::Admin);
        self.bootstrap("chief1", Role::Leader);
        self.bootstrap("chief2", Role::Leader);
        (
            self.login("admin", None).await,
            self.login("chief1", None).await,
            self.login("chief2", None).await,
        )
    }

    pub async fn workstation(&self, admin: &Session, name: &str) -> String {
        let r = self
            .post("/api/v1/workstations", Some(admin), json!({ "name": name }))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let body: Value = r.json().await.unwrap();
        body["key"].as_str().unwrap().to_string()
    }

    /// An exam whose marking window lies in the future (so no workstation is needed yet).
    pub async fn exam(&self, chief: &Session, code: &str) -> Value {
        let start = Utc::now() + Duration::days(30);
        let r = self
            .post(
                "/api/v1/exams",
                Some(chief),
                json!({
                    "code": code, "name": "County exam", "time_zone": "Asia/Shanghai",
                    "window_start": start, "window_end": start + Duration::days(10),
                }),
            )
            .await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Seals one audit chain (an exam's, by code, or without one the chain of entries that
    /// concern no exam) and returns it as the admin sees it.
    pub async fn audit_chain(&self, admin: &Session, exam: Option<&str>) -> Vec<Value> {
        let exam = exam.map(|code| format!("&exam={code}")).unwrap_or_default();
        let mut out = vec![];
        let mut after = 0;
        loop {
            let r = self
                .get(&format!("/api/v1/audit?after={after}&limit=1000{exam}"), Some(admin))
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            let page: Value = r.json().await.unwrap();
            out.extend(page["entries"].as_array().unwrap().iter().cloned());
            match page["next_after"].as_i64() {
                Some(n) => after = n,
                None => return out,
            }
        }
    }

    /// Every chain, sealed: each exam's (by code), then the chain of entries that concern no
    /// exam. That one comes last because reading the log appends to it: what a test does
    /// between two calls is then at the end.
    pub async fn audit_entries(&self, admin: &Session) -> Vec<Value> {
        use markroom::db::schema::exams;
        let codes: Vec<String> = self
            .db
            .read_now(|c| {
                exams::table
                    .select(exams::code)
                    .order(exams::code)
                    .load(c)
                    .map_err(markroom::db::DbError::from)
            })
            .unwrap();
        let mut out = vec![];
        for code in &codes {
            out.extend(self.audit_chain(admin, Some(code)).await);
        }
        out.extend(self.audit_chain(admin, None).await);
        out
    }
}

/// The made-up person behind a test account: one per username.
pub fn full_name_of(username: &str) -> String {
    format!("Person {username}")
}

pub fn document_of(username: &str) -> String {
    format!("DOC{}", username.replace(['.', '_', '-', '@'], "X"))
}

/// Asserts a problem+json answer with this status and code; returns the body.
pub async fn expect_problem(r: Response, status: StatusCode, code: &str) -> Value {
    let got = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let rid = r.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().await.expect("problem body is JSON");
    assert_eq!(got, status, "status, for {body}");
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct} for {body}"
    );
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        body["request_id"].as_str(),
        rid.as_deref(),
        "request id in body and header"
    );
    body
}
