//! Typed errors that keep what Google said: HTTP status, `error.status`, the ErrorInfo/legacy reason, message;
//! and how Google's error bodies and transport errors become them.

use serde_json::Value;

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

/// A reqwest error with its sources, e.g. "error sending request: connection refused".
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Turns a Google error body into [`GoogleError::Api`]. Understands the standard shape
/// `{"error":{"code","message","status","details":[{"@type":".../google.rpc.ErrorInfo","reason"}],
/// "errors":[{"reason","message","domain"}]}}` (ErrorInfo reason preferred over the legacy one), the OAuth shape
/// `{"error":"...","error_description":"..."}`, and anything else (the start of the text is kept as message).
pub fn parse_error_body(method: &str, status: u16, body: &[u8]) -> GoogleError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let (status_text, reason, message) = match error {
        Some(Value::Object(e)) => {
            let status_text = e
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let error_info_reason = e
                .get("details")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|d| {
                    d.get("@type")
                        .and_then(Value::as_str)
                        .is_none_or(|t| t.ends_with("google.rpc.ErrorInfo"))
                })
                .find_map(|d| d.get("reason").and_then(Value::as_str));
            let legacy_reason = e
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find_map(|d| d.get("reason").and_then(Value::as_str));
            let reason = error_info_reason.or(legacy_reason).map(str::to_owned);
            (status_text, reason, message)
        }
        Some(Value::String(code)) => {
            let description = parsed
                .as_ref()
                .and_then(|v| v.get("error_description"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (String::new(), Some(code.clone()), description)
        }
        _ => (String::new(), None, text_excerpt(body)),
    };
    GoogleError::Api {
        method: method.to_owned(),
        status,
        status_text,
        reason,
        message,
    }
}

/// The first 200 characters of a non-JSON body, on one line.
pub(crate) fn text_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    one_line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google::retry::is_rate_limited;

    #[test]
    fn parses_error_info_reason_and_status() {
        let body = br#"{"error":{"code":429,"message":"Quota exceeded for quota metric 'Critical read requests'","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com","metadata":{"service":"people.googleapis.com"}},{"@type":"type.googleapis.com/google.rpc.Help","links":[]}]}}"#;
        let e = parse_error_body("people.connections.list", 429, body);
        match &e {
            GoogleError::Api {
                method,
                status,
                status_text,
                reason,
                message,
            } => {
                assert_eq!(method, "people.connections.list");
                assert_eq!(*status, 429);
                assert_eq!(status_text, "RESOURCE_EXHAUSTED");
                assert_eq!(reason.as_deref(), Some("RATE_LIMIT_EXCEEDED"));
                assert!(message.starts_with("Quota exceeded"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(is_rate_limited(&e));
    }

    #[test]
    fn parses_legacy_errors_array() {
        let body = br#"{"error":{"code":403,"message":"Not Authorized to access this resource/api","errors":[{"message":"Not Authorized to access this resource/api","domain":"global","reason":"forbidden"}]}}"#;
        let e = parse_error_body("directory.users.list", 403, body);
        assert_eq!(e.reason(), Some("forbidden"));
        assert_eq!(e.http_status(), Some(403));
        assert!(!is_rate_limited(&e));
        let limited = parse_error_body(
            "directory.users.list",
            403,
            br#"{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded"}]}}"#,
        );
        assert!(is_rate_limited(&limited));
    }

    #[test]
    fn error_info_wins_over_legacy_reason() {
        let body = br#"{"error":{"code":400,"message":"Sync token is expired. Clear local cache and retry call without the sync token.","status":"FAILED_PRECONDITION","errors":[{"reason":"failedPrecondition"}],"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"EXPIRED_SYNC_TOKEN"}]}}"#;
        let e = parse_error_body("people.connections.list", 400, body);
        assert_eq!(e.reason(), Some("EXPIRED_SYNC_TOKEN"));
        assert!(e.is_expired_sync_token());
    }

    #[test]
    fn stale_etag_is_recognised() {
        let body = br#"{"error":{"code":400,"message":"Request person.etag is different than the current person.etag. Clear local cache and get the latest person.","status":"FAILED_PRECONDITION"}}"#;
        let e = parse_error_body("people.batchUpdateContacts", 400, body);
        assert!(e.is_stale_etag());
        assert_eq!(e.reason(), None);
    }

    #[test]
    fn parses_oauth_shape_and_plain_text() {
        let e = parse_error_body(
            "people.batchGet",
            401,
            br#"{"error":"invalid_token","error_description":"Invalid Credentials"}"#,
        );
        assert_eq!(e.reason(), Some("invalid_token"));
        assert!(e.to_string().contains("Invalid Credentials"));

        let e = parse_error_body(
            "people.batchGet",
            502,
            b"<html>\n<body>Bad Gateway</body></html>",
        );
        match e {
            GoogleError::Api {
                status_text,
                reason,
                message,
                ..
            } => {
                assert_eq!(status_text, "");
                assert_eq!(reason, None);
                assert_eq!(message, "<html> <body>Bad Gateway</body></html>");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
