//! A small campaign against the served binary (a process of its own, so its counters count this
//! test alone): its `/metrics`, parsed as Prometheus text, equal what the test did and what the
//! database holds; its JSON log has one object a line, a request id on every request line, and
//! no token, password, workstation key, admission number or candidate name.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp};
use crate::operations::{serve, subject_of};

const SCRAPE_TOKEN: &str = "a-scrape-token-of-forty-characters-long!";

/// What the test asked and got, by (method, route template, status); the request ids it saw.
#[derive(Default)]
struct Tally {
    seen: BTreeMap<(String, String, String), f64>,
    ids: Vec<String>,
    secrets: Vec<String>,
}

impl Tally {
    async fn send(
        &mut self,
        base: &str,
        method: Method,
        route: &str,
        path: &str,
        s: Option<&Session>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = reqwest::Client::new().request(method.clone(), format!("{base}{path}"));
        if let Some(s) = s {
            rb = rb.bearer_auth(&s.token);
            if let Some(k) = &s.key {
                rb = rb.header("X-Workstation-Key", k);
            }
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        self.ids.push(r.headers()["x-request-id"].to_str().unwrap().to_string());
        *self
            .seen
            .entry((method.to_string(), route.to_string(), status.as_u16().to_string()))
            .or_default() += 1.0;
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A POST to a route without parameters (its path is its template).
    async fn post(&mut self, base: &str, route: &str, s: &Session, body: Value) -> (StatusCode, Value) {
        self.send(base, Method::POST, route, route, Some(s), Some(body)).await
    }

    async fn login(&mut self, base: &str, account: &Value) -> Option<Session> {
        let body = json!({ "username": account["username"], "password": account["password"], "workstation_key": account["workstation_key"] });
        let (status, t) = self
            .send(
                base,
                Method::POST,
                "/api/v1/auth/login",
                "/api/v1/auth/login",
                None,
                Some(body),
            )
            .await;
        (status == StatusCode::OK).then(|| {
            let s = Session {
                token: t["access_token"].as_str().unwrap().into(),
                refresh: t["refresh_token"].as_str().unwrap().into(),
                key: account["workstation_key"].as_str().map(str::to_string),
            };
            self.secrets.extend([s.token.clone(), s.refresh.clone()]);
            s
        })
    }
}

/// Rows of the audit log (both tables), of the live marks, straight from the database.
fn database_counts(app: &TestApp) -> (f64, f64) {
    use diesel::prelude::*;
    use markroom::db::schema::{audit_log, audit_log_general, marks};
    app.db
        .read_now(|c| {
            let audit: i64 = audit_log::table.count().get_result(c)?;
            let general: i64 = audit_log_general::table.count().get_result(c)?;
            let live: i64 = marks::table.count().get_result(c)?;
            Ok::<_, markroom::db::DbError>(((audit + general) as f64, live as f64))
        })
        .unwrap()
}

fn leased_tasks(app: &TestApp) -> f64 {
    use diesel::prelude::*;
    use markroom::db::schema::tasks;
    let n: i64 = app
        .db
        .read_now(|c| {
            tasks::table
                .filter(tasks::state.eq("leased"))
                .count()
                .get_result(c)
                .map_err(markroom::db::DbError::from)
        })
        .unwrap();
    n as f64
}

/// The parsed page, as (sample name, labels) → value (a histogram as its `_bucket`, `_sum` and
/// `_count` samples).
fn parse(page: &str) -> BTreeMap<(String, BTreeMap<String, String>), f64> {
    // The format ignores empty lines (the exporter puts one between families); this parser
    // does not take them.
    let page: String = page
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let page = page.as_str();
    let (_, families) =
        nom_openmetrics::parser::prometheus(page).unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{page}"));
    let mut out = BTreeMap::new();
    for sample in families.iter().flat_map(|f| f.samples.iter()) {
        let labels = sample
            .labels()
            .iter()
            .map(|l| (l.name.to_string(), l.value.clone()))
            .collect();
        out.insert((sample.name().to_string(), labels), sample.number());
    }
    out
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn after_a_small_campaign_the_metrics_equal_what_happened_and_the_log_keeps_no_secret() {
    let app = TestApp::spawn().await;
    let demo = crate::crash::demo(&app, 6);
    let (audit_before, marks_before) = database_counts(&app);
    let log = app.settings.data_dir.join("campaign.log");
    let env = [
        ("MARKROOM_LOG__FORMAT", "json"),
        ("MARKROOM_METRICS__SCRAPE_TOKEN", SCRAPE_TOKEN),
    ];
    let (mut server, base) = serve(&app, &log, &env);
    crate::served::ready(&base).await;
    let mut t = Tally::default();
    let leased_of = |m: &BTreeMap<(String, BTreeMap<String, String>), f64>| -> f64 {
        m.iter()
            .filter(|((n, l), _)| n == "markroom_tasks" && l["exam"] == "DEMO" && l["state"] == "leased")
            .map(|(_, v)| v)
            .sum()
    };
    let first = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(SCRAPE_TOKEN)
        .send()
        .await
        .unwrap();
    *t.seen
        .entry(("GET".into(), "/metrics".into(), "200".into()))
        .or_default() += 1.0;
    // Before anything happened: the page parses, and no request is counted yet but readiness.
    let before = parse(&first.text().await.unwrap());
    assert!(
        before
            .iter()
            .all(|((n, l), v)| n != "markroom_http_requests_total" || l["route"] == "/readyz" || *v == 0.0),
        "{before:?}"
    );

    // Staff: an admin signs in, makes two accounts and a workstation, and gets some refusals.
    let admin_account = &demo["accounts"]["admin"][0];
    let admin = t.login(&base, admin_account).await.unwrap();
    let mut wrong = admin_account.clone();
    wrong["password"] = json!("Not-the-password-42");
    assert!(t.login(&base, &wrong).await.is_none());
    for (i, name) in ["Ada Custodian", "Bo Custodian"].iter().enumerate() {
        let body = json!({ "username": format!("ops-custodian{i}"), "full_name": name, "id_document": format!("OPSDOC{i}9"), "role": "custodian" });
        let (status, made) = t.post(&base, "/api/v1/users", &admin, body).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        t.secrets.push(made["one_time_password"].as_str().unwrap().to_string());
    }
    let (status, ws) = t
        .post(&base, "/api/v1/workstations", &admin, json!({ "name": "Ops desk" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    t.secrets.push(ws["key"].as_str().unwrap().to_string());
    let (status, _) = t.post(&base, "/api/v1/workstations", &admin, json!({})).await;
    assert!(status.is_client_error());

    // Markers: three lease and score three times each.
    let mut leases = 0.0;
    for account in demo["accounts"]["markers"].as_array().unwrap().iter().take(3) {
        let marker = t.login(&base, account).await.unwrap();
        for _ in 0..3 {
            let (status, lease) = t.post(&base, "/api/v1/marking/next", &marker, json!({})).await;
            if status != StatusCode::OK {
                break;
            }
            leases += 1.0;
            let question = lease["question"].as_str().unwrap();
            let latent = demo["latent_by_code"][lease["anonymous_code"].as_str().unwrap()]
                .as_u64()
                .unwrap_or(0);
            let path = format!("/api/v1/marking/tasks/{}/score", lease["task_id"].as_str().unwrap());
            let score = crate::marking::fair(question, latent as u32);
            t.send(
                &base,
                Method::POST,
                "/api/v1/marking/tasks/{id}/score",
                &path,
                Some(&marker),
                Some(score),
            )
            .await;
        }
    }

    // Who may read the metrics.
    let anonymous = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let marker = t.login(&base, &demo["accounts"]["markers"][3]).await.unwrap();
    let (status, _) = t
        .send(&base, Method::GET, "/metrics", "/metrics", Some(&marker), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let as_admin = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(&admin.token)
        .header("X-Workstation-Key", admin.key.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(as_admin.status(), StatusCode::OK);
    *t.seen
        .entry(("GET".into(), "/metrics".into(), "200".into()))
        .or_default() += 1.0;
    *t.seen
        .entry(("GET".into(), "/metrics".into(), "401".into()))
        .or_default() += 1.0;

    // Background checks after marks may still append; the numbers settle once they are done.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let page = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(SCRAPE_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let page = page.text().await.unwrap();
    let m = parse(&page);
    let (audit_after, marks_after) = database_counts(&app);

    // Every request the test made, by route and status, counted exactly (readiness polls aside).
    for ((method, route, status), n) in &t.seen {
        let key = (
            "markroom_http_requests_total".to_string(),
            labels(&[("method", method), ("route", route), ("status", status)]),
        );
        assert_eq!(m.get(&key), Some(n), "{method} {route} {status}:\n{page}");
        let latency = (
            "markroom_http_request_duration_seconds_count".to_string(),
            labels(&[("method", method), ("route", route)]),
        );
        assert!(m.get(&latency).is_some_and(|c| c >= n), "no latency of {route}");
    }
    let counted: f64 = m
        .iter()
        .filter(|((name, l), _)| name == "markroom_http_requests_total" && l["route"] != "/readyz")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        counted,
        t.seen.values().sum::<f64>(),
        "nothing counted that did not happen"
    );
    let total = |name: &str| m.iter().filter(|((n, _), _)| n == name).map(|(_, v)| v).sum::<f64>();
    assert_eq!(
        total("markroom_audit_entries_appended_total"),
        audit_after - audit_before,
        "audit entries"
    );
    assert_eq!(
        total("markroom_marks_total"),
        marks_after - marks_before,
        "marks stored"
    );
    assert_eq!(total("markroom_leases_total"), leases, "leases issued");
    assert!(leases >= 3.0);
    // The served binary runs with `database.pool_size` unset: the pool is the backend's default
    // for this machine's cores.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(
        m[&("markroom_db_pool_size".to_string(), BTreeMap::new())],
        f64::from(markroom::db::default_pool_size(app.db.backend(), cores)),
        "the default pool size"
    );
    assert_eq!(
        leased_of(&m),
        leased_tasks(&app),
        "the leased tasks, as the database holds them"
    );
    for gauge in [
        "markroom_disputes_open",
        "markroom_reviews_open",
        "markroom_markers_paused",
    ] {
        assert!(
            m.contains_key(&(gauge.to_string(), labels(&[("exam", "DEMO")]))),
            "{gauge}"
        );
    }
    drop(server.0.kill());

    // The log: one JSON object a line; every request line with its id; no secret.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}")))
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["target"] == "markroom::http").collect();
    for line in &requests {
        assert!(line["request_id"].as_str().is_some_and(|id| id.len() == 32), "{line}");
        assert!(
            line["route"].is_string() && line["status"].is_u64() && line["latency_ms"].is_f64(),
            "{line}"
        );
    }
    for id in &t.ids {
        let line = requests
            .iter()
            .find(|l| l["request_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no line for {id}"));
        if line["route"] == "/api/v1/marking/next" {
            assert!(line["actor"].as_str().is_some_and(|a| !a.is_empty()));
        }
    }
    assert_eq!(
        requests.iter().find(|l| l["route"] == "/api/v1/users").unwrap()["actor"],
        subject_of(&admin.token).as_str()
    );
    let mut secrets = t.secrets.clone();
    secrets.push("Not-the-password-42".into());
    for kind in ["admin", "markers", "custodians"] {
        for a in demo["accounts"][kind].as_array().unwrap() {
            secrets.push(a["password"].as_str().unwrap().into());
            secrets.push(a["workstation_key"].as_str().unwrap().into());
        }
    }
    for c in demo["candidates"].as_array().unwrap() {
        secrets.push(c["admission_number"].as_str().unwrap().into());
        secrets.push(c["name"].as_str().unwrap().into());
    }
    secrets.extend(["OPSDOC09".into(), "OPSDOC19".into()]);
    for secret in secrets {
        assert!(!text.contains(&secret), "the log shows {secret}");
    }
}
