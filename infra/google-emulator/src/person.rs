//! People API Person resources: field masks, what is stored of an input Person, and how a stored contact
//! is rendered (with the read-only fields Google derives: displayName, formattedType, canonicalForm,
//! field metadata, memberships).

use serde_json::{Map, Value, json};

use crate::discovery::{Api, discovery};
use crate::error::ApiError;

/// Every field `personFields` / `readMask` accepts, in the order Google renders them.
pub(crate) const READABLE_FIELDS: &[&str] = &[
    "addresses",
    "ageRanges",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "coverPhotos",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "metadata",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "photos",
    "relations",
    "sipAddresses",
    "skills",
    "urls",
    "userDefined",
];

/// Every field `updatePersonFields` / `updateMask` accepts (and so every field a contact stores).
pub(crate) const UPDATABLE_FIELDS: &[&str] = &[
    "addresses",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "relations",
    "sipAddresses",
    "urls",
    "userDefined",
];

/// Fields a contact may hold at most one of ("singleton for contact sources").
const SINGLETON_FIELDS: &[&str] = &["names", "biographies", "birthdays", "genders"];

/// Lists (connections.list) return at most this many email addresses and phone numbers per person.
pub(crate) const LIST_FIELD_CAP: usize = 100;

/// A parsed person field mask.
pub(crate) type Mask = Vec<&'static str>;

/// Parses a person field mask. `param` is the parameter name used in Google's messages; `doc` the method
/// whose documentation Google points at. An empty mask is an error when `required`, else all fields.
pub(crate) fn parse_mask(
    value: Option<&str>,
    param: &str,
    allowed: &[&'static str],
    required: bool,
    doc: &str,
) -> Result<Mask, ApiError> {
    let value = value.unwrap_or("").trim();
    if value.is_empty() {
        if required {
            return Err(ApiError::invalid_argument(format!(
                "{param} mask is required. Please specify one or more valid paths. Valid paths are \
                 documented at https://developers.google.com/people/api/rest/v1/{doc}."
            )));
        }
        return Ok(allowed.to_vec());
    }
    let mut mask = Vec::new();
    for raw in value.split(',') {
        let path = raw.trim();
        let path = path.strip_prefix("person.").unwrap_or(path);
        match allowed.iter().find(|f| **f == path) {
            Some(f) => {
                if !mask.contains(f) {
                    mask.push(*f);
                }
            }
            None => {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid {param} mask path: \"{path}\". Valid paths are documented at \
                     https://developers.google.com/people/api/rest/v1/{doc}."
                )));
            }
        }
    }
    Ok(mask)
}

/// `personFields` of a read (also accepts the older `requestMask.includeField`).
pub(crate) fn read_mask_param(
    personfields: Option<&str>,
    include_field: Option<&str>,
    required: bool,
    doc: &str,
) -> Result<Mask, ApiError> {
    let value = personfields
        .filter(|v| !v.trim().is_empty())
        .or(include_field);
    parse_mask(value, "personFields", READABLE_FIELDS, required, doc)
}

/// What of an input Person a contact stores: the updatable fields (except memberships, stored apart),
/// with read-only parts (metadata, displayName, formattedType, canonicalForm...) dropped as Google does.
/// Also enforces the singleton fields. `only` restricts to the fields of an update mask.
pub(crate) fn stored_fields(
    person: &Value,
    only: Option<&[&'static str]>,
) -> Result<Map<String, Value>, ApiError> {
    let mut person = person.clone();
    discovery().strip_read_only(Api::People, "Person", &mut person);
    let mut out = Map::new();
    let Value::Object(input) = person else {
        return Ok(out);
    };
    for field in UPDATABLE_FIELDS {
        if *field == "memberships" || only.is_some_and(|o| !o.contains(field)) {
            continue;
        }
        let Some(Value::Array(items)) = input.get(*field) else {
            continue;
        };
        if SINGLETON_FIELDS.contains(field) && items.len() > 1 {
            return Err(ApiError::invalid_argument(format!(
                "Only one {field} field is allowed per contact, got {}.",
                items.len()
            )));
        }
        let items: Vec<Value> = items
            .iter()
            .filter(|v| !v.is_null())
            .map(|item| {
                let mut item = item.clone();
                if let Value::Object(m) = &mut item {
                    // Field metadata is derived: the source is always this contact.
                    m.remove("metadata");
                    m.retain(|_, v| !v.is_null());
                }
                item
            })
            .collect();
        if !items.is_empty() {
            out.insert(field.to_string(), Value::Array(items));
        }
    }
    Ok(out)
}

/// The contact group resource names of an input Person's `memberships`.
pub(crate) fn input_memberships(person: &Value) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    let Some(items) = person.get("memberships").and_then(Value::as_array) else {
        return Ok(out);
    };
    for m in items {
        let name = m
            .get("contactGroupMembership")
            .and_then(|c| c.get("contactGroupResourceName"))
            .and_then(Value::as_str);
        match name {
            Some(n) if !n.is_empty() => out.push(n.to_string()),
            _ => {
                return Err(ApiError::invalid_argument(
                    "Membership must set contactGroupMembership.contactGroupResourceName.",
                ));
            }
        }
    }
    Ok(out)
}

