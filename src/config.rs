//! Settings, layered: built-in defaults, then `config/default.toml`, then the file named by
//! `MARKROOM_CONFIG`, then `MARKROOM_*` environment variables (`__` separates sections, e.g.
//! `MARKROOM_AUTH__ACCESS_TOKEN_MINUTES=20`), with `DATABASE_URL` read as well. Command-line
//! flags are laid over the result by `main`. `MARKROOM_CONFIG`, `MARKROOM_LOG` (the log filter)
//! and `MARKROOM_TEST_POSTGRES` (the test script's server) are not settings.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::domain::rules::MarkingRules;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub bind: String,
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; empty means the embedded SQLite file in `data_dir`.
    pub database_url: Option<String>,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub approvals: ApprovalSettings,
    pub http: HttpSettings,
    pub audit: AuditSettings,
    /// Where scans are kept.
    pub storage: StorageSettings,
    /// The key that seals candidate identity.
    pub vault: VaultSettings,
    /// Scanned pages: limits, and how long an image link lives.
    pub scans: ScanSettings,
    /// Marking parameters; each exam may override any of them.
    pub rules: MarkingRules,
    /// How log lines are written.
    pub log: LogSettings,
    /// Who may scrape `/metrics` besides an admin.
    pub metrics: MetricsSettings,
}

/// Readable text for a person at a terminal, or one JSON object a line for a log collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// A bearer token for a Prometheus scraper, which has no account. `Debug` never shows it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    pub scrape_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanSettings {
    /// One page file of an upload.
    pub max_page_bytes: usize,
    /// Decoded page size: anything beyond is refused before pixels are allocated.
    pub max_page_width: u32,
    pub max_page_height: u32,
    pub max_decoded_bytes: u64,
    /// How long a minted image link works (a marker's lease ends it sooner).
    pub image_link_minutes: i64,
}

impl Default for ScanSettings {
    fn default() -> Self {
        let limits = crate::scans::ImageLimits::default();
        ScanSettings {
            max_page_bytes: 20 * 1024 * 1024,
            max_page_width: limits.max_width,
            max_page_height: limits.max_height,
            max_decoded_bytes: limits.max_decoded_bytes,
            image_link_minutes: 15,
        }
    }
}

