//! What an API handler receives (the matched route, query parameters, body, the caller) and returns.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::discovery::{Discovery, camel_to_snake};
use crate::error::ApiError;
use crate::routes::Matched;

/// The query string, in order, percent-decoded; repeated parameters keep every value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query(
            raw.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    /// The last value of a parameter (Google's behaviour for a non-repeated parameter given twice).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter's value, or "" when absent.
    pub fn str(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean parameter (already type-checked for People; Directory accepts the same spellings).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    /// An integer parameter; `Err` carries the offending text.
    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| v.to_string()),
        }
    }

    /// Checks every parameter against the method's discovery description the way Google's front end does
    /// for the People API: unknown names, non-integers, non-booleans and values outside an enum are 400s.
    pub fn check_people(&self, discovery: &Discovery, method_id: &str) -> Result<(), ApiError> {
        for (name, value) in &self.0 {
            let Some(param) = discovery.parameter(method_id, name) else {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query \
                     parameter. Field '{name}' could not be found in request message."
                )));
            };
            let proto_name = camel_to_snake(name);
            let bad = |ty: &str| {
                ApiError::invalid_argument(format!(
                    "Invalid value at '{proto_name}' ({ty}), \"{value}\""
                ))
                .with_field_violation(&proto_name)
            };
            match param.get("type").and_then(Value::as_str) {
                Some("integer") if value.trim().parse::<i32>().is_err() => {
                    return Err(bad("TYPE_INT32"));
                }
                Some("boolean") if !matches!(value.as_str(), "true" | "false" | "1" | "0") => {
                    return Err(bad("TYPE_BOOL"));
                }
                _ => {}
            }
            if let Some(allowed) = param.get("enum").and_then(Value::as_array)
                && !allowed.iter().any(|a| a.as_str() == Some(value))
            {
                return Err(bad("TYPE_ENUM"));
            }
        }
        Ok(())
    }
}

/// One authorised API call, as handed to the People or Directory handlers.
pub(crate) struct Call<'a> {
    pub route: &'a Matched,
    pub query: &'a Query,
    /// The JSON body (validated against the method's request schema), `{}` when none was sent.
    pub body: Value,
    /// Immutable id of the token's subject (the impersonated user).
    pub subject: &'a str,
    pub now: DateTime<Utc>,
    pub max_contacts_per_user: usize,
}

/// A handler's success: a JSON body (200) or an empty 204 (Directory deletes).
#[derive(Debug)]
pub(crate) enum Reply {
    Json(Value),
    NoContent,
}

/// Google's timestamp format (RFC 3339, UTC, microseconds).
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An opaque token (page tokens) carrying a small state: URL-safe base64 of compact JSON.
pub(crate) fn encode_opaque<T: Serialize>(state: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default())
}

/// The state of a token made by [`encode_opaque`]; None when it is not one.
pub(crate) fn decode_opaque<T: DeserializeOwned>(token: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token).ok()?).ok()
}
