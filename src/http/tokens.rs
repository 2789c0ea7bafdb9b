//! Bearer tokens (JWT, HS256). An access token lives 30 minutes by default and a refresh token
//! a working day; both carry the user's token version, so bumping it revokes them all at once,
//! and the workstation they were issued to.

use chrono::Duration;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::AuthSettings;
use crate::domain::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
    Service,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id, or service client id.
    pub sub: String,
    pub role: Role,
    pub ver: i32,
    pub typ: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws: Option<String>,
    /// Exam codes an admissions client may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exams: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Seconds a token is still honoured past its expiry, for clocks a little apart.
const LEEWAY_SECS: i64 = 5;

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access: Duration,
    refresh: Duration,
    clock: Clock,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub role: Role,
    /// The account still has its one-time password: every request but
    /// `POST /api/v1/auth/password` is refused until its owner sets their own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub password_change_required: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is invalid or expired")]
    Invalid,
    #[error("the token could not be signed: {0}")]
    Sign(String),
}

/// Whom a token is for.
pub struct Subject<'a> {
    pub id: &'a str,
    pub role: Role,
    pub version: i32,
    pub workstation: Option<&'a str>,
    pub exams: &'a [String],
}

impl TokenKeys {
    pub fn new(secret: &[u8], auth: &AuthSettings, clock: Clock) -> Result<TokenKeys, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against markroom's own clock (below), so tests can move time.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(secret).map_err(|e| TokenError::Sign(e.to_string()))?,
            decoding: DecodingKey::from_secret(secret).map_err(|e| TokenError::Sign(e.to_string()))?,
            validation,
            access: Duration::minutes(auth.access_token_minutes),
            refresh: Duration::minutes(auth.refresh_token_minutes),
            clock,
        })
    }

    fn sign(&self, s: &Subject<'_>, typ: TokenKind, life: Duration) -> Result<String, TokenError> {
        let now = self.clock.now();
        let claims = Claims {
            sub: s.id.to_string(),
            role: s.role,
            ver: s.version,
            typ,
            ws: s.workstation.map(str::to_string),
            exams: s.exams.to_vec(),
            iat: now.timestamp(),
            exp: (now + life).timestamp(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// An access and a refresh token for a person.
    pub fn issue_pair(&self, s: &Subject<'_>) -> Result<TokenPair, TokenError> {
        Ok(TokenPair {
            access_token: self.sign(s, TokenKind::Access, self.access)?,
            refresh_token: Some(self.sign(s, TokenKind::Refresh, self.refresh)?),
            token_type: "Bearer".into(),
            expires_in: self.access.num_seconds(),
            role: s.role,
            password_change_required: false,
        })
    }

    /// An access token for an admissions system; it gets a new one with its secret, not a refresh.
    pub fn issue_service(&self, s: &Subject<'_>) -> Result<TokenPair, TokenError> {
        Ok(TokenPair {
            access_token: self.sign(s, TokenKind::Service, self.access)?,
            refresh_token: None,
            token_type: "Bearer".into(),
            expires_in: self.access.num_seconds(),
            role: s.role,
            password_change_required: false,
        })
    }

    pub fn verify(&self, token: &str, want: &[TokenKind]) -> Result<Claims, TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| TokenError::Invalid)?;
        let expired = data.claims.exp + LEEWAY_SECS <= self.clock.now().timestamp();
        if want.contains(&data.claims.typ) && !expired {
            Ok(data.claims)
        } else {
            Err(TokenError::Invalid)
        }
    }
}