/// The stored parts a rendering needs, independent of where a contact lives.
pub(crate) struct ContactView<'a> {
    pub resource_name: String,
    pub source_id: String,
    pub etag: &'a str,
    pub update_time: &'a str,
    pub fields: &'a Map<String, Value>,
    /// Contact group resource names.
    pub memberships: Vec<String>,
}

/// Renders a contact with the fields of `mask` (resourceName and etag always).
pub(crate) fn render(view: &ContactView<'_>, mask: &[&str], list_cap: bool) -> Value {
    let mut out = Map::new();
    out.insert(
        "resourceName".into(),
        Value::String(view.resource_name.clone()),
    );
    out.insert("etag".into(), Value::String(view.etag.to_string()));
    let source = json!({"type": "CONTACT", "id": view.source_id});
    for field in READABLE_FIELDS {
        if !mask.contains(field) {
            continue;
        }
        match *field {
            "metadata" => {
                out.insert(
                    "metadata".into(),
                    json!({
                        "sources": [{
                            "type": "CONTACT",
                            "id": view.source_id,
                            "etag": view.etag,
                            "updateTime": view.update_time,
                        }],
                        "objectType": "PERSON",
                    }),
                );
            }
            "memberships" => {
                let items: Vec<Value> = view
                    .memberships
                    .iter()
                    .map(|rn| {
                        let id = rn.strip_prefix("contactGroups/").unwrap_or(rn);
                        json!({
                            "metadata": {"source": source},
                            "contactGroupMembership": {
                                "contactGroupId": id,
                                "contactGroupResourceName": rn,
                            },
                        })
                    })
                    .collect();
                if !items.is_empty() {
                    out.insert("memberships".into(), Value::Array(items));
                }
            }
            name => {
                let Some(Value::Array(items)) = view.fields.get(name) else {
                    continue;
                };
                let cap = if list_cap && matches!(name, "emailAddresses" | "phoneNumbers") {
                    LIST_FIELD_CAP
                } else {
                    usize::MAX
                };
                let rendered: Vec<Value> = items
                    .iter()
                    .take(cap)
                    .enumerate()
                    .map(|(i, item)| decorate(name, item, i == 0, &source))
                    .collect();
                out.insert(name.to_string(), Value::Array(rendered));
            }
        }
    }
    Value::Object(out)
}

/// Adds field metadata and the derived read-only values of one item of a Person field.
fn decorate(field: &str, item: &Value, first: bool, source: &Value) -> Value {
    let Value::Object(src) = item else {
        return item.clone();
    };
    let mut m = src.clone();
    let mut meta = Map::new();
    if first {
        meta.insert("primary".into(), Value::Bool(true));
        meta.insert("sourcePrimary".into(), Value::Bool(true));
    }
    meta.insert("source".into(), source.clone());
    m.insert("metadata".into(), Value::Object(meta));
    if let Some(t) = m.get("type").and_then(Value::as_str) {
        let formatted = formatted_type(t);
        if field != "userDefined" && !formatted.is_empty() {
            m.insert("formattedType".into(), Value::String(formatted));
        }
    }
    match field {
        "names" => derive_names(&mut m),
        "phoneNumbers" => {
            if let Some(c) = m
                .get("value")
                .and_then(Value::as_str)
                .and_then(canonical_phone)
            {
                m.insert("canonicalForm".into(), Value::String(c));
            }
        }
        "addresses" if !m.contains_key("formattedValue") => {
            let f = format_address(&m);
            if !f.is_empty() {
                m.insert("formattedValue".into(), Value::String(f));
            }
        }
        "genders" => {
            if let Some(v) = m.get("value").and_then(Value::as_str) {
                let f = formatted_type(v);
                m.insert("formattedValue".into(), Value::String(f));
            }
        }
        "imClients" => {
            if let Some(p) = m.get("protocol").and_then(Value::as_str) {
                let f = formatted_type(p);
                m.insert("formattedProtocol".into(), Value::String(f));
            }
        }
        _ => {}
    }
    Value::Object(m)
}

fn derive_names(m: &mut Map<String, Value>) {
    let get = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let prefix = get("honorificPrefix");
    let given = get("givenName");
    let middle = get("middleName");
    let family = get("familyName");
    let suffix = get("honorificSuffix");
    let display: Vec<&str> = [&prefix, &given, &middle, &family, &suffix]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let mut display = display.join(" ");
    if display.is_empty() {
        display = get("unstructuredName").unwrap_or_default();
    }
    let first_part: Vec<&str> = [&prefix, &given, &middle]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let first_part = first_part.join(" ");
    let last_first = match (&family, first_part.is_empty()) {
        (Some(f), false) => {
            let mut s = format!("{f}, {first_part}");
            if let Some(sfx) = &suffix {
                s.push_str(", ");
                s.push_str(sfx);
            }
            s
        }
        (Some(f), true) => f.clone(),
        (None, _) => display.clone(),
    };
    if display.is_empty() {
        return;
    }
    if !m.contains_key("unstructuredName") {
        m.insert("unstructuredName".into(), Value::String(display.clone()));
    }
    m.insert("displayName".into(), Value::String(display));
    m.insert("displayNameLastFirst".into(), Value::String(last_first));
}

