//! Request bodies (unknown fields rejected), their parsing with the failing field named, and the limits every
//! request must respect before any reference is resolved.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use super::error::{ApiError, MAX_BODY_BYTES};
use crate::model::{DestinationKind, LeaverPolicy};

/// Longest sync name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Longest label name (the contact group created in each destination user's account), in characters.
pub const MAX_LABEL_CHARS: usize = 100;
/// Most destinations one sync may have.
pub const MAX_DESTINATIONS: usize = 1000;
/// Longest reference (email, id, path, resource name or name), in characters.
pub const MAX_REFERENCE_CHARS: usize = 1024;

/// One destination as the caller names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationRef {
    /// What `value` names.
    #[serde(rename = "type")]
    pub kind: DestinationKind,
    /// `user`: primary email, alias or immutable id. `group`: email or id. `org_unit`: path (`/Sales`) or id
    /// (`id:03ph8a2z...`). `domain`: the domain name.
    pub value: String,
}

/// The body of `POST /syncs`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSyncRequest {
    /// 1 to 100 characters.
    pub name: String,
    /// At most 1000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// The user whose contact group is copied: primary email, alias or immutable id.
    pub source_user: String,
    /// One of the source user's own contact groups: its resource name (`contactGroups/...`) or its name.
    pub contact_group: String,
    /// Who receives the contacts: 1 to 1000 entries, no duplicates.
    pub destinations: Vec<DestinationRef>,
    /// Start a run as soon as the sync is stored (default true).
    #[serde(default)]
    pub run_immediately: Option<bool>,
    /// Whether the daily schedule runs this sync (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The label created in each destination user's contacts (default: the contact group's name).
    #[serde(default)]
    pub label_name: Option<String>,
    /// What happens to users who leave the audience (default `remove`).
    #[serde(default)]
    pub leaver_policy: Option<LeaverPolicy>,
}

/// The body of `PATCH /syncs/{id}`: every field is optional; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSyncRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// A contact group of the sync's source user: resource name or name.
    #[serde(default)]
    pub contact_group: Option<String>,
    /// Replaces every destination. Not combinable with `add_destinations` / `remove_destinations`.
    #[serde(default)]
    pub destinations: Option<Vec<DestinationRef>>,
    /// Destinations to add (resolved like those of a new sync).
    #[serde(default)]
    pub add_destinations: Option<Vec<DestinationRef>>,
    /// Destinations to remove, by immutable id or by the email, path or name shown on the sync.
    #[serde(default)]
    pub remove_destinations: Option<Vec<DestinationRef>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub label_name: Option<String>,
    #[serde(default)]
    pub leaver_policy: Option<LeaverPolicy>,
}

impl UpdateSyncRequest {
    /// True when the request changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == UpdateSyncRequest::default()
    }
}

/// The body of `POST /syncs/{id}/runs` (optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunRequest {
    /// Plan only: record what would change without writing to Google (default false).
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// Parses a JSON body into `T`. Oversized bodies are 413; bodies that are not JSON, or that do not match `T`
/// (wrong types, unknown or missing fields), are 400 naming the field. An empty body is parsed as `{}` when
/// `empty_is_object`, and rejected otherwise.
pub fn parse_body<T: DeserializeOwned>(body: &[u8], empty_is_object: bool) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge { size: body.len() });
    }
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        if !empty_is_object {
            return Err(ApiError::BadRequest {
                code: "missing_body",
                message: "the request needs a JSON body".to_owned(),
                field: None,
            });
        }
        b"{}".as_slice()
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(json_error)?;
    deserializer.end().map_err(|e| ApiError::BadRequest {
        code: "invalid_json",
        message: format!("the body is not valid JSON: {e}"),
        field: None,
    })?;
    Ok(value)
}

fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let inner = e.inner();
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::BadRequest {
            code: "invalid_json",
            message: format!("the body is not valid JSON: {inner}"),
            field: None,
        },
        Category::Data => {
            let message = inner.to_string();
            let message = message
                .find(" at line ")
                .and_then(|end| message.get(..end))
                .unwrap_or(&message)
                .to_owned();
            let path = e.path().to_string();
            let parent = if path == "." { String::new() } else { path };
            // Unknown and missing fields are reported on the enclosing object; name the field itself.
            let named = quoted_field(&message, "unknown field `")
                .or_else(|| quoted_field(&message, "missing field `"));
            let field = match named {
                Some(name) if parent.is_empty() => name.to_owned(),
                Some(name) if !parent.ends_with(name) => format!("{parent}.{name}"),
                _ => parent,
            };
            let code = if message.starts_with("unknown field") {
                "unknown_field"
            } else if message.starts_with("missing field") {
                "missing_field"
            } else {
                "invalid_field"
            };
            ApiError::BadRequest {
                code,
                message: if field.is_empty() {
                    message
                } else {
                    format!("{field}: {message}")
                },
                field: (!field.is_empty()).then_some(field),
            }
        }
    }
}

