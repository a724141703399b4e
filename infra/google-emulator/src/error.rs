//! Google's error bodies: the JSON error envelope of the APIs and the OAuth2 token endpoint's shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answered by a Google API route, rendered as
/// `{"error":{"code","message","status","errors":[{message,domain,reason}],"details":[...]}}`.
/// Boxed: it travels in every handler's `Result`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError(Box<ErrorBody>);

/// The parts of an [`ApiError`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorBody {
    pub code: u16,
    pub status: &'static str,
    pub message: String,
    /// `errors[].reason` of the legacy error array.
    pub legacy_reason: &'static str,
    /// `errors[].message` when Google's legacy message differs from the main one.
    pub legacy_message: Option<&'static str>,
    /// `errors[].location` / `locationType`, when Google names the offending parameter or header.
    pub location: Option<(&'static str, String)>,
    /// `details[]` entries (ErrorInfo, BadRequest...).
    pub details: Vec<Value>,
    /// `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        let (status, legacy_reason) = status_for(code);
        ApiError(Box::new(ErrorBody {
            code,
            status,
            message: message.into(),
            legacy_reason,
            legacy_message: None,
            location: None,
            details: Vec::new(),
            retry_after: None,
        }))
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        let mut e = Self::new(400, message);
        e.status = "FAILED_PRECONDITION";
        e.legacy_reason = "failedPrecondition";
        e
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// People API's answer for a resource that does not exist (or belongs to somebody else).
    pub fn entity_not_found() -> Self {
        Self::not_found("Requested entity was not found.")
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    pub fn unavailable() -> Self {
        Self::new(503, "The service is currently unavailable.")
    }

    /// Admin SDK (legacy "apiary") errors: Google's message doubles as the `errors[]` message.
    pub fn directory(code: u16, message: impl Into<String>, reason: &'static str) -> Self {
        let mut e = Self::new(code, message);
        e.legacy_reason = reason;
        e
    }

    /// Admin SDK's 400 for a malformed request ("Bad Request", reason badRequest).
    pub fn directory_bad_request(message: impl Into<String>) -> Self {
        Self::directory(400, message, "badRequest")
    }

    /// Admin SDK's 400 for an integer parameter outside its range.
    pub fn directory_out_of_range(param: &str, value: &str, min: i64, max: i64) -> Self {
        let mut e = Self::directory(
            400,
            format!("Invalid value '{value}'. Values must be within the range: [{min}, {max}]"),
            "invalid",
        );
        e.location = Some(("parameter", param.to_string()));
        e
    }

    /// Admin SDK's 404 for an unknown key: "Resource Not Found: userKey".
    pub fn directory_not_found(what: &str) -> Self {
        Self::directory(404, format!("Resource Not Found: {what}"), "notFound")
    }

    /// Admin SDK's 403 for a caller who is not an administrator of the customer.
    pub fn directory_not_authorized() -> Self {
        Self::directory(
            403,
            "Not Authorized to access this resource/api",
            "forbidden",
        )
    }

    /// Adds a `google.rpc.ErrorInfo` detail (`domain` is `googleapis.com` for platform reasons such as
    /// RATE_LIMIT_EXCEEDED, the service name for the API's own reasons such as EXPIRED_SYNC_TOKEN).
    pub fn with_error_info(
        mut self,
        domain: &str,
        reason: &str,
        metadata: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let metadata: Map<String, Value> = metadata
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        self.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": domain,
            "metadata": metadata,
        }));
        self
    }

    pub fn with_field_violation(mut self, field: &str) -> Self {
        let violation = json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": self.message}],
        });
        self.details.push(violation);
        self
    }

    pub fn body(&self) -> Value {
        let mut legacy = Map::new();
        let legacy_message = self.legacy_message.map(str::to_string);
        legacy.insert(
            "message".into(),
            Value::String(legacy_message.unwrap_or_else(|| self.message.clone())),
        );
        legacy.insert("domain".into(), Value::String("global".into()));
        legacy.insert("reason".into(), Value::String(self.legacy_reason.into()));
        if let Some((kind, name)) = &self.location {
            legacy.insert("location".into(), Value::String(name.clone()));
            legacy.insert("locationType".into(), Value::String((*kind).into()));
        }
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), Value::String(self.message.clone()));
        error.insert("errors".into(), Value::Array(vec![Value::Object(legacy)]));
        error.insert("status".into(), Value::String(self.status.into()));
        if !self.details.is_empty() {
            error.insert("details".into(), Value::Array(self.details.clone()));
        }
        json!({ "error": error })
    }
}

impl std::ops::Deref for ApiError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

/// The canonical status string and legacy reason Google pairs with each HTTP code.
fn status_for(code: u16) -> (&'static str, &'static str) {
    match code {
        400 => ("INVALID_ARGUMENT", "badRequest"),
        401 => ("UNAUTHENTICATED", "authError"),
        403 => ("PERMISSION_DENIED", "forbidden"),
        404 => ("NOT_FOUND", "notFound"),
        409 => ("ALREADY_EXISTS", "duplicate"),
        410 => ("NOT_FOUND", "deleted"),
        412 => ("FAILED_PRECONDITION", "conditionNotMet"),
        429 => ("RESOURCE_EXHAUSTED", "rateLimitExceeded"),
        499 => ("CANCELLED", "cancelled"),
        500 => ("INTERNAL", "backendError"),
        501 => ("UNIMPLEMENTED", "notImplemented"),
        502 => ("UNAVAILABLE", "backendError"),
        503 => ("UNAVAILABLE", "backendError"),
        504 => ("DEADLINE_EXCEEDED", "backendError"),
        _ if code >= 500 => ("INTERNAL", "backendError"),
        _ => ("FAILED_PRECONDITION", "failedPrecondition"),
    }
}

/// The default message Google sends with a bare status (used for `user_faults`).
pub(crate) fn default_message(code: u16) -> &'static str {
    match code {
        400 => "Request contains an invalid argument.",
        401 => {
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login \
             cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project."
        }
        403 => "The caller does not have permission",
        404 => "Requested entity was not found.",
        409 => "The request conflicts with the current state of the resource.",
        429 => "Resource has been exhausted (e.g. check quota).",
        500 => "Internal error encountered.",
        503 => "The service is currently unavailable.",
        504 => "The request timed out.",
        _ => "The request failed.",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.code == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
        }
        response
    }
}

/// An error of the OAuth2 token endpoint: `{"error","error_description"}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OAuthError {
    pub code: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        OAuthError {
            code: 400,
            error: "invalid_grant",
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError {
            code: 400,
            error: "invalid_request",
            description: description.into(),
        }
    }

    pub fn unauthorized_client() -> Self {
        OAuthError {
            code: 401,
            error: "unauthorized_client",
            description: "Client is unauthorized to retrieve access tokens using this method, or \
                          client not authorized for any of the scopes requested."
                .into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        (
            status,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

/// The control API's own error (not Google's): `{"error": {"code", "message", "status"}}`.
pub(crate) fn control_error(code: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    (
        code,
        axum::Json(json!({"error": {"code": code.as_u16(), "message": message, "status": if code == StatusCode::NOT_FOUND { "NOT_FOUND" } else { "INVALID_ARGUMENT" }}})),
    )
        .into_response()
}