/// Google's formatted (English) form of a type value: `homeFax` -> `Home Fax`; custom types unchanged.
pub(crate) fn formatted_type(t: &str) -> String {
    let t = t.trim();
    let is_camel = t.chars().all(|c| c.is_ascii_alphanumeric())
        && t.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if !is_camel {
        return t.to_string();
    }
    let mut out = String::new();
    for (i, c) in t.chars().enumerate() {
        if i == 0 {
            out.push(c.to_ascii_uppercase());
        } else if c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

/// E.164 form of a phone number written in international form ([B] Google also uses the owner's
/// region to canonicalise national numbers; the emulator only canonicalises `+...` numbers).
fn canonical_phone(value: &str) -> Option<String> {
    let trimmed = value.trim();
    let rest = trimmed.strip_prefix('+')?;
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let only_formatting = rest
        .chars()
        .all(|c| c.is_ascii_digit() || " -().".contains(c));
    if only_formatting && (8..=15).contains(&digits.len()) {
        Some(format!("+{digits}"))
    } else {
        None
    }
}

fn format_address(m: &Map<String, Value>) -> String {
    let get = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let mut lines = Vec::new();
    for k in ["poBox", "streetAddress", "extendedAddress"] {
        if let Some(v) = get(k) {
            lines.push(v.to_string());
        }
    }
    let city_line: Vec<&str> = ["city", "region", "postalCode"]
        .into_iter()
        .filter_map(get)
        .collect();
    if !city_line.is_empty() {
        lines.push(city_line.join(" "));
    }
    if let Some(c) = get("country") {
        lines.push(c.to_string());
    }
    lines.join("\n")
}

/// Validates a seed's Person JSON like a createContact body.
pub(crate) fn normalise_person(person: &mut Value) -> Result<(), ApiError> {
    discovery().normalise_request(Api::People, "Person", person)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_validated_like_google() {
        let err = parse_mask(None, "personFields", READABLE_FIELDS, true, "people/get")
            .expect_err("required");
        assert!(err.message.starts_with("personFields mask is required."));
        let err = parse_mask(
            Some("names,colour"),
            "personFields",
            READABLE_FIELDS,
            true,
            "people/get",
        )
        .expect_err("bad path");
        assert!(err.message.contains("\"colour\""));
        let m = parse_mask(
            Some("person.names, emailAddresses"),
            "personFields",
            READABLE_FIELDS,
            true,
            "people/get",
        )
        .expect("valid");
        assert_eq!(m, vec!["names", "emailAddresses"]);
    }

    #[test]
    fn read_only_input_is_ignored_and_derived_on_output() {
        let input = json!({
            "names": [{"givenName": "Ana", "familyName": "Lima", "displayName": "WRONG", "metadata": {"primary": true}}],
            "phoneNumbers": [{"value": "+1 (555) 010-2000", "type": "mobile", "canonicalForm": "x", "formattedType": "y"}],
            "photos": [{"url": "http://x"}],
        });
        let fields = stored_fields(&input, None).expect("valid");
        assert_eq!(
            Value::Object(fields.clone()),
            json!({"names": [{"givenName": "Ana", "familyName": "Lima"}], "phoneNumbers": [{"value": "+1 (555) 010-2000", "type": "mobile"}]})
        );
        let view = ContactView {
            resource_name: "people/c1".into(),
            source_id: "1".into(),
            etag: "%e",
            update_time: "2024-01-01T00:00:00Z",
            fields: &fields,
            memberships: vec!["contactGroups/myContacts".into()],
        };
        let out = render(&view, READABLE_FIELDS, false);
        assert_eq!(out["names"][0]["displayName"], "Ana Lima");
        assert_eq!(out["names"][0]["displayNameLastFirst"], "Lima, Ana");
        assert_eq!(out["phoneNumbers"][0]["canonicalForm"], "+15550102000");
        assert_eq!(out["phoneNumbers"][0]["formattedType"], "Mobile");
        assert_eq!(
            out["memberships"][0]["contactGroupMembership"]["contactGroupId"],
            "myContacts"
        );
        assert!(
            discovery()
                .check_schema(Api::People, "Person", &out)
                .is_empty()
        );
    }

    #[test]
    fn singletons_are_enforced() {
        let input = json!({"names": [{"givenName": "A"}, {"givenName": "B"}]});
        assert!(stored_fields(&input, None).is_err());
    }
}
