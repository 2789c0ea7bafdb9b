//! The demo talks to markroom through its public API, like any client: so the demo exam is
//! made by the same rules and code as a real one.

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::accounts::Account;

pub struct Api {
    client: reqwest::Client,
    base: String,
}

#[derive(Clone)]
pub struct Session {
    token: String,
    key: String,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            // A connection left idle for the server's keep-alive (5 s) may be closed by the
            // server just as a request goes out on it; the long steps of a large demo (making
            // thousands of sheets) leave such gaps, so idle connections are not reused.
            client: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .expect("an HTTP client with default TLS settings builds"),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    pub async fn login(&self, a: &Account) -> anyhow::Result<Session> {
        let body =
            serde_json::json!({ "username": a.username, "password": a.password, "workstation_key": a.workstation_key });
        let answer = self
            .send(None, Method::POST, "/api/v1/auth/login", Some(body))
            .await
            .with_context(|| format!("{} could not log in", a.username))?;
        Ok(Session {
            token: answer["access_token"].as_str().context("no access token")?.to_string(),
            key: a.workstation_key.clone(),
        })
    }

    /// Logs in with a one-time password at the workstation and sets the derived password.
    pub async fn set_password(&self, a: &Account, one_time: &str) -> anyhow::Result<()> {
        let first = Account {
            password: one_time.to_string(),
            ..a.clone()
        };
        let s = self
            .login(&first)
            .await
            .context("with the one-time password it was just given")?;
        let body = serde_json::json!({ "old_password": one_time, "new_password": a.password });
        self.send(Some(&s), Method::POST, "/api/v1/auth/password", Some(body))
            .await
            .with_context(|| format!("{} could not set its own password", a.username))?;
        Ok(())
    }

    pub async fn status(
        &self,
        s: Option<&Session>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if let Some(s) = s {
            r = r.bearer_auth(&s.token).header("X-Workstation-Key", &s.key);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r
            .send()
            .await
            .with_context(|| format!("{path}: markroom does not answer"))?;
        let status = r.status();
        let bytes = r.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// A request that must succeed; its answer.
    pub async fn send(
        &self,
        s: Option<&Session>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.status(s, method, path, body).await?;
        if !status.is_success() {
            bail!("{path}: {status} {answer}");
        }
        Ok(answer)
    }

    pub async fn post(&self, s: &Session, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(Some(s), Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, s: &Session, path: &str) -> anyhow::Result<Value> {
        self.send(Some(s), Method::GET, path, None).await
    }

    /// A multipart form with text fields and PNG pages.
    pub async fn pages(
        &self,
        s: &Session,
        path: &str,
        fields: &[(&str, String)],
        pages: Vec<Vec<u8>>,
    ) -> anyhow::Result<Value> {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.clone());
        }
        for p in pages {
            form = form.part("page", reqwest::multipart::Part::bytes(p).mime_str("image/png")?);
        }
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&s.token)
            .header("X-Workstation-Key", &s.key)
            .multipart(form)
            .send()
            .await?;
        let status = r.status();
        let answer: Value = serde_json::from_slice(&r.bytes().await?).unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path}: {status} {answer}");
        }
        Ok(answer)
    }

    /// Reads an image link's latent strip, as a person reads the answer.
    pub async fn latent(&self, url: &str) -> anyhow::Result<u32> {
        let bytes = self
            .client
            .get(format!("{}{url}", self.base))
            .send()
            .await?
            .bytes()
            .await?;
        let image = crate::scans::decode_page(&bytes, &Default::default())?;
        Ok(crate::scans::read_latent(&image))
    }
}
