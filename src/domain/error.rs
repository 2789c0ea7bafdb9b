use thiserror::Error;

/// A rule said no. Each variant carries a stable machine-readable `code` that clients rely on;
/// the HTTP edge maps the variant to a status (invalid 422, refused 403, conflict 409).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    /// The input breaks a rule about its own shape or values.
    #[error("{detail}")]
    Invalid {
        code: &'static str,
        field: Option<String>,
        detail: String,
    },
    /// The caller may not do this, whatever the input.
    #[error("{detail}")]
    Refused { code: &'static str, detail: String },
    /// The current state of things does not allow it (already decided, expired, duplicate).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
}

impl RuleError {
    pub fn invalid(code: &'static str, field: impl Into<String>, detail: impl Into<String>) -> Self {
        RuleError::Invalid {
            code,
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    pub fn refused(code: &'static str, detail: impl Into<String>) -> Self {
        RuleError::Refused {
            code,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        RuleError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    /// The same error about a field nested under `parent` (`since` becomes `payload.since`).
    pub fn within(self, parent: &str) -> Self {
        match self {
            RuleError::Invalid { code, field, detail } => RuleError::Invalid {
                code,
                field: field.map(|f| format!("{parent}.{f}")),
                detail,
            },
            other => other,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            RuleError::Invalid { code, .. } | RuleError::Refused { code, .. } | RuleError::Conflict { code, .. } => {
                code
            }
        }
    }
}
