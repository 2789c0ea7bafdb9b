//! The simulator's HTTP client: one keep-alive pool for every simulated marker, each request
//! with the marker's token and workstation key, answers as (status, JSON).

use anyhow::Context;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub username: String,
    pub password: String,
    pub workstation_key: String,
}

#[derive(Debug, Clone)]
pub struct Session {
    token: String,
    key: String,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(base: &str, markers: usize) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(markers + 8)
            .tcp_nodelay(true)
            // Below the server's keep-alive of 5 s: never send on a connection it may be closing.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// A marker's login; None when markroom has them paused already (an earlier run's planted
    /// marker, say): an outcome, not a failure.
    pub async fn login_marker(&self, a: &Account) -> anyhow::Result<Option<Session>> {
        match self.login(a).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.to_string().contains("\"marker_paused\"") => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn login(&self, a: &Account) -> anyhow::Result<Session> {
        let body =
            serde_json::json!({ "username": a.username, "password": a.password, "workstation_key": a.workstation_key });
        let r = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("{}: markroom does not answer", self.base))?;
        let status = r.status();
        let answer: Value = r.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status == StatusCode::OK, "login of {}: {status} {answer}", a.username);
        Ok(Session {
            token: answer["access_token"].as_str().context("no access token")?.to_string(),
            key: a.workstation_key.clone(),
        })
    }

    pub async fn post(
        &self,
        s: &Session,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&s.token)
            .header("X-Workstation-Key", &s.key)
            .json(body);
        if let Some(k) = idempotency_key {
            r = r.header("Idempotency-Key", k);
        }
        let r = r.send().await?;
        let status = r.status();
        let bytes = r.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    pub async fn get(&self, s: &Session, path: &str) -> Result<(StatusCode, Value), reqwest::Error> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&s.token)
            .header("X-Workstation-Key", &s.key)
            .send()
            .await?;
        let status = r.status();
        let bytes = r.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// A read that must succeed.
    pub async fn get_ok(&self, s: &Session, path: &str) -> anyhow::Result<Value> {
        let (status, v) = self.get(s, path).await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {v}");
        Ok(v)
    }

    /// An image link's bytes (a capability: no token).
    pub async fn bytes(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        let r = self.http.get(format!("{}{url}", self.base)).send().await?;
        anyhow::ensure!(r.status() == StatusCode::OK, "{}", r.status());
        Ok(r.bytes().await?.to_vec())
    }
}