/// The name between backticks after `prefix` in a serde message.
fn quoted_field<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

/// Checks a display text (name, label): trimmed, 1..=`max` characters, no control characters.
pub fn validate_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err(ApiError::invalid(
            "empty",
            field,
            format!("{field} must not be empty"),
        ));
    }
    check_max_chars(field, chars, max)?;
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "control_characters",
            field,
            format!("{field} must not contain control characters such as line breaks"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Checks a description: at most `MAX_DESCRIPTION_CHARS` characters (empty is fine).
pub fn validate_description(field: &str, value: &str) -> Result<String, ApiError> {
    let trimmed = value.trim();
    check_max_chars(field, trimmed.chars().count(), MAX_DESCRIPTION_CHARS)?;
    Ok(trimmed.to_owned())
}

/// 422 `too_long` when a text of `chars` characters is longer than `max`.
fn check_max_chars(field: &str, chars: usize, max: usize) -> Result<(), ApiError> {
    if chars > max {
        return Err(ApiError::invalid(
            "too_long",
            field,
            format!("{field} has {chars} characters; at most {max} are allowed"),
        ));
    }
    Ok(())
}

/// Checks one reference value (an email, id, path or name): the rules of [`validate_text`], at most
/// `MAX_REFERENCE_CHARS` characters. Returns it trimmed.
pub fn validate_reference(field: &str, value: &str) -> Result<String, ApiError> {
    validate_text(field, value, MAX_REFERENCE_CHARS)
}

/// Checks a list of destination references as sent: `min..=MAX_DESTINATIONS` entries, each value well-formed,
/// and no entry repeated (same type and value, ignoring case). `list` is the field name, e.g. `destinations`.
pub fn validate_destination_refs(
    list: &str,
    refs: &[DestinationRef],
    min: usize,
) -> Result<(), ApiError> {
    if refs.len() < min {
        return Err(ApiError::invalid(
            "too_few",
            list,
            format!("{list} needs at least {min} entry"),
        ));
    }
    if refs.len() > MAX_DESTINATIONS {
        return Err(ApiError::invalid(
            "too_many",
            list,
            format!(
                "{list} has {} entries; at most {MAX_DESTINATIONS} are allowed",
                refs.len()
            ),
        ));
    }
    let mut seen: HashMap<(DestinationKind, String), usize> = HashMap::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        let field = format!("{list}[{i}].value");
        let value = validate_reference(&field, &r.value)?;
        if let Some(first) = seen.insert((r.kind, duplicate_key(&value)), i) {
            return Err(ApiError::invalid(
                "duplicate_destination",
                field,
                format!("{list}[{i}] repeats {list}[{first}]"),
            ));
        }
    }
    Ok(())
}

