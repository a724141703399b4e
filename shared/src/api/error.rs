//! The API's error type and its mapping to HTTP, in one place: every failure of an operation becomes an
//! `ApiError`, and `ApiError::into_response` is the only code that turns one into a status code and a body
//! (`{"error": {"code", "message", "field"}}`).
//!
//! Anything the caller sent maps to a 4xx. Google and storage failures map to 502/503 with a message saying what
//! to do; a 500 is reserved for faults of this service itself (e.g. a stored item that cannot be decoded).

use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dispatch::DispatchError;
use crate::google::GoogleError;
use crate::store::StoreError;

/// Largest request body accepted, in bytes (256 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Seconds a caller should wait before retrying after Google's quota was exhausted.
const RATE_LIMIT_RETRY_AFTER_SECS: u64 = 30;

/// The error body of every non-2xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `invalid_json`, `unknown_reference`, `version_mismatch`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
    /// The offending request field, as a path into the JSON body (`destinations[2].value`), or the name of the
    /// query parameter, path parameter or header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A failed API operation. Each variant is one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (not JSON, wrong types, unknown fields, bad query parameters).
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// 404: the sync, run or user does not exist.
    #[error("{message}")]
    NotFound { message: String },
    /// 409: the request conflicts with the current state (e.g. a run is in progress).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 412: `If-Match` does not name the current version.
    #[error("{message}")]
    PreconditionFailed { message: String },
    /// 413: the body is larger than `MAX_BODY_BYTES`.
    #[error("the request body is {size} bytes; at most {MAX_BODY_BYTES} bytes are accepted")]
    PayloadTooLarge { size: usize },
    /// 422: well-formed but invalid (limits, duplicates, references that do not exist).
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// 428: an update without `If-Match`.
    #[error("{message}")]
    PreconditionRequired { message: String },
    /// 500: a fault of this service (never caused by the request).
    #[error("{message}")]
    Internal { message: String },
    /// 502: Google answered with an error this service cannot work around.
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    /// 503: a dependency is unavailable or not configured yet; retrying later may succeed.
    #[error("{message}")]
    Unavailable {
        code: &'static str,
        message: String,
        retry_after_secs: Option<u64>,
    },
}

impl ApiError {
    /// A 400 about one field (body path, query parameter or header).
    pub fn bad_request(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// A 422 about one field.
    pub fn invalid(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Unprocessable {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound {
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionRequired { .. } => StatusCode::PRECONDITION_REQUIRED,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::BadGateway { code, .. }
            | ApiError::Unavailable { code, .. } => code,
            ApiError::NotFound { .. } => "not_found",
            ApiError::PreconditionFailed { .. } => "version_mismatch",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::PreconditionRequired { .. } => "if_match_required",
            ApiError::Internal { .. } => "internal",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::BadRequest { field, .. } | ApiError::Unprocessable { field, .. } => {
                field.as_deref()
            }
            ApiError::PreconditionFailed { .. } | ApiError::PreconditionRequired { .. } => {
                Some("If-Match")
            }
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
                field: self.field().map(str::to_owned),
            },
        }
    }

    /// The HTTP response for this error: the status, the JSON body and, for 503s, `Retry-After`.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), code = self.code(), error = %self, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), code = self.code(), error = %self, "request rejected");
        }
        let body = serde_json::to_vec(&self.body()).unwrap_or_else(|_| {
            br#"{"error":{"code":"internal","message":"the error could not be described"}}"#
                .to_vec()
        });
        let mut response = Response::new(Body::Binary(body));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let ApiError::Unavailable {
            retry_after_secs: Some(secs),
            ..
        } = self
        {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} does not exist")),
            StoreError::Conflict(what) => ApiError::Conflict {
                code: "conflict",
                message: format!("the request conflicts with the stored state: {what}"),
            },
            StoreError::InvalidToken => ApiError::bad_request(
                "invalid_next_token",
                "next_token",
                "next_token is not a token this API issued; pass the value of next_token from the previous page",
            ),
            StoreError::Backend(detail) => {
                tracing::error!(%detail, "store backend failed");
                ApiError::Unavailable {
                    code: "storage_unavailable",
                    message: "the sync store (DynamoDB) is unavailable; retry shortly".to_owned(),
                    retry_after_secs: Some(5),
                }
            }
            StoreError::Corrupt { key, detail } => ApiError::Internal {
                message: format!("the stored item {key} could not be read: {detail}"),
            },
        }
    }
}

impl From<GoogleError> for ApiError {
    fn from(e: GoogleError) -> Self {
        match &e {
            GoogleError::Api { status: 429, .. } => rate_limited(&e),
            GoogleError::Api {
                status: 403,
                reason: Some(reason),
                ..
            } if is_quota_reason(reason) => rate_limited(&e),
            GoogleError::Api { status: 503, .. } => ApiError::Unavailable {
                code: "google_unavailable",
                message: format!("Google is temporarily unavailable; retry shortly ({e})"),
                retry_after_secs: Some(RATE_LIMIT_RETRY_AFTER_SECS),
            },
            GoogleError::Api {
                status: 401 | 403, ..
            } => ApiError::BadGateway {
                code: "google_forbidden",
                message: format!(
                    "Google refused the request ({e}); check the service account's domain-wide delegation and \
                     scopes, and that GOOGLE_ADMIN_EMAIL names a Workspace admin"
                ),
            },
            GoogleError::Api { .. } | GoogleError::Decode { .. } => ApiError::BadGateway {
                code: "google_error",
                message: format!("Google answered with an error: {e}"),
            },
            GoogleError::Auth { .. } => ApiError::BadGateway {
                code: "google_auth_failed",
                message: format!(
                    "Google refused the service account ({e}); check the key in Secrets Manager and its \
                     domain-wide delegation in the Admin console (Security > API controls)"
                ),
            },
            GoogleError::Transport { .. } | GoogleError::OutcomeUnknown { .. } => {
                ApiError::Unavailable {
                    code: "google_unreachable",
                    message: format!("Google could not be reached; retry shortly ({e})"),
                    retry_after_secs: Some(5),
                }
            }
            GoogleError::Key(detail) => ApiError::Unavailable {
                code: "google_key_not_configured",
                message: format!("the Google service-account key is not usable: {detail}"),
                retry_after_secs: None,
            },
        }
    }
}