impl ScanSettings {
    pub fn limits(&self) -> crate::scans::ImageLimits {
        crate::scans::ImageLimits {
            max_width: self.max_page_width,
            max_height: self.max_page_height,
            max_decoded_bytes: self.max_decoded_bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Connections to PostgreSQL (SQLite keeps one writer and this many readers). Unset: as
    /// `db::default_pool_size` says for the backend.
    pub pool_size: Option<u32>,
    pub connect_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u64,
    /// `full` (a mark survives a power cut) or `normal` (survives a crash of the process).
    pub sqlite_synchronous: String,
    /// How much of the SQLite file each connection reads through a memory map (0: none). With
    /// one writer committing all the time, a reader's own page cache is discarded at nearly
    /// every transaction; through the map it finds the pages in the operating system's cache
    /// instead of copying each in again. SQLite's own build caps the map at 2 GiB.
    pub sqlite_mmap_mb: u64,
    /// PostgreSQL only: the tables' owner, for migrations and the server's analyses of its
    /// tables (`DATABASE_OWNER_URL`). When set, the service itself connects as `database_url`'s
    /// role, which owns nothing: it reads and writes rows but cannot drop or disable the
    /// triggers that keep locked results.
    pub owner_url: Option<String>,
    /// PostgreSQL only: how often the server analyses each of its tables with more rows changed
    /// since its last analysis than 50 plus the rows it had then (`db::planner_stats`); 0:
    /// never, leaving it to autovacuum.
    pub analyze_interval_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub access_token_minutes: i64,
    pub refresh_token_minutes: i64,
    /// HMAC key for tokens. When unset, one is generated into `data_dir/token.key`; several
    /// servers behind one load balancer must share it, so set it for them.
    pub token_secret: Option<String>,
    /// HMAC key for staff identity-document numbers (one person, one account). When unset,
    /// one is generated into `data_dir/identity.key`; servers sharing a database share it.
    pub identity_key: Option<String>,
    /// How long a one-time password (an account someone else made, or a reset) stays usable.
    pub one_time_password_minutes: i64,
    pub slow_after_failures: u32,
    pub lock_after_failures: u32,
    pub slowdown_ms_per_failure: i64,
    pub max_slowdown_ms: i64,
    pub lockout_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalSettings {
    /// A two-person request not decided within this time lapses.
    pub expiry_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub max_json_bytes: usize,
    /// Candidate lists and scanned sheets (all pages of one sheet together).
    pub max_upload_bytes: usize,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// After SIGTERM or Ctrl-C, how long `/readyz` answers 503 while requests are still taken,
    /// so that a load balancer stops sending them first.
    pub shutdown_delay_ms: u64,
    /// Then how long requests in flight have to finish before their connections are closed.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// How often the sealer chains new entries.
    pub seal_interval_ms: u64,
    /// How often, at most, the chain head is written to the anchor file.
    pub anchor_interval_secs: u64,
    /// The anchor file, relative to `data_dir` unless absolute.
    pub anchor_file: PathBuf,
}

/// Where scans are kept: `local` (a folder), `memory` (gone when the process ends: tests and
/// demos) or `s3` (an S3-compatible object store). `Debug` leaves out the secret access key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    pub backend: String,
    /// The local folder, relative to `data_dir` unless absolute.
    pub local_dir: PathBuf,
    pub s3_bucket: Option<String>,
    pub s3_region: Option<String>,
    /// For stores other than AWS's own (MinIO, Ceph, …), e.g. `https://s3.internal:9000`.
    pub s3_endpoint: Option<String>,
    /// Without keys, the store's own credential chain (instance metadata) is used.
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// Plain HTTP to the store: only for a store on the same host or a test.
    pub s3_allow_http: bool,
}

/// The identity vault's key: base64 of 32 bytes. `Debug` never shows it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// When unset, one is generated into `data_dir/vault.key` (0600). Servers sharing a
    /// database must share it, and losing it loses every sealed name: back it up apart from
    /// the database.
    pub key: Option<String>,
}

/// What a log line may show of a secret: whether it is set.
fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

impl std::fmt::Debug for StorageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageSettings")
            .field("backend", &self.backend)
            .field("local_dir", &self.local_dir)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_region", &self.s3_region)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field("s3_secret_access_key", &redacted(&self.s3_secret_access_key))
            .field("s3_allow_http", &self.s3_allow_http)
            .finish()
    }
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("scrape_token", &redacted(&self.scrape_token))
            .finish()
    }
}

impl std::fmt::Debug for VaultSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultSettings")
            .field("key", &redacted(&self.key))
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            approvals: ApprovalSettings::default(),
            http: HttpSettings::default(),
            audit: AuditSettings::default(),
            storage: StorageSettings::default(),
            vault: VaultSettings::default(),
            scans: ScanSettings::default(),
            rules: MarkingRules::default(),
            log: LogSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            pool_size: None,
            connect_timeout_secs: 10,
            sqlite_busy_timeout_ms: 5000,
            sqlite_synchronous: "full".into(),
            sqlite_mmap_mb: 2048,
            owner_url: None,
            analyze_interval_secs: 10,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            access_token_minutes: 30,
            refresh_token_minutes: 12 * 60,
            token_secret: None,
            identity_key: None,
            one_time_password_minutes: 72 * 60,
            slow_after_failures: 3,
            lock_after_failures: 10,
            slowdown_ms_per_failure: 500,
            max_slowdown_ms: 5000,
            lockout_minutes: 15,
        }
    }
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        ApprovalSettings {
            expiry_minutes: 24 * 60,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_json_bytes: 1024 * 1024,
            max_upload_bytes: 64 * 1024 * 1024,
            workers: 0,
            shutdown_delay_ms: 0,
            shutdown_grace_secs: 30,
        }
    }
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            seal_interval_ms: 250,
            anchor_interval_secs: 10,
            anchor_file: PathBuf::from("audit-anchors.jsonl"),
        }
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            backend: "local".into(),
            local_dir: PathBuf::from("objects"),
            s3_bucket: None,
            s3_region: None,
            s3_endpoint: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
        }
    }
}

/// Tokens, locks and requests that last longer than a year are a typing mistake, not a policy.
const MAX_MINUTES: i64 = 366 * 24 * 60;
/// A login held longer than a minute outlasts the client's own timeout.
const MAX_SLOWDOWN_MS: i64 = 60_000;
/// HS256 wants a key at least as long as its 256-bit output.
const MIN_TOKEN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("settings: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("settings: {0}")]
    Invalid(String),
}