/// What two references must share to be the same as sent: emails, paths and domain names ignore case;
/// org unit ids (`id:...`) do not.
fn duplicate_key(value: &str) -> String {
    if value.starts_with("id:") {
        value.to_owned()
    } else {
        value.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create_json(destinations: &str) -> String {
        format!(
            r#"{{"name":"Sales","source_user":"ann@example.com","contact_group":"Team","destinations":{destinations}}}"#
        )
    }

    fn err_of<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> ApiError {
        parse_body::<T>(body.as_bytes(), false).expect_err("should be rejected")
    }

    #[test]
    fn parses_a_full_create_request() {
        let body = create_json(
            r#"[{"type":"user","value":"bob@example.com"},{"type":"org_unit","value":"/Sales"}]"#,
        );
        let req: CreateSyncRequest = parse_body(body.as_bytes(), false).expect("valid");
        assert_eq!(req.destinations.len(), 2);
        assert_eq!(req.destinations[1].kind, DestinationKind::OrgUnit);
        assert_eq!(req.run_immediately, None);
    }

    #[test]
    fn malformed_json_is_a_400_without_a_field() {
        let e = err_of::<CreateSyncRequest>("{\"name\": ");
        assert_eq!(e.status(), 400);
        assert_eq!(e.code(), "invalid_json");
        assert_eq!(e.field(), None);
        let e = err_of::<CreateSyncRequest>(&format!("{} trailing", create_json("[]")));
        assert_eq!(e.code(), "invalid_json");
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let e = err_of::<CreateSyncRequest>(
            &create_json("[]").replace("\"name\"", "\"nmae\":1,\"name\""),
        );
        assert_eq!((e.status().as_u16(), e.code()), (400, "unknown_field"));
        assert_eq!(e.field(), Some("nmae"));

        let e = err_of::<CreateSyncRequest>(&create_json(
            r#"[{"type":"user","value":"a@b.c"},{"type":"user","value":"b@b.c"},{"type":"group","value":"g@b.c","extra":true}]"#,
        ));
        assert_eq!(e.code(), "unknown_field");
        assert_eq!(e.field(), Some("destinations[2].extra"));
        assert!(e.to_string().contains("extra"), "{e}");
    }

    #[test]
    fn wrong_types_and_missing_fields_are_named() {
        let e = err_of::<CreateSyncRequest>(&create_json(
            r#"[{"type":"user","value":"a@b.c"},{"type":"user","value":"b@b.c"},{"type":"group","value":7}]"#,
        ));
        assert_eq!(
            (e.code(), e.field()),
            ("invalid_field", Some("destinations[2].value"))
        );

        let e = err_of::<CreateSyncRequest>(&create_json(r#"[{"type":"planet","value":"x"}]"#));
        assert_eq!(e.field(), Some("destinations[0].type"));

        let e =
            err_of::<CreateSyncRequest>(r#"{"name":"x","contact_group":"g","destinations":[]}"#);
        assert_eq!(
            (e.code(), e.field()),
            ("missing_field", Some("source_user"))
        );

        let e = err_of::<CreateSyncRequest>(&create_json(r#"[{"type":"user"}]"#));
        assert_eq!(e.field(), Some("destinations[0].value"));

        let e = err_of::<CreateSyncRequest>("[1,2]");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn oversized_and_empty_bodies() {
        let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        let e = err_of::<CreateSyncRequest>(&big);
        assert_eq!(e.status(), 413);
        assert_eq!(err_of::<CreateSyncRequest>("  ").code(), "missing_body");
        let run: StartRunRequest = parse_body(b"", true).expect("empty is {}");
        assert_eq!(run.dry_run, None);
    }

    #[test]
    fn text_limits_count_characters() {
        assert_eq!(
            validate_text("name", "  Sales  ", MAX_NAME_CHARS).expect("ok"),
            "Sales"
        );
        assert!(validate_text("name", &"é".repeat(100), MAX_NAME_CHARS).is_ok());
        let e = validate_text("name", &"é".repeat(101), MAX_NAME_CHARS).expect_err("too long");
        assert_eq!(
            (e.status().as_u16(), e.code(), e.field()),
            (422, "too_long", Some("name"))
        );
        assert_eq!(
            validate_text("name", "   ", MAX_NAME_CHARS)
                .expect_err("empty")
                .code(),
            "empty"
        );
        assert_eq!(
            validate_text("name", "a\nb", MAX_NAME_CHARS)
                .expect_err("control")
                .code(),
            "control_characters"
        );
        assert!(validate_description("description", &"d".repeat(1000)).is_ok());
        assert_eq!(
            validate_description("description", &"d".repeat(1001))
                .expect_err("long")
                .field(),
            Some("description")
        );
    }

    #[test]
    fn destination_lists_respect_limits_and_reject_duplicates() {
        let user = |v: &str| DestinationRef {
            kind: DestinationKind::User,
            value: v.to_owned(),
        };
        let e = validate_destination_refs("destinations", &[], 1).expect_err("empty");
        assert_eq!((e.code(), e.field()), ("too_few", Some("destinations")));

        let many: Vec<_> = (0..=MAX_DESTINATIONS)
            .map(|i| user(&format!("u{i}@example.com")))
            .collect();
        let e = validate_destination_refs("destinations", &many, 1).expect_err("too many");
        assert_eq!(e.code(), "too_many");
        assert!(validate_destination_refs("destinations", &many[..MAX_DESTINATIONS], 1).is_ok());

        let dup = [
            user("a@example.com"),
            user("b@example.com"),
            user(" A@Example.com "),
        ];
        let e = validate_destination_refs("destinations", &dup, 1).expect_err("duplicate");
        assert_eq!(
            (e.code(), e.field()),
            ("duplicate_destination", Some("destinations[2].value"))
        );

        let same_value_other_type = [
            user("team@example.com"),
            DestinationRef {
                kind: DestinationKind::Group,
                value: "team@example.com".into(),
            },
        ];
        assert!(validate_destination_refs("destinations", &same_value_other_type, 1).is_ok());

        let e = validate_destination_refs("add_destinations", &[user(" ")], 1).expect_err("blank");
        assert_eq!(e.field(), Some("add_destinations[0].value"));
    }

    #[test]
    fn update_requests_know_when_they_are_empty() {
        let req: UpdateSyncRequest = parse_body(b"{}", false).expect("valid");
        assert!(req.is_empty());
        let req: UpdateSyncRequest = parse_body(br#"{"enabled":false}"#, false).expect("valid");
        assert!(!req.is_empty());
        let e = err_of::<UpdateSyncRequest>(r#"{"source_user":"x@y.z"}"#);
        assert_eq!(
            (e.code(), e.field()),
            ("unknown_field", Some("source_user"))
        );
    }
}