fn is_quota_reason(reason: &str) -> bool {
    matches!(
        reason,
        "userRateLimitExceeded" | "rateLimitExceeded" | "quotaExceeded" | "RATE_LIMIT_EXCEEDED"
    )
}

fn rate_limited(e: &GoogleError) -> ApiError {
    ApiError::Unavailable {
        code: "google_rate_limited",
        message: format!("Google's API quota is exhausted for now; retry in a minute ({e})"),
        retry_after_secs: Some(RATE_LIMIT_RETRY_AFTER_SECS),
    }
}

impl From<DispatchError> for ApiError {
    fn from(e: DispatchError) -> Self {
        ApiError::Unavailable {
            code: "dispatch_failed",
            message: format!("the run could not be started: {e}; retry shortly"),
            retry_after_secs: Some(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, reason: Option<&str>) -> GoogleError {
        GoogleError::Api {
            method: "directory.users.get".into(),
            status,
            status_text: String::new(),
            reason: reason.map(str::to_owned),
            message: "boom".into(),
        }
    }

    fn body_of(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).expect("JSON body")
    }

    #[test]
    fn every_variant_has_its_status_and_a_json_body() {
        let cases = [
            (ApiError::bad_request("invalid_json", "name", "x"), 400),
            (ApiError::not_found("x"), 404),
            (
                ApiError::Conflict {
                    code: "run_in_progress",
                    message: "x".into(),
                },
                409,
            ),
            (
                ApiError::PreconditionFailed {
                    message: "x".into(),
                },
                412,
            ),
            (ApiError::PayloadTooLarge { size: 300_000 }, 413),
            (ApiError::invalid("limit", "name", "x"), 422),
            (
                ApiError::PreconditionRequired {
                    message: "x".into(),
                },
                428,
            ),
            (
                ApiError::Internal {
                    message: "x".into(),
                },
                500,
            ),
            (
                ApiError::BadGateway {
                    code: "google_error",
                    message: "x".into(),
                },
                502,
            ),
        ];
        for (error, status) in cases {
            let code = error.code();
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(
                response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some("application/json")
            );
            let body = body_of(&response);
            assert_eq!(body["error"]["code"], code);
            assert!(body["error"]["message"].is_string());
        }
    }

    #[test]
    fn field_is_reported_when_known_and_omitted_otherwise() {
        let body = body_of(
            &ApiError::invalid("unknown_reference", "destinations[2].value", "no").into_response(),
        );
        assert_eq!(body["error"]["field"], "destinations[2].value");
        let body = body_of(&ApiError::not_found("no sync").into_response());
        assert!(body["error"].get("field").is_none());
        let body = body_of(
            &ApiError::PreconditionRequired {
                message: "x".into(),
            }
            .into_response(),
        );
        assert_eq!(body["error"]["field"], "If-Match");
    }

    #[test]
    fn google_failures_are_never_a_500() {
        let cases = [
            (api(429, None), 503, "google_rate_limited"),
            (
                api(403, Some("userRateLimitExceeded")),
                503,
                "google_rate_limited",
            ),
            (api(403, Some("forbidden")), 502, "google_forbidden"),
            (api(500, None), 502, "google_error"),
            (api(503, None), 503, "google_unavailable"),
            (
                GoogleError::Auth {
                    subject: "a@b".into(),
                    status: 401,
                    error: "unauthorized_client".into(),
                    description: "no".into(),
                },
                502,
                "google_auth_failed",
            ),
            (
                GoogleError::Transport {
                    method: "m".into(),
                    detail: "reset".into(),
                },
                503,
                "google_unreachable",
            ),
            (
                GoogleError::Key("the secret is empty".into()),
                503,
                "google_key_not_configured",
            ),
        ];
        for (google, status, code) in cases {
            let error = ApiError::from(google);
            assert_eq!(error.status().as_u16(), status, "{error}");
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn rate_limits_say_when_to_retry() {
        let response = ApiError::from(api(429, None)).into_response();
        assert_eq!(
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("30")
        );
    }

    #[test]
    fn store_errors_map_to_the_callers_view() {
        assert_eq!(
            ApiError::from(StoreError::NotFound("sync 1".into())).status(),
            404
        );
        assert_eq!(
            ApiError::from(StoreError::Conflict("v".into())).status(),
            409
        );
        let token = ApiError::from(StoreError::InvalidToken);
        assert_eq!(token.status(), 400);
        assert_eq!(token.field(), Some("next_token"));
        assert_eq!(
            ApiError::from(StoreError::Backend("timeout".into())).status(),
            503
        );
        let corrupt = ApiError::from(StoreError::Corrupt {
            key: "SYNC#1/DEF".into(),
            detail: "bad".into(),
        });
        assert_eq!(corrupt.status(), 500);
    }
}