impl Settings {
    /// Reads the layers from the working directory and the process environment.
    pub fn load() -> Result<Settings, ConfigError> {
        Settings::load_from(
            Path::new("config/default.toml"),
            std::env::var_os("MARKROOM_CONFIG").map(PathBuf::from),
        )
    }

    pub fn load_from(defaults_file: &Path, extra_file: Option<PathBuf>) -> Result<Settings, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default())).merge(Toml::file(defaults_file));
        if let Some(extra) = extra_file {
            if !extra.exists() {
                return Err(ConfigError::Invalid(format!(
                    "MARKROOM_CONFIG names {} which does not exist",
                    extra.display()
                )));
            }
            fig = fig.merge(Toml::file(extra));
        }
        let fig = fig
            .merge(
                Env::prefixed("MARKROOM_")
                    .ignore(&["config", "log", "test_postgres"])
                    .split("__"),
            )
            .merge(Env::raw().only(&["database_url"]))
            .merge(
                Env::raw()
                    .only(&["database_owner_url"])
                    .map(|_| "database.owner_url".into()),
            );
        let settings: Settings = fig.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.rules
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("rules: {e}")))?;
        if !matches!(self.database.sqlite_synchronous.as_str(), "full" | "normal") {
            return Err(ConfigError::Invalid(
                "database.sqlite_synchronous is full or normal".into(),
            ));
        }
        self.validate_durations()?;
        self.validate_storage()?;
        if let Some(key) = self.vault.key.as_deref().filter(|k| !k.is_empty()) {
            crate::vault::parse_key(key).map_err(|e| {
                let why = match e {
                    crate::vault::VaultError::Key(why) => why,
                    other => other.to_string(),
                };
                ConfigError::Invalid(format!("vault.key: {why}"))
            })?;
        }
        if self.auth.refresh_token_minutes < self.auth.access_token_minutes {
            return Err(ConfigError::Invalid(
                "auth.refresh_token_minutes must be at least auth.access_token_minutes".into(),
            ));
        }
        if self.auth.lock_after_failures == 0 {
            return Err(ConfigError::Invalid("auth.lock_after_failures must be positive".into()));
        }
        // An empty secret means "unset" (the key file is used), as `secrets::token_key` reads it.
        if let Some(secret) = self.auth.token_secret.as_deref().filter(|s| !s.is_empty())
            && secret.len() < MIN_TOKEN_SECRET_BYTES
        {
            return Err(ConfigError::Invalid(format!(
                "auth.token_secret must be at least {MIN_TOKEN_SECRET_BYTES} bytes (it is {}); HS256 is only as strong as its key",
                secret.len()
            )));
        }
        // The identity key hides document numbers that are easy to guess: it must be as strong.
        if let Some(key) = self.auth.identity_key.as_deref().filter(|s| !s.is_empty())
            && key.len() < MIN_TOKEN_SECRET_BYTES
        {
            return Err(ConfigError::Invalid(format!(
                "auth.identity_key must be at least {MIN_TOKEN_SECRET_BYTES} bytes (it is {})",
                key.len()
            )));
        }
        // A scraper's token is a password that never changes: as long as the token secret.
        if let Some(token) = self.metrics.scrape_token.as_deref().filter(|s| !s.is_empty())
            && token.len() < MIN_TOKEN_SECRET_BYTES
        {
            return Err(ConfigError::Invalid(format!(
                "metrics.scrape_token must be at least {MIN_TOKEN_SECRET_BYTES} bytes (it is {})",
                token.len()
            )));
        }
        if self.http.shutdown_grace_secs > 3600 || self.http.shutdown_delay_ms > 600_000 {
            return Err(ConfigError::Invalid(
                "http.shutdown_grace_secs is at most an hour and http.shutdown_delay_ms at most ten minutes".into(),
            ));
        }
        Ok(())
    }

    fn validate_storage(&self) -> Result<(), ConfigError> {
        let s = &self.storage;
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        if !crate::storage::BACKENDS.contains(&s.backend.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "storage.backend is one of {:?}, not {:?}",
                crate::storage::BACKENDS,
                s.backend
            )));
        }
        if s.backend == "local" && s.local_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "storage.local_dir must name a folder (objects would mix with the database)".into(),
            ));
        }
        if s.backend == "s3" {
            if !set(&s.s3_bucket) {
                return Err(ConfigError::Invalid(
                    "storage.s3_bucket is required with the s3 backend".into(),
                ));
            }
            // Half a key pair would fall back to other credentials without saying so.
            if set(&s.s3_access_key_id) != set(&s.s3_secret_access_key) {
                return Err(ConfigError::Invalid(
                    "storage.s3_access_key_id and storage.s3_secret_access_key go together".into(),
                ));
            }
        }
        Ok(())
    }

    /// Every duration setting becomes a `chrono::Duration` somewhere in a request; one that
    /// does not fit would panic there, so it is refused here, with a sane ceiling besides.
    fn validate_durations(&self) -> Result<(), ConfigError> {
        let a = &self.auth;
        for (name, value) in [
            ("auth.access_token_minutes", a.access_token_minutes),
            ("auth.refresh_token_minutes", a.refresh_token_minutes),
            ("auth.lockout_minutes", a.lockout_minutes),
            ("auth.one_time_password_minutes", a.one_time_password_minutes),
            ("approvals.expiry_minutes", self.approvals.expiry_minutes),
            ("scans.image_link_minutes", self.scans.image_link_minutes),
        ] {
            let fits = chrono::Duration::try_minutes(value).is_some_and(|d| d >= chrono::Duration::minutes(1));
            if !fits || value > MAX_MINUTES {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be positive and at most {MAX_MINUTES} (a year), not {value}"
                )));
            }
        }
        for (name, value) in [
            ("auth.slowdown_ms_per_failure", a.slowdown_ms_per_failure),
            ("auth.max_slowdown_ms", a.max_slowdown_ms),
        ] {
            let fits = chrono::Duration::try_milliseconds(value).is_some_and(|d| d >= chrono::Duration::zero());
            if !fits || value > MAX_SLOWDOWN_MS {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be between 0 and {MAX_SLOWDOWN_MS} (a minute), not {value}"
                )));
            }
        }
        Ok(())
    }

    /// PostgreSQL: the tables' owner's URL, when the service connects as another role.
    pub fn owner_url(&self) -> Option<&str> {
        self.database.owner_url.as_deref().filter(|u| !u.is_empty())
    }

    /// PostgreSQL: the URL that acts as the tables' owner (for what only the owner may do):
    /// `database.owner_url` when set, else the database's own.
    pub fn owner_or_postgres_url(&self) -> Option<&str> {
        self.postgres_url().map(|url| self.owner_url().unwrap_or(url))
    }

    /// The PostgreSQL URL, when one is configured.
    pub fn postgres_url(&self) -> Option<&str> {
        self.database_url
            .as_deref()
            .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("markroom.db")
    }

    pub fn anchor_path(&self) -> PathBuf {
        if self.audit.anchor_file.is_absolute() {
            self.audit.anchor_file.clone()
        } else {
            self.data_dir.join(&self.audit.anchor_file)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_default_file_lists_every_setting_at_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let file_only: serde_json::Value = Figment::from(Toml::file(&path)).extract().unwrap();
        let built_in = serde_json::to_value(Settings::default()).unwrap();
        fn same_keys(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
            let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
            for (k, v) in b {
                if v.is_null() {
                    continue;
                }
                let there = a.get(k).unwrap_or_else(|| panic!("config/default.toml lacks {at}{k}"));
                if v.is_object() {
                    same_keys(there, v, &format!("{at}{k}."));
                }
            }
        }
        same_keys(&file_only, &built_in, "");
        let layered: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&path))
            .extract()
            .unwrap();
        assert_eq!(layered, Settings::default());
    }

    #[test]
    #[allow(clippy::result_large_err, reason = "Jail fixes the error type")]
    fn the_production_example_is_valid() {
        // In a jail, so that the environment test's variables cannot leak into this one.
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let s = Settings::load_from(
                &root.join("config/default.toml"),
                Some(root.join("config/production.example.toml")),
            );
            let s = s.expect("the example loads");
            assert!(s.postgres_url().is_some());
            assert_eq!(s.auth.lockout_minutes, 30);
            assert_eq!(s.rules, MarkingRules::default());
            Ok(())
        });
    }

    /// The environment is one per process, so every layer that reads it is tested here, once.
    #[test]
    #[allow(clippy::result_large_err, reason = "Jail fixes the error type")]
    fn each_layer_overrides_the_one_before() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_dir("config")?;
            jail.create_file(
                "config/default.toml",
                "[auth]\naccess_token_minutes = 20\nlockout_minutes = 20\nslow_after_failures = 2\n",
            )?;
            jail.create_file(
                "site.toml",
                "bind = \"0.0.0.0:9000\"\n[auth]\nlockout_minutes = 40\nslow_after_failures = 4\n",
            )?;
            jail.set_env("MARKROOM_CONFIG", "site.toml");
            jail.set_env("MARKROOM_AUTH__SLOW_AFTER_FAILURES", 7);
            jail.set_env("MARKROOM_APPROVALS__EXPIRY_MINUTES", 60);
            jail.set_env("DATABASE_URL", "postgres://markroom@db:5432/markroom");
            let s = Settings::load().expect("the layers load");
            assert_eq!(s.auth.refresh_token_minutes, 720, "built-in default");
            assert_eq!(s.auth.access_token_minutes, 20, "config/default.toml over the built-in");
            assert_eq!(s.auth.lockout_minutes, 40, "MARKROOM_CONFIG over config/default.toml");
            assert_eq!(s.bind, "0.0.0.0:9000");
            assert_eq!(s.auth.slow_after_failures, 7, "MARKROOM_* over the file");
            assert_eq!(s.approvals.expiry_minutes, 60);
            assert_eq!(s.postgres_url(), Some("postgres://markroom@db:5432/markroom"));

            jail.set_env("MARKROOM_AUTH__ACCESS_TOKEN_MINUTES", i64::MAX);
            let err = Settings::load()
                .expect_err("an overflowing lifetime is refused")
                .to_string();
            assert!(err.contains("auth.access_token_minutes"), "{err}");
            jail.set_env("MARKROOM_AUTH__ACCESS_TOKEN_MINUTES", 20);
            jail.set_env("MARKROOM_CONFIG", "missing.toml");
            let err = Settings::load()
                .expect_err("a missing MARKROOM_CONFIG is refused")
                .to_string();
            assert!(err.contains("missing.toml"), "{err}");
            Ok(())
        });
    }

    fn refusal(adjust: impl FnOnce(&mut Settings)) -> String {
        let mut s = Settings::default();
        adjust(&mut s);
        match s.validate() {
            Err(ConfigError::Invalid(msg)) => msg,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_zero_approval_expiry_is_refused() {
        let msg = refusal(|s| s.approvals.expiry_minutes = 0);
        assert!(msg.contains("approvals.expiry_minutes must be positive"), "{msg}");
    }

    #[test]
    fn durations_that_would_overflow_are_refused_by_name() {
        type Set = fn(&mut Settings, i64);
        let settings: [(&str, Set); 6] = [
            ("auth.access_token_minutes", |s, v| s.auth.access_token_minutes = v),
            ("auth.refresh_token_minutes", |s, v| s.auth.refresh_token_minutes = v),
            ("auth.lockout_minutes", |s, v| s.auth.lockout_minutes = v),
            ("auth.slowdown_ms_per_failure", |s, v| {
                s.auth.slowdown_ms_per_failure = v
            }),
            ("auth.max_slowdown_ms", |s, v| s.auth.max_slowdown_ms = v),
            ("approvals.expiry_minutes", |s, v| s.approvals.expiry_minutes = v),
        ];
        for (name, set) in settings {
            for value in [i64::MAX, i64::MIN, -1, MAX_MINUTES + 1] {
                let msg = refusal(|s| set(s, value));
                assert!(msg.contains(name), "{name} = {value}: {msg}");
            }
        }
        let mut longest = Settings::default();
        longest.auth.access_token_minutes = MAX_MINUTES;
        longest.auth.refresh_token_minutes = MAX_MINUTES;
        longest.auth.max_slowdown_ms = MAX_SLOWDOWN_MS;
        assert!(longest.validate().is_ok(), "the ceilings themselves are allowed");
    }

    #[test]
    fn a_short_token_secret_is_refused() {
        let msg = refusal(|s| s.auth.token_secret = Some("x".repeat(MIN_TOKEN_SECRET_BYTES - 1)));
        assert!(msg.contains("auth.token_secret must be at least 32 bytes"), "{msg}");
        let mut s = Settings::default();
        s.auth.token_secret = Some("x".repeat(MIN_TOKEN_SECRET_BYTES));
        assert!(s.validate().is_ok());
        s.auth.token_secret = Some(String::new());
        assert!(s.validate().is_ok(), "empty means unset: the key file is used");
        let msg = refusal(|s| s.auth.identity_key = Some("short".into()));
        assert!(msg.contains("auth.identity_key must be at least 32 bytes"), "{msg}");
    }

    #[test]
    fn storage_backends_are_checked_at_load() {
        for backend in ["local", "memory"] {
            let mut s = Settings::default();
            s.storage.backend = backend.into();
            assert!(s.validate().is_ok(), "{backend}");
        }
        let msg = refusal(|s| s.storage.backend = "ftp".into());
        assert!(msg.contains("storage.backend") && msg.contains("ftp"), "{msg}");
        let msg = refusal(|s| s.storage.backend = "S3".into());
        assert!(msg.contains("storage.backend"), "names are exact: {msg}");
        let msg = refusal(|s| s.storage.local_dir = PathBuf::new());
        assert!(msg.contains("storage.local_dir"), "{msg}");

        let msg = refusal(|s| s.storage.backend = "s3".into());
        assert!(msg.contains("storage.s3_bucket is required"), "{msg}");
        let msg = refusal(|s| {
            s.storage.backend = "s3".into();
            s.storage.s3_bucket = Some(String::new());
        });
        assert!(
            msg.contains("storage.s3_bucket is required"),
            "an empty bucket is none: {msg}"
        );
        let msg = refusal(|s| {
            s.storage.backend = "s3".into();
            s.storage.s3_bucket = Some("scans".into());
            s.storage.s3_access_key_id = Some("markroom".into());
        });
        assert!(msg.contains("go together"), "{msg}");
        let mut s = Settings::default();
        s.storage.backend = "s3".into();
        s.storage.s3_bucket = Some("scans".into());
        assert!(s.validate().is_ok(), "without keys: the store's own credentials");
    }

    #[test]
    fn a_vault_key_must_be_base64_of_32_bytes() {
        use base64::Engine;
        let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
        for n in [16, 31, 33, 64] {
            let msg = refusal(|s| s.vault.key = Some(b64(n)));
            assert!(
                msg.contains("vault.key") && msg.contains(&format!("{n} bytes")),
                "{msg}"
            );
            assert!(!msg.contains(&b64(n)), "the key is not echoed: {msg}");
        }
        let msg = refusal(|s| s.vault.key = Some("a passphrase, not a key".into()));
        assert!(msg.contains("vault.key"), "{msg}");
        let mut s = Settings::default();
        s.vault.key = Some(b64(32));
        assert!(s.validate().is_ok());
        s.vault.key = Some(String::new());
        assert!(s.validate().is_ok(), "empty means unset: the key file is used");
    }

    #[test]
    #[allow(clippy::result_large_err, reason = "Jail fixes the error type")]
    fn storage_and_vault_mistakes_stop_the_load() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let defaults = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
            jail.create_file("no-bucket.toml", "[storage]\nbackend = \"s3\"\n")?;
            jail.create_file("short-key.toml", "[vault]\nkey = \"c2hvcnQ=\"\n")?;
            jail.create_file("typo.toml", "[storage]\nbackend = \"local\"\nlocal_folder = \"x\"\n")?;
            for (file, expected) in [
                ("no-bucket.toml", "storage.s3_bucket"),
                ("short-key.toml", "vault.key: 5 bytes where 32"),
                ("typo.toml", "local_folder"),
            ] {
                let err = Settings::load_from(&defaults, Some(file.into()))
                    .expect_err(file)
                    .to_string();
                assert!(err.contains(expected), "{file}: {err}");
            }
            jail.set_env("MARKROOM_STORAGE__BACKEND", "memory");
            let s = Settings::load_from(&defaults, None).expect("the environment names a backend");
            assert_eq!(s.storage.backend, "memory");
            Ok(())
        });
    }

    #[test]
    fn debug_output_shows_no_storage_or_vault_secret() {
        let mut s = Settings::default();
        s.storage.s3_secret_access_key = Some("s3-secret-value".into());
        s.vault.key = Some("dmF1bHQta2V5LXZhbHVl".into());
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("s3-secret-value") && !shown.contains("dmF1bHQta2V5LXZhbHVl"),
            "{shown}"
        );
        assert!(shown.contains("s3_secret_access_key: Some(\"<redacted>\")"), "{shown}");
    }
}
