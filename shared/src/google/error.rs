//! Typed errors that keep what Google said: HTTP status, `error.status`, the ErrorInfo/legacy reason, message.

/// An error from a Google API call or from obtaining a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GoogleError {
    /// Google answered with an error body.
    #[error("{method}: HTTP {status} {status_text}: {message}")]
    Api {
        /// The API method, e.g. `people.batchCreateContacts`.
        method: String,
        /// HTTP status code.
        status: u16,
        /// Google's `error.status` (e.g. `FAILED_PRECONDITION`), empty when absent.
        status_text: String,
        /// ErrorInfo `reason` or the legacy `errors[0].reason` (e.g. `RATE_LIMIT_EXCEEDED`, `EXPIRED_SYNC_TOKEN`).
        reason: Option<String>,
        message: String,
    },
    /// The token endpoint refused the service account (delegation, scopes, unknown or deleted user).
    #[error("token for {subject}: HTTP {status} {error}: {description}")]
    Auth {
        subject: String,
        status: u16,
        error: String,
        description: String,
    },
    /// A write was sent but its outcome is unknown (timeout, connection lost or 5xx after sending). It is never
    /// repeated blindly: the caller re-reads and re-plans.
    #[error("{method}: outcome unknown: {detail}")]
    OutcomeUnknown { method: String, detail: String },
    /// The request could not be sent or the response not received (reads; retried before this is returned).
    #[error("{method}: transport error: {detail}")]
    Transport { method: String, detail: String },
    /// Google's answer could not be understood.
    #[error("{method}: unexpected response: {detail}")]
    Decode { method: String, detail: String },
    /// The service-account key is missing or malformed.
    #[error("service-account key: {0}")]
    Key(String),
}

impl GoogleError {
    /// The HTTP status Google answered with, if any.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            GoogleError::Api { status, .. } | GoogleError::Auth { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Google's reason, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            GoogleError::Api { reason, .. } => reason.as_deref(),
            GoogleError::Auth { error, .. } => Some(error.as_str()),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.http_status() == Some(404)
    }

    pub fn is_conflict(&self) -> bool {
        self.http_status() == Some(409)
    }

    /// The etag sent with an update is no longer current: re-read and retry.
    pub fn is_stale_etag(&self) -> bool {
        matches!(self, GoogleError::Api { status: 400, status_text, message, .. }
            if status_text == "FAILED_PRECONDITION" && message.contains("etag"))
    }

    /// A sync token expired (400 with reason EXPIRED_SYNC_TOKEN, or 410): do a full read instead.
    pub fn is_expired_sync_token(&self) -> bool {
        self.reason() == Some("EXPIRED_SYNC_TOKEN") || self.http_status() == Some(410)
    }

    /// The outcome of a write is unknown: re-read before deciding what to send next.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, GoogleError::OutcomeUnknown { .. })
    }
}
